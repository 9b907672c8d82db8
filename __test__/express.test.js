'use strict'
// simple-sse's README usage in Express 4 and Express 5 apps, read by real
// EventSource clients (the `eventsource` package, over fetch).

const { describe, test } = require('node:test')
const assert = require('node:assert/strict')
const { EventSource } = require('eventsource')
const compression = require('compression')
const { listen, connect, within } = require('./helpers')
const { sse, gone } = require('./api-support')

/** Event types the streams below listen for. */
const TYPES = ['message', 'ev', 'news', 'mark']

/**
 * An EventSource recording every event of TYPES as {type, data, lastEventId}.
 * `opened` resolves on 'open'; `until(n)` once n events arrived.
 */
function stream(url, init) {
  const es = new EventSource(url, init)
  const events = []
  const waiters = new Set()
  for (const type of TYPES) {
    es.addEventListener(type, (e) => {
      events.push({ type, data: e.data, lastEventId: e.lastEventId })
      for (const waiter of Array.from(waiters)) waiter()
    })
  }
  const opened = new Promise((resolve, reject) => {
    es.addEventListener('open', resolve, { once: true })
    es.addEventListener('error', (e) => reject(new Error(`EventSource error: ${e.message}`)), { once: true })
  })
  function until(n, ms = 5000) {
    const reached = new Promise((resolve) => {
      const waiter = () => {
        if (events.length < n) return
        waiters.delete(waiter)
        resolve(events)
      }
      waiters.add(waiter)
      waiter()
    })
    return within(reached, ms, `${n} events; got ${JSON.stringify(events)}`)
  }
  return { es, events, opened, until }
}

/**
 * An app with the README's routes: `/events` adds the client, `/room/:roomId`
 * also joins room parseInt(roomId). `open(path)` resolves with [stream, client].
 */
async function serveApp(t, express, setup = () => {}) {
  const app = express()
  setup(app)
  const added = []
  const requests = []
  let onAdd = []
  const handler = (req, res) => {
    requests.push(req.headers)
    const client = sse.add(req, res)
    if (req.params.roomId !== undefined) sse.join(client, parseInt(req.params.roomId, 10))
    added.push(client)
    const waiting = onAdd
    onAdd = []
    for (const resolve of waiting) resolve(client)
  }
  app.get('/events', handler)
  app.get('/room/:roomId', handler)
  const srv = await listen(app)
  const sources = []
  t.after(async () => {
    for (const es of sources) es.close()
    const left = added.map(gone)
    await srv.close()
    await Promise.all(left)
    assert.equal(sse.clients.length, 0)
  })
  return {
    ...srv,
    added,
    requests,
    /** Resolves with the next client the app adds. */
    nextClient: () => new Promise((resolve) => onAdd.push(resolve)),
    async open(path = '/events', init) {
      const s = stream(srv.url + path, init)
      sources.push(s.es)
      await within(s.opened, 5000, `EventSource ${path} to open`)
      // 'open' means the headers arrived, which add() sent: this is our client.
      return [s, added.at(-1)]
    },
  }
}

const mark = (client) => sse.send(client, 'mark', 'end')

/**
 * The server ends `client`'s stream: its response's end, or for a detached client
 * (SIMPLE_SSE_RS_DETACH=1, no response) `sse.remove`, which ends a detached stream.
 */
const endStream = (client) => (client.detached ? sse.remove(client) : client.res.end())

for (const [name, express] of [
  ['Express 4', require('express4')],
  ['Express 5', require('express')],
]) {
  describe(name, () => {
    test('add sends the SSE headers', async (t) => {
      const app = await serveApp(t, express)
      const raw = await connect(app.port, '/events')
      assert.equal(raw.status, 200)
      assert.equal(raw.headers['content-type'], 'text/event-stream')
      assert.equal(raw.headers['cache-control'], 'no-cache')
      assert.equal(raw.headers.connection, 'keep-alive')
      const client = app.added[0]
      const left = gone(client)
      raw.close()
      await left
    })

    test('an EventSource gets messages, named events, multi-line data and JSON', async (t) => {
      const app = await serveApp(t, express)
      const [s, client] = await app.open()
      sse.send(client, 'hello')
      sse.send(client, 'ev', 'a\nb')
      sse.send(client.id, { n: 1 })
      mark(client)
      const id = String(client.id)
      assert.deepEqual(await s.until(4), [
        { type: 'message', data: 'hello', lastEventId: id },
        { type: 'ev', data: 'a\nb', lastEventId: id },
        { type: 'message', data: '{"n":1}', lastEventId: id },
        { type: 'mark', data: 'end', lastEventId: id },
      ])
    })

    test('rooms from route params: broadcasts reach only their members', async (t) => {
      const app = await serveApp(t, express)
      const [one, c1] = await app.open('/room/1')
      const [two, c2] = await app.open('/room/2')
      assert.deepEqual(c1.rooms, [1])
      assert.deepEqual(c2.rooms, [2])
      sse.broadcast(1, 'news', 'for one')
      sse.broadcast('1', 'news', 'the string room "1" is empty')
      sse.broadcast(2, 'news', 'for two')
      sse.broadcast('*', 'mark', 'end')
      const got = async (s) => (await s.until(2)).map((e) => `${e.type}:${e.data}`)
      assert.deepEqual(await got(one), ['news:for one', 'mark:end'])
      assert.deepEqual(await got(two), ['news:for two', 'mark:end'])
    })

    test('closing the EventSource removes the client', async (t) => {
      const app = await serveApp(t, express)
      const [s, client] = await app.open('/room/5')
      assert.equal(sse.getClient(client.id), client)
      const left = gone(client)
      s.es.close()
      await left
      assert.equal(sse.getClient(client.id), null)
      assert.deepEqual(sse.stats().rooms, [])
    })

    test('setRetry sets the reconnection delay; the reconnect carries Last-Event-ID', async (t) => {
      const app = await serveApp(t, express)
      const [s, client] = await app.open()
      sse.setRetry(client, 50)
      mark(client)
      await s.until(1)
      const reconnected = app.nextClient()
      endStream(client)
      // eventsource waits 3 s by default: reconnecting well before proves the retry.
      await within(reconnected, 2000, 'the reconnection after retry: 50')
      assert.equal(app.requests.length, 2)
      assert.equal(app.requests[1]['last-event-id'], String(client.id))
    })

    test('behind compression(), events are flushed through the gzip stream', async (t) => {
      const app = await serveApp(t, express, (a) => a.use(compression()))
      let encoding = null
      const fetchSpy = async (url, init) => {
        const response = await fetch(url, init)
        encoding = response.headers.get('content-encoding')
        return response
      }
      const [s, client] = await app.open('/events', { fetch: fetchSpy })
      assert.equal(encoding, 'gzip', 'the stream is compressed')
      sse.send(client, 'ev', 'through gzip')
      const [event] = await s.until(1)
      assert.deepEqual(event, { type: 'ev', data: 'through gzip', lastEventId: String(client.id) })
    })
  })
}
