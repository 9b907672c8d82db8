'use strict'
// Not in the default run (BENCH_LIBS=ours,floor,floor-socket to include it): the floor
// below res.write. Each event is one prebuilt HTTP/1.1 chunk written straight to each
// client's socket, which is what this package does with its batches.
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
    const socket = res.socket
    all.add(socket)
    if (room !== null) {
      if (!rooms.has(room)) rooms.set(room, new Set())
      rooms.get(room).add(socket)
    }
    res.once('close', () => {
      all.delete(socket)
      if (room !== null) rooms.get(room).delete(socket)
    })
  },
  broadcast(room, data) {
    const members = room === '*' ? all : rooms.get(room)
    if (members === undefined) return
    const frame = `data: ${JSON.stringify(data)}\n\n`
    const chunk = Buffer.from(`${Buffer.byteLength(frame).toString(16)}\r\n${frame}\r\n`)
    for (const socket of members) socket.write(chunk)
  },
})
