'use strict'
// The floor: plain node:http, a Set of responses per room, and one res.write of one
// prebuilt frame per client per event. No ids, no checks: what any library must at least cost.
const { serve } = require('../lib/server')

const all = new Set()
const rooms = new Map()

serve({
  add(req, res, room) {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
    })
    res.flushHeaders()
    all.add(res)
    if (room !== null) {
      if (!rooms.has(room)) rooms.set(room, new Set())
      rooms.get(room).add(res)
    }
    res.once('close', () => {
      all.delete(res)
      if (room !== null) rooms.get(room).delete(res)
    })
  },
  broadcast(room, data) {
    const members = room === '*' ? all : rooms.get(room)
    if (members === undefined) return
    const frame = Buffer.from(`data: ${JSON.stringify(data)}\n\n`)
    for (const res of members) res.write(frame)
  },
})
