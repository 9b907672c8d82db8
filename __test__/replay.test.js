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
const { DETACH } = require('../lib/binding')
const { listen, connect, ATTACHED } = require('./helpers')

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc')
sse.heartbeat = 0

const PATHS = ['direct', 'framed']
// ATTACHED (./helpers): `add`'s third argument for a test about the attached response
// itself (the app's own write).

/**
 * Makes a connection take the framed path: a socket handle whose `close` someone else
 * owns is never written by Rust (lib/connection.js `guardClose`), so JS writes Rust's
 * chunks to it. Works with or without SIMPLE_SSE_RS_FORCE_FRAMED.
 */
function forcePath(path, res) {
  const handle = res.socket && res.socket._handle
  if (path === 'framed' && handle) handle.close = handle.close
}

/** `id: X\n[event: E\n]data: D\n\n` frames (or retry; comments skipped); throws on anything else. */
function framesOf(text) {
  text = text.replace(/(?<=^|\n\n):[^\n]*\n\n/g, '')
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

/** The payload of an HTTP/1.1 chunked body (latin1 text). */
function dechunk(raw) {
  let out = ''
  let at = 0
  for (;;) {
    const line = raw.indexOf('\r\n', at)
    if (line === -1) return out
    const size = parseInt(raw.slice(at, line), 16)
    if (!(size > 0)) return out
    out += raw.slice(line + 2, line + 2 + size)
    at = line + 2 + size + 2
  }
}

/**
 * The server cuts `client`'s connection: destroys its response, or for a detached client
 * (SIMPLE_SSE_RS_DETACH=1, no response) ends its stream through `sse.remove`.
 */
function cut(client) {
  if (client.detached) sse.remove(client)
  else client.res.destroy()
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

/** A client on `path` sees one broadcast to `room` and leaves; resolves with the id it saw. */
async function seenThenGone(srv, path, room) {
  const first = await srv.open(path)
  broadcastMany(room, 1, 'seen')
  const [seen] = await frames(first, 1)
  first.close()
  await first.closed()
  return seen.id
}

/**
 * A client sees one broadcast and leaves; three more go out; it comes back with `?busy`
 * and its Last-Event-ID. Resolves with the new connection and its first 6 frames.
 */
async function reconnectBusy(srv) {
  const seenId = await seenThenGone(srv, '/', '*')
  broadcastMany('*', 3, 'missed')
  const again = await srv.open('/?busy=1', { 'Last-Event-ID': seenId })
  return { again, got: await frames(again, 6) }
}

/**
 * The reconnecting client's handler (`?busy`): in its add turn a broadcast, a send, the
 * app's own write on its response, and another broadcast.
 */
function busyAddTurn(client, req, res, query) {
  if (!query.has('busy')) return
  sse.broadcast('*', 'e', 'live-in-add-turn')
  sse.send(client, 'hello', 'private')
  res.write(': own write\n\n')
  sse.broadcast('*', 'e', 'live-after-write')
}

/**
 * A server adding every request, on `path`; `handler(client, req, res, query)` runs in the
 * add turn. `options(query)`, when given, is `add`'s third argument for that request.
 */
async function server(t, path, handler = () => {}, options) {
  const added = []
  const gaps = []
  const onGap = (client, info) => gaps.push({ id: client.id, ...info })
  sse.on('gap', onGap)
  const srv = await listen((req, res) => {
    forcePath(path, res)
    const query = new URL(req.url, 'http://localhost').searchParams
    const client = options === undefined ? sse.add(req, res) : sse.add(req, res, options(query))
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

/** Broadcasts `n` events to `room`, returning their ids. */
function broadcastMany(room, n, prefix) {
  const ids = []
  for (let i = 0; i < n; i++) {
    sse.broadcast(room, 'e', `${prefix}${i}`)
    ids.push(sse.stats().history.newestId)
  }
  return ids
}

describe('replay window and order', () => {
  afterEach(() => {
    sse.close()
    sse.history = 0
    sse.replayWindow = replayModule.DEFAULT_WINDOW_MS
  })

  test('replayWindow: default 500 ms, whole milliseconds or digit strings, RangeError naming it otherwise', () => {
    assert.equal(sse.replayWindow, 500)
    sse.replayWindow = '250'
    assert.equal(sse.replayWindow, 250)
    sse.replayWindow = 0
    assert.equal(sse.replayWindow, 0)
    for (const bad of [-1, 1.5, NaN, '1e3', 'x', null, undefined, 2 ** 31]) {
      assert.throws(() => {
        sse.replayWindow = bad
      }, (err) => err instanceof RangeError && /replayWindow/.test(err.message))
    }
    assert.equal(sse.replayWindow, 0)
  })

  for (const path of PATHS) {
    test(`${path}: a handler that awaits before join gets that room's missed broadcasts, then what came during the window, in id order, each once`, async (t) => {
      const clock = manualClock(t)
      sse.history = 1000
      sse.replayWindow = 60000
      let open
      let gate = new Promise((resolve) => {
        open = resolve
      })
      const srv = await server(t, path, async (client, req, res, query) => {
        if (!query.has('auth')) return
        await gate
        sse.join(client, query.get('auth'))
      })
      const seenId = await seenThenGone(srv, '/?room=r', 'r')
      broadcastMany('r', 2, 'missed-r')
      broadcastMany('other', 1, 'not-mine')
      broadcastMany('*', 1, 'missed-all')
      const again = await srv.open('/?auth=r', { 'Last-Event-ID': seenId })
      // While the handler awaits: broadcasts to its room and to everyone.
      broadcastMany('r', 1, 'during-r')
      broadcastMany('*', 1, 'during-all')
      const timers = Array.from(clock.timers, (timer) => timer.ms)
      open()
      await gate
      await new Promise(setImmediate)
      assert.deepEqual(sse.stats().rooms.find((r) => r.room === 'r'), { room: 'r', members: 1 })
      const early = again.text
      clock.fire()
      broadcastMany('r', 1, 'live')
      const got = await frames(again, 6)
      assert.deepEqual(got.map((f) => f.data), ['missed-r0', 'missed-r1', 'missed-all0', 'during-r0', 'during-all0', 'live0'])
      assert.deepEqual(timers, [60000], 'one window timer, of replayWindow')
      assert.equal(early, '', 'nothing before the window ends')
      assertIncreasing(got, 'replay')
      assert.deepEqual(srv.gaps, [])
      assert.equal(sse.stats().history.replaying, 0, 'caught up')
      gate = null
    })

    test(`${path}: a broadcast, a send and the app's own write in the add turn do not overtake the replay`, async (t) => {
      sse.history = 1000
      sse.replayWindow = 0
      // The app's own write on its response: that client stays attached under SIMPLE_SSE_RS_DETACH.
      const srv = await server(t, path, busyAddTurn, (query) => (query.has('busy') ? ATTACHED : undefined))
      const { again, got } = await reconnectBusy(srv)
      assert.deepEqual(
        got.map((f) => f.data),
        ['private', 'missed0', 'missed1', 'missed2', 'live-in-add-turn', 'live-after-write'],
      )
      assert.ok(again.text.startsWith('event: hello\ndata: private\n\n: own write\n\n'), JSON.stringify(again.text.slice(0, 60)))
      assertIncreasing(got, 'add turn')
      // Each once: one more broadcast, and nothing else arrives.
      sse.broadcast('*', 'e', 'end')
      await again.until('data: end\n\n')
      assert.equal(framesOf(again.text).length, 7)
    })

    test(`${path}: ids the history cannot serve fire 'gap' (restart: empty history; older than the history; never issued), and the client gets what is kept`, async (t) => {
      sse.replayWindow = 0
      sse.history = 100
      const srv = await server(t, path)
      // A restart: the history is empty, the client has an id of the previous process.
      const old = '1700000000000-0'
      const a = await srv.open('/', { 'Last-Event-ID': old })
      await new Promise(setImmediate)
      await steady(() => srv.gaps.length, 2)
      assert.deepEqual(srv.gaps, [{ id: srv.added[0].id, lastEventId: old, oldestId: null }])
      broadcastMany('*', 1, 'after-restart')
      await a.until('data: after-restart0\n\n')
      // Kept broadcasts after a restart: all of them, and the gap names the oldest.
      const kept = broadcastMany('*', 2, 'kept')
      const b = await srv.open('/', { 'Last-Event-ID': old })
      const got = await frames(b, 3)
      assert.deepEqual(got.map((f) => f.data), ['after-restart0', 'kept0', 'kept1'])
      assert.equal(srv.gaps.length, 2)
      assert.deepEqual(srv.gaps[1], { id: srv.added[1].id, lastEventId: old, oldestId: sse.stats().history.oldestId })
      // An id this history never issued (ahead of its clock): a gap, and nothing replayed twice.
      const future = `${Date.now() + 3600000}-0`
      const c = await srv.open('/', { 'Last-Event-ID': future })
      await steady(() => srv.gaps.length, 2)
      assert.equal(srv.gaps.length, 3)
      assert.equal(srv.gaps[2].lastEventId, future)
      broadcastMany('*', 1, 'next')
      await c.until('data: next0\n\n')
      assert.ok(framesOf(c.text).length >= 1)
      // An id it did issue, with nothing after it forgotten: no gap.
      const d = await srv.open('/', { 'Last-Event-ID': kept[1] })
      broadcastMany('*', 1, 'last')
      await d.until('data: last0\n\n')
      assert.equal(srv.gaps.length, 3)
      assert.deepEqual(framesOf(d.text).map((f) => f.data), ['next0', 'last0'])
    })

    test(`${path}: a restarted process (empty history) fires 'gap' with oldestId null for an id of its previous run`, async () => {
      const { execFileSync } = require('node:child_process')
      const out = JSON.parse(execFileSync(process.execPath, [require.resolve('./fixtures/replay-restart.js'), path], { encoding: 'utf8', timeout: 20000 }))
      assert.deepEqual(out.gaps, [{ lastEventId: '1700000000000-5', oldestId: null }])
      assert.match(out.text, /^[0-9a-f]+\r\nid: \d+-\d+\ndata: after\n\n\r\n$/)
    })

    test(`${path}: a long replay while broadcasts go on: ids strictly increase, each once, nothing missed`, { timeout: 60000 }, async (t) => {
      sse.replayWindow = 0
      sse.history = 100000
      const srv = await server(t, path)
      const data = 'y'.repeat(300)
      for (let i = 0; i < 6000; i++) sse.broadcast('*', 'e', `${i}:${data}`)
      const from = sse.stats().history.oldestId
      const c = await srv.open('/', { 'Last-Event-ID': from })
      // Live broadcasts while the replay is under way, one per turn.
      let n = 6000
      while (sse.stats().history.replaying > 0 || n < 6100) {
        sse.broadcast('*', 'e', `${n++}:${data}`)
        await new Promise(setImmediate)
      }
      const got = await frames(c, n - 1)
      assertIncreasing(got, 'long replay')
      assert.deepEqual(got.map((f) => Number(f.data.split(':')[0])), Array.from({ length: n - 1 }, (_, i) => i + 1))
      assert.deepEqual(srv.gaps, [])
    })

    test(`${path}: when trimming passes a stalled replay, 'gap' fires where it stalled and the replay goes on from the oldest kept`, { timeout: 60000 }, async (t) => {
      sse.replayWindow = 0
      sse.history = 12000
      const srv = await server(t, path)
      const data = 'z'.repeat(1000)
      for (let i = 0; i < 12000; i++) sse.broadcast('*', 'e', `${i}:${data}`)
      const from = sse.stats().history.oldestId
      // A raw reader that keeps chunks (decoded once at the end) and stops reading at once.
      const socket = net.connect(srv.srv.port, '127.0.0.1')
      t.after(() => socket.destroy())
      const chunks = []
      let tail = ''
      socket.on('data', (data) => {
        chunks.push(data)
        tail = (tail + data.toString('latin1')).slice(-200)
      })
      await new Promise((resolve) => socket.once('connect', resolve))
      socket.write(`GET / HTTP/1.1\r\nHost: x\r\nLast-Event-ID: ${from}\r\n\r\n`)
      await new Promise((resolve) => socket.once('data', resolve))
      socket.pause()
      await steady(() => sse.stats().bytesSent)
      assert.equal(sse.stats().history.replaying, 1, 'stalled')
      for (let i = 12000; i < 24000; i++) sse.broadcast('*', 'e', `${i}:${data}`)
      assert.deepEqual(srv.gaps, [])
      sse.broadcast('*', 'e', 'END')
      socket.resume()
      while (!tail.includes('data: END\n\n')) await new Promise((resolve) => socket.once('data', resolve))
      const raw = Buffer.concat(chunks).toString('latin1')
      const body = dechunk(raw.slice(raw.indexOf('\r\n\r\n') + 4))
      const all = framesOf(body)
      assertIncreasing(all, 'after the gap')
      assert.equal(srv.gaps.length, 1)
      const numbers = all.slice(0, -1).map((f) => Number(f.data.split(':')[0]))
      const stall = numbers.findIndex((x, i) => i > 0 && x !== numbers[i - 1] + 1)
      assert.ok(stall > 0, 'a jump where trimming passed')
      assert.equal(numbers[0], 1)
      assert.equal(srv.gaps[0].lastEventId, all[stall - 1].id, 'the last id it got')
      assert.equal(srv.gaps[0].oldestId, all[stall].id, 'then the oldest kept')
      assert.equal(numbers[stall], 12001)
      assert.equal(numbers.at(-1), 23999)
      assert.deepEqual(numbers.slice(stall), Array.from({ length: 23999 - 12000 }, (_, i) => 12001 + i))
    })

    test(`${path}: a replaying client that does not read is judged by maxPendingBytes like any other`, { timeout: 60000 }, async (t) => {
      sse.replayWindow = 0
      sse.history = 100000
      const max = sse.maxPendingBytes
      t.after(() => {
        sse.maxPendingBytes = max
      })
      sse.maxPendingBytes = 256 * 1024
      const srv = await server(t, path)
      const drops = []
      const onDrop = (client, info) => drops.push({ id: client.id, ...info })
      sse.on('drop', onDrop)
      t.after(() => sse.off('drop', onDrop))
      const data = 'w'.repeat(1000)
      for (let i = 0; i < 20000; i++) sse.broadcast('*', 'e', data)
      const socket = net.connect(srv.srv.port, '127.0.0.1')
      t.after(() => socket.destroy())
      await new Promise((resolve) => socket.once('connect', resolve))
      socket.write(`GET / HTTP/1.1\r\nHost: x\r\nLast-Event-ID: ${sse.stats().history.oldestId}\r\n\r\n`)
      await new Promise((resolve) => socket.once('data', resolve))
      socket.pause()
      await steady(() => sse.stats().bytesSent)
      const stalled = sse.stats()
      assert.equal(stalled.history.replaying, 1)
      assert.ok(stalled.pendingBytes <= 256 * 1024, `a stalled replay holds ${stalled.pendingBytes} bytes, under the cap`)
      assert.deepEqual(drops, [], 'the replay alone never passes the cap')
      // What it is sent while it does not read counts, on top of what its replay holds.
      const client = srv.added[0]
      for (let i = 0; i < 400 && drops.length === 0; i++) {
        sse.send(client, 'p', data)
        await new Promise(setImmediate)
      }
      assert.deepEqual(drops, [{ id: client.id, reason: 'slow', maxPendingBytes: 256 * 1024 }])
      assert.equal(sse.stats().history.replaying, 0, 'its replay went with it')
    })

    test(`${path}: an EventSource cut while a room ticks, whose handler awaits before join: its lastEventId only goes up, no tick missed or twice`, { timeout: 30000 }, async (t) => {
      const { EventSource } = require('eventsource')
      sse.history = 1000
      sse.replayWindow = 500
      let tick = 0
      const ticker = setInterval(() => sse.broadcast('room', 'tick', String(++tick)), 5)
      t.after(() => clearInterval(ticker))
      const srv = await server(t, path, async (client) => {
        sse.setRetry(client, 100)
        // An authentication or a database lookup before the join.
        await new Promise((resolve) => setTimeout(resolve, 50))
        sse.join(client, 'room')
      })
      const source = new EventSource(`http://127.0.0.1:${srv.srv.port}/`)
      t.after(() => source.close())
      const seen = []
      let opened = 0
      let done
      const finished = new Promise((resolve) => {
        done = resolve
      })
      source.addEventListener('open', () => opened++)
      source.addEventListener('tick', (e) => {
        seen.push({ n: Number(e.data), id: e.lastEventId, connection: opened })
        if (opened === 1 && seen.length === 20) for (const c of sse.clients) cut(c)
        if (opened === 2 && seen.filter((s) => s.connection === 2).length >= 40) done()
      })
      await finished
      const numbers = seen.map((s) => s.n)
      assert.deepEqual(numbers, numbers.map((_, i) => numbers[0] + i), 'consecutive: nothing missed, nothing twice')
      for (let i = 1; i < seen.length; i++) {
        assert.ok(idLess(seen[i - 1].id, seen[i].id), `lastEventId went from ${seen[i - 1].id} to ${seen[i].id}`)
      }
      assert.deepEqual(srv.gaps, [])
    })
  }

  test('detached: a write to the released response in the add turn takes none of the frames queued for the client', { skip: DETACH ? false : 'this platform does not detach connections' }, async (t) => {
    sse.history = 1000
    sse.replayWindow = 0
    // The hand-over happens inside add (the headers went out): the app's write after it
    // goes through the response Node is about to release, and must not take the client's
    // queued frames with it (README: a detached app does not write to res itself).
    const srv = await server(t, 'direct', busyAddTurn, () => ({ detach: true }))
    const { again, got } = await reconnectBusy(srv)
    assert.equal(srv.added.at(-1).detached, true)
    assert.deepEqual(
      got.map((f) => f.data),
      ['private', 'missed0', 'missed1', 'missed2', 'live-in-add-turn', 'live-after-write'],
    )
    assertIncreasing(got, 'add turn')
    sse.broadcast('*', 'e', 'end')
    await again.until('data: end\n\n')
    assert.equal(framesOf(again.text).length, 7, 'each once')
    // The app's own bytes, if Node wrote them before letting go, arrived whole (framesOf
    // skips a comment only at a frame border), once.
    assert.ok(again.text.split(': own write\n\n').length <= 2, JSON.stringify(again.text))
  })
})

module.exports = { framesOf, idLess, assertIncreasing, manualClock, server, frames }
