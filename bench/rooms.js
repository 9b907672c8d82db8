'use strict'
// Room-key microbenchmark: what a room name costs per call (join+leave, in, broadcast to a
// room nobody is in, client.rooms, stats().rooms), for well-formed names (the usual case)
// and for names with a lone surrogate (kept exactly since issue 18: read a second time).
//
//   node bench/rooms.js                 this checkout
//   node bench/rooms.js ../other-build  this checkout against another checkout (a build of
//                                       main, say), alternating, each figure with its ratio
//
// Each build runs in its own process, five times, alternating; each figure is the best of
// its runs (the least disturbed by the machine's other work). A few tens of seconds. Not part
// of `npm run bench` or `npm test`.

const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { EventEmitter } = require('node:events')

const N = 200000

function fakeConnection() {
  const res = new EventEmitter()
  res.writeHead = () => res
  res.write = () => true
  res.end = () => {}
  const req = { socket: { setTimeout() {} }, connection: res, headers: {} }
  return { req, res }
}

const ns = (start, n) => Number(process.hrtime.bigint() - start) / n

const KINDS = {
  'well-formed (room-NN-abcdef)': Array.from({ length: 64 }, (_, i) => `room-${i}-abcdef`),
  'well-formed, non-ASCII (salle-NN-é✓)': Array.from({ length: 64 }, (_, i) => `salle-${i}-é✓`),
  'lone surrogate (dm:NN\\ud83d)': Array.from({ length: 64 }, (_, i) => `dm:${i}\ud83d`),
}

/** In a child: times every call for every kind of name; prints JSON. */
function child(dir) {
  const sse = require(path.resolve(dir))
  const out = {}
  for (const [kind, names] of Object.entries(KINDS)) {
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
      const row = {
        'join+leave ns': joinLeave,
        'in ns': lookup,
        'broadcast (empty room) ns': broadcast,
        'client.rooms (64) ns': rooms,
        'stats() (64 rooms) ns': stats,
      }
      for (const [k, v] of Object.entries(row)) rows[k] = Math.min(rows[k] ?? Infinity, v)
    }
    sse.remove(c)
    out[kind] = rows
  }
  sse.close()
  process.stdout.write(JSON.stringify(out))
}

function main() {
  const builds = { 'this checkout': path.join(__dirname, '..') }
  if (process.argv[2]) builds[process.argv[2]] = path.resolve(process.argv[2])
  const best = {}
  for (let run = 0; run < 5; run++) {
    for (const [name, dir] of Object.entries(builds)) {
      const r = spawnSync(process.execPath, [__filename, 'child', dir], { encoding: 'utf8' })
      if (r.status !== 0) throw new Error(`${name}: ${r.stderr}`)
      const got = JSON.parse(r.stdout)
      best[name] ??= {}
      for (const [kind, rows] of Object.entries(got)) {
        best[name][kind] ??= {}
        for (const [k, v] of Object.entries(rows)) best[name][kind][k] = Math.min(best[name][kind][k] ?? Infinity, v)
      }
    }
  }
  const names = Object.keys(builds)
  for (const kind of Object.keys(KINDS)) {
    console.log(`\n${kind}`)
    const table = {}
    for (const k of Object.keys(best[names[0]][kind])) {
      const row = {}
      for (const name of names) row[name] = Math.round(best[name][kind][k])
      if (names.length === 2) row.ratio = (best[names[0]][kind][k] / best[names[1]][kind][k]).toFixed(2)
      table[k] = row
    }
    console.table(table)
  }
}

if (process.argv[2] === 'child') child(process.argv[3])
else main()
