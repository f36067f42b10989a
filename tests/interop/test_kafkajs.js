#!/usr/bin/env node
// Interop: kafkajs 2.2.4 (pure JavaScript) against the broker at RN_BOOTSTRAP.
//
// kafkajs consumers only work inside a consumer group; groups are tested separately
// (tests/interop/groups/). This test covers what needs no group: admin createTopics
// (3 partitions), a producer with keys (kafkajs's Java-compatible murmur2 partitioner) and a
// gzip batch, admin fetchTopicMetadata / fetchTopicOffsets / fetchTopicOffsetsByTimestamp /
// describeConfigs / alterConfigs / createPartitions / describeCluster / listTopics /
// deleteTopics, and reads the messages back two ways: with kafkajs's own Fetch request through
// its internal broker object (no public API for this: it reaches the cluster factory by its
// Symbol description, so it may need adjusting if kafkajs is upgraded from 2.2.4), and with
// kcat, so the data is checked by an independent client.
'use strict'

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

const path = require('path')
const { execFileSync } = require('child_process')
const { Kafka, logLevel, CompressionTypes, ConfigResourceTypes } = require(path.join(
  __dirname,
  'node_modules',
  'kafkajs'
))

const BOOTSTRAP = process.env.RN_BOOTSTRAP || '127.0.0.1:9092'
const t0 = Date.now()
let n = 0
let failed = 0

function ok(cond, desc, detail) {
  n++
  if (cond) {
    console.log(`ok ${n} - ${desc}`)
  } else {
    failed++
    console.log(`not ok ${n} - ${desc}`)
    if (detail !== undefined) {
      String(typeof detail === 'string' ? detail : JSON.stringify(detail))
        .split('\n')
        .slice(0, 20)
        .forEach(l => console.log('# ' + l))
    }
  }
  return !!cond
}
function is(got, want, desc) {
  const g = JSON.stringify(got)
  const w = JSON.stringify(want)
  return ok(g === w, desc, `got:  ${g && g.slice(0, 500)}\nwant: ${w && w.slice(0, 500)}`)
}
function done() {
  console.log(`1..${n}`)
  console.log(`# kafkajs: ${n - failed} passed, ${failed} failed in ${(Date.now() - t0) / 1000} s`)
  process.exit(failed || n === 0 ? 1 : 0)
}
setTimeout(() => {
  ok(false, 'watchdog: kafkajs test still running after 55 s')
  done()
}, 55000)

function unique(prefix) {
  return `${prefix}-${Math.floor(Date.now() / 1000)}-${Math.random().toString(36).slice(2, 10)}`
}

// kafkajs logs to stdout by default, which would corrupt TAP; send it to stderr.
const logCreator = () => ({ namespace, level, log }) => {
  process.stderr.write(`kafkajs ${namespace} ${log.message} ${log.error || ''}\n`)
}

const kafka = new Kafka({
  clientId: 'runnel-interop',
  brokers: [BOOTSTRAP],
  connectionTimeout: 3000,
  requestTimeout: 10000,
  retry: { retries: 3, maxRetryTime: 2000 },
  logLevel: logLevel.WARN,
  logCreator,
})

// Low-level read through kafkajs's own Fetch: every message of every partition.
async function fetchAll(topic, partitions) {
  const sym = Object.getOwnPropertySymbols(kafka).find(
    s => s.description === 'private:Kafka:createCluster'
  )
  const cluster = kafka[sym]({ allowAutoTopicCreation: false })
  await cluster.connect()
  await cluster.addTargetTopic(topic)
  await cluster.refreshMetadata()
  const leaders = cluster.findLeaderForPartitions(topic, partitions)
  const out = {}
  for (const p of partitions) out[p] = []
  for (const [nodeId, parts] of Object.entries(leaders)) {
    const broker = await cluster.findBroker({ nodeId })
    const next = {}
    for (const p of parts) next[p] = 0n
    const deadline = Date.now() + 15000
    while (Date.now() < deadline) {
      const resp = await broker.fetch({
        replicaId: -1,
        isolationLevel: 1,
        maxWaitTime: 100,
        minBytes: 1,
        maxBytes: 10 << 20,
        topics: [
          {
            topic,
            partitions: parts.map(p => ({ partition: p, fetchOffset: String(next[p]), maxBytes: 1 << 20 })),
          },
        ],
      })
      let more = false
      for (const tr of resp.responses) {
        for (const pr of tr.partitions) {
          if (pr.errorCode !== 0) throw new Error(`fetch ${topic}/${pr.partition}: error ${pr.errorCode}`)
          for (const m of pr.messages) {
            if (BigInt(m.offset) < next[pr.partition]) continue // batch starts before fetchOffset
            out[pr.partition].push(m)
            next[pr.partition] = BigInt(m.offset) + 1n
          }
          if (next[pr.partition] < BigInt(pr.highWatermark)) more = true
        }
      }
      if (!more) break
    }
  }
  await cluster.disconnect()
  return out
}

function kcatAll(topic) {
  const txt = execFileSync(
    'timeout',
    ['15', 'kcat', '-b', BOOTSTRAP, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p\t%o\t%k\t%s\n'],
    { encoding: 'utf8' }
  )
  return txt
    .split('\n')
    .filter(Boolean)
    .map(l => l.split('\t'))
}

async function main() {
  const admin = kafka.admin()
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false })
  await admin.connect()
  const topic = unique('rn-kjs')
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '86400000' }] }],
    waitForLeaders: true,
    timeout: 10000,
  })
  ok(created === true, 'admin.createTopics: 3 partitions, retention.ms set')
  const again = await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], timeout: 10000 })
  ok(again === false, 'admin.createTopics again returns false (TOPIC_ALREADY_EXISTS)')

  const md = await admin.fetchTopicMetadata({ topics: [topic] })
  is(
    md.topics[0].partitions.map(p => p.partitionId).sort(),
    [0, 1, 2],
    'admin.fetchTopicMetadata: partitions 0,1,2'
  )
  ok(
    md.topics[0].partitions.every(p => p.leader >= 0 && p.replicas.length === 1),
    'admin.fetchTopicMetadata: each has a leader and 1 replica'
  )

  await producer.connect()
  const sent = [] // {key, value}
  const messages = []
  for (let i = 0; i < 300; i++) {
    const key = `key-${i % 30}`
    const value = `value ${i} of ${key}`
    messages.push({ key, value, headers: { i: String(i) } })
    sent.push({ key, value })
  }
  const meta1 = await producer.send({ topic, acks: -1, messages: messages.slice(0, 200) })
  const meta2 = await producer.send({
    topic,
    acks: -1,
    compression: CompressionTypes.GZIP,
    messages: messages.slice(200),
  })
  const metas = meta1.concat(meta2)
  ok(metas.every(m => m.errorCode === 0), 'producer.send: 200 plain + 100 gzip, acks=-1, no errors', metas)
  await producer.disconnect()

  const offs = await admin.fetchTopicOffsets(topic)
  offs.sort((a, b) => a.partition - b.partition)
  const total = offs.reduce((s, o) => s + Number(o.high), 0)
  is(total, 300, 'admin.fetchTopicOffsets: high watermarks add up to 300')
  ok(offs.every(o => o.low === '0'), 'admin.fetchTopicOffsets: low watermarks 0', offs)
  ok(offs.filter(o => Number(o.high) > 0).length >= 2, 'keys spread over at least 2 partitions', offs)
  const byTs = await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - 3600 * 1000)
  ok(byTs.every(o => o.offset === '0'), 'admin.fetchTopicOffsetsByTimestamp(an hour ago) = 0', byTs)

  // Read back with kafkajs's own Fetch.
  const parts = await fetchAll(topic, [0, 1, 2])
  const got = []
  const keyPart = {}
  let partOk = true
  let offsetsOk = true
  for (const p of [0, 1, 2]) {
    parts[p].forEach((m, idx) => {
      if (Number(m.offset) !== idx) offsetsOk = false
      const key = m.key.toString()
      if (keyPart[key] !== undefined && keyPart[key] !== p) partOk = false
      keyPart[key] = p
      got.push({ key, value: m.value.toString(), i: m.headers.i && m.headers.i.toString() })
    })
  }
  is(got.length, 300, 'kafkajs Fetch (low level): 300 messages')
  got.sort((a, b) => Number(a.i) - Number(b.i))
  is(got.map(m => ({ key: m.key, value: m.value })), sent, 'kafkajs Fetch: every key/value, headers intact')
  ok(partOk, 'every key landed in exactly one partition')
  ok(offsetsOk, 'offsets contiguous from 0 in each partition')
  is(
    [0, 1, 2].map(p => parts[p].length),
    offs.map(o => Number(o.high)),
    'per-partition counts equal the high watermarks'
  )

  // Check the same data with an independent client.
  const rows = kcatAll(topic)
  is(rows.length, 300, 'kcat reads 300 messages')
  const kcatSet = rows.map(r => `${r[0]}|${r[1]}|${r[2]}|${r[3]}`).sort()
  const jsSet = []
  for (const p of [0, 1, 2]) parts[p].forEach(m => jsSet.push(`${p}|${m.offset}|${m.key}|${m.value}`))
  is(kcatSet, jsSet.sort(), 'kcat sees the same partition/offset/key/value as kafkajs')

  // Configs.
  const dc = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }],
  })
  const entry = dc.resources[0].configEntries.find(e => e.configName === 'retention.ms')
  is(entry && entry.configValue, '86400000', 'admin.describeConfigs: retention.ms as created')
  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: '172800000' }] }],
  })
  const dc2 = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }],
  })
  is(dc2.resources[0].configEntries[0].configValue, '172800000', 'admin.alterConfigs: retention.ms changed')

  await admin.createPartitions({ topicPartitions: [{ topic, count: 5 }], timeout: 10000 })
  let n5 = 0
  for (let i = 0; i < 50 && n5 !== 5; i++) {
    n5 = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length
    if (n5 !== 5) await new Promise(r => setTimeout(r, 200))
  }
  is(n5, 5, 'admin.createPartitions: 3 -> 5')

  const cl = await admin.describeCluster()
  ok(cl.brokers.length >= 1 && cl.clusterId && cl.controller !== null, 'admin.describeCluster', cl)
  ok((await admin.listTopics()).includes(topic), 'admin.listTopics includes the topic')
  await admin.deleteTopics({ topics: [topic], timeout: 10000 })
  let gone = false
  for (let i = 0; i < 50 && !gone; i++) {
    gone = !(await admin.listTopics()).includes(topic)
    if (!gone) await new Promise(r => setTimeout(r, 200))
  }
  ok(gone, 'admin.deleteTopics: topic gone from listTopics')
  await admin.disconnect()
}

console.log(`# kafkajs 2.2.4 against ${BOOTSTRAP} (node ${process.version})`)
main()
  .catch(e => ok(false, 'kafkajs test raised', e.stack || String(e)))
  .finally(done)
