'use strict'
// Bad calls: wrong types (TypeError/RangeError naming the argument), unknown ids (Error
// naming the id), removed clients (documented no-ops), and — each in a child process,
// so a crash shows as an exit code — sends after the end, re-entrant calls from write
// callbacks, 'drop' and 'close' listeners, and close() then reuse.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const sse = require('..')
const { sseServer } = require('./helpers')
const { runNode, turn } = require('./fixtures/rel-helpers')
const { scenarios } = require('./fixtures/rel-misuse-child')

let srv
let raw
let client

before(async () => {
  srv = await sseServer(sse)
  ;[raw, client] = await srv.open()
})

after(async () => {
  sse.close()
  await srv.close()
})

const cyclic = {}
cyclic.self = cyclic
const fn = () => {}
const sym = Symbol('s')

/** Every call must throw `type` with a message naming `name`; together they must write nothing. */
function refuses(calls, type, name) {
  for (const [label, call] of calls) {
    assert.throws(call, (err) => {
      assert.ok(err instanceof type, `${label}: ${err && err.name} instead of ${type.name}: ${err && err.message}`)
      assert.match(err.message, name, `${label}: the message names the argument`)
      return true
    }, label)
  }
}

/** Runs `body`, then checks over a turn that nothing was queued or written. */
async function writesNothing(body) {
  const stats = sse.stats()
  const text = raw.text
  body()
  await turn()
  await turn()
  assert.equal(sse.stats().eventsSent, stats.eventsSent, 'nothing was queued')
  assert.equal(raw.text, text, 'nothing reached the client')
}

test('wrong types for every argument throw TypeError or RangeError naming it, and write nothing', async () => {
  const notClients = [undefined, null, 'x', '0', true, {}, { id: 0 }, [], fn, sym, 0n]
  const notRooms = [{}, [], true, fn, sym, 1n]
  const notEvents = [{}, [], true, fn, sym, 1n]
  const notData = [fn, sym]
  await writesNothing(() => {
    refuses([undefined, null, 1, 'req', true].map((req) => [`add(${String(req)}, res)`, () => sse.add(req, client.res)]),
      TypeError, /\breq\b/)
    refuses([undefined, null, 1, {}, { writeHead: 1 }].map((res) => [`add(req, ${JSON.stringify(res)})`, () => sse.add({ socket: null }, res)]),
      TypeError, /\bres\b/)
    const clientCalls = notClients.flatMap((c) => [
      [`join(${String(c)}, 'r')`, () => sse.join(c, 'r')],
      [`leave(${String(c)})`, () => sse.leave(c)],
      [`leave(${String(c)}, 'r')`, () => sse.leave(c, 'r')],
      [`in(${String(c)}, 'r')`, () => sse.in(c, 'r')],
      [`send(${String(c)}, 'd')`, () => sse.send(c, 'd')],
      [`send(${String(c)}, 'e', 'd')`, () => sse.send(c, 'e', 'd')],
      [`setRetry(${String(c)}, 10)`, () => sse.setRetry(c, 10)],
    ])
    refuses(clientCalls, TypeError, /\bclient\b/)
    // remove() keeps simple-sse 0.0.3's leniency: null threw there too (null.id), anything
    // else that names no client is ignored (a warning, once); an object's numeric id names one.
    refuses([['remove(null)', () => sse.remove(null)]], TypeError, /\bclient\b/)
    for (const c of notClients) {
      if (c !== null && !(typeof c === 'object' && typeof c.id === 'number')) {
        assert.equal(sse.remove(c), false, `remove(${String(c)})`)
      }
    }
    refuses(notRooms.flatMap((r) => [
      [`join(c, ${String(r)})`, () => sse.join(client, r)],
      [`in(c, ${String(r)})`, () => sse.in(client, r)],
      [`broadcast(${String(r)}, 'd')`, () => sse.broadcast(r, 'd')],
      [`broadcast(${String(r)}, 'e', 'd')`, () => sse.broadcast(r, 'e', 'd')],
      [`leave(c, ${String(r)})`, () => sse.leave(client, r)],
    ]), TypeError, /\broom\b/)
    // null/undefined rooms (a missing parameter) were accepted by simple-sse 0.0.3:
    // ignored with a warning, never thrown.
    for (const r of [undefined, null]) {
      assert.equal(sse.join(client, r), false)
      assert.equal(sse.in(client, r), false)
      sse.broadcast(r, 'd')
      sse.broadcast(r, 'e', 'd')
    }
    // So was NaN (parseInt of a non-number), which matched no room there: ignored too.
    assert.equal(sse.join(client, NaN), true)
    assert.equal(sse.in(client, NaN), false)
    sse.broadcast(NaN, 'd')
    sse.broadcast(NaN, 'e', 'd')
    refuses(notEvents.flatMap((e) => [
      [`send(c, ${String(e)}, 'd')`, () => sse.send(client, e, 'd')],
      [`broadcast('*', ${String(e)}, 'd')`, () => sse.broadcast('*', e, 'd')],
    ]), TypeError, /\bevent\b/)
    refuses(notData.flatMap((d) => [
      [`send(c, ${String(d)})`, () => sse.send(client, d)],
      [`send(c, 'e', ${String(d)})`, () => sse.send(client, 'e', d)],
      [`broadcast('*', ${String(d)})`, () => sse.broadcast('*', d)],
      [`broadcast('*', 'e', ${String(d)})`, () => sse.broadcast('*', 'e', d)],
    ]), TypeError, /\bdata\b/)
    refuses([
      ['send(c, { toJSON: () => undefined })', () => sse.send(client, { toJSON: () => undefined })],
      ['broadcast(*, e, { toJSON: () => undefined })', () => sse.broadcast('*', 'e', { toJSON: () => undefined })],
    ], TypeError, /\bdata\b/)
    // JSON.stringify's own error for a cycle: a TypeError, still nothing written.
    assert.throws(() => sse.send(client, cyclic), TypeError)
    assert.throws(() => sse.broadcast('*', 'e', cyclic), TypeError)
    refuses(['r', null, undefined, {}, 1].map((rooms) => [`client.rooms = ${String(rooms)}`, () => {
      client.rooms = rooms
    }]), TypeError, /\brooms\b/)
    refuses([[{}], ['ok', true], [fn]].map((rooms) => [`client.rooms = [${String(rooms)}]`, () => {
      client.rooms = rooms
    }]), TypeError, /\broom\b/)
    refuses(['x', -1, 1.5, NaN, {}].map((r) => [`setRetry(c, ${String(r)})`, () => sse.setRetry(client, r)]),
      RangeError, /\bretry\b/)
    // A missing retry (null/undefined) is ignored with a warning, as the browser ignored it.
    sse.setRetry(client, undefined)
    sse.setRetry(client, null)
    refuses([-1, NaN, 0.5, '1e3', '', 2 ** 31, {}].map((ms) => [`heartbeat = ${String(ms)}`, () => {
      sse.heartbeat = ms
    }]), RangeError, /\bheartbeat\b/)
    refuses([0, -1, 1.5, NaN, '0', '1.5', 'abc', null, undefined].map((b) => [`maxPendingBytes = ${String(b)}`, () => {
      sse.maxPendingBytes = b
    }]), RangeError, /\bmaxPendingBytes\b/)
  })
  assert.equal(sse.heartbeat, 20000)
  assert.equal(sse.maxPendingBytes, 1024 * 1024)
  assert.deepEqual(sse.clients, [client], 'the registry is untouched')
  assert.deepEqual(sse.stats().rooms, [])
})

test('useRedis with bad options rejects with TypeError (and stays local)', async () => {
  for (const bad of [undefined, null, 1, {}, { url: 1 }, { url: 'redis://127.0.0.1:1', prefix: '' }, { url: 'redis://127.0.0.1:1', prefix: 1 }]) {
    await assert.rejects(sse.useRedis(bad), TypeError, JSON.stringify(bad))
  }
})

test('getClient never throws: anything but a live id gives null', () => {
  for (const id of [undefined, null, 'x', String(client.id), {}, client, -1, 1.5, NaN, 2 ** 40]) {
    assert.equal(sse.getClient(id), null, String(id))
  }
  assert.equal(sse.getClient(client.id), client)
})

test('unknown numeric ids throw an Error naming the id; remove returns false', async () => {
  await writesNothing(() => {
    for (const id of [999999, -1, 1.5, NaN, 2 ** 32, Infinity]) {
      const message = `SSE client ${id} does not exist`
      for (const [label, call] of [
        ['send', () => sse.send(id, 'd')],
        ['send with event', () => sse.send(id, 'e', 'd')],
        ['join', () => sse.join(id, 'r')],
        ['leave', () => sse.leave(id)],
        ['leave a room', () => sse.leave(id, 'r')],
        ['in', () => sse.in(id, 'r')],
        ['setRetry', () => sse.setRetry(id, 10)],
      ]) {
        assert.throws(call, (err) => err instanceof Error && err.message === message, `${label}(${id})`)
      }
      assert.equal(sse.remove(id), false)
      assert.equal(sse.getClient(id), null)
    }
  })
  assert.deepEqual(sse.stats().rooms, [], 'no room was created for an unknown id')
})

test('a removed client object makes every call a no-op; its connection stays open', async () => {
  const [raw2, gone] = await srv.open()
  sse.join(gone, 'r')
  assert.equal(sse.remove(gone), true)
  await writesNothing(() => {
    sse.send(gone, 'd')
    sse.send(gone, 'e', { x: 1 })
    sse.setRetry(gone, 10)
    assert.equal(sse.join(gone, 'r2'), false)
    sse.leave(gone)
    sse.leave(gone, 'r')
    assert.equal(sse.in(gone, 'r'), false)
    assert.equal(sse.remove(gone), false)
    assert.deepEqual(gone.rooms, [])
    gone.rooms = ['r3']
    assert.deepEqual(gone.rooms, [])
  })
  sse.broadcast('*', 'not for the removed one')
  sse.sendHeartbeat()
  await raw.until(':heartbeat signal\n\n')
  assert.equal(raw2.text, '')
  assert.deepEqual(sse.stats().rooms, [])
  assert.throws(() => sse.send(gone.id, 'd'), { message: `SSE client ${gone.id} does not exist` })
  if (gone.detached) {
    // Detached (SIMPLE_SSE_RS_DETACH=1): only Rust held the connection, so remove ended the
    // stream (its terminating chunk), with nothing in it.
    await raw2.closed()
    assert.equal(raw2.text, '')
    assert.ok(raw2.raw.toString('latin1').endsWith('\r\n\r\n0\r\n\r\n'), 'nothing follows the last chunk')
    return
  }
  // The app can still use the response itself.
  gone.res.write('data: direct\n\n')
  await raw2.until('data: direct\n\n')
  assert.equal(raw2.ended, false)
  raw2.close()
})

for (const name of Object.keys(scenarios)) {
  test(`no crash: ${name} (child process)`, async () => {
    const out = await runNode(path.join(__dirname, 'fixtures', 'rel-misuse-child.js'), [name], { timeoutMs: 15000 })
    assert.equal(out.stderr, '')
    assert.equal(out.stdout, 'ok\n')
    assert.equal(out.code, 0)
  })
}
