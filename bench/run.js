'use strict'
// The benchmark: `node bench/run.js` (full, a few minutes) or `BENCH_QUICK=1 node bench/run.js`.
//
// Each library runs in its own server process pinned to core 0 (bench/servers/<lib>.js);
// this process is the load, pinned to core 1, with raw SSE connections (lib/load.js).
// Server CPU is process.cpuUsage() in the server from the first broadcast until every
// expected event has arrived here; wall time is measured here. Results go to
// bench/results/latest.json and latest.svg. Timings are reported, never asserted.
//
// Environment: BENCH_QUICK=1 (fewer repetitions), BENCH_LIBS=ours,floor (a subset),
// BENCH_ONLY=turn,burst (a subset of scenarios), BENCH_SERVER_FLAGS='--cpu-prof' (extra
// node flags for the servers, e.g. to profile), BENCH_OUT=dir (where results go).

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const load = require('./lib/load')
const report = require('./lib/report')
const { reexecAsLoader, fdLimit, startServer, connect, gitHead, TIMEOUT_MS } = require('./lib/procs')

// Re-run this file as the load process on core 1.
if (reexecAsLoader(__filename)) return

const QUICK = process.env.BENCH_QUICK === '1'
const REPS = QUICK ? 1 : 3 // measured repetitions per scenario (after a short warm-up); the median is kept
const SCALE = QUICK ? 0.25 : 1 // quick mode sends a quarter of the broadcasts, to 4,000 clients in 40 rooms
const OUT = path.resolve(process.env.BENCH_OUT || path.join(__dirname, 'results'))

// Any file in servers/ can be named, e.g. a variant made for an experiment.
const LIBS = process.env.BENCH_LIBS
  ? process.env.BENCH_LIBS.split(',')
  : ['ours', 'floor', 'simple-sse', 'better-sse', 'sse-channel']

const ROOMS = QUICK ? 40 : 100 // of 100 clients each
/** Idle memory: clients connected to a fresh server (in the same rooms) before the measured set. */
const WARMUP = 1000

/** The open-file limit this process got (run.js raises it as far as allowed, as for the servers). */
const FD_LIMIT = fdLimit()
/** The wide set: 19,000 clients, or as many as the limit leaves room for (each side holds one descriptor per client). */
const WIDE = Math.min(QUICK ? 5000 : 19000, FD_LIMIT - 500)
/** Churn: connections opened and dropped while the flat set gets paced broadcasts. */
const CHURN = { connections: QUICK ? 250 : 1000, parallel: 64 }

/** Client sets: each gets a fresh server process per library. */
const SETS = {
  flat: { clients: 1000, roomOf: () => null },
  rooms: { clients: ROOMS * 100, roomOf: (i) => `room-${i % ROOMS}` },
  wide: { clients: WIDE, roomOf: () => null },
}

const SCENARIOS = [
  { key: 'turn', set: 'flat', room: '*', count: 200, size: 64, mode: 'turn' },
  { key: 'burst', set: 'flat', room: '*', count: 200, size: 64, mode: 'burst' },
  { key: 'kb1', set: 'flat', room: '*', count: 100, size: 1024, mode: 'turn' },
  { key: 'kb16', set: 'flat', room: '*', count: 20, size: 16384, mode: 'turn' },
  { key: 'churn', set: 'flat', room: '*', count: 200, size: 64, mode: 'paced', everyMs: 10, churn: CHURN.connections },
  { key: 'idle', set: 'rooms', memory: true },
  { key: 'room', set: 'rooms', room: 'room-0', count: 500, size: 64, mode: 'turn' },
  { key: 'wide', set: 'wide', room: '*', count: 20, size: 64, mode: 'turn' },
]
  .filter((s) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes(s.key))
  .map((s) => (s.count ? { ...s, count: Math.max(5, Math.round(s.count * SCALE)) } : s))

function describe(sc) {
  const clients = SETS[sc.set].clients.toLocaleString('en')
  if (sc.memory) return `${clients} idle clients in ${ROOMS} rooms, after ${WARMUP.toLocaleString('en')} warm-up clients: memory per client`
  const size = sc.size >= 1024 ? `${sc.size / 1024} KB` : `${sc.size} B`
  const to = sc.room === '*' ? 'all' : `one room of ${SETS[sc.set].clients / ROOMS}`
  const how = { burst: 'all in one turn', turn: 'one per event-loop turn', paced: `one per ${sc.everyMs} ms` }[sc.mode]
  const churn = sc.churn ? `, while ${sc.churn.toLocaleString('en')} other connections open and drop` : ''
  return `${clients} clients, ${sc.count} × ${size} to ${to}, ${how}${churn}`
}

/** The res.write diagnostic: a small run with every res.write counted (it slows the server). */
const WRITES = { clients: 100, count: 50 }

let runId = 0

/** One measured broadcast run: server CPU, wall time, lost/extra events, latency. */
async function measure(server, clients, sc) {
  const run = ++runId
  const tally = load.expect(clients, run, sc.count, (c) => sc.room === '*' || c.room === sc.room)
  const startUs = load.nowUs()
  const running = server.call('run', { room: sc.room, count: sc.count, size: sc.size, mode: sc.mode, everyMs: sc.everyMs, run })
  // Churn connections come and go while the broadcasts go out; the run ends when both are done.
  const churning = sc.churn ? load.churn(server.port, sc.churn, CHURN.parallel) : Promise.resolve(0)
  const issued = await running
  const settled = await load.settle(tally, TIMEOUT_MS)
  const churned = await churning
  const stopped = await server.call('stop')
  return {
    cpuMs: stopped.cpuMs,
    userMs: stopped.userMs,
    systemMs: stopped.systemMs,
    loopP99Ms: stopped.loopP99Ms,
    loopMaxMs: stopped.loopMaxMs,
    wallMs: (settled.doneUs - startUs) / 1000,
    issuedMs: issued.issuedMs,
    events: tally.expected,
    missing: settled.missing,
    extra: settled.extra,
    churned,
    unflushed: stopped.unflushed,
    p50Ms: load.percentile(tally.latencies, 50) / 1000,
    p99Ms: load.percentile(tally.latencies, 99) / 1000,
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** The median of each figure over the repetitions; lost/extra events are summed. */
function summarize(runs) {
  const out = { reps: runs.length, cpuMsRuns: runs.map((r) => round(r.cpuMs)) }
  for (const key of ['cpuMs', 'userMs', 'systemMs', 'loopP99Ms', 'loopMaxMs', 'wallMs', 'issuedMs', 'p50Ms', 'p99Ms']) {
    out[key] = round(median(runs.map((r) => r[key])))
  }
  for (const key of ['events', 'missing', 'extra', 'churned', 'unflushed']) {
    out[key] = runs.reduce((sum, r) => sum + r[key], 0)
  }
  return out
}

function round(x, digits = 2) {
  return x === null ? null : Number(x.toFixed(digits))
}

/** KB per client between two `mem` answers; anonymous RSS falls back to the total where /proc is missing. */
function memoryPerClient(before, after, clients) {
  const per = (key) => round((after[key] - before[key]) / clients / 1024, 3)
  const anon = before.rssAnon !== null && after.rssAnon !== null ? 'rssAnon' : 'rss'
  return { anonKB: per(anon), rssKB: per('rss'), heapKB: per('heapUsed'), externalKB: per('external'), clients }
}

/**
 * Idle memory per client, on fresh servers of its own: per repetition, a new server gets
 * WARMUP clients (so one-time costs such as lazy initialisation and compiled code land
 * before the first reading), then `mem`, the set's clients, `mem` again. The median of each
 * figure over REPS repetitions is kept.
 */
async function idleMemory(lib, set) {
  const warmup = { clients: WARMUP, roomOf: (i) => `room-${i % ROOMS}` }
  const runs = []
  for (let rep = 0; rep < REPS; rep++) {
    const server = await startServer(lib)
    const groups = []
    try {
      groups.push(await connect(server, warmup))
      const before = await server.call('mem')
      const connectStarted = Date.now()
      groups.push(await connect(server, set))
      const connectMs = Date.now() - connectStarted
      const after = await server.call('mem')
      const run = memoryPerClient(before, after, set.clients)
      runs.push(run)
      console.log(
        `  ${lib.padEnd(12)} idle   run ${rep + 1}: ${set.clients} clients connected in ${connectMs} ms, ` +
          `${run.anonKB} KB anonymous RSS/client (RSS ${run.rssKB}, heap ${run.heapKB})`,
      )
    } finally {
      for (const clients of groups) load.closeAll(clients)
      await server.stop()
    }
  }
  const out = { reps: runs.length, clients: set.clients, warmup: WARMUP, anonKBRuns: runs.map((r) => r.anonKB) }
  for (const key of ['anonKB', 'rssKB', 'heapKB', 'externalKB']) out[key] = median(runs.map((r) => r[key]))
  return out
}

async function runSet(lib, setName, scenarios, results) {
  const set = SETS[setName]
  const server = await startServer(lib)
  try {
    const connectStarted = Date.now()
    const clients = await connect(server, set)
    console.log(`  ${lib.padEnd(12)} ${set.clients} clients connected in ${Date.now() - connectStarted} ms`)
    for (const sc of scenarios) {
      process.stdout.write(`  ${lib.padEnd(12)} ${sc.key.padEnd(6)} `)
      const warm = { ...sc, count: Math.max(5, Math.round(sc.count / 5)), churn: sc.churn && Math.round(sc.churn / 5) }
      await measure(server, clients, warm) // warm-up
      const runs = []
      for (let i = 0; i < REPS; i++) runs.push(await measure(server, clients, sc))
      results[sc.key] = summarize(runs)
      const r = results[sc.key]
      const churned = sc.churn ? `, churned ${r.churned}` : ''
      console.log(`cpu ${r.cpuMs} ms, loop delay p99 ${r.loopP99Ms} ms, wall ${r.wallMs} ms, missing ${r.missing}, extra ${r.extra}${churned}`)
    }
    load.closeAll(clients)
  } finally {
    await server.stop()
  }
}

/** res.write calls and socket writes per delivered event, one per turn and in one burst (diagnostic mode). */
async function countWrites(lib) {
  const server = await startServer(lib, { BENCH_COUNT_WRITES: '1' })
  try {
    const set = { clients: WRITES.clients, roomOf: () => null }
    const clients = await connect(server, set)
    const out = {}
    for (const mode of ['turn', 'burst']) {
      const sc = { room: '*', count: WRITES.count, size: 64, mode }
      const tally = load.expect(clients, ++runId, sc.count, () => true)
      await server.call('run', { ...sc, run: runId })
      await load.settle(tally, TIMEOUT_MS)
      const { resWrites, socketWrites } = await server.call('stop')
      const events = WRITES.clients * WRITES.count
      out[mode] = { res: round(resWrites / events, 3), socket: round(socketWrites / events, 3) }
    }
    load.closeAll(clients)
    return out
  } finally {
    await server.stop()
  }
}

async function main() {
  const started = Date.now()
  console.log(`SSE benchmark (${QUICK ? 'quick' : 'full'}: ${REPS} measured run(s) per scenario, median kept)`)
  console.log(`node ${process.version}, ${os.cpus()[0].model}, ${os.cpus().length} cores; servers on core 0, load on core 1\n`)
  const results = {}
  const writes = {}
  for (const lib of LIBS) {
    const libStarted = Date.now()
    results[lib] = {}
    for (const setName of Object.keys(SETS)) {
      // Memory is measured on fresh servers of its own; the set's other scenarios share one.
      for (const sc of SCENARIOS.filter((s) => s.set === setName && s.memory)) {
        results[lib][sc.key] = await idleMemory(lib, SETS[setName])
      }
      const scenarios = SCENARIOS.filter((s) => s.set === setName && !s.memory)
      if (scenarios.length > 0) await runSet(lib, setName, scenarios, results[lib])
    }
    writes[lib] = await countWrites(lib)
    console.log(`  ${lib.padEnd(12)} done in ${((Date.now() - libStarted) / 1000).toFixed(1)} s`)
  }
  const doc = {
    date: new Date().toISOString(),
    mode: QUICK ? 'quick' : 'full',
    durationS: Math.round((Date.now() - started) / 1000),
    commit: gitHead(),
    machine: { node: process.version, cpu: os.cpus()[0].model, cores: os.cpus().length, platform: `${os.platform()} ${os.release()}`, fdLimit: FD_LIMIT },
    method: {
      reps: REPS,
      cpu: 'server process.cpuUsage() (user+system) from the first broadcast until the loader has received every expected event; median of the runs',
      wall: 'loader time from the run command until the last expected event arrived',
      loopDelay: 'server event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution) from the first broadcast until the loader has received every expected event: p99 and max; median of the runs',
      latency: 'per event: arrival time at the loader minus the send time the server put in the payload (shared monotonic clock)',
      memory:
        `per repetition, a fresh server gets ${WARMUP} warm-up clients (one-time costs land before the first reading), then ` +
        '(anonymous RSS, total RSS, V8 heap used, external) after full GCs with the measured clients also connected, minus the same after the warm-up, divided by the measured clients; ' +
        'median of the runs. The target uses anonymous RSS (RssAnon in /proc/self/status; total RSS where missing): the total also counts ' +
        'file-backed pages of the node binary that code paths fault in the first time they run, which is noise per library',
      churn: `while the broadcasts go out (one per 10 ms timer), ${CHURN.connections} other connections, ${CHURN.parallel} at a time, are opened and destroyed abruptly; the surviving clients must get every event once`,
      writes: `res.write calls and socket writes (libuv write requests, i.e. write/writev system calls) per delivered event, ${WRITES.clients} clients × ${WRITES.count} events (diagnostic run)`,
    },
    scenarios: SCENARIOS.map((sc) => ({
      key: sc.key,
      label: describe(sc),
      room: sc.room,
      count: sc.count,
      size: sc.size,
      mode: sc.mode,
      clients: SETS[sc.set].clients,
      warmup: sc.memory ? WARMUP : undefined,
      events: sc.memory ? 0 : sc.count * (sc.room === '*' ? SETS[sc.set].clients : SETS[sc.set].clients / ROOMS),
      churn: sc.churn,
    })),
    libs: LIBS,
    results,
    writes,
  }
  doc.targets = report.targets(doc)
  fs.mkdirSync(OUT, { recursive: true })
  fs.writeFileSync(path.join(OUT, 'latest.json'), JSON.stringify(doc, null, 2) + '\n')
  fs.writeFileSync(path.join(OUT, 'latest.svg'), report.svg(doc))
  console.log('\n' + report.text(doc))
  console.log(`\nwrote ${path.relative(process.cwd(), path.join(OUT, 'latest.json'))} and latest.svg in ${doc.durationS} s`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
