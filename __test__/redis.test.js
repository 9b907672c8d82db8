'use strict'
// Broadcasts across processes through Redis pub/sub (sse.useRedis): a private
// redis-server, child processes each holding SSE clients (fixtures/redis-node.js),
// exact frames, ordering, room isolation, clear errors, and a Redis crash mid-test.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const sse = require('..')
const { connect, sseServer } = require('./helpers')
const { REDIS_SERVER, freePort, startRedis, startNode, uniquePrefix } = require('./fixtures/redis-helpers')

const skip =
  REDIS_SERVER === null && !process.env.CI
    ? 'redis-server not found: apt-get install redis-server (never skipped when CI is set)'
    : false

/** Exact SSE frames `id: N\n[event: E\n]data: D\n\n`; throws on any other byte. */
function framesOf(text) {
  const frame = /id: (\d+)\n(?:event: ([^\n]*)\n)?data: ([^\n]*)\n\n/y
  const frames = []
  while (frame.lastIndex < text.length) {
    const at = frame.lastIndex
    const m = frame.exec(text)
    if (m === null) throw new Error(`not an SSE frame at ${at}: ${JSON.stringify(text.slice(at, at + 80))}`)
    frames.push({ id: Number(m[1]), event: m[2] === undefined ? null : m[2], data: m[3] })
  }
  return frames
}

/** The exact bytes of `[event, data]` pairs sent to client `id`. */
function bytesOf(id, pairs) {
  return pairs.map(([event, data]) => `id: ${id}\nevent: ${event}\ndata: ${data}\n\n`).join('')
}

const marker = (event, data) => `event: ${event}\ndata: ${data}\n\n`
/** The frame each child client gets once it is in its rooms. */
const HELLO_PAIR = ['hello', 'joined']
const HELLO = marker(...HELLO_PAIR)

function startNodes(t, names, options) {
  const nodes = names.map((name) => Object.assign(startNode(options), { name }))
  t.after(() => Promise.all(nodes.map((node) => node.kill())))
  return nodes
}

/** An SSE client of a child, in the rooms of `query`; resolves once it has joined them. */
async function openClient(t, node, query) {
  const client = await connect(node.port, `/?${query}`)
  t.after(() => client.close())
  await client.until(HELLO)
  return client
}

describe('broadcasts across processes through Redis', { skip }, () => {
  let redis

  before(async () => {
    redis = await startRedis()
  })

  after(async () => {
    await sse.closeRedis()
    sse.close()
    if (redis) await redis.kill()
  })

  test('three processes: every member gets each broadcast once and in order; rooms stay private', { timeout: 30000 }, async (t) => {
    const nodes = startNodes(t, ['A', 'B', 'C'], { url: redis.url, prefix: uniquePrefix('three') })
    await Promise.all(nodes.map((node) => node.ready))
    const [A, B, C] = nodes
    const all = await Promise.all(nodes.map((node) => openClient(t, node, 'room=all')))

    // All three broadcast at once, in chunks, so their messages interleave in Redis.
    const K = 300
    await Promise.all(
      nodes.map(async (node) => {
        for (let i = 0; i < K; i += 50) {
          const items = []
          for (let j = i; j < i + 50; j++) items.push(['all', 'm', `${node.name}:${j}`])
          await node.broadcast(items)
        }
        await node.broadcast([['all', 'end', node.name]])
      }),
    )
    for (const client of all) {
      // An origin's 'end' comes after all of its messages: once the three are in, all is.
      const text = await client.until((s) => nodes.every((node) => s.includes(marker('end', node.name))), 10000)
      const frames = framesOf(text)
      assert.equal(frames.length, 1 + 3 * (K + 1), 'no message lost, none twice')
      assert.ok(frames.every((f) => f.id === frames[0].id), 'every frame carries the client id')
      assert.deepEqual([frames[0].event, frames[0].data], HELLO_PAIR)
      for (const node of nodes) {
        const mine = frames.filter((f) => f.data.startsWith(`${node.name}:`) || f.data === node.name)
        const expected = Array.from({ length: K }, (_, j) => ['m', `${node.name}:${j}`]).concat([['end', node.name]])
        assert.deepEqual(mine.map((f) => [f.event, f.data]), expected, `${node.name}'s broadcasts, in order`)
      }
    }

    // Rooms: only their members get a broadcast, whatever their process; 7 is not '7'.
    const members = {
      xA: [await openClient(t, A, 'room=x'), [['ev', 'to-x']]],
      xB: [await openClient(t, B, 'room=x'), [['ev', 'to-x']]],
      yB: [await openClient(t, B, 'room=y'), []],
      noneC: [await openClient(t, C, 'room=none'), []],
      num7C: [await openClient(t, C, 'num=7'), [['num', 'seven']]],
      str7B: [await openClient(t, B, 'room=7'), [['str', 'seven']]],
      bothC: [await openClient(t, C, 'room=x&num=7'), [['ev', 'to-x'], ['num', 'seven']]],
    }
    await A.broadcast([
      ['x', 'ev', 'to-x'],
      [7, 'num', 'seven'],
      ['7', 'str', 'seven'],
      ['*', 'fin', 'A'],
    ])
    for (const [name, [client, expected]] of Object.entries(members)) {
      const text = await client.until(marker('fin', 'A'))
      assert.equal(text, bytesOf(framesOf(text)[0].id, [HELLO_PAIR, ...expected, ['fin', 'A']]), name)
    }

    // Leaving, with or without closeRedis: each process exits by itself.
    assert.equal(await A.exit({ closeRedis: true }), 0)
    assert.equal(await B.exit({ closeRedis: false }), 0)
    assert.equal(await C.exit({ closeRedis: true }), 0)
  })

  test('this process and a child share broadcasts both ways, numbers and strings kept apart', { timeout: 20000 }, async (t) => {
    const prefix = uniquePrefix('pair')
    const [child] = startNodes(t, ['child'], { url: redis.url, prefix })
    await sse.useRedis({ url: redis.url, prefix })
    t.after(() => sse.closeRedis())
    await child.ready
    const srv = await sseServer(sse, (client, req) => sse.join(client, req.url === '/num' ? 1 : '1'))
    t.after(() => srv.close())
    const [here] = await srv.open('/str')
    const [hereNum] = await srv.open('/num')
    const there = await openClient(t, child, 'room=1')

    sse.broadcast('1', 'from', 'parent')
    sse.broadcast(1, 'from', 'parent-number')
    await there.until(marker('from', 'parent'))
    await child.broadcast([['1', 'from', 'child']])
    await child.broadcast([[1, 'from', 'child-number']])
    await here.until(marker('from', 'child'))
    await hereNum.until(marker('from', 'child-number'))
    await there.until(marker('from', 'child'))
    const id = (c) => framesOf(c.text)[0].id
    assert.equal(here.text, bytesOf(id(here), [['from', 'parent'], ['from', 'child']]))
    assert.equal(hereNum.text, bytesOf(id(hereNum), [['from', 'parent-number'], ['from', 'child-number']]))
    assert.equal(there.text, bytesOf(id(there), [HELLO_PAIR, ['from', 'parent'], ['from', 'child']]))

    // closeRedis publishes what was broadcast before it; after it, this process is local.
    sse.broadcast('1', 'last', 'words')
    await sse.closeRedis()
    await there.until(marker('last', 'words'))
    sse.broadcast('1', 'local', 'only')
    await child.broadcast([['1', 'from', 'child-after']])
    await there.until(marker('from', 'child-after'))
    await here.until(marker('local', 'only'))
    assert.ok(!there.text.includes('only'), 'no longer shared')
    assert.ok(!here.text.includes('child-after'), 'no longer subscribed')
  })

  test('useRedis rejects clearly, refuses a second link, and closeRedis can be repeated', async () => {
    const dead = await freePort()
    await assert.rejects(sse.useRedis(`redis://127.0.0.1:${dead}`), (err) => {
      assert.ok(err instanceof Error)
      assert.match(err.message, new RegExp(`^cannot connect to Redis at redis://127\\.0\\.0\\.1:${dead}: .*refused`, 'i'))
      return true
    })
    await assert.rejects(sse.useRedis(`redis://me:hunter2@127.0.0.1:${dead}`), (err) => {
      assert.ok(err.message.includes(`redis://me:***@127.0.0.1:${dead}`), err.message)
      assert.ok(!err.message.includes('hunter2'), 'no password in the message')
      return true
    })
    await assert.rejects(sse.useRedis('http://example.invalid'), /^Error: invalid Redis URL http:\/\/example\.invalid: /)
    await assert.rejects(sse.useRedis(42), TypeError)
    await assert.rejects(sse.useRedis({ url: redis.url, prefix: '' }), TypeError)

    // A failed useRedis leaves the process local and free to try again.
    const prefix = uniquePrefix('again')
    await sse.useRedis({ url: redis.url, prefix })
    await assert.rejects(sse.useRedis(redis.url), /already called: call closeRedis\(\) before connecting again/)
    await sse.closeRedis()
    await sse.closeRedis()
    await sse.useRedis(redis.url)
    await sse.closeRedis()
  })

  test('Redis crashes and comes back: local broadcasts go on, down then up, sharing resumes', { timeout: 30000 }, async (t) => {
    const own = await startRedis()
    t.after(() => own.kill())
    const [A, B] = startNodes(t, ['A', 'B'], { url: own.url, prefix: uniquePrefix('outage') })
    await Promise.all([A.ready, B.ready])
    const a = await openClient(t, A, 'room=all')
    const b = await openClient(t, B, 'room=all')
    await A.broadcast([['all', 'm', 'before']])
    await b.until(marker('m', 'before'))

    await own.kill()
    await Promise.all([A.untilStatus('down'), B.untilStatus('down')])
    await A.broadcast([['all', 'm', 'during-A']])
    await B.broadcast([['all', 'm', 'during-B']])
    await a.until(marker('m', 'during-A'))
    await b.until(marker('m', 'during-B'))

    const back = await startRedis(own.port)
    t.after(() => back.kill())
    await Promise.all([A.untilStatus('up'), B.untilStatus('up')])
    await A.broadcast([['all', 'm', 'after-A']])
    await B.broadcast([['all', 'm', 'after-B']])
    for (const client of [a, b]) {
      await client.until((s) => s.includes(marker('m', 'after-A')) && s.includes(marker('m', 'after-B')))
    }

    for (const [node, client, other] of [[A, a, 'B'], [B, b, 'A']]) {
      assert.deepEqual(node.statuses.map((s) => s.status), ['down', 'up'], `${node.name}'s statuses`)
      assert.ok(node.statuses[0].detail.includes(own.url), node.statuses[0].detail)
      assert.match(node.statuses[1].detail, /^reconnected to redis:\/\/127\.0\.0\.1:\d+ after \d+ attempts?$/)
      // At most once during the outage, and in the order of its origin.
      const got = framesOf(client.text).map((f) => f.data).slice(1)
      const expected = ['before', `during-${node.name}`, `during-${other}`, 'after-A', 'after-B']
      for (const data of expected) assert.ok(got.filter((d) => d === data).length <= 1, `${data} at most once`)
      assert.deepEqual(got.filter((d) => d !== `during-${other}`).sort(), expected.filter((d) => d !== `during-${other}`).sort())
      if (got.includes(`during-${other}`)) {
        assert.ok(got.indexOf(`during-${other}`) < got.indexOf(`after-${other}`), 'in the order of its origin')
      }
    }
    assert.equal(await A.exit({ closeRedis: true }), 0)
    assert.equal(await B.exit({ closeRedis: false }), 0)
  })
})

/** Frames with or without an `id:` line: [{ id, event, data }]; throws on any other byte. */
function streamFrames(text) {
  const frame = /(?:id: ([^\n]*)\n)?(?:event: ([^\n]*)\n)?data: ([^\n]*)\n\n/y
  const frames = []
  while (frame.lastIndex < text.length) {
    const at = frame.lastIndex
    const m = frame.exec(text)
    if (m === null) throw new Error(`not an SSE frame at ${at}: ${JSON.stringify(text.slice(at, at + 80))}`)
    frames.push({ id: m[1] ?? null, event: m[2] ?? null, data: m[3] })
  }
  return frames
}

/** The data of a client's `event` frames. */
const dataOf = (client, event = 'p') => streamFrames(client.text).filter((f) => f.event === event).map((f) => f.data)

/** Resolves once `check()` holds (polled: the event comes from a child or Rust), rejects after `ms`. */
async function waitFor(check, what, ms = 10000) {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const range = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

/** Whether stream id `a` (`<ms>-<seq>`) comes before `b`. */
function idBefore(a, b) {
  const [am, as] = a.split('-').map(BigInt)
  const [bm, bs] = b.split('-').map(BigInt)
  return am < bm || (am === bm && as < bs)
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

describe('history across processes: one Redis Stream', { skip }, () => {
  let redis

  before(async () => {
    redis = await startRedis()
  })

  after(async () => {
    if (redis) await redis.kill()
  })

  test('a client that reconnects to another process gets what it missed, from every process, in stream order', { timeout: 30000 }, async (t) => {
    const prefix = uniquePrefix('stream-move')
    const [A, B] = startNodes(t, ['A', 'B'], { url: redis.url, prefix, history: 1000 })
    await Promise.all([A.ready, B.ready])
    assert.equal((await A.request('stats')).redis.mode, 'stream')
    // Broadcasts of different processes made at the same moment may be ordered in the
    // stream unlike their local clients saw them (see the README): here each waits
    // until the other process has read the previous one.
    const watchA = await openClient(t, A, 'room=r')
    const watchB = await openClient(t, B, 'room=r')
    const onA = await openClient(t, A, 'room=r')
    await A.broadcast([['r', 'p', 'a1'], ['*', 'p', 'a2'], ['other', 'p', 'hidden']])
    await watchB.until('data: a2\n\n')
    await B.broadcast([['r', 'p', 'b1']])
    await onA.until('data: b1\n\n')
    const seen = streamFrames(onA.text).filter((f) => f.id !== null)
    assert.deepEqual(seen.map((f) => f.data), ['a1', 'a2', 'b1'])
    const last = seen[1].id // it missed b1, say
    onA.close()

    await A.broadcast([['r', 'p', 'a3'], ['other', 'p', 'hidden']])
    await watchB.until('data: a3\n\n')
    await B.broadcast([['*', 'p', 'b2']])
    await watchA.until('data: b2\n\n')
    const moved = await connect(B.port, '/?room=r', { headers: { 'Last-Event-ID': last } })
    t.after(() => moved.close())
    await moved.until(HELLO)
    await B.broadcast([['r', 'p', 'live']])
    await moved.until('data: live\n\n')
    const got = streamFrames(moved.text)
    // The private send goes out at once; the replay follows, then what came live.
    assert.deepEqual(got.map((f) => f.data), ['joined', 'b1', 'a3', 'b2', 'live'])
    assert.ok(got[1].id > last && got[2].id > got[1].id && got[3].id > got[2].id, 'stream ids, increasing')
    assert.equal(got[1].id, seen[2].id, 'the same id in every process')
    assert.deepEqual(B.gaps, [])
    assert.equal(await A.exit({ closeRedis: true }), 0)
    assert.equal(await B.exit({ closeRedis: false }), 0)
  })

  test('connections killed (CLIENT KILL) several times while one process broadcasts: every member everywhere gets every event once, in order', { timeout: 60000 }, async (t) => {
    const prefix = uniquePrefix('stream-kill')
    const nodes = startNodes(t, ['A', 'B', 'C'], { url: redis.url, prefix, history: 10000 })
    await Promise.all(nodes.map((node) => node.ready))
    const [A, B, C] = nodes
    const clients = await Promise.all(nodes.map((node) => openClient(t, node, 'room=all')))
    const N = 1500
    const pumped = A.request('pump', { room: 'all', count: N, prefix: 'k' })
    for (let i = 1; i <= 3; i++) {
      await clients[1].until((text) => dataOf({ text }).length >= (i * N) / 4, 20000)
      await redis.cli('CLIENT', 'KILL', 'TYPE', 'normal')
      await Promise.all([B, C].map((node) => node.untilStatus('up', i)))
    }
    await pumped
    const expected = range('k', N)
    for (const client of clients) {
      await client.until((text) => text.includes(`data: k${N - 1}\n\n`), 20000)
      assert.deepEqual(dataOf(client), expected)
    }
    for (const node of [B, C]) {
      assert.deepEqual(node.statuses.map((s) => s.status), ['down', 'up', 'down', 'up', 'down', 'up'], `${node.name}'s statuses`)
    }
    assert.equal((await A.request('stats')).redis.dropped, 0)
    assert.equal(await A.exit({ closeRedis: true }), 0)
  })

  test('Redis restarted: what was broadcast meanwhile is appended on reconnection and read everywhere once', { timeout: 30000 }, async (t) => {
    const own = await startRedis()
    t.after(() => own.kill())
    const [A, B] = startNodes(t, ['A', 'B'], { url: own.url, prefix: uniquePrefix('stream-restart'), history: 100 })
    await Promise.all([A.ready, B.ready])
    const a = await openClient(t, A, 'room=all')
    const b = await openClient(t, B, 'room=all')
    await A.broadcast([['all', 'p', 'before']])
    await b.until('data: before\n\n')
    await own.kill()
    await Promise.all([A.untilStatus('down'), B.untilStatus('down')])
    await A.broadcast([['all', 'p', 'during-A1'], ['all', 'p', 'during-A2']])
    await B.broadcast([['all', 'p', 'during-B']])
    const back = await startRedis(own.port)
    t.after(() => back.kill())
    await Promise.all([A.untilStatus('up'), B.untilStatus('up')])
    await A.broadcast([['all', 'p', 'after']])
    await b.until('data: after\n\n')
    await a.until((text) => text.includes('data: during-B\n\n') && text.includes('data: after\n\n'))
    assert.deepEqual(dataOf(b), ['before', 'during-B', 'during-A1', 'during-A2', 'after'].filter((d) => dataOf(b).includes(d)))
    assert.deepEqual([...dataOf(b)].sort(), ['after', 'before', 'during-A1', 'during-A2', 'during-B'])
    assert.deepEqual([...dataOf(a)].sort(), ['after', 'before', 'during-A1', 'during-A2', 'during-B'])
    assert.ok(dataOf(b).indexOf('during-A1') < dataOf(b).indexOf('during-A2'), 'in the order of their origin')
    assert.equal(await A.exit({ closeRedis: true }), 0)
    assert.equal(await B.exit({ closeRedis: true }), 0)
  })

  test('a reconnect older than what the stream keeps: the tail it keeps, then a gap event', { timeout: 20000 }, async (t) => {
    const prefix = uniquePrefix('stream-gap')
    const [A, B] = startNodes(t, ['A', 'B'], { url: redis.url, prefix, history: 5 })
    await Promise.all([A.ready, B.ready])
    const a = await openClient(t, A, 'room=all')
    await A.broadcast(range('g', 400).map((d) => ['*', 'p', d]))
    await a.until('data: g399\n\n')
    const first = streamFrames(a.text).find((f) => f.data === 'g0').id
    const kept = Number(await redis.cli('XLEN', `${prefix}:stream`))
    assert.ok(kept >= 5 && kept < 400, `MAXLEN ~ 5 trims whole nodes: ${kept} kept`)
    const moved = await connect(B.port, '/?room=all', { headers: { 'Last-Event-ID': first } })
    t.after(() => moved.close())
    await moved.until('data: g399\n\n')
    assert.deepEqual(dataOf(moved), range('g', 400).slice(400 - kept), 'the tail the stream keeps, in order')
    assert.ok(moved.text.startsWith('event: hello\ndata: joined\n\n'), 'what was sent at add goes first')
    await waitFor(() => B.gaps.length > 0, 'the gap event')
    const oldest = (await redis.cli('XRANGE', `${prefix}:stream`, '-', '+', 'COUNT', '1')).split('\n')[0]
    assert.deepEqual(B.gaps, [{ lastEventId: first, oldestId: oldest }])
  })

  test('a broadcast the stream holds twice (sent again to a Redis that had lost it) is delivered once', { timeout: 20000 }, async (t) => {
    const prefix = uniquePrefix('stream-copy')
    const [A] = startNodes(t, ['A'], { url: redis.url, prefix, history: 100 })
    await A.ready
    const a = await openClient(t, A, 'room=all')
    const key = `${prefix}:stream`
    const msg = (d) => JSON.stringify({ v: 1, o: 'x', r: 'all', e: 'p', d })
    const ms = Date.now() + 1000
    await redis.cli('XADD', key, `${ms}-1`, 'm', msg('once'))
    // What APPEND does when an explicit id is not above the stream's last: a fresh id,
    // and the first one in field i. Here the first copy was delivered: skipped.
    await redis.cli('XADD', key, '*', 'm', msg('once'), 'i', `${ms}-1`)
    // A broadcast moved to a fresh id whose first id never made it in: delivered.
    await redis.cli('XADD', key, '*', 'm', msg('moved'), 'i', `${ms}-5`)
    await a.until('data: moved\n\n')
    await A.broadcast([['all', 'p', 'still-fine']])
    await a.until('data: still-fine\n\n')
    assert.deepEqual(dataOf(a), ['once', 'moved', 'still-fine'])
    assert.equal(await A.exit({ closeRedis: true }), 0)
  })

  test('foreign and malformed stream entries are skipped and counted', { timeout: 20000 }, async (t) => {
    const prefix = uniquePrefix('stream-junk')
    const [A] = startNodes(t, ['A'], { url: redis.url, prefix, history: 100 })
    await A.ready
    const a = await openClient(t, A, 'room=all')
    await redis.cli('XADD', `${prefix}:stream`, '*', 'm', 'not json')
    await redis.cli('XADD', `${prefix}:stream`, '*', 'other', 'field')
    await redis.cli('XADD', `${prefix}:stream`, '*', 'm', '{"v":1,"o":"x","r":"all","e":"p","d":"from-elsewhere"}')
    await redis.cli('XADD', `${prefix}:stream`, '*', 'm', '{"v":9,"o":"x","r":"all","e":"p","d":"future-format"}')
    await a.until('data: from-elsewhere\n\n')
    await A.broadcast([['all', 'p', 'still-fine']])
    await a.until('data: still-fine\n\n')
    assert.deepEqual(dataOf(a), ['from-elsewhere', 'still-fine'])
    const { redis: stats } = await A.request('stats')
    assert.equal(stats.invalid, 3)
    assert.equal(stats.connected, true)
    // A replay through the stream skips them too.
    const again = await connect(A.port, '/?room=all', { headers: { 'Last-Event-ID': '0-1' } })
    t.after(() => again.close())
    await again.until('data: still-fine\n\n')
    assert.deepEqual(dataOf(again), ['from-elsewhere', 'still-fine'])
    assert.equal(await A.exit({ closeRedis: true }), 0)
  })

  test('replays from the stream are fetched in pages as clients read: 10 stalled replays of 20 MB hold well under one stream, a reader gets it all in order', { timeout: 120000 }, async (t) => {
    const prefix = uniquePrefix('stream-pages')
    const [A] = startNodes(t, ['A'], { url: redis.url, prefix, history: 30000 })
    await A.ready
    await A.request('burst', { room: 'all', count: 20000, size: 1000 })
    while (Number(await redis.cli('XLEN', `${prefix}:stream`)) < 20000) await new Promise((resolve) => setTimeout(resolve, 20))
    // B starts after: its own history has none of it, the replays come from Redis.
    const [B] = startNodes(t, ['B'], { url: redis.url, prefix, history: 30000 })
    await B.ready
    const before = await B.request('memory')
    const sockets = []
    for (let i = 0; i < 10; i++) {
      const socket = net.connect(B.port, '127.0.0.1')
      sockets.push(socket)
      t.after(() => socket.destroy())
      await new Promise((resolve) => socket.once('connect', resolve))
      socket.write('GET /?room=all HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 0-1\r\n\r\n')
      await new Promise((resolve) => socket.once('data', resolve))
      socket.pause()
    }
    let last = null
    let same = 0
    while (same < 5) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      const { bytesSent, history } = await B.request('stats')
      same = bytesSent === last && bytesSent > 10 * 65536 && history.replaying !== 0 ? same + 1 : 0
      last = bytesSent
    }
    const during = await B.request('memory')
    const stats = await B.request('stats')
    const grown = during.external - before.external
    t.diagnostic(`10 stalled stream replays of 20000 x 1 KB: external +${(grown / 2 ** 20).toFixed(1)} MiB, pendingBytes ${stats.pendingBytes}, sent ${(stats.bytesSent / 2 ** 20).toFixed(1)} MiB`)
    assert.ok(grown < 5 * 2 ** 20, `B's external memory grew by ${(grown / 2 ** 20).toFixed(1)} MiB`)
    assert.equal(stats.history.replaying, 10)
    assert.ok(stats.bytesSent < 10 * 20000 * 1000, 'the replays wait for their readers')
    for (const socket of sockets) socket.destroy()
    // A reader gets every entry once, in stream order, then what comes live (a raw
    // socket keeping chunks, decoded once at the end).
    const reader = net.connect(B.port, '127.0.0.1')
    t.after(() => reader.destroy())
    const chunks = []
    let tail = ''
    reader.on('data', (data) => {
      chunks.push(data)
      tail = (tail + data.toString('latin1')).slice(-100)
    })
    await new Promise((resolve) => reader.once('connect', resolve))
    reader.write('GET /?room=all HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 0-1\r\n\r\n')
    // Caught up (no replay left): then one live broadcast.
    do await new Promise((resolve) => setTimeout(resolve, 50))
    while ((await B.request('stats')).history.replaying > 0)
    await B.broadcast([['all', 'b', 'live']])
    while (!tail.includes('data: live\n\n')) await new Promise((resolve) => reader.once('data', resolve))
    const raw = Buffer.concat(chunks).toString('latin1')
    const got = streamFrames(dechunk(raw.slice(raw.indexOf('\r\n\r\n') + 4))).filter((f) => f.id !== null)
    assert.equal(got.length, 20001)
    assert.deepEqual(got.slice(0, -1).map((f) => Number(f.data.slice(0, 7))), Array.from({ length: 20000 }, (_, i) => i))
    for (let i = 1; i < got.length; i++) {
      if (!idBefore(got[i - 1].id, got[i].id)) assert.fail(`ids go back at ${i}: ${got[i - 1].id} then ${got[i].id}`)
    }
    assert.deepEqual(B.gaps, [])
  })
})

describe('the bridge loses nothing on a healthy link', { skip }, () => {
  let redis

  before(async () => {
    redis = await startRedis()
  })

  after(async () => {
    if (redis) await redis.kill()
  })

  for (const history of [0, 30000]) {
    const mode = history ? 'stream' : 'pub/sub'
    test(`${mode}: 20,000 x 64 B broadcasts in one loop all arrive, in order; then a process that exits without closeRedis still publishes`, { timeout: 60000 }, async (t) => {
      const [A, B] = startNodes(t, ['A', 'B'], { url: redis.url, prefix: uniquePrefix(`burst-${history}`), history })
      await Promise.all([A.ready, B.ready])
      const b = await openClient(t, B, 'room=all')
      const N = 20000
      await A.request('burst', { room: 'all', count: N, size: 64 })
      const last = `data: ${String(N - 1).padStart(7, '0')}`
      await b.until((text) => text.includes(last), 30000)
      const got = dataOf(b, 'b')
      assert.equal(got.length, N)
      assert.ok(got.every((d, i) => d.startsWith(String(i).padStart(7, '0'))), 'every one, in order')
      const stats = (await A.request('stats')).redis
      assert.equal(stats.dropped, 0)
      assert.ok(!A.statuses.some((s) => s.status === 'overflow'))

      // 500 broadcasts, then the app leaves without closeRedis: the loop is held until they are out.
      await A.request('pump', { room: 'all', count: 0, prefix: '' })
      await A.broadcast(range('x', 500).map((d) => ['all', 'p', d]))
      assert.equal(await A.exit({ closeRedis: false }), 0)
      await b.until('data: x499\n\n', 10000)
      assert.deepEqual(dataOf(b).filter((d) => d.startsWith('x')), range('x', 500))
    })
  }

  test('while Redis is down the queue is bounded: the oldest are dropped and overflow is reported once', { timeout: 30000 }, async (t) => {
    const own = await startRedis()
    t.after(() => own.kill())
    const statuses = []
    const onRedis = (info) => statuses.push(info)
    sse.on('redis', onRedis)
    t.after(() => sse.off('redis', onRedis))
    await sse.useRedis({ url: own.url, prefix: uniquePrefix('overflow') })
    t.after(() => sse.closeRedis())
    await own.kill()
    await waitFor(() => statuses.some((s) => s.status === 'down'), "'down'")
    for (let i = 0; i < 100010; i++) sse.broadcast('nobody', 'x')
    await waitFor(() => statuses.some((s) => s.status === 'overflow'), "'overflow'")
    const overflow = statuses.filter((s) => s.status === 'overflow')
    assert.equal(overflow.length, 1, 'once per episode')
    assert.ok(overflow[0].dropped >= 1, 'how many were dropped so far')
    assert.match(overflow[0].detail, /queue of broadcasts waiting for Redis is full/)
    const stats = sse.stats().redis
    assert.equal(stats.queued, 100000)
    assert.equal(stats.dropped, 10)
  })

  test('a broadcast too large to share stays local and says so; the link stays up', { timeout: 20000 }, async (t) => {
    const [A, B] = startNodes(t, ['A', 'B'], { url: redis.url, prefix: uniquePrefix('huge') })
    await Promise.all([A.ready, B.ready])
    const a = await openClient(t, A, 'room=all')
    const b = await openClient(t, B, 'room=all')
    const huge = 'h'.repeat(2 << 20)
    await A.broadcast([['all', 'huge', huge], ['all', 'p', 'small']])
    await a.until('data: small\n\n')
    await b.until('data: small\n\n')
    assert.ok(a.text.includes(`data: ${huge}\n\n`), 'delivered locally')
    assert.ok(!b.text.includes('event: huge'), 'not shared')
    await A.untilStatus('too-large')
    const status = A.statuses.find((s) => s.status === 'too-large')
    assert.match(status.detail, /^a broadcast of \d+ bytes was delivered to this process only: over 1048576 bytes/)
    assert.ok(!B.statuses.some((s) => s.status === 'down'), 'no subscriber was cut')
    assert.equal((await A.request('stats')).redis.tooLarge, 1)
  })

  test('authentication failures are reported as such', { timeout: 20000 }, async (t) => {
    const locked = await startRedis(undefined, ['--requirepass', 's3cret'])
    t.after(() => locked.kill())
    await assert.rejects(sse.useRedis(locked.url), (err) => {
      assert.match(err.message, /^cannot connect to Redis at redis:\/\/127\.0\.0\.1:\d+: authentication failed/)
      assert.ok(!err.message.includes('Redis 6'), err.message)
      return true
    })
    await assert.rejects(sse.useRedis(`redis://:wrong@127.0.0.1:${locked.port}`), /authentication failed/)
    const [A] = startNodes(t, ['A'], { url: `redis://:s3cret@127.0.0.1:${locked.port}`, prefix: uniquePrefix('auth') })
    await A.ready
    // The password changes under a running process: 'down', then 'authentication failed'.
    await locked.cli('-a', 's3cret', '--no-auth-warning', 'CONFIG', 'SET', 'requirepass', 'changed')
    await locked.cli('-a', 'changed', '--no-auth-warning', 'CLIENT', 'KILL', 'TYPE', 'pubsub')
    await A.untilStatus('down', 2)
    assert.match(A.statuses[1].detail, /^authentication failed: check the user and password in the URL/)
    await A.kill()
  })
})
