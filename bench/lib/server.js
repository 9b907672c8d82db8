'use strict'
// The server side of the benchmark, shared by every library: one HTTP server on
// 127.0.0.1 driven by the orchestrator over IPC (process.send / 'message').
//
// A library file (bench/servers/<lib>.js) calls `serve({ add, broadcast, info })`:
//   add(req, res, room)     registers one SSE client (room: a string, or null for none);
//                           may return a promise that settles once it is registered
//   broadcast(room, data)   sends `data` (a plain object) to `room` ('*' = every client)
//   info()                  optional: facts about the clients for the report (e.g. how many
//                           are detached), answered by the `info` command
//
// Commands (each answered with a message carrying the same `id`):
//   count                          -> { added }            clients registered so far
//   mem                            -> process.memoryUsage() after full GCs, plus rssAnon:
//                                     anonymous RSS in bytes (the RssAnon line of
//                                     /proc/self/status; null where there is no such file)
//   settle { seconds }             -> the same as mem, after `seconds` idle with a gc() each
//                                     second, the last one compacting (V8 shrinks its heap only
//                                     after a few idle seconds)
//   info                           -> lib.info(), or {}
//   run { room, count, size, mode, run, everyMs }
//                                  -> { issuedMs }          once every broadcast was issued;
//                                     mode 'turn': one broadcast per event-loop turn (setImmediate),
//                                     mode 'burst': all of them in one synchronous loop,
//                                     mode 'paced': one per `everyMs` timer (to overlap with churn)
//   stop                           -> { cpuMs, userMs, systemMs, loopP99Ms, loopMaxMs,
//                                     loopP99OverMs, loopMaxOverMs (the same less the
//                                     monitor's 1 ms interval), unflushed,
//                                     resWrites, socketWrites, broadcastMedianUs, broadcastMaxUs }
//                                     CPU and event-loop delay (perf_hooks.monitorEventLoopDelay,
//                                     1 ms resolution: how long any other request to this server
//                                     waited) since `run` started; sent by the loader once every
//                                     expected event has arrived, so the CPU covers the work
//                                     and the writes until their bytes were on the wire.
//                                     broadcast*Us: how long each lib.broadcast call took to
//                                     return (median and max over the run's calls).
//   exit
// With BENCH_COUNT_WRITES=1 (diagnostic mode: it costs time), `stop` also reports how many
// res.write calls were made and how many writes the sockets handed to libuv (one write or
// writev system call each, however many res.write calls were corked into it).

const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const v8 = require('node:v8')

/** The event-loop delay monitor's sampling interval (ms). */
const LOOP_RESOLUTION_MS = 1

const writes = { res: 0, socket: 0 }
if (process.env.BENCH_COUNT_WRITES === '1') {
  const resWrite = http.ServerResponse.prototype.write
  http.ServerResponse.prototype.write = function write() {
    writes.res++
    return resWrite.apply(this, arguments)
  }
  const writeGeneric = net.Socket.prototype._writeGeneric
  net.Socket.prototype._writeGeneric = function _writeGeneric() {
    writes.socket++
    return writeGeneric.apply(this, arguments)
  }
}

/** Microseconds on the monotonic clock, which every process on the machine shares. */
function nowUs() {
  return Number(process.hrtime.bigint() / 1000n)
}

const PAD = 'x'.repeat(64 * 1024)

/** The event's data: run id, sequence number, send time, padded so its JSON is `size` bytes. */
function payload(run, seq, size) {
  const data = { r: run, s: seq, t: nowUs(), p: '' }
  const bare = JSON.stringify(data).length
  if (size > bare) data.p = PAD.slice(0, size - bare)
  return data
}

function fullGc() {
  if (typeof global.gc !== 'function') throw new Error('run the server with --expose-gc')
  for (let i = 0; i < 3; i++) global.gc()
}

/**
 * A full GC that compacts every page, as V8's memory reducer does once a server idles (the
 * explicit gc() calls of a settle keep postponing it). Without it, how many half-empty
 * pages V8's old space happens to keep moved the settled figure by ±0.5 KB per client
 * from run to run, in one library's favour or another's.
 */
function compactingGc() {
  v8.setFlagsFromString('--compact-on-every-full-gc')
  try {
    global.gc()
  } finally {
    v8.setFlagsFromString('--no-compact-on-every-full-gc')
  }
}

/** `/proc/self/<name>`'s text, or null off Linux. */
function procSelf(name) {
  try {
    return fs.readFileSync(`/proc/self/${name}`, 'utf8')
  } catch {
    return null
  }
}

/** The first `<field>: N kB` in `text` (from `from` on), in bytes, or null. */
function kBField(text, field, from = 0) {
  if (text === null) return null
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text.slice(from))
  return m ? Number(m[1]) * 1024 : null
}

/**
 * Anonymous resident memory (heap, stacks, malloc'd and mmap'd memory) in bytes, or null
 * off Linux. Unlike the total RSS it leaves out file-backed pages such as the parts of the
 * `node` binary that a code path faults in the first time it runs.
 */
function rssAnon() {
  return kBField(procSelf('status'), 'RssAnon')
}

/**
 * Resident bytes of the main thread's malloc arena (the `[heap]` mapping: native memory
 * Node and the addon allocate on the JavaScript thread), or null off Linux.
 */
function rssMalloc() {
  const smaps = procSelf('smaps')
  const at = smaps === null ? -1 : smaps.indexOf('[heap]')
  return at === -1 ? (smaps === null ? null : 0) : kBField(smaps, 'Rss', at)
}

async function readMemory() {
  fullGc()
  await new Promise(setImmediate)
  fullGc()
  const spaces = v8.getHeapSpaceStatistics()
  const v8Physical = spaces.reduce((sum, space) => sum + space.physical_space_size, 0)
  return { ...process.memoryUsage(), rssAnon: rssAnon(), rssMalloc: rssMalloc(), v8Physical }
}

function serve(lib) {
  /** Open responses (for `unflushed`); closed ones are let go, as churn makes many. */
  const responses = new Set()
  let added = 0
  let cpuStart = null
  let loopDelay = null
  /** How long each broadcast call of the current run took to return, in µs. */
  let broadcastUs = []

  function broadcast(room, data) {
    const t0 = process.hrtime.bigint()
    lib.broadcast(room, data)
    broadcastUs.push(Number(process.hrtime.bigint() - t0) / 1000)
  }

  const server = http.createServer((req, res) => {
    const room = new URL(req.url, 'http://127.0.0.1').searchParams.get('room')
    responses.add(res)
    res.once('close', () => responses.delete(res))
    Promise.resolve(lib.add(req, res, room)).then(() => added++)
  })

  const commands = {
    count: () => ({ added }),
    mem: readMemory,
    async settle({ seconds }) {
      for (let i = 0; i < seconds; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1000))
        global.gc()
      }
      compactingGc()
      return readMemory()
    },
    info: () => (lib.info ? lib.info() : {}),
    run({ room, count, size, mode, run, everyMs = 1 }) {
      fullGc()
      writes.res = 0
      writes.socket = 0
      broadcastUs = []
      const started = nowUs()
      cpuStart = process.cpuUsage()
      loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
      loopDelay.enable()
      if (mode === 'burst') {
        for (let seq = 0; seq < count; seq++) broadcast(room, payload(run, seq, size))
        return { issuedMs: (nowUs() - started) / 1000 }
      }
      return new Promise((resolve) => {
        let seq = 0
        const step = () => {
          broadcast(room, payload(run, seq, size))
          if (++seq >= count) resolve({ issuedMs: (nowUs() - started) / 1000 })
          else if (mode === 'paced') setTimeout(step, everyMs)
          else setImmediate(step)
        }
        setImmediate(step)
      })
    },
    stop() {
      const cpu = process.cpuUsage(cpuStart)
      loopDelay.disable()
      let unflushed = 0
      for (const res of responses) if (res.writableLength > 0) unflushed++
      const sorted = Float64Array.from(broadcastUs).sort()
      return {
        cpuMs: (cpu.user + cpu.system) / 1000,
        userMs: cpu.user / 1000,
        systemMs: cpu.system / 1000,
        loopP99Ms: loopDelay.count > 0 ? loopDelay.percentile(99) / 1e6 : 0,
        loopMaxMs: loopDelay.count > 0 ? loopDelay.max / 1e6 : 0,
        // The histogram records the time between runs of its 1 ms timer, so an idle loop
        // reads about 1.1 ms: what lies beyond the interval is how late the loop was.
        loopP99OverMs: loopDelay.count > 0 ? Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS) : 0,
        loopMaxOverMs: loopDelay.count > 0 ? Math.max(0, loopDelay.max / 1e6 - LOOP_RESOLUTION_MS) : 0,
        unflushed,
        resWrites: writes.res,
        socketWrites: writes.socket,
        broadcastMedianUs: sorted.length > 0 ? sorted[Math.floor(sorted.length / 2)] : null,
        broadcastMaxUs: sorted.length > 0 ? sorted[sorted.length - 1] : null,
      }
    },
    exit() {
      setImmediate(() => process.exit(0))
      return {}
    },
  }

  process.on('message', async (msg) => {
    try {
      process.send({ id: msg.id, ...(await commands[msg.cmd](msg)) })
    } catch (err) {
      process.send({ id: msg.id, error: String((err && err.stack) || err) })
    }
  })
  // The orchestrator went away: do not linger.
  process.on('disconnect', () => process.exit(0))

  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
    process.send({ id: 0, port: server.address().port, pid: process.pid })
  })
}

module.exports = { serve }
