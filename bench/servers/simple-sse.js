'use strict'
// simple-sse 0.0.3, the original: same API as this package.
const { serve } = require('../lib/server')
const sse = require('simple-sse')

sse.heartbeat = 0x7fffffff // read when the first client is added

serve({
  add(req, res, room) {
    const client = sse.add(req, res)
    res.flushHeaders() // simple-sse only sends the head with the first event; the loader waits for it
    if (room !== null) sse.join(client, room)
  },
  broadcast(room, data) {
    sse.broadcast(room, data)
  },
})
