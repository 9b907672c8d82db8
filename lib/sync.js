'use strict'
// Socketless responses (stubs and mocks in unit tests): written synchronously, frame by
// frame, inside the call that queued the frame, as simple-sse 0.0.3 did, through their own
// `res.write` (spies stay as they are). Every other response goes through the writer.

/**
 * `hub`: the Rust hub. `isLive(conn)`: the registry's. `removeConn(conn)`: forgets a
 * connection. `writer`: lib/connection.js's (`queued()` schedules the next batch).
 */
function createSyncWrites({ hub, isLive, removeConn, writer }) {
  /** Socketless connections in add order. Removed connections leave lazily (see `each`). */
  const syncConns = new Set()

  /** Writes a socketless connection's queued frames now, as a string through its current res.write. */
  function write(conn) {
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
  function each(fn) {
    for (const conn of syncConns) {
      if (!isLive(conn)) syncConns.delete(conn)
      else fn(conn)
    }
  }

  return {
    /** A response without a socket was added. */
    add(conn) {
      syncConns.add(conn)
    },
    /** After queueing for one client: a socketless one is written now, the rest as usual. */
    queuedFor(conn) {
      if (syncConns.has(conn)) write(conn)
      else writer.queued()
    },
    /** After a broadcast to `room` was queued: its socketless members are written now. */
    broadcast(room) {
      if (syncConns.size === 0) return
      each((conn) => {
        if (room === '*' || hub.isIn(conn.client.id, room)) write(conn)
      })
    },
    /** After a heartbeat was queued: every socketless client is written now. */
    all() {
      if (syncConns.size !== 0) each(write)
    },
  }
}

module.exports = { createSyncWrites }
