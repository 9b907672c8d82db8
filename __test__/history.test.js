'use strict'
// sse.history in one process: event ids on broadcasts, Last-Event-ID replays (header
// and ?lastEventId=), room filtering, order against what is sent meanwhile, gaps,
// run-time changes, stats and the memory a full history holds.

const { describe, test, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const sse = require('..')
const { listen, connect } = require('./helpers')

sse.heartbeat = 0

/** `id: X\n[event: E\n]data: D\n\n` frames, or `retry: N\n\n`; throws on anything else. */
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

const EVENT_ID = /^\d{13,}-\d+$/

/**
 * A server whose clients join the rooms of `?room=`; `?send=x` sends them a private
 * `hello` and `?shout=x` broadcasts `shout` to room x, both in the turn they were added.
 */
async function server(t) {
  const added = []
  const gaps = []
  const onGap = (client, info) => gaps.push({ id: client.id, ...info })
  sse.on('gap', onGap)
  const srv = await listen((req, res) => {
    const query = new URL(req.url, 'http://localhost').searchParams
    const client = sse.add(req, res)
    added.push(client)
    for (const room of query.getAll('room')) sse.join(client, room)
    if (query.has('send')) sse.send(client, 'hello', query.get('send'))
    if (query.has('shout')) sse.broadcast(query.get('shout'), 'shout', 'in the same turn')
  })
  t.after(async () => {
    sse.off('gap', onGap)
    await srv.close()
  })
  return {
    added,
    gaps,
    async open(path, headers = {}) {
      const raw = await connect(srv.port, path, { headers })
      t.after(() => raw.close())
      return raw
    },
  }
}

/** Resolves once `client` got `n` frames; returns them. */
async function frames(client, n) {
  await client.until((text) => framesOf(text).length >= n)
  return framesOf(client.text)
}

describe('history', () => {
  // Replays start at the end of the turn a client was added in (replay.test.js covers longer windows).
  sse.replayWindow = 0
  afterEach(() => {
    sse.close()
    sse.history = 0
  })

  test('with history on, broadcasts carry one event id for every receiver; send and setRetry carry none', async (t) => {
    sse.history = 10
    const srv = await server(t)
    const a = await srv.open('/?room=r')
    const b = await srv.open('/?room=r')
    sse.broadcast('r', 'ev', 'one')
    sse.broadcast('*', 'two')
    sse.send(srv.added[0], 'private', 'p')
    sse.setRetry(srv.added[0], 2500)
    const fa = await frames(a, 4)
    const fb = await frames(b, 2)
    assert.match(fa[0].id, EVENT_ID)
    assert.deepEqual(fa.map((f) => [f.event, f.data]), [['ev', 'one'], [null, 'two'], ['private', 'p'], [null, null]])
    assert.deepEqual(fb.map((f) => f.id), [fa[0].id, fa[1].id], 'the same ids for every receiver')
    assert.ok(fa[1].id > fa[0].id || fa[1].id.length > fa[0].id.length)
    const [ms0, seq0] = fa[0].id.split('-').map(Number)
    const [ms1, seq1] = fa[1].id.split('-').map(Number)
    assert.ok(ms1 > ms0 || (ms1 === ms0 && seq1 === seq0 + 1), 'ids increase')
    assert.ok(Math.abs(ms0 - Date.now()) < 60000, 'ids are milliseconds since the epoch')
    const tail = a.text.slice(a.text.indexOf('event: private'))
    assert.equal(tail, 'event: private\ndata: p\n\nretry: 2500\n\n', 'no id: line on send and setRetry')
    assert.equal(b.text, `id: ${fa[0].id}\nevent: ev\ndata: one\n\nid: ${fa[1].id}\ndata: two\n\n`)
  })

  test('a reconnect with Last-Event-ID gets exactly what it missed in its rooms and "*", in order, before anything broadcast since; a send goes at once', async (t) => {
    sse.history = 100
    const srv = await server(t)
    const first = await srv.open('/?room=a')
    sse.broadcast('*', 'e', 'e1')
    sse.broadcast('a', 'e', 'e2')
    sse.broadcast('b', 'e', 'e3-not-mine')
    sse.send(srv.added[0], 'p', 'private-1')
    const seen = await frames(first, 3)
    const last = seen[1].id
    first.close()
    await first.closed()

    sse.broadcast('a', 'e', 'e4')
    sse.broadcast('b', 'e', 'e5-not-mine')
    sse.broadcast('*', 'e', 'e6')
    const again = await srv.open('/?room=a&send=welcome&shout=a', { 'Last-Event-ID': last })
    sse.broadcast('a', 'e', 'e7')
    const got = await frames(again, 5)
    // A private send carries no id and is not in the history: it goes out at once,
    // like the app's own writes; the broadcasts follow in id order, each once.
    assert.deepEqual(
      got.map((f) => [f.event, f.data]),
      [['hello', 'welcome'], ['e', 'e4'], ['e', 'e6'], ['shout', 'in the same turn'], ['e', 'e7']],
    )
    assert.equal(got[0].id, null)
    assert.ok(got[1].id > last && got[2].id > got[1].id)
    assert.deepEqual(srv.gaps, [])
    // Each once: nothing more arrives.
    sse.broadcast('*', 'e', 'end')
    await again.until('data: end\n\n')
    assert.equal(framesOf(again.text).length, 6)
    assert.ok(!again.text.includes('private-1'), 'a private send never replays')
  })

  test('?lastEventId= works for EventSource polyfills; ids that are not ours replay nothing', async (t) => {
    sse.history = 100
    const srv = await server(t)
    sse.broadcast('*', 'e', 'x1')
    const x1 = sse.stats().history.newestId
    sse.broadcast('*', 'e', 'x2')
    sse.broadcast('*', 'e', 'x3')
    const viaQuery = await srv.open(`/?lastEventId=${x1}`)
    assert.deepEqual((await frames(viaQuery, 2)).map((f) => f.data), ['x2', 'x3'])
    for (const foreign of ['2', 'abc', '', '1-2-3']) {
      const c = await srv.open('/?send=mark', { 'Last-Event-ID': foreign })
      await c.until('data: mark\n\n')
      assert.equal(c.text, 'event: hello\ndata: mark\n\n', `Last-Event-ID ${JSON.stringify(foreign)}`)
    }
    assert.deepEqual(srv.gaps, [])
  })

  test('when the history no longer reaches back: everything kept, then a gap event', async (t) => {
    sse.history = 3
    const srv = await server(t)
    const ids = []
    for (let i = 1; i <= 5; i++) {
      sse.broadcast('*', 'e', `g${i}`)
      ids.push(sse.stats().history.newestId)
    }
    const c = await srv.open('/', { 'Last-Event-ID': ids[0] })
    assert.deepEqual((await frames(c, 3)).map((f) => f.data), ['g3', 'g4', 'g5'])
    await new Promise(setImmediate)
    assert.deepEqual(srv.gaps, [{ id: srv.added[0].id, lastEventId: ids[0], oldestId: ids[2] }])
    // ids[1] was forgotten too, but nothing after it was: no gap.
    const d = await srv.open('/', { 'Last-Event-ID': ids[1] })
    assert.deepEqual((await frames(d, 3)).map((f) => f.data), ['g3', 'g4', 'g5'])
    await new Promise(setImmediate)
    assert.equal(srv.gaps.length, 1)
  })

  test('history can change at run time; 0 goes back to client ids; bad sizes are RangeErrors', async (t) => {
    const srv = await server(t)
    sse.history = '10'
    assert.equal(sse.history, 10)
    for (let i = 1; i <= 4; i++) sse.broadcast('*', 'e', `h${i}`)
    const { history } = sse.stats()
    assert.equal(history.size, 10)
    assert.equal(history.length, 4)
    assert.match(history.oldestId, EVENT_ID)
    assert.ok(history.bytes > 4 * 'id: 1-0\nevent: e\ndata: h1\n\n'.length)
    const oldest = history.oldestId
    sse.history = 2
    assert.equal(sse.stats().history.length, 2)
    const c = await srv.open('/', { 'Last-Event-ID': oldest })
    assert.deepEqual((await frames(c, 2)).map((f) => f.data), ['h3', 'h4'])
    await new Promise(setImmediate)
    assert.equal(srv.gaps.length, 1)
    assert.equal(srv.gaps[0].oldestId, sse.stats().history.oldestId)

    sse.history = 0
    assert.deepEqual(sse.stats().history, { size: 0, length: 0, bytes: 0, oldestId: null, newestId: null, replaying: 0 })
    sse.broadcast('*', 'e', 'plain')
    await c.until('data: plain\n\n')
    assert.ok(c.text.endsWith(`id: ${srv.added[0].id}\nevent: e\ndata: plain\n\n`), 'client ids again')
    for (const bad of [-1, 1.5, NaN, '1e3', 'x', null, 2 ** 32]) {
      assert.throws(() => {
        sse.history = bad
      }, RangeError)
    }
    assert.equal(sse.history, 0)
  })

  test('a history of 100,000 x 1 KB holds about what the README says (frame + 80 bytes each)', async () => {
    const data = 'x'.repeat(1024)
    global.gc?.()
    const before = process.memoryUsage().rss
    sse.history = 100000
    for (let i = 0; i < 100000; i++) sse.broadcast('*', data)
    const { history } = sse.stats()
    assert.equal(history.length, 100000)
    const frame = `id: ${history.newestId}\ndata: ${data}\n\n`.length
    assert.ok(history.bytes <= 100000 * (frame + 80), `${history.bytes} bytes kept`)
    const grown = process.memoryUsage().rss - before
    // The stated cost, plus room for allocator slack; copies per receiver or an
    // unbounded history would pass it.
    assert.ok(grown < 100000 * (frame + 80) * 1.3, `rss grew by ${(grown / 2 ** 20).toFixed(1)} MiB`)
    for (let i = 0; i < 1000; i++) sse.broadcast('*', data)
    assert.equal(sse.stats().history.length, 100000, 'bounded by N')
    sse.history = 0
    assert.equal(sse.stats().history.bytes, 0)
  })
})

test('examples/reconnect.js with a real EventSource: cut, reconnect with Last-Event-ID, no tick missed or doubled', { timeout: 20000 }, async (t) => {
  const { EventSource } = require('eventsource')
  const { once } = require('node:events')
  const { start, stop } = require('../examples/reconnect.js')
  const server = start({ port: 0, host: '127.0.0.1', tickMs: 20, retryMs: 200 })
  t.after(() => {
    stop(server)
    sse.history = 0
  })
  await once(server, 'listening')
  const base = `http://127.0.0.1:${server.address().port}`
  const source = new EventSource(`${base}/events`)
  t.after(() => source.close())
  const ticks = []
  let opened = 0
  let resolveAfter
  const after = new Promise((resolve) => {
    resolveAfter = resolve
  })
  source.addEventListener('open', () => opened++)
  source.addEventListener('tick', (e) => {
    ticks.push({ n: JSON.parse(e.data).n, id: e.lastEventId, connection: opened })
    if (opened === 2 && ticks.filter((tk) => tk.connection === 2).length >= 20) resolveAfter()
  })
  while (ticks.length < 5) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.equal((await fetch(`${base}/cut`, { method: 'POST' })).status, 204)
  await after
  const numbers = ticks.map((tk) => tk.n)
  const first = numbers[0]
  assert.deepEqual(numbers, numbers.map((_, i) => first + i), 'consecutive: nothing missed, nothing twice')
  assert.ok(ticks.every((tk) => /^\d+-\d+$/.test(tk.id)), 'event ids')
  // The 200 ms retry at 20 ms per tick: the second connection's first ticks came from the history.
  const resumed = ticks.findIndex((tk) => tk.connection === 2)
  assert.ok(resumed > 0)
})
