'use strict'
// The floors' shared body: plain node:http, a Set of write targets per room, and one
// write of one prebuilt buffer per client per event. No ids, no checks.
const { serve } = require('./server')

/**
 * `target(res)` is what each event is written to (the response, or its socket);
 * `encode(frame)` turns one SSE frame into the buffer written.
 */
function serveFloor({ target, encode }) {
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
      const out = target(res)
      all.add(out)
      if (room !== null) {
        if (!rooms.has(room)) rooms.set(room, new Set())
        rooms.get(room).add(out)
      }
      res.once('close', () => {
        all.delete(out)
        if (room !== null) rooms.get(room).delete(out)
      })
    },
    broadcast(room, data) {
      const members = room === '*' ? all : rooms.get(room)
      if (members === undefined) return
      const buf = encode(`data: ${JSON.stringify(data)}\n\n`)
      for (const out of members) out.write(buf)
    },
  })
}

module.exports = { serveFloor }
