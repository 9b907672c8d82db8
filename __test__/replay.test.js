'use strict'
// Last-Event-ID replays (lib/replay.js, src/replay.rs): memory bounded by the history,
// not by how many clients replay it; the window after `add` in which rooms are
// gathered; ids that only go up, each once; 'gap' when the history cannot serve.
// Every case runs on the direct path (Rust writes to the socket) and the framed path
// (JS writes Rust's chunks), with real SSE clients on 127.0.0.1.

const { describe, test, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const v8 = require('node:v8')
const vm = require('node:vm')
const sse = require('..')
const replayModule = require('../lib/replay')
const { listen, connect } = require('./helpers')

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc')
sse.heartbeat = 0

const PATHS = ['direct', 'framed']

/**
 * Makes a connection take the framed path: a socket handle whose `close` someone else
 * owns is never written by Rust (lib/connection.js `guardClose`), so JS writes Rust's
 * chunks to it. Works with or without SIMPLE_SSE_RS_FORCE_FRAMED.
 */
function forcePath(path, res) {
  const handle = res.socket && res.socket._handle
  // eslint-disable-next-line no-self-assign
  if (path === 'framed' && handle) handle.close = handle.close
}

/** `id: X\n[event: E\n]data: D\n\n` frames (or retry / comment lines); throws on anything else. */
function framesOf(text) {
  const frame = /(?:id: ([^\n]*)\n)?(?:event: ([^\n]*)\n)?(?:data: ([^\n]*)\n|retry: (\d+)\n)\n/y
  const frames = []
  while (frame.lastIndex < text.length) {
    const at = frame.lastIndex
    const m = frame.exec(text)
    if (m === null) throw new Error(`not an SSE frame at ${at}: ${JSON.stringify(text.slice(at, at + 80))}`)
    frames.push({ id: m[1] ?? null, event: m[2] ?? null, data: m[3] ?? null, retry: m[4] ?? null })
  }
  return frames
}

/** Compares `<ms>-<seq>` ids. */
function idLess(a, b) {
  const [am, as] = a.split('-').map(BigInt)
  const [bm, bs] = b.split('-').map(BigInt)
  return am < bm || (am === bm && as < bs)
}

function assertIncreasing(frames, what) {
  const ids = frames.filter((f) => f.id !== null).map((f) => f.id)
  for (let i = 1; i < ids.length; i++) {
    assert.ok(idLess(ids[i - 1], ids[i]), `${what}: id ${ids[i]} after ${ids[i - 1]} (ids ${ids.join(' ')})`)
  }
}

/** The window timer of lib/replay.js, fired by the test instead of by time. */
function manualClock(t) {
  const saved = { ...replayModule.clock }
  const timers = new Set()
  replayModule.clock.setTimeout = (fn, ms) => {
    const timer = { fn, ms, unref() {} }
    timers.add(timer)
    return timer
  }
  replayModule.clock.clearTimeout = (timer) => timers.delete(timer)
  t.after(() => Object.assign(replayModule.clock, saved))
  return {
    timers,
    /** Ends every open window now. */
    fire() {
      const all = Array.from(timers)
      timers.clear()
      for (const timer of all) timer.fn()
    },
  }
}

/** A server adding every request, on `path`; `handler(client, req, res, query)` runs in the add turn. */
async function server(t, path, handler = () => {}) {
  const added = []
  const gaps = []
  const onGap = (client, info) => gaps.push({ id: client.id, ...info })
  sse.on('gap', onGap)
  const srv = await listen((req, res) => {
    forcePath(path, res)
    const query = new URL(req.url, 'http://localhost').searchParams
    const client = sse.add(req, res)
    added.push(client)
    for (const room of query.getAll('room')) sse.join(client, room)
    handler(client, req, res, query)
  })
  t.after(async () => {
    sse.off('gap', onGap)
    await srv.close()
  })
  return {
    srv,
    added,
    gaps,
    async open(url, headers = {}) {
      const raw = await connect(srv.port, url, { headers })
      t.after(() => raw.close())
      return raw
    },
  }
}

async function frames(client, n) {
  await client.until((text) => framesOf(text).length >= n)
  return framesOf(client.text)
}

/** Resolves once `fn()` returns the same value `times` polls in a row (20 ms apart). */
async function steady(fn, times = 5, limitMs = 20000) {
  let last = fn()
  let same = 0
  const end = Date.now() + limitMs
  while (same < times) {
    if (Date.now() > end) throw new Error(`never settled: ${JSON.stringify(last)}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
    const now = fn()
    same = JSON.stringify(now) === JSON.stringify(last) ? same + 1 : 0
    last = now
  }
  return last
}

function memory() {
  gc()
  gc()
  const { external, arrayBuffers } = process.memoryUsage()
  return { external, arrayBuffers }
}

const MB = 2 ** 20

describe('replay', () => {
  afterEach(() => {
    sse.close()
    sse.history = 0
    sse.replayWindow = replayModule.DEFAULT_WINDOW_MS
  })

  for (const path of PATHS) {
    test(`${path}: 20 clients replaying a 20 MB history without reading hold well under one history, and give it back`, { timeout: 120000 }, async (t) => {
      sse.replayWindow = 0
      const srv = await server(t, path)
      sse.history = 100000
      const data = 'x'.repeat(170)
      for (let i = 0; i < 100000; i++) sse.broadcast('*', 'e', data)
      const { history } = sse.stats()
      assert.ok(history.bytes > 19 * MB, `${history.bytes} bytes kept`)
      const oldest = history.oldestId
      const before = memory()
      // 20 clients that read their headers, then never read again.
      const sockets = []
      await Promise.all(
        Array.from({ length: 20 }, () =>
          new Promise((resolve, reject) => {
            const socket = net.connect(srv.srv.port, '127.0.0.1')
            sockets.push(socket)
            socket.once('error', reject)
            socket.on('connect', () => {
              socket.write(`GET / HTTP/1.1\r\nHost: x\r\nLast-Event-ID: ${oldest}\r\n\r\n`)
            })
            socket.once('data', () => {
              socket.pause()
              resolve()
            })
          }),
        ),
      )
      t.after(() => {
        for (const socket of sockets) socket.destroy()
      })
      assert.equal(sse.clients.length, 20)
      const stalled = await steady(() => {
        const m = process.memoryUsage()
        const s = sse.stats()
        return [Math.round(m.external / MB), Math.round(m.arrayBuffers / MB), s.pendingBytes, s.bytesSent]
      })
      const during = memory()
      const stats = sse.stats()
      const grown = during.external - before.external
      const grownBuffers = during.arrayBuffers - before.arrayBuffers
      t.diagnostic(
        `${path}: history ${(history.bytes / MB).toFixed(1)} MiB; 20 stalled replays: external +${(grown / MB).toFixed(1)} MiB, ` +
          `arrayBuffers +${(grownBuffers / MB).toFixed(1)} MiB, pendingBytes ${stats.pendingBytes}, sent ${(stats.bytesSent / MB).toFixed(1)} MiB`,
      )
      assert.ok(stalled, 'settled')
      assert.ok(grown < history.bytes / 4, `external grew by ${(grown / MB).toFixed(1)} MiB`)
      assert.ok(grownBuffers < history.bytes / 4, `arrayBuffers grew by ${(grownBuffers / MB).toFixed(1)} MiB`)
      // What the package holds for them is what it says, and bounded per client.
      assert.equal(typeof stats.pendingBytes, 'number')
      assert.ok(stats.pendingBytes <= 20 * 2 * 64 * 1024, `pendingBytes ${stats.pendingBytes}`)
      assert.equal(stats.history.replaying, 20, 'all 20 still replaying')
      // They go: memory and counters return.
      for (const socket of sockets) socket.destroy()
      await steady(() => sse.clients.length, 2)
      assert.equal(sse.clients.length, 0)
      const after = memory()
      assert.equal(sse.stats().pendingBytes, 0)
      assert.equal(sse.stats().history.replaying, 0)
      assert.ok(after.external - before.external < 2 * MB, `external ${((after.external - before.external) / MB).toFixed(1)} MiB above`)
      assert.ok(after.arrayBuffers - before.arrayBuffers < 2 * MB)
    })
  }
})

module.exports = { framesOf, idLess, assertIncreasing, manualClock, server, frames }
