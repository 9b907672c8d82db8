'use strict'

// The writer threads (src/writer.rs): direct clients are written by Rust threads while
// the JavaScript thread goes on. These tests run at thread speed: the writers write
// while this thread queues, closes sockets and lets new descriptors take their numbers.
// The file runs once with the default thread count and once more (the last test) in a
// child process with SIMPLE_SSE_RS_WRITERS=4.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { spawn } = require('node:child_process')
const sse = require('..')
const native = require('../lib/binding')
const { connect, sseServer, within, ATTACHED } = require('./helpers')
const { turn, runNode } = require('./fixtures/rel-helpers')

const FRAMED = process.env.SIMPLE_SSE_RS_FORCE_FRAMED === '1'
const WRITERS = process.env.SIMPLE_SSE_RS_WRITERS === undefined ? 1 : Number(process.env.SIMPLE_SSE_RS_WRITERS)
const THREADED = native.DIRECT && !FRAMED && WRITERS > 0
const skip = !THREADED && (FRAMED ? 'the framed path is forced' : !native.DIRECT ? 'no direct writes here' : 'SIMPLE_SSE_RS_WRITERS=0')
// ATTACHED (./helpers): `add`'s options where the test's subject is Node's own descriptor
// of the socket (about the attached response: stays attached under SIMPLE_SSE_RS_DETACH; a
// detached client's connection is Rust's own duplicate, and Node's socket is closed at the
// hand-over).

async function until(check, what, ms = 10000) {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > ms) assert.fail(`timed out: ${what}`)
    await turn()
  }
}

function events(text) {
  return text
    .split('\n\n')
    .slice(0, -1)
    .filter((f) => !f.startsWith(':'))
    .map((f) => {
      const lines = f.split('\n')
      return {
        id: lines.find((l) => l.startsWith('id: ')),
        data: lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'),
      }
    })
}

/** Names of this process's threads (Linux). */
function threadNames() {
  return fs.readdirSync('/proc/self/task').map((t) => {
    try {
      return fs.readFileSync(`/proc/self/task/${t}/comm`, 'latin1').trim()
    } catch {
      return ''
    }
  })
}

test('direct clients are written by writer threads, and sse.flush() waits for them: a socket destroyed right after it still got everything', { skip }, async (t) => {
  const srv = await sseServer(sse, undefined, ATTACHED)
  t.after(() => srv.close())
  const pairs = []
  for (let i = 0; i < 200; i++) pairs.push(await srv.open())
  const body = 'w'.repeat(2000)
  for (let round = 0; round < 5; round++) {
    sse.broadcast('*', `${round}:${body}`)
    sse.flush()
    if (round === 0 && process.platform === 'linux') {
      // Started by the first turn handed to them.
      const writers = threadNames().filter((n) => n.startsWith('sse-writer-'))
      assert.equal(writers.length, WRITERS, `writer threads: ${writers}`)
    }
    // Had the writers not written yet, these bytes would now be lost: Rust lets go of
    // a descriptor before Node closes it, and nothing is written to a closed socket.
    if (round === 4) for (const [, client] of pairs) client.res.socket.destroy()
  }
  for (const [raw] of pairs) {
    await raw.until((text) => events(text).length >= 5 || raw.ended, 5000).catch(() => {})
  }
  for (const [raw, client] of pairs) {
    const got = events(raw.text).map((e) => e.data.split(':')[0])
    assert.deepEqual(got, ['0', '1', '2', '3', '4'], `client ${client.id}`)
    raw.close()
  }
})

test('a descriptor number reused in the same tick as a broadcast the writers are still writing gets nothing', { skip }, async (t) => {
  const srv = await sseServer(sse, undefined, ATTACHED)
  t.after(() => srv.close())
  const pairs = []
  for (let i = 0; i < 300; i++) pairs.push(await srv.open())
  t.after(() => pairs.forEach(([raw]) => raw.close()))
  let reused = 0
  for (let attempt = 0; attempt < 5; attempt++) {
    // Every client gets a turn; the turn's flush hands them all to the writers.
    sse.broadcast('*', 'x'.repeat(8000))
    await new Promise(setImmediate)
    // The writers are (most likely) still at it. In one synchronous stretch: Node closes
    // the last client's socket, a new descriptor takes its number (the parent end of the
    // child's stdin), more frames are queued for everybody and flushed.
    const [raw, client] = pairs.pop()
    const fd = client.res.socket._handle.fd
    client.res.socket.destroy()
    const child = spawn(process.execPath, ['-e', 'process.stdin.pipe(process.stdout)'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    })
    if (child.stdin._handle.fd === fd) reused++
    sse.broadcast('*', 'not for the child')
    sse.send(client, 'not for the child either')
    sse.flush()
    child.stdin.end()
    let echoed = ''
    child.stdout.setEncoding('latin1')
    child.stdout.on('data', (s) => (echoed += s))
    await new Promise((resolve) => child.once('close', resolve))
    assert.equal(echoed, '', 'nothing reached the connection that reused the number')
    raw.close()
    await until(() => !sse.clients.includes(client), 'the closed client is removed')
  }
  assert.ok(reused > 0, 'the descriptor number was reused at least once (else this test proves nothing)')
  t.diagnostic(`number reused in ${reused} of 5 attempts, ${WRITERS} writer thread(s)`)
})

test('a broadcast the writers expand later reaches the members at the call, in order with what the same tick queues next', { skip }, async (t) => {
  // More clients than a writer expands in one part (src/deferred.rs: 256), so the
  // expansion goes in parts while this tick goes on.
  const srv = await sseServer(sse)
  t.after(() => srv.close())
  const pairs = []
  for (let i = 0; i < 700; i++) pairs.push(await srv.open())
  t.after(() => pairs.forEach(([raw]) => raw.close()))
  const [first, last] = [pairs[0][1], pairs[699][1]]
  for (const [, client] of pairs.slice(0, 699)) sse.join(client, 'a')
  // Let the writer threads start (the first flush that hands them a client does).
  sse.broadcast('*', 'start')
  sse.flush()
  // One tick:
  sse.broadcast('a', 'one')
  sse.join(last, 'a')
  sse.leave(first, 'a')
  sse.send(first, 'after')
  sse.broadcast('a', 'two')
  sse.sendHeartbeat()
  sse.broadcast('*', 'end')
  const want = (client) =>
    client === first ? ['start', 'one', 'after', 'end'] : client === last ? ['start', 'two', 'end'] : ['start', 'one', 'two', 'end']
  for (const [raw, client] of pairs) {
    await raw.until((text) => text.includes('data: end\n\n'), 10000)
    assert.deepEqual(events(raw.text).map((e) => e.data), want(client), `client ${client.id}`)
    assert.ok(events(raw.text).every((e) => e.id === `id: ${client.id}`), `client ${client.id}: its own id`)
    assert.equal(raw.text.split(':heartbeat signal\n\n').length, 2, `client ${client.id}: one heartbeat`)
    assert.ok(raw.text.indexOf(':heartbeat') < raw.text.indexOf('data: end'), 'in order')
  }
})

test('thread-speed churn: 3,000 connections come and go (half closed by the server) while a timer broadcasts; every frame names its own client', { skip }, async (t) => {
  // The peer's port of each client, read before `add` (a detached client's socket, under
  // SIMPLE_SSE_RS_DETACH=1, is released by it).
  const ports = new Map()
  const srv = await sseServer(sse, (client, req) => {
    ports.set(client, req.peerPort)
    sse.send(client, 'hello', String(client.id))
  })
  srv.server.prependListener('request', (req) => {
    req.peerPort = req.socket.remotePort
  })
  t.after(() => srv.close())
  const fds = () => (process.platform === 'linux' ? fs.readdirSync('/proc/self/fd').length : 0)
  // One client first, so that what the package makes once, on its first client of a kind,
  // is in the count before (under SIMPLE_SSE_RS_DETACH=1, the thread that watches detached
  // connections: its poller and waker).
  const first = await connect(srv.port)
  await first.until('event: hello\n')
  first.close()
  await until(() => sse.clients.length === 0, 'the first client removed')
  const fdsBefore = fds()
  let n = 0
  const timer = setInterval(() => {
    // Several broadcasts per tick: the writers coalesce what they find queued.
    for (let i = 0; i < 3; i++) sse.broadcast('*', 'tick', `${n++}:${'t'.repeat(n % 7 === 0 ? 3000 : 40)}`)
  }, 1)
  const TOTAL = 3000
  const CONCURRENT = 100
  const errors = []
  let checked = 0
  async function one(i) {
    // srv.open's lookup by port can find an earlier, closed client whose port the
    // kernel gave out again: take the newest live one.
    const raw = await connect(srv.port)
    const port = raw.socket.localPort
    const client = srv.added.findLast((c) => ports.get(c) === port && sse.getClient(c.id) === c)
    if (client === undefined) assert.fail('the server did not add the client')
    const frames = 2 + (i % 5)
    await raw.until((text) => text.split('\n\n').length > frames, 10000)
    const evs = events(raw.text)
    const own = evs[0].id
    if (own !== `id: ${client.id}` || evs[0].data !== String(client.id)) errors.push(`first event ${JSON.stringify(evs[0])}`)
    for (const e of evs) {
      if (e.id !== own) errors.push(`${own} got a frame with ${e.id}`)
      checked++
    }
    // The server closes half of them (forgetFd races the writers), the peer the rest. A
    // detached client (SIMPLE_SSE_RS_DETACH=1) has no response: the server ends its stream
    // with remove (its last chunk races the writers).
    if (i % 4 < 2 && client.detached) sse.remove(client)
    else if (i % 4 === 0) client.res.socket.destroy()
    else if (i % 4 === 1) client.res.end()
    else if (i % 4 === 2) raw.socket.resetAndDestroy()
    else raw.socket.destroy()
    if (i % 4 < 2) raw.close()
  }
  let next = 0
  try {
    await within(
      Promise.all(
        Array.from({ length: CONCURRENT }, async () => {
          while (next < TOTAL) await one(next++)
        }),
      ),
      180000,
      'the churn',
    )
  } finally {
    clearInterval(timer)
  }
  await until(() => sse.clients.length === 0, 'every churned client removed')
  await until(() => fds() <= fdsBefore, `descriptors back to ${fdsBefore} (now ${fds()})`)
  assert.deepEqual(errors.slice(0, 5), [])
  assert.ok(checked >= TOTAL * 3)
  t.diagnostic(`${checked} frames checked, ${n} broadcasts, ${WRITERS} writer thread(s)`)
})

test('the same with SIMPLE_SSE_RS_WRITERS=4', { skip: skip || process.env.SIMPLE_SSE_RS_WRITERS !== undefined }, async () => {
  const { code, stdout, stderr } = await runNode(__filename, [], {
    execArgv: ['--test', '--test-concurrency=1', '--test-reporter=tap'],
    // Not as a subprocess of this run's runner: a runner of its own, reporting in TAP.
    env: { SIMPLE_SSE_RS_WRITERS: '4', NODE_TEST_CONTEXT: undefined },
    timeoutMs: 400000,
  })
  assert.equal(code, 0, stdout + stderr)
  // Every test above but this one, each passed.
  assert.match(stdout, /# pass 4\b/, stdout)
  assert.match(stdout, /# fail 0\b/, stdout)
})
