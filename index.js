'use strict'
// simple-sse-rs: the simple-sse 0.0.3 API over a Rust core.
// This file is the API's table of contents: the exported `sse` object, its settings and
// methods, each delegating to the lib/ module that owns it (docs/how-it-works.md has the
// map). The Rust `Hub` keeps the registry, the rooms and every pending byte, and wakes us
// (through a threadsafe function) to write one batch per turn of the event loop.

const { EventEmitter } = require('node:events')

// The loader first: a missing build fails here, with its one clear error.
const native = require('./lib/binding')
const { checkMaxPendingBytes, checkHistory } = require('./lib/checks')
const { createWriter } = require('./lib/connection')
const { createReplays } = require('./lib/replay')
const { createFetch } = require('./lib/fetch')
const { createLifecycle } = require('./lib/lifecycle')
const { createClientClass } = require('./lib/client')
const { createRegistry } = require('./lib/registry')
const { createRooms } = require('./lib/rooms')
const { createHeartbeat } = require('./lib/heartbeat')
const { createSyncWrites } = require('./lib/sync')
const { createRedis } = require('./lib/redis')
const { createSending } = require('./lib/send')
const { createStreams } = require('./lib/streams')
const { createStats } = require('./lib/stats')
const { createDetach } = require('./lib/detach')

// ---- wiring: one instance of each part, for the one `sse` object -------------

const sse = new EventEmitter()

const hub = new native.Hub(() => {
  writer.onWake()
  replays.reportGaps()
})

/** Live clients: id -> connection, `sse.clients`, client arguments -> connections. */
const registry = createRegistry({
  hub,
  isClient: (value) => value instanceof Client,
  release: (conn) => writer.release(conn),
})
const { conns, resolve } = registry

/** join, leave, in, and `client.rooms`. */
const rooms = createRooms({ hub, conns, resolve })
const Client = createClientClass(rooms)

/** Forgets a connection however it ended (lib/streams.js). */
const removeConn = (conn, reason) => streams.removeConn(conn, reason)

/** Writes each batch: direct and framed paths, backpressure, failures, 'drop'. */
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
const detacher = createDetach({ hub, conns, busy: writer.busy, release: (conn) => writer.release(conn) })

const fetchApi = createFetch({ hub, removeConn, isLive: registry.isLive })
const replays = createReplays({
  hub,
  conns,
  emitGap(client, info) {
    sse.emit('gap', client, info)
  },
})

const heartbeat = createHeartbeat({
  beat: () => sending.sendHeartbeat(),
  hasClients: () => registry.size !== 0,
})
const sync = createSyncWrites({ hub, isLive: registry.isLive, removeConn, writer })
const redis = createRedis({
  hub,
  emit(info) {
    sse.emit('redis', info)
  },
})
const sending = createSending({
  hub,
  resolve,
  writer,
  sync,
  afterBroadcast: redis.afterBroadcast,
  tickFetch: () => fetchApi.tick(),
})
const streams = createStreams({
  hub,
  registry,
  Client,
  writer,
  fetchApi,
  replays,
  sync,
  heartbeat,
  lifecycle,
  detacher,
})

// ---- the API -------------------------------------------------------------

/**
 * `sse.add(req, res, [options])`, `sse.add(request)`: starts a client's event stream
 * (lib/streams.js); `{ detach: true }` hands the connection to Rust (lib/detach.js).
 */
function add(req, res, options) {
  return streams.add(req, res, options)
}

/** Removes a client; what was queued for it is written first (lib/registry.js). */
function remove(client) {
  return registry.remove(client)
}

/** The live client with that id, or null. */
function getClient(id) {
  return registry.get(id)
}

// Rooms (lib/rooms.js): a missing room or NaN is ignored with a warning, as 0.0.3 accepted it.

function join(client, room) {
  return rooms.join(client, room)
}

function leave(client, room) {
  rooms.leave(client, room)
}

function isIn(client, room) {
  return rooms.isIn(client, room)
}

// Sending (lib/send.js): queued in Rust, written at the end of the turn.

function send(client, event, data) {
  sending.send(client, event, data)
}

function broadcast(room, event, data) {
  sending.broadcast(room, event, data)
}

function setRetry(client, retry) {
  sending.setRetry(client, retry)
}

function sendHeartbeat() {
  sending.sendHeartbeat()
}

/** Writes everything pending now, instead of on the next turn (lib/connection.js). */
function flush() {
  writer.flushAll()
}

/** Ends every stream; 'remove' events follow, with reason 'shutdown' (lib/streams.js). */
function close() {
  streams.close()
}

/** Counters: clients, rooms, pending bytes, drops, history, Redis (lib/stats.js). */
const stats = createStats({ hub, binding: native.binding })

/** Shares broadcasts between processes through Redis (lib/redis.js). */
function useRedis(options) {
  return redis.use(options)
}

/** Stops sharing broadcasts; resolves once the Redis connections are closed. */
function closeRedis() {
  return redis.close()
}

// ---- settings --------------------------------------------------------------

Object.defineProperties(sse, {
  /** The live clients in add order; assigning an array removes the clients not in it. */
  clients: {
    enumerable: true,
    get: () => registry.clients,
    set: (value) => registry.assign(value),
  },
  /** Milliseconds between heartbeats (0: none) (lib/heartbeat.js). */
  heartbeat: {
    enumerable: true,
    get: () => heartbeat.ms,
    set(value) {
      heartbeat.ms = value
    },
  },
  /** How many broadcasts are kept for `Last-Event-ID` replays (0: no ids, no history). */
  history: {
    enumerable: true,
    get: () => hub.history,
    set(size) {
      hub.history = checkHistory(size)
    },
  },
  /** How long after `add` a reconnecting client's rooms are gathered (lib/replay.js). */
  replayWindow: {
    enumerable: true,
    get: () => replays.windowMs,
    set(ms) {
      replays.windowMs = ms
    },
  },
  /** Whether later `add`s detach their connection by default (lib/detach.js). */
  detach: {
    enumerable: true,
    get: () => detacher.byDefault,
    set(value) {
      detacher.byDefault = value
    },
  },
  /** How many bytes may wait for one slow client before it is dropped. */
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
