'use strict'
// Writer threads (issue 21): `node bench/threads.js`. Not part of `npm test` or `npm run bench`.
//
// One server process per configuration — the `res.write` floor (a Set of responses, one
// `res.write` of one prebuilt buffer each) and this package with SIMPLE_SSE_RS_WRITERS=0
// (the JavaScript thread writes the direct clients, as before the threads), 1, 2 and 4 —
// pinned to core 0 (`taskset`, where it exists), the load (this process) on core 1.
// THREADS_CLIENTS clients (default 19,000, or what `ulimit -n` leaves room for) connect;
// then THREADS_EVENTS (default 50) events of 64 B go to all of them, one broadcast per turn
// of the event loop. Printed per configuration, every figure measured in this run:
//
//   per event ms   wall time from the first broadcast until every client had every
//                  event, divided by the events (delivery time per broadcast)
//   cpu ms         the server's CPU (user + system, every thread) over that time
//   loop p99/max   event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution)
//                  while fanning out: how long any other request to the server waited
//   return µs      median time one `broadcast('*', …)` call took to return
//
// and the ratios against the floor. Timings are reported, never asserted.

const http = require('node:http')
const net = require('node:net')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')
const { monitorEventLoopDelay } = require('node:perf_hooks')

const HEAD = { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' }

function server(kind) {
  const floor = kind === 'floor'
  const sse = floor ? null : require('..')
  if (!floor) sse.heartbeat = 0x7fffffff
  const all = new Set()
  let added = 0
  const srv = http.createServer((req, res) => {
    added++
    if (!floor) return void sse.add(req, res)
    res.writeHead(200, HEAD)
    res.flushHeaders()
    all.add(res)
    res.once('close', () => all.delete(res))
  })
  srv.maxConnections = Infinity
  srv.listen(0, '127.0.0.1', () => process.send({ port: srv.address().port }))
  const data = JSON.stringify({ p: 'x'.repeat(40) })
  const frame = Buffer.from(`data: ${data}\n\n`)
  let cpu = null
  let delay = null
  const returns = []
  process.on('message', (msg) => {
    if (msg.cmd === 'count') process.send({ added })
    if (msg.cmd === 'run') {
      delay = monitorEventLoopDelay({ resolution: 1 })
      delay.enable()
      cpu = process.cpuUsage()
      let n = 0
      const one = () => {
        const t = process.hrtime.bigint()
        if (floor) for (const res of all) res.write(frame)
        else sse.broadcast('*', data)
        returns.push(Number(process.hrtime.bigint() - t) / 1000)
        if (++n < msg.events) setImmediate(one)
      }
      one()
    }
    if (msg.cmd === 'stop') {
      delay.disable()
      const used = process.cpuUsage(cpu)
      returns.sort((a, b) => a - b)
      process.send({
        cpuMs: (used.user + used.system) / 1000,
        p99Ms: delay.percentile(99) / 1e6,
        maxMs: delay.max / 1e6,
        returnUs: returns[returns.length >> 1],
      })
    }
    if (msg.cmd === 'exit') process.exit(0)
  })
}

function ask(child, msg, key) {
  return new Promise((resolve) => {
    const on = (m) => {
      if (key in m) {
        child.off('message', on)
        resolve(m)
      }
    }
    child.on('message', on)
    if (msg !== null) child.send(msg)
  })
}

/** One raw client: counts the `\n\n`-terminated frames it receives. */
function client(port, counts, i) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let last = 0
    let head = true
    socket.on('data', (buf) => {
      for (let k = 0; k < buf.length; k++) {
        const c = buf[k]
        if (c === 10 && last === 10) counts[i]++
        last = c
      }
      if (head) {
        head = false
        resolve(socket)
      }
    })
    socket.on('error', reject)
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  })
}

async function measure(kind, clients, events) {
  const self = path.resolve(__filename)
  const writers = kind === 'floor' ? [] : [`SIMPLE_SSE_RS_WRITERS=${kind.split('=')[1]}`]
  const pin = hasTaskset() ? 'taskset -c 0 ' : ''
  const child = spawn('/bin/sh', ['-c', `ulimit -n "$(ulimit -Hn)"; exec env ${writers.join(' ')} ${pin}"$0" "$@"`, process.execPath, self, 'server', kind], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const { port } = await ask(child, null, 'port')
  const counts = new Uint32Array(clients)
  const sockets = []
  for (let at = 0; at < clients; at += 500) {
    const batch = []
    for (let i = at; i < Math.min(clients, at + 500); i++) batch.push(client(port, counts, i))
    sockets.push(...(await Promise.all(batch)))
  }
  while ((await ask(child, { cmd: 'count' }, 'added')).added < clients) await new Promise((r) => setTimeout(r, 50))
  await new Promise((r) => setTimeout(r, 500))
  const base = counts.slice()
  const start = process.hrtime.bigint()
  child.send({ cmd: 'run', events })
  for (;;) {
    let done = true
    for (let i = 0; i < clients; i++) {
      if (counts[i] - base[i] < events) {
        done = false
        break
      }
    }
    if (done) break
    await new Promise((r) => setImmediate(r))
  }
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6
  const out = await ask(child, { cmd: 'stop' }, 'cpuMs')
  child.send({ cmd: 'exit' })
  await new Promise((r) => child.once('exit', r))
  for (const s of sockets) s.destroy()
  return { kind, perEventMs: wallMs / events, ...out }
}

function hasTaskset() {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

async function main() {
  const limit = Number(execFileSync('/bin/sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()) || 1024
  const clients = Number(process.env.THREADS_CLIENTS) || Math.min(19000, limit - 500)
  const events = Number(process.env.THREADS_EVENTS) || 50
  if (hasTaskset()) execFileSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' })
  const kinds = (process.env.THREADS_KINDS || 'floor,writers=0,writers=1,writers=2,writers=4').split(',')
  console.log(`${clients} clients, ${events} × 64 B events, one broadcast per turn; server on core 0, load on core 1`)
  const rows = []
  for (const kind of kinds) {
    const r = await measure(kind, clients, events)
    rows.push(r)
    console.log(
      `${kind.padEnd(10)} per event ${r.perEventMs.toFixed(2).padStart(7)} ms  cpu ${r.cpuMs.toFixed(0).padStart(6)} ms  ` +
        `loop p99 ${r.p99Ms.toFixed(2).padStart(7)} ms  max ${r.maxMs.toFixed(2).padStart(7)} ms  return ${r.returnUs.toFixed(0).padStart(7)} µs`,
    )
  }
  const floor = rows.find((r) => r.kind === 'floor')
  if (floor === undefined) return
  console.log('\nvs the res.write floor (same run):')
  for (const r of rows) {
    if (r === floor) continue
    console.log(`${r.kind.padEnd(10)} cpu ${(r.cpuMs / floor.cpuMs).toFixed(2)}×  loop p99 ${(r.p99Ms / floor.p99Ms).toFixed(3)}×  per event ${(r.perEventMs / floor.perEventMs).toFixed(2)}×`)
  }
}

if (process.argv[2] === 'server') server(process.argv[3])
else main()
