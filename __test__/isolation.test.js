'use strict'
// Isolation and lifecycle: the addon works in worker threads (one registry each) and in
// several processes at once; it keeps nothing alive (a process that closes its server
// and clients exits by itself); sse.close() flushes, ends every response, stops the
// heartbeat and empties the registry.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Worker } = require('node:worker_threads')
const { once } = require('node:events')
const sse = require('..')
const { sseServer, within } = require('./helpers')
const { runNode } = require('./fixtures/rel-helpers')

const fixture = (name) => path.join(__dirname, 'fixtures', name)

after(() => sse.close())

/** Starts the worker fixture; `ask(type)` sends a message and resolves with the reply of that type. */
async function startWorker(workerData) {
  const worker = new Worker(fixture('rel-worker.js'), { workerData })
  const replies = []
  const waiting = new Map()
  worker.on('message', (msg) => {
    if (msg.type === 'error') throw new Error(`worker ${workerData.name}: ${msg.message}`)
    const resolve = waiting.get(msg.type)
    if (resolve) {
      waiting.delete(msg.type)
      resolve(msg)
    } else replies.push(msg)
  })
  const reply = (type) =>
    within(new Promise((resolve) => {
      const at = replies.findIndex((m) => m.type === type)
      if (at !== -1) resolve(replies.splice(at, 1)[0])
      else waiting.set(type, resolve)
    }), 10000, `worker ${workerData.name}: ${type}`)
  const exited = once(worker, 'exit').then(([code]) => code)
  const ready = await reply('ready')
  return {
    worker,
    ready,
    exited,
    ask(type) {
      const answer = reply(type)
      worker.postMessage({ type })
      return answer
    },
  }
}

test('two workers: each has its own registry, ids from 0, broadcasts stay inside', async () => {
  // This thread uses the package too: its ids and broadcasts must not leak either.
  const srv = await sseServer(sse)
  const [mainRaw, mainClient] = await srv.open()
  sse.join(mainClient, 'shared-room-name')

  const [a, b] = await Promise.all([startWorker({ name: 'A' }), startWorker({ name: 'B' })])
  assert.equal(a.ready.id, 0, 'ids start at 0 in worker A')
  assert.equal(b.ready.id, 0, 'ids start at 0 in worker B')
  assert.notEqual(a.ready.threadId, b.ready.threadId)

  await a.ask('broadcast')
  sse.broadcast('*', 'main')
  sse.broadcast('shared-room-name', 'room', 'main')
  await b.ask('broadcast')
  await mainRaw.until('data: main\n\nid: 0\nevent: room\ndata: main\n\n')

  const [ra, rb] = await Promise.all([a.ask('report'), b.ask('report')])
  for (const [r, name] of [[ra, 'A'], [rb, 'B']]) {
    assert.equal(r.text, `id: 0\nevent: tag\ndata: ${name}\n\nid: 0\nevent: room\ndata: ${name}\n\n`, `worker ${name} saw only its own events`)
    assert.deepEqual(r.clients, [0])
    assert.equal(r.stats.clients, 1)
    assert.deepEqual(r.stats.rooms, [{ room: 'shared-room-name', members: 1 }])
  }
  assert.equal(mainRaw.text, `id: ${mainClient.id}\ndata: main\n\nid: ${mainClient.id}\nevent: room\ndata: main\n\n`)
  assert.deepEqual(sse.clients, [mainClient], 'the main thread sees only its own client')

  await Promise.all([a.ask('close'), b.ask('close')])
  assert.equal(await within(a.exited, 5000, 'worker A exits by itself'), 0)
  assert.equal(await within(b.exited, 5000, 'worker B exits by itself'), 0)
  sse.close()
  await mainRaw.closed()
  await srv.close()
})

test('terminating a worker with open clients and queued frames does not crash the process', async () => {
  const w = await startWorker({ name: 'T', pending: true })
  await w.worker.terminate()
  assert.equal(await w.exited, 1)
  // And the package still works here, and in a new worker.
  const again = await startWorker({ name: 'U' })
  assert.equal(again.ready.id, 0)
  await again.ask('broadcast')
  await again.ask('close')
  assert.equal(await within(again.exited, 5000, 'worker U exits by itself'), 0)
})

test('several processes at once: each works and then exits by itself, quickly', async () => {
  const modes = ['close', 'close', 'disconnect', 'disconnect']
  const runs = await Promise.all(modes.map((mode) => runNode(fixture('rel-lifecycle-child.js'), [mode], { timeoutMs: 15000 })))
  const pids = new Set()
  for (const [i, out] of runs.entries()) {
    assert.equal(out.stderr, '', `child ${i} (${modes[i]})`)
    assert.equal(out.code, 0, `child ${i} (${modes[i]})`)
    const report = JSON.parse(out.stdout)
    assert.deepEqual(report.ids, [0, 1, 2], 'every process has its own ids')
    pids.add(report.pid)
    // The heartbeat (20 s by default) and the wake-up function must not hold the process.
    assert.ok(out.ms < 5000, `child ${i} (${modes[i]}) took ${out.ms} ms to exit`)
  }
  assert.equal(pids.size, modes.length)
})

test('close() flushes frames sent in the same tick, ends every response, stops the heartbeat, empties the registry', async (t) => {
  // Watch the heartbeat timer: index.js starts it with the global setInterval.
  const started = []
  const cleared = new Set()
  const { setInterval: realSet, clearInterval: realClear } = globalThis
  globalThis.setInterval = function (fn, ms, ...rest) {
    const timer = realSet.call(this, fn, ms, ...rest)
    started.push({ timer, ms })
    return timer
  }
  globalThis.clearInterval = function (timer) {
    cleared.add(timer)
    return realClear.call(this, timer)
  }
  t.after(() => {
    globalThis.setInterval = realSet
    globalThis.clearInterval = realClear
    sse.heartbeat = 20000
  })

  // The third response's write can be made to "fail" once (as on a full socket), which pauses it.
  let responses = 0
  let refuseOnce = false
  const srv = await sseServer(sse)
  srv.server.prependListener('request', (req, res) => {
    if (++responses !== 3) return
    const write = res.write
    res.write = function (...args) {
      const ok = write.apply(this, args)
      if (refuseOnce) {
        refuseOnce = false
        return false
      }
      return ok
    }
  })
  t.after(() => srv.close())
  const opened = []
  for (let i = 0; i < 3; i++) opened.push(await srv.open())
  const [[r0, c0], [r1, c1], [r2, c2]] = opened
  sse.join(c0, 'room')
  sse.join(c2, 'room')
  sse.heartbeat = 30
  await r0.until(':heartbeat signal\n\n') // the heartbeat runs
  sse.heartbeat = 600000 // keep it running, but quiet from now on
  const beat = started.filter((s) => s.ms === 600000).at(-1)
  assert.ok(beat, 'the heartbeat interval was restarted')
  sse.broadcast('*', 'sync') // after this, nothing from before is still queued
  for (const [raw] of opened) await raw.until('data: sync\n\n')

  refuseOnce = true
  sse.send(c2, 'held back') // written, and that write returns false: c2 is paused
  await r2.until('data: held back\n\n')
  sse.send(c2, 'queued while paused')

  const before = opened.map(([raw]) => raw.text)
  sse.send(c0, 'zero')
  sse.broadcast('room', 'ev', 'to the room')
  sse.broadcast('*', 'to all')
  sse.setRetry(c1, 1234)
  sse.close()

  assert.equal(sse.clients.length, 0)
  assert.equal(sse.stats().clients, 0)
  assert.deepEqual(sse.stats().rooms, [])
  assert.ok(cleared.has(beat.timer), 'the heartbeat interval was cleared')
  assert.equal(started.filter((s) => !cleared.has(s.timer)).length, 0, 'no heartbeat interval left running')

  await Promise.all(opened.map(([raw]) => raw.closed()))
  const tails = opened.map(([raw], i) => raw.text.slice(before[i].length))
  assert.equal(tails[0], `id: ${c0.id}\ndata: zero\n\nid: ${c0.id}\nevent: ev\ndata: to the room\n\nid: ${c0.id}\ndata: to all\n\n`)
  assert.equal(tails[1], `id: ${c1.id}\ndata: to all\n\nid: ${c1.id}\nretry: 1234\n\n`)
  assert.equal(tails[2], `id: ${c2.id}\ndata: queued while paused\n\nid: ${c2.id}\nevent: ev\ndata: to the room\n\nid: ${c2.id}\ndata: to all\n\n`)
  for (const [raw] of opened) {
    assert.ok(raw.raw.toString('latin1').endsWith('\r\n0\r\n\r\n'), 'the chunked stream is terminated')
    assert.equal(raw.ended, true)
  }
  for (const [, client] of opened) {
    // A detached client (SIMPLE_SSE_RS_DETACH=1) has no response: Rust ended its stream.
    if (client.detached) assert.equal(client.res, null)
    else assert.equal(client.res.writableEnded, true)
  }

  // A second close() is harmless, and nothing runs afterwards.
  sse.close()
  assert.equal(sse.stats().clients, 0)
})
