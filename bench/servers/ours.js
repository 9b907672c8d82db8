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
  info() {
    let detached = 0
    let clients = 0
    for (const client of sse.clients) {
      clients++
      if (client.detached === true) detached++
    }
    return { clients, detached, detachSetting: sse.detach === true }
  },
})
