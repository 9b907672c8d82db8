'use strict'
// Endings: `remove` loses nothing (what was queued for the client is written first, as
// simple-sse 0.0.3 wrote each frame at once), and nothing is written after a response
// ends, however it ended (the wrapper, the prototype's end or write, an end saved before
// `add`, `res.socket.end()`, `res.destroy()`, `res.socket.destroy()`), on every path
// (direct, framed, TLS, res.write, HTTP/2, stubs). Where the connection stays open, a
// second request on it comes back intact; where it closes, nothing follows what was
// written before the end.

const { test, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const http2 = require('node:http2')
const { once } = require('node:events')
const sse = require('..')
const native = require('../lib/binding')
const { PATHS, server, rawClient, parse } = require('./fixtures/endings-helpers')
const { ATTACHED } = require('./helpers')

after(() => sse.close())
// Each test on its own: whatever a failing one left registered goes.
afterEach(() => {
  for (const client of Array.from(sse.clients)) sse.remove(client)
})

const frame = (id, event, data) => `id: ${id}\n${event === null ? '' : `event: ${event}\n`}data: ${data}\n\n`
const proto = http.ServerResponse.prototype

/** The paths to test: direct only where this build writes sockets directly. */
const pathNames = Object.keys(PATHS).filter((name) => name !== 'direct' || native.DIRECT)

// ATTACHED (./helpers): `add`'s options where the test's subject is the app's own
// res.end/res.write/res.destroy on the response (about the attached response: stays
// attached under SIMPLE_SSE_RS_DETACH).

// ---- remove loses nothing -------------------------------------------------------

for (const pathName of pathNames) {
  test(`${pathName}: send, broadcast and setRetry, then remove, in one tick: every frame arrives, nothing after`, async (t) => {
    let added = null
    const srv = await server(sse, pathName, (client, req, res) => {
      added = { client, res }
      sse.join(client, 'room')
      sse.send(client, 'kicked', 'you are out')
      sse.broadcast('room', 'news', 'for the room')
      sse.setRetry(client, 5000)
      assert.equal(sse.remove(client), true)
      assert.equal(sse.getClient(client.id), null, 'forgotten at once')
      // After the removal, nothing reaches it.
      sse.broadcast('*', 'later', 'not for it')
      sse.sendHeartbeat()
      sse.flush()
    })
    t.after(() => srv.close())
    const c = await rawClient(srv)
    t.after(() => c.close())
    c.request('/sse')
    const id = await new Promise((resolve) => {
      const poll = () => (added !== null ? resolve(added.client.id) : setImmediate(poll))
      poll()
    })
    const want = frame(id, 'kicked', 'you are out') + frame(id, 'news', 'for the room') + `id: ${id}\nretry: 5000\n\n`
    await c.until(() => (parse(c.raw)[0]?.body ?? '').length >= want.length, 'the frames queued before remove')
    // An attached response stays open (remove does not end it): ending it now shows all it
    // got. Nothing but Rust holds a detached one (SIMPLE_SSE_RS_DETACH=1): remove ended it.
    if (!added.client.detached) added.res.end()
    await c.until(() => parse(c.raw)[0]?.complete, 'the end of the response')
    const [res] = parse(c.raw)
    assert.equal(res.body, want)
    assert.equal(parse(c.raw).rest, '')
  })
}

test('sse.clients = [] removes the clients it leaves out the same way: what was queued is written first', async (t) => {
  t.mock.method(process, 'emitWarning', () => {}) // the once-per-process note on assigning sse.clients
  let added = null
  const srv = await server(sse, pathNames[0], (client, req, res) => {
    added = { client, res }
    sse.send(client, 'kicked', 'bye')
    sse.clients = []
    assert.equal(sse.getClient(client.id), null)
    sse.flush()
    // A detached client (SIMPLE_SSE_RS_DETACH=1) has nothing but Rust holding it: its
    // removal ended the stream. An attached one stays open until the app ends it.
    if (!client.detached) res.end()
  })
  t.after(() => srv.close())
  const c = await rawClient(srv)
  t.after(() => c.close())
  c.request('/sse')
  await c.until(() => parse(c.raw)[0]?.complete, 'the end of the response')
  assert.equal(parse(c.raw)[0].body, frame(added.client.id, 'kicked', 'bye'))
})

test('HTTP/2: send, broadcast and setRetry, then remove, in one tick: every frame arrives', async (t) => {
  const srv = http2.createServer()
  let added = null
  srv.on('request', (req, res) => {
    const client = sse.add(req, res)
    added = { client, res }
    sse.send(client, 'kicked', 'bye')
    sse.broadcast('*', 'news', 'n')
    sse.setRetry(client, 100)
    sse.remove(client)
    sse.broadcast('*', 'later', 'not for it')
    sse.flush()
    res.end()
  })
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const session = http2.connect(`http://127.0.0.1:${srv.address().port}`)
  t.after(() => {
    session.destroy()
    return new Promise((resolve) => srv.close(resolve))
  })
  const stream = session.request({ ':path': '/events' })
  stream.setEncoding('utf8')
  let text = ''
  stream.on('data', (d) => (text += d))
  await once(stream, 'end')
  const id = added.client.id
  assert.equal(text, frame(id, 'kicked', 'bye') + frame(id, 'news', 'n') + `id: ${id}\nretry: 100\n\n`)
})

test('stubs: frames sent before remove were written inside each call; a stub that says it ended gets nothing more', () => {
  const writes = []
  const res = {
    writableEnded: false,
    writeHead() {},
    write(s) {
      writes.push(s)
    },
    end() {
      this.writableEnded = true
    },
  }
  const client = sse.add({ headers: {} }, res)
  sse.send(client, 'kicked', 'bye')
  sse.setRetry(client, 10)
  assert.equal(sse.remove(client), true)
  assert.deepEqual(writes, [frame(client.id, 'kicked', 'bye'), `id: ${client.id}\nretry: 10\n\n`])

  const other = sse.add({ headers: {} }, res)
  writes.length = 0
  res.end()
  sse.send(other, 'after', 'the end')
  sse.broadcast('*', 'after', 'the end')
  assert.deepEqual(writes, [], 'nothing after the end')
  assert.equal(sse.getClient(other.id), null, 'and it is gone')
})

// ---- nothing is written after a response ends ------------------------------------

/**
 * Ways the app ends the response, each after `send(client, 'last', 'x')` in the same
 * tick and followed by a broadcast and a flush (which would write anything left):
 * `keepAlive` (the response ends, its client is removed within the call, and the
 * connection stays open for a second request) or not (the socket ends or is destroyed:
 * nothing more is written, and the client goes on the response's 'close'), and the body
 * the response carries ahead of its end on each path.
 */
const ENDINGS = [
  {
    name: 'res.end() (the wrapper)',
    keepAlive: true,
    end: (res) => res.end(),
    body: (last) => last,
  },
  {
    name: 'ServerResponse.prototype.end.call(res)',
    keepAlive: true,
    end: (res) => proto.end.call(res),
    // Through middleware's res.write the frame cannot go ahead of an end that skips it.
    body: (last, pathName) => (pathName === 'res.write' ? '' : last),
  },
  {
    name: 'the prototype end with a last chunk',
    keepAlive: true,
    end: (res) => proto.end.call(res, 'data: bye\n\n'),
    body: (last, pathName) => (pathName === 'res.write' ? '' : last) + 'data: bye\n\n',
  },
  {
    name: 'an end saved before add (as frameworks and middleware keep one)',
    keepAlive: true,
    end: (res) => res.endSavedBeforeAdd.call(res),
    body: (last, pathName) => (pathName === 'res.write' ? '' : last),
  },
  {
    name: 'the prototype write, then the prototype end',
    keepAlive: true,
    end: (res) => {
      proto.write.call(res, ': own\n\n')
      proto.end.call(res)
    },
    body: (last, pathName) => (pathName === 'res.write' ? ': own\n\n' : last + ': own\n\n'),
  },
  {
    name: 'res.socket.end()',
    keepAlive: false,
    end: (res) => res.socket.end(),
    body: (last) => last,
  },
  {
    name: 'res.destroy()',
    keepAlive: false,
    end: (res) => res.destroy(),
    body: () => '',
  },
  {
    name: 'res.socket.destroy()',
    keepAlive: false,
    end: (res) => res.socket.destroy(),
    body: () => '',
  },
]

for (const pathName of pathNames) {
  for (const ending of ENDINGS) {
    test(`${pathName}: ${ending.name}: the queued frame goes ahead of the end, nothing after it`, async (t) => {
      let seen = null
      const srv = await server(sse, pathName, (client, req, res) => {
        sse.send(client, 'last', 'x')
        const closed = once(res, 'close')
        ending.end(res)
        seen = { id: client.id, registered: sse.getClient(client.id) !== null, closed }
        sse.broadcast('*', 'after', 'the end')
        sse.send(client, 'after', 'the end')
        sse.flush()
      }, ATTACHED)
      srv.server.prependListener('request', (req, res) => {
        res.endSavedBeforeAdd = res.end
      })
      t.after(() => srv.close())
      const c = await rawClient(srv)
      t.after(() => c.close())
      c.request('/sse')
      if (ending.keepAlive) {
        await c.until(() => parse(c.raw)[0]?.complete, 'the end of the SSE response')
        // The connection stays open: a second request on it comes back intact.
        c.request('/again')
        await c.until(() => parse(c.raw)[1]?.complete, 'the second response')
      } else {
        await c.until(() => c.ended, 'the connection to close')
      }
      if (ending.keepAlive) assert.equal(seen.registered, false, 'the client is removed within the end')
      else await seen.closed
      const responses = parse(c.raw)
      assert.equal(responses[0].status, 200)
      assert.equal(responses[0].body, ending.body(frame(seen.id, 'last', 'x'), pathName))
      if (ending.keepAlive) {
        assert.equal(responses.length, 2)
        assert.equal(responses[1].status, 200)
        assert.equal(responses[1].body, 'second /again')
      } else {
        assert.equal(responses.length, 1)
        assert.equal(responses[0].complete, false, 'no terminator: the connection was cut')
      }
      assert.equal(responses.rest, '', 'no byte after the end')
      assert.equal(sse.getClient(seen.id), null)
    })
  }
}

for (const pathName of pathNames) {
  test(`${pathName}: the app's own res.write keeps its place between frames sent before and after it`, async (t) => {
    let id = null
    const srv = await server(sse, pathName, (client, req, res) => {
      id = client.id
      sse.send(client, 'before', 'x')
      res.write(': own\n\n')
      sse.send(client, 'after', 'x')
      sse.flush()
      setImmediate(() => res.end())
    }, ATTACHED)
    t.after(() => srv.close())
    const c = await rawClient(srv)
    t.after(() => c.close())
    c.request('/sse')
    await c.until(() => parse(c.raw)[0]?.complete, 'the end of the response')
    assert.equal(parse(c.raw)[0].body, frame(id, 'before', 'x') + ': own\n\n' + frame(id, 'after', 'x'))
  })
}

test('HTTP/2: the prototype end writes the queued frame first; the session serves the next stream', async (t) => {
  const srv = http2.createServer()
  let seen = null
  srv.on('request', (req, res) => {
    if (req.url === '/again') {
      res.end('second')
      return
    }
    const client = sse.add(req, res)
    sse.send(client, 'last', 'x')
    http2.Http2ServerResponse.prototype.end.call(res)
    seen = { id: client.id, registered: sse.getClient(client.id) !== null }
    sse.broadcast('*', 'after', 'the end')
    sse.flush()
  })
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const session = http2.connect(`http://127.0.0.1:${srv.address().port}`)
  t.after(() => {
    session.destroy()
    return new Promise((resolve) => srv.close(resolve))
  })
  const read = async (path) => {
    const stream = session.request({ ':path': path })
    stream.setEncoding('utf8')
    let text = ''
    stream.on('data', (d) => (text += d))
    await once(stream, 'end')
    return text
  }
  assert.equal(await read('/events'), frame(seen.id, 'last', 'x'))
  assert.equal(seen.registered, false)
  assert.equal(await read('/again'), 'second')
  assert.equal(sse.getClient(seen.id), null)
})
