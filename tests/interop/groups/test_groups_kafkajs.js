#!/usr/bin/env node
// Interop (consumer groups): a kafkajs 2.2.4 consumer group of two members.
// Both join one group on a 4-partition topic, split the partitions, read 400 messages
// exactly once between them, commit, and a third consumer in the same group afterwards finds
// nothing left to read (the commits held). Messages are produced once both have joined.
'use strict'

const path = require('path')
const { BOOTSTRAP, tap, sleep, until, unique, client } = require(path.join(__dirname, 'kafkajs_common.js'))

const { ok, done } = tap('groups kafkajs')
const kafka = client('runnel-interop-groups')

async function member(group, topic, sink, assigned, name) {
  const c = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 500, rebalanceTimeout: 10000 })
  c.on(c.events.GROUP_JOIN, e => {
    assigned[name] = (e.payload.memberAssignment[topic] || []).slice().sort()
  })
  await c.connect()
  await c.subscribe({ topic, fromBeginning: true })
  await c.run({
    eachMessage: async ({ partition, message }) => {
      sink.push({ name, partition, offset: message.offset, value: message.value.toString() })
    },
  })
  return c
}

async function main() {
  const admin = kafka.admin()
  await admin.connect()
  const topic = unique('rn-grp-kjs')
  await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true })

  const group = unique('rn-grp-kjs-g')
  const sink = []
  const assigned = {}
  const a = await member(group, topic, sink, assigned, 'a')
  const b = await member(group, topic, sink, assigned, 'b')
  const split = await until(
    () => assigned.a && assigned.b && assigned.a.length + assigned.b.length === 4 && assigned.a.length && assigned.b.length,
    30000
  )
  ok(split, `two members split 4 partitions: ${JSON.stringify(assigned)}`)
  // Produce only now, so that one member cannot read everything before the other joins.
  const producer = kafka.producer()
  await producer.connect()
  const messages = []
  for (let i = 0; i < 400; i++) messages.push({ value: `m${i}`, partition: i % 4 })
  await producer.send({ topic, acks: -1, messages })
  await producer.disconnect()
  await until(() => new Set(sink.map(m => `${m.partition}/${m.offset}`)).size >= 400, 20000)
  const keys = sink.map(m => `${m.partition}/${m.offset}`)
  ok(new Set(keys).size === 400, `the group read all 400 messages (${new Set(keys).size} distinct)`)
  ok(keys.length === 400, `none twice (${keys.length} deliveries)`)
  ok(sink.some(m => m.name === 'a') && sink.some(m => m.name === 'b'), 'both members read some')
  await a.disconnect() // commits on the way out
  await b.disconnect()

  const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] })
  const committed = offsets[0].partitions.map(p => Number(p.offset)).sort()
  ok(JSON.stringify(committed) === JSON.stringify([100, 100, 100, 100]), 'committed offsets at the log end', offsets)

  const late = []
  const c = await member(group, topic, late, {}, 'c')
  await sleep(2500)
  ok(late.length === 0, 'a new member of the same group finds nothing left', late.slice(0, 3))
  await c.disconnect()
  await admin.deleteTopics({ topics: [topic] })
  await admin.disconnect()
}

console.log(`# groups: kafkajs 2.2.4 consumer group against ${BOOTSTRAP}`)
main()
  .catch(e => ok(false, 'raised', e.stack || String(e)))
  .finally(done)
