'use strict'
// The simple-sse 0.0.3 API against real node:http servers and raw-socket clients:
// the client registry, rooms, and the exact bytes of every frame.
// Ids are process-wide, so the first test must be the first to add clients.

const test = require('node:test')
const assert = require('node:assert/strict')
const { listen, connect } = require('./helpers')
const { sse, gone, serve, expectBody, mark, markFrame, ATTACHED } = require('./api-support')

const initialClients = sse.clients

/** The expected bytes of one event (data split on `\n` only: tests pass plain data). */
function frame(id, event, data) {
  const eventLine = event === null ? '' : `event: ${event}\n`
  const dataLines = data
    .split('\n')
    .map((line) => `data: ${line}\n`)
    .join('')
  return `id: ${id}\n${eventLine}${dataLines}\n`
}

/** `sse.stats().rooms` in a stable order (the Rust index has none). */
function roomStats() {
  const key = (r) => `${typeof r.room}:${r.room}`
  return sse.stats().rooms.sort((a, b) => (key(a) < key(b) ? -1 : 1))
}

/** Asserts `fn` throws an Error whose message names `id`. */
function throwsNaming(fn, id) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof Error)
    assert.match(err.message, new RegExp(`\\b${id}\\b`))
    return true
  })
}

test('add returns {id, rooms, res} with ids 0, 1, 2 in add order, and sends the SSE headers', async (t) => {
  const responses = []
  const socketTimeouts = []
  const srv = await serve(t, (client, req, res) => {
    responses.push(res)
    socketTimeouts.push(req.socket.timeout)
  })
  const opened = []
  for (let i = 0; i < 3; i++) opened.push(await srv.open())
  const clients = opened.map(([, client]) => client)

  assert.deepEqual(
    clients.map((c) => c.id),
    [0, 1, 2],
  )
  clients.forEach((client, i) => {
    assert.deepEqual(Object.keys(client), ['id', 'rooms', 'res'])
    assert.deepEqual(client.rooms, [])
    // Detached (SIMPLE_SSE_RS_DETACH=1): Rust owns the connection, Node's response is released.
    assert.equal(client.res, client.detached ? null : responses[i])
  })
  // The same array as before any add, holding the very objects add returned.
  assert.equal(sse.clients, initialClients)
  assert.equal(sse.clients.length, 3)
  clients.forEach((client, i) => assert.equal(sse.clients[i], client))

  assert.equal(sse.getClient(1), clients[1])
  assert.equal(sse.getClient('1'), null)
  assert.equal(sse.getClient(3), null)

  for (const [raw] of opened) {
    assert.equal(raw.status, 200)
    assert.equal(raw.headers['content-type'], 'text/event-stream')
    assert.equal(raw.headers['cache-control'], 'no-cache')
    assert.equal(raw.headers.connection, 'keep-alive')
    assert.equal(raw.text, '', 'add writes no body bytes')
  }
  // The socket never times out: no timeout armed (the original armed one of ~24.8 days).
  assert.deepEqual(socketTimeouts.map((ms) => !(ms > 0)), [true, true, true])
})

test('add turns off a socket timeout the server armed', async (t) => {
  const timeouts = []
  const srv = await serve(t, (client, req) => timeouts.push(req.socket.timeout))
  srv.server.timeout = 50
  srv.server.prependListener('request', (req) => assert.equal(req.socket.timeout, 50))
  const [raw, client] = await srv.open()
  assert.deepEqual(timeouts, [0])
  // Still connected well after the server's timeout.
  await new Promise((resolve) => setTimeout(resolve, 150))
  sse.send(client, 'alive')
  await raw.until('data: alive\n\n')
  assert.equal(raw.ended, false)
})

test('a disconnect removes the client from sse.clients and from its rooms', async (t) => {
  const srv = await serve(t)
  const [rawA, a] = await srv.open()
  const [, b] = await srv.open()
  const [, c] = await srv.open()
  assert.ok(a.id < b.id && b.id < c.id, 'ids grow in add order')
  sse.join(a, 'r')
  sse.join(b, 'r')
  sse.join(a, 'solo')
  sse.join(c, 7)
  assert.deepEqual(roomStats(), [
    { room: 7, members: 1 },
    { room: 'r', members: 2 },
    { room: 'solo', members: 1 },
  ])

  const removed = gone(a)
  rawA.close()
  await removed

  assert.equal(sse.clients, initialClients)
  assert.equal(sse.clients.length, 2)
  assert.equal(sse.clients[0], b)
  assert.equal(sse.clients[1], c)
  assert.equal(sse.getClient(a.id), null)
  assert.equal(sse.stats().clients, 2)
  assert.deepEqual(roomStats(), [
    { room: 7, members: 1 },
    { room: 'r', members: 1 },
  ])
})

test('client.rooms lists rooms in join order and follows later joins and leaves', async (t) => {
  const srv = await serve(t)
  const [, c] = await srv.open()
  sse.join(c, 'b')
  sse.join(c, 'a')
  sse.join(c, 3)
  assert.deepEqual(c.rooms, ['b', 'a', 3])
  sse.leave(c, 'a')
  assert.deepEqual(c.rooms, ['b', 3])
  sse.join(c, 'a')
  assert.deepEqual(c.rooms, ['b', 3, 'a'])
  assert.deepEqual(sse.getClient(c.id).rooms, ['b', 3, 'a'])
})

test('remove forgets a client but keeps its connection open; unknown ids return false', async (t) => {
  // about the attached response (the app's own res.write after remove): stays attached under SIMPLE_SSE_RS_DETACH
  const srv = await serve(t, undefined, ATTACHED)
  const [rawA, a] = await srv.open()
  const [, b] = await srv.open()
  sse.join(a, 'r')

  assert.equal(sse.remove(a), true)
  assert.equal(sse.remove(a), false)
  assert.equal(sse.remove(a.id), false)
  assert.equal(sse.remove(b.id), true)
  assert.equal(sse.remove(4242), false)
  assert.equal(sse.clients.length, 0)
  assert.deepEqual(sse.stats().rooms, [])

  sse.broadcast('*', 'after remove') // reaches nobody
  a.res.write('still open')
  await expectBody(rawA, 'still open')
})

test('every function takes the client object or its numeric id', async (t) => {
  const srv = await serve(t)
  const [raw, c] = await srv.open()
  assert.equal(sse.join(c.id, 'r'), true)
  assert.equal(sse.join(c, 'r'), false)
  assert.equal(sse.in(c.id, 'r'), true)
  sse.send(c.id, 'ev', 'by id')
  sse.send(c, 'ev', 'by object')
  sse.setRetry(c.id, 10)
  sse.leave(c.id, 'r')
  assert.equal(sse.in(c, 'r'), false)
  await expectBody(
    raw,
    frame(c.id, 'ev', 'by id') + frame(c.id, 'ev', 'by object') + `id: ${c.id}\nretry: 10\n\n`,
  )
  assert.equal(sse.remove(c.id), true)
})

test('an unknown numeric id throws an Error naming the id; remove returns false', async (t) => {
  const id = 4242
  throwsNaming(() => sse.join(id, 'r'), id)
  throwsNaming(() => sse.leave(id, 'r'), id)
  throwsNaming(() => sse.leave(id), id)
  throwsNaming(() => sse.in(id, 'r'), id)
  throwsNaming(() => sse.in(id, '*'), id)
  throwsNaming(() => sse.send(id, 'x'), id)
  throwsNaming(() => sse.send(id, 'ev', 'x'), id)
  throwsNaming(() => sse.setRetry(id, 10), id)
  assert.equal(sse.remove(id), false)

  // The id of a client that has gone is unknown too.
  const srv = await serve(t)
  const [raw, c] = await srv.open()
  const removed = gone(c)
  raw.close()
  await removed
  throwsNaming(() => sse.send(c.id, 'x'), c.id)
  assert.equal(sse.remove(c.id), false)
})

test('a removed client object is a no-op for send, join, leave, in and setRetry', async (t) => {
  const srv = await serve(t)
  const [raw, c] = await srv.open()
  sse.remove(c)
  sse.send(c, 'x')
  sse.setRetry(c, 10)
  sse.leave(c)
  assert.equal(sse.join(c, 'r'), false)
  assert.equal(sse.in(c, 'r'), false)
  assert.deepEqual(sse.stats().rooms, [])
  if (c.detached) {
    // Nothing but Rust holds a detached connection: remove ended the stream, with nothing in it.
    await raw.closed()
    assert.equal(raw.text, '')
    return
  }
  c.res.write('direct')
  await expectBody(raw, 'direct')
})

test('rooms: join once, "*" is every room, leave one or all, strict comparison', async (t) => {
  const srv = await serve(t)
  const [, c] = await srv.open()
  assert.equal(sse.in(c, '*'), true, '"*" holds a client in no room')
  assert.equal(sse.join(c, 'r'), true)
  assert.equal(sse.join(c, 'r'), false)
  assert.equal(sse.join(c, '*'), false)
  assert.deepEqual(c.rooms, ['r'])

  assert.equal(sse.join(c, 1), true)
  assert.equal(sse.in(c, 1), true)
  assert.equal(sse.in(c, '1'), false)
  assert.equal(sse.join(c, '1'), true)
  assert.deepEqual(c.rooms, ['r', 1, '1'])
  sse.leave(c, 1)
  assert.deepEqual(c.rooms, ['r', '1'])
  assert.equal(sse.in(c, 1), false)
  assert.equal(sse.in(c, '1'), true)
  sse.leave(c, 'not joined')
  assert.deepEqual(c.rooms, ['r', '1'])

  for (const leaveAll of [(x) => sse.leave(x), (x) => sse.leave(x, '*'), (x) => sse.leave(x, null)]) {
    sse.join(c, 'a')
    sse.join(c, 2)
    leaveAll(c)
    assert.deepEqual(c.rooms, [])
    assert.deepEqual(sse.stats().rooms, [])
    assert.equal(sse.in(c, '*'), true)
  }
})

test('rooms: null/undefined/NaN are ignored; other non-string, non-number rooms are TypeErrors', async (t) => {
  const srv = await serve(t)
  const [raw, c] = await srv.open()
  sse.join(c, 'kept')
  for (const room of [null, undefined]) {
    assert.equal(sse.join(c, room), false)
    assert.equal(sse.in(c, room), false)
    sse.broadcast(room, 'x')
  }
  c.rooms = [null, 'kept', undefined]
  assert.deepEqual(c.rooms, ['kept'])
  for (const room of [{}, [], true, () => {}, Symbol('r')]) {
    assert.throws(() => sse.join(c, room), TypeError)
    assert.throws(() => sse.in(c, room), TypeError)
  }
  for (const room of [{}, [], true, () => {}]) {
    assert.throws(() => sse.leave(c, room), TypeError)
    assert.throws(() => sse.broadcast(room, 'x'), TypeError)
  }
  // NaN (parseInt of a non-number): ignored, as it matched nothing in 0.0.3; join returns
  // true as 0.0.3's did; leave(c, NaN) leaves every room, as 0.0.3's `!room` did.
  assert.equal(sse.join(c, NaN), true)
  assert.equal(sse.in(c, NaN), false)
  sse.broadcast(NaN, 'x')
  assert.deepEqual(c.rooms, ['kept'])
  sse.leave(c, NaN)
  assert.deepEqual(c.rooms, [])
  sse.join(c, 'kept')
  assert.deepEqual(c.rooms, ['kept'])
  assert.deepEqual(sse.stats().rooms, [{ room: 'kept', members: 1 }])
  // None of the broadcasts above reached the client.
  mark(c)
  await expectBody(raw, markFrame(c.id))
})

test('send writes the exact frames of the original', async (t) => {
  const srv = await serve(t)
  const [raw, c] = await srv.open()
  sse.send(c, 'ev', 'a\nb')
  sse.send(c, 'plain')
  sse.send(c, null, 'no event')
  await expectBody(
    raw,
    `id: ${c.id}\nevent: ev\ndata: a\ndata: b\n\n` +
      `id: ${c.id}\ndata: plain\n\n` +
      `id: ${c.id}\ndata: no event\n\n`,
  )
})

test('send(client) and broadcast(room) without data write nothing', async (t) => {
  const srv = await serve(t)
  const [raw, c] = await srv.open()
  sse.send(c)
  sse.send(c.id)
  sse.broadcast('*')
  mark(c)
  await expectBody(raw, markFrame(c.id))
})

test('data: objects and null as JSON, numbers and booleans as text', async (t) => {
  const srv = await serve(t)
  const [raw, c] = await srv.open()
  sse.send(c, { a: 1, b: ['x\ny'] })
  sse.send(c, 'ev', [1, 2])
  sse.send(c, 42)
  sse.send(c, 'ev', 1.5)
  sse.send(c, true)
  sse.send(c, 'ev', false)
  sse.send(c, null)
  sse.send(c, 'ev', null)
  const id = c.id
  await expectBody(
    raw,
    `id: ${id}\ndata: {"a":1,"b":["x\\ny"]}\n\n` +
      `id: ${id}\nevent: ev\ndata: [1,2]\n\n` +
      `id: ${id}\ndata: 42\n\n` +
      `id: ${id}\nevent: ev\ndata: 1.5\n\n` +
      `id: ${id}\ndata: true\n\n` +
      `id: ${id}\nevent: ev\ndata: false\n\n` +
      `id: ${id}\ndata: null\n\n` +
      `id: ${id}\nevent: ev\ndata: null\n\n`,
  )
})

test('data: \\r\\n and \\r split lines like \\n; empty lines are kept', async (t) => {
  const srv = await serve(t)
  const [raw, c] = await srv.open()
  sse.send(c, 'a\r\nb\rc\nd')
  sse.send(c, '')
  sse.send(c, 'x\n')
  const id = c.id
  await expectBody(
    raw,
    `id: ${id}\ndata: a\ndata: b\ndata: c\ndata: d\n\n` +
      `id: ${id}\ndata: \n\n` +
      `id: ${id}\ndata: x\ndata: \n\n`,
  )
})

test('an event name with \\r or \\n is a TypeError and writes nothing', async (t) => {
  const srv = await serve(t)
  const [raw, c] = await srv.open()
  for (const event of ['a\nid: 9', 'a\rb', 'a\r\nb', '\n']) {
    assert.throws(() => sse.send(c, event, 'x'), TypeError)
    assert.throws(() => sse.broadcast('*', event, 'x'), TypeError)
  }
  mark(c)
  await expectBody(raw, markFrame(c.id))
})

test('setRetry writes id and retry lines', async (t) => {
  const srv = await serve(t)
  const [raw, c] = await srv.open()
  sse.setRetry(c, 3000)
  await expectBody(raw, `id: ${c.id}\nretry: 3000\n\n`)
})

test('broadcast reaches each member of the room exactly once; "*" reaches everyone', async (t) => {
  const srv = await serve(t)
  const [rawA, a] = await srv.open()
  const [rawB, b] = await srv.open()
  const [rawC, c] = await srv.open()
  sse.join(a, 'r')
  sse.join(a, 'x')
  sse.join(b, 'x')
  sse.join(a, 1)
  sse.join(b, '1')

  sse.broadcast('r', 'ev', 'R')
  sse.broadcast('x', 'X')
  sse.broadcast(1, 'number one')
  sse.broadcast('1', 'string one')
  sse.broadcast('nobody', 'lost')
  sse.broadcast('*', 'all', { to: 'all' })
  for (const client of [a, b, c]) mark(client)

  const all = (id) => frame(id, 'all', '{"to":"all"}')
  await expectBody(
    rawA,
    frame(a.id, 'ev', 'R') + frame(a.id, null, 'X') + frame(a.id, null, 'number one') + all(a.id) + markFrame(a.id),
  )
  await expectBody(rawB, frame(b.id, null, 'X') + frame(b.id, null, 'string one') + all(b.id) + markFrame(b.id))
  await expectBody(rawC, all(c.id) + markFrame(c.id))
})

test('everything sent in one tick arrives in one HTTP chunk, in order', async (t) => {
  const srv = await serve(t)
  const [rawA, a] = await srv.open()
  const [rawB, b] = await srv.open()
  sse.send(a, 'one')
  sse.send(a, 'ev', 'two')
  sse.setRetry(a, 5)
  sse.broadcast('*', 'three')
  sse.send(b, 'only b')
  for (const client of [a, b]) mark(client)

  const bodyA =
    frame(a.id, null, 'one') +
    frame(a.id, 'ev', 'two') +
    `id: ${a.id}\nretry: 5\n\n` +
    frame(a.id, null, 'three') +
    markFrame(a.id)
  const bodyB = frame(b.id, null, 'three') + frame(b.id, null, 'only b') + markFrame(b.id)
  await expectBody(rawA, bodyA)
  await expectBody(rawB, bodyB)
  assert.deepEqual(
    rawA.chunks.map((chunk) => chunk.toString()),
    [bodyA],
  )
  assert.deepEqual(
    rawB.chunks.map((chunk) => chunk.toString()),
    [bodyB],
  )

  // A later tick is a new chunk: the count above measures writes.
  mark(a)
  await expectBody(rawA, bodyA + markFrame(a.id))
  assert.equal(rawA.chunks.length, 2)
})

test('frames queued before a direct res.write or res.end go out first', async (t) => {
  // about the attached response (the app's own res.write and res.end): stays attached under SIMPLE_SSE_RS_DETACH
  const srv = await serve(t, undefined, ATTACHED)
  const [raw, c] = await srv.open()
  sse.send(c, 'x')
  c.res.write('direct\n')
  const first = frame(c.id, null, 'x') + 'direct\n'
  await expectBody(raw, first)

  sse.send(c, 'y')
  c.res.end('bye\n')
  assert.equal(sse.getClient(c.id), null, 'an ended response is removed')
  // The terminating chunk (the socket itself stays open for keep-alive).
  await raw.until(() => raw.ended)
  assert.equal(raw.text, first + frame(c.id, null, 'y') + 'bye\n')
})

test('res.flush() set before add is called after each write', async (t) => {
  // add() keeps the res.write it finds, so this spy sees the batches.
  const log = []
  const added = []
  const srv = await listen((req, res) => {
    const write = res.write
    res.write = function spyWrite(chunk) {
      log.push(`write ${chunk}`)
      return write.apply(this, arguments)
    }
    res.flush = () => log.push('flush')
    added.push(sse.add(req, res))
  })
  t.after(async () => {
    const left = added.map(gone)
    await srv.close()
    await Promise.all(left)
  })
  const raw = await connect(srv.port)
  const [c] = added

  sse.send(c, 'a')
  sse.send(c, 'b')
  const body = frame(c.id, null, 'a') + frame(c.id, null, 'b')
  await expectBody(raw, body)
  assert.deepEqual(log, [`write ${body}`, 'flush'])

  log.length = 0
  sse.sendHeartbeat()
  await expectBody(raw, body + ':heartbeat signal\n\n')
  assert.deepEqual(log, ['write :heartbeat signal\n\n', 'flush'])
})

test(
  'res.flush() assigned after add is called after each write (responses written through res.write)',
  async (t) => {
    // A plain response is written by Rust straight to its socket from add() on, where
    // nothing buffers; a response whose write was wrapped before add (as middleware
    // does) is written through res.write, and res.flush is looked up on every write.
    const flushes = []
    const srv = await serve(t, (client, req, res) => {
      res.flush = () => flushes.push(client.id)
    })
    srv.server.prependListener('request', (req, res) => {
      const write = res.write
      res.write = function (...args) {
        return write.apply(this, args)
      }
    })
    const [raw, c] = await srv.open()
    sse.send(c, 'a')
    sse.send(c, 'b')
    await expectBody(raw, frame(c.id, null, 'a') + frame(c.id, null, 'b'))
    assert.deepEqual(flushes, [c.id])
    sse.sendHeartbeat()
    await raw.until((text) => text.endsWith(':heartbeat signal\n\n'))
    assert.deepEqual(flushes, [c.id, c.id])
  },
)

test('large broadcasts (shared, not copied per client) keep exact bytes and order', async (t) => {
  // A plain response (written straight to its socket) and one whose write was wrapped
  // before add(), as middleware does (written through res.write).
  const added = []
  const srv = await listen((req, res) => {
    if (req.url === '/wrapped') {
      const write = res.write
      res.write = function (...args) {
        return write.apply(this, args)
      }
    }
    added.push(sse.add(req, res))
  })
  const rawA = await connect(srv.port, '/')
  const rawB = await connect(srv.port, '/wrapped')
  const [a, b] = added
  t.after(async () => {
    await srv.close()
    await Promise.all(added.map(gone))
  })
  const big = 'b'.repeat(5000)
  const huge = 'h\n'.repeat(40000)

  // One turn with only a large body each; then one where more follows it for a client.
  sse.broadcast('*', 'big', big)
  await expectBody(rawA, frame(a.id, 'big', big))
  await expectBody(rawB, frame(b.id, 'big', big))
  sse.broadcast('*', huge)
  sse.send(a, 'after')
  sse.broadcast('*', 'big', big)
  for (const client of [a, b]) mark(client)
  const hugeFrame = (id) => frame(id, null, huge)
  await expectBody(
    rawA,
    frame(a.id, 'big', big) + hugeFrame(a.id) + frame(a.id, null, 'after') + frame(a.id, 'big', big) + markFrame(a.id),
  )
  await expectBody(rawB, frame(b.id, 'big', big) + hugeFrame(b.id) + frame(b.id, 'big', big) + markFrame(b.id))
  // One chunk per client per turn, and one more where a turn passed 64 KiB (`huge`):
  // what piles up in one turn is written out as it accumulates. For the direct client a
  // writer thread writes that early part while the turn goes on (src/deferred.rs), so
  // what the turn queues for it after the write began may take one chunk more.
  assert.equal(rawB.chunks.length, 3, 'one HTTP chunk per turn (plus one past 64 KiB)')
  assert.ok(
    rawA.chunks.length === 3 || rawA.chunks.length === 4,
    `one HTTP chunk per turn, plus one past 64 KiB, plus at most one while it was written: ${rawA.chunks.length}`,
  )
})
