'use strict'
// Frame safety: whatever string goes into send/broadcast comes out of a spec-compliant
// parser (eventsource-parser) as the same string, on real connections. A seeded
// generator makes thousands of nasty strings; FUZZ_SEED=<n> replays another run.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const sse = require('..')
const { sseServer } = require('./helpers')
const { streamClient, turn } = require('./fixtures/rel-helpers')

const SEED = Number(process.env.FUZZ_SEED || 0x5eed5)
const OPS = 3000 // random send/broadcast calls
const BATCH = 100 // calls per turn; then every receiver must have everything so far

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const rand = prng(SEED)
const int = (n) => Math.floor(rand() * n)
const pick = (list) => list[int(list.length)]

// Pieces that have broken SSE encoders: every line break, NUL, lone and paired
// surrogates, a BOM, the JS-only line separators, and text that looks like fields.
const BREAKS = ['\n', '\r', '\r\n', '\n\r', '\r\r', '\n\n']
const PIECES = ['\0', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uD83D\uDE00', '😀', '𝄞', 'é', '€', '中',
  '\uFEFF', '\u2028', '\u2029', '\u0085', ' ', ':', ': ', 'data: x', 'id: 99', 'event: evil', 'retry: 1', '\t']
const EDGE_CASES = ['', ' ', '\n', '\r', '\r\n', '\n\r', '\r\r\n', '\0', '\uD800', '\uDC00', 'a\uD800b',
  '\uDBFF\uDFFF', 'a\rb\nc\r\nd', '\n\n\n', 'trailing\n', 'trailing\r', '\r\nleading', ' data: x', ':comment',
  'x'.repeat(65536), 'é'.repeat(40000) + '\r\n' + '😀'.repeat(20000)]

/** One random character-ish unit: ASCII, any UTF-16 code unit (surrogates included), or a piece. */
function unit(allowBreaks) {
  const r = rand()
  if (r < 0.45) return String.fromCharCode(32 + int(95))
  if (r < 0.6) return String.fromCharCode(int(0x10000))
  if (r < 0.7) return String.fromCodePoint(0x10000 + int(0xfffff))
  if (r < 0.85 && allowBreaks) return pick(BREAKS)
  return pick(PIECES)
}

function randomString(allowBreaks = true, maxUnits = 60) {
  let s = ''
  for (let n = int(maxUnits + 1); n > 0; n--) s += unit(allowBreaks)
  return s
}

/** A line of at least 64 KiB (UTF-16 units), sometimes two joined by a line break. */
function longString() {
  const line = () => {
    const seed = randomString(false, 1000) + 'x'
    return seed.repeat(Math.ceil((65536 + int(32768)) / seed.length))
  }
  return rand() < 0.3 ? line() + pick(BREAKS) + line() : line()
}

/** A valid event name (no CR/LF), sometimes a number; or none at all (undefined/null). */
function randomEvent() {
  const r = rand()
  if (r < 0.35) return undefined
  if (r < 0.45) return null
  if (r < 0.5) return int(1e6)
  return randomString(false, 12) || 'e'
}

/** What a spec-compliant parser yields for `s`: UTF-8 round trip (lone surrogates -> U+FFFD), breaks -> \n. */
function expected(s) {
  return Buffer.from(s).toString().replace(/\r\n|\r/g, '\n')
}

function expectedEvent(event) {
  return event === undefined || event === null ? undefined : expected(String(event))
}

let srv
let receivers // [{ stream, client, inRoom, checked: events verified so far }]

before(async () => {
  srv = await sseServer(sse, (client, req) => {
    if (req.url === '/room') sse.join(client, 'fuzz')
  })
  receivers = []
  for (const path of ['/room', '/room', '/']) {
    const stream = await streamClient(srv.port, path)
    receivers.push({ stream, client: srv.added.at(-1), inRoom: path === '/room', checked: 0 })
  }
})

after(async () => {
  for (const r of receivers) r.stream.close()
  sse.close()
  await srv.close()
})

/** Waits until every receiver parsed all its expected events, then compares the new ones one by one. */
async function verify(expectations, what) {
  for (const [i, r] of receivers.entries()) {
    const want = expectations[i]
    await r.stream.until(want.length)
    assert.equal(r.stream.count, want.length, `${what}: receiver ${i} got extra events (seed ${SEED})`)
    for (let k = r.checked; k < want.length; k++) {
      const got = r.stream.events[k]
      const exp = want[k]
      if (got.data !== exp.data || got.event !== exp.event || got.id !== exp.id) {
        assert.deepEqual(
          { id: got.id, event: got.event, data: got.data },
          { id: exp.id, event: exp.event, data: exp.data },
          `${what}: receiver ${i}, event ${k} differs (seed ${SEED}); sent ${JSON.stringify(exp.sent).slice(0, 300)}`,
        )
      }
    }
    r.checked = want.length
    assert.deepEqual(r.stream.errors, [], `${what}: the parser reported errors`)
  }
}

/** Every receiver's events so far, as expectations (to append to). */
function expectationsSoFar() {
  return receivers.map((r) => r.stream.events.map((e) => ({ id: e.id, event: e.event, data: e.data })))
}

test(`random strings through send and broadcast arrive intact (seed ${SEED})`, async () => {
  const want = expectationsSoFar()
  const record = (r, event, data) =>
    want[receivers.indexOf(r)].push({ id: String(r.client.id), event: expectedEvent(event), data: expected(data), sent: data })

  const strings = EDGE_CASES.slice()
  for (let i = strings.length; i < OPS; i++) strings.push(i % 50 === 25 ? longString() : randomString())

  for (let start = 0; start < strings.length; start += BATCH) {
    for (const data of strings.slice(start, start + BATCH)) {
      const op = int(3)
      const event = randomEvent()
      const withEvent = event !== undefined || rand() < 0.5 // send(c, undefined, data) is valid too
      if (op === 0) {
        const r = pick(receivers)
        if (withEvent) sse.send(r.client, event, data)
        else sse.send(r.client, data)
        record(r, event, data)
      } else {
        const room = op === 1 ? 'fuzz' : '*'
        if (withEvent) sse.broadcast(room, event, data)
        else sse.broadcast(room, data)
        for (const r of receivers) if (room === '*' || r.inRoom) record(r, event, data)
      }
    }
    await verify(want, `ops ${start}..${start + BATCH - 1}`)
  }
  assert.equal(sse.stats().dropped, 0)
})

test('objects, numbers, booleans, bigints and null round-trip', async () => {
  const values = [{ a: 1, b: [1, 2, { c: 'é\n\r\u2028' }] }, [], {}, [null, 'x', true], { nested: { deep: { er: '😀\uD800' } } },
    0, -0, 1.5, -1e21, 2 ** 53 + 2, NaN, Infinity, -Infinity, true, false, null, 12345678901234567890n]
  const want = expectationsSoFar()
  const target = receivers[0]
  for (const value of values) {
    sse.send(target.client, value)
    sse.broadcast('*', 'typed', value)
    const data = typeof value === 'object' ? JSON.stringify(value) : String(value)
    for (const r of receivers) {
      if (r === target) want[0].push({ id: String(r.client.id), event: undefined, data: expected(data) })
      want[receivers.indexOf(r)].push({ id: String(r.client.id), event: 'typed', data: expected(data) })
    }
  }
  await verify(want, 'typed values')
  // And they read back as the same values.
  const got = target.stream.events.slice(-values.length * 2).filter((e) => e.event === undefined)
  values.forEach((value, i) => {
    if (value !== null && typeof value === 'object') assert.deepEqual(JSON.parse(got[i].data), JSON.parse(JSON.stringify(value)))
    else if (typeof value === 'number') assert.equal(Number(got[i].data), value === 0 ? 0 : value)
    else if (typeof value === 'bigint') assert.equal(BigInt(got[i].data), value)
    else assert.equal(got[i].data, String(value))
  })
})

test('event names that could inject fields throw TypeError and write nothing', async () => {
  const bad = ['a\nb', 'a\rb', '\n', '\r', '\r\n', 'x\nid: 9', 'ok\n\ndata: injected', 'x\revent: evil', 'x\u2028y\n']
  const before = sse.stats()
  const countsBefore = receivers.map((r) => r.stream.count)
  for (const event of bad) {
    for (const r of receivers) assert.throws(() => sse.send(r.client, event, 'payload'), TypeError, JSON.stringify(event))
    assert.throws(() => sse.broadcast('*', event, 'payload'), TypeError, JSON.stringify(event))
    assert.throws(() => sse.broadcast('fuzz', event, { x: 1 }), TypeError, JSON.stringify(event))
  }
  await turn()
  const after = sse.stats()
  assert.equal(after.eventsSent, before.eventsSent, 'nothing was queued')
  assert.equal(after.bytesSent, before.bytesSent, 'nothing was written')
  // The next event each receiver parses is the marker: no half-written frame came before it.
  sse.broadcast('*', 'marker', 'after the bad names')
  for (const [i, r] of receivers.entries()) {
    await r.stream.until(countsBefore[i] + 1)
    assert.equal(r.stream.count, countsBefore[i] + 1)
    assert.deepEqual(r.stream.events.at(-1), { id: String(r.client.id), event: 'marker', data: 'after the bad names' })
  }
})

test('setRetry refuses non-numeric, negative and fractional values with RangeError and writes nothing', async () => {
  const bad = ['abc', '', '1.5', '-1', ' 100', '1e3', '0x10', {}, [], [100], true, NaN, Infinity, -Infinity,
    -1, -0.5, 1.5, 0.1, 2 ** 32, Number.MAX_SAFE_INTEGER + 2]
  const target = receivers[2]
  const before = sse.stats()
  for (const retry of bad) assert.throws(() => sse.setRetry(target.client, retry), RangeError, String(retry))
  // A missing value (an unset setting) is ignored with a warning, as simple-sse 0.0.3 did not throw.
  sse.setRetry(target.client, null)
  sse.setRetry(target.client, undefined)
  await turn()
  assert.equal(sse.stats().eventsSent, before.eventsSent)
  assert.deepEqual(target.stream.retries, [])
  // Valid values: whole milliseconds (a string of digits, as the original wrote it verbatim).
  const count = target.stream.count
  sse.setRetry(target.client, 1500)
  sse.setRetry(target.client, '2500')
  sse.setRetry(target.client, 0)
  sse.send(target.client, 'marker')
  await target.stream.until(count + 1)
  assert.deepEqual(target.stream.retries, [1500, 2500, 0])
  assert.equal(target.stream.events.at(-1).data, 'marker')
})
