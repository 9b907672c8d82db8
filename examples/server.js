'use strict'
// The simple-sse-rs demo: `npm start`, then open http://localhost:3000 (PORT to change it).
//
// Each visitor's page opens an EventSource on /events?room=<room>. Every second a `clock`
// event goes to every client (room "*") and a `stats` event carries sse.stats(); a message
// posted to a room goes to that room's members only. Nothing here but this package's API.

const path = require('node:path')
const express = require('express')
const sse = require('..')

/** The rooms a visitor can pick. */
const ROOMS = ['lobby', 'rust', 'node', 'random']
const MAX_NAME = 40
const MAX_TEXT = 500

/** What the page shows in its counters: sse.stats() with every room listed, empty or not. */
function snapshot() {
  const stats = sse.stats()
  const members = new Map(stats.rooms.map((r) => [r.room, r.members]))
  return { ...stats, rooms: ROOMS.map((room) => ({ room, members: members.get(room) || 0 })) }
}

/** Sends the counters to everyone once per turn, however many clients came or went in it. */
let statsQueued = false
function queueStats() {
  if (statsQueued) return
  statsQueued = true
  setImmediate(() => {
    statsQueued = false
    sse.broadcast('*', 'stats', snapshot())
  })
}

// A client left (however its connection ended, attached or detached): the counters follow.
sse.on('remove', queueStats)

function createApp() {
  const app = express()
  app.disable('x-powered-by')
  app.use(express.static(path.join(__dirname, 'public')))

  app.get('/events', (req, res) => {
    const room = ROOMS.includes(req.query.room) ? req.query.room : ROOMS[0]
    // Proxies such as nginx would otherwise buffer the stream.
    res.setHeader('X-Accel-Buffering', 'no')
    const client = sse.add(req, res)
    sse.setRetry(client, 2000)
    sse.join(client, room)
    sse.send(client, 'welcome', { id: client.id, room, rooms: ROOMS })
    queueStats()
  })

  app.post('/rooms/:room/messages', express.json({ limit: '4kb' }), (req, res) => {
    const room = req.params.room
    if (!ROOMS.includes(room)) return res.status(404).json({ error: `no room ${room}` })
    const body = req.body || {}
    const text = typeof body.text === 'string' ? body.text.trim() : ''
    const name = typeof body.name === 'string' && body.name.trim() ? body.name.trim() : 'anonymous'
    if (text === '' || text.length > MAX_TEXT || name.length > MAX_NAME) {
      return res.status(400).json({ error: `text: 1 to ${MAX_TEXT} characters, name: up to ${MAX_NAME}` })
    }
    sse.broadcast(room, 'message', { room, name, text, at: Date.now() })
    res.status(202).json({ room })
  })

  app.get('/stats', (req, res) => res.json(snapshot()))

  return app
}

/**
 * Starts the demo and returns its `http.Server` (port 0 picks a free port; await 'listening').
 * `clock: false` leaves the once-a-second broadcasts to another process (cluster.js).
 */
function start({ port = Number(process.env.PORT) || 3000, host, clock: ticking = true } = {}) {
  const app = createApp()
  const server = app.listen(port, host)
  if (!ticking) return server

  const clock = setInterval(() => {
    sse.broadcast('*', 'clock', { now: Date.now() })
    sse.broadcast('*', 'stats', snapshot())
  }, 1000)
  // Neither the clock nor the heartbeat keeps a process alive on its own.
  clock.unref()
  server.on('close', () => clearInterval(clock))
  return server
}

/** Ends every SSE stream (EventSource would keep the server open), then closes the server. */
function stop(server) {
  sse.close()
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

if (require.main === module) {
  const server = start()
  server.on('listening', () => {
    console.log(`simple-sse-rs demo on http://localhost:${server.address().port} (Ctrl+C to stop)`)
  })
  server.on('error', (err) => {
    console.error(err.code === 'EADDRINUSE' ? `port ${err.port} is in use: try PORT=3001 npm start` : err)
    process.exit(1)
  })
  const quit = () => stop(server).then(() => process.exit(0))
  process.once('SIGINT', quit)
  process.once('SIGTERM', quit)
}

module.exports = { start, stop, createApp, ROOMS }
