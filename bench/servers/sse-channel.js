'use strict'
// sse-channel 4.0.2: one channel per room. A response can be in one channel only
// (addClient writes the head), so clients without a room make up the '*' channel.
const { serve } = require('../lib/server')
const SseChannel = require('sse-channel')

const options = { pingInterval: 0x7fffffff } // no ping during the benchmark
const channels = new Map([['*', new SseChannel(options)]])

serve({
  add(req, res, room) {
    const key = room === null ? '*' : room
    if (!channels.has(key)) channels.set(key, new SseChannel(options))
    channels.get(key).addClient(req, res)
  },
  broadcast(room, data) {
    const channel = channels.get(room)
    if (channel) channel.send({ data: JSON.stringify(data) })
  },
})
