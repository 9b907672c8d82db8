'use strict'
// Costs that grow right: 100,000 rooms on one client, and a storm of ~20,000 simultaneous
// disconnects with `sse.clients` checked by the app at every close. No timing is asserted
// beyond a bound far above the linear cost and far below the old quadratic one.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const path = require('node:path')
const { sse, serve } = require('./api-support')
const { within } = require('./helpers')
const { startFixtureServer } = require('./fixtures/rel-helpers')

test('one client joins 100,000 rooms, leaves and rejoins half, in join order, within seconds', async (t) => {
  const ROOMS = 100000
  const srv = await serve(t)
  const [raw, c] = await srv.open()
  const started = process.hrtime.bigint()

  let joined = 0
  for (let i = 0; i < ROOMS; i++) if (sse.join(c, `r${i}`)) joined++
  assert.equal(joined, ROOMS)
  assert.equal(sse.join(c, 'r12345'), false, 'already in')
  let inAll = 0
  for (let i = 0; i < ROOMS; i++) if (sse.in(c, `r${i}`)) inAll++
  assert.equal(inAll, ROOMS)
  assert.equal(sse.in(c, `r${ROOMS}`), false)

  // Leave the even rooms, then join them again: they come back after the odd ones.
  for (let i = 0; i < ROOMS; i += 2) sse.leave(c, `r${i}`)
  assert.equal(sse.in(c, 'r0'), false)
  assert.equal(sse.in(c, 'r1'), true)
  for (let i = 0; i < ROOMS; i += 2) assert.equal(sse.join(c, `r${i}`), true)
  const expected = []
  for (let i = 1; i < ROOMS; i += 2) expected.push(`r${i}`)
  for (let i = 0; i < ROOMS; i += 2) expected.push(`r${i}`)
  assert.deepEqual(c.rooms, expected)
  assert.equal(sse.stats().rooms.length, ROOMS)

  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  t.diagnostic(`${ROOMS} joins, ${ROOMS} lookups, ${ROOMS / 2} leaves and rejoins: ${seconds.toFixed(2)} s`)
  // Quadratic bookkeeping took 23-25 s for the joins alone; linear takes well under 1 s.
  assert.ok(seconds < 10, `took ${seconds.toFixed(1)} s`)

  sse.broadcast('r77777', 'deep', 'x')
  await raw.until('event: deep\ndata: x\n\n')
  sse.leave(c)
  assert.deepEqual(c.rooms, [])
  assert.deepEqual(sse.stats().rooms, [])
})

/** Opens a raw SSE connection; resolves with its socket once the response head arrived. */
function rawClient(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let head = ''
    socket.setEncoding('latin1')
    socket.once('error', reject)
    socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n'))
    const onData = (s) => {
      head += s
      if (!head.includes('\r\n\r\n')) return
      socket.off('data', onData)
      socket.on('data', () => {})
      resolve(socket)
    }
    socket.on('data', onData)
  })
}

test('a storm of simultaneous disconnects: sse.clients is right at every close and after', { timeout: 120000 }, async (t) => {
  const WANTED = 20000
  // This process holds one descriptor per client and the server child one per connection.
  const { port: serverPort, clients: count, guard, ask, stop } = await startFixtureServer(
    t,
    path.join(__dirname, 'fixtures', 'scale-storm-server.js'),
    { wanted: WANTED, timeoutMs: 110000 },
  )

  const sockets = []
  let next = 0
  const opener = async () => {
    while (next < count) {
      next++
      sockets.push(await rawClient(serverPort))
    }
  }
  await guard(within(Promise.all(Array.from({ length: 128 }, opener)), 60000, `${count} clients connect`))
  const ready = await guard(ask('ready'))
  assert.equal(ready.clients, count)
  assert.deepEqual(ready.failures, [])

  const started = Date.now()
  for (const socket of sockets) socket.destroy()
  const state = await guard(within(ask('settled'), 60000, 'the server sees every disconnect'))
  t.diagnostic(`${count} disconnects handled in ${Date.now() - started} ms; the app checked sse.clients ${state.checks} times`)
  assert.deepEqual(state.failures, [])
  assert.equal(state.closes, count)
  assert.ok(state.checks >= count, 'the app looked at every close')
  assert.equal(state.clients, 0)
  assert.equal(state.registry, 0)

  const out = await stop()
  assert.equal(out.code, 0)
  assert.equal(out.stderr, '')
})
