'use strict'
// simple-sse-rs: the simple-sse 0.0.3 API over a Rust core.
// This file keeps the req/res objects and the exact API; the Rust `Hub` keeps the
// registry, the rooms and every pending byte, and wakes us (through a threadsafe
// function) to write one batch per turn of the event loop.

const { EventEmitter } = require('node:events')
const { Socket } = require('node:net')
const { inspect } = require('node:util')

const native = require('./lib/binding')
const { describe, show, warnOnce, isMissing, isIgnoredRoom, warnIgnoredRoom, checkRoom, message, checkRetry, checkHeartbeat, checkMaxPendingBytes } = require('./lib/checks')
const { createWriter } = require('./lib/connection')
const { createClientList } = require('./lib/clients')
const { createReplays, lastEventIdOf } = require('./lib/replay')
const { createFetch } = require('./lib/fetch')
const { createLifecycle } = require('./lib/lifecycle')
const { createDetach } = require('./lib/detach')

const sse = new EventEmitter()
/** Live clients in add order (`sse.clients`). */
const clientList = createClientList()
const clients = clientList.array
/** id -> connection record (see `add`) */
const conns = new Map()
const hub = new native.Hub(() => {
  writer.onWake()
  replays.reportGaps()
})
const writer = createWriter({
  hub,
  conns,
  removeConn,
  onDrop(conn, info) {
    sse.emit('drop', conn.client, info)
  },
  onBatchDone: () => lifecycle.batchDone(),
})
const lifecycle = createLifecycle(sse, writer.busy)
const detacher = createDetach({ hub, conns, busy: writer.busy })

const fetchApi = createFetch({
  hub,
  removeConn,
  isLive: (conn) => conns.get(conn.client.id) === conn,
})
const replays = createReplays({
  hub,
  conns,
  emitGap(client, info) {
    sse.emit('gap', client, info)
  },
})

let heartbeatMs = 20000
let heartbeatTimer = null

/**
 * Connections whose response has no socket (stubs and mocks in unit tests), in add order.
 * They are written synchronously, frame by frame, inside the call that queued the frame,
 * as simple-sse 0.0.3 did. Removed connections leave lazily (see `eachSync`).
 */
const syncConns = new Set()

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
  for (const room of rooms) {
    if (isIgnoredRoom(room)) warnIgnoredRoom('client.rooms = [...]', room)
    else checkRoom(room)
  }
  if (resolve(this) === null) return
  hub.leave(this.id)
  for (const room of rooms) if (!isIgnoredRoom(room)) hub.join(this.id, room)
}

/**
 * `rooms` is an own enumerable accessor, as the original's own `rooms` array was an own
 * property (Object.keys, JSON.stringify and spreads see `id, rooms, res`). Defined with the
 * same getter and setter on every client, it lives in the hidden class the clients share,
 * not in each object: a client is a header and two fields (`id`, `res`).
 */
const ROOMS = Object.freeze({ get: getRooms, set: setRooms, enumerable: true })

/** What `util.inspect` shows for a client: its own keys, with the rooms' values. */
const InspectedClient = class Client {}

class Client {
  constructor(id, res) {
    this.id = id
    Object.defineProperty(this, 'rooms', ROOMS)
    this.res = res
  }

  /**
   * Which kind of client this is (the types' discriminant; a getter, so a client's own
   * keys stay `id`, `rooms`, `res`): `'node'` for a Node.js response, `'fetch'` for a
   * Fetch API `Response`, `'detached'` once Rust owns the connection (`res` is null).
   */
  get kind() {
    const res = this.res
    return res === null ? 'detached' : typeof res.writeHead === 'function' ? 'node' : 'fetch'
  }

  /** Whether Rust owns the connection (Node's request and response are released). */
  get detached() {
    return this.res === null
  }

  /** `console.log(client)`: `Client { id, rooms: [...], res }`, not `rooms: [Getter/Setter]`. */
  [inspect.custom](depth, options, inspectValue) {
    if (depth < 0) return options.stylize(`[Client ${this.id}]`, 'special')
    const shown = new InspectedClient()
    shown.id = this.id
    shown.rooms = this.rooms
    shown.res = this.res
    // Inspected afresh, with the levels left at this one.
    return (inspectValue || inspect)(shown, { ...options, depth })
  }
}

function add(req, res, options) {
  // A Fetch API Request (Hono, Next.js, Bun, Deno): the client's res is a Response.
  if (res === undefined && fetchApi.isRequest(req)) return addFetch(req)
  const detach = detacher.wanted(options)
  if (req === null || typeof req !== 'object') {
    throw new TypeError(`req must be the HTTP request, got ${describe(req)}`)
  }
  if (res === null || typeof res !== 'object' || typeof res.writeHead !== 'function') {
    throw new TypeError('res must be the HTTP response (an object with writeHead)')
  }
  const before = writer.addedWith(res)
  if (before !== undefined) {
    throw new TypeError(
      `res was already added (client ${before.client.id}): a response carries one event stream`,
    )
  }
  // Proxies (nginx, and those that honour it) pass the stream on at once instead of
  // buffering it. Set apart, so writeHead gets exactly the headers simple-sse 0.0.3 passed;
  // and first, so a response whose headers already went out throws before anything is registered.
  if (typeof res.setHeader === 'function') res.setHeader('X-Accel-Buffering', 'no')
  const id = hub.add()
  const client = new Client(id, res)
  const conn = new writer.Connection(client, res)
  conns.set(id, conn)
  clientList.add(client)
  replays.onAdd(conn, lastEventIdOf(req))

  turnTimeoutOff(req.socket)

  // A response without a socket (a stub or mock in a unit test) is written synchronously
  // inside each call, so nothing waits for it, and its own write/end (spies) stay as they are.
  const sync = res.socket == null
  // Removal on 'close'; whatever the app writes itself goes after what this package queued.
  conn.attach(req, !sync)

  // HTTP/2 forbids connection-specific headers (node:http2 warns and drops them).
  const http2 = req.httpVersionMajor === 2 || res.stream != null
  res.writeHead(200, http2
    ? { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' }
    : { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' })
  if (sync) syncConns.add(conn)
  // Send the headers now, so the browser's EventSource opens at once.
  if (typeof res.flushHeaders === 'function' && conn.write !== null) res.flushHeaders()
  // A plain HTTP/1.1 response on a plain TCP socket: Rust writes it from now on.
  conn.route()
  // Rust takes the connection over (lib/detach.js); where it cannot, it stays attached.
  if (detach) detacher.detach(conn, req)

  startHeartbeat()
  lifecycle.added(client)
  return client
}

/** `add(request)`: a client whose frames stream as the body of `client.res`, a Response. */
function addFetch(request) {
  const id = hub.add()
  const client = new Client(id, null)
  const conn = new fetchApi.Connection(client, request)
  conns.set(id, conn)
  clientList.add(client)
  replays.onAdd(conn, fetchApi.lastEventIdOf(request))
  lifecycle.added(client)
  // Removal when the request aborts (at once if it already has).
  fetchApi.attach(conn)
  startHeartbeat()
  return client
}

/**
 * The original called `socket.setTimeout(0x7fffffff)` so that a stream never times out.
 * On a real socket this turns the timeout off instead (when one is armed): no timer per
 * client, and none that direct writes (which Node does not see) would fail to refresh.
 */
function turnTimeoutOff(socket) {
  if (socket == null || typeof socket.setTimeout !== 'function') return
  if (!(socket instanceof Socket)) socket.setTimeout(0x7fffffff)
  else if (socket.timeout) socket.setTimeout(0)
}

/** Forgets a connection; `reason` is the 'remove' event's (closed, removed, dropped, shutdown). */
function removeConn(conn, reason = 'closed') {
  const id = conn.client.id
  if (conns.get(id) !== conn) return false
  conns.delete(id)
  // Rust forgets its pending bytes (and stops writing to the socket) first.
  hub.remove(id)
  clientList.remove(conn.client)
  conn.detach()
  if (conns.size === 0) stopHeartbeat()
  lifecycle.removed(conn.client, reason)
  return true
}

/** `sse.remove`: what was queued for the client is written first (0.0.3 wrote at once). */
function remove(client) {
  if (typeof client === 'number') {
    const conn = conns.get(client)
    return conn !== undefined && writer.release(conn)
  }
  if (client instanceof Client) {
    const conn = resolve(client)
    return conn !== null && writer.release(conn)
  }
  if (client === null) resolve(client) // a TypeError, as 0.0.3 threw for null too
  // simple-sse 0.0.3 removed by `client.id` and ignored anything else (undefined, "3", {}).
  warnOnce(
    'SIMPLE_SSE_RS_REMOVE_ARGUMENT',
    `sse.remove() got ${show(client)}, not a client returned by add() or its numeric id. ` +
      'simple-sse-rs ignores it (an object with a numeric id removes that client), as ' +
      'simple-sse 0.0.3 did. This warning is shown once.',
  )
  const id = typeof client === 'object' ? client.id : undefined
  const conn = typeof id === 'number' ? conns.get(id) : undefined
  return conn !== undefined && writer.release(conn)
}

function getClient(id) {
  const conn = conns.get(id)
  return conn === undefined ? null : conn.client
}

// ---- rooms ---------------------------------------------------------------

// A null or undefined room (a missing parameter) and NaN are ignored with a warning
// (lib/checks.js isIgnoredRoom): simple-sse 0.0.3 accepted them, and a throw after the
// headers went out would kill the stream.

function join(client, room) {
  if (isIgnoredRoom(room)) {
    const conn = resolve(client)
    warnIgnoredRoom('sse.join()', room)
    // 0.0.3 pushed NaN again on every join (it matched no room the client had): true.
    return !isMissing(room) && conn !== null
  }
  checkRoom(room)
  const conn = resolve(client)
  return conn !== null && hub.join(conn.client.id, room)
}

function leave(client, room) {
  // No room, null and NaN leave every room, as in 0.0.3 (`!room`).
  const every = isIgnoredRoom(room)
  if (!every) checkRoom(room)
  const conn = resolve(client)
  if (every && !isMissing(room)) warnIgnoredRoom('sse.leave()', room)
  if (conn !== null) hub.leave(conn.client.id, every ? null : room)
}

function isIn(client, room) {
  if (isIgnoredRoom(room)) {
    resolve(client)
    warnIgnoredRoom('sse.in()', room)
    return false
  }
  checkRoom(room)
  const conn = resolve(client)
  if (room === '*') return true
  return conn !== null && hub.isIn(conn.client.id, room)
}

// ---- sending -------------------------------------------------------------

/** Writes a socketless connection's queued frames now, as a string through its current res.write. */
function writeSync(conn) {
  const pending = hub.take(conn.client.id)
  const res = conn.res
  // A stub that says it ended (as a real response would) gets nothing more, and goes.
  if (res.writableEnded === true) {
    removeConn(conn)
    return
  }
  if (pending === null || typeof res.write !== 'function') return
  res.write(pending.toString())
  if (typeof res.flush === 'function') res.flush()
}

/** Calls `fn` for each live socketless connection, forgetting the removed ones. */
function eachSync(fn) {
  for (const conn of syncConns) {
    if (conns.get(conn.client.id) !== conn) syncConns.delete(conn)
    else fn(conn)
  }
}

function send(client, event, data) {
  const conn = resolve(client)
  const msg = message(event, data)
  if (msg === null || conn === null) return
  hub.send(conn.client.id, msg[0], msg[1])
  queuedFor(conn)
}

/** After queueing for one client: a socketless one is written now, the rest as usual. */
function queuedFor(conn) {
  if (syncConns.has(conn)) writeSync(conn)
  else writer.queued()
}

function broadcast(room, event, data) {
  if (isIgnoredRoom(room)) {
    warnIgnoredRoom('sse.broadcast()', room)
    return
  }
  checkRoom(room)
  const msg = message(event, data)
  if (msg === null) return
  hub.broadcast(room, msg[0], msg[1])
  writer.queued()
  if (redisInUse) holdForRedis()
  if (syncConns.size === 0) return
  eachSync((conn) => {
    if (room === '*' || hub.isIn(conn.client.id, room)) writeSync(conn)
  })
}

function setRetry(client, retry) {
  const conn = resolve(client)
  const ms = checkRetry(retry)
  if (ms === null || conn === null) return
  hub.retry(conn.client.id, ms)
  queuedFor(conn)
}

function sendHeartbeat() {
  fetchApi.tick()
  hub.heartbeat()
  writer.queued()
  if (syncConns.size !== 0) eachSync(writeSync)
}

/** Writes everything pending now, instead of on the next turn. */
function flush() {
  writer.flushAll()
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
  lifecycle.shutdown(closeAll)
}

function closeAll() {
  stopHeartbeat()
  let thrown = null
  for (const conn of Array.from(conns.values())) {
    try {
      // A stub's own end (not wrapped) does not remove it: removeConn below does.
      if (conn.end !== null && !conn.res.writableEnded) conn.res.end()
      else writer.flushNow(conn)
    } catch (err) {
      // Every other client is still closed; the first exception is the app's to see.
      if (thrown === null) thrown = { err }
    }
    removeConn(conn)
  }
  if (thrown !== null) throw thrown.err
}

function stats() {
  const stats = hub.stats()
  const { history } = stats
  history.oldestId = history.oldestId ?? null
  history.newestId = history.newestId ?? null
  stats.redis = hub.redisStats()
  stats.binding = native.binding
  return stats
}

// ---- several processes: Redis ----------------------------------------------

/** True from useRedis until closeRedis: broadcasts may wait for Redis. */
let redisInUse = false
/** Most time the loop is held for broadcasts Redis has not taken, without progress. */
const REDIS_HOLD_MS = 3000
let redisHold = null

/**
 * Keeps the process alive while broadcasts wait to be published, so one that ends
 * without closeRedis() still shares what it broadcast: until nothing waits, or until
 * Redis made no progress for REDIS_HOLD_MS (it is down).
 */
function holdForRedis() {
  if (redisHold !== null) return
  let pending = hub.redisPending()
  if (pending === 0) return
  let progress = Date.now()
  redisHold = setInterval(() => {
    const now = hub.redisPending()
    if (now < pending) progress = Date.now()
    pending = now
    if (now === 0 || Date.now() - progress > REDIS_HOLD_MS) {
      clearInterval(redisHold)
      redisHold = null
    }
  }, 5)
}

/**
 * Shares broadcasts with every process using the same Redis under the same prefix:
 * pub/sub when history is off, a Redis Stream when it is on. Resolves once connected;
 * rejects (and stays local) when Redis cannot be reached.
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
  const linked = hub.useRedis(opts.url, prefix, (status, detail, dropped) => {
    sse.emit('redis', dropped == null ? { status, detail } : { status, detail, dropped })
  })
  redisInUse = true
  return linked.catch((err) => {
    redisInUse = hub.redisStats() !== null
    throw err
  })
}

/** Stops sharing broadcasts; resolves once the Redis connections are closed. */
function closeRedis() {
  redisInUse = false
  return hub.closeRedis()
}

Object.defineProperties(sse, {
  clients: {
    enumerable: true,
    get: () => clients,
    // simple-sse 0.0.3 let code (often a unit test) reset its array: `sse.clients = []`.
    // The array stays the same live view; clients not in the assigned array are removed.
    set(value) {
      warnOnce(
        'SIMPLE_SSE_RS_CLIENTS_ASSIGNED',
        `sse.clients was assigned ${show(value)}. simple-sse-rs keeps one live array: ` +
          (Array.isArray(value)
            ? 'the clients not in the assigned array are removed (as simple-sse 0.0.3 forgot them). '
            : 'a value that is not an array is ignored. ') +
          'Use sse.remove(client) or sse.close() instead. This warning is shown once.',
      )
      if (!Array.isArray(value)) return
      const keep = new Set(value)
      for (const conn of Array.from(conns.values())) {
        if (!keep.has(conn.client)) writer.release(conn)
      }
    },
  },
  heartbeat: {
    enumerable: true,
    get: () => heartbeatMs,
    set(value) {
      const ms = checkHeartbeat(value)
      if (ms === null) return
      heartbeatMs = ms
      stopHeartbeat()
      startHeartbeat()
    },
  },
  history: {
    enumerable: true,
    get: () => hub.history,
    set(size) {
      const n = typeof size === 'string' && /^\d+$/.test(size) ? Number(size) : size
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
        throw new RangeError(`history must be a whole number of broadcasts >= 0, got ${String(size)}`)
      }
      hub.history = n
    },
  },
  replayWindow: {
    enumerable: true,
    get: () => replays.windowMs,
    set(ms) {
      replays.windowMs = ms
    },
  },
  detach: {
    enumerable: true,
    get: () => detacher.byDefault,
    set(value) {
      detacher.byDefault = value
    },
  },
  maxPendingBytes: {
    enumerable: true,
    get: () => hub.maxPendingBytes,
    set(bytes) {
      hub.maxPendingBytes = checkMaxPendingBytes(bytes)
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
  flush,
  close,
  stats,
  useRedis,
  closeRedis,
  Client,
  binding: native.binding,
})

module.exports = sse
