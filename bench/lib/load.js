'use strict'
// The load side of the benchmark: many raw HTTP/1.1 SSE connections in one process.
// Each connection decodes the chunked framing, splits the stream into `\n\n`-terminated
// frames and counts the benchmark's events, whose data is {"r":run,"s":seq,"t":sentUs,...}
// (see lib/server.js). Frames without such data (comments, retry, ':ok') are ignored.

const net = require('node:net')

const CRLF = Buffer.from('\r\n')
const HEAD_END = Buffer.from('\r\n\r\n')

/** Microseconds on the monotonic clock, shared with the server process. */
function nowUs() {
  return Number(process.hrtime.bigint() / 1000n)
}

/** What one run expects, and what arrived. Connections report into the current one. */
class Tally {
  constructor(run, count, clients, targets) {
    this.run = run
    this.count = count
    this.expected = count * targets
    this.received = 0
    this.extra = 0
    this.latencies = []
    this.done = null
    this.finished = new Promise((resolve) => {
      this.done = resolve
    })
    // One bit per (client, seq): a second copy of an event counts as extra.
    this.seen = clients.map((c) => (c.target ? new Uint8Array(count) : null))
    if (this.expected === 0) this.done()
  }

  event(client, run, seq, sentUs, atUs) {
    const seen = this.seen[client.index]
    if (run !== this.run || seen === null || seq >= this.count || seen[seq] === 1) {
      this.extra++
      return
    }
    seen[seq] = 1
    this.latencies.push(atUs - sentUs)
    if (++this.received === this.expected) this.done()
  }
}

class Client {
  constructor(index, room) {
    this.index = index
    this.room = room
    this.target = false // set per run: whether this client should get the run's events
    this.status = 0
    this.headersDone = false
    this.chunked = false
    this.pending = null // bytes of a chunk-size line or of the head, not complete yet
    this.dataLeft = 0 // payload bytes left in the current chunk
    this.crlfLeft = 0 // bytes of the CRLF after the chunk left to skip
    this.text = '' // decoded body not yet split into frames
    this.ended = false
    this.socket = null
    this.tally = null
  }

  /** Connects; resolves once the response head arrived. */
  open(port, timeoutMs = 30000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`client ${this.index}: no response head after ${timeoutMs} ms`)), timeoutMs)
      const path = this.room === null ? '/' : `/?room=${encodeURIComponent(this.room)}`
      const socket = net.connect({ port, host: '127.0.0.1' })
      this.socket = socket
      this.onHead = () => {
        clearTimeout(timer)
        resolve(this)
      }
      socket.once('error', reject)
      socket.on('connect', () => {
        socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`)
      })
      socket.on('data', (buf) => this.onData(buf))
      socket.on('close', () => {
        this.ended = true
      })
    })
  }

  onData(buf) {
    const atUs = nowUs()
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, buf])
      this.pending = null
    }
    let at = 0
    if (!this.headersDone) {
      const end = buf.indexOf(HEAD_END)
      if (end === -1) {
        this.pending = buf
        return
      }
      const head = buf.latin1Slice(0, end)
      this.status = Number(head.split(' ', 2)[1])
      this.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head)
      this.headersDone = true
      at = end + 4
      this.onHead()
    }
    if (!this.chunked) {
      this.feed(buf.latin1Slice(at), atUs)
      return
    }
    while (at < buf.length) {
      if (this.dataLeft > 0) {
        const n = Math.min(this.dataLeft, buf.length - at)
        this.feed(buf.latin1Slice(at, at + n), atUs)
        this.dataLeft -= n
        at += n
        if (this.dataLeft === 0) this.crlfLeft = 2
      } else if (this.crlfLeft > 0) {
        const n = Math.min(this.crlfLeft, buf.length - at)
        this.crlfLeft -= n
        at += n
      } else {
        const eol = buf.indexOf(CRLF, at)
        if (eol === -1) {
          this.pending = buf.subarray(at)
          return
        }
        const size = parseInt(buf.latin1Slice(at, eol), 16)
        at = eol + 2
        if (size === 0) {
          this.ended = true
          return
        }
        this.dataLeft = size
      }
    }
  }

  /** Splits decoded body text into frames and reports the benchmark's events. */
  feed(str, atUs) {
    let text = this.text + str
    let start = 0
    for (;;) {
      const end = text.indexOf('\n\n', start)
      if (end === -1) break
      this.frame(text, start, end, atUs)
      start = end + 2
    }
    this.text = start === 0 ? text : text.slice(start)
  }

  frame(text, start, end, atUs) {
    const r = text.indexOf('{"r":', start)
    if (r === -1 || r > end || this.tally === null) return
    const s = text.indexOf(',"s":', r)
    const t = text.indexOf(',"t":', s)
    this.tally.event(
      this,
      parseInt(text.slice(r + 5, s), 10),
      parseInt(text.slice(s + 5, t), 10),
      parseInt(text.slice(t + 5, t + 25), 10),
      atUs,
    )
  }
}

/** Opens `rooms.length` connections (rooms[i]: the room of client i, or null), `parallel` at a time. */
async function connectAll(port, rooms, parallel = 256) {
  const clients = rooms.map((room, i) => new Client(i, room))
  let next = 0
  async function worker() {
    while (next < clients.length) {
      const client = clients[next++]
      await client.open(port)
      if (client.status !== 200) throw new Error(`client ${client.index}: HTTP ${client.status}`)
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, clients.length) }, worker))
  return clients
}

/**
 * Churn: `total` connections, `parallel` at a time, each opened (until its response head
 * arrived, so the server added it) and then destroyed abruptly, while the server may be
 * writing to it. They are never counted. Resolves with how many were opened and dropped.
 */
async function churn(port, total, parallel = 64) {
  let started = 0
  let done = 0
  async function worker() {
    while (started < total) {
      started++
      const client = new Client(-1, null)
      await client.open(port)
      client.socket.destroy()
      done++
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, total) }, worker))
  return done
}

/**
 * Starts counting the events of run `run`: `count` events for each client for which
 * `isTarget(client)` holds, none for the others.
 */
function expect(clients, run, count, isTarget) {
  for (const c of clients) c.target = isTarget(c)
  const tally = new Tally(run, count, clients, clients.filter((c) => c.target).length)
  for (const c of clients) c.tally = tally
  return tally
}

/** Waits for every expected event, or `timeoutMs`; then a short grace period to catch extras. */
async function settle(tally, timeoutMs, graceMs = 50) {
  let timer
  const timedOut = await Promise.race([
    tally.finished.then(() => false),
    new Promise((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs)
    }),
  ])
  clearTimeout(timer)
  const doneUs = nowUs()
  await new Promise((resolve) => setTimeout(resolve, graceMs))
  return { timedOut, doneUs, missing: tally.expected - tally.received, extra: tally.extra }
}

function closeAll(clients) {
  for (const c of clients) if (c.socket !== null) c.socket.destroy()
}

/** The p-th percentile (0..100) of an array of numbers. */
function percentile(values, p) {
  if (values.length === 0) return null
  const sorted = Float64Array.from(values).sort()
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

module.exports = { connectAll, churn, expect, settle, closeAll, percentile, nowUs }
