'use strict'
// sse.add(request) with a Fetch API Request, in process (Node's own Request/Response):
// the Response, the exact bytes its body streams, frames waiting in Rust until the stream
// pulls them (and the limit on what waits), replays, and every way the client is removed.
// fetch-servers.test.js runs the same API behind real servers (Hono, Next.js, Bun, Deno).

const { test, beforeEach, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const sse = require('..')
const { STALE_HEARTBEATS } = require('../lib/fetch')

const decoder = new TextDecoder()

function request(path = '/events', init = {}) {
  return new Request(`http://127.0.0.1${path}`, init)
}

/** Reads a body into `text`; `until(s)` resolves once the text includes `s` (or, with a number, has that many bytes). */
function reader(response) {
  const r = response.body.getReader()
  const out = {
    text: '',
    done: false,
    reads: 0,
    async until(want) {
      const enough = () => (typeof want === 'number' ? out.text.length >= want : out.text.includes(want))
      while (!enough()) {
        if (out.done) throw new Error(`the body ended before ${JSON.stringify(want)}: ${JSON.stringify(out.text)}`)
        await out.read()
      }
      return out.text
    },
    async read() {
      out.reads++
      const { value, done } = await r.read()
      if (done) out.done = true
      else out.text += decoder.decode(value, { stream: true })
      return !done
    },
    async end() {
      while (await out.read());
      return out.text
    },
    cancel: () => r.cancel(),
  }
  return out
}

beforeEach(() => {
  sse.heartbeat = 0
  sse.history = 0
  sse.maxPendingBytes = 1024 * 1024
})

afterEach(() => {
  sse.close()
  sse.removeAllListeners()
})

test('add(request) returns the client; its res is a 200 Response with the SSE headers', () => {
  const added = []
  sse.on('add', (c) => added.push(c))
  const client = sse.add(request())
  assert.equal(sse.clients[0], client)
  assert.deepEqual(added, [client])
  assert.equal(client.kind, 'fetch')
  assert.equal(client.detached, false)
  assert.ok(client.res instanceof Response)
  assert.equal(client.res.status, 200)
  assert.deepEqual(Object.fromEntries(client.res.headers), {
    'cache-control': 'no-cache',
    'content-type': 'text/event-stream',
    'x-accel-buffering': 'no',
  })
  assert.deepEqual(Object.keys(client), ['id', 'rooms', 'res'])
  assert.equal(sse.stats().clients, 1)
})

test('a request-like object of another runtime is recognised by shape; anything else still throws', () => {
  const fake = {
    url: 'http://127.0.0.1/events',
    method: 'GET',
    headers: { get: () => null },
    signal: new AbortController().signal,
  }
  const client = sse.add(fake)
  assert.ok(client.res instanceof Response)
  assert.throws(() => sse.add({ url: '/events', method: 'GET', headers: {} }), /res must be the HTTP response/)
  assert.throws(() => sse.add(request(), {}), /res must be the HTTP response/)
})

test('the body streams the same bytes as the Node path, without chunk framing', async () => {
  const client = sse.add(request())
  sse.join(client, 'a')
  const body = reader(client.res)
  sse.send(client, 'welcome', { id: client.id })
  sse.setRetry(client, 3000)
  sse.broadcast('a', 'news', 'line1\nline2')
  sse.broadcast('b', 'other', 'not for a')
  sse.broadcast('*', 'all')
  sse.sendHeartbeat()
  const want =
    `id: ${client.id}\nevent: welcome\ndata: {"id":${client.id}}\n\n` +
    `id: ${client.id}\nretry: 3000\n\n` +
    `id: ${client.id}\nevent: news\ndata: line1\ndata: line2\n\n` +
    `id: ${client.id}\ndata: all\n\n` +
    ':heartbeat signal\n\n'
  assert.equal(await body.until(want.length), want)
  assert.equal(sse.stats().eventsSent, 5)
})

test('rooms: a broadcast reaches the members of its room only', async () => {
  const a = sse.add(request())
  const b = sse.add(request())
  sse.join(a, 'red')
  sse.join(b, 'blue')
  const ra = reader(a.res)
  const rb = reader(b.res)
  sse.broadcast('red', 'x', 'to red')
  sse.broadcast('blue', 'x', 'to blue')
  assert.equal(await ra.until(`id: ${a.id}\nevent: x\ndata: to red\n\n`), `id: ${a.id}\nevent: x\ndata: to red\n\n`)
  assert.equal(await rb.until(`id: ${b.id}\nevent: x\ndata: to blue\n\n`), `id: ${b.id}\nevent: x\ndata: to blue\n\n`)
  assert.deepEqual(a.rooms, ['red'])
})

test('frames wait in Rust until the stream pulls them: several sends arrive in one read', async () => {
  const client = sse.add(request())
  const body = reader(client.res)
  for (let i = 0; i < 10; i++) sse.send(client, `m${i}`)
  await new Promise((resolve) => setImmediate(resolve))
  // Nothing was enqueued before the first read: it takes all ten at once.
  await body.read()
  assert.equal(body.reads, 1)
  assert.equal(body.text, Array.from({ length: 10 }, (_, i) => `id: ${client.id}\ndata: m${i}\n\n`).join(''))
})

test('what waits unpulled counts against maxPendingBytes: passing it drops the client (reason slow) and ends its body', async () => {
  sse.maxPendingBytes = 1000
  const slow = sse.add(request())
  const fast = sse.add(request())
  const rf = reader(fast.res)
  const dropped = []
  sse.on('drop', (client, info) => dropped.push([client.id, info]))
  const line = 'x'.repeat(100)
  for (let i = 0; i < 20; i++) {
    sse.broadcast('*', line)
    await rf.until(`data: ${line}\n\n`.repeat(i + 1).length)
  }
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(dropped, [[slow.id, { reason: 'slow', maxPendingBytes: 1000 }]])
  assert.deepEqual(sse.clients, [fast])
  assert.equal(sse.stats().dropped, 1)
  // The slow client's body ends (its reader gets what never waited past the limit: nothing).
  assert.equal(await reader(slow.res).end(), '')
})

test('Last-Event-ID (header or ?lastEventId=) replays the missed broadcasts before anything new', async () => {
  sse.history = 10
  const first = sse.add(request())
  sse.join(first, 'r')
  const r1 = reader(first.res)
  sse.broadcast('r', 'one')
  await r1.until('data: one\n\n')
  const lastId = /id: (\S+)\ndata: one/.exec(r1.text)[1]
  sse.broadcast('r', 'two')
  sse.broadcast('other', 'not in r')
  sse.broadcast('r', 'three')
  for (const req of [
    request('/events', { headers: { 'Last-Event-ID': lastId } }),
    request(`/events?lastEventId=${encodeURIComponent(lastId)}`),
  ]) {
    const again = sse.add(req)
    sse.join(again, 'r')
    sse.send(again, 'welcome', 'back')
    const body = reader(again.res)
    const text = await body.until('data: back\n\n')
    assert.match(text, /^id: \S+\ndata: two\n\nid: \S+\ndata: three\n\nevent: welcome\ndata: back\n\n$/)
  }
})

test('the client is removed when the request signal aborts; its body ends', async () => {
  const ac = new AbortController()
  const client = sse.add(request('/events', { signal: ac.signal }))
  const body = reader(client.res)
  sse.send(client, 'hi')
  await body.until('data: hi\n\n')
  const removed = []
  sse.on('remove', (c, info) => removed.push([c, info.reason]))
  ac.abort()
  assert.deepEqual(sse.clients, [])
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(removed, [[client, 'closed']])
  assert.equal(sse.stats().clients, 0)
  await body.end()
  assert.equal(body.done, true)
  // An already aborted request is not kept either.
  const late = new AbortController()
  late.abort()
  sse.add(request('/events', { signal: late.signal }))
  assert.equal(sse.clients.length, 0)
})

test('the client is removed when its body is cancelled', async () => {
  const client = sse.add(request())
  const body = reader(client.res)
  sse.send(client, 'hi')
  await body.until('data: hi\n\n')
  await body.cancel()
  assert.equal(sse.getClient(client.id), null)
  assert.equal(sse.stats().clients, 0)
})

test(`a stream not pulled for ${STALE_HEARTBEATS} heartbeats is removed; one that reads stays`, async () => {
  const idle = sse.add(request())
  const live = sse.add(request())
  const body = reader(live.res)
  for (let i = 1; i <= STALE_HEARTBEATS; i++) {
    assert.equal(sse.getClient(idle.id), idle, `still there before heartbeat ${i}`)
    sse.sendHeartbeat()
    await body.until(':heartbeat signal\n\n'.repeat(i))
  }
  assert.equal(sse.getClient(idle.id), null)
  assert.deepEqual(sse.clients, [live])
  // The reader stops reading: removed once STALE_HEARTBEATS heartbeats found no new pull.
  sse.sendHeartbeat() // it pulled since the last one
  for (let i = 0; i < STALE_HEARTBEATS - 1; i++) sse.sendHeartbeat()
  assert.equal(sse.getClient(live.id), live)
  sse.sendHeartbeat()
  assert.equal(sse.getClient(live.id), null)
  assert.equal(sse.stats().clients, 0)
})

test('close() ends every body after what was queued; remove() too', async () => {
  const a = sse.add(request())
  const b = sse.add(request())
  sse.send(a, 'last words')
  const rb = reader(b.res)
  sse.send(b, 'queued')
  assert.equal(sse.remove(b), true)
  assert.equal(await rb.end(), `id: ${b.id}\ndata: queued\n\n`, 'what was queued, then the end')
  sse.close()
  assert.equal(await reader(a.res).end(), `id: ${a.id}\ndata: last words\n\n`)
  assert.equal(sse.stats().clients, 0)
})

test('bundled where it cannot find its addon, the loader error names bundling and the one line that fixes it', () => {
  const { execFileSync } = require('node:child_process')
  const fs = require('node:fs')
  const os = require('node:os')
  const path = require('node:path')
  // A copy of the loader away from any build or node_modules, run as webpack would run it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-bundled-'))
  try {
    fs.mkdirSync(path.join(dir, 'lib'))
    fs.copyFileSync(path.join(__dirname, '..', 'lib', 'binding.js'), path.join(dir, 'lib', 'binding.js'))
    const script =
      'globalThis.__non_webpack_require__ = require;' +
      "try { require('./lib/binding.js') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }"
    const env = { ...process.env }
    delete env.NAPI_RS_NATIVE_LIBRARY_PATH
    delete env.NAPI_RS_FORCE_WASI
    const got = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: dir, env, encoding: 'utf8' }))
    assert.equal(got.code, 'SIMPLE_SSE_RS_NO_ADDON')
    assert.match(got.message, /runs from a bundle here .*\n.*serverExternalPackages: \['simple-sse-rs'\] in next\.config/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('over HTTP/2 (Hono on node:http2) the response streams, with no header HTTP/2 forbids', async () => {
  const http2 = require('node:http2')
  const { once } = require('node:events')
  const { Hono } = require('hono')
  const { serve } = require('@hono/node-server')
  const warnings = []
  const onWarning = (w) => warnings.push(`${w.name}: ${w.message}`)
  process.on('warning', onWarning)
  const app = new Hono()
  let id = null
  app.get('/events', (c) => {
    const client = sse.add(c.req.raw)
    id = client.id
    sse.send(client, 'over h2')
    return client.res
  })
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', createServer: http2.createServer })
  await once(server, 'listening')
  const session = http2.connect(`http://127.0.0.1:${server.address().port}`)
  try {
    const req = session.request({ ':path': '/events' })
    const [headers] = await once(req, 'response')
    assert.equal(headers[':status'], 200)
    assert.equal(headers['content-type'], 'text/event-stream')
    const [data] = await once(req, 'data')
    assert.equal(String(data), `id: ${id}\ndata: over h2\n\n`)
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(warnings, [])
  } finally {
    process.off('warning', onWarning)
    session.destroy()
    sse.close()
    await new Promise((resolve) => server.close(resolve))
  }
})

const { REDIS_SERVER, startRedis, startNode, uniquePrefix } = require('./fixtures/redis-helpers')

test('Redis: a broadcast of another process reaches a Fetch client', {
  skip: REDIS_SERVER === null && !process.env.CI ? 'needs redis-server (apt-get install redis-server)' : false,
  timeout: 30000,
}, async () => {
  const redis = await startRedis()
  const prefix = uniquePrefix('fetch')
  const other = startNode({ url: redis.url, prefix })
  try {
    await sse.useRedis({ url: redis.url, prefix })
    await other.ready
    const client = sse.add(request())
    sse.join(client, 'shared')
    const body = reader(client.res)
    await other.broadcast([['shared', 'from', 'the other process']])
    assert.equal(await body.until('\n\n'), `id: ${client.id}\nevent: from\ndata: the other process\n\n`)
    assert.equal(sse.stats().redis.received, 1)
  } finally {
    await sse.closeRedis()
    await other.kill()
    await redis.kill()
  }
})

test('removed Fetch clients leave nothing behind: request, response and client are collected, no timer runs', async () => {
  const v8 = require('node:v8')
  const vm = require('node:vm')
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc')
  sse.heartbeat = 20000
  const refs = []
  await (async () => {
    for (let i = 0; i < 50; i++) {
      const ac = new AbortController()
      const req = request('/events', { signal: ac.signal })
      const client = sse.add(req)
      sse.join(client, `room${i}`)
      const body = reader(client.res)
      sse.send(client, 'x')
      await body.until('data: x\n\n')
      refs.push(new WeakRef(req), new WeakRef(client), new WeakRef(client.res))
      if (i % 2 === 0) ac.abort()
      else await body.cancel()
    }
  })()
  assert.equal(sse.stats().clients, 0)
  assert.deepEqual(sse.stats().rooms, [])
  // The heartbeat timer stopped with the last client (an active handle would keep the process up).
  assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, 0)
  for (let i = 0; i < 10 && refs.some((r) => r.deref() !== undefined); i++) {
    await new Promise((resolve) => setImmediate(resolve))
    gc()
  }
  assert.equal(refs.filter((r) => r.deref() !== undefined).length, 0, 'every request, client and response collected')
})
