'use strict'
// simple-sse-rs: the simple-sse 0.0.3 API over a Rust core.
// This file keeps the req/res objects and the exact API; the Rust `Hub` keeps the
// registry, the rooms and every pending byte, and wakes us (through a threadsafe
// function) to write one batch per turn of the event loop.

const { EventEmitter } = require('node:events')

const native = require('./lib/binding')
const { describe, checkRoom, message, checkRetry } = require('./lib/checks')
const { createWriter } = require('./lib/connection')
const { createClientList } = require('./lib/clients')

const sse = new EventEmitter()
/** Live clients in add order (`sse.clients`). */
const clientList = createClientList()
const clients = clientList.array
/** id -> connection record (see `add`) */
const conns = new Map()
const hub = new native.Hub(() => writer.onWake())
const writer = createWriter({
  hub,
  conns,
  removeConn,
  onDrop(conn) {
    sse.emit('drop', conn.client, { reason: 'slow', maxPendingBytes: hub.maxPendingBytes })
  },
})

let heartbeatMs = 20000
let heartbeatTimer = null

/** The connection of a client object or numeric id; null for a removed client object. */
function resolve(client) {
  if (typeof client === 'number') {
    const conn = conns.get(client)
    if (conn === undefined) throw new Error(`SSE client ${client} does not exist`)
    return conn
  }
  if (client instanceof Client) {
    const conn = conns.get(client.id)
    return conn !== undefined && conn.client === client ? conn : null
  }
  throw new TypeError(
    `client must be a client returned by add() or its numeric id, got ${describe(client)}`,
  )
}

// ---- clients -------------------------------------------------------------

function getRooms() {
  const conn = conns.get(this.id)
  return conn !== undefined && conn.client === this ? hub.rooms(this.id) : []
}

function setRooms(rooms) {
  if (!Array.isArray(rooms)) throw new TypeError(`rooms must be an array, got ${describe(rooms)}`)
  rooms.forEach(checkRoom)
  if (resolve(this) === null) return
  hub.leave(this.id)
  for (const room of rooms) hub.join(this.id, room)
}

class Client {
  constructor(id, res) {
    this.id = id
    Object.defineProperty(this, 'rooms', { get: getRooms, set: setRooms, enumerable: true })
    this.res = res
  }
}

function add(req, res) {
  if (req === null || typeof req !== 'object') {
    throw new TypeError(`req must be the HTTP request, got ${describe(req)}`)
  }
  if (res === null || typeof res !== 'object' || typeof res.writeHead !== 'function') {
    throw new TypeError('res must be the HTTP response (an object with writeHead)')
  }
  const id = hub.add()
  const client = new Client(id, res)
  const conn = {
    client,
    res,
    /** The response's own write and end, which ours wrap. */
    write: typeof res.write === 'function' ? res.write : null,
    end: typeof res.end === 'function' ? res.end : null,
    /** Batches go straight to the socket as ready-made HTTP chunks (see `writesDirect`). */
    direct: false,
    onClose: null,
    closeTarget: null,
    onDrain: null,
    drainTarget: null,
  }
  conns.set(id, conn)
  clientList.add(client)

  if (req.socket && typeof req.socket.setTimeout === 'function') req.socket.setTimeout(0x7fffffff)

  conn.onClose = () => removeConn(conn)
  if (typeof res.once === 'function') {
    conn.closeTarget = res
    res.once('close', conn.onClose)
  } else if (req.connection && typeof req.connection.addListener === 'function') {
    req.connection.addListener('close', conn.onClose)
  }

  // Whatever the app writes itself goes after what this package has queued.
  writer.wrap(conn)

  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
  })
  // Send the headers now, so the browser's EventSource opens at once.
  if (typeof res.flushHeaders === 'function' && conn.write !== null) res.flushHeaders()
  writer.route(conn)

  startHeartbeat()
  return client
}

function removeConn(conn) {
  const id = conn.client.id
  if (conns.get(id) !== conn) return false
  conns.delete(id)
  hub.remove(id)
  clientList.remove(conn.client)
  if (conn.closeTarget !== null) conn.closeTarget.removeListener('close', conn.onClose)
  if (conn.drainTarget !== null) conn.drainTarget.removeListener('drain', conn.onDrain)
  if (conns.size === 0) stopHeartbeat()
  return true
}

function remove(client) {
  if (typeof client === 'number') {
    const conn = conns.get(client)
    return conn !== undefined && removeConn(conn)
  }
  const conn = resolve(client)
  return conn !== null && removeConn(conn)
}

function getClient(id) {
  const conn = conns.get(id)
  return conn === undefined ? null : conn.client
}

// ---- rooms ---------------------------------------------------------------

function join(client, room) {
  checkRoom(room)
  const conn = resolve(client)
  return conn !== null && hub.join(conn.client.id, room)
}

function leave(client, room) {
  if (room !== undefined && room !== null) checkRoom(room)
  const conn = resolve(client)
  if (conn !== null) hub.leave(conn.client.id, room === undefined ? null : room)
}

function isIn(client, room) {
  checkRoom(room)
  const conn = resolve(client)
  if (room === '*') return true
  return conn !== null && hub.isIn(conn.client.id, room)
}

// ---- sending -------------------------------------------------------------

function send(client, event, data) {
  const conn = resolve(client)
  const msg = message(event, data)
  if (msg !== null && conn !== null) hub.send(conn.client.id, msg[0], msg[1])
}

function broadcast(room, event, data) {
  checkRoom(room)
  const msg = message(event, data)
  if (msg !== null) hub.broadcast(room, msg[0], msg[1])
}

function setRetry(client, retry) {
  const conn = resolve(client)
  const ms = checkRetry(retry)
  if (conn !== null) hub.retry(conn.client.id, ms)
}

function sendHeartbeat() {
  hub.heartbeat()
}

// ---- heartbeat -----------------------------------------------------------

function startHeartbeat() {
  if (heartbeatTimer !== null || heartbeatMs === 0 || conns.size === 0) return
  heartbeatTimer = setInterval(sendHeartbeat, heartbeatMs)
  heartbeatTimer.unref()
}

function stopHeartbeat() {
  if (heartbeatTimer === null) return
  clearInterval(heartbeatTimer)
  heartbeatTimer = null
}

// ---- lifecycle and observability ---------------------------------------------

function close() {
  stopHeartbeat()
  for (const conn of Array.from(conns.values())) {
    if (conn.end !== null && !conn.res.writableEnded) conn.res.end()
    else {
      writer.flushNow(conn)
      removeConn(conn)
    }
  }
}

function stats() {
  const stats = hub.stats()
  stats.redis = hub.redisStats()
  stats.binding = native.binding
  return stats
}

// ---- several processes: Redis ----------------------------------------------

/**
 * Shares broadcasts with every process subscribed to the same Redis under the same prefix.
 * Resolves once subscribed; rejects (and stays local) when Redis cannot be reached.
 */
function useRedis(options) {
  const opts = typeof options === 'string' ? { url: options } : options
  if (opts === null || typeof opts !== 'object' || typeof opts.url !== 'string') {
    return Promise.reject(
      new TypeError('useRedis needs a redis:// URL or { url, prefix } options'),
    )
  }
  const prefix = opts.prefix === undefined ? 'simple-sse' : opts.prefix
  if (typeof prefix !== 'string' || prefix === '') {
    return Promise.reject(new TypeError('prefix must be a non-empty string'))
  }
  return hub.useRedis(opts.url, prefix, (status, detail) => {
    sse.emit('redis', { status, detail })
  })
}

/** Stops sharing broadcasts; resolves once the Redis connections are closed. */
function closeRedis() {
  return hub.closeRedis()
}

Object.defineProperties(sse, {
  clients: { value: clients, enumerable: true },
  heartbeat: {
    enumerable: true,
    get: () => heartbeatMs,
    set(ms) {
      if (typeof ms !== 'number' || !(ms >= 0) || ms > 0x7fffffff) {
        throw new RangeError(`heartbeat must be a number of milliseconds in [0, 2^31), got ${String(ms)}`)
      }
      heartbeatMs = ms
      stopHeartbeat()
      startHeartbeat()
    },
  },
  maxPendingBytes: {
    enumerable: true,
    get: () => hub.maxPendingBytes,
    set(bytes) {
      if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 1) {
        throw new RangeError(`maxPendingBytes must be a whole number of bytes >= 1, got ${String(bytes)}`)
      }
      hub.maxPendingBytes = bytes
    },
  },
})

Object.assign(sse, {
  getClient,
  add,
  remove,
  join,
  leave,
  in: isIn,
  send,
  broadcast,
  setRetry,
  sendHeartbeat,
  close,
  stats,
  useRedis,
  closeRedis,
  Client,
  binding: native.binding,
})

module.exports = sse
