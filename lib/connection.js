'use strict'
// The writer: takes the batches Rust prepares and writes each client's part to its
// response (or straight to its socket), with backpressure, re-entrancy and drops.

const { ServerResponse } = require('node:http')

/** In a batch index: the client's part has no shared body. */
const NO_BODY = 0xffffffff
const CRLF = Buffer.from('\r\n')

/**
 * The writer for one hub. `conns` maps ids to connection records (see index.js `add`);
 * `removeConn(conn)` forgets a connection; `onDrop(conn)` reports a dropped client.
 */
function createWriter({ hub, conns, removeConn, onDrop }) {
  /** The batch being written, if any: { data, index, bodies, i, start }. */
  let inflight = null

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

  /** Writes one batch of everything pending, now. */
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
    onDrop(conn)
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

  /** Wraps the response's write and end so that what is queued goes first. */
  function wrap(conn) {
    const res = conn.res
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
  }

  /** Once the headers went out: route the client's batches straight to its socket when possible. */
  function route(conn) {
    if (writesDirect(conn.res, conn)) {
      conn.direct = true
      hub.setFramed(conn.client.id, true)
    }
  }

  return { onWake, flushAll, flushNow, wrap, route }
}

module.exports = { createWriter }
