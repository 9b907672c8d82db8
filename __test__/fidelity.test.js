'use strict'
// Drop-in fidelity: code that works with simple-sse 0.0.3 keeps working with this package.
// Each case runs against the real original (the npm package simple-sse@0.0.3) and against
// this package, on real node:http, Express 5 and Express 4 servers or with the stubs a
// user's unit test would write, and asserts what each one does. Where the two differ on
// purpose (README "Where it differs"), the test names both outcomes.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { once } = require('node:events')
const express5 = require('express')
const express4 = require('express4')
const original = require('simple-sse')
const sse = require('..')
const { listen, connect, within, socketClosed } = require('./helpers')

const LIBS = [
  ['simple-sse 0.0.3', original],
  ['simple-sse-rs', sse],
]
const isOriginal = (lib) => lib === original

/** The bytes of one event, as both packages write it for plain data. */
const frame = (id, event, data) => `id: ${id}\n${event === null ? '' : `event: ${event}\n`}data: ${data}\n\n`

after(() => {
  // The original's heartbeat interval keeps the process alive until its last client is removed.
  for (const client of Array.from(original.clients)) original.remove(client)
  for (const client of Array.from(sse.clients)) sse.remove(client)
})

/**
 * An app for node:http, Express 5 or Express 4 that serves GET /events with
 * `handler(lib, req, res, room)` (which returns the client it added), where `room` is the
 * room parameter as that server gives it when the request has none.
 */
function app(kind, lib, handler, added) {
  const serve = (req, res, room) => added.push({ client: handler(lib, req, res, room), socket: req.socket })
  if (kind === 'node:http') {
    return (req, res) => serve(req, res, new URL(req.url, 'http://x').searchParams.get('room'))
  }
  const a = (kind === 'Express 5' ? express5 : express4)()
  a.get('/events', (req, res) => serve(req, res, req.query.room))
  return a
}

/** Starts the server, opens /events on it, and closes both when the test ends. */
async function open(t, kind, lib, handler) {
  const added = []
  const srv = await listen(app(kind, lib, handler, added))
  t.after(async () => {
    // A detached client's socket (SIMPLE_SSE_RS_DETACH=1) closed at the hand-over; srv.close()
    // waits until Rust has seen its peer go.
    const closed = added.map(({ socket }) => socketClosed(socket))
    await srv.close()
    await Promise.all(closed)
    // Both packages forget a client when its connection closes (the original on the
    // socket's 'close', through a listener added before the one awaited here).
    for (const { client } of added) assert.equal(lib.getClient(client.id), null, 'removed on close')
  })
  const raw = await connect(srv.port, '/events')
  assert.equal(added.length, 1)
  return { raw, client: added[0].client }
}

async function expectBody(raw, expected) {
  await raw.until((text) => text.length >= expected.length)
  assert.equal(raw.text, expected)
}

for (const kind of ['node:http', 'Express 5', 'Express 4']) {
  const missing = kind === 'node:http' ? 'searchParams.get(\'room\') (null)' : 'req.query.room (undefined)'
  for (const [name, lib] of LIBS) {
    test(`${name}, ${kind}: a missing room, ${missing}, keeps the stream and its "*" broadcasts`, async (t) => {
      const { raw, client } = await open(t, kind, lib, (lib, req, res, room) => {
        const client = lib.add(req, res)
        lib.join(client, 'lobby')
        const joined = lib.join(client, room)
        const isIn = lib.in(client, room)
        lib.send(client, 'welcome', { joined, isIn })
        return client
      })
      const room = kind === 'node:http' ? null : undefined
      const id = client.id
      const welcome = isOriginal(lib)
        ? frame(id, 'welcome', '{"joined":true,"isIn":true}') // 0.0.3 joined a room named null/undefined
        : frame(id, 'welcome', '{"joined":false,"isIn":false}') // ignored (and a warning, once)
      await expectBody(raw, welcome)

      lib.broadcast(room, 'to-missing', 'x') // 0.0.3: its members; here: nobody
      lib.broadcast('lobby', 'lobby', 'l1')
      lib.broadcast('*', 'all', 'a1')
      lib.leave(client, room) // no room: every room, in both
      lib.broadcast('lobby', 'lobby', 'l2')
      lib.broadcast('*', 'all', 'a2')
      await expectBody(raw, welcome +
        (isOriginal(lib) ? frame(id, 'to-missing', 'x') : '') +
        frame(id, 'lobby', 'l1') + frame(id, 'all', 'a1') + frame(id, 'all', 'a2'))
      assert.equal(raw.status, 200)
      assert.equal(raw.ended, false, 'the stream is still open')
      assert.deepEqual(client.rooms, [])
    })
  }
}

for (const [name, lib] of LIBS) {
  test(`${name}, Express 5: setRetry with a missing setting (undefined) keeps the stream`, async (t) => {
    const { raw, client } = await open(t, 'Express 5', lib, (lib, req, res) => {
      const client = lib.add(req, res)
      lib.setRetry(client, process.env.SIMPLE_SSE_TEST_UNSET_RETRY)
      lib.send(client, 'welcome', 'w')
      return client
    })
    // 0.0.3 wrote `retry: undefined`, which EventSource ignores; this package writes nothing.
    const retry = isOriginal(lib) ? `id: ${client.id}\nretry: undefined\n\n` : ''
    await expectBody(raw, retry + frame(client.id, 'welcome', 'w'))
    lib.broadcast('*', 'after')
    await expectBody(raw, retry + frame(client.id, 'welcome', 'w') + frame(client.id, null, 'after'))
  })
}

/** A child process that sets `heartbeat = process.env.SSE_HEARTBEAT` and waits for a heartbeat on node:http. */
function heartbeatFromEnv(modulePath, value) {
  const script = `
    const http = require('node:http')
    const sse = require(${JSON.stringify(modulePath)})
    sse.heartbeat = process.env.SSE_HEARTBEAT
    const server = http.createServer((req, res) => sse.add(req, res))
    server.listen(0, '127.0.0.1', () => {
      http.get({ port: server.address().port, host: '127.0.0.1' }, (res) => {
        res.setEncoding('utf8')
        res.on('data', (text) => {
          if (!text.includes(':heartbeat signal')) return
          console.log(JSON.stringify({ heartbeat: sse.heartbeat, text }))
          process.exit(0)
        })
      })
    })`
  const child = spawn(process.execPath, ['-e', script], {
    env: { ...process.env, SSE_HEARTBEAT: value },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  // 'close', not 'exit': the child's output may still be in the pipe when it exits (seen
  // under Windows Node.js).
  return within(once(child, 'close'), 5000, 'a heartbeat in the child').then(
    ([code]) => ({ code, stdout, stderr }),
    (err) => {
      child.kill()
      throw err
    },
  )
}

test('heartbeat from configuration: sse.heartbeat = process.env.SSE_HEARTBEAT ("50") works in both', async () => {
  const [orig, ours] = await Promise.all([
    heartbeatFromEnv(require.resolve('simple-sse'), '50'),
    heartbeatFromEnv(path.join(__dirname, '..'), '50'),
  ])
  assert.deepEqual(orig, { code: 0, stdout: `${JSON.stringify({ heartbeat: '50', text: ':heartbeat signal\n\n' })}\n`, stderr: '' })
  // This package reads the setting back as the number it uses.
  assert.deepEqual(ours, { code: 0, stdout: `${JSON.stringify({ heartbeat: 50, text: ':heartbeat signal\n\n' })}\n`, stderr: '' })
})

/** The original package's test stubs: a req with socket.setTimeout and connection.addListener. */
const stubReq = () => ({ socket: { setTimeout() {} }, connection: { addListener() {} } })

for (const [name, lib] of LIBS) {
  test(`${name}: a unit test with a stub res sees each frame right after the call`, () => {
    // As a user's unit test writes it: `out += s`, assert right after each call.
    let out = ''
    const res = { writeHead() {}, write(s) { out += s } }
    const client = lib.add(stubReq(), res)
    const id = client.id
    try {
      lib.send(client, 'greeting', { hello: 'world' })
      assert.equal(out, `id: ${id}\nevent: greeting\ndata: {"hello":"world"}\n\n`)

      out = ''
      lib.send(id, 'two\nlines')
      assert.equal(out, `id: ${id}\ndata: two\ndata: lines\n\n`)

      out = ''
      lib.join(client, 'room')
      lib.broadcast('room', 'news', 42)
      lib.broadcast('other room', 'not for it')
      assert.equal(out, frame(id, 'news', '42'))

      out = ''
      lib.setRetry(client, 1500)
      assert.equal(out, `id: ${id}\nretry: 1500\n\n`)

      out = ''
      lib.sendHeartbeat()
      assert.equal(out, ':heartbeat signal\n\n')
    } finally {
      lib.remove(client)
    }
  })

  test(`${name}: a unit test with a t.mock.fn() write reads strings from its calls`, (t) => {
    const res = { writeHead: t.mock.fn(), write: t.mock.fn() }
    const client = lib.add(stubReq(), res)
    try {
      lib.send(client, 'ev', 'data')
      assert.deepEqual(res.writeHead.mock.calls[0].arguments, [
        200,
        { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' },
      ])
      const written = res.write.mock.calls.map((call) => call.arguments[0])
      assert.ok(written.every((s) => typeof s === 'string'), 'strings, as the original wrote')
      assert.equal(written.join(''), frame(client.id, 'ev', 'data'))
    } finally {
      lib.remove(client)
    }
  })
}

test('the warnings: one per kind per process, with a code; leave() without a room does not warn', async () => {
  const script = `
    const sse = require(${JSON.stringify(path.join(__dirname, '..'))})
    const c = sse.add({}, { writeHead() {}, write() {} })
    for (let i = 0; i < 3; i++) {
      sse.join(c, undefined)
      sse.join(c, null)
      sse.in(c, undefined)
      sse.broadcast(null, 'x')
      sse.leave(c)
      sse.leave(c, undefined)
      sse.setRetry(c, undefined)
      sse.remove(undefined)
      sse.remove('3')
      sse.clients = sse.clients
    }
    process.on('warning', (w) => console.log(JSON.stringify([w.name, w.code])))`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const [code] = await within(once(child, 'exit'), 5000, 'the child to exit')
  assert.equal(code, 0)
  assert.deepEqual(stdout.trim().split('\n').map((line) => JSON.parse(line)), [
    ['Warning', 'SIMPLE_SSE_RS_NULL_ROOM'],
    ['Warning', 'SIMPLE_SSE_RS_NULL_RETRY'],
    ['Warning', 'SIMPLE_SSE_RS_REMOVE_ARGUMENT'],
    ['Warning', 'SIMPLE_SSE_RS_CLIENTS_ASSIGNED'],
  ])
  // Printed once each, naming the first call and what it does instead.
  const printed = stderr.split('\n').filter((line) => line.includes('Warning:'))
  assert.equal(printed.length, 4, stderr)
  assert.match(printed[0], /\[SIMPLE_SSE_RS_NULL_ROOM\] Warning: sse\.join\(\) got a room that is undefined/)
  assert.match(printed[0], /join\(\) joins nothing and returns false/)
  assert.match(printed[1], /\[SIMPLE_SSE_RS_NULL_RETRY\] Warning: sse\.setRetry\(\) got a retry that is undefined; it is ignored/)
  assert.match(printed[2], /\[SIMPLE_SSE_RS_REMOVE_ARGUMENT\] Warning: sse\.remove\(\) got undefined/)
  assert.match(printed[3], /\[SIMPLE_SSE_RS_CLIENTS_ASSIGNED\] Warning: sse\.clients was assigned an array/)
})

for (const [name, lib] of LIBS) {
  test(`${name}: remove() with what is not a client or an id (undefined, "3", {}, {id}) does not throw`, () => {
    const a = lib.add(stubReq(), { writeHead() {}, write() {} })
    const b = lib.add(stubReq(), { writeHead() {}, write() {} })
    try {
      for (const junk of [undefined, '3', String(a.id), {}, { id: 'x' }]) {
        assert.doesNotThrow(() => lib.remove(junk), `remove(${typeof junk})`)
      }
      assert.equal(lib.getClient(a.id), a, 'nothing removed by junk')
      // 0.0.3 removed by `.id`: a copy of a client object removes it too.
      lib.remove({ ...b })
      assert.equal(lib.getClient(b.id), null)
      assert.equal(lib.getClient(a.id), a)
      // null threw in 0.0.3 (null.id) and still throws.
      assert.throws(() => lib.remove(null), TypeError)
    } finally {
      lib.remove(a)
      lib.remove(b)
    }
  })
}

test('sse.flush() writes what is pending now, not on the next turn', async (t) => {
  const srv = await listen(express5().get('/events', (req, res) => sse.add(req, res)))
  t.after(() => srv.close())
  const sent = sse.stats().bytesSent
  const raw = await connect(srv.port, '/events')
  const client = sse.clients.at(-1)
  t.after(() => sse.remove(client))
  const expected = frame(client.id, 'a', '1') + frame(client.id, 'b', '2')

  sse.send(client, 'a', '1')
  sse.send(client, 'b', '2')
  assert.equal(sse.stats().bytesSent, sent, 'batched: nothing was written yet')
  sse.flush()
  assert.equal(sse.stats().bytesSent, sent + expected.length, 'flush() wrote it all, synchronously')
  sse.flush() // nothing pending: harmless
  await expectBody(raw, expected)
  assert.equal(sse.stats().bytesSent, sent + expected.length, 'nothing written twice')
})

for (const [name, lib] of LIBS) {
  test(`${name}: client.rooms, calls through the module object, detached functions (README "Other differences")`, () => {
    let out = ''
    const client = lib.add(stubReq(), { writeHead() {}, write(s) { out += s } })
    const send = lib.send
    try {
      client.rooms.push('pushed')
      lib.broadcast('pushed', 'p')
      // 0.0.3 stored the array; here each read is a copy of the registry's rooms.
      assert.equal(out, isOriginal(lib) ? frame(client.id, null, 'p') : '')

      out = ''
      const calls = []
      lib.send = (...args) => calls.push(args)
      lib.broadcast('*', 'b')
      lib.send = send
      // 0.0.3's broadcast called this.send; here broadcast does not go through the module object.
      assert.equal(calls.length, isOriginal(lib) ? 1 : 0)
      assert.equal(out, isOriginal(lib) ? '' : frame(client.id, null, 'b'))

      const { join } = lib
      if (isOriginal(lib)) assert.throws(() => join(client, 'r'), /this\.in is not a function/)
      else assert.equal(join(client, 'r'), true)

      // sse.clients: 0.0.3 let code replace it; here it is the registry's read-only live view.
      const clients = lib.clients
      if (isOriginal(lib)) {
        lib.clients = []
        lib.clients = clients
      } else {
        const saved = clients.splice(0)
        assert.equal(lib.getClient(client.id), client, 'editing the array removes no one')
        clients.push(...saved) // put the view back as it was
        // Assigning keeps the one live array and removes who is not in the assigned one
        // (0.0.3 forgot them: a unit test's `sse.clients = []` reset).
        const other = lib.add(stubReq(), { writeHead() {}, write() {} })
        lib.clients = lib.clients.filter((c) => c !== client)
        assert.equal(lib.clients, clients, 'the same live array')
        assert.equal(lib.getClient(client.id), null, 'not in the assigned array: removed')
        assert.equal(lib.getClient(other.id), other, 'in it: kept')
        lib.clients = []
        assert.equal(lib.getClient(other.id), null)
        assert.equal(lib.clients.length, 0)
        lib.clients = 'nonsense' // ignored (with the warning)
      }
    } finally {
      lib.send = send
      lib.remove(client)
    }
  })
}
