'use strict'
// The original package's own test stubs must keep working: a req with only
// socket.setTimeout and connection.addListener, a res with only writeHead (or writeHead
// and write). A response without a socket is written synchronously, frame by frame,
// inside the call, as simple-sse 0.0.3 did, so a unit test can assert right after send.

const test = require('node:test')
const assert = require('node:assert/strict')
const sse = require('..')
/** The original's stubs, recording every call. `write` adds a write that records too. */
function stubs({ write = false } = {}) {
  const calls = { setTimeout: [], addListener: [], writeHead: [], write: [] }
  const req = {
    socket: { setTimeout: (...args) => calls.setTimeout.push(args) },
    connection: { addListener: (...args) => calls.addListener.push(args) },
  }
  const res = { writeHead: (...args) => calls.writeHead.push(args) }
  if (write) {
    res.write = (chunk) => {
      calls.write.push(chunk)
      return true
    }
  }
  /** Simulates the connection closing: calls what add() registered for 'close'. */
  const close = () => calls.addListener.filter(([event]) => event === 'close').forEach(([, fn]) => fn())
  return { req, res, calls, close }
}

test.afterEach(() => {
  for (const client of Array.from(sse.clients)) sse.remove(client)
})

test('add with the stubs: socket timeout, close listener, headers, and the client', () => {
  const { req, res, calls } = stubs()
  const client = sse.add(req, res)
  assert.deepEqual(Object.keys(client), ['id', 'rooms', 'res'])
  assert.equal(client.res, res)
  assert.deepEqual(client.rooms, [])
  assert.equal(sse.clients.at(-1), client)
  assert.equal(sse.getClient(client.id), client)

  assert.deepEqual(calls.setTimeout, [[0x7fffffff]])
  assert.equal(calls.addListener.length, 1)
  assert.equal(calls.addListener[0][0], 'close')
  assert.equal(typeof calls.addListener[0][1], 'function')
  assert.deepEqual(calls.writeHead, [
    [200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' }],
  ])
})

test('the close listener add() registered removes the client and its rooms', () => {
  const { req, res, close } = stubs()
  const client = sse.add(req, res)
  sse.join(client, 'r')
  close()
  assert.equal(sse.getClient(client.id), null)
  assert.ok(!sse.clients.includes(client))
  assert.deepEqual(sse.stats().rooms, [])
  close() // a second close is harmless
  assert.equal(sse.stats().clients, 0)
})

test('rooms, send, broadcast, setRetry and heartbeat work with a res that cannot write', () => {
  const mute = stubs()
  const client = sse.add(mute.req, mute.res)
  assert.equal(sse.join(client, 'r'), true)
  assert.equal(sse.join(client.id, 'r'), false)
  assert.equal(sse.in(client, 'r'), true)
  assert.equal(sse.in(client.id, '*'), true)
  sse.leave(client, 'r')
  assert.equal(sse.in(client, 'r'), false)
  sse.join(client, 'r')
  sse.send(client, 'ev', { a: 1 })
  sse.send(client.id, 'x')
  sse.broadcast('r', 'ev', 'y')
  sse.setRetry(client, 1000)
  sse.sendHeartbeat()

  // A second client that can write gets its frame; the mute one's are discarded.
  const loud = stubs({ write: true })
  const other = sse.add(loud.req, loud.res)
  sse.broadcast('*', 'z')
  assert.deepEqual(loud.calls.write, [`id: ${other.id}\ndata: z\n\n`])
  assert.deepEqual(mute.calls.write, [])
})

test('a stub res with write gets the exact frames synchronously, one write (a string) per frame', () => {
  const { req, res, calls } = stubs({ write: true })
  const client = sse.add(req, res)
  const id = client.id
  sse.send(client, 'ev', 'a\nb')
  assert.deepEqual(calls.write, [`id: ${id}\nevent: ev\ndata: a\ndata: b\n\n`])
  sse.send(client.id, 'c')
  sse.setRetry(client, 3000)
  sse.join(client, 'r')
  sse.broadcast('r', 'in r')
  sse.broadcast('elsewhere', 'not for it')
  sse.broadcast('*', 'e', 'all')
  sse.sendHeartbeat()
  assert.deepEqual(calls.write, [
    `id: ${id}\nevent: ev\ndata: a\ndata: b\n\n`,
    `id: ${id}\ndata: c\n\n`,
    `id: ${id}\nretry: 3000\n\n`,
    `id: ${id}\ndata: in r\n\n`,
    `id: ${id}\nevent: e\ndata: all\n\n`,
    ':heartbeat signal\n\n',
  ])
})

test('a stub gets frames through the res.write it has at the time, and res.flush after each', () => {
  const { req, res } = stubs()
  const client = sse.add(req, res)
  const log = []
  // A spy installed after add, as a test would with t.mock.method or by assignment.
  res.write = (chunk) => log.push(chunk)
  res.flush = () => log.push('flush')
  sse.send(client, 'x')
  sse.broadcast('*', 'y')
  assert.deepEqual(log, [`id: ${client.id}\ndata: x\n\n`, 'flush', `id: ${client.id}\ndata: y\n\n`, 'flush'])
})

test('a broadcast writes each stub in add order; removed stubs get nothing', () => {
  const order = []
  const make = (name) => {
    const { req, res, close } = stubs()
    res.write = (chunk) => order.push(`${name}:${chunk}`)
    return { client: sse.add(req, res), close }
  }
  const a = make('a')
  const b = make('b')
  const c = make('c')
  b.close()
  sse.broadcast('*', 'hi')
  sse.send(c.client, 'only c')
  assert.deepEqual(order, [
    `a:id: ${a.client.id}\ndata: hi\n\n`,
    `c:id: ${c.client.id}\ndata: hi\n\n`,
    `c:id: ${c.client.id}\ndata: only c\n\n`,
  ])
})

test('the process exits by itself after writing to a stub', () => {
  const script = `
    const sse = require(${JSON.stringify(require.resolve('..'))})
    const req = { socket: { setTimeout() {} }, connection: { addListener() {} } }
    const c = sse.add(req, { writeHead() {}, write(b) { process.stdout.write(b); return true } })
    sse.send(c, 'ev', 'last words')`
  const out = require('node:child_process').execFileSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: 5000,
  })
  assert.equal(out, 'id: 0\nevent: ev\ndata: last words\n\n')
})

test("add leaves a stub's own write and end in place (spies keep working); close() still removes it", (t) => {
  const { req } = stubs()
  const res = { writeHead: t.mock.fn(), write: t.mock.fn(), end: t.mock.fn() }
  const write = res.write
  const end = res.end
  const client = sse.add(req, res)
  assert.equal(res.write, write)
  assert.equal(res.end, end)
  sse.send(client, 'x')
  assert.deepEqual(res.write.mock.calls.map((call) => call.arguments), [[`id: ${client.id}\ndata: x\n\n`]])
  res.end()
  assert.equal(sse.getClient(client.id), client, 'like the original, ending a stub does not remove it')
  sse.close()
  assert.equal(end.mock.callCount(), 2)
  assert.equal(sse.getClient(client.id), null)
  assert.deepEqual(sse.clients, [])
})
