'use strict'
// Detached connections (`add(req, res, { detach: true })`, `sse.detach`): after the
// headers, Rust keeps its own duplicate of a plain HTTP/1.1 connection's descriptor and
// Node's socket, parser, request and response are released. Every API on detached clients
// against real node:http and Express servers with raw SSE clients and exact bytes; the
// peer leaving noticed within 100 ms; close() and remove() ending the stream; the
// slow-reader rule; replays; what cannot be detached staying attached; 10,000 cycles
// leaving no descriptor, thread or memory behind. detached-suites.test.js reruns the
// fidelity, api, delivery and history suites with SIMPLE_SSE_RS_DETACH=1.

const { test, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const https = require('node:https')
const http2 = require('node:http2')
const net = require('node:net')
const path = require('node:path')
const { once } = require('node:events')
const express = require('express')
const compression = require('compression')
const sse = require('..')
const native = require('../lib/binding')
const { listen, connect, within } = require('./helpers')

const SKIP = native.DETACH ? false : 'this platform does not detach connections'
const HEADERS_ORDER = ['x-accel-buffering', 'content-type', 'cache-control', 'connection']

after(() => sse.close())
afterEach(() => {
  sse.close()
  sse.detach = false
  sse.heartbeat = 20000
  sse.history = 0
  sse.maxPendingBytes = 1024 * 1024
})

/**
 * A node:http server adding every request as a client, detached unless the path starts
 * with /attached; `open(path)` resolves with [raw client, sse client].
 */
async function server(onClient = () => {}, handler = null) {
  const byPort = new Map()
  const srv = await listen(
    handler ??
      ((req, res) => {
        const port = req.socket.remotePort
        const client = sse.add(req, res, { detach: !req.url.startsWith('/attached') })
        byPort.set(port, client)
        onClient(client, req, res)
      }),
  )
  return {
    ...srv,
    async open(path = '/', options = {}) {
      const raw = await connect(srv.port, path, options)
      const client = byPort.get(raw.socket.localPort)
      assert.ok(client, 'the server added the client')
      return [raw, client]
    },
  }
}

/** The next 'remove' of `client`: resolves with [reason, ms since `since`]. */
function removal(client, since = () => 0) {
  return within(
    new Promise((resolve) => {
      const listener = (c, info) => {
        if (c !== client) return
        sse.off('remove', listener)
        resolve([info.reason, performance.now() - since()])
      }
      sse.on('remove', listener)
    }),
    5000,
    `'remove' for client ${client.id}`,
  )
}

/** A few GCs and turns, so that what was freed is returned. */
async function settle() {
  require('node:v8').setFlagsFromString('--expose-gc')
  const gc = require('node:vm').runInNewContext('gc')
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

function openFds() {
  return fs.readdirSync('/proc/self/fd').length
}

function threads() {
  return fs.readdirSync('/proc/self/task').length
}

/** The raw bytes after the response headers. */
function bodyBytes(raw) {
  return raw.raw.subarray(raw.raw.indexOf('\r\n\r\n') + 4).toString('latin1')
}

test('the binding says whether it detaches connections (Unix)', () => {
  assert.equal(native.DETACH, process.platform !== 'win32')
})

test('a detached client: same headers, res null, its turns as HTTP/1.1 chunks with the exact frames', { skip: SKIP }, async (t) => {
  const srv = await server()
  t.after(() => srv.close())
  const [attached] = await srv.open('/attached')
  const [raw, client] = await srv.open('/')
  assert.equal(client.detached, true)
  assert.equal(client.kind, 'detached')
  assert.equal(client.res, null)
  assert.deepEqual(Object.keys(client), ['id', 'rooms', 'res'])
  assert.ok(client instanceof sse.Client)
  // The same headers, in the same order, as an attached client's.
  const names = (r) => r.raw.toString('latin1').split('\r\n\r\n')[0].split('\r\n').slice(1).map((l) => l.split(':')[0].toLowerCase())
  assert.deepEqual(names(raw), names(attached))
  assert.deepEqual(names(raw).filter((n) => HEADERS_ORDER.includes(n)), HEADERS_ORDER)
  assert.equal(raw.headers['transfer-encoding'], 'chunked')

  const id = client.id
  sse.send(client, 'hello', 'line 1\nline 2')
  sse.setRetry(client, 1500)
  await raw.until('retry: 1500')
  // One turn, one chunk.
  const turn1 = `id: ${id}\nevent: hello\ndata: line 1\ndata: line 2\n\nid: ${id}\nretry: 1500\n\n`
  assert.equal(bodyBytes(raw), `${Buffer.byteLength(turn1).toString(16)}\r\n${turn1}\r\n`)
  sse.join(client, 'news')
  sse.broadcast('news', 'item', { n: 1, s: 'é😀' })
  sse.broadcast('other', 'nope', 'x')
  sse.sendHeartbeat()
  const big = 'b'.repeat(5000) // shared, not copied, past 4 KiB
  sse.broadcast('*', big)
  await raw.until(big)
  await attached.until(big)
  assert.equal(
    raw.text,
    `${turn1}id: ${id}\nevent: item\ndata: {"n":1,"s":"é😀"}\n\n:heartbeat signal\n\nid: ${id}\ndata: ${big}\n\n`,
  )
  assert.ok(!attached.text.includes('item') && attached.text.includes(big), 'the attached client got "*" only')
  attached.close()
  raw.close()
})

test('rooms, in, leave, client.rooms, getClient, sse.clients and stats() work the same', { skip: SKIP }, async (t) => {
  const srv = await server()
  t.after(() => srv.close())
  const [raw, client] = await srv.open()
  assert.equal(sse.join(client, 'a'), true)
  assert.equal(sse.join(client, 7), true)
  assert.equal(sse.join(client, 'a'), false)
  assert.equal(sse.in(client, 'a'), true)
  assert.equal(sse.in(client.id, 7), true)
  assert.deepEqual(client.rooms, ['a', 7])
  sse.leave(client, 'a')
  assert.deepEqual(client.rooms, [7])
  client.rooms = ['x', 'y']
  assert.deepEqual(client.rooms, ['x', 'y'])
  assert.equal(sse.getClient(client.id), client)
  assert.ok(sse.clients.includes(client))
  const stats = sse.stats()
  assert.equal(stats.clients, 1)
  assert.deepEqual(stats.rooms.map((r) => [r.room, r.members]).sort(), [['x', 1], ['y', 1]])
  const sent = stats.eventsSent
  sse.broadcast('y', 'e', 'data')
  sse.flush()
  await raw.until('data: data')
  assert.equal(sse.stats().eventsSent, sent + 1)
  assert.ok(sse.stats().bytesSent > 0)
  assert.equal(sse.stats().pendingBytes, 0)
  raw.close()
})

test("Node's request and response close at once; the client stays connected; 'add' sees it detached", { skip: SKIP }, async (t) => {
  const seen = []
  const onAdd = (c) => seen.push([c.id, c.detached])
  sse.on('add', onAdd)
  t.after(() => sse.off('add', onAdd))
  let reqClosed = null
  let resClosed = null
  const srv = await server((client, req, res) => {
    // (Not `once`, which rejects on 'error': a request whose connection Node lets go of
    // emits 'aborted', as on any disconnect, and 'error' to its listeners if it has any.)
    reqClosed = new Promise((resolve) => req.on('close', resolve))
    resClosed = new Promise((resolve) => res.on('close', resolve))
  })
  t.after(() => srv.close())
  const [raw, client] = await srv.open()
  await within(Promise.all([reqClosed, resClosed]), 2000, "req/res 'close'")
  assert.deepEqual(seen, [[client.id, true]])
  assert.ok(sse.clients.includes(client), 'still registered')
  sse.send(client, 'still here')
  await raw.until('data: still here')
  assert.equal(raw.ended, false)
  raw.close()
})

test('the peer leaving is noticed within 100 ms: closing, a reset, bytes after the request', { skip: SKIP }, async (t) => {
  const srv = await server()
  t.after(() => srv.close())
  const times = []
  for (const how of ['end', 'destroy', 'reset', 'bytes']) {
    for (let i = 0; i < 3; i++) {
      const [raw, client] = await srv.open()
      let at = 0
      const gone = removal(client, () => at)
      at = performance.now()
      if (how === 'end') raw.socket.end()
      else if (how === 'destroy') raw.socket.destroy()
      else if (how === 'reset') raw.socket.resetAndDestroy()
      else raw.socket.write('GET /next HTTP/1.1\r\nHost: x\r\n\r\n')
      const [reason, ms] = await gone
      assert.equal(reason, 'closed', how)
      times.push(ms)
      assert.ok(ms < 100, `${how}: noticed after ${ms.toFixed(1)} ms`)
      assert.ok(!sse.clients.includes(client))
      raw.close()
    }
  }
  t.diagnostic(`disconnect noticed after ${Math.max(...times).toFixed(1)} ms at most (${times.length} disconnects)`)
})

test('sse.close() writes what is queued, then the terminating chunk, then closes (reason shutdown)', { skip: SKIP }, async (t) => {
  const srv = await server()
  t.after(() => srv.close())
  const [raw, client] = await srv.open()
  const [raw2, client2] = await srv.open()
  const reasons = [removal(client), removal(client2)]
  sse.send(client, 'last', 'words')
  sse.close()
  await raw.closed()
  await raw2.closed()
  const frame = `id: ${client.id}\nevent: last\ndata: words\n\n`
  assert.equal(bodyBytes(raw), `${Buffer.byteLength(frame).toString(16)}\r\n${frame}\r\n0\r\n\r\n`)
  assert.equal(bodyBytes(raw2), '0\r\n\r\n')
  assert.deepEqual((await Promise.all(reasons)).map((r) => r[0]), ['shutdown', 'shutdown'])
  assert.equal(sse.clients.length, 0)
})

test('sse.remove() ends a detached stream the same way (reason removed)', { skip: SKIP }, async (t) => {
  const srv = await server()
  t.after(() => srv.close())
  const [raw, client] = await srv.open()
  const gone = removal(client)
  sse.send(client, 'kicked', 'bye')
  assert.equal(sse.remove(client), true)
  assert.equal(sse.remove(client), false)
  assert.equal((await gone)[0], 'removed')
  await raw.closed()
  const frame = `id: ${client.id}\nevent: kicked\ndata: bye\n\n`
  assert.equal(bodyBytes(raw), `${Buffer.byteLength(frame).toString(16)}\r\n${frame}\r\n0\r\n\r\n`)
  // A removed client object does nothing.
  sse.send(client, 'ignored')
  assert.equal(sse.join(client, 'a'), false)
})

// Node's socket is released a tick after `add` (its parser finishes the request first):
// what the app writes or ends on the response it added, then or later, goes through Rust,
// in the stream's order, never as Node's own bytes beside Rust's.
test("the app's own res.write and res.end after add go to Rust, in order; end ends the stream once", { skip: SKIP }, async (t) => {
  const written = []
  let firstRes = null
  let gone = null
  const srv = await server((client, req, res) => {
    if (req.url === '/end-now') {
      // In the add turn, with an event queued: the event, then one terminating chunk.
      sse.send(client, 'first')
      res.end()
      return
    }
    firstRes = res
    gone = removal(client)
    res.write(':hi\n\n', 'utf8', (err) => written.push(err))
    sse.send(client, 'x')
    res.write(Buffer.from('retry: 5\n\n'))
    setImmediate(() => {
      res.write(new Uint8Array(Buffer.from(':later\n\n')))
      sse.send(client, 'y')
      assert.throws(() => res.write(42), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
      assert.throws(() => res.write(null), { name: 'TypeError', code: 'ERR_STREAM_NULL_VALUES' })
      res.end(':bye\n\n', () => written.push('ended'))
    })
  })
  t.after(() => srv.close())

  const [raw, client] = await srv.open('/')
  await raw.closed()
  assert.equal((await gone)[0], 'removed')
  const id = client.id
  assert.equal(raw.text, `:hi\n\nid: ${id}\ndata: x\n\nretry: 5\n\n:later\n\nid: ${id}\ndata: y\n\n:bye\n\n`)
  assert.ok(bodyBytes(raw).endsWith('\r\n0\r\n\r\n'), 'the terminating chunk ends the stream')
  assert.equal(bodyBytes(raw).indexOf('0\r\n\r\n'), bodyBytes(raw).length - 5, 'once')
  assert.deepEqual(written, [null, 'ended'])
  // Gone: a write is refused as Node refuses one to a destroyed stream.
  const late = await new Promise((resolve) => assert.equal(firstRes.write('z', resolve), false))
  assert.equal(late.code, 'ERR_STREAM_DESTROYED')

  const [raw2, client2] = await srv.open('/end-now')
  await raw2.closed()
  const frame = `id: ${client2.id}\ndata: first\n\n`
  assert.equal(bodyBytes(raw2), `${Buffer.byteLength(frame).toString(16)}\r\n${frame}\r\n0\r\n\r\n`)
  assert.equal(sse.clients.length, 0)
})

test('server.close() does not wait for detached clients; sse.close() ends them', { skip: SKIP }, async () => {
  const srv = http.createServer((req, res) => sse.add(req, res, { detach: true }))
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const raw = await connect(srv.address().port)
  await within(new Promise((resolve) => srv.close(resolve)), 2000, 'server.close()')
  assert.equal(sse.clients.length, 1)
  sse.broadcast('*', 'after server.close')
  await raw.until('after server.close')
  sse.close()
  await raw.closed()
  assert.ok(bodyBytes(raw).endsWith('\r\n0\r\n\r\n'))
})

test('Express: a detached client gets its events', { skip: SKIP }, async (t) => {
  const app = express()
  app.get('/events/:room', (req, res) => {
    const client = sse.add(req, res, { detach: true })
    sse.join(client, req.params.room)
    sse.send(client, 'welcome', { detached: client.detached })
  })
  const srv = await listen(app)
  t.after(() => srv.close())
  const raw = await connect(srv.port, '/events/lobby')
  await raw.until('"detached":true')
  sse.broadcast('lobby', 'msg', 'hi')
  await raw.until('data: hi')
  assert.equal(raw.text, 'id: 0\nevent: welcome\ndata: {"detached":true}\n\nid: 0\nevent: msg\ndata: hi\n\n'.replaceAll('id: 0', `id: ${sse.clients[0].id}`))
  raw.close()
})

test('sse.detach = true makes it the default, { detach: false } overrides it, and only booleans are taken', { skip: SKIP }, async (t) => {
  assert.equal(sse.detach, false)
  assert.throws(() => {
    sse.detach = 'yes'
  }, /TypeError: sse\.detach must be a boolean, got string/)
  const srv = await listen((req, res) => {
    const options = req.url === '/no' ? { detach: false } : req.url === '/bad' ? { detach: 1 } : undefined
    try {
      sse.add(req, res, options)
    } catch (err) {
      res.writeHead(500).end(err.message)
    }
  })
  t.after(() => srv.close())
  sse.detach = true
  await connect(srv.port, '/')
  await connect(srv.port, '/no')
  assert.deepEqual(sse.clients.map((c) => c.detached), [true, false])
  const bad = await connect(srv.port, '/bad')
  assert.equal(bad.status, 500)
  await bad.closed()
  assert.match(bad.text, /options\.detach must be a boolean, got number/)
  assert.throws(() => sse.add({}, { writeHead() {} }, 'detach'), /TypeError: options must be an object/)
  assert.equal(sse.clients.length, 2, 'nothing registered by a throw')
})

test('a slow reader is judged as any other: dropped past maxPendingBytes, then the connection closes', { skip: SKIP }, async (t) => {
  const srv = await server()
  t.after(() => srv.close())
  const [raw, client] = await srv.open()
  sse.maxPendingBytes = 64 * 1024
  raw.socket.pause()
  const drops = []
  const onDrop = (c, info) => drops.push([c.id, info.reason, info.maxPendingBytes])
  sse.on('drop', onDrop)
  t.after(() => sse.off('drop', onDrop))
  const gone = removal(client)
  let removed = false
  gone.then(() => (removed = true))
  for (let i = 0; !removed; i++) {
    sse.send(client, 'x'.repeat(16 * 1024))
    await new Promise((resolve) => setImmediate(resolve))
    assert.ok(i < 20000, 'dropped')
  }
  assert.equal((await gone)[0], 'dropped')
  assert.deepEqual(drops, [[client.id, 'slow', 64 * 1024]])
  assert.equal(sse.stats().pendingBytes, 0, 'nothing kept')
  raw.socket.resume()
  await raw.closed()
})

test('a reader that keeps reading gets a burst far larger than its socket in full, in order', { skip: SKIP }, async (t) => {
  const srv = await server()
  t.after(() => srv.close())
  const [raw, client] = await srv.open()
  sse.maxPendingBytes = 64 * 1024
  const dropped = sse.stats().dropped
  // 8 MB in one turn, refused by the socket and written by Rust as the reader reads.
  const parts = []
  for (let i = 0; i < 128; i++) parts.push(`${i}:${'p'.repeat(64 * 1024)}`)
  for (const p of parts) sse.send(client, p)
  // A reader taking 256 KiB every 5 ms.
  raw.socket.pause()
  const pump = setInterval(() => {
    raw.socket.resume()
    setImmediate(() => raw.socket.pause())
  }, 5)
  t.after(() => clearInterval(pump))
  await raw.until(`127:${'p'.repeat(64 * 1024)}\n\n`, 30000)
  clearInterval(pump)
  raw.socket.resume()
  const want = parts.map((p) => `id: ${client.id}\ndata: ${p}\n\n`).join('')
  assert.equal(raw.text.length, want.length)
  assert.ok(raw.text === want, 'every byte in order')
  assert.equal(sse.stats().dropped, dropped)
  assert.ok(sse.clients.includes(client))
  raw.close()
})

test('history and Last-Event-ID: a detached client gets the replay, then live broadcasts, ids in order', { skip: SKIP }, async (t) => {
  sse.history = 100
  const srv = await server((client) => sse.join(client, 'news'))
  t.after(() => srv.close())
  sse.broadcast('news', 'a')
  const first = sse.stats().history.newestId
  sse.broadcast('news', 'b')
  sse.broadcast('*', 'c')
  const [raw, client] = await srv.open('/', { headers: { 'Last-Event-ID': first } })
  assert.equal(client.detached, true)
  sse.broadcast('news', 'd')
  await raw.until('data: d', 5000)
  const ids = [...raw.text.matchAll(/^id: (.*)$/gm)].map((m) => m[1])
  const data = [...raw.text.matchAll(/^data: (.*)$/gm)].map((m) => m[1])
  assert.deepEqual(data, ['b', 'c', 'd'])
  assert.equal(new Set(ids).size, 3)
  raw.close()
})

test('the heartbeat timer reaches detached clients', { skip: SKIP }, async (t) => {
  sse.heartbeat = 20
  const srv = await server()
  t.after(() => srv.close())
  const [raw] = await srv.open()
  await raw.until(':heartbeat signal\n\n:heartbeat signal\n\n')
  raw.close()
})

test('a descriptor number a detached client used, reused by a new connection at once, gets nothing', { skip: SKIP }, async (t) => {
  const srv = await server()
  t.after(() => srv.close())
  // A second server that never answers: its connections only receive what leaks.
  const silent = net.createServer(() => {})
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  t.after(() => silent.close())
  const listeners = []
  for (let round = 0; round < 20; round++) {
    const [raw, client] = await srv.open()
    const [, other] = await srv.open()
    const gone = removal(client)
    raw.close()
    await gone
    // New connections (server side: new descriptors, the freed numbers among them).
    const peers = await Promise.all(
      Array.from({ length: 4 }, () => new Promise((resolve) => {
        const s = net.connect(silent.address().port, '127.0.0.1', () => resolve(s))
      })),
    )
    for (const p of peers) {
      p.got = ''
      p.on('data', (d) => (p.got += d))
      listeners.push(p)
    }
    sse.broadcast('*', 'leak?')
    sse.flush()
    sse.remove(other)
  }
  await new Promise((resolve) => setTimeout(resolve, 50))
  for (const p of listeners) {
    assert.equal(p.got, '')
    p.destroy()
  }
})

test('what cannot be detached stays attached and works: TLS, compression, an unread body, HTTP/2', { skip: SKIP }, async (t) => {
  const fixtures = path.join(__dirname, 'fixtures')
  const seen = []
  const handler = (req, res) => {
    const client = sse.add(req, res, { detach: true })
    seen.push(client)
    sse.send(client, 'detached', String(client.detached))
  }
  // TLS
  const tlsServer = https.createServer(
    { key: fs.readFileSync(path.join(fixtures, 'tls-key.pem')), cert: fs.readFileSync(path.join(fixtures, 'tls-cert.pem')) },
    handler,
  )
  tlsServer.listen(0, '127.0.0.1')
  await once(tlsServer, 'listening')
  t.after(() => tlsServer.close())
  const tlsText = await new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port: tlsServer.address().port, rejectUnauthorized: false }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d) => {
        text += d
        if (text.includes('\n\n')) {
          resolve(text)
          req.destroy()
        }
      })
    })
    req.on('error', reject)
  })
  assert.match(tlsText, /data: false/)
  // compression wraps res.write
  const app = express()
  app.use(compression({ threshold: 0 }))
  app.get('/', handler)
  const compressed = await listen(app)
  t.after(() => compressed.close())
  const raw = await connect(compressed.port, '/', { headers: { 'Accept-Encoding': 'identity' } })
  await raw.until('data: false')
  raw.close()
  // a request whose body was not read
  const plain = await listen(handler)
  t.after(() => plain.close())
  const posted = net.connect(plain.port, '127.0.0.1')
  t.after(() => posted.destroy())
  let got = ''
  posted.on('data', (d) => (got += d))
  posted.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${'z'.repeat(1000)}`)
  await within(new Promise((resolve) => {
    const check = () => (got.includes('data: false') ? resolve() : setTimeout(check, 5))
    check()
  }), 5000, 'the POST client event')
  // HTTP/2
  const h2 = http2.createServer(handler)
  h2.listen(0, '127.0.0.1')
  await once(h2, 'listening')
  t.after(() => h2.close())
  const session = http2.connect(`http://127.0.0.1:${h2.address().port}`)
  t.after(() => session.destroy())
  const stream = session.request({ ':path': '/' })
  let h2text = ''
  stream.setEncoding('utf8')
  await within(new Promise((resolve) => stream.on('data', (d) => {
    h2text += d
    if (h2text.includes('\n\n')) resolve()
  })), 5000, 'the HTTP/2 event')
  assert.match(h2text, /data: false/)
  assert.equal(seen.length, 4)
  for (const client of seen) {
    assert.equal(client.detached, false)
    assert.equal(client.kind, 'node')
    assert.notEqual(client.res, null)
  }
})

test('10,000 detach/close cycles leave no descriptor, no thread and no memory behind', { skip: SKIP, timeout: 300000 }, async (t) => {
  const srv = await server()
  t.after(() => srv.close())
  const waiting = new Map()
  const onRemove = (c, info) => {
    const done = waiting.get(c)
    if (done !== undefined) done(info.reason)
  }
  sse.on('remove', onRemove)
  t.after(() => sse.off('remove', onRemove))
  const cycle = async () => {
    const [raw, client] = await srv.open()
    assert.equal(client.detached, true)
    const gone = new Promise((resolve) => waiting.set(client, resolve))
    raw.close()
    assert.equal(await gone, 'closed')
    waiting.delete(client)
  }
  const run = async (n, width = 50) => {
    for (let i = 0; i < n; i += width) await Promise.all(Array.from({ length: Math.min(width, n - i) }, cycle))
  }
  // Warm-up: the reactor thread starts with the first detach and stays (one per hub), and
  // V8's heap and malloc's arenas grow to what this many connections in a row need (as
  // many attached cycles take the process to the same RSS).
  await run(10000)
  await settle()
  const fds = openFds()
  const tasks = threads()
  const heap = process.memoryUsage().heapUsed
  const rss = process.memoryUsage().rss
  const started = performance.now()
  await run(10000)
  await settle()
  assert.equal(sse.clients.length, 0)
  assert.equal(openFds(), fds, 'descriptors')
  assert.equal(threads(), tasks, 'threads')
  const heapGrowth = process.memoryUsage().heapUsed - heap
  const rssGrowth = process.memoryUsage().rss - rss
  t.diagnostic(`10,000 cycles in ${((performance.now() - started) / 1000).toFixed(1)} s; heap ${(heapGrowth / 1024).toFixed(0)} KiB, rss ${(rssGrowth / 1024).toFixed(0)} KiB`)
  assert.ok(heapGrowth < 8 * 1024 * 1024, `heap grew by ${heapGrowth} bytes`)
  assert.ok(rssGrowth < 16 * 1024 * 1024, `rss grew by ${rssGrowth} bytes`)
})
