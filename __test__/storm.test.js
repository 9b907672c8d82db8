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
const { execSync } = require('node:child_process')
const { within } = require('./helpers')
const { runNode, watchdog } = require('./fixtures/rel-helpers')

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

/** Sends `{ type }` to the child and resolves with its reply of the same type. */
function ask(child, type) {
  return new Promise((resolve) => {
    const onMessage = (msg) => {
      if (msg.type !== type) return
      child.off('message', onMessage)
      resolve(msg)
    }
    child.on('message', onMessage)
    child.send({ type })
  })
}

test(`${ROUNDS} rounds of ${WAVES} × ${PER_WAVE} abrupt disconnects leave nothing behind`, async (t) => {
  const fdLimit = Number(execSync('ulimit -n', { shell: '/bin/sh' }).toString()) || 1024
  // Each side holds one descriptor per client (the package borrows the socket's own);
  // the server runs with just enough of them, so a second one per client would fail.
  const perWave = Math.min(PER_WAVE, fdLimit - 200)
  if (perWave < PER_WAVE) t.diagnostic(`ulimit -n is ${fdLimit}: ${perWave} clients per wave`)

  let child
  let listening
  const port = new Promise((resolve) => (listening = resolve))
  const run = runNode(path.join(__dirname, 'fixtures', 'rel-storm-server.js'), [], {
    execArgv: ['--expose-gc'],
    command: `ulimit -n ${perWave + 200} 2>/dev/null; exec "$@"`,
    timeoutMs: 40000,
    onMessage(msg, proc) {
      child = proc
      if (msg.type === 'listening') listening(msg.port)
    },
  })
  const { guard, done } = watchdog(run, 'the storm server')
  const serverPort = await guard(within(port, 10000, 'the storm server listens'))
  t.after(() => child.kill())

  const rounds = []
  for (let round = 0; round < ROUNDS; round++) {
    for (let wave = 0; wave < WAVES; wave++) {
      const clients = await guard(Promise.all(Array.from({ length: perWave }, () => rawClient(serverPort))))
      const { clients: registered } = await guard(ask(child, 'events'))
      assert.equal(registered, perWave)
      await guard(within(Promise.all(clients.map((c) => c.got(FRAMES_EACH))), 10000, 'every client gets its events'))
      assert.ok(clients.every((c) => c.frames() === FRAMES_EACH), `each client got exactly ${FRAMES_EACH} frames`)
      for (const c of clients) c.socket.destroy()
      const state = await guard(within(ask(child, 'settled'), 10000, 'the server sees every disconnect'))
      assert.equal(state.clients, 0, 'sse.clients is empty')
      assert.equal(state.stats.clients, 0, 'the registry is empty')
      assert.deepEqual(state.stats.rooms, [], 'no room is left')
    }
    rounds.push(await guard(ask(child, 'measure')))
  }
  done()
  await ask(child, 'exit')
  const out = await run
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
