'use strict'
// Queueing frames: `send`, `broadcast`, `setRetry` and `sendHeartbeat` check and encode
// their arguments (lib/checks.js), hand the frame to Rust, which queues it for each
// receiver, and have it written: by the writer at the end of the turn (lib/connection.js),
// at once for socketless responses (lib/sync.js).

const { isIgnoredRoom, warnIgnoredRoom, checkRoom, message, checkRetry } = require('./checks')

/**
 * `resolve(client)`: the registry's. `sync`: lib/sync.js's. `afterBroadcast()`: Redis
 * may hold the process for what it has not published yet. `tickFetch()`: lib/fetch.js's
 * heartbeat bookkeeping.
 */
function createSending({ hub, resolve, writer, sync, afterBroadcast, tickFetch }) {
  function send(client, event, data) {
    const conn = resolve(client)
    const msg = message(event, data)
    if (msg === null || conn === null) return
    hub.send(conn.client.id, msg[0], msg[1])
    sync.queuedFor(conn)
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
    afterBroadcast()
    sync.broadcast(room)
  }

  function setRetry(client, retry) {
    const conn = resolve(client)
    const ms = checkRetry(retry)
    if (ms === null || conn === null) return
    hub.retry(conn.client.id, ms)
    sync.queuedFor(conn)
  }

  function sendHeartbeat() {
    tickFetch()
    hub.heartbeat()
    writer.queued()
    sync.all()
  }

  return { send, broadcast, setRetry, sendHeartbeat }
}

module.exports = { createSending }
