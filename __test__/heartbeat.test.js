'use strict'
// The heartbeat: `:heartbeat signal\n\n` to every client every `sse.heartbeat` ms,
// running only while there are clients, restarting when clients come back, and
// never keeping the process alive. Arrivals are awaited on real timers; absences
// are proven with mocked setInterval (no sleeping to see that nothing happens).

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { once } = require('node:events')
const { within } = require('./helpers')
const { sse, gone, serve, expectBody, mark, markFrame } = require('./api-support')

const HEARTBEAT = ':heartbeat signal\n\n'
const DEFAULT_HEARTBEAT = sse.heartbeat

/** Sets `sse.heartbeat` for one test and puts the default back afterwards. */
function useHeartbeat(t, ms) {
  sse.heartbeat = ms
  t.after(() => {
    sse.heartbeat = DEFAULT_HEARTBEAT
  })
}

const heartbeats = (text) => text.length > 0 && text.split(HEARTBEAT).every((part) => part === '')

test('the default heartbeat is 20000 ms', () => {
  assert.equal(DEFAULT_HEARTBEAT, 20000)
})

test('with sse.heartbeat = 50 the heartbeat comment arrives', async (t) => {
  useHeartbeat(t, 50)
  const srv = await serve(t)
  const [raw] = await srv.open()
  await raw.until(HEARTBEAT, 2000)
  assert.ok(heartbeats(raw.text), `only heartbeats: ${JSON.stringify(raw.text)}`)
})

test('sendHeartbeat() writes the comment once to every client', async (t) => {
  const srv = await serve(t)
  const [rawA, a] = await srv.open()
  const [rawB, b] = await srv.open()
  sse.sendHeartbeat()
  mark(a)
  mark(b)
  await expectBody(rawA, HEARTBEAT + markFrame(a.id))
  await expectBody(rawB, HEARTBEAT + markFrame(b.id))
})

test('the heartbeat starts again for a new client after the last one left', async (t) => {
  useHeartbeat(t, 50)
  const srv = await serve(t)
  const [first, a] = await srv.open()
  await first.until(HEARTBEAT, 2000)
  const left = gone(a)
  first.close()
  await left
  assert.equal(sse.clients.length, 0)

  const [second] = await srv.open()
  await second.until(HEARTBEAT, 2000)
})

test('changing sse.heartbeat while it runs takes effect at once', async (t) => {
  useHeartbeat(t, 60000)
  const srv = await serve(t)
  const [raw] = await srv.open()
  sse.heartbeat = 50
  assert.equal(sse.heartbeat, 50)
  // With the 60 s timer still in place this would time out.
  await raw.until(HEARTBEAT, 2000)
})

test('heartbeat = 0 turns it off; setting it again while clients are connected turns it on', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] })
  useHeartbeat(t, 0)
  const srv = await serve(t)
  const [raw, c] = await srv.open()
  try {
    t.mock.timers.tick(10 * DEFAULT_HEARTBEAT)
    mark(c)
    await expectBody(raw, markFrame(c.id))

    sse.heartbeat = 50
    t.mock.timers.tick(50)
    await expectBody(raw, markFrame(c.id) + HEARTBEAT)

    sse.heartbeat = 0
    t.mock.timers.tick(10 * DEFAULT_HEARTBEAT)
    mark(c)
    await expectBody(raw, markFrame(c.id) + HEARTBEAT + markFrame(c.id))
  } finally {
    // Stop the (mocked) interval while setInterval is still mocked.
    sse.remove(c)
  }
})

test('the heartbeat stops while there are no clients', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] })
  useHeartbeat(t, 50)
  const srv = await serve(t)
  const [rawA, a] = await srv.open()
  try {
    sse.remove(a)
    // Another client arrives long after: its first heartbeat is 50 ms after its add,
    // not on the rhythm of a timer left running.
    t.mock.timers.tick(1025)
    const [rawB, b] = await srv.open()
    t.mock.timers.tick(49)
    mark(b)
    await expectBody(rawB, markFrame(b.id))
    t.mock.timers.tick(1)
    await expectBody(rawB, markFrame(b.id) + HEARTBEAT)
    assert.equal(rawA.text, '')
    sse.remove(b)
  } finally {
    sse.remove(a)
  }
})

test('sse.heartbeat takes a string of digits, as setInterval does (sse.heartbeat = process.env.X)', async (t) => {
  useHeartbeat(t, '50')
  assert.equal(sse.heartbeat, 50)
  const srv = await serve(t)
  const [raw] = await srv.open()
  await raw.until(HEARTBEAT, 2000)
  sse.heartbeat = '0060000'
  assert.equal(sse.heartbeat, 60000)
})

test('invalid heartbeat values are RangeErrors quoting what they got, and change nothing', () => {
  const cases = [
    [-1, 'got -1'],
    [NaN, 'got NaN'],
    [Infinity, 'got Infinity'],
    [2 ** 31, 'got 2147483648'],
    ['2147483648', 'got "2147483648"'],
    ['', 'got ""'],
    ['5s', 'got "5s"'],
    ['-1', 'got "-1"'],
    ['1.5', 'got "1.5"'],
    [0.5, 'got 0.5'],
    [1500.5, 'got 1500.5'],
    [{}, 'got an object'],
  ]
  for (const [bad, got] of cases) {
    assert.throws(
      () => {
        sse.heartbeat = bad
      },
      (err) => err instanceof RangeError && err.message.startsWith('heartbeat must be') && err.message.endsWith(got),
      String(bad),
    )
    assert.equal(sse.heartbeat, DEFAULT_HEARTBEAT)
  }
})

/** Runs `code` in a child node that has `sse` (this package) and a stub client; resolves with its exit. */
async function runChild(code) {
  const root = path.join(__dirname, '..')
  const script = `
    const sse = require(${JSON.stringify(root)})
    const req = { socket: { setTimeout() {} }, connection: { addListener() {} } }
    const res = { writeHead() {}, write() { return true } }
    const client = sse.add(req, res)
    ${code}
  `
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (data) => (stderr += data))
  try {
    const [exitCode, signal] = await within(once(child, 'exit'), 5000, 'the child to exit by itself')
    return { code: exitCode, signal, stderr }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill()
  }
}

test('the heartbeat timer does not keep the process alive', async () => {
  const results = await Promise.all([
    runChild(''), // the timer add() started (20 s)
    runChild('sse.heartbeat = 10'), // the timer the setter started
  ])
  for (const result of results) assert.deepEqual(result, { code: 0, signal: null, stderr: '' })
})
