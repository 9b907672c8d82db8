'use strict'
// simple-sse-rs: the simple-sse 0.0.3 API over a Rust core.
// This file keeps the req/res objects and the exact API; the Rust `Hub` keeps the
// registry, the rooms and every pending byte, and wakes us (through a threadsafe
// function) to write one batch per turn of the event loop.

const { EventEmitter } = require('node:events')
const { ServerResponse } = require('node:http')
const path = require('node:path')

const native = loadNative()

const sse = new EventEmitter()
/** Live clients in add order; the same array for the life of the process. */
const clients = []
/** id -> connection record (see `add`) */
const conns = new Map()
const hub = new native.Hub(onWake)

let heartbeatMs = 20000
let heartbeatTimer = null

// ---- loading -------------------------------------------------------------

function loadNative() {
  const file = path.join(__dirname, `simple-sse-rs.${platformTriple()}.node`)
  try {
    return require(file)
  } catch (cause) {
    const err = new Error(
      `simple-sse-rs: the native addon ${path.basename(file)} is missing or does not load ` +
        `(${cause && cause.message ? cause.message.split('\n')[0] : cause}). ` +
        `Build it with \`npm run build\` in ${__dirname} (needs Rust: https://rustup.rs).`,
      { cause },
    )
    err.code = 'SIMPLE_SSE_RS_NO_ADDON'
    throw err
  }
}

function platformTriple() {
  const { platform, arch } = process
  if (platform === 'win32') return `win32-${arch}-msvc`
  if (platform !== 'linux') return `${platform}-${arch}`
  const glibc = process.report && process.report.getReport().header.glibcVersionRuntime
  return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
}

// ---- argument checks -----------------------------------------------------

function describe(value) {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value
}

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

function checkRoom(room) {
  if (typeof room === 'string') return room
  if (typeof room === 'number') {
    if (Number.isNaN(room)) throw new RangeError('room must not be NaN')
    return room
  }
  throw new TypeError(`room must be a string or a number, got ${describe(room)}`)
}

function checkEvent(event) {
  if (event === null) return null
  if (typeof event === 'number') return String(event)
  if (typeof event !== 'string') {
    throw new TypeError(`event must be a string, got ${describe(event)}`)
  }
  if (/[\r\n]/.test(event)) {
    throw new TypeError('event must not contain line breaks (\\r or \\n): it could inject fields')
  }
  return event
}

function encodeData(data) {
  switch (typeof data) {
    case 'string':
      return data
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(data)
    case 'object': {
      const json = JSON.stringify(data)
      if (json === undefined) throw new TypeError('data must serialize to JSON')
      return json
    }
    default:
      throw new TypeError(
        `data must be a string, number, boolean, object or null, got ${describe(data)}`,
      )
  }
}

/** Shared by send and broadcast: (event, data) as given -> [event|null, data string], or null for "nothing". */
function message(event, data) {
  if (data === undefined) {
    if (event === undefined) return null
    return [null, encodeData(event)]
  }
  return [event === undefined ? null : checkEvent(event), encodeData(data)]
}

function checkRetry(retry) {
  const ms = typeof retry === 'string' && /^\d+$/.test(retry) ? Number(retry) : retry
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 0xffffffff) {
    throw new RangeError(`retry must be a whole number of milliseconds >= 0, got ${String(retry)}`)
  }
  return ms
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
  clients.push(client)

  if (req.socket && typeof req.socket.setTimeout === 'function') req.socket.setTimeout(0x7fffffff)

  conn.onClose = () => removeConn(conn)
  if (typeof res.once === 'function') {
    conn.closeTarget = res
    res.once('close', conn.onClose)
  } else if (req.connection && typeof req.connection.addListener === 'function') {
    req.connection.addListener('close', conn.onClose)
  }

  // Whatever the app writes itself goes after what this package has queued.
  if (conn.write !== null) {
    res.write = function write() {
      flushNow(conn)
      return conn.write.apply(this, arguments)
    }
  }
  if (conn.end !== null) {
    res.end = function end() {
      flushNow(conn)
      removeConn(conn)
      return conn.end.apply(this, arguments)
    }
  }

  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
  })
  // Send the headers now, so the browser's EventSource opens at once.
  if (typeof res.flushHeaders === 'function' && conn.write !== null) res.flushHeaders()
  if (writesDirect(res, conn)) {
    conn.direct = true
    hub.setFramed(id, true)
  }

  startHeartbeat()
  return client
}

function removeConn(conn) {
  const id = conn.client.id
  if (conns.get(id) !== conn) return false
  conns.delete(id)
  hub.remove(id)
  const at = indexOfId(id)
  if (at !== -1) clients.splice(at, 1)
  if (conn.closeTarget !== null) conn.closeTarget.removeListener('close', conn.onClose)
  if (conn.drainTarget !== null) conn.drainTarget.removeListener('drain', conn.onDrain)
  if (conns.size === 0) stopHeartbeat()
  return true
}

/** Clients are in ascending id order: binary search. */
function indexOfId(id) {
  let lo = 0
  let hi = clients.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const at = clients[mid].id
    if (at === id) return mid
    if (at < id) lo = mid + 1
    else hi = mid - 1
  }
  return -1
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

// ---- delivery ------------------------------------------------------------

/** Runs on the JS thread, a turn after frames became pending. Must never throw. */
function onWake() {
  try {
    flushAll()
  } catch (err) {
    process.nextTick(() => {
      throw err
    })
  }
}

/** The batch being written, if any: { data, index, bodies, i, start }. */
let inflight = null
/** In a batch index: the client's part has no shared body. */
const NO_BODY = 0xffffffff
const CRLF = Buffer.from('\r\n')

function flushAll() {
  const batch = hub.drain()
  if (batch === null) return
  inflight = { data: batch.data, index: batch.index, bodies: batch.bodies, i: 0, start: 0 }
  try {
    writeInflight()
  } finally {
    inflight = null
  }
  const { dropped } = batch
  for (let i = 0; i < dropped.length; i++) drop(dropped[i])
}

/**
 * Writes the rest of the batch in flight. Re-entrant: a write can run app code
 * (a stream wrapper, a listener) that writes, ends or closes; that first finishes
 * the batch from the shared cursor, so no frame is lost or overtaken.
 */
function writeInflight() {
  const batch = inflight
  const index = batch.index
  while (batch.i < index.length) {
    const id = index[batch.i]
    const start = batch.start
    const end = index[batch.i + 1]
    const body = index[batch.i + 2]
    batch.i += 3
    batch.start = end
    const conn = conns.get(id)
    if (conn !== undefined) {
      writeTo(conn, batch.data.subarray(start, end), body === NO_BODY ? null : batch.bodies[body])
    }
  }
}

/**
 * A plain `node:http` response (not wrapped by middleware such as compression) that
 * owns its socket and streams chunked: its batches can skip `res.write` and go to the
 * socket as complete HTTP/1.1 chunks, one syscall per client per turn. Anything the
 * app writes itself still goes through `res.write`, after what we queued.
 */
function writesDirect(res, conn) {
  return (
    conn.write === ServerResponse.prototype.write &&
    typeof res.flush !== 'function' &&
    res.chunkedEncoding === true &&
    res.headersSent === true &&
    res.socket != null
  )
}

/** Writes a client's part of a batch: `chunk`, then the shared `body` when not null. */
function writeTo(conn, chunk, body) {
  const res = conn.res
  if (conn.write === null) return
  if (res.writableEnded || res.destroyed) {
    removeConn(conn)
    return
  }
  let ok
  let target
  if (conn.direct) {
    target = res.socket
    if (target == null || !target.writable) {
      removeConn(conn)
      return
    }
    if (body === null) ok = target.write(chunk)
    else {
      // One HTTP chunk in three pieces, one system call: `<size>\r\nid: N\n`, body, `\r\n`.
      target.cork()
      target.write(chunk)
      target.write(body)
      ok = target.write(CRLF)
      target.uncork()
    }
  } else {
    target = res
    ok = conn.write.call(res, body === null ? chunk : Buffer.concat([chunk, body]))
  }
  // Compression middleware sets res.flush; the original looked for it on every write.
  if (typeof res.flush === 'function') res.flush()
  if (ok === false && typeof target.once === 'function' && conns.get(conn.client.id) === conn) {
    hub.pause(conn.client.id)
    if (conn.onDrain === null) {
      conn.onDrain = () => {
        conn.drainTarget = null
        if (conns.get(conn.client.id) === conn) hub.resume(conn.client.id)
      }
    }
    if (conn.drainTarget === null) {
      conn.drainTarget = target
      target.once('drain', conn.onDrain)
    }
  }
}

/** Writes a client's queued frames now, before the app's own write or end. */
function flushNow(conn) {
  if (inflight !== null) writeInflight()
  const pending = hub.take(conn.client.id)
  if (pending !== null && conn.write !== null) conn.write.call(conn.res, pending)
}

function drop(id) {
  const conn = conns.get(id)
  if (conn === undefined) return
  removeConn(conn)
  if (typeof conn.res.destroy === 'function') conn.res.destroy()
  sse.emit('drop', conn.client, { reason: 'slow', maxPendingBytes: hub.maxPendingBytes })
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
      flushNow(conn)
      removeConn(conn)
    }
  }
}

function stats() {
  const stats = hub.stats()
  stats.redis = hub.redisStats()
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
})

module.exports = sse
