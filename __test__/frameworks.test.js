'use strict'
// The same scenario on bare node:http, Express 4, Express 5 and Fastify 5, with real
// EventSource clients: connect, join a room, receive send/broadcast events with their
// names, data and ids, and disconnecting removes the client.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { EventSource } = require('eventsource')
const sse = require('..')
const { listen, within } = require('./helpers.js')

after(() => sse.close())

/**
 * Every framework mounts this on GET /events/:room: add, join, greet with the client id.
 * `closed` maps a client id to a promise of its 'remove' event's reason (not the response's
 * 'close': a detached client's fires at the hand-over, under SIMPLE_SSE_RS_DETACH=1).
 */
const closed = new Map()
function route(req, res, room) {
  const client = sse.add(req, res)
  sse.join(client, room)
  closed.set(client.id, removal(client))
  sse.send(client, 'welcome', { id: client.id })
}

/** Resolves with the reason of `client`'s 'remove' event. */
function removal(client) {
  return new Promise((resolve) => {
    const listener = (removed, { reason }) => {
      if (removed !== client) return
      sse.off('remove', listener)
      resolve(reason)
    }
    sse.on('remove', listener)
  })
}

/** Each starts a server with `route` and resolves with { url, close }. */
const frameworks = {
  'node:http': () =>
    listen((req, res) => {
      const match = /^\/events\/([\w-]+)$/.exec(req.url)
      if (match === null) res.writeHead(404).end()
      else route(req, res, match[1])
    }),
  'Express 4': () => {
    const app = require('express4')()
    app.get('/events/:room', (req, res) => route(req, res, req.params.room))
    return listen(app)
  },
  'Express 5': () => {
    const app = require('express')()
    app.get('/events/:room', (req, res) => route(req, res, req.params.room))
    return listen(app)
  },
  'Fastify 5': async () => {
    const app = require('fastify')({ forceCloseConnections: true })
    app.get('/events/:room', (request, reply) => {
      // Fastify must not answer by itself: the stream is ours.
      reply.hijack()
      route(request.raw, reply.raw, request.params.room)
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    return { url: `http://127.0.0.1:${app.server.address().port}`, close: () => app.close() }
  },
}

const EVENTS = ['welcome', 'direct', 'news', 'all', 'after', 'message']

/** An EventSource that records every event ({ type, data, id }) and can await one by type. */
function open(url) {
  const source = new EventSource(url)
  const received = []
  const waiters = []
  for (const type of EVENTS) {
    source.addEventListener(type, (e) => {
      received.push({ type, data: e.data, id: e.lastEventId })
      for (const waiter of waiters.splice(0)) waiter()
    })
  }
  /** The first received event of `type` (waits for it). */
  function next(type) {
    const found = () => received.find((e) => e.type === type)
    return within(
      new Promise((resolve) => {
        const check = () => (found() ? resolve(found()) : waiters.push(check))
        check()
      }),
      5000,
      `event ${type}; received so far: ${JSON.stringify(received)}`,
    )
  }
  return { source, received, next }
}

for (const [name, startServer] of Object.entries(frameworks)) {
  test(`${name}: rooms, send and broadcast reach EventSource clients; disconnect removes them`, async (t) => {
    const server = await startServer()
    t.after(() => server.close())

    const a = open(`${server.url}/events/lobby`)
    const b = open(`${server.url}/events/other`)
    t.after(() => a.source.close())
    t.after(() => b.source.close())
    const idA = JSON.parse((await a.next('welcome')).data).id
    const idB = JSON.parse((await b.next('welcome')).data).id
    const clientA = sse.getClient(idA)
    const clientB = sse.getClient(idB)
    assert.deepEqual(clientA.rooms, ['lobby'])
    assert.deepEqual(clientB.rooms, ['other'])
    assert.deepEqual(sse.clients, idA < idB ? [clientA, clientB] : [clientB, clientA])

    sse.send(idA, 'direct', { to: 'a' })
    sse.broadcast('lobby', 'news', 'line 1\nline 2')
    sse.broadcast('other', 'news', 'for b')
    sse.broadcast('*', 'all', 42)
    sse.broadcast('nobody', 'news', 'for no one')
    sse.send(clientB, 'plain data')
    await a.next('all')
    await b.next('message')

    const a0 = String(idA)
    const b0 = String(idB)
    assert.deepEqual(a.received, [
      { type: 'welcome', data: `{"id":${idA}}`, id: a0 },
      { type: 'direct', data: '{"to":"a"}', id: a0 },
      { type: 'news', data: 'line 1\nline 2', id: a0 },
      { type: 'all', data: '42', id: a0 },
    ])
    assert.deepEqual(b.received, [
      { type: 'welcome', data: `{"id":${idB}}`, id: b0 },
      { type: 'news', data: 'for b', id: b0 },
      { type: 'all', data: '42', id: b0 },
      { type: 'message', data: 'plain data', id: b0 },
    ])

    // A disconnects: it is removed; B still gets broadcasts.
    a.source.close()
    assert.equal(await within(closed.get(idA), 5000, 'the server sees A close'), 'closed')
    assert.equal(sse.getClient(idA), null)
    assert.deepEqual(sse.clients, [clientB])
    sse.broadcast('*', 'after', 'a left')
    assert.deepEqual(await b.next('after'), { type: 'after', data: 'a left', id: b0 })
    assert.equal(a.received.length, 4)

    b.source.close()
    assert.equal(await within(closed.get(idB), 5000, 'the server sees B close'), 'closed')
    assert.deepEqual(sse.clients, [])
    assert.deepEqual(sse.stats().rooms, [])
  })
}
