'use strict'
// Disconnect storms: rounds of 5 waves × 1,000 clients connect, join rooms, get events
// and vanish abruptly (socket.destroy()). Afterwards nothing is left: no client, no room,
// and the server's heap after a full GC is where it was after the first round (no
// per-connection leak). The server runs in a child with --expose-gc; the clients are
// here, so the two use both cores and each process holds one descriptor per connection.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const path = require('node:path')
const { within } = require('./helpers')
const { startFixtureServer } = require('./fixtures/rel-helpers')

const ROUNDS = 3
const WAVES = 5
const PER_WAVE = 1000
const FRAMES_EACH = 4 // its room, "*", its own room, a direct send
const KiB = 1024

/** A raw SSE client that only counts frames (a frame ends with a blank line). */
function rawClient(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    let frames = 0
    let waiter = null
    const client = {
      socket,
      frames: () => frames,
      got: (n) => (frames >= n ? Promise.resolve() : new Promise((r) => (waiter = () => frames >= n && r()))),
    }
    socket.setEncoding('latin1')
    socket.once('error', reject)
    socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n'))
    socket.on('data', (s) => {
      const headersDone = text.includes('\r\n\r\n')
      text += s
      if (!headersDone && text.includes('\r\n\r\n')) resolve(client)
      frames = text.split('\n\n').length - 1
      if (waiter !== null) waiter()
    })
  })
}

test(`${ROUNDS} rounds of ${WAVES} × ${PER_WAVE} abrupt disconnects leave nothing behind`, async (t) => {
  // Each side holds one descriptor per client (the package borrows the socket's own);
  // the server runs with just enough of them, so a second one per client would fail.
  const { port: serverPort, clients: perWave, guard, ask, stop } = await startFixtureServer(
    t,
    path.join(__dirname, 'fixtures', 'rel-storm-server.js'),
    { wanted: PER_WAVE, execArgv: ['--expose-gc'], timeoutMs: 40000 },
  )

  const rounds = []
  for (let round = 0; round < ROUNDS; round++) {
    for (let wave = 0; wave < WAVES; wave++) {
      const clients = await guard(Promise.all(Array.from({ length: perWave }, () => rawClient(serverPort))))
      const { clients: registered } = await guard(ask('events'))
      assert.equal(registered, perWave)
      await guard(within(Promise.all(clients.map((c) => c.got(FRAMES_EACH))), 10000, 'every client gets its events'))
      assert.ok(clients.every((c) => c.frames() === FRAMES_EACH), `each client got exactly ${FRAMES_EACH} frames`)
      for (const c of clients) c.socket.destroy()
      const state = await guard(within(ask('settled'), 10000, 'the server sees every disconnect'))
      assert.equal(state.clients, 0, 'sse.clients is empty')
      assert.equal(state.stats.clients, 0, 'the registry is empty')
      assert.deepEqual(state.stats.rooms, [], 'no room is left')
    }
    rounds.push(await guard(ask('measure')))
  }
  const out = await stop()
  assert.equal(out.code, 0)
  assert.equal(out.stderr, '')

  const [first, last] = [rounds[0], rounds.at(-1)]
  const more = (ROUNDS - 1) * WAVES * perWave
  const growth = last.heapUsed - first.heapUsed
  t.diagnostic(`server heapUsed ${(first.heapUsed / KiB).toFixed(0)} KiB after round 1, ${(last.heapUsed / KiB).toFixed(0)} KiB after round ${ROUNDS}; ` +
    `external ${(first.external / KiB).toFixed(0)} -> ${(last.external / KiB).toFixed(0)} KiB; rss ${(first.rss / KiB / KiB).toFixed(1)} -> ${(last.rss / KiB / KiB).toFixed(1)} MiB`)
  // A leak of 48 bytes per connection would already be ~470 KiB over 10,000 more connections.
  assert.ok(growth < 384 * KiB, `heap grew by ${(growth / KiB).toFixed(0)} KiB over ${more} more connections`)
  assert.ok(last.external - first.external < 384 * KiB, 'external memory (Buffers) went back to its level')
  // Native memory (the Rust registry and outboxes) is not in the heap: RSS catches gross leaks,
  // e.g. a 16 KiB outbox kept per connection would be 160 MiB here.
  assert.ok(last.rss - first.rss < 32 * KiB * KiB, `RSS grew by ${((last.rss - first.rss) / KiB / KiB).toFixed(1)} MiB`)
})
