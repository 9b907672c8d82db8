'use strict'
// HTTP/2 through node:http2's compatibility API: several EventSource-like streams on one
// connection, each a client; no `Connection` header (HTTP/2 forbids it, and node:http2
// prints an UnsupportedWarning for it), events, rooms and heartbeats as over HTTP/1.1, and
// a stream that closes removes only its own client.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const http2 = require('node:http2')
const path = require('node:path')
const { once } = require('node:events')
const { execFile } = require('node:child_process')
const sse = require('..')
const { within } = require('./helpers')

/** An EventSource-like request on `session`: its response headers and the text received so far. */
async function openStream(session) {
  const stream = session.request({ ':path': '/events', accept: 'text/event-stream', 'cache-control': 'no-cache' })
  const client = {
    stream,
    headers: null,
    text: '',
    until(expected) {
      const check = () => client.text.length >= expected.length
      if (check()) return Promise.resolve(client.text)
      return within(
        new Promise((resolve) => {
          const onData = () => {
            if (!check()) return
            stream.off('data', onData)
            resolve(client.text)
          }
          stream.on('data', onData)
        }),
        5000,
        `${JSON.stringify(expected)}; got ${JSON.stringify(client.text)}`,
      )
    },
  }
  stream.setEncoding('utf8')
  stream.on('data', (chunk) => (client.text += chunk))
  ;[client.headers] = await within(once(stream, 'response'), 5000, 'the response headers')
  return client
}

async function expectText(client, expected) {
  await client.until(expected)
  assert.equal(client.text, expected)
}

const frame = (id, event, data) => `id: ${id}\n${event === null ? '' : `event: ${event}\n`}data: ${data}\n\n`

test('HTTP/2: three streams on one connection get their events, with no Connection header and no warning', async (t) => {
  const warnings = []
  const onWarning = (w) => warnings.push(`${w.name}: ${w.message}`)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))

  /** Server-side stream id -> the client add() returned (HTTP/2 stream ids are the same on both ends). */
  const byStream = new Map()
  const closes = []
  const server = http2.createServer((req, res) => {
    closes.push(once(res, 'close'))
    const client = sse.add(req, res)
    sse.join(client, 'h2')
    byStream.set(res.stream.id, client)
  })
  const sessions = new Set()
  server.on('session', (s) => sessions.add(s))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const session = http2.connect(`http://127.0.0.1:${server.address().port}`)
  t.after(async () => {
    session.destroy()
    for (const s of sessions) s.destroy()
    await new Promise((resolve) => server.close(resolve))
    await Promise.all(closes)
    assert.deepEqual(sse.clients, [], 'every stream\'s client was removed when it closed')
  })

  const streams = [await openStream(session), await openStream(session), await openStream(session)]
  assert.equal(sessions.size, 1, 'one connection')
  for (const s of streams) {
    assert.equal(s.headers[':status'], 200)
    assert.equal(s.headers['content-type'], 'text/event-stream')
    assert.equal(s.headers['cache-control'], 'no-cache')
    assert.equal(s.headers.connection, undefined)
  }
  const [a, b, c] = streams.map((s) => byStream.get(s.stream.id))
  assert.deepEqual(sse.clients, [a, b, c])

  sse.broadcast('h2', 'news', 'n1')
  sse.send(b, 'only', 'for b')
  sse.sendHeartbeat()
  const common = (id) => frame(id, 'news', 'n1')
  await expectText(streams[0], common(a.id) + ':heartbeat signal\n\n')
  await expectText(streams[1], common(b.id) + frame(b.id, 'only', 'for b') + ':heartbeat signal\n\n')
  await expectText(streams[2], common(c.id) + ':heartbeat signal\n\n')

  // Closing one stream (as EventSource.close() does) removes its client only.
  const removed = once(a.res, 'close')
  streams[0].stream.close()
  await within(removed, 5000, 'the first stream to close on the server')
  assert.equal(sse.getClient(a.id), null)
  const [beforeB, beforeC] = [streams[1].text, streams[2].text]
  sse.broadcast('*', 'after')
  await expectText(streams[1], beforeB + frame(b.id, null, 'after'))
  await expectText(streams[2], beforeC + frame(c.id, null, 'after'))
  assert.equal(session.closed, false, 'the connection stays open for the other streams')

  assert.deepEqual(warnings, [])
})

test('HTTP/2: nothing is printed on stderr; simple-sse 0.0.3 prints the UnsupportedWarning', async () => {
  const child = path.join(__dirname, 'fixtures', 'h2-child.js')
  const run = (modulePath) =>
    new Promise((resolve, reject) => {
      execFile(process.execPath, [child, modulePath], { timeout: 10000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr}`))
        else resolve({ received: JSON.parse(stdout), stderr })
      })
    })
  const [orig, ours] = await Promise.all([run(require.resolve('simple-sse')), run(path.join(__dirname, '..'))])
  const expected = [0, 1, 2].map((id) => ({ status: 200, text: frame(id, 'welcome', String(id)) }))
  assert.deepEqual(orig.received, expected)
  assert.match(orig.stderr, /UnsupportedWarning: The provided connection header is not valid/)
  assert.deepEqual(ours.received, expected)
  assert.equal(ours.stderr, '')
})
