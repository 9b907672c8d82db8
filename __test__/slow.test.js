'use strict'
// Slow consumers: a client that stops reading is dropped (and only it), the server's
// memory stays bounded while ~50 MB is broadcast, the pending-bytes cap is settable,
// and backpressure (res.write returning false) keeps frames queued, in order, until 'drain'.
// Readers are judged by progress (src/limits.rs): a slow reader draining a big burst is
// never dropped for the small events behind it; one that stops is, with memory bounded.
// Run on the direct path, and on the framed path by __test__/framed.test.js.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const sse = require('..')
const { sseServer, connect, within } = require('./helpers')
const { streamClient, runNode, watchdog, turn } = require('./fixtures/rel-helpers')
const { pacedReader } = require('./fixtures/paced-reader')

const MiB = 1024 * 1024
const DEFAULT_CAP = MiB

after(() => sse.close())

test('maxPendingBytes defaults to 1 MiB and refuses bad values with RangeError', () => {
  assert.equal(sse.maxPendingBytes, DEFAULT_CAP)
  assert.equal(sse.stats().maxPendingBytes, DEFAULT_CAP)
  for (const bad of [0, -1, 0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 53, '0', '1.5', '1e3', 'abc', null, undefined, {}, [], true, 10n]) {
    assert.throws(() => {
      sse.maxPendingBytes = bad
    }, RangeError, String(bad))
  }
  assert.equal(sse.maxPendingBytes, DEFAULT_CAP, 'a refused value changes nothing')
  sse.maxPendingBytes = 1
  assert.equal(sse.maxPendingBytes, 1)
  sse.maxPendingBytes = DEFAULT_CAP
})

test('with a small cap, only the client whose socket refuses past it is dropped', async (t) => {
  const srv = await sseServer(sse)
  t.after(() => srv.close())
  const [rawSmall, small] = await srv.open()
  const [rawBig, big] = await srv.open()
  const dropped = sse.stats().dropped
  sse.maxPendingBytes = 4096
  t.after(() => {
    sse.maxPendingBytes = DEFAULT_CAP
  })
  assert.equal(sse.stats().maxPendingBytes, 4096)

  const drops = []
  const onDrop = (client, info) => drops.push({ client, info, listed: sse.clients.includes(client) })
  sse.on('drop', onDrop)
  t.after(() => sse.off('drop', onDrop))

  // Far more than the cap in one turn, to readers that keep up: nobody is judged.
  sse.broadcast('*', 'a'.repeat(1000))
  sse.send(small, 'b'.repeat(20000))
  for (let i = 0; i < 5; i++) sse.send(big, String(i).repeat(1000))
  await rawSmall.until('b'.repeat(20000))
  await rawBig.until('4'.repeat(1000))
  assert.deepEqual(drops, [])

  // `big` stops reading: once its socket refuses, 4 KiB more waiting drops it.
  rawBig.socket.pause()
  let sent = 0
  while (drops.length === 0) {
    sse.send(big, 'x'.repeat(16 * 1024))
    await turn()
    if (++sent > 4000) assert.fail('never dropped (64 MB sent to a stalled reader)')
  }
  assert.equal(drops.length, 1)
  assert.equal(drops[0].client, big)
  assert.deepEqual(drops[0].info, { reason: 'slow', maxPendingBytes: 4096 })
  assert.equal(drops[0].listed, false, 'already out of sse.clients when "drop" is emitted')
  assert.ok(!sse.clients.includes(big))
  assert.equal(sse.getClient(big.id), null)
  assert.equal(sse.stats().dropped, dropped + 1)
  rawBig.socket.resume()
  await rawBig.closed() // the dropped client is disconnected

  // The other client is untouched and still served.
  sse.send(small, 'still here')
  const text = await rawSmall.until('data: still here\n\n')
  assert.equal(text, `id: ${small.id}\ndata: ${'a'.repeat(1000)}\n\nid: ${small.id}\ndata: ${'b'.repeat(20000)}\n\nid: ${small.id}\ndata: still here\n\n`)
  assert.ok(sse.clients.includes(small))
  rawSmall.close()
})

/** Checks that `events` carry data "0", "1", ... "n-1": all there, in order, none twice. */
function assertSequence(events, n, prefix = '') {
  assert.equal(events.length, n)
  events.forEach((e, i) => {
    if (e.data.split(':')[0] !== prefix + i) assert.fail(`event ${i} is ${JSON.stringify(e.data.slice(0, 40))}`)
  })
}

test('write returning false keeps frames queued, in order, until drain', async (t) => {
  const writes = []
  let refuseNext = true
  const srv = await sseServer(sse)
  // Wrap write before add: the first frame write "fails" (returns false), as on a full socket.
  srv.server.prependListener('request', (req, res) => {
    const write = res.write
    res.write = function (chunk, ...rest) {
      const ok = write.call(this, chunk, ...rest)
      writes.push(Buffer.byteLength(chunk))
      if (refuseNext) {
        refuseNext = false
        return false
      }
      return ok
    }
  })
  t.after(() => srv.close())
  const stream = await streamClient(srv.port)
  const client = srv.added.at(-1)

  sse.send(client, '0')
  await stream.until(1)
  assert.equal(writes.length, 1, 'one write, which returned false')
  // Frames sent now, over several turns, must wait for 'drain'.
  for (let i = 1; i <= 50; i++) {
    sse.send(client, String(i))
    if (i % 10 === 0) await turn()
  }
  await turn()
  await turn()
  assert.equal(writes.length, 1, 'nothing written while paused')
  assert.equal(stream.count, 1)

  client.res.emit('drain')
  await stream.until(51)
  assertSequence(stream.events, 51)
  assert.ok(writes.length >= 2)
  sse.send(client, '51')
  await stream.until(52)
  assertSequence(stream.events, 52)
  stream.close()
})

test('a real socket that stops reading: frames wait, then arrive in order, none duplicated', async (t) => {
  // A plain response, not wrapped: whichever way the package writes, the socket fills up.
  const srv = await sseServer(sse)
  t.after(() => srv.close())
  const droppedBefore = sse.stats().dropped
  sse.maxPendingBytes = 64 * MiB
  t.after(() => {
    sse.maxPendingBytes = DEFAULT_CAP
  })
  const stream = await streamClient(srv.port)
  const client = srv.added.at(-1)
  // A detached client (SIMPLE_SSE_RS_DETACH=1) has no Node socket: Rust writes its own
  // duplicate of the connection, and what the socket refused waits in Rust.
  const socket = client.detached ? null : client.res.socket
  /** Whether the socket refused bytes (after sse.flush(), a detached client's wait in Rust). */
  const pushedBack = () => {
    if (socket !== null) return socket.writableNeedDrain
    sse.flush()
    return sse.stats().pendingBytes > 0
  }
  stream.res.pause()

  const payload = 'p'.repeat(32 * 1024)
  let n = 0
  const burst = async () => {
    for (let i = 0; i < 16; i++) sse.send(client, `${n++}:${payload}`)
    await turn()
  }
  // Fill the socket until it refuses more (a write returned false), then queue more behind it.
  while (!pushedBack()) {
    await burst()
    if (n > 4000) assert.fail('the socket never pushed back (128 MB written to a paused reader)')
  }
  const queuedAt = n
  for (let i = 0; i < 10; i++) await burst()
  assert.equal(stream.count, 0, 'the paused reader has parsed nothing yet')
  assert.ok(sse.clients.includes(client), 'a paused client under the cap is kept')
  if (socket !== null) assert.ok(socket.writableLength < (n - queuedAt) * payload.length, 'the frames sent after the push-back wait outside the socket')
  else assert.ok(pushedBack(), 'the frames sent after the push-back wait in Rust')

  stream.res.resume()
  await stream.until(n, 20000)
  assertSequence(stream.events, n)
  assert.equal(sse.stats().dropped, droppedBefore, 'a paused client under the cap is never dropped')
  stream.close()
})

test('one stalled client among fast ones while ~50 MB is broadcast: dropped alone, memory bounded', async (t) => {
  const PAYLOAD = 16 * 1024
  const TOTAL = 50 * 1000 * 1000
  const EVENTS = Math.ceil(TOTAL / PAYLOAD) // 3052 events
  const BURST = 16 // events per broadcast turn (256 KiB)
  const FAST = 3

  let child
  let onListening
  const listening = new Promise((resolve) => (onListening = resolve))
  const replies = new Map() // type -> resolve
  const reply = (type) => new Promise((resolve) => replies.set(type, resolve))
  const run = runNode(path.join(__dirname, 'fixtures', 'rel-slow-server.js'), [], {
    execArgv: ['--expose-gc'],
    env: { PAYLOAD: String(PAYLOAD) },
    timeoutMs: 30000,
    onMessage(msg, proc) {
      child = proc
      if (msg.type === 'listening') onListening(msg.port)
      const resolve = replies.get(msg.type)
      if (resolve) {
        replies.delete(msg.type)
        resolve(msg)
      }
    },
  })
  const { guard, done } = watchdog(run, 'the slow-consumer server')
  const serverPort = await guard(within(listening, 10000, 'the child server listens'))

  const fast = []
  const errors = []
  for (let i = 0; i < FAST; i++) {
    let next = 0
    const onEvent = (e) => {
      const want = `${next}:`
      if (!e.data.startsWith(want) || e.data.length !== PAYLOAD) errors.push(`fast ${i}: event ${next} is ${e.data.slice(0, 20)}… (${e.data.length} chars)`)
      next++
    }
    fast.push(await streamClient(serverPort, '/', { keep: false, onEvent }))
  }
  const stalled = await connect(serverPort, '/stalled')
  stalled.socket.pause()
  t.after(() => {
    for (const f of fast) f.close()
    stalled.close()
  })

  const baseline = reply('baseline')
  child.send({ type: 'baseline' })
  const { rss: baselineRss } = await guard(baseline)

  // Keep at most two bursts (512 KiB) unread by the fast clients: a fast reader never nears the cap.
  for (let sent = 0; sent < EVENTS; sent += BURST) {
    const waitFor = Math.max(0, sent - BURST)
    await guard(Promise.all(fast.map((f) => f.until(waitFor, 10000))))
    child.send({ type: 'burst', n: Math.min(BURST, EVENTS - sent) })
  }
  await guard(Promise.all(fast.map((f) => f.until(EVENTS, 10000))))

  const reportP = reply('report')
  child.send({ type: 'report' })
  const report = await guard(reportP)
  done()
  child.send({ type: 'exit' })
  for (const f of fast) f.close()
  stalled.close()
  const exit = await run

  assert.deepEqual(errors, [], 'fast clients got every event intact and in order')
  for (const f of fast) assert.equal(f.count, EVENTS)
  assert.equal(report.sent, EVENTS)
  assert.equal(report.drops.length, 1, `exactly one drop: ${JSON.stringify(report.drops)}`)
  assert.deepEqual(report.drops[0], {
    id: report.stalledId,
    stalled: true,
    isClient: true,
    stillListed: false,
    inRegistry: false,
    info: { reason: 'slow', maxPendingBytes: DEFAULT_CAP },
  })
  assert.ok(!report.clients.includes(report.stalledId), 'the stalled client left sse.clients')
  assert.equal(report.clients.length, FAST)
  assert.equal(report.stats.dropped, 1)
  assert.equal(report.stats.clients, FAST)
  const growth = report.peakRss - baselineRss
  assert.ok(growth < 64 * MiB, `server RSS grew by ${(growth / MiB).toFixed(1)} MiB while ${TOTAL / 1e6} MB × ${FAST + 1} clients were sent`)
  assert.equal(exit.code, 0, exit.stderr)
  assert.equal(exit.stderr, '')
  t.diagnostic(`server RSS growth ${(growth / MiB).toFixed(1)} MiB; stalled client read ${stalled.raw.length} bytes`)
})

/**
 * Issue 19's cases: on connect, one `bigBytes` event; then a small event every
 * `smallEveryMs`, until the reader has the big one and `smallAfter` small ones. Returns
 * what the reader got and every 'drop'.
 */
async function burstThenSmallEvents(t, { bigBytes, smallEveryMs, smallAfter, read, wrapped = false }) {
  const big = 'S'.repeat(bigBytes)
  const srv = await sseServer(sse, (client) => sse.send(client, 'snapshot', big))
  if (wrapped) {
    // A write wrapped before add (as middleware does): written through res.write.
    srv.server.prependListener('request', (req, res) => {
      const write = res.write
      res.write = function (...args) {
        return write.apply(this, args)
      }
    })
  }
  t.after(() => srv.close())
  const drops = []
  const onDrop = (client, info) => drops.push(info)
  sse.on('drop', onDrop)
  t.after(() => sse.off('drop', onDrop))
  const reader = await pacedReader(srv.port, read)
  t.after(() => reader.close())
  let n = 0
  const ticker = setInterval(() => {
    for (const c of srv.added) sse.send(c, 'small', `small:${n}`)
    n++
  }, smallEveryMs)
  t.after(() => clearInterval(ticker))
  const start = Date.now()
  const deadline = start + (bigBytes / (read.bytes / read.everyMs)) * 4 + 10000
  while (!reader.closed && drops.length === 0) {
    const evs = reader.bodyBytes >= bigBytes ? reader.events() : []
    if (evs.length >= 1 + smallAfter) break
    if (Date.now() > deadline) assert.fail(`too slow: ${reader.bodyBytes} bytes in ${Date.now() - start} ms`)
    await new Promise((resolve) => setTimeout(resolve, read.everyMs))
  }
  clearInterval(ticker)
  return { reader, drops, ms: Date.now() - start, client: srv.added[0] }
}

test('8 MB on connect, then a small event every 20 ms, to a reader taking 64 KiB every 50 ms: all of it, no drop', async (t) => {
  const { reader, drops, ms, client } = await burstThenSmallEvents(t, {
    bigBytes: 8 * 1000 * 1000,
    smallEveryMs: 20,
    smallAfter: 20,
    read: { bytes: 64 * 1024, everyMs: 50 },
  })
  assert.deepEqual(drops, [], `dropped after ${reader.bodyBytes} bytes`)
  const evs = reader.events()
  assert.equal(evs[0], 'S'.repeat(8 * 1000 * 1000), 'the snapshot arrived whole')
  evs.slice(1).forEach((data, i) => assert.equal(data, `small:${i}`))
  assert.ok(evs.length >= 21)
  assert.ok(sse.clients.includes(client), 'still a client')
  t.diagnostic(`${reader.bodyBytes} bytes at ${((reader.taken / ms) * 1000 / 1e6).toFixed(2)} MB/s in ${ms} ms`)
})

for (const wrapped of [false, true]) {
  test(`one 16 MB event, then a small event every 10 ms, to a reader taking 25 MB/s: all of it, no drop${wrapped ? ' (through res.write)' : ''}`, async (t) => {
    const { reader, drops, ms, client } = await burstThenSmallEvents(t, {
      bigBytes: 16 * 1000 * 1000,
      smallEveryMs: 10,
      smallAfter: 20,
      read: { bytes: 256 * 1024, everyMs: 10 },
      wrapped,
    })
    assert.deepEqual(drops, [], `dropped after ${reader.bodyBytes} bytes`)
    const evs = reader.events()
    assert.equal(evs[0].length, 16 * 1000 * 1000, 'the big event arrived whole')
    assert.ok(/^S+$/.test(evs[0]))
    evs.slice(1).forEach((data, i) => assert.equal(data, `small:${i}`))
    assert.ok(sse.clients.includes(client), 'still a client')
    t.diagnostic(`${reader.bodyBytes} bytes in ${ms} ms`)
  })
}

test('a reader that stops behind an 8 MB burst is dropped once 1 MiB more piles up behind it', async (t) => {
  const SNAPSHOT = 8 * 1000 * 1000
  const EVENT = 16 * 1024
  const srv = await sseServer(sse, (client, req) => {
    if (req.url === '/stalled') sse.send(client, 'snapshot', 'S'.repeat(SNAPSHOT))
  })
  t.after(() => srv.close())
  const drops = []
  const onDrop = (client, info) => drops.push({ client, info })
  sse.on('drop', onDrop)
  t.after(() => sse.off('drop', onDrop))
  // A healthy reader next to it, taking everything.
  const [healthy, healthyClient] = await srv.open()
  t.after(() => healthy.close())
  const stalled = await pacedReader(srv.port, { bytes: 64 * 1024, everyMs: 50, path: '/stalled' })
  t.after(() => stalled.close())
  await until(() => srv.added.length === 2, 'the server added the stalled reader')
  const client = srv.added[1]
  // It takes a little of the burst, then stops for good.
  await until(() => stalled.taken > 0, 'the stalled reader took something')
  stalled.stop()
  await turn()
  // Events go to both; count what was queued for it after the burst until it is dropped.
  let queuedAfter = 0
  while (drops.length === 0) {
    sse.broadcast('*', 'e', 'x'.repeat(EVENT))
    queuedAfter += Buffer.byteLength(`id: ${client.id}\nevent: e\ndata: \n\n`) + EVENT
    await new Promise((resolve) => setTimeout(resolve, 5))
    if (queuedAfter > 64 * MiB) assert.fail('never dropped')
  }
  assert.equal(drops.length, 1)
  assert.equal(drops[0].client, client)
  assert.deepEqual(drops[0].info, { reason: 'slow', maxPendingBytes: DEFAULT_CAP })
  // What piled up behind the burst is bounded by the limit (plus the event that passed it
  // and what the kernel took before it filled up): the burst itself never counted.
  assert.ok(queuedAfter > DEFAULT_CAP, `dropped after only ${queuedAfter} bytes behind the burst`)
  assert.ok(queuedAfter <= DEFAULT_CAP + EVENT + 4 * MiB, `${queuedAfter} bytes piled up`)
  assert.ok(stalled.bodyBytes < SNAPSHOT, 'it never had the whole burst')
  assert.ok(sse.clients.includes(healthyClient), 'the healthy reader stays')
  if (client.detached) {
    // Rust closed its connection (SIMPLE_SSE_RS_DETACH=1): the reader sees the end once it
    // reads (and discards) what the kernel holds.
    stalled.socket.resume()
    await until(() => stalled.closed, 'its connection is closed')
  } else {
    await until(() => stalled.closed || stalled.socket.destroyed || client.res.destroyed, 'its response is destroyed')
  }
  t.diagnostic(`dropped after ${queuedAfter} bytes queued behind the burst`)
})

/** Waits (turn by turn, at most `ms`) until `check()` holds. */
async function until(check, what, ms = 10000) {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > ms) assert.fail(`timed out: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
