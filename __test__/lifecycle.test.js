'use strict'
// The clients' lifecycle and the small API promises around it: the 'add' and 'remove'
// events (with each reason, emitted after the batch they happened in), what inspecting a
// client shows, the `kind`/`detached` getters, a second add on one response, and the
// settings that take digit strings (maxPendingBytes) or refuse fractions (heartbeat).

const test = require('node:test')
const assert = require('node:assert/strict')
const { inspect } = require('node:util')
const sse = require('..')
const { DETACH } = require('../lib/binding')
const { sseServer, listen, connect, within } = require('./helpers')

test.after(() => sse.close())

/**
 * Records the 'add' and 'remove' events of the clients added from now on (earlier tests'
 * clients may still be leaving) until the test ends.
 */
function record(t) {
  const events = []
  const ours = new Set()
  const onAdd = (client) => {
    ours.add(client)
    events.push(['add', client, sse.clients.includes(client)])
  }
  const onRemove = (client, info) => {
    if (ours.has(client)) events.push(['remove', client, info, sse.clients.includes(client)])
  }
  sse.on('add', onAdd)
  sse.on('remove', onRemove)
  t.after(() => {
    sse.off('add', onAdd)
    sse.off('remove', onRemove)
  })
  return events
}

/** Resolves with the info of the 'remove' event of `client` (rejects after 5 s without). */
function removed(client) {
  let listener
  const event = new Promise((resolve) => {
    listener = (c, info) => {
      if (c !== client) return
      sse.off('remove', listener)
      resolve(info)
    }
    sse.on('remove', listener)
  })
  return within(event, 5000, `'remove' for client ${client.id}`).finally(() => sse.off('remove', listener))
}

test("'add' is emitted inside add(), with the registered client, before add returns", async (t) => {
  const events = record(t)
  let returned = null
  const srv = await listen((req, res) => {
    returned = sse.add(req, res)
    events.push(['returned', returned])
  })
  t.after(() => srv.close())
  const raw = await connect(srv.port)
  t.after(() => raw.close())
  assert.equal(events.length, 2)
  assert.deepEqual(events[0], ['add', returned, true])
  assert.deepEqual(events[1], ['returned', returned])
})

test("'remove' with reason 'closed' when the connection closes, and when the app ends the response", async (t) => {
  const events = record(t)
  const srv = await sseServer(sse)
  t.after(() => srv.close())
  // The app ending its response is about the attached response: b stays attached under SIMPLE_SSE_RS_DETACH.
  const attached = await sseServer(sse, undefined, { detach: false })
  t.after(() => attached.close())
  const [rawA, a] = await srv.open()
  const [rawB, b] = await attached.open()
  const gone = removed(a)
  rawA.close()
  assert.deepEqual(await gone, { reason: 'closed' })
  b.res.end()
  await rawB.closed()
  const removes = events.filter((e) => e[0] === 'remove')
  assert.deepEqual(removes, [
    ['remove', a, { reason: 'closed' }, false],
    ['remove', b, { reason: 'closed' }, false],
  ])
})

test("'remove' with reason 'removed' for sse.remove(client) and sse.remove(id), before remove returns", async (t) => {
  const events = record(t)
  const srv = await sseServer(sse)
  t.after(() => srv.close())
  const [rawA, a] = await srv.open()
  const [rawB, b] = await srv.open()
  t.after(() => {
    rawA.close()
    rawB.close()
  })
  events.length = 0
  assert.equal(sse.remove(a), true)
  assert.deepEqual(events, [['remove', a, { reason: 'removed' }, false]])
  assert.equal(sse.remove(b.id), true)
  assert.equal(sse.remove(b.id), false, 'already gone: no event')
  assert.deepEqual(events.slice(1), [['remove', b, { reason: 'removed' }, false]])
})

test("a failing client: 'drop' then 'remove' with reason 'dropped', after every client of the batch was written", async (t) => {
  const events = record(t)
  const onDrop = (client, info) => events.push(['drop', client, info.reason])
  sse.on('drop', onDrop)
  t.after(() => sse.off('drop', onDrop))
  // Two responses whose write throws, and one whose write records (installed before add:
  // they are their own write, so the package writes through them).
  const written = []
  const srv = await listen((req, res) => {
    const write = res.write
    res.write = req.url === '/broken'
      ? () => {
          throw new Error('broken pipe')
        }
      : function (chunk) {
          written.push(String(chunk))
          return write.apply(this, arguments)
        }
    sse.add(req, res)
  })
  t.after(() => srv.close())
  const clients = []
  for (const path of ['/broken', '/ok', '/broken']) {
    const raw = await connect(srv.port, path)
    t.after(() => raw.close())
    clients.push([raw, sse.clients.at(-1)])
  }
  const [[, x], [okRaw, ok], [, y]] = clients
  events.length = 0
  const gotOk = okRaw.until('data: to all\n\n')
  // When the first 'remove' listener runs, the healthy client's frame was already written.
  let writtenFirst = null
  const listener = (client) => {
    if (client !== x) return
    sse.off('remove', listener)
    writtenFirst = written.slice()
  }
  sse.on('remove', listener)
  const gone = removed(y)
  sse.broadcast('*', 'to all')
  await gotOk
  await gone
  assert.deepEqual(writtenFirst, [`id: ${ok.id}\ndata: to all\n\n`], "the batch was written before any 'remove' listener ran")
  assert.deepEqual(
    events.map((e) => e.slice(0, 3)),
    [
      ['drop', x, 'error'],
      ['drop', y, 'error'],
      ['remove', x, { reason: 'dropped' }],
      ['remove', y, { reason: 'dropped' }],
    ],
  )
})

test("a slow client dropped past maxPendingBytes: 'remove' with reason 'dropped'", async (t) => {
  const events = record(t)
  const srv = await sseServer(sse)
  t.after(() => srv.close())
  const [raw, slow] = await srv.open()
  t.after(() => raw.close())
  const cap = sse.maxPendingBytes
  sse.maxPendingBytes = 4096
  t.after(() => {
    sse.maxPendingBytes = cap
  })
  raw.socket.pause()
  const info = removed(slow)
  let gone = false
  info.then(() => {
    gone = true
  })
  for (let i = 0; !gone; i++) {
    sse.send(slow, 'x'.repeat(16 * 1024))
    await new Promise((resolve) => setImmediate(resolve))
    if (i > 4000) assert.fail('never dropped')
  }
  assert.deepEqual(await info, { reason: 'dropped' })
  assert.deepEqual(events.filter((e) => e[0] === 'remove'), [['remove', slow, { reason: 'dropped' }, false]])
})

test("sse.close(): 'remove' with reason 'shutdown' for every client, once all are closed", async (t) => {
  const events = record(t)
  const srv = await sseServer(sse)
  t.after(() => srv.close())
  const [rawA, a] = await srv.open()
  const [rawB, b] = await srv.open()
  events.length = 0
  let left = null
  const listener = () => {
    if (left === null) left = sse.clients.length
  }
  sse.on('remove', listener)
  t.after(() => sse.off('remove', listener))
  sse.close()
  assert.equal(left, 0, "the listeners run once close() removed everyone")
  assert.deepEqual(events, [
    ['remove', a, { reason: 'shutdown' }, false],
    ['remove', b, { reason: 'shutdown' }, false],
  ])
  await rawA.closed()
  await rawB.closed()
  assert.equal(events.length, 2, 'nothing more when the connections then close')
})

test('assigning sse.clients removes the others with reason "removed"', (t) => {
  const events = record(t)
  const stub = () => ({ writeHead() {}, write() {} })
  const a = sse.add({}, stub())
  const b = sse.add({}, stub())
  process.once('warning', () => {}) // SIMPLE_SSE_RS_CLIENTS_ASSIGNED
  sse.clients = [b]
  assert.deepEqual(events.filter((e) => e[0] === 'remove'), [['remove', a, { reason: 'removed' }, false]])
  sse.remove(b)
})

test('inspecting a client shows its id, rooms and res (not rooms: [Getter/Setter])', (t) => {
  const res = { writeHead() {}, write() {} }
  const client = sse.add({}, res)
  t.after(() => sse.remove(client))
  sse.join(client, 'news')
  sse.join(client, 7)
  const shown = inspect(client, { depth: 1, breakLength: Infinity })
  assert.doesNotMatch(shown, /Getter/)
  assert.match(shown, new RegExp(`^Client \\{ id: ${client.id}, rooms: \\[ 'news', 7 \\], res: \\{`))
  assert.match(inspect(client), /rooms: \[ 'news', 7 \]/)
  assert.match(inspect({ nested: { deeper: client } }, { depth: 1 }), /deeper: \[Client \d+\]/)
  // Still a plain-looking object: own keys and JSON as simple-sse's.
  assert.deepEqual(Object.keys(client), ['id', 'rooms', 'res'])
  assert.equal(JSON.stringify({ ...client, res: undefined }), `{"id":${client.id},"rooms":["news",7]}`)
})

test('client.kind and client.detached: getters on the prototype (own keys stay id, rooms, res)', async (t) => {
  const srv = await sseServer(sse)
  t.after(() => srv.close())
  const [raw, client] = await srv.open()
  t.after(() => raw.close())
  // Handed to Rust when detaching is the default (SIMPLE_SSE_RS_DETACH=1) and the platform can.
  const detached = sse.detach && DETACH
  assert.equal(client.kind, detached ? 'detached' : 'node')
  assert.equal(client.detached, detached)
  assert.equal(client.res === null, detached)
  assert.deepEqual(Object.keys(client), ['id', 'rooms', 'res'])
  assert.equal(Object.hasOwn(client, 'kind'), false)
  const proto = Object.getOwnPropertyDescriptors(sse.Client.prototype)
  assert.equal(typeof proto.kind.get, 'function')
  assert.equal(typeof proto.detached.get, 'function')
  // What the other kinds will look like: a Fetch API Response, or no response at all.
  const fetchLike = Object.create(sse.Client.prototype, { res: { value: new Response('') } })
  assert.equal(fetchLike.kind, 'fetch')
  assert.equal(fetchLike.detached, false)
  const released = Object.create(sse.Client.prototype, { res: { value: null } })
  assert.equal(released.kind, 'detached')
  assert.equal(released.detached, true)
})

test('a second add on the same response throws a TypeError before registering anything (while the first client is registered)', async (t) => {
  let response = null
  const srv = await listen((req, res) => {
    response = res
    const client = sse.add(req, res)
    const count = sse.clients.length
    const clients = sse.stats().clients
    assert.throws(() => sse.add(req, res), {
      name: 'TypeError',
      message: `res was already added (client ${client.id}): a response carries one event stream`,
    })
    assert.equal(sse.clients.length, count)
    assert.equal(sse.stats().clients, clients)
    sse.send(client, 'still', 'served')
  })
  t.after(() => srv.close())
  const raw = await connect(srv.port)
  await raw.until('event: still\ndata: served\n\n')
  const gone = removed(sse.clients.at(-1))
  raw.close()
  await gone
  assert.equal(sse.clients.filter((c) => c.res === response).length, 0, 'no phantom client left behind')

  // A stub (no socket) too: one response, one client.
  const res = { writeHead() {}, write() {} }
  const client = sse.add({}, res)
  assert.throws(() => sse.add({}, res), TypeError)
  assert.deepEqual(sse.clients, [client])
  // Once its client is removed, a stub may be added again (as simple-sse 0.0.3 allowed; a
  // real response then throws ERR_HTTP_HEADERS_SENT, before registering anything).
  sse.remove(client)
  const again = sse.add({}, res)
  assert.deepEqual(sse.clients, [again])
  assert.throws(() => sse.add({}, res), TypeError)
  sse.remove(again)
})

test('maxPendingBytes takes a string of digits, and quotes what it refuses', (t) => {
  const cap = sse.maxPendingBytes
  t.after(() => {
    sse.maxPendingBytes = cap
  })
  sse.maxPendingBytes = '1000'
  assert.equal(sse.maxPendingBytes, 1000)
  assert.equal(sse.stats().maxPendingBytes, 1000)
  for (const [bad, got] of [['abc', 'got "abc"'], ['1.5', 'got "1.5"'], ['0', 'got "0"'], [1.5, 'got 1.5'], [undefined, 'got undefined']]) {
    assert.throws(() => {
      sse.maxPendingBytes = bad
    }, (err) => err instanceof RangeError && err.message.startsWith('maxPendingBytes must be') && err.message.endsWith(got))
  }
  assert.equal(sse.maxPendingBytes, 1000)
})

test('heartbeat: a fraction is a RangeError; undefined or null (an unset variable) keeps the interval, with one warning', async (t) => {
  const before = sse.heartbeat
  t.after(() => {
    sse.heartbeat = before
  })
  sse.heartbeat = 15000
  for (const bad of [0.5, 1000.5, '0.5']) {
    assert.throws(() => {
      sse.heartbeat = bad
    }, /^RangeError: heartbeat must be a whole number of milliseconds/)
    assert.equal(sse.heartbeat, 15000)
  }
  const warnings = []
  const onWarning = (w) => warnings.push(w.code)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  sse.heartbeat = process.env.SIMPLE_SSE_RS_SURELY_UNSET_VARIABLE
  sse.heartbeat = null
  assert.equal(sse.heartbeat, 15000)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(warnings, ['SIMPLE_SSE_RS_NULL_HEARTBEAT'])
})

test("a 'remove' listener that throws: sse.remove throws it, the client is removed all the same", (t) => {
  const client = sse.add({}, { writeHead() {}, write() {} })
  const boom = new Error('listener failed')
  const listener = () => {
    throw boom
  }
  sse.on('remove', listener)
  t.after(() => sse.off('remove', listener))
  assert.throws(() => sse.remove(client), boom)
  assert.equal(sse.getClient(client.id), null)
  assert.ok(!sse.clients.includes(client))
})

test('add on a response whose headers already went out throws before registering anything', async (t) => {
  let thrown = null
  let response = null
  const srv = await listen((req, res) => {
    response = res
    res.writeHead(200, { 'Content-Type': 'text/plain' })
    res.write('not an event stream')
    const count = sse.clients.length
    try {
      sse.add(req, res)
    } catch (err) {
      thrown = err
    }
    assert.equal(sse.clients.length, count)
    res.end()
  })
  t.after(() => srv.close())
  const raw = await connect(srv.port)
  await raw.closed()
  assert.equal(thrown?.code, 'ERR_HTTP_HEADERS_SENT')
  assert.ok(!sse.clients.some((c) => c.res === response), 'no phantom client')
})

test("sse.remove on a client whose write throws: 'drop' ('error') then 'remove' ('dropped')", async (t) => {
  const events = record(t)
  const onDrop = (client, info) => events.push(['drop', client, info.reason])
  sse.on('drop', onDrop)
  t.after(() => sse.off('drop', onDrop))
  const srv = await listen((req, res) => {
    res.write = () => {
      throw new Error('broken pipe')
    }
    sse.add(req, res)
  })
  t.after(() => srv.close())
  const raw = await connect(srv.port)
  t.after(() => raw.close())
  const client = sse.clients.at(-1)
  events.length = 0
  sse.send(client, 'queued') // written by remove, before it forgets the client
  assert.equal(sse.remove(client), true)
  assert.deepEqual(events.map((e) => e.slice(0, 3)), [
    ['drop', client, 'error'],
    ['remove', client, { reason: 'dropped' }],
  ])
})
