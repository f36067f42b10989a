// Shared by the kafkajs consumer-group tests: TAP output with a watchdog, polling helpers,
// unique topic names and a kafkajs client for RN_BOOTSTRAP.
'use strict'

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const path = require('path')
const { Kafka, logLevel } = require(path.join(__dirname, '..', 'node_modules', 'kafkajs'))

const BOOTSTRAP = process.env.RN_BOOTSTRAP || '127.0.0.1:9092'

// TAP for one test program named name: ok() and done() (exit status 1 on any failure or
// when nothing ran); the watchdog fails the run if it is still going after 55 s.
function tap(name) {
  const t0 = Date.now()
  let n = 0
  let failed = 0
  const ok = (cond, desc, detail) => {
    n++
    console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${desc}`)
    if (!cond) {
      failed++
      if (detail !== undefined) console.log('# ' + JSON.stringify(detail).slice(0, 2000))
    }
  }
  const done = () => {
    console.log(`1..${n}`)
    console.log(`# ${name}: ${n - failed} passed, ${failed} failed in ${(Date.now() - t0) / 1000} s`)
    process.exit(failed || n === 0 ? 1 : 0)
  }
  setTimeout(() => {
    ok(false, 'watchdog: still running after 55 s')
    done()
  }, 55000)
  return { ok, done }
}

const sleep = ms => new Promise(r => setTimeout(r, ms))

// Poll cond every 100 ms for up to ms; its final value.
async function until(cond, ms) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (cond()) return true
    await sleep(100)
  }
  return cond()
}

const unique = p => `${p}-${Math.floor(Date.now() / 1000)}-${Math.random().toString(36).slice(2, 10)}`

const logCreator = () => ({ namespace, log }) =>
  process.stderr.write(`kafkajs ${namespace} ${log.message} ${log.error || ''}\n`)

function client(clientId) {
  return new Kafka({
    clientId,
    brokers: [BOOTSTRAP],
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { retries: 5, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
    logCreator,
  })
}

module.exports = { BOOTSTRAP, tap, sleep, until, unique, client }
