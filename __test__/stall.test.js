'use strict'
// The stall limit end to end: a backlogged reader whose socket takes nothing for the
// stall limit is dropped at the next frame queued for it, even when nothing but
// heartbeats is sent; a slow reader that keeps taking bytes is not. The limit is 60 s;
// this file shortens it to 1.5 s with the test-only SIMPLE_SSE_RS_STALL_MS, read when the
// package loads (src/limits.rs). Run on the direct path, and framed by framed.test.js.

process.env.SIMPLE_SSE_RS_STALL_MS = '1500'

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const sse = require('..')
const { sseServer } = require('./helpers')
const { pacedReader } = require('./fixtures/paced-reader')

const STALL_MS = 1500
/** The stalled reader takes 64 KiB every 50 ms. */
const READ = { bytes: 64 * 1024, everyMs: 50 }
/**
 * Rust learns that a socket took bytes when Node has written the step it was handed
 * (at most STEP bytes, src/limits.rs), so the last progress it saw may be up to one step's
 * worth of reads before the reader's last read.
 */
const SEEN_LATE_MS = Math.ceil(require('../lib/binding').STEP / READ.bytes) * READ.everyMs

after(() => sse.close())

test('behind a 16 MB burst, with only heartbeats: the reader that stopped is dropped after the stall limit, the slow one stays', async (t) => {
  sse.heartbeat = 0 // heartbeats sent by hand below
  t.after(() => {
    sse.heartbeat = 20000
  })
  // Each client's path, read in the handler (a detached client has no res.req).
  const paths = new Map()
  const srv = await sseServer(sse, (client, req) => {
    paths.set(client, req.url)
    sse.send(client, 'snapshot', 'S'.repeat(16 * 1000 * 1000))
  })
  t.after(() => srv.close())
  const drops = []
  const onDrop = (client, info) => drops.push({ client, info, at: Date.now() })
  sse.on('drop', onDrop)
  t.after(() => sse.off('drop', onDrop))

  // 4 MB/s: the kernel frees a third of a full loopback send buffer (~1.3 MB) every ~0.3 s.
  const slow = await pacedReader(srv.port, { bytes: 256 * 1024, everyMs: 50, path: '/slow' })
  t.after(() => slow.close())
  const stalled = await pacedReader(srv.port, { ...READ, path: '/stalled' })
  t.after(() => stalled.close())
  const byPath = () => new Map(srv.added.map((c) => [paths.get(c), c]))
  while (byPath().size < 2 || stalled.taken === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  stalled.stop()
  // Its socket last made progress at its last read, up to one read interval before now.
  const stoppedAt = stalled.lastAt
  const { '/slow': slowClient, '/stalled': stalledClient } = Object.fromEntries(byPath())

  // A heartbeat every 100 ms: 20 bytes each, far from the 1 MiB hard limit.
  while (drops.length === 0) {
    sse.sendHeartbeat()
    await new Promise((resolve) => setTimeout(resolve, 100))
    if (Date.now() - stoppedAt > 20 * STALL_MS) assert.fail('the stopped reader was never dropped')
  }
  assert.equal(drops.length, 1)
  assert.equal(drops[0].client, stalledClient)
  assert.deepEqual(drops[0].info, { reason: 'slow', maxPendingBytes: 1024 * 1024 })
  assert.ok(drops[0].at - stoppedAt >= STALL_MS - SEEN_LATE_MS, `dropped ${drops[0].at - stoppedAt} ms after it stopped`)
  // The slow reader keeps taking bytes: it stays through more heartbeats while it drains.
  const until = Date.now() + 2 * STALL_MS
  while (Date.now() < until) {
    sse.sendHeartbeat()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.equal(drops.length, 1, 'the slow reader was not dropped')
  assert.ok(sse.clients.includes(slowClient))
  t.diagnostic(`the stopped reader went ${drops[0].at - stoppedAt} ms after it stopped; the slow one had taken ${slow.taken} bytes`)
})
