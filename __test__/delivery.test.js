'use strict'
// Delivery end to end: the direct path (Rust writes each plain HTTP/1.1 client's turn
// to Node's own descriptor of the socket, never to a number Node closed), partial
// writes, broken connections, keep-alive reuse, limits that judge only refused bytes
// (healthy readers get any burst in full), a bad response isolated, and large bodies
// shared between clients. __test__/framed.test.js runs this file again with
// SIMPLE_SSE_RS_FORCE_FRAMED=1: plain responses then take the framed path (JS writes
// Rust's chunks to the socket, as on TLS, Windows and WASI), with the same guarantees.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const path = require('node:path')
const { Worker } = require('node:worker_threads')
const sse = require('..')
const native = require('../lib/binding')
const { listen, connect, sseServer, within, ATTACHED } = require('./helpers')
const { turn, runNode } = require('./fixtures/rel-helpers')

const MiB = 1024 * 1024
const DEFAULT_CAP = MiB
/** Plain responses are framed, not written by Rust (the test-only switch). */
const FRAMED = process.env.SIMPLE_SSE_RS_FORCE_FRAMED === '1'
// ATTACHED (./helpers): `add`'s options for a test whose subject is Node's own descriptor
// of the socket or the app's own res.end (about the attached response: stays attached under
// SIMPLE_SSE_RS_DETACH; a detached client's connection is Rust's own duplicate, and Node's
// socket is closed).

after(() => sse.close())

/** Waits (turn by turn, at most `ms`) until `check()` holds. */
async function until(check, what, ms = 10000) {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > ms) assert.fail(`timed out: ${what}`)
    await turn()
  }
}

/**
 * Broadcasts an event named 'tick' to every client on every turn of the event loop,
 * its data `data(n)` for the n-th (from 0), until the returned `stop()`; `stop()` says
 * how many went out.
 */
function keepBroadcasting(data) {
  let ticking = true
  let n = 0
  const pump = () => {
    if (!ticking) return
    sse.broadcast('*', 'tick', data(n++))
    setImmediate(pump)
  }
  pump()
  return () => {
    ticking = false
    return n
  }
}

/** Events of `text` (frames ending in a blank line, comments skipped). */
function events(text) {
  return text
    .split('\n\n')
    .slice(0, -1)
    .filter((f) => !f.startsWith(':'))
    .map((f) => {
      const lines = f.split('\n')
      return {
        id: lines.find((l) => l.startsWith('id: ')),
        data: lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'),
      }
    })
}

test('the binding says whether it writes sockets directly (Unix) and how batches mark "no body"', () => {
  assert.equal(native.DIRECT, process.platform !== 'win32')
  assert.equal(native.NO_BODY, 0xffffffff)
})

test(`a plain response is written ${FRAMED ? 'by Node as Rust framed it (forced)' : 'by Rust, not by Node'}; a wrapped one through res.write`, { skip: !native.DIRECT }, async (t) => {
  // About Node's socket (what Node wrote to it): stays attached under SIMPLE_SSE_RS_DETACH.
  const srv = await sseServer(sse, undefined, ATTACHED)
  srv.server.prependListener('request', (req, res) => {
    if (req.url !== '/wrapped') return
    const write = res.write
    res.write = function (...args) {
      return write.apply(this, args)
    }
  })
  t.after(() => srv.close())
  const [plainRaw, plain] = await srv.open('/')
  const [wrappedRaw, wrapped] = await srv.open('/wrapped')
  const before = [plain.res.socket.bytesWritten, wrapped.res.socket.bytesWritten]
  sse.broadcast('*', 'e', 'x'.repeat(100))
  await plainRaw.until('x'.repeat(100))
  await wrappedRaw.until('x'.repeat(100))
  if (FRAMED) assert.ok(plain.res.socket.bytesWritten > before[0], 'Node wrote the framed client')
  else assert.equal(plain.res.socket.bytesWritten, before[0], 'Node wrote nothing for the direct client')
  assert.ok(wrapped.res.socket.bytesWritten > before[1], 'Node wrote the wrapped client')
  assert.equal(plainRaw.chunks.length, 1, 'one chunk for the turn')
  plainRaw.close()
  wrappedRaw.close()
})

test('churn: 3,000 connects and abrupt disconnects while broadcasting; every frame carries its own id', async (t) => {
  const srv = await sseServer(sse, (client) => sse.send(client, 'hello', String(client.id)))
  t.after(() => srv.close())
  const fds = () => (process.platform === 'linux' ? fs.readdirSync('/proc/self/fd').length : 0)
  // One client first, so that what the package makes once, on its first client of a kind,
  // is in the count before (under SIMPLE_SSE_RS_DETACH=1, the thread that watches detached
  // connections: its poller and waker).
  const first = await connect(srv.port)
  await first.until('event: hello\n')
  first.close()
  await until(() => sse.clients.length === 0, 'the first client removed')
  const fdsBefore = fds()
  const stop = keepBroadcasting((n) => `${n}:${'t'.repeat((n + 1) % 7 === 0 ? 5000 : 40)}`)
  const TOTAL = 3000
  const CONCURRENT = 100
  const errors = []
  let checkedFrames = 0
  async function one(n) {
    const raw = await connect(srv.port)
    const frames = 2 + (n % 5)
    await raw.until((text) => text.split('\n\n').length > frames, 10000)
    const evs = events(raw.text)
    const own = evs[0].id
    if (evs[0].data !== own.slice(4)) errors.push(`first event ${JSON.stringify(evs[0])}`)
    for (const e of evs) {
      if (e.id !== own) errors.push(`${own} got a frame with ${e.id}`)
      checkedFrames++
    }
    if (n % 2 === 0) raw.socket.resetAndDestroy()
    else raw.socket.destroy()
  }
  let next = 0
  await within(
    Promise.all(
      Array.from({ length: CONCURRENT }, async () => {
        while (next < TOTAL) await one(next++)
      }),
    ),
    120000,
    'the churn',
  )
  const ticks = stop()
  await until(() => sse.clients.length === 0, 'every churned client removed')
  // Every socket is closed again (none kept a connection open).
  await until(() => fds() <= fdsBefore, `descriptors back to ${fdsBefore} (now ${fds()})`)
  assert.deepEqual(errors.slice(0, 5), [])
  assert.ok(checkedFrames >= TOTAL * 3)
  assert.equal(sse.stats().clients, 0)
  t.diagnostic(`${checkedFrames} frames checked, ${ticks} broadcasts`)
})

test('a reader that stalls and resumes again and again gets every frame, in order, none twice', async (t) => {
  const srv = await sseServer(sse)
  t.after(() => srv.close())
  sse.maxPendingBytes = 256 * MiB
  t.after(() => {
    sse.maxPendingBytes = DEFAULT_CAP
  })
  const [raw, client] = await srv.open()
  const [otherRaw] = await srv.open()
  const big = 'B'.repeat(300 * 1024)
  let n = 0
  let seed = 7
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  for (let round = 0; round < 200; round++) {
    if (round % 15 === 0) raw.socket.pause()
    if (round % 15 === 8) raw.socket.resume()
    const frames = 1 + Math.floor(random() * 4)
    for (let i = 0; i < frames; i++) {
      const r = random()
      if (r < 0.1) sse.broadcast('*', `${n++}:${big}`) // a shared large body
      else if (r < 0.2) sse.send(client, `${n++}:${'L'.repeat(70 * 1024)}`) // past 64 KiB alone
      else sse.send(client, `${n++}:${'s'.repeat(Math.floor(random() * 200))}`)
    }
    await turn()
  }
  raw.socket.resume()
  await raw.until(() => events(raw.text).length >= n, 30000)
  const evs = events(raw.text)
  assert.equal(evs.length, n)
  evs.forEach((e, i) => {
    if (!e.data.startsWith(`${i}:`)) assert.fail(`event ${i} is ${e.data.slice(0, 20)}`)
    if (e.id !== `id: ${client.id}`) assert.fail(`event ${i} has ${e.id}`)
  })
  assert.ok(sse.clients.includes(client), 'never dropped: what waited stayed under the limit')
  raw.close()
  otherRaw.close()
})

/**
 * Runs `send(clients)` against `count` readers in a worker thread (they read while this
 * thread loops) that each expect `expect` events; resolves with the worker's report.
 */
async function toThreadReaders(count, expect, send) {
  const srv = await sseServer(sse)
  const worker = new Worker(path.join(__dirname, 'fixtures', 'rel-reader-worker.js'), {
    workerData: { port: srv.port, count, expect },
  })
  const drops = []
  const onDrop = (client, info) => drops.push(info)
  sse.on('drop', onDrop)
  try {
    const messages = []
    let wake = null
    worker.on('message', (msg) => {
      messages.push(msg)
      if (wake) wake()
    })
    const message = (type) =>
      within(
        new Promise((resolve) => {
          const check = () => {
            const found = messages.find((m) => m.type === type)
            if (found) resolve(found)
          }
          wake = check
          check()
        }),
        60000,
        `the readers: ${type}`,
      )
    await message('ready')
    assert.equal(srv.added.length, count)
    send(srv.added)
    const report = await message('done')
    return { ...report, drops }
  } finally {
    sse.off('drop', onDrop)
    await worker.terminate()
    await srv.close()
  }
}

test('5 MB sent in one loop to a reader that keeps up arrives in full', async () => {
  const report = await toThreadReaders(1, 5000, ([client]) => {
    const pad = 'x'.repeat(1000)
    for (let i = 0; i < 5000; i++) sse.send(client, `${i}:${pad}`)
  })
  assert.deepEqual(report.errors, [])
  assert.deepEqual(report.drops, [])
  assert.deepEqual(report.counts, [5000])
})

test('one 3 MB event arrives in full', async () => {
  const report = await toThreadReaders(1, 1, ([client]) => sse.send(client, `0:${'y'.repeat(3 * MiB)}`))
  assert.deepEqual(report.errors, [])
  assert.deepEqual(report.drops, [])
  assert.deepEqual(report.counts, [1])
  assert.ok(report.bytes[0] > 3 * MiB)
})

test('12,000 broadcasts in one loop (~1 MB per client) reach 100 readers in full', async () => {
  const report = await toThreadReaders(100, 12000, () => {
    const pad = 'z'.repeat(60)
    for (let i = 0; i < 12000; i++) sse.broadcast('*', `${i}:${pad}`)
  })
  assert.deepEqual(report.errors, [])
  assert.deepEqual(report.drops, [])
  assert.deepEqual(report.counts, new Array(100).fill(12000))
})

test('a res.write that throws drops only that client; every other client is still written', async (t) => {
  const srv = await sseServer(sse)
  srv.server.prependListener('request', (req, res) => {
    if (req.url !== '/bad') return
    res.write = function () {
      throw new Error('boom')
    }
  })
  t.after(() => srv.close())
  const [rawA, a] = await srv.open('/')
  const [rawBad, bad] = await srv.open('/bad')
  const [rawB, b] = await srv.open('/')
  const drops = []
  const onDrop = (client, info) => drops.push({ client, info, listed: sse.clients.includes(client), destroyed: client.res.destroyed })
  sse.on('drop', onDrop)
  t.after(() => sse.off('drop', onDrop))

  sse.broadcast('*', 'one')
  await rawA.until('data: one\n\n')
  await rawB.until('data: one\n\n')
  await rawBad.closed()
  assert.equal(drops.length, 1)
  assert.equal(drops[0].client, bad)
  assert.equal(drops[0].info.reason, 'error')
  assert.equal(drops[0].info.error.message, 'boom')
  assert.equal(drops[0].listed, false, 'out of sse.clients before the listener runs')
  assert.equal(drops[0].destroyed, true, 'its response destroyed before the listener runs')
  sse.broadcast('*', 'two')
  await rawA.until('data: two\n\n')
  await rawB.until('data: two\n\n')
  assert.deepEqual(sse.clients, [a, b])
  rawA.close()
  rawB.close()
})

test("a 'drop' listener that throws: the app sees it only after every batch is written and every dropped client removed", async () => {
  const out = await runNode(path.join(__dirname, 'fixtures', 'rel-drop-throw-child.js'), [], { timeoutMs: 15000 })
  assert.equal(out.stderr, '')
  assert.equal(out.code, 0)
  const report = JSON.parse(out.stdout)
  assert.deepEqual(report.thrown, ['listener 1', 'listener 2'], 'each listener exception surfaces, in order')
  const first = report.atFirst
  assert.deepEqual(first.clients, [0], 'both bad clients were out of sse.clients')
  assert.deepEqual(first.destroyed, [true, true], 'and their responses destroyed')
  assert.equal(first.goodText, 'id: 0\ndata: x\n\n', 'the good client was written')
  assert.deepEqual(report.after, 'id: 0\ndata: x\n\nid: 0\ndata: y\n\n', 'and is served afterwards')
})

test('a broken connection (EPIPE/ECONNRESET) is removed as on close, without a drop or an exception', { skip: !native.DIRECT }, async (t) => {
  const srv = await sseServer(sse)
  t.after(() => srv.close())
  const [raw, client] = await srv.open()
  const [otherRaw, other] = await srv.open()
  const drops = []
  const onDrop = (c) => drops.push(c)
  sse.on('drop', onDrop)
  t.after(() => sse.off('drop', onDrop))
  const reasons = []
  const onRemove = (c, info) => {
    if (c === client) reasons.push(info.reason)
  }
  sse.on('remove', onRemove)
  t.after(() => sse.off('remove', onRemove))
  // Node stops reading this socket, so only a write can find out it broke. (A detached
  // client, under SIMPLE_SSE_RS_DETACH=1, has no Node socket: Rust alone writes it.)
  if (!client.detached) client.res.socket.pause()
  sse.send(client, 'first')
  await raw.until('data: first\n\n')
  raw.socket.resetAndDestroy()
  await until(() => {
    sse.send(client, 'more')
    sse.send(other, 'tick')
    return !sse.clients.includes(client)
  }, 'the broken client is removed')
  assert.deepEqual(drops, [])
  assert.deepEqual(reasons, ['closed'])
  if (client.detached) assert.equal(client.res, null)
  else assert.equal(client.res.destroyed, true)
  await otherRaw.until('data: tick\n\n')
  assert.ok(sse.clients.includes(other))
  otherRaw.close()
})

test('direct clients cost no descriptor of their own: 350 under `ulimit -n 400`, every one written by Rust', { skip: !native.DIRECT ? 'no direct writes here' : FRAMED && 'the framed path is forced' }, async (t) => {
  // The process itself holds ~25 descriptors; a second descriptor per client would need ~725.
  const CLIENTS = 350
  let child
  const replies = new Map()
  const reply = (type) => new Promise((resolve) => replies.set(type, resolve))
  const listening = reply('listening')
  const run = runNode(path.join(__dirname, 'fixtures', 'rel-fdlimit-server.js'), [], {
    command: 'ulimit -n 400 && exec "$@"',
    timeoutMs: 60000,
    onMessage(msg, proc) {
      child = proc
      const resolve = replies.get(msg.type)
      if (resolve) {
        replies.delete(msg.type)
        resolve(msg)
      }
    },
  })
  const { port } = await within(listening, 10000, 'the child listens')
  const raws = []
  t.after(() => raws.forEach((r) => r.close()))
  for (let i = 0; i < CLIENTS; i++) raws.push(await within(connect(port), 5000, `client ${i} connects`))
  const broadcast = reply('broadcast')
  child.send({ type: 'broadcast' })
  await broadcast
  await within(Promise.all(raws.map((r) => r.until('data: hello\n\n'))), 10000, 'every client gets the broadcast')
  const stats = reply('stats')
  child.send({ type: 'stats' })
  const { clients, resWrites, viaNode, fds } = await stats
  assert.equal(clients, CLIENTS)
  assert.equal(resWrites, 0, 'no client went through res.write')
  assert.equal(viaNode, 0, 'Node wrote to no client socket: Rust wrote them all')
  if (fds !== null) assert.ok(fds < CLIENTS + 40, `${fds} descriptors open for ${CLIENTS} clients`)
  child.send({ type: 'exit' })
  raws.forEach((r) => r.close())
  const out = await run
  assert.equal(out.stderr, '')
})

test('Rust lets go of a descriptor before Node closes it: a number reused at once gets nothing', { skip: !native.DIRECT }, async (t) => {
  const { spawn } = require('node:child_process')
  // About Node's own descriptor: stays attached under SIMPLE_SSE_RS_DETACH.
  const srv = await sseServer(sse, undefined, ATTACHED)
  t.after(() => srv.close())
  let reused = 0
  for (let attempt = 0; attempt < 5; attempt++) {
    const [raw, client] = await srv.open()
    sse.send(client, 'first')
    await raw.until('data: first\n\n')
    const fd = client.res.socket._handle.fd
    // In one synchronous stretch: Node closes the socket (the client is removed within
    // destroy(), and Rust let go of the number first), a new connection takes the lowest free descriptor
    // number (the parent end of the child's stdin, a socketpair), and a broadcast is
    // flushed. A write to the old number would reach the child, which echoes it.
    client.res.socket.destroy()
    const child = spawn(process.execPath, ['-e', 'process.stdin.pipe(process.stdout)'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    })
    if (child.stdin._handle.fd === fd) reused++
    sse.broadcast('*', 'not for the child')
    sse.flush()
    child.stdin.end()
    let echoed = ''
    child.stdout.setEncoding('latin1')
    child.stdout.on('data', (s) => (echoed += s))
    await new Promise((resolve) => child.once('close', resolve))
    assert.equal(echoed, '', 'nothing reached the connection that reused the number')
    raw.close()
    await until(() => !sse.clients.includes(client), 'the closed client is removed')
  }
  assert.ok(reused > 0, 'the descriptor number was reused at least once (else this test proves nothing)')
  t.diagnostic(`number reused in ${reused} of 5 attempts`)
})

test('after res.end() the keep-alive socket carries the next response untouched', async (t) => {
  let sseClient = null
  const srv = await listen((req, res) => {
    // About the app's own res.end and the socket Node keeps: stays attached under
    // SIMPLE_SSE_RS_DETACH. The other client is added as any other (detached there).
    if (req.url === '/events') sseClient = sse.add(req, res, ATTACHED)
    else if (req.url === '/other') sse.add(req, res)
    else res.end('plain body')
  })
  t.after(() => srv.close())
  const [otherRaw] = await Promise.all([connect(srv.port, '/other')])
  const socket = net.connect(srv.port, '127.0.0.1')
  let text = ''
  socket.setEncoding('latin1')
  socket.on('data', (s) => (text += s))
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n')
  await until(() => text.includes('\r\n\r\n'), 'the SSE headers')
  const client = sseClient
  sse.send(client, 'before')
  await until(() => text.includes('data: before\n\n'), 'the first event')
  // Queued, then ended in the same tick: delivered, then the response ends.
  sse.send(client, 'last')
  client.res.end()
  // Broadcasts keep going to the other client while the socket is reused.
  const stop = keepBroadcasting(() => 'not for the second response')
  await until(() => text.includes('0\r\n\r\n'), 'the end of the SSE response')
  const cut = text.indexOf('0\r\n\r\n') + 5
  socket.write('GET /plain HTTP/1.1\r\nHost: x\r\n\r\n')
  await until(() => text.endsWith('plain body'), 'the second response')
  for (let i = 0; i < 20; i++) await turn()
  stop()
  assert.ok(text.slice(0, cut).includes('data: last\n\n'), 'what was queued before end arrived')
  const second = text.slice(cut)
  assert.match(second, /^HTTP\/1\.1 200 OK\r\n/)
  assert.ok(second.endsWith('\r\n\r\nplain body'), JSON.stringify(second))
  assert.ok(!second.includes('tick'), 'no SSE frame in the second response')
  socket.destroy()
  otherRaw.close()
})

test('one 512 KB broadcast with a heartbeat in the same turn to 400 stalled readers holds the body once', async (t) => {
  const srv = await sseServer(sse)
  t.after(() => srv.close())
  sse.maxPendingBytes = 64 * MiB
  t.after(() => {
    sse.maxPendingBytes = DEFAULT_CAP
  })
  const raws = []
  for (let i = 0; i < 400; i++) {
    const [raw] = await srv.open()
    raw.socket.pause()
    raws.push(raw)
  }
  t.after(() => raws.forEach((r) => r.close()))
  // Fill every socket first, so the body waits in the server.
  const filler = 'f'.repeat(64 * 1024)
  for (let i = 0; i < 64; i++) {
    sse.broadcast('*', filler)
    await turn()
  }
  global.gc?.()
  const before = process.memoryUsage().rss
  const body = 'b'.repeat(512 * 1024)
  sse.sendHeartbeat()
  sse.broadcast('*', body)
  sse.send(srv.added[0], 'and one more frame for one client')
  for (let i = 0; i < 5; i++) await turn()
  const growth = process.memoryUsage().rss - before
  assert.ok(growth < 64 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB (a copy per client would be 200 MiB)`)
  t.diagnostic(`RSS growth ${(growth / MiB).toFixed(1)} MiB for 400 × 512 KB`)
  assert.equal(sse.clients.length, 400, 'nobody dropped')
})

test('http.request through a real Agent (keep-alive) still works next to SSE clients', async (t) => {
  // A sanity check that direct writes never touch sockets they do not own.
  const srv = await listen((req, res) => {
    if (req.url === '/events') sse.add(req, res)
    else res.end(`hello ${req.url}`)
  })
  t.after(() => srv.close())
  const raws = await Promise.all(Array.from({ length: 20 }, () => connect(srv.port, '/events')))
  t.after(() => raws.forEach((r) => r.close()))
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 })
  t.after(() => agent.destroy())
  const stop = keepBroadcasting(() => 'x')
  for (let i = 0; i < 100; i++) {
    const body = await new Promise((resolve, reject) => {
      http
        .get({ port: srv.port, host: '127.0.0.1', path: `/p${i}`, agent }, (res) => {
          let s = ''
          res.setEncoding('utf8')
          res.on('data', (d) => (s += d))
          res.on('end', () => resolve(s))
        })
        .on('error', reject)
    })
    assert.equal(body, `hello /p${i}`)
  }
  stop()
})
