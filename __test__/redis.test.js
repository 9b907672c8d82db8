'use strict'
// Broadcasts across processes through Redis pub/sub (sse.useRedis): a private
// redis-server, child processes each holding SSE clients (fixtures/redis-node.js),
// exact frames, ordering, room isolation, clear errors, and a Redis crash mid-test.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const sse = require('..')
const { connect, sseServer } = require('./helpers')
const { REDIS_SERVER, freePort, startRedis, startNode, uniquePrefix } = require('./fixtures/redis-helpers')

const skip =
  REDIS_SERVER === null && !process.env.CI
    ? 'redis-server not found: apt-get install redis-server (never skipped when CI is set)'
    : false

/** Exact SSE frames `id: N\n[event: E\n]data: D\n\n`; throws on any other byte. */
function framesOf(text) {
  const frame = /id: (\d+)\n(?:event: ([^\n]*)\n)?data: ([^\n]*)\n\n/y
  const frames = []
  while (frame.lastIndex < text.length) {
    const at = frame.lastIndex
    const m = frame.exec(text)
    if (m === null) throw new Error(`not an SSE frame at ${at}: ${JSON.stringify(text.slice(at, at + 80))}`)
    frames.push({ id: Number(m[1]), event: m[2] === undefined ? null : m[2], data: m[3] })
  }
  return frames
}

/** The exact bytes of `[event, data]` pairs sent to client `id`. */
function bytesOf(id, pairs) {
  return pairs.map(([event, data]) => `id: ${id}\nevent: ${event}\ndata: ${data}\n\n`).join('')
}

const marker = (event, data) => `event: ${event}\ndata: ${data}\n\n`
/** The frame each child client gets once it is in its rooms. */
const HELLO_PAIR = ['hello', 'joined']
const HELLO = marker(...HELLO_PAIR)

function startNodes(t, names, options) {
  const nodes = names.map((name) => Object.assign(startNode(options), { name }))
  t.after(() => Promise.all(nodes.map((node) => node.kill())))
  return nodes
}

/** An SSE client of a child, in the rooms of `query`; resolves once it has joined them. */
async function openClient(t, node, query) {
  const client = await connect(node.port, `/?${query}`)
  t.after(() => client.close())
  await client.until(HELLO)
  return client
}

describe('broadcasts across processes through Redis', { skip }, () => {
  let redis

  before(async () => {
    redis = await startRedis()
  })

  after(async () => {
    await sse.closeRedis()
    sse.close()
    if (redis) await redis.kill()
  })

  test('three processes: every member gets each broadcast once and in order; rooms stay private', { timeout: 30000 }, async (t) => {
    const nodes = startNodes(t, ['A', 'B', 'C'], { url: redis.url, prefix: uniquePrefix('three') })
    await Promise.all(nodes.map((node) => node.ready))
    const [A, B, C] = nodes
    const all = await Promise.all(nodes.map((node) => openClient(t, node, 'room=all')))

    // All three broadcast at once, in chunks, so their messages interleave in Redis.
    const K = 300
    await Promise.all(
      nodes.map(async (node) => {
        for (let i = 0; i < K; i += 50) {
          const items = []
          for (let j = i; j < i + 50; j++) items.push(['all', 'm', `${node.name}:${j}`])
          await node.broadcast(items)
        }
        await node.broadcast([['all', 'end', node.name]])
      }),
    )
    for (const client of all) {
      // An origin's 'end' comes after all of its messages: once the three are in, all is.
      const text = await client.until((s) => nodes.every((node) => s.includes(marker('end', node.name))), 10000)
      const frames = framesOf(text)
      assert.equal(frames.length, 1 + 3 * (K + 1), 'no message lost, none twice')
      assert.ok(frames.every((f) => f.id === frames[0].id), 'every frame carries the client id')
      assert.deepEqual([frames[0].event, frames[0].data], HELLO_PAIR)
      for (const node of nodes) {
        const mine = frames.filter((f) => f.data.startsWith(`${node.name}:`) || f.data === node.name)
        const expected = Array.from({ length: K }, (_, j) => ['m', `${node.name}:${j}`]).concat([['end', node.name]])
        assert.deepEqual(mine.map((f) => [f.event, f.data]), expected, `${node.name}'s broadcasts, in order`)
      }
    }

    // Rooms: only their members get a broadcast, whatever their process; 7 is not '7'.
    const members = {
      xA: [await openClient(t, A, 'room=x'), [['ev', 'to-x']]],
      xB: [await openClient(t, B, 'room=x'), [['ev', 'to-x']]],
      yB: [await openClient(t, B, 'room=y'), []],
      noneC: [await openClient(t, C, 'room=none'), []],
      num7C: [await openClient(t, C, 'num=7'), [['num', 'seven']]],
      str7B: [await openClient(t, B, 'room=7'), [['str', 'seven']]],
      bothC: [await openClient(t, C, 'room=x&num=7'), [['ev', 'to-x'], ['num', 'seven']]],
    }
    await A.broadcast([
      ['x', 'ev', 'to-x'],
      [7, 'num', 'seven'],
      ['7', 'str', 'seven'],
      ['*', 'fin', 'A'],
    ])
    for (const [name, [client, expected]] of Object.entries(members)) {
      const text = await client.until(marker('fin', 'A'))
      assert.equal(text, bytesOf(framesOf(text)[0].id, [HELLO_PAIR, ...expected, ['fin', 'A']]), name)
    }

    // Leaving, with or without closeRedis: each process exits by itself.
    assert.equal(await A.exit({ closeRedis: true }), 0)
    assert.equal(await B.exit({ closeRedis: false }), 0)
    assert.equal(await C.exit({ closeRedis: true }), 0)
  })

  test('this process and a child share broadcasts both ways, numbers and strings kept apart', { timeout: 20000 }, async (t) => {
    const prefix = uniquePrefix('pair')
    const [child] = startNodes(t, ['child'], { url: redis.url, prefix })
    await sse.useRedis({ url: redis.url, prefix })
    t.after(() => sse.closeRedis())
    await child.ready
    const srv = await sseServer(sse, (client, req) => sse.join(client, req.url === '/num' ? 1 : '1'))
    t.after(() => srv.close())
    const [here] = await srv.open('/str')
    const [hereNum] = await srv.open('/num')
    const there = await openClient(t, child, 'room=1')

    sse.broadcast('1', 'from', 'parent')
    sse.broadcast(1, 'from', 'parent-number')
    await there.until(marker('from', 'parent'))
    await child.broadcast([['1', 'from', 'child']])
    await child.broadcast([[1, 'from', 'child-number']])
    await here.until(marker('from', 'child'))
    await hereNum.until(marker('from', 'child-number'))
    await there.until(marker('from', 'child'))
    const id = (c) => framesOf(c.text)[0].id
    assert.equal(here.text, bytesOf(id(here), [['from', 'parent'], ['from', 'child']]))
    assert.equal(hereNum.text, bytesOf(id(hereNum), [['from', 'parent-number'], ['from', 'child-number']]))
    assert.equal(there.text, bytesOf(id(there), [HELLO_PAIR, ['from', 'parent'], ['from', 'child']]))

    // closeRedis publishes what was broadcast before it; after it, this process is local.
    sse.broadcast('1', 'last', 'words')
    await sse.closeRedis()
    await there.until(marker('last', 'words'))
    sse.broadcast('1', 'local', 'only')
    await child.broadcast([['1', 'from', 'child-after']])
    await there.until(marker('from', 'child-after'))
    await here.until(marker('local', 'only'))
    assert.ok(!there.text.includes('only'), 'no longer shared')
    assert.ok(!here.text.includes('child-after'), 'no longer subscribed')
  })

  test('useRedis rejects clearly, refuses a second link, and closeRedis can be repeated', async () => {
    const dead = await freePort()
    await assert.rejects(sse.useRedis(`redis://127.0.0.1:${dead}`), (err) => {
      assert.ok(err instanceof Error)
      assert.match(err.message, new RegExp(`^cannot connect to Redis at redis://127\\.0\\.0\\.1:${dead}: .*refused`, 'i'))
      return true
    })
    await assert.rejects(sse.useRedis(`redis://me:hunter2@127.0.0.1:${dead}`), (err) => {
      assert.ok(err.message.includes(`redis://me:***@127.0.0.1:${dead}`), err.message)
      assert.ok(!err.message.includes('hunter2'), 'no password in the message')
      return true
    })
    await assert.rejects(sse.useRedis('http://example.invalid'), /^Error: invalid Redis URL http:\/\/example\.invalid: /)
    await assert.rejects(sse.useRedis(42), TypeError)
    await assert.rejects(sse.useRedis({ url: redis.url, prefix: '' }), TypeError)

    // A failed useRedis leaves the process local and free to try again.
    const prefix = uniquePrefix('again')
    await sse.useRedis({ url: redis.url, prefix })
    await assert.rejects(sse.useRedis(redis.url), /already called: call closeRedis\(\) before connecting again/)
    await sse.closeRedis()
    await sse.closeRedis()
    await sse.useRedis(redis.url)
    await sse.closeRedis()
  })

  test('Redis crashes and comes back: local broadcasts go on, down then up, sharing resumes', { timeout: 30000 }, async (t) => {
    const own = await startRedis()
    t.after(() => own.kill())
    const [A, B] = startNodes(t, ['A', 'B'], { url: own.url, prefix: uniquePrefix('outage') })
    await Promise.all([A.ready, B.ready])
    const a = await openClient(t, A, 'room=all')
    const b = await openClient(t, B, 'room=all')
    await A.broadcast([['all', 'm', 'before']])
    await b.until(marker('m', 'before'))

    await own.kill()
    await Promise.all([A.untilStatus('down'), B.untilStatus('down')])
    await A.broadcast([['all', 'm', 'during-A']])
    await B.broadcast([['all', 'm', 'during-B']])
    await a.until(marker('m', 'during-A'))
    await b.until(marker('m', 'during-B'))

    const back = await startRedis(own.port)
    t.after(() => back.kill())
    await Promise.all([A.untilStatus('up'), B.untilStatus('up')])
    await A.broadcast([['all', 'm', 'after-A']])
    await B.broadcast([['all', 'm', 'after-B']])
    for (const client of [a, b]) {
      await client.until((s) => s.includes(marker('m', 'after-A')) && s.includes(marker('m', 'after-B')))
    }

    for (const [node, client, other] of [[A, a, 'B'], [B, b, 'A']]) {
      assert.deepEqual(node.statuses.map((s) => s.status), ['down', 'up'], `${node.name}'s statuses`)
      assert.ok(node.statuses[0].detail.includes(own.url), node.statuses[0].detail)
      assert.match(node.statuses[1].detail, /^reconnected to redis:\/\/127\.0\.0\.1:\d+ after \d+ attempts?$/)
      // At most once during the outage, and in the order of its origin.
      const got = framesOf(client.text).map((f) => f.data).slice(1)
      const expected = ['before', `during-${node.name}`, `during-${other}`, 'after-A', 'after-B']
      for (const data of expected) assert.ok(got.filter((d) => d === data).length <= 1, `${data} at most once`)
      assert.deepEqual(got.filter((d) => d !== `during-${other}`).sort(), expected.filter((d) => d !== `during-${other}`).sort())
      if (got.includes(`during-${other}`)) {
        assert.ok(got.indexOf(`during-${other}`) < got.indexOf(`after-${other}`), 'in the order of its origin')
      }
    }
    assert.equal(await A.exit({ closeRedis: true }), 0)
    assert.equal(await B.exit({ closeRedis: false }), 0)
  })
})
