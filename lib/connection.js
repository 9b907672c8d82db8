'use strict'
// One client's connection and the writer: how each client's bytes reach its socket.
//
// Rust keeps every pending byte and, for a *direct* client (a plain HTTP/1.1 response
// on a plain TCP socket, on Unix), writes its turns to the socket itself, one system
// call per client per turn (src/delivery.rs, src/direct.rs). This file writes the
// rest of each batch (`hub.drain()`): other clients' frames through `res.write`, and
// the bytes a direct client's socket refused through `socket.write`. It also keeps
// the order with the app's own writes, handles backpressure, and isolates failures:
// a response that throws is dropped alone, and 'drop' listeners run only once every
// client of the batch is written and every dropped one is fully removed.
//
// Endings: however a response or its socket ends (our `res.end` wrapper, the prototype's
// `end`, `res.socket.end()`, `destroy()`…), this file notices it synchronously, writes
// what was queued ahead of the terminator or FIN where the socket can still take it,
// and writes nothing after: a response that ends removes its client at once; a socket
// that ends or is destroyed gets no more writes, and its client goes on 'close' as
// before. Timeouts: a direct client's socket timeout asks Rust when it last wrote.

const { ServerResponse, OutgoingMessage } = require('node:http')
const { Socket } = require('node:net')
const { NO_BODY, DIRECT, STEP } = require('./binding')

const EMPTY = Buffer.alloc(0)
/** How a client's turns reach its socket: through `res.write`; as Rust's HTTP/1.1 chunks
 * that JS writes to the socket (*framed*); or written by Rust itself (*direct*). */
const PATH_RES = 0
const PATH_FRAMED = 1
const PATH_DIRECT = 2
/** `Connection#bits`: the path (two bits), then two flags. */
const PATH_BITS = 3
const BACKLOGGED = 4
const APP_WRITING = 8
/** The write and end of most responses (Node's own), shared by their connections. */
const NODE_OWN = Object.freeze({ write: ServerResponse.prototype.write, end: ServerResponse.prototype.end })
/** On a response: its Connection (shared listeners and wrappers find it there). */
const kConn = Symbol('simple-sse-rs connection')
/** Test-only switch, read once at load: frame plain-TCP responses as on TLS, Windows and
 * WASI instead of writing them directly, so the suites can run both paths on one machine. */
const FORCE_FRAMED = process.env.SIMPLE_SSE_RS_FORCE_FRAMED === '1'
/** On a direct socket whose timeout we armed again: when (Node's timer clock), and since
 * when Node itself has seen nothing (see `onSocketTimeout`). */
const kRearmed = Symbol('simple-sse-rs timer rearmed')
const kQuietSince = Symbol('simple-sse-rs quiet since')
/** Node's own symbol for a socket's timer, found on first use (null: not found). */
let kNodeTimeout

/**
 * The writer for one hub. `conns` maps ids to connections; `removeConn(conn, reason)` forgets
 * one (registry, list, listeners); `onDrop(conn, info)` reports a dropped client;
 * `onBatchDone()` runs once the outermost batch is written and settled.
 */
function createWriter({ hub, conns, removeConn, onDrop, onBatchDone }) {
  /** The batch being written, if any: { data, index, bodies, i, start }. */
  let inflight = null
  /** Nesting of flushes (a write can run app code that flushes again). */
  let depth = 0
  /** Clients to drop once the outermost flush has written everything: [conn, info]. */
  let failed = []
  /** Clients written through `res.write` (only they need `hub.takeUrgent()`). */
  let viaJs = 0
  /** Inside `onWake`, which has no caller to throw to. */
  let wakeDepth = 0

  // A connection is kept small (six fields, 72 bytes): one lives as long as its client.
  class Connection {
    constructor(client, res) {
      this.client = client
      this.res = res
      let write = typeof res.write === 'function' ? res.write : null
      let end = typeof res.end === 'function' ? res.end : null
      const prev = res[kConn]
      if (prev !== undefined) {
        // Added again after its client was removed (a stub in a unit test): its own
        // write/end, not our wrappers. (While that client is registered, add refuses.)
        if (write === wrappedWrite) write = prev.write
        if (end === wrappedEnd) end = prev.end
      }
      /** The response's own write and end, which ours wrap (see `write`, `end`). */
      this.own = write === NODE_OWN.write && end === NODE_OWN.end ? NODE_OWN : { write, end }
      /** `path`, `backlogged` and `appWriting` (see their accessors), in one number. */
      this.bits = PATH_RES
      /** The emitter whose 'drain' we wait for (the JS path), or null. */
      this.waiting = null
      /** Direct and framed paths: called when Node has written what it held (made on first use). */
      this.flushed = null
      viaJs++
    }

    /** The response's own write (null when absent), which ours wraps. */
    get write() {
      return this.own.write
    }

    /** The response's own end (null when absent), which ours wraps. */
    get end() {
      return this.own.end
    }

    /** How this client's turns reach its socket (see `route`). */
    get path() {
      return this.bits & PATH_BITS
    }

    set path(path) {
      this.bits = (this.bits & ~PATH_BITS) | path
    }

    /** Its socket refused bytes and Rust may judge it (see src/limits.rs): report each
     * time Node has written what it was handed (`hub.resume`), until Rust says it caught up. */
    get backlogged() {
      return (this.bits & BACKLOGGED) !== 0
    }

    set backlogged(on) {
      this.bits = on ? this.bits | BACKLOGGED : this.bits & ~BACKLOGGED
    }

    /** Inside the app's own write through our wrappers (see `aroundAppWrite`). */
    get appWriting() {
      return (this.bits & APP_WRITING) !== 0
    }

    set appWriting(on) {
      this.bits = on ? this.bits | APP_WRITING : this.bits & ~APP_WRITING
    }

    /**
     * Registers the close listener and (unless `wrap` is false: a socketless stub, written
     * synchronously, keeps its own write/end) wraps write/end so that what is queued goes first.
     */
    attach(req, wrap = true) {
      const res = this.res
      res[kConn] = this
      // 'close', and 'prefinish', which is emitted inside the response's end however it
      // was called (the prototype's, a framework's saved copy): the client goes before
      // anything more. A node:http response gets a wrapper on its `emit` (see
      // `emitClosing`): one field, where two listeners cost some 70 bytes per client (a
      // second 'close' listener turns the response's listeners into an array).
      if (res instanceof ServerResponse && (res.emit === emitClosing || !Object.hasOwn(res, 'emit'))) {
        res.emit = emitClosing
      } else if (typeof res.on === 'function') {
        // `on`, not `once` (which allocates a wrapper per client); removed in `detach`.
        res.on('close', onClose)
        res.on('prefinish', onClose)
      } else if (req.connection && typeof req.connection.addListener === 'function') {
        const conn = this
        req.connection.addListener('close', () => removeConn(conn))
      }
      if (!wrap) return
      if (this.write !== null) res.write = wrappedWrite
      if (this.end !== null) res.end = wrappedEnd
      // HTTP/2: the stream's end, which the prototype's `res.end` calls too.
      const stream = res.stream
      if (stream != null && typeof stream.end === 'function' && !Object.hasOwn(stream, 'end')) {
        stream[kConn] = this
        stream.end = endStream
      }
    }

    /**
     * Once the headers went out: hand a plain HTTP/1.1 response on a plain TCP socket to
     * Rust, which then writes its turns directly to Node's own descriptor of it. When it
     * cannot (TLS, a handle whose close someone else wraps, or no direct writes on this
     * platform), such a response is *framed*: Rust frames its turns as HTTP/1.1 chunks
     * and JS writes each turn to the socket in one write (up to 256 KiB at a time: see
     * `put`), skipping `res.write`.
     */
    route() {
      const res = this.res
      const socket = res.socket
      // An HTTP/1.1 socket: its end, which no response event reports, writes what is
      // queued ahead of the FIN, and nothing after.
      if (socket != null && socket._httpMessage === res && !Object.hasOwn(socket, 'end')) socket.end = endSocket
      if (
        this.write !== ServerResponse.prototype.write ||
        typeof res.flush === 'function' ||
        res.chunkedEncoding !== true ||
        res.headersSent !== true ||
        res.writableEnded ||
        socket == null ||
        socket._httpMessage !== res ||
        socket.destroyed
      ) {
        return
      }
      // Whatever writes to the response or ends it, what is queued goes first.
      if (!Object.hasOwn(res, '_send') && typeof res._send === 'function') res._send = sendAfterQueued
      const handle = socket._handle
      const fd = handle != null ? handle.fd : undefined
      if (DIRECT && !FORCE_FRAMED && !socket.encrypted && typeof fd === 'number' && fd >= 0 && guardClose(handle)) {
        // Node may still hold the headers: Rust then starts paused until Node wrote them.
        const held = socket.writableLength
        if (hub.setDirect(this.client.id, fd, held)) {
          this.path = PATH_DIRECT
          viaJs--
          if (held > 0) this.holdForNode()
          // Node's socket timeout does not see Rust's writes: it asks Rust when it fires.
          if (!Object.hasOwn(socket, '_onTimeout') && typeof socket._onTimeout === 'function') {
            socket._onTimeout = onSocketTimeout
          }
          return
        }
      }
      hub.setFramed(this.client.id)
      this.path = PATH_FRAMED
    }

    /** Forgets listeners (the client is already out of the registry). */
    detach() {
      const res = this.res
      // The emit wrapper stays: with the connection gone, it only passes events on.
      if (res.emit !== emitClosing && typeof res.removeListener === 'function') {
        res.removeListener('close', onClose)
        res.removeListener('prefinish', onClose)
      }
      if (this.waiting !== null) {
        this.waiting.removeListener('drain', onDrain)
        this.waiting = null
      }
      if (this.path !== PATH_DIRECT) viaJs--
      this.path = PATH_RES
    }

    /** Whether this connection is still the registered one for its id. */
    live() {
      return conns.get(this.client.id) === this
    }

    /**
     * Direct path: Node holds bytes for the socket (the app's own write, or what the
     * socket refused), so Rust must not write until Node has written them all.
     */
    holdForNode() {
      const socket = this.res.socket
      if (socket == null || socket.destroyed) return // its 'close' removes the client
      // What Node holds now was refused; judged from the end of this turn on.
      hub.pause(this.client.id, socket.writableLength, true)
      if (this.flushed === null) this.flushed = (err) => afterNodeWrote(this, err)
      socket.write(EMPTY, this.flushed)
    }

    /** Writes a client's part of a batch: `pieces` (Buffers) in order. Throws what `res.write` throws. */
    put(pieces, turn) {
      const res = this.res
      if (this.path !== PATH_RES) {
        const socket = res.socket
        if (socket == null || socket.destroyed || !socket.writable) {
          removeConn(this)
          return
        }
        // Ready-made HTTP/1.1 chunks, at most a step of them: direct, the rest of a write
        // the socket refused; framed, the client's bytes. Node writes them after anything
        // it holds, shared bodies by reference, corked (one system call for all the
        // pieces). When Rust paused the client (direct; framed with more waiting than a
        // step), it resumes it once Node holds nothing: the socket took them (progress).
        if (this.flushed === null) this.flushed = (err) => afterNodeWrote(this, err)
        let paused = this.path === PATH_DIRECT || this.backlogged
        if (!paused) {
          let bytes = 0
          for (let i = 0; i < pieces.length; i++) bytes += pieces[i].length
          paused = bytes >= STEP
        }
        const last = pieces.length - 1
        if (last > 0) socket.cork()
        for (let i = 0; i < last; i++) socket.write(pieces[i])
        const ok = socket.write(pieces[last], paused ? this.flushed : undefined)
        if (last > 0) socket.uncork()
        // Framed: Node is the first to see the socket refuse (direct: Rust saw it).
        if (this.path === PATH_FRAMED && !ok) {
          hub.pause(this.client.id, socket.writableLength, !turn)
          this.backlogged = true
          if (!paused) socket.write(EMPTY, this.flushed)
        }
        return
      }
      if (this.write === null) return
      if (res.writableEnded || res.destroyed || (res.socket != null && res.socket.writable === false)) {
        removeConn(this)
        return
      }
      const ok = this.write.call(res, pieces.length === 1 ? pieces[0] : Buffer.concat(pieces))
      // Compression middleware sets res.flush; the original looked for it on every write.
      if (typeof res.flush === 'function') res.flush()
      // Taken without a refusal: a backlogged client has caught up that far.
      if (ok !== false && this.backlogged && this.live()) this.backlogged = hub.resume(this.client.id)
      this.refused(res, ok, turn)
    }

    /**
     * After a `res.write`: a refusing response pauses the client until its 'drain' (what
     * the rest of the turn queues waits in Rust, not judged before the turn ends).
     */
    refused(target, ok, turn) {
      if (ok === false && this.waiting === null && typeof target.once === 'function' && this.live()) {
        const held = typeof target.writableLength === 'number' ? target.writableLength : 0
        hub.pause(this.client.id, held > 0 ? held : 1, !turn)
        this.backlogged = true
        this.waiting = target
        target.once('drain', onDrain)
      }
    }
  }

  /**
   * Rust writes to Node's own descriptor of a direct client's socket, so it must let go
   * of the number before Node closes it (after which the kernel may hand the number to
   * the next connection). Node closes a connected socket only through its handle's
   * `close` or `reset` (net.Socket's destroy and resetAndDestroy), on this thread: both
   * are wrapped on the handle to tell Rust first (`hub.forgetFd`). False when someone
   * else already wrapped them there (the client is then framed, not direct).
   */
  function guardClose(handle) {
    if (handle.close === closeHandle) return true
    if (Object.hasOwn(handle, 'close') || Object.hasOwn(handle, 'reset')) return false
    if (typeof handle.close !== 'function' || typeof handle.reset !== 'function') return false
    handle.close = closeHandle
    handle.reset = resetHandle
    return true
  }

  function closeHandle() {
    hub.forgetFd(this.fd)
    return Object.getPrototypeOf(this).close.apply(this, arguments)
  }

  function resetHandle() {
    hub.forgetFd(this.fd)
    return Object.getPrototypeOf(this).reset.apply(this, arguments)
  }

  /**
   * `res.emit` of a node:http response while added: its connection is removed when it
   * emits 'close' or 'prefinish', before the listeners run; every event then goes on to
   * the emit it replaced (the prototype's: it is set only where there is no own `emit`).
   */
  function emitClosing(name) {
    if (name === 'close' || name === 'prefinish') {
      const conn = this[kConn]
      if (conn !== undefined) removeConn(conn)
    }
    return Object.getPrototypeOf(this).emit.apply(this, arguments)
  }

  /** 'close' or 'prefinish' of a response (`this`): removes its connection. */
  function onClose() {
    const conn = this[kConn]
    if (conn !== undefined) removeConn(conn)
  }

  /** The live connection whose response a socket (`this`) is carrying, if any. */
  function connOfSocket(socket) {
    const res = socket._httpMessage
    const conn = res != null ? res[kConn] : undefined
    return conn !== undefined && conn.live() && conn.res.socket === socket ? conn : undefined
  }

  /**
   * `res._send` of a direct or framed response: every byte Node writes for the response
   * (the prototype's `write` and `end`, called by whatever code, including the end's
   * terminator) goes through it, so what is queued is written first.
   */
  function sendAfterQueued() {
    const conn = this[kConn]
    if (conn === undefined || !conn.live()) return OutgoingMessage.prototype._send.apply(this, arguments)
    return aroundAppWrite(conn, OutgoingMessage.prototype._send, this, arguments)
  }

  /**
   * `socket.end` of an HTTP/1.1 response's socket (`res.socket.end()`, or Node's own when
   * the peer ends its side; no response event reports it): what is queued goes out
   * before the FIN, and Rust lets go of the socket, so nothing follows. The client stays
   * registered until its response's 'close' (as on any disconnect); what it is sent
   * meanwhile is discarded, since the socket is no longer writable.
   */
  function endSocket() {
    const conn = connOfSocket(this)
    if (conn !== undefined) {
      const corked = conn.res.writableCorked
      flushNow(conn)
      uncorkOwn(conn.res, corked)
      if (conn.path === PATH_DIRECT && this._handle != null) hub.forgetFd(this._handle.fd)
    }
    return Object.getPrototypeOf(this).end.apply(this, arguments)
  }

  /** HTTP/2: the stream's `end` (the response's end, however called): queued frames first. */
  function endStream() {
    const conn = this[kConn]
    if (conn !== undefined && conn.live()) {
      const pending = hub.take(conn.client.id)
      if (pending !== null && this.writable) this.write(pending)
      removeConn(conn)
    }
    return Object.getPrototypeOf(this).end.apply(this, arguments)
  }

  /**
   * A direct client's socket timed out by Node's clock, which does not see Rust's
   * writes. When Rust wrote within the timeout, the connection is not idle: Node's timer
   * is armed again for what is left of the timeout after Rust's last write (so it fires
   * a timeout after the last event, as with `res.write`). Otherwise Node's own handler
   * runs (it emits 'timeout').
   */
  function onSocketTimeout() {
    const conn = connOfSocket(this)
    const timeout = this.timeout
    if (conn !== undefined && conn.path === PATH_DIRECT && timeout > 0) {
      const timer = nodeTimer(this)
      // The time Node's own clock has been quiet (no read or write of its own): the
      // period that just ended, plus those before it that only we started again.
      let nodeIdle = timeout
      if (timer !== null) {
        const period = timer._idleTimeout
        const quietSince = timer._idleStart === this[kRearmed] ? this[kQuietSince] : timer._idleStart
        nodeIdle = timer._idleStart + period - quietSince
        timer._idleTimeout = timeout
        this[kQuietSince] = quietSince
      }
      const rustIdle = hub.idleMs(conn.client.id)
      const idle = rustIdle == null ? nodeIdle : Math.min(rustIdle, nodeIdle)
      if (idle < timeout) {
        if (timer === null) {
          this._unrefTimer() // fires again within two timeouts of the last event
          return
        }
        timer._idleTimeout = timeout - idle
        timer.refresh()
        this[kRearmed] = timer._idleStart
        return
      }
    }
    return Socket.prototype._onTimeout.call(this)
  }

  /**
   * Node's timer of a socket (the internal `timeout` symbol), when it has the fields
   * `onSocketTimeout` uses; else null (it then restarts the whole timeout instead).
   */
  function nodeTimer(socket) {
    if (kNodeTimeout === undefined) {
      kNodeTimeout = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'timeout') ?? null
    }
    const timer = kNodeTimeout === null ? undefined : socket[kNodeTimeout]
    if (timer == null || typeof timer.refresh !== 'function') return null
    if (typeof timer._idleTimeout !== 'number' || typeof timer._idleStart !== 'number') return null
    return timer
  }

  /** 'drain' of a response (`this`) on the JS path. */
  function onDrain() {
    const conn = this[kConn]
    if (conn === undefined) return
    conn.waiting = null
    if (conn.live()) conn.backlogged = hub.resume(conn.client.id)
  }

  /** Direct and framed paths: Node wrote what it held when `holdForNode`/`put` ran. */
  function afterNodeWrote(conn, err) {
    if (err || !conn.live() || conn.path === PATH_RES) return
    const socket = conn.res.socket
    if (socket == null || socket.destroyed) return
    // More was queued in Node meanwhile (the app wrote): wait for that too.
    if (socket.writableLength > 0) socket.write(EMPTY, conn.flushed)
    else conn.backlogged = hub.resume(conn.client.id)
  }

  /**
   * Node corks a response for the rest of the tick on a write (Node >= 22 holds the bytes
   * in the response itself): lets a write just made reach the socket now, ahead of what
   * comes after it. Only the cork that write made (`corked`: before it); one the app
   * made itself stays.
   */
  function uncorkOwn(res, corked) {
    if (corked === 0 && res.writableCorked === 1 && typeof res.uncork === 'function') res.uncork()
  }

  /** The app's res.write: what is queued goes first. */
  function wrappedWrite() {
    const conn = this != null ? this[kConn] : undefined
    if (conn === undefined) return ServerResponse.prototype.write.apply(this, arguments)
    const detached = handedOver(conn)
    if (detached !== undefined) return detached.appWrite(arguments)
    return aroundAppWrite(conn, conn.write, this, arguments)
  }

  /**
   * The detached connection (lib/detach.js) that `conn`'s client was handed over to, while
   * it is live: the app's own `res.write`/`res.end` on the response it added then go to
   * Rust, which writes the client from then on (Node's socket is released).
   */
  function handedOver(conn) {
    const live = registeredFor(conn)
    return live !== conn && live !== undefined && live.detached === true ? live : undefined
  }

  /** The connection registered now for `conn`'s client (itself, or what it was handed to). */
  function registeredFor(conn) {
    const live = conns.get(conn.client.id)
    return live !== undefined && live.client === conn.client ? live : undefined
  }

  /** Calls `fn` (a write of the app's own) on `res` after what is queued for `conn`. */
  function aroundAppWrite(conn, fn, res, args) {
    if (conn.appWriting) return fn.apply(res, args)
    conn.appWriting = true
    try {
      // Direct: Rust stops before Node holds anything, and waits until Node wrote it all.
      if (conn.path === PATH_DIRECT && conn.live()) hub.pause(conn.client.id, 0)
      flushNow(conn)
      const corked = res.writableCorked
      const ok = fn.apply(res, args)
      uncorkOwn(res, corked)
      if (conn.path === PATH_DIRECT && conn.live()) conn.holdForNode()
      return ok
    } finally {
      conn.appWriting = false
    }
  }

  /** The app's res.end: what is queued goes first, and the client is removed before the
   * socket can carry another response (keep-alive). */
  function wrappedEnd() {
    const conn = this != null ? this[kConn] : undefined
    if (conn === undefined) return ServerResponse.prototype.end.apply(this, arguments)
    const detached = handedOver(conn)
    if (detached !== undefined) {
      detached.appEnd(arguments)
      return this
    }
    flushNow(conn)
    removeConn(conn)
    return conn.end.apply(this, arguments)
  }

  /** Runs on the JS thread, a turn after frames became pending. Never throws. */
  function onWake() {
    try {
      wakeDepth++
      flush(true)
    } finally {
      wakeDepth--
    }
  }

  /**
   * Writes everything pending, now, and waits for the writer threads: when it returns,
   * every direct client's pending bytes are in its socket or (the socket refused) in
   * Node's buffer, like every other client's. Each wait ends with JS's part of what the
   * writers found (a refused rest, a broken connection); that part converges (refused
   * clients pause, broken ones leave), the bound only guards against a bug.
   */
  function flushAll() {
    flush(true)
    for (let i = 0; i < 16 && hub.waitWriters(); i++) flush(true)
  }

  /** After queueing: a client written through JS piled up past 64 KiB this turn. */
  function queued() {
    if (viaJs > 0 && hub.takeUrgent()) flush(false)
  }

  /**
   * Writes one batch. `turn` is false mid-turn (a loop piling up), where a refusing
   * socket does not pause the client yet. Throws only a 'drop' listener's exception,
   * after every client was written and every dropped one removed.
   */
  function flush(turn) {
    depth++
    try {
      if (inflight !== null) writeInflight(turn)
      const batch = hub.drain(!turn)
      if (batch !== null) {
        for (const id of batch.gone) fail(conns.get(id), null)
        const { dropped } = batch
        for (let i = 0; i < dropped.length; i++) {
          fail(conns.get(dropped[i]), { reason: 'slow', maxPendingBytes: hub.maxPendingBytes })
        }
        inflight = { data: batch.data, index: batch.index, bodies: batch.bodies, i: 0, start: 0 }
        writeInflight(turn)
        inflight = null
      }
    } finally {
      depth--
    }
    if (depth === 0) {
      try {
        if (failed.length > 0) settle()
      } finally {
        onBatchDone()
      }
    }
  }

  /**
   * Writes the rest of the batch in flight. Re-entrant: a write can run app code
   * (a stream wrapper, a listener) that writes, ends or closes; that first finishes
   * the batch from the shared cursor, so no frame is lost or overtaken.
   */
  function writeInflight(turn) {
    const batch = inflight
    const index = batch.index
    while (batch.i < index.length) {
      const id = index[batch.i]
      const pieces = []
      // A client's entries come in a row: (id, end in data, body, from in body).
      while (batch.i < index.length && index[batch.i] === id) {
        const end = index[batch.i + 1]
        const body = index[batch.i + 2]
        const from = index[batch.i + 3]
        if (end > batch.start) pieces.push(batch.data.subarray(batch.start, end))
        if (body !== NO_BODY) pieces.push(from === 0 ? batch.bodies[body] : batch.bodies[body].subarray(from))
        batch.start = end
        batch.i += 4
      }
      const conn = conns.get(id)
      if (conn === undefined || pieces.length === 0) continue
      try {
        conn.put(pieces, turn)
      } catch (error) {
        fail(conn, { reason: 'error', error })
      }
    }
  }

  /** Marks a client to drop (info null: its connection broke, removed as on 'close'). */
  function fail(conn, info) {
    if (conn === undefined) return
    if (!conn.live() || failed.some((f) => f[0] === conn)) return
    failed.push([conn, info])
    // Out of the registry at once: nothing more is queued for it.
    removeConn(conn, info === null ? 'closed' : 'dropped')
  }

  /** Destroys every failed client's response, then tells the app (listeners last). */
  function settle() {
    const list = failed
    failed = []
    for (const [conn] of list) {
      try {
        if (conn.res !== null && typeof conn.res.destroy === 'function') conn.res.destroy()
      } catch {
        // A response that cannot even be destroyed is already out of the registry.
      }
    }
    const thrown = []
    for (const [conn, info] of list) {
      if (info === null) continue
      try {
        onDrop(conn, info)
      } catch (err) {
        thrown.push(err)
      }
    }
    // The first listener exception goes to the caller (from the wake-up, which has
    // none, it is uncaught); any others follow, in order, as uncaught exceptions.
    const first = wakeDepth > 0 || depth > 0 ? 0 : 1
    for (let i = first; i < thrown.length; i++) {
      process.nextTick(() => {
        throw thrown[i]
      })
    }
    if (first === 1 && thrown.length > 0) throw thrown[0]
  }

  /**
   * Writes a client's queued frames now, before the app's own write or end, where the
   * response or socket can still take them (else they are discarded with the client).
   */
  function flushNow(conn) {
    if (inflight !== null) writeInflight(true)
    // No longer the client's connection (handed over to Rust, whose response the app still
    // writes or ends): what is queued under its id is the detached client's, not its own.
    if (!conn.live()) return
    // A detached client (lib/detach.js): Rust writes what waits and ends the stream.
    if (conn.detached === true) return conn.finish()
    const pending = hub.take(conn.client.id)
    if (pending === null) return
    const res = conn.res
    if (conn.path === PATH_DIRECT) {
      // Ready-made chunks; Node now holds bytes for the socket, so Rust waits for it.
      const socket = res.socket
      if (socket == null || !socket.writable) return
      socket.write(pending)
      if (conn.live()) conn.holdForNode()
    } else if (conn.path === PATH_FRAMED) {
      // Ready-made chunks, before whatever the app writes through res.write next.
      const socket = res.socket
      if (socket != null && socket.writable) socket.write(pending)
    } else if (conn.write !== null && res.writableEnded !== true && res.destroyed !== true) {
      conn.write.call(res, pending)
    }
  }

  /**
   * `sse.remove`: writes what was queued for the client (as 0.0.3 had written each frame
   * at once), then forgets it (a 'remove' with reason 'removed'). A response that throws
   * is dropped as in a batch ('drop', then 'remove' with reason 'dropped').
   */
  function release(conn) {
    if (!conn.live()) return false
    try {
      flushNow(conn)
      if (conn.path === PATH_RES && typeof conn.res.flush === 'function') conn.res.flush()
    } catch (error) {
      depth++
      try {
        fail(conn, { reason: 'error', error })
      } finally {
        depth--
      }
      if (depth === 0) {
        try {
          settle()
        } finally {
          onBatchDone()
        }
      }
      return true
    }
    return removeConn(conn, 'removed')
  }

  /** Whether a batch is being written (removals then wait for `onBatchDone`). */
  function busy() {
    return depth > 0
  }

  /** The registered connection of a response, if any (once handed over to Rust, its client's). */
  function addedWith(res) {
    const conn = res[kConn]
    return conn === undefined ? undefined : registeredFor(conn)
  }

  return { Connection, onWake, flushAll, flushNow, release, queued, busy, addedWith }
}

module.exports = { createWriter, PATH_DIRECT }
