'use strict'
// Benchmark of broadcasts through Redis: 2 server processes sharing a private
// redis-server, 5,000 SSE clients on each. Process A broadcasts to '*': its own
// clients get each event locally, B's get it through Redis. Reports delivered events
// per second, and the latency from broadcast to arrival (p50/p99) of each path, so the
// difference is what Redis adds — for both bridges side by side: pub/sub (history
// off) and the Redis Stream (sse.history = --history, default 10000).
//
//   node bench/redis.js [--clients 5000] [--events 300] [--paced 50] [--size 64] [--history 10000]
//
// Uses bench/lib (server.js for the server processes, load.js for the raw SSE clients,
// in this process) and the redis-server tools of __test__/fixtures/redis-helpers.js.

const { option, entry, forkServer } = require('./lib/forked')

const SERVER_FLAG = '--redis-bench-server'

entry(SERVER_FLAG, runServer, main)

/** A server process: this package (bench/servers/ours.js), sharing broadcasts through REDIS_URL. */
async function runServer() {
  const sse = require('..')
  sse.history = Number(process.env.HISTORY || 0)
  await sse.useRedis({ url: process.env.REDIS_URL, prefix: `simple-sse-bench-${sse.history}` })
  require('./servers/ours')
}

/** Forks a server process; resolves with { port, request(cmd, args) } once it listens. */
function startServer(redisUrl, history) {
  return forkServer(__filename, SERVER_FLAG, { REDIS_URL: redisUrl, HISTORY: String(history) })
}

const ms = (us) => (us === null ? 'n/a' : `${(us / 1000).toFixed(2)} ms`)

async function main() {
  const { startRedis } = require('../__test__/fixtures/redis-helpers')
  const clients = option('clients', 5000)
  const history = option('history', 10000)
  const redis = await startRedis()
  console.log(`2 processes x ${clients} clients; A broadcasts ${option('size', 64)}-byte events to '*'\n`)
  const latency = []
  const throughput = []
  for (const [bridge, size] of [['pub/sub', 0], ['stream', history]]) {
    const result = await measure(redis, size)
    latency.push(...result.latency.map((row) => ({ bridge, ...row })))
    throughput.push(...result.throughput.map((row) => ({ bridge, ...row })))
  }
  console.log(`Latency of ${option('paced', 50)} broadcasts made one at a time, from sse.broadcast() in A to the client's read:`)
  console.table(latency)
  console.log(`\nThroughput (first broadcast to last arrival; every client of both processes):`)
  console.table(throughput)
  await redis.kill()
}

/** Both measures for one bridge: `history` 0 is pub/sub, more is the stream. */
async function measure(redis, history) {
  const { connectAll, expect, settle, closeAll, percentile, nowUs } = require('./lib/load')
  const clients = option('clients', 5000)
  const events = option('events', 300)
  const size = option('size', 64)
  const paced = option('paced', 50)

  const [A, B] = await Promise.all([startServer(redis.url, history), startServer(redis.url, history)])
  const local = await connectAll(A.port, new Array(clients).fill(null))
  const remote = await connectAll(B.port, new Array(clients).fill(null))
  for (const server of [A, B]) {
    while ((await server.request('count')).added < clients) await new Promise(setImmediate)
  }

  let run = 0
  /** One run: `count` broadcasts from A in `mode`; resolves with both tallies and timings. */
  async function broadcastRun(count, mode) {
    run++
    const tallies = [expect(local, run, count, () => true), expect(remote, run, count, () => true)]
    const startUs = nowUs()
    await A.request('run', { room: '*', count, size, mode, run })
    const settled = await Promise.all(tallies.map((tally) => settle(tally, 120000, 0)))
    return {
      tallies,
      us: Math.max(...settled.map((s) => s.doneUs)) - startUs,
      missing: settled[0].missing + settled[1].missing,
      extra: settled[0].extra + settled[1].extra,
    }
  }

  // Latency: one broadcast at a time, each once the previous one has fully arrived.
  // `all`: every client's latency; `first`: the first client of each path, each broadcast
  // (the path itself, without the time to write to and read from 5,000 sockets).
  const all = [[], []]
  const first = [[], []]
  let missing = 0
  for (let i = 0; i < paced; i++) {
    const result = await broadcastRun(1, 'burst')
    result.tallies.forEach((tally, at) => {
      all[at].push(...tally.latencies)
      first[at].push(Math.min(...tally.latencies))
    })
    missing += result.missing + result.extra
  }
  const latencyRow = (what, [local, viaRedis], p) => ({
    clients: what,
    percentile: `p${p}`,
    local: ms(percentile(local, p)),
    'via Redis': ms(percentile(viaRedis, p)),
    'added by Redis': ms(percentile(viaRedis, p) - percentile(local, p)),
  })
  const latency = [50, 99]
    .map((p) => latencyRow('first to receive', first, p))
    .concat([50, 99].map((p) => latencyRow(`all ${clients}`, all, p)))

  // Throughput: many broadcasts, one per event-loop turn of A, then all in one go.
  const throughput = []
  for (const mode of ['turn', 'burst']) {
    const result = await broadcastRun(events, mode)
    const delivered = result.tallies[0].received + result.tallies[1].received
    throughput.push({
      broadcasts: `${events}, ${mode === 'turn' ? 'one per turn' : 'one burst'}`,
      'events delivered/s': Math.round(delivered / (result.us / 1e6)),
      'of them via Redis': result.tallies[1].received,
      missing: result.missing,
      extra: result.extra,
    })
  }
  if (missing > 0) throughput.push({ broadcasts: `(${missing} events missing or doubled in the latency runs)` })

  closeAll(local)
  closeAll(remote)
  await Promise.all([A.exit(), B.exit()])
  return { latency, throughput }
}
