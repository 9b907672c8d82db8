'use strict'
// better-sse 0.16.1: one channel with every session ('*') plus one channel per room.
const { serve } = require('../lib/server')
const { createSession, createChannel } = require('better-sse')

const all = createChannel()
const rooms = new Map()

serve({
  async add(req, res, room) {
    const session = await createSession(req, res, { keepAlive: null, retry: null })
    all.register(session)
    if (room === null) return
    if (!rooms.has(room)) rooms.set(room, createChannel())
    rooms.get(room).register(session)
  },
  broadcast(room, data) {
    const channel = room === '*' ? all : rooms.get(room)
    if (channel) channel.broadcast(data)
  },
})
