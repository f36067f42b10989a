#!/usr/bin/env node
// One consumer-group member for test_group_failover.py, driven by kafkajs 2.2.4:
//
//   node group_failover_worker.js BOOTSTRAP TOPIC GROUP STOPFILE
//
// The same events as group_failover_worker.py, one JSON line each on stdout: it subscribes
// from the beginning, commits after every message (a failed commit fails the message, which
// kafkajs hands out again), and closes once STOPFILE appears.
'use strict'

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const fs = require('fs')
const path = require('path')
const { Kafka, logLevel } = require(path.join(__dirname, '..', 'interop', 'node_modules', 'kafkajs'))

const [bootstrap, topic, group, stopfile] = process.argv.slice(2)
const emit = ev => process.stdout.write(JSON.stringify({ ...ev, t: Date.now() / 1000 }) + '\n')
const sleep = ms => new Promise(r => setTimeout(r, ms))

async function main() {
  const kafka = new Kafka({
    clientId: 'gf-kafkajs',
    brokers: bootstrap.split(','),
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, log }) =>
      process.stderr.write(`kafkajs ${namespace} ${log.message} ${log.error || ''}\n`),
  })
  const c = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 1000, rebalanceTimeout: 10000, metadataMaxAge: 2000 })
  c.on(c.events.GROUP_JOIN, e => emit({ ev: 'assigned', parts: (e.payload.memberAssignment[topic] || []).slice().sort() }))
  c.on(c.events.CRASH, e => emit({ ev: 'crash', err: String(e.payload.error).slice(0, 300) }))
  await c.connect()
  await c.subscribe({ topic, fromBeginning: true })
  await c.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      const o = Number(message.offset)
      emit({ ev: 'msg', p: partition, o, v: message.value.toString() })
      try {
        await c.commitOffsets([{ topic, partition, offset: String(o + 1) }])
        emit({ ev: 'commit', p: partition, o: o + 1 })
      } catch (e) {
        // kafkajs keeps the coordinator it joined through until the member joins again:
        // the error goes back to its runner, which finds the new coordinator, rejoins and
        // hands the uncommitted message out again.
        emit({ ev: 'commit_fail', p: partition, o: o + 1, err: String(e.type || e.message).slice(0, 300) })
        await sleep(200)
        throw e
      }
    },
  })
  while (!fs.existsSync(stopfile)) await sleep(100)
  await c.disconnect()
  emit({ ev: 'closed' })
  process.exit(0)
}

main().catch(e => {
  emit({ ev: 'error', err: String(e.stack || e).slice(0, 500) })
  process.exit(1)
})
