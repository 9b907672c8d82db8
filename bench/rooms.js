'use strict'
// Room-key microbenchmark: what a room name costs per call (join+leave, in, broadcast to a
// room nobody is in, client.rooms, stats().rooms), for well-formed names (the usual case)
// and for names with a lone surrogate (kept exactly since issue 18).
// `node bench/rooms.js [package dir]` (default: this checkout), a few seconds; compare two
// builds by running it against each. Not part of `npm run bench` or `npm test`.

const path = require('node:path')
const { EventEmitter } = require('node:events')

const sse = require(path.resolve(process.argv[2] || path.join(__dirname, '..')))

function fakeConnection() {
  const res = new EventEmitter()
  res.writeHead = () => res
  res.write = () => true
  res.end = () => {}
  const req = { socket: { setTimeout() {} }, connection: res, headers: {} }
  return { req, res }
}

const N = 200000
const ns = (start, n) => Number(process.hrtime.bigint() - start) / n

function measure(label, names) {
  const { req, res } = fakeConnection()
  const c = sse.add(req, res)
  const rows = {}
  for (let round = 0; round < 5; round++) {
    let t = process.hrtime.bigint()
    for (let i = 0; i < N; i++) {
      const room = names[i & 63]
      sse.join(c, room)
      sse.leave(c, room)
    }
    const joinLeave = ns(t, N)
    for (const room of names) sse.join(c, room)
    t = process.hrtime.bigint()
    let hits = 0
    for (let i = 0; i < N; i++) if (sse.in(c, names[i & 63])) hits++
    const lookup = ns(t, N)
    if (hits !== N) throw new Error('lost a room')
    t = process.hrtime.bigint()
    for (let i = 0; i < N; i++) sse.broadcast(`${names[i & 63]}-nobody`, 'e', 'x')
    const broadcast = ns(t, N)
    t = process.hrtime.bigint()
    for (let i = 0; i < N / 100; i++) if (c.rooms.length !== 64) throw new Error('rooms')
    const rooms = ns(t, N / 100)
    t = process.hrtime.bigint()
    for (let i = 0; i < N / 100; i++) if (sse.stats().rooms.length !== 64) throw new Error('stats')
    const stats = ns(t, N / 100)
    sse.leave(c)
    const row = { 'join+leave ns': joinLeave, 'in ns': lookup, 'broadcast (empty room) ns': broadcast, 'client.rooms (64) ns': rooms, 'stats() (64 rooms) ns': stats }
    for (const [k, v] of Object.entries(row)) rows[k] = Math.min(rows[k] ?? Infinity, v)
  }
  sse.remove(c)
  for (const k of Object.keys(rows)) rows[k] = Math.round(rows[k])
  console.log(label, JSON.stringify(rows))
}

measure('well-formed (room-NN-abcdef)', Array.from({ length: 64 }, (_, i) => `room-${i}-abcdef`))
measure('well-formed, non-ASCII (salle-NN-é✓)', Array.from({ length: 64 }, (_, i) => `salle-${i}-é✓`))
measure('lone surrogate (dm:NN\\ud83d)', Array.from({ length: 64 }, (_, i) => `dm:${i}\ud83d`))
sse.close()
