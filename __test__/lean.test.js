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
