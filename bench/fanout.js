'use strict'
// Fan-out off the event loop: `npm run bench:fanout` (full, about ten minutes on the shared
// 2-core machine) or `BENCH_QUICK=1 npm run bench:fanout` (about two). Not part of npm test.
//
// Per library (bench/servers/<lib>.js, one fresh server process pinned to core 0 with
// --expose-gc; this process is the load, pinned to core 1), one server goes through:
//   1. 1,000 clients: one 64 B event to all per event-loop turn, 50 events (after a warm-up);
//   2. memory: 10,000 clients, then 19,000 (as many as `ulimit -n` leaves room for), each
//      read right after connecting and again after 15 s idle with a gc() each second, the last
//      one compacting (bench/lib/server.js); the
//      difference between the two settled readings divided by the clients added is the
//      marginal cost of one connection;
//   3. 19,000 clients: the same 50 events.
// Each fan-out reports the server's event-loop delay p99 and max (monitorEventLoopDelay,
// 1 ms resolution, from the first broadcast until every client received every event; the
// ratios use the p99 beyond the monitor's own 1 ms interval, which an idle loop fills),
// server CPU (user + system over the same span), how long each broadcast('*', …) call took
// to return (median), and lost or duplicated events. Ratios are against the floor measured
// in the same run; the targets are issue 21's. Results: bench/results/fanout.json.
//
// Environment: BENCH_QUICK=1, BENCH_LIBS=floor,ours,ours-detached (any files in servers/),
// BENCH_OUT=dir, BENCH_SERVER_FLAGS (extra node flags for the servers).

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const load = require('./lib/load')
const { reexecAsLoader, fdLimit, startServer, connect, gitHead, TIMEOUT_MS } = require('./lib/procs')

if (reexecAsLoader(__filename)) return

const QUICK = process.env.BENCH_QUICK === '1'
const OUT = path.resolve(process.env.BENCH_OUT || path.join(__dirname, 'results'))
const LIBS = process.env.BENCH_LIBS ? process.env.BENCH_LIBS.split(',') : ['floor', 'ours', 'ours-detached']
const FLOOR = 'floor'

const FD_LIMIT = fdLimit()
/** The wide set: 19,000 clients, or as many as the limit leaves room for (load and server each hold one descriptor per client). */
const WIDE = Math.min(19000, FD_LIMIT - 500)
const SMALL = 1000
/** Memory is read at MEM_AT clients and at WIDE: the marginal cost is the difference over the clients between. */
const MEM_AT = WIDE >= 15000 ? 10000 : Math.floor(WIDE / 2)
const SETTLE_S = QUICK ? 6 : 15
const COUNT = QUICK ? 20 : 50
const WARMUP_COUNT = 5
const REPS = QUICK ? 1 : 3

/** uWebSockets.js, settled memory per client, as quoted in issue 21 (not measured here: see docs/benchmarks.md). */
const UWS_SETTLED_KB = 1.04

const TARGETS = { loopP99VsFloor: 0.05, cpuVsFloor: 0.65 }

let runId = 0

/** One fan-out run: COUNT × 64 B to '*', one per turn; the server's figures plus lost/extra events. */
async function fanout(server, clients, count) {
  const run = ++runId
  const tally = load.expect(clients, run, count, () => true)
  await server.call('run', { room: '*', count, size: 64, mode: 'turn', run })
  const settled = await load.settle(tally, TIMEOUT_MS * 2)
  const s = await server.call('stop')
  return {
    cpuMs: s.cpuMs,
    userMs: s.userMs,
    systemMs: s.systemMs,
    loopP99Ms: s.loopP99Ms,
    loopMaxMs: s.loopMaxMs,
    loopP99OverMs: s.loopP99OverMs,
    loopMaxOverMs: s.loopMaxOverMs,
    broadcastMedianUs: s.broadcastMedianUs,
    broadcastMaxUs: s.broadcastMaxUs,
    missing: settled.missing,
    extra: settled.extra,
    p99Ms: load.percentile(tally.latencies, 99) / 1000,
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const round = (x, digits = 2) => (x === null || x === undefined ? null : Number(x.toFixed(digits)))

/** A warm-up, then REPS measured runs: the median of each figure (lost/extra summed). */
async function measuredFanout(lib, server, clients) {
  await fanout(server, clients, WARMUP_COUNT)
  const runs = []
  for (let i = 0; i < REPS; i++) runs.push(await fanout(server, clients, COUNT))
  const out = { clients: clients.length, events: COUNT, reps: REPS, cpuMsRuns: runs.map((r) => round(r.cpuMs)), loopP99MsRuns: runs.map((r) => round(r.loopP99Ms)) }
  for (const key of ['cpuMs', 'userMs', 'systemMs', 'loopP99Ms', 'loopMaxMs', 'loopP99OverMs', 'loopMaxOverMs', 'broadcastMedianUs', 'broadcastMaxUs', 'p99Ms']) {
    out[key] = round(median(runs.map((r) => r[key])))
  }
  out.missing = runs.reduce((sum, r) => sum + r.missing, 0)
  out.extra = runs.reduce((sum, r) => sum + r.extra, 0)
  console.log(
    `  ${lib.padEnd(14)} ${String(clients.length).padStart(6)} clients: loop delay p99 ${out.loopP99Ms} ms (max ${out.loopMaxMs}; beyond the 1 ms interval ${out.loopP99OverMs}), ` +
      `CPU ${out.cpuMs} ms, broadcast returns in ${out.broadcastMedianUs} µs (median), missing ${out.missing}, extra ${out.extra}`,
  )
  return out
}

const kb = (bytes) => round(bytes / 1024, 3)

/** Anonymous RSS (total RSS where /proc is missing) of a `mem`/`settle` answer. */
const anon = (m) => (m.rssAnon !== null ? m.rssAnon : m.rss)
/** Anonymous RSS less V8's resident but unused heap (its physical size less what it uses). */
const inUse = (m) => anon(m) - (m.v8Physical - m.heapUsed)
/** Native memory outside V8's heap and the main malloc arena (other arenas, large allocations, stacks). */
const otherNative = (m) => inUse(m) - m.heapUsed - m.rssMalloc

async function runLib(lib) {
  const started = Date.now()
  const loadavg = os.loadavg()
  const server = await startServer(lib)
  const groups = []
  try {
    const base = await server.call('mem')
    const connectStarted = Date.now()
    groups.push(await connect(server, { clients: SMALL, roomOf: () => null }))
    console.log(`  ${lib.padEnd(14)} ${SMALL} clients connected in ${Date.now() - connectStarted} ms`)
    const small = await measuredFanout(lib, server, groups.flat())

    // Memory at MEM_AT and WIDE clients, right after connecting and settled.
    const readings = {}
    for (const total of [MEM_AT, WIDE]) {
      const have = groups.flat().length
      const t0 = Date.now()
      groups.push(await connect(server, { clients: total - have, first: have, roomOf: () => null }))
      const connectMs = Date.now() - t0
      const after = await server.call('mem')
      const settled = await server.call('settle', { seconds: SETTLE_S })
      readings[total] = { after, settled }
      console.log(
        `  ${lib.padEnd(14)} ${String(total).padStart(6)} clients (${total - have} connected in ${connectMs} ms): anonymous RSS ` +
          `${(anon(after) / 2 ** 20).toFixed(1)} MiB right after, ${(anon(settled) / 2 ** 20).toFixed(1)} MiB after ${SETTLE_S} s idle`,
      )
    }
    const added = WIDE - MEM_AT
    const a = readings[MEM_AT]
    const b = readings[WIDE]
    const memory = {
      from: MEM_AT,
      to: WIDE,
      settleS: SETTLE_S,
      settledKB: kb((anon(b.settled) - anon(a.settled)) / added),
      afterConnectKB: kb((anon(b.after) - anon(a.settled)) / added),
      settledAverageKB: kb((anon(b.settled) - anon(base)) / WIDE),
      heapSettledKB: kb((b.settled.heapUsed - a.settled.heapUsed) / added),
      // The same RSS less the pages V8 holds but leaves unused (how its heap is sized):
      // what the objects cost.
      usedKB: kb((inUse(b.settled) - inUse(a.settled)) / added),
      // Of which outside V8's heap: the main thread's malloc arena ([heap]), and the rest
      // (other threads' arenas, large allocations, thread stacks).
      mallocKB: b.settled.rssMalloc === null ? null : kb((b.settled.rssMalloc - a.settled.rssMalloc) / added),
      otherNativeKB: b.settled.rssMalloc === null ? null : kb((otherNative(b.settled) - otherNative(a.settled)) / added),
      rssSettledKB: kb((b.settled.rss - a.settled.rss) / added),
      anonymous: b.settled.rssAnon !== null,
    }
    console.log(
      `  ${lib.padEnd(14)} memory per client (${MEM_AT.toLocaleString('en')} → ${WIDE.toLocaleString('en')}): ` +
        `${memory.settledKB} KB settled, ${memory.afterConnectKB} KB right after connecting ` +
        `(V8 heap ${memory.heapSettledKB}, malloc arena ${memory.mallocKB}, other native ${memory.otherNativeKB})`,
    )
    const info = await server.call('info')
    delete info.id
    const wide = await measuredFanout(lib, server, groups.flat())
    return { small, wide, memory, info, loadavg: loadavg.map((x) => round(x)), durationS: Math.round((Date.now() - started) / 1000) }
  } finally {
    for (const clients of groups) load.closeAll(clients)
    await server.stop()
  }
}

/** Issue 21's targets, each against the floor measured in the same run (or uWebSockets.js's quoted figure). */
function targets(results) {
  const out = []
  const floor = results[FLOOR]
  const check = (name, value, limit, pass, note) => out.push({ name, value: round(value, 3), limit: round(limit, 3), pass, note })
  for (const lib of ['ours', 'ours-detached']) {
    const r = results[lib]
    if (!r) continue
    const measuredAttached = lib === 'ours-detached' && r.info.detached < r.info.clients
    const note = measuredAttached ? `only ${r.info.detached} of ${r.info.clients} clients detached: this row measures attached clients` : undefined
    if (floor) {
      for (const size of ['wide', 'small']) {
        const n = r[size].clients.toLocaleString('en')
        // How late the loop was: the monitor's p99 beyond its own 1 ms interval.
        const loop = r[size].loopP99OverMs / floor[size].loopP99OverMs
        check(`${lib}, ${n} clients: loop delay p99 ≤ ${TARGETS.loopP99VsFloor}× floor (beyond the monitor's 1 ms interval)`, loop, TARGETS.loopP99VsFloor, loop <= TARGETS.loopP99VsFloor, note)
        const cpu = r[size].cpuMs / floor[size].cpuMs
        check(`${lib}, ${n} clients: CPU ≤ ${TARGETS.cpuVsFloor}× floor`, cpu, TARGETS.cpuVsFloor, cpu <= TARGETS.cpuVsFloor, note)
      }
    }
    if (lib === 'ours' && floor) {
      const m = r.memory.settledKB
      check(`ours (attached): memory per client ≤ floor's (KB, settled)`, m, floor.memory.settledKB, m <= floor.memory.settledKB)
    }
    if (lib === 'ours-detached') {
      const m = r.memory.settledKB
      check(`ours-detached: memory per client ≤ uWebSockets.js's ${UWS_SETTLED_KB} KB (quoted, not measured; KB, settled)`, m, UWS_SETTLED_KB, m <= UWS_SETTLED_KB, note)
    }
    // 19× the receivers: a cost per receiver would show as a ratio near 19.
    const grows = r.wide.broadcastMedianUs / r.small.broadcastMedianUs
    check(`${lib}: broadcast('*') return time does not grow with receivers (${r.wide.clients.toLocaleString('en')} ÷ ${r.small.clients.toLocaleString('en')} clients)`, grows, 2, grows <= 2)
    const lost = r.small.missing + r.small.extra + r.wide.missing + r.wide.extra
    check(`${lib}: no event lost or duplicated (missing + extra)`, lost, 0, lost === 0)
  }
  return out
}

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

function text(doc) {
  const r = doc.results
  const floor = r[FLOOR]
  const vs = (lib, size, key) => (floor && lib !== FLOOR && floor[size][key] ? `${(r[lib][size][key] / floor[size][key]).toFixed(3)}×` : '—')
  const parts = []
  for (const size of ['small', 'wide']) {
    const n = r[doc.libs[0]][size].clients.toLocaleString('en')
    parts.push(`${n} clients, ${doc.params.events} × 64 B to all, one per event-loop turn (median of ${doc.params.reps})`)
    parts.push(
      table(
        ['library', 'loop p99 ms', 'loop max ms', 'p99 beyond 1 ms interval', '÷ floor', 'CPU ms', '÷ floor', 'broadcast returns µs (median)', 'missing', 'extra'],
        doc.libs.map((lib) => {
          const x = r[lib][size]
          return [lib, x.loopP99Ms, x.loopMaxMs, x.loopP99OverMs, vs(lib, size, 'loopP99OverMs'), x.cpuMs, vs(lib, size, 'cpuMs'), x.broadcastMedianUs, x.missing, x.extra]
        }),
      ),
    )
    parts.push('')
  }
  parts.push(`memory per client: anonymous RSS, ${doc.params.memAt.toLocaleString('en')} → ${doc.params.wide.toLocaleString('en')} clients (marginal), after ${doc.params.settleS} s idle with a gc() each second, the last one compacting`)
  parts.push(
    table(
      ['library', 'settled KB', 'right after connecting KB', 'average incl. fixed KB', 'V8 heap KB', 'malloc arena KB', 'other native KB', "less V8's free pages KB", 'clients detached'],
      [
        ...doc.libs.map((lib) => {
          const m = r[lib].memory
          const d = r[lib].info.clients !== undefined ? `${r[lib].info.detached} of ${r[lib].info.clients}` : '—'
          return [lib, m.settledKB, m.afterConnectKB, m.settledAverageKB, m.heapSettledKB, m.mallocKB ?? '—', m.otherNativeKB ?? '—', m.usedKB ?? '—', d]
        }),
        ['uWebSockets.js (quoted)', UWS_SETTLED_KB, '1.2', '—', '—', '—', '—', '—', '—'],
      ],
    ),
  )
  parts.push('')
  for (const note of doc.notes) parts.push(`NOTE: ${note}`)
  if (doc.notes.length > 0) parts.push('')
  parts.push('targets (issue 21; informational)')
  for (const t of doc.targets) parts.push(`  ${t.pass ? 'PASS' : 'MISS'}  ${t.name}: ${t.value} (limit ${t.limit})${t.note ? ` [${t.note}]` : ''}`)
  return parts.join('\n')
}

async function main() {
  const started = Date.now()
  const loadBefore = os.loadavg()
  console.log(`Fan-out benchmark (${QUICK ? 'quick' : 'full'}): ${LIBS.join(', ')}`)
  console.log(
    `node ${process.version}, ${os.cpus()[0].model}, ${os.cpus().length} cores, ulimit -n ${FD_LIMIT}; servers on core 0, load on core 1; ` +
      `load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')}\n`,
  )
  const results = {}
  for (const lib of LIBS) results[lib] = await runLib(lib)
  const notes = []
  const d = results['ours-detached']
  if (d && d.info.detached < d.info.clients) {
    notes.push(
      `ours-detached: ${d.info.detached} of ${d.info.clients} clients are detached (sse.detach ${d.info.detachSetting ? 'is set but had no effect' : 'is not supported'} in this build): its row measures attached clients.`,
    )
  }
  notes.push(
    `loop delay: monitorEventLoopDelay records the time between runs of its 1 ms timer, so an idle loop reads about 1.1 ms at p99; ` +
      `how late the loop was is the part beyond that interval ("p99 beyond 1 ms interval"), which the ratios and targets use (as Fastify's under-pressure does).`,
  )
  notes.push(`uWebSockets.js is not measured here (the npm registry's only build, @btc-vision/uwebsockets.js 20.57.0, needs glibc 2.38; this machine has 2.36); its ${UWS_SETTLED_KB} KB settled per client (1.2 KB right after connecting) are the figures quoted in issue 21.`)
  const doc = {
    date: new Date().toISOString(),
    mode: QUICK ? 'quick' : 'full',
    durationS: Math.round((Date.now() - started) / 1000),
    commit: gitHead(),
    machine: {
      node: process.version,
      cpu: os.cpus()[0].model,
      cores: os.cpus().length,
      platform: `${os.platform()} ${os.release()}`,
      fdLimit: FD_LIMIT,
      loadavgBefore: loadBefore.map((x) => round(x)),
      loadavgAfter: os.loadavg().map((x) => round(x)),
    },
    params: { small: SMALL, wide: WIDE, memAt: MEM_AT, events: COUNT, warmupEvents: WARMUP_COUNT, reps: REPS, settleS: SETTLE_S, size: 64 },
    method: {
      loopDelay: 'server perf_hooks.monitorEventLoopDelay({ resolution: 1 }) from the first broadcast until the loader received every event: p99 and max, median of the runs; the ratios use the p99 less the 1 ms sampling interval',
      cpu: 'server process.cpuUsage() (user + system) over the same span; median of the runs',
      broadcast: "how long each broadcast('*', data) call took to return in the server (median over the run's calls, median of the runs)",
      memory: `anonymous RSS (RssAnon, /proc/self/status) after ${SETTLE_S} s idle with a gc() each second (the last one compacting), at ${MEM_AT} and ${WIDE} clients: the difference divided by the clients added`,
    },
    libs: LIBS,
    results,
    notes,
  }
  doc.targets = targets(results)
  fs.mkdirSync(OUT, { recursive: true })
  const file = path.join(OUT, QUICK ? 'fanout-quick.json' : 'fanout.json')
  fs.writeFileSync(file, JSON.stringify(doc, null, 2) + '\n')
  console.log('\n' + text(doc))
  console.log(`\nwrote ${path.relative(process.cwd(), file)} in ${doc.durationS} s (load average after: ${doc.machine.loadavgAfter.join(' ')})`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
