'use strict'
// What the Redis bridge loses, measured with a real redis-server, in both modes
// (pub/sub: history 0; stream: history 100,000, more than the largest burst: a process
// that falls more than N entries behind misses the oldest): 2 processes, A broadcasts, one SSE
// client of B counts what arrives. The scenarios of issue 11:
//   kills   200 broadcasts, one every 2 ms, while every Redis connection is cut 3 times
//   burst   20,000 x 64 B, then 50,000 x 16 B, each in one synchronous loop
//   exit    500 broadcasts, then A ends without closeRedis()
//   huge    one 40 MB broadcast, then a small one: did B's link survive, did the small one arrive
//
//   node bench/redis-loss.js

const { startRedis, startNode, uniquePrefix } = require('../__test__/fixtures/redis-helpers')
const { connect } = require('../__test__/helpers')

const count = (client, prefix) => (client.text.match(new RegExp(`data: ${prefix}`, 'g')) || []).length
const settle = () => new Promise((resolve) => setTimeout(resolve, 1500))

async function pair(redis, history, name) {
  const prefix = uniquePrefix(`loss-${name}-${history}`)
  const [A, B] = [startNode({ url: redis.url, prefix, history }), startNode({ url: redis.url, prefix, history })]
  await Promise.all([A.ready, B.ready])
  const b = await connect(B.port, '/?room=all')
  await b.until('data: joined')
  return { A, B, b, async done() { b.close(); await Promise.all([A.kill(), B.kill()]) } }
}

async function main() {
  const redis = await startRedis()
  const rows = []
  for (const history of [0, 100000]) {
    const mode = history ? 'stream' : 'pub/sub'
    {
      const { A, b, done } = await pair(redis, history, 'kills')
      const pumped = A.request('pump', { room: 'all', count: 200, prefix: 'k', everyMs: 2 })
      for (let i = 1; i <= 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        await redis.cli('CLIENT', 'KILL', 'TYPE', 'normal')
        await redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub')
      }
      await pumped
      await settle()
      rows.push({ mode, scenario: '200 broadcasts, connections cut 3 times', sent: 200, received: count(b, 'k') })
      await done()
    }
    for (const [n, size] of [[20000, 64], [50000, 16]]) {
      const { A, b, done } = await pair(redis, history, `burst${n}`)
      await A.request('burst', { room: 'all', count: n, size })
      await b.until((text) => text.includes(`data: ${String(n - 1).padStart(7, '0')}`), 20000).catch(() => {})
      await settle()
      rows.push({ mode, scenario: `${n} x ${size} B in one loop`, sent: n, received: (b.text.match(/event: b\n/g) || []).length })
      await done()
    }
    {
      const { A, b, done } = await pair(redis, history, 'exit')
      await A.broadcast(Array.from({ length: 500 }, (_, i) => ['all', 'p', `x${i}`]))
      await A.exit({ closeRedis: false })
      await settle()
      rows.push({ mode, scenario: '500 broadcasts, then exit without closeRedis', sent: 500, received: count(b, 'x') })
      await done()
    }
    {
      const { A, B, b, done } = await pair(redis, history, 'huge')
      await A.broadcast([['all', 'huge', 'h'.repeat(40 << 20)], ['all', 'p', 'small-after']])
      await settle()
      rows.push({
        mode,
        scenario: 'one 40 MB broadcast, then a small one',
        sent: 2,
        received: count(b, 'small-after') + (b.text.includes('event: huge') ? 1 : 0),
        note: `A: ${A.statuses.map((s) => s.status).join(', ') || 'no status'}; B: ${B.statuses.map((s) => s.status).join(', ') || 'no status'}`,
      })
      await done()
    }
  }
  console.table(rows)
  await redis.kill()
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
