'use strict'
// What a client object costs: every client shares one hidden class (the `rooms` accessor
// lives there, not in each object) and stays in fast mode. Checked in a child process
// with V8's natives syntax; a change that gave each client its own shape or a dictionary
// of properties would cost every connection hundreds of bytes.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { runNode, PACKAGE } = require('./fixtures/rel-helpers')
const path = require('node:path')
const fs = require('node:fs')
const os = require('node:os')

const CHILD = `
const { EventEmitter } = require('node:events')
const sse = require(${JSON.stringify(PACKAGE)})
function response() {
  const res = new EventEmitter()
  res.writeHead = () => res
  res.write = () => true
  res.end = () => {}
  return res
}
const N = 10000
const added = Array.from({ length: 200 }, () => sse.add({}, response()))
sse.join(added[3], 'a')
added[4].rooms = ['b', 'c']
const res = response()
const made = new Array(N).fill(null)
for (let i = 0; i < 4; i++) gc()
const before = process.memoryUsage().heapUsed
for (let i = 0; i < N; i++) made[i] = new sse.Client(i, res)
for (let i = 0; i < 4; i++) gc()
const bytes = (process.memoryUsage().heapUsed - before) / N
const all = [...added, ...made]
process.send({
  sameShape: all.every((c) => %HaveSameMap(c, all[0])),
  fast: all.every((c) => %HasFastProperties(c)),
  keys: Object.keys(added[4]),
  rooms: added[4].rooms,
  bytes,
})
sse.close()
`

test('every client shares one hidden class in fast mode, a few dozen bytes each', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sse-lean-')), 'child.js')
  fs.writeFileSync(file, CHILD)
  const out = await runNode(file, [], { execArgv: ['--allow-natives-syntax', '--expose-gc'] })
  fs.rmSync(path.dirname(file), { recursive: true })
  assert.equal(out.stderr, '')
  assert.equal(out.code, 0)
  const [r] = out.messages
  assert.equal(r.sameShape, true, 'one hidden class for every client')
  assert.equal(r.fast, true, 'fast properties')
  assert.deepEqual(r.keys, ['id', 'rooms', 'res'])
  assert.deepEqual(r.rooms, ['b', 'c'])
  // A header (3 words) and two fields: 40 bytes on 64-bit; a shape per client is far more.
  assert.ok(r.bytes <= 64, `${r.bytes} bytes per client object`)
})

// What a Node response costs: on a fresh node:http response `add` passes X-Accel-Buffering
// with writeHead's headers, so Node keeps no header map for it (setHeader first would make
// one: an object in dictionary mode and an array per header, some 550 bytes per client);
// and it adds to the response only the wrappers and the link to its connection.
test('a fresh node:http response keeps no header map, and only our wrappers as own properties', async (t) => {
  const sse = require('..')
  const { listen, connect, ATTACHED } = require('./helpers')
  const seen = []
  const srv = await listen((req, res) => {
    const preset = req.url === '/preset'
    if (preset) res.setHeader('X-App', '1')
    const before = new Set(Reflect.ownKeys(res))
    if (req.url === '/floor') {
      // What Node itself adds to a response that starts a stream (statusCode…).
      res.writeHead(200, { 'Content-Type': 'text/event-stream' })
      res.flushHeaders()
    } else {
      sse.add(req, res, ATTACHED)
    }
    const added = Reflect.ownKeys(res).filter((k) => !before.has(k))
    let setAfter = null
    try {
      res.setHeader('X-Late', '1')
    } catch (err) {
      setAfter = err.code
    }
    seen.push({ names: res.getHeaderNames(), added: added.map(String).sort(), header: res._header, sent: res.headersSent, setAfter })
  })
  t.after(() => srv.close())
  t.after(() => sse.close())
  const lean = await connect(srv.port, '/')
  const preset = await connect(srv.port, '/preset')
  const floor = await connect(srv.port, '/floor')
  t.after(() => {
    for (const raw of [lean, preset, floor]) raw.close()
  })
  const [a, b, c] = seen
  assert.deepEqual(a.names, [], 'no header map on a fresh response')
  assert.deepEqual(b.names, ['x-app', 'x-accel-buffering', 'content-type', 'cache-control', 'connection'])
  // Our wrappers (write, end, _send, and emit, which removes the client on 'close' and
  // 'prefinish' without a listener) and the response's connection: nothing per client beyond.
  const ours = a.added.filter((k) => !c.added.includes(k))
  assert.deepEqual(ours, ['Symbol(simple-sse-rs connection)', '_send', 'emit', 'end', 'write'])
  // Node's copy of the header block it sent (~200 bytes a client) is let go once it went
  // out; the response still counts as having sent its headers.
  for (const r of [a, b]) {
    assert.equal(r.header, 'HTTP/1.1 200 OK\r\n\r\n')
    assert.equal(r.sent, true)
    assert.equal(r.setAfter, 'ERR_HTTP_HEADERS_SENT')
  }
  assert.match(c.header, /^HTTP\/1\.1 200 OK\r\nContent-Type: text\/event-stream\r\n/, "the floor's is Node's own")
  // The same headers, in the same order, either way.
  const order = (raw) => Object.keys(raw.headers).filter((k) => k !== 'x-app' && k !== 'date' && k !== 'transfer-encoding')
  assert.deepEqual(order(lean), ['x-accel-buffering', 'content-type', 'cache-control', 'connection'])
  assert.deepEqual(order(lean), order(preset))
  assert.equal(lean.headers['x-accel-buffering'], 'no')
  assert.equal(lean.headers['content-type'], 'text/event-stream')
})

// The id -> connection index (lib/registry.js): a sorted array, 8 bytes a client where a
// Map costs about 50. Checked against a Map through adds, removals, re-adds and lookups
// of ids that are absent, removed, or not numbers.
test('the id -> connection index answers as a Map does', () => {
  const { ById } = require('../lib/registry')
  const index = new ById()
  const model = new Map()
  let seed = 7
  const rand = (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed % n
  }
  let next = 0
  for (let step = 0; step < 20000; step++) {
    const r = rand(10)
    if (r < 5) {
      const conn = { client: { id: next } }
      assert.equal(index.set(next, conn), index)
      model.set(next++, conn)
    } else if (r < 8) {
      const id = rand(next + 2)
      assert.equal(index.delete(id), model.delete(id))
    } else if (r < 9) {
      // Replacing a live connection under its id (lib/detach.js does).
      const live = [...model.keys()]
      if (live.length > 0) {
        const id = live[rand(live.length)]
        const conn = { client: { id } }
        index.set(id, conn)
        model.set(id, conn)
      }
    } else {
      const id = rand(next + 2)
      assert.equal(index.get(id), model.get(id))
    }
    assert.equal(index.size, model.size)
  }
  assert.deepEqual(index.values(), [...model.values()])
  for (const key of ['1', null, undefined, 1.5, NaN, -1]) assert.equal(index.get(key), undefined)
  assert.equal(index.delete('1'), false)
  assert.ok(index.slots.length <= 2 * index.size + 1, 'removed slots are squeezed out')
})
