#!/usr/bin/env node
// Interop (consumer groups): a kafkajs 2.2.4 group of two members on a keyed topic keeps the
// order of every key. 20 keys x 40 messages (value "key:seq") go through kafkajs's default
// partitioner (murmur2 of the key, so one partition per key) while both members consume: each
// key is read by one member only, in sequence order, every message exactly once; the group's
// committed offsets end at the log end.
'use strict'

const path = require('path')
const { BOOTSTRAP, tap, sleep, until, unique, client } = require(path.join(__dirname, 'kafkajs_common.js'))

const KEYS = 20
const PER_KEY = 40
const { ok, done } = tap('groups kafkajs keyed')
const kafka = client('runnel-interop-keyed')

async function member(group, topic, sink, assigned, name) {
  const c = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 500, rebalanceTimeout: 10000 })
  c.on(c.events.GROUP_JOIN, e => {
    assigned[name] = (e.payload.memberAssignment[topic] || []).slice().sort()
  })
  await c.connect()
  await c.subscribe({ topic, fromBeginning: true })
  await c.run({
    eachMessage: async ({ partition, message }) => {
      sink.push({ name, partition, offset: Number(message.offset), key: message.key.toString(), value: message.value.toString() })
    },
  })
  return c
}

async function main() {
  const admin = kafka.admin()
  await admin.connect()
  const topic = unique('rn-grp-keyed')
  await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true })
  const group = unique('rn-grp-keyed-g')
  const sink = []
  const assigned = {}
  const a = await member(group, topic, sink, assigned, 'a')
  const b = await member(group, topic, sink, assigned, 'b')
  const split = await until(
    () => assigned.a && assigned.b && assigned.a.length && assigned.b.length && assigned.a.length + assigned.b.length === 4,
    30000
  )
  ok(split, `two members split 4 partitions: ${JSON.stringify(assigned)}`)

  const producer = kafka.producer()
  await producer.connect()
  for (let seq = 0; seq < PER_KEY; seq += 5) {
    const messages = []
    for (let s = seq; s < seq + 5; s++)
      for (let k = 0; k < KEYS; k++) messages.push({ key: `key-${k}`, value: `key-${k}:${s}` })
    await producer.send({ topic, acks: -1, messages })
  }
  await producer.disconnect()
  const total = KEYS * PER_KEY
  await until(() => sink.length >= total, 20000)
  ok(sink.length === total, `read ${sink.length} of ${total} messages`)
  ok(new Set(sink.map(m => `${m.partition}/${m.offset}`)).size === sink.length, 'none twice')

  const byKey = {}
  for (const m of sink) (byKey[m.key] = byKey[m.key] || []).push(m)
  const badOrder = Object.entries(byKey).filter(([k, ms]) => ms.some((m, i) => m.value !== `${k}:${i}`)).map(([k]) => k)
  ok(Object.keys(byKey).length === KEYS && badOrder.length === 0, `every key read in order 0..${PER_KEY - 1}`, badOrder)
  const split2 = Object.values(byKey).filter(ms => new Set(ms.map(m => m.name)).size !== 1)
  ok(split2.length === 0, 'each key read by one member only (one partition per key)')
  const perMember = { a: 0, b: 0 }
  for (const m of sink) perMember[m.name]++
  ok(perMember.a > 0 && perMember.b > 0, `both members read keys: ${JSON.stringify(perMember)}`)

  await a.disconnect()
  await b.disconnect()
  const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] })
  const ends = await admin.fetchTopicOffsets(topic)
  const endMap = {}
  for (const p of ends) endMap[p.partition] = Number(p.high)
  const mismatch = offsets[0].partitions.filter(p => Number(p.offset) !== endMap[p.partition])
  ok(mismatch.length === 0, 'committed offsets at the log end of every partition', { offsets, ends })
  await admin.deleteTopics({ topics: [topic] })
  await admin.disconnect()
}

console.log(`# groups: kafkajs 2.2.4 keyed order against ${BOOTSTRAP}`)
main()
  .catch(e => ok(false, 'raised', e.stack || String(e)))
  .finally(done)
