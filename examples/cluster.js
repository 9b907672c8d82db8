'use strict'
// The demo (examples/server.js) on several processes sharing one port. Node's cluster
// module spreads the connections over the workers; Redis carries every broadcast to the
// clients of every worker, so a message posted to any worker reaches the whole room.
//
//   redis-server &                 # or REDIS_URL=redis://host:6379
//   node examples/cluster.js       # WORKERS=4 PORT=3000 to change
//
// One worker (the "clock" worker) makes the once-a-second `clock`/`stats` broadcasts,
// which Redis carries to every page; with one per worker, pages would get N a second.

const cluster = require('node:cluster')
const os = require('node:os')

const WORKERS = Number(process.env.WORKERS) || Math.min(os.availableParallelism(), 4)
const PORT = Number(process.env.PORT) || 3000
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'

if (cluster.isPrimary) {
  console.log(`primary ${process.pid}: ${WORKERS} workers on http://localhost:${PORT}, sharing broadcasts through ${REDIS_URL}`)
  let stopping = false
  let clockWorker = cluster.fork({ DEMO_CLOCK: '1' })
  for (let i = 1; i < WORKERS; i++) cluster.fork({ DEMO_CLOCK: '' })

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    if (code === 2) {
      // The worker could not reach Redis at start: another one would not either.
      if (Object.keys(cluster.workers).length === 0) process.exit(1)
      return
    }
    console.error(`worker ${worker.process.pid} died (${signal || code}); starting another`)
    const replacement = cluster.fork({ DEMO_CLOCK: worker === clockWorker ? '1' : '' })
    if (worker === clockWorker) clockWorker = replacement
  })

  // Ctrl+C reaches the workers too; they close their streams and Redis link, then exit.
  const quit = () => {
    stopping = true
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM')
  }
  process.once('SIGINT', quit)
  process.once('SIGTERM', quit)
} else {
  const sse = require('..')
  const { start, stop } = require('./server')
  const name = `worker ${process.pid}`

  sse.on('redis', ({ status, detail }) => console.log(`${name}: Redis ${status}: ${detail}`))

  sse.useRedis(REDIS_URL).then(
    () => {
      const server = start({ port: PORT, clock: process.env.DEMO_CLOCK === '1' })
      server.on('listening', () => console.log(`${name}: ready`))
      const quit = async () => {
        await stop(server)
        await sse.closeRedis()
        process.exit(0)
      }
      process.once('SIGINT', quit)
      process.once('SIGTERM', quit)
    },
    (err) => {
      console.error(`${name}: ${err.message} (is redis-server running? set REDIS_URL to use another)`)
      process.exit(2)
    },
  )
}
