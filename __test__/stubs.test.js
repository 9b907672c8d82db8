'use strict'
// The original package's own test stubs must keep working: a req with only
// socket.setTimeout and connection.addListener, a res with only writeHead.

const test = require('node:test')
const assert = require('node:assert/strict')
const sse = require('..')
const { within } = require('./helpers')

// Waits for a stub write under a timeout. The timer also keeps the event loop
// alive: the package's wake-up is unref'd, and stubs hold no socket that would.
const delivered = (written) => within(written, 2000, 'the stub res.write')

/** The original's stubs, recording every call. `write` adds a write that records too. */
function stubs({ write = false } = {}) {
  const calls = { setTimeout: [], addListener: [], writeHead: [], write: [] }
  const req = {
    socket: { setTimeout: (...args) => calls.setTimeout.push(args) },
    connection: { addListener: (...args) => calls.addListener.push(args) },
  }
  const res = { writeHead: (...args) => calls.writeHead.push(args) }
  let written = null
  if (write) {
    written = new Promise((resolve) => {
      res.write = (chunk) => {
        calls.write.push(String(chunk))
        resolve()
        return true
      }
    })
  }
  /** Simulates the connection closing: calls what add() registered for 'close'. */
  const close = () => calls.addListener.filter(([event]) => event === 'close').forEach(([, fn]) => fn())
  return { req, res, calls, close, written }
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

test('rooms, send, broadcast, setRetry and heartbeat work with a res that cannot write', async () => {
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

  // A second client that can write: once it got its bytes, the batch that
  // also held the mute client's frames has been delivered without throwing.
  const loud = stubs({ write: true })
  const other = sse.add(loud.req, loud.res)
  sse.broadcast('*', 'z')
  await delivered(loud.written)
  assert.deepEqual(loud.calls.write, [`id: ${other.id}\ndata: z\n\n`])
  assert.deepEqual(mute.calls.write, [])
})

test('a stub res with write gets the exact frames, one write per tick', async () => {
  const { req, res, calls, written } = stubs({ write: true })
  const client = sse.add(req, res)
  sse.send(client, 'ev', 'a\nb')
  sse.send(client.id, 'c')
  sse.setRetry(client, 3000)
  await delivered(written)
  const id = client.id
  assert.deepEqual(calls.write, [
    `id: ${id}\nevent: ev\ndata: a\ndata: b\n\n` + `id: ${id}\ndata: c\n\n` + `id: ${id}\nretry: 3000\n\n`,
  ])
})

test('frames queued just before the process would go idle are still written, then it exits', () => {
  // Nothing holds the event loop here (a stub res has no socket): the pending wake-up
  // must hold it until the frames are written, and let go after.
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
