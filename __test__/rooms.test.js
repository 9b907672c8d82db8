'use strict'
// Rooms are exactly their JavaScript values (issue 18): string rooms compare as `===`
// compares them, lone surrogates included, in the registry, join/leave/in, client.rooms,
// stats().rooms, history replays, and across processes through Redis (pub/sub and
// stream); numbers stay apart from strings. And NaN rooms (issue 19, `parseInt` of a
// non-number parameter) are ignored with a warning, never thrown, as simple-sse 0.0.3
// accepted them.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const sse = require('..')
const original = require('simple-sse')
const { listen, connect } = require('./helpers')
const { REDIS_SERVER, startRedis, startNode, uniquePrefix } = require('./fixtures/redis-helpers')

sse.heartbeat = 0

/**
 * Room names that differ only in lone surrogates: high and low, unpaired at the end, at
 * the start and in the middle, next to valid pairs, and U+FFFD itself (what every lone
 * surrogate became when the names were converted to Rust strings).
 */
const ODD = [
  'dm:alice\ud83d', // a lone high surrogate at the end
  'dm:alice\ud83e', // another one: a different room
  'dm:alice\ude00', // a lone low surrogate at the end
  'dm:alice\ufffd', // U+FFFD itself
  'dm:alice', // none
  '\ude00dm:alice', // a lone low surrogate at the start
  'dm:\ud800alice', // a lone high surrogate in the middle
  'dm:\udfffalice', // a lone low surrogate in the middle
  '\ud83d\ude00\ud83d', // a valid pair, then a lone high surrogate
  '\ud83d\ud83d\ude00', // a lone high surrogate, then a valid pair
  '\ude00\ud83d', // a pair the wrong way round: two lone surrogates
  '\ud83d\ude00', // the valid pair alone (U+1F600)
]

/** `sse.stats().rooms` as a Map from room to members. */
const roomStats = () => new Map(sse.stats().rooms.map((r) => [r.room, r.members]))

/** Each client's frames: `[event, data]` pairs, from `id: N\nevent: E\ndata: D\n\n`. */
function pairs(text) {
  const frame = /id: [^\n]*\nevent: ([^\n]*)\ndata: ([^\n]*)\n\n/y
  const out = []
  while (frame.lastIndex < text.length) {
    const at = frame.lastIndex
    const m = frame.exec(text)
    if (m === null) throw new Error(`not a frame at ${at}: ${JSON.stringify(text.slice(at, at + 80))}`)
    out.push([m[1], m[2]])
  }
  return out
}

/**
 * A server whose clients join `ODD[?i=N]`; `open(path)` resolves with [raw, client].
 * With `&framed`, the client is on the framed path (JS writes Rust's chunks: an own
 * `close` on the socket's handle keeps Rust from writing the socket itself), else direct.
 */
async function oddServer(t) {
  const added = []
  /** client -> the peer's port (read before `add`: a detached client's socket is gone). */
  const ports = new WeakMap()
  const srv = await listen((req, res) => {
    const query = new URL(req.url, 'http://x').searchParams
    if (query.has('framed')) req.socket._handle.close = req.socket._handle.close
    const port = req.socket.remotePort
    const client = sse.add(req, res)
    ports.set(client, port)
    added.push(client)
    const i = query.get('i')
    if (i !== null) assert.equal(sse.join(client, ODD[Number(i)]), true)
  })
  t.after(async () => {
    for (const client of added) sse.remove(client)
    await srv.close()
  })
  return {
    ...srv,
    async open(path, options) {
      const raw = await connect(srv.port, path, options)
      const client = added.find((c) => ports.get(c) === raw.socket.localPort)
      if (!client) throw new Error('the server did not add the client')
      return [raw, client]
    },
  }
}

test('rooms that differ only in a lone surrogate are different rooms', async (t) => {
  const srv = await oddServer(t)
  const opened = []
  for (let i = 0; i < ODD.length; i++) opened.push(await srv.open(`/?i=${i}${i % 2 ? '&framed' : ''}`))
  const clients = opened.map(([, client]) => client)

  // in(): true exactly for the client's own room, by ===.
  for (const [i, client] of clients.entries()) {
    for (const [j, room] of ODD.entries()) assert.equal(sse.in(client, room), i === j, `in(client of ${i}, ODD[${j}])`)
    assert.equal(sse.join(client, ODD[i]), false, 'already in')
    // The name comes back exactly: the same UTF-16 string, lone surrogates intact.
    assert.equal(client.rooms.length, 1)
    assert.equal(client.rooms[0], ODD[i])
  }
  // A pair is its code point: the same room whichever way the string was written.
  assert.equal(sse.in(clients[11], '\u{1F600}'), true)
  // stats(): one room per name, each with its one member, each name exact.
  const stats = roomStats()
  assert.equal(stats.size, ODD.length)
  for (const room of ODD) assert.equal(stats.get(room), 1, JSON.stringify(room))

  // broadcast(): each reaches its own room's member only.
  for (const [i, room] of ODD.entries()) sse.broadcast(room, 'to', String(i))
  sse.broadcast('*', 'end', 'all')
  for (const [i, [raw]] of opened.entries()) {
    await raw.until('event: end\ndata: all\n\n')
    assert.deepEqual(pairs(raw.text), [['to', String(i)], ['end', 'all']], `client of ODD[${i}]`)
  }

  // leave() of a name that differs in a lone surrogate leaves nothing; its own name does.
  sse.leave(clients[0], ODD[1])
  sse.leave(clients[0], ODD[3])
  assert.deepEqual(clients[0].rooms, [ODD[0]])
  sse.leave(clients[0], ODD[0])
  assert.deepEqual(clients[0].rooms, [])
  assert.equal(roomStats().has(ODD[0]), false)
  assert.equal(roomStats().get(ODD[1]), 1)

  // client.rooms = [...]: every odd name at once, in order, each kept.
  clients[1].rooms = ODD
  assert.deepEqual(clients[1].rooms, ODD)
  for (const room of ODD) assert.equal(sse.in(clients[1], room), true)
  // Numbers are not strings: 1 is not '1', and -0 is 0.
  sse.join(clients[2], 1)
  assert.equal(sse.in(clients[2], '1'), false)
  assert.equal(sse.in(clients[2], 1), true)
  sse.join(clients[2], -0)
  assert.equal(sse.in(clients[2], 0), true)
})

test('long names (read into a stack buffer up to 128 bytes, else the heap) come back exactly', async (t) => {
  const srv = await oddServer(t)
  const [raw, client] = await srv.open('/?framed')
  const names = []
  for (const length of [1, 42, 126, 127, 128, 129, 130, 1000, 100000]) {
    const base = 'r'.repeat(length)
    names.push(base, `${base}\ud83d`, `\ude00${base}`, `${base.slice(0, -1)}é`, `${base}\ufffd`)
  }
  names.push('\ud83d'.repeat(50), '\ud83d'.repeat(43), '\ud83d\ude00'.repeat(64), 'é'.repeat(64))
  const distinct = [...new Set(names)]
  for (const name of distinct) assert.equal(sse.join(client, name), true, `join ${name.length}`)
  for (const name of distinct) assert.equal(sse.join(client, name), false, `join again ${name.length}`)
  assert.equal(client.rooms.length, distinct.length)
  client.rooms.forEach((room, i) => assert.equal(room, distinct[i], `room ${i}`))
  for (const name of distinct) assert.equal(sse.in(client, name), true)
  const stats = roomStats()
  assert.equal(stats.size, distinct.length)
  for (const name of distinct) assert.equal(stats.get(name), 1, `stats() of a name of ${name.length}`)
  assert.equal(sse.in(client, '\ud83d'.repeat(49)), false)
  assert.equal(sse.in(client, `${'r'.repeat(128)}\ud83e`), false)
  sse.broadcast(`${'r'.repeat(129)}\ud83d`, 'long', 'yes')
  sse.broadcast(`${'r'.repeat(129)}\ud83e`, 'long', 'no')
  sse.send(client, 'end', 'x')
  await raw.until('event: end\n')
  assert.deepEqual(pairs(raw.text), [['long', 'yes'], ['end', 'x']])
})

test('a broadcast to a lone-surrogate room reaches 0.0.3\'s members exactly (same === rule)', async (t) => {
  // The original keeps rooms in an array and compares with ===: run the same joins on
  // both and compare who each broadcast reaches.
  const fake = () => {
    const res = { writes: [], writeHead() {}, write(s) { this.writes.push(s) } }
    return { req: { socket: { setTimeout() {} }, connection: { addListener() {} }, headers: {} }, res }
  }
  const clientsOf = (lib) => ODD.map((room) => {
    const { req, res } = fake()
    const client = lib.add(req, res)
    lib.join(client, room)
    return client
  })
  const ours = clientsOf(sse)
  const theirs = clientsOf(original)
  t.after(() => {
    for (const client of ours) sse.remove(client)
    for (const client of theirs) original.remove(client)
  })
  const reached = (clients) => clients.map((c) => c.res.writes.join('').includes('data: probe'))
  for (const room of [...ODD, 'dm:alice\ud83d\ude00', '\ud83d']) {
    for (const c of [...ours, ...theirs]) c.res.writes.length = 0
    sse.broadcast(room, 'probe')
    original.broadcast(room, 'probe')
    assert.deepEqual(reached(ours), reached(theirs), JSON.stringify(room))
    for (const [i, c] of ours.entries()) assert.equal(sse.in(c, room), original.in(theirs[i], room))
  }
})

test('history replays keep lone-surrogate rooms apart', async (t) => {
  sse.history = 100
  t.after(() => {
    sse.history = 0
  })
  const srv = await oddServer(t)
  const [watch] = await srv.open('/?i=0')
  sse.broadcast('*', 'start', 'x')
  await watch.until('event: start\n')
  const last = /id: ([^\n]+)\nevent: start/.exec(watch.text)[1]
  for (const [i, room] of ODD.entries()) sse.broadcast(room, 'to', String(i))
  sse.broadcast('*', 'end', 'all')
  await watch.until('event: end\n')
  // Reconnections with Last-Event-ID, each into one room: each is sent again only its own.
  for (const i of [0, 1, 3, 5, 6, 8]) {
    const [raw] = await srv.open(`/?i=${i}${i % 2 ? '&framed' : ''}`, { headers: { 'Last-Event-ID': last } })
    t.after(() => raw.close())
    await raw.until('event: end\ndata: all\n\n')
    assert.deepEqual(pairs(raw.text), [['to', String(i)], ['end', 'all']], `replay for ODD[${i}]`)
  }
})

describe('NaN rooms are ignored with a warning, never thrown (issue 19)', () => {
  test("the README pattern join(client, parseInt(req.params.room)) with /stream/abc keeps the stream", async (t) => {
    const warnings = []
    const onWarning = (w) => warnings.push(w)
    process.on('warning', onWarning)
    t.after(() => process.off('warning', onWarning))
    const results = []
    const srv = await listen((req, res) => {
      const client = sse.add(req, res)
      sse.setRetry(client, 3000)
      const room = parseInt(req.url.split('/').pop(), 10)
      results.push(sse.join(client, room), sse.in(client, room))
      sse.send(client, 'ready', 'yes')
    })
    t.after(() => srv.close())
    const raw = await connect(srv.port, '/stream/abc')
    await raw.until('event: ready\n')
    const client = sse.clients.at(-1)
    t.after(() => sse.remove(client))
    // 0.0.3 pushed NaN on every join (true) and found it in no room (false).
    assert.deepEqual(results, [true, false])
    assert.equal(raw.text, `id: ${client.id}\nretry: 3000\n\nid: ${client.id}\nevent: ready\ndata: yes\n\n`)
    assert.deepEqual(client.rooms, [])
    assert.deepEqual(sse.stats().rooms, [])

    sse.join(client, 'kept')
    sse.join(client, 5)
    assert.equal(sse.broadcast(NaN, 'nan', 'nobody'), undefined)
    assert.equal(sse.in(client, NaN), false)
    assert.equal(sse.join(client, NaN), true, 'every time, as in 0.0.3')
    client.rooms = [NaN, 'a', NaN, 7]
    assert.deepEqual(client.rooms, ['a', 7])
    // 0.0.3's leave(client, NaN) left every room (`!room`).
    sse.leave(client, NaN)
    assert.deepEqual(client.rooms, [])
    sse.broadcast('*', 'end', 'x')
    await raw.until('event: end\n')
    assert.ok(!raw.text.includes('nobody'))
    // Unknown ids still throw, as in 0.0.3.
    assert.throws(() => sse.join(2 ** 31, NaN), /does not exist/)
    const nan = warnings.filter((w) => w.code === 'SIMPLE_SSE_RS_NAN_ROOM')
    assert.equal(nan.length, 1, 'warned once per process')
    assert.match(nan[0].message, /NaN/)
    assert.match(nan[0].message, /parseInt/)
  })

  test('0.0.3 accepted the same calls: the same results', () => {
    const res = { write() {}, writeHead() {} }
    const req = { socket: { setTimeout() {} }, connection: { addListener() {} } }
    const theirs = original.add(req, res)
    try {
      original.join(theirs, 'kept')
      assert.equal(original.join(theirs, NaN), true)
      assert.equal(original.join(theirs, NaN), true)
      assert.equal(original.in(theirs, NaN), false)
      original.leave(theirs, NaN)
      assert.deepEqual(theirs.rooms, [])
    } finally {
      original.remove(theirs)
    }
  })
})

const skipRedis =
  sse.binding === 'wasm32-wasi'
    ? 'the WASI build has no Redis'
    : REDIS_SERVER === null && !process.env.CI
      ? 'redis-server not found: apt-get install redis-server (never skipped when CI is set)'
      : false

describe('lone-surrogate rooms across processes through Redis', { skip: skipRedis }, () => {
  let redis
  before(async () => {
    redis = await startRedis()
  })
  after(async () => {
    if (redis) await redis.kill()
  })

  /** Two child processes, A and B; every ODD room has a member on each. */
  async function twoProcesses(t, options) {
    const nodes = [startNode(options), startNode(options)]
    t.after(() => Promise.all(nodes.map((node) => node.kill())))
    await Promise.all(nodes.map((node) => node.ready))
    const members = []
    for (const node of nodes) {
      const row = []
      for (const room of ODD) {
        const raw = await connect(node.port, `/?jroom=${encodeURIComponent(JSON.stringify(room))}`)
        t.after(() => raw.close())
        await raw.until('event: hello\ndata: joined\n\n')
        row.push(raw)
      }
      members.push(row)
    }
    return { nodes, members }
  }

  /**
   * What a member of ODD[i] must get: from each process n, `to n:i` then `end n`. Only
   * each process's own broadcasts keep their order (a process delivers its own at once,
   * the other's after the trip through Redis).
   */
  function assertOwn(frames, i, what) {
    assert.equal(frames.length, 4, `${what}: ${JSON.stringify(frames)}`)
    for (const n of [0, 1]) {
      const mine = frames.filter(([event, data]) => data.startsWith(`${n}:`) || (event === 'end' && data === String(n)))
      assert.deepEqual(mine, [['to', `${n}:${i}`], ['end', String(n)]], what)
    }
  }

  const bothEnded = (text) => text.includes('event: end\ndata: 0\n\n') && text.includes('event: end\ndata: 1\n\n')

  /** Each process broadcasts to every ODD room, then `end`: every member gets its room's only. */
  async function assertApart(nodes, members, strip) {
    await Promise.all(nodes.map((node, n) => node.broadcast([...ODD.map((room, i) => [room, 'to', `${n}:${i}`]), ['*', 'end', String(n)]])))
    for (const [n, row] of members.entries()) {
      for (const [i, raw] of row.entries()) {
        await raw.until(bothEnded, 10000)
        const [hello, ...frames] = pairs(strip(raw.text))
        assert.deepEqual(hello, ['hello', 'joined'])
        assertOwn(frames, i, `process ${n}, ODD[${i}]`)
      }
    }
  }

  test('pub/sub: two processes deliver each odd room to its own members only', { timeout: 30000 }, async (t) => {
    const { nodes, members } = await twoProcesses(t, { url: redis.url, prefix: uniquePrefix('odd-pubsub') })
    await assertApart(nodes, members, (text) => text)
    const stats = await nodes[1].request('stats')
    assert.equal(stats.redis.mode, 'pubsub')
    assert.equal(stats.rooms.length, ODD.length)
  })

  test('stream: the same, and a reconnecting client is sent again only its own room', { timeout: 30000 }, async (t) => {
    const { nodes, members } = await twoProcesses(t, { url: redis.url, prefix: uniquePrefix('odd-stream'), history: 1000 })
    assert.equal((await nodes[0].request('stats')).redis.mode, 'stream')
    // With history, frames carry event ids and `send` frames none: make them all look alike.
    const strip = (text) => text.replace(/(^|\n\n)event: /g, '$1id: -\nevent: ')
    await nodes[0].broadcast([['*', 'start', 'x']])
    await members[1][0].until('event: start\n')
    const last = /id: ([^\n]+)\nevent: start/.exec(members[1][0].text)[1]
    await assertApart(nodes, members, (text) => strip(text.replace(/id: [^\n]*\nevent: start\ndata: x\n\n/, '')))
    // Reconnect to B into ODD[i] after `last`: the stream replay filters by the exact room.
    for (const i of [0, 1, 3, 6]) {
      const raw = await connect(nodes[1].port, `/?jroom=${encodeURIComponent(JSON.stringify(ODD[i]))}`, { headers: { 'Last-Event-ID': last } })
      t.after(() => raw.close())
      await raw.until((text) => bothEnded(text) && text.includes('event: hello\n'), 10000)
      assertOwn(pairs(strip(raw.text)).filter((p) => p[0] !== 'hello'), i, `replay for ODD[${i}]`)
    }
  })
})

after(() => {
  // The original's heartbeat interval keeps the process alive until its last client goes.
  for (const client of Array.from(original.clients)) original.remove(client)
})
