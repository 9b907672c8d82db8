'use strict'
// This package (simple-sse-rs): the simple-sse API, rooms by join().
const { serve } = require('../lib/server')
const sse = require('../..')

sse.heartbeat = 0x7fffffff // no heartbeat during the benchmark

serve({
  add(req, res, room) {
    const client = sse.add(req, res)
    if (room !== null) sse.join(client, room)
  },
  broadcast(room, data) {
    sse.broadcast(room, data)
  },
})
