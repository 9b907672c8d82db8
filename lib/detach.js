'use strict'
// Detached connections, the JS side: which clients can be handed to Rust (`add(req, res,
// { detach: true })`, `sse.detach`), the hand-over itself, and the small record that
// stands for a detached client in the registry's map once Node's socket, parser, request
// and response are released. Rust keeps its own duplicate of the descriptor, writes every
// frame, and notices the peer leaving (src/detached.rs).

const { DETACH } = require('./binding')
const { describe } = require('./checks')
const { PATH_DIRECT } = require('./connection')

/** Test-only switch, read once at load: `sse.detach` starts true (the suites rerun with it). */
const FORCE_DETACH = process.env.SIMPLE_SSE_RS_DETACH === '1'
/** Node still holds bytes for the socket (its headers): how many times to wait for them. */
const TRIES = 3
const EMPTY = Buffer.alloc(0)

/**
 * `hub`, `conns` (id -> connection), `busy()`: whether a batch is being written (a
 * hand-over then waits for the socket's next write callback, never splitting a batch),
 * and `release(conn)`: `sse.remove`'s (what waits is written, then the stream ends).
 */
function createDetach({ hub, conns, busy, release }) {
  let byDefault = FORCE_DETACH

  /**
   * A detached client in `conns`: the client alone (its `res` is null). Rust writes its
   * frames, so the writer never gets bytes for it; `finish` ends its stream.
   */
  class DetachedConnection {
    constructor(client) {
      this.client = client
    }

    live() {
      return conns.get(this.client.id) === this
    }

    /** Nothing to undo on the JS side: Rust closes the connection when the client is removed. */
    detach() {}

    /** Writes what is queued, then the terminating chunk (`sse.close()`, `sse.remove()`). */
    finish() {
      if (this.live()) hub.finish(this.client.id)
    }

    /** Never called with bytes (Rust writes a detached client); here for the writer's shape. */
    put() {}

    /**
     * The app's `res.write(chunk[, encoding][, callback])` on the response it added, after
     * the hand-over (lib/connection.js routes it here): Rust writes the bytes after what
     * is queued, in the client's stream. False, with the callback given an error, once
     * the client is gone; arguments Node refuses are refused the same way.
     */
    appWrite(args) {
      const [bytes, callback] = writeArgs(args, false)
      const ok = bytes === null ? this.live() : hub.writeRaw(this.client.id, bytes)
      if (callback !== undefined) process.nextTick(callback, ok ? null : ended())
      return ok
    }

    /**
     * The app's `res.end([chunk][, encoding][, callback])` after the hand-over: the chunk
     * goes after what is queued, then the stream ends as with `sse.remove(client)` (the
     * terminating chunk, then the connection closes; 'remove' with reason 'removed').
     */
    appEnd(args) {
      const [bytes, callback] = writeArgs(args, true)
      if (bytes !== null) hub.writeRaw(this.client.id, bytes)
      release(this)
      if (callback !== undefined) process.nextTick(callback)
    }
  }
  // Shared by every record (on the prototype, so a record is one field).
  Object.assign(DetachedConnection.prototype, { res: null, write: null, end: null, path: 'detached', detached: true })

  /** `add`'s options: whether to detach this client. Throws a TypeError naming the argument. */
  function wanted(options) {
    if (options === undefined || options === null) return byDefault
    if (typeof options !== 'object') {
      throw new TypeError(`options must be an object ({ detach }), got ${describe(options)}`)
    }
    const { detach } = options
    if (detach === undefined) return byDefault
    if (typeof detach !== 'boolean') throw new TypeError(`options.detach must be a boolean, got ${describe(detach)}`)
    return detach
  }

  /**
   * Hands `conn` (just added and routed) to Rust when it can be: a direct client (plain
   * HTTP/1.1 on plain TCP on Unix, its `write` Node's own, not framed) whose request has
   * no unread body. Otherwise it stays attached, as without the option. When Node still
   * holds the headers, the hand-over waits until Node has written them.
   */
  function detach(conn, req) {
    if (!DETACH || conn.path !== PATH_DIRECT || bodyUnread(req)) return
    attempt(conn, req, TRIES)
  }

  function attempt(conn, req, tries) {
    if (!conn.live()) return
    const res = conn.res
    const socket = res.socket
    if (socket == null || socket.destroyed || !socket.writable || socket._httpMessage !== res) return
    const handle = socket._handle
    if (handle == null || typeof handle.fd !== 'number' || handle.fd < 0) return
    if (socket.writableLength > 0 || res.writableLength > 0 || conn.appWriting || busy()) {
      // Node holds bytes for it (the headers): once written, try again.
      if (tries > 1) socket.write(EMPTY, () => attempt(conn, req, tries - 1))
      return
    }
    if (!hub.detach(conn.client.id, handle.fd)) return
    const client = conn.client
    conns.set(client.id, new DetachedConnection(client))
    // The old connection's listeners go ('close' now means Node let go, not the peer).
    conn.detach()
    client.res = null
    // Closes Node's number only: Rust's duplicate keeps the connection open. Node's
    // request and response emit 'close' then. Inside the request's handler, Node's parser
    // has not finished the request yet: once it has (not 'aborted').
    if (req.complete) socket.destroy()
    else process.nextTick(letGo, socket)
  }

  return {
    DetachedConnection,
    wanted,
    detach,
    get byDefault() {
      return byDefault
    },
    set byDefault(value) {
      if (typeof value !== 'boolean') throw new TypeError(`sse.detach must be a boolean, got ${describe(value)}`)
      byDefault = value
    },
  }
}

/**
 * `res.write`'s or `res.end`'s arguments as Node takes them: [bytes or null, callback].
 * A chunk that is not a string or bytes is a TypeError, as in Node (`end` takes none).
 */
function writeArgs(args, isEnd) {
  let [chunk, encoding, callback] = args
  if (typeof chunk === 'function') {
    callback = chunk
    chunk = undefined
    encoding = undefined
  } else if (typeof encoding === 'function') {
    callback = encoding
    encoding = undefined
  }
  if (typeof callback !== 'function') callback = undefined
  if (chunk === undefined || (isEnd && chunk === null)) return [null, callback]
  if (chunk === null) {
    const err = new TypeError('May not write null values to stream')
    err.code = 'ERR_STREAM_NULL_VALUES'
    throw err
  }
  let bytes
  if (typeof chunk === 'string') bytes = Buffer.from(chunk, encoding ?? 'utf8')
  else if (chunk instanceof Uint8Array) bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  else {
    const err = new TypeError(`The "chunk" argument must be of type string or an instance of Buffer or Uint8Array. Received ${describe(chunk)}`)
    err.code = 'ERR_INVALID_ARG_TYPE'
    throw err
  }
  return [bytes, callback]
}

/** What a write to a detached client that is gone gives its callback. */
function ended() {
  const err = new Error('Cannot call write after a stream was destroyed')
  err.code = 'ERR_STREAM_DESTROYED'
  return err
}

/** Node lets go of a detached connection: closes its own descriptor of it. */
function letGo(socket) {
  socket.destroy()
}

/**
 * Whether the request declares a body that was not read to its end yet: the connection
 * then stays with Node (which must read it). A GET has none.
 */
function bodyUnread(req) {
  const headers = req.headers
  if (headers == null) return true
  const length = headers['content-length']
  if (headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return false
  return !(req.complete === true && req.readableLength === 0)
}

module.exports = { createDetach }
