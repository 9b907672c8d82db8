'use strict'
// Scale microbenchmark: costs that must grow linearly, this package vs simple-sse 0.0.3.
// `node bench/scale.js` (about half a minute). Not part of `npm run bench` or `npm test`.
//
//  - rooms: one client joins N rooms, is asked `in` each, leaves every other one and joins
//    them again (the original keeps rooms in an array: each join scans it, O(N) per join);
//  - storm: N clients are added, then all disconnect at once in random order (each close
//    removes one client from `sse.clients`; the original splices it out, O(N) per removal).
// Each (library, case, N) runs in a fresh process (both packages are module singletons),
// with in-memory request/response objects: this times the bookkeeping, not the network.

const { spawnSync } = require('node:child_process')
const { EventEmitter } = require('node:events')
const path = require('node:path')

const LIBS = { ours: path.join(__dirname, '..'), 'simple-sse': 'simple-sse' }
const CASES = {
  rooms: { ours: [1000, 10000, 100000], 'simple-sse': [1000, 10000, 30000] },
  storm: { ours: [2000, 20000, 60000], 'simple-sse': [2000, 20000, 60000] },
}

function fakeConnection() {
  const res = new EventEmitter()
  res.writeHead = () => res
  res.write = () => true
  res.end = () => {}
  // simple-sse listens on req.connection, this package on res: one 'close' reaches both.
  const req = { socket: { setTimeout() {} }, connection: res }
  return { req, res }
}

const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6

function rooms(sse, n) {
  const { req, res } = fakeConnection()
  const c = sse.add(req, res)
  const names = Array.from({ length: n }, (_, i) => `room-${i}`)
  let t = process.hrtime.bigint()
  for (const room of names) sse.join(c, room)
  const join = ms(t)
  t = process.hrtime.bigint()
  for (const room of names) if (!sse.in(c, room)) throw new Error('lost a room')
  const lookup = ms(t)
  t = process.hrtime.bigint()
  for (let i = 0; i < n; i += 2) sse.leave(c, names[i])
  for (let i = 0; i < n; i += 2) sse.join(c, names[i])
  const churn = ms(t)
  if (c.rooms.length !== n || c.rooms[0] !== names[1]) throw new Error('rooms out of order')
  return { 'join ms': join, 'in ms': lookup, 'leave+rejoin half ms': churn }
}

function storm(sse, n) {
  const conns = Array.from({ length: n }, fakeConnection)
  for (const { req, res } of conns) sse.add(req, res)
  // A fixed shuffle: disconnects arrive in no particular order.
  let x = 12345
  for (let i = n - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) & 0x7fffffff
    const j = x % (i + 1)
    ;[conns[i], conns[j]] = [conns[j], conns[i]]
  }
  const t = process.hrtime.bigint()
  for (const { res } of conns) res.emit('close')
  const removal = ms(t)
  if (sse.clients.length !== 0) throw new Error('clients left')
  return { 'all removals ms': removal, 'µs per removal': (removal * 1000) / n }
}

if (process.argv[2] === 'child') {
  const [, , , lib, kind, n] = process.argv
  const sse = require(LIBS[lib])
  sse.heartbeat = 0x7fffffff
  const out = (kind === 'rooms' ? rooms : storm)(sse, Number(n))
  process.stdout.write(JSON.stringify(out))
  process.exit(0)
}

for (const [kind, perLib] of Object.entries(CASES)) {
  console.log(`\n${kind}`)
  for (const [lib, sizes] of Object.entries(perLib)) {
    for (const n of sizes) {
      const run = spawnSync(process.execPath, [__filename, 'child', lib, kind, String(n)], { encoding: 'utf8', timeout: 120000 })
      const line = run.status === 0
        ? Object.entries(JSON.parse(run.stdout)).map(([k, v]) => `${k} ${v.toFixed(k.startsWith('µs') ? 2 : 1)}`).join(', ')
        : `failed: ${run.error || run.stderr.split('\n')[0]}`
      console.log(`  ${lib.padEnd(10)} N=${String(n).padStart(6)}  ${line}`)
    }
  }
}
