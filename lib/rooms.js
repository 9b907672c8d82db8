'use strict'
// Room arguments: `join`, `leave`, `in` and `client.rooms` (read and assigned): which rooms
// are checked, which are ignored with a warning, and the calls into Rust, which keeps the
// rooms (src/registry.rs).
//
// A null or undefined room (a missing parameter) and NaN are ignored with a warning
// (lib/checks.js isIgnoredRoom): simple-sse 0.0.3 accepted them, and a throw after the
// headers went out would kill the stream.

const { describe, isMissing, isIgnoredRoom, warnIgnoredRoom, checkRoom } = require('./checks')

/** `resolve(client)`: the registry's (a client argument -> its connection, or null). */
function createRooms({ hub, conns, resolve }) {
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

  /** `client.rooms`: a live client's rooms, [] for a removed one. */
  function of(client) {
    const conn = conns.get(client.id)
    return conn !== undefined && conn.client === client ? hub.rooms(client.id) : []
  }

  /** `client.rooms = rooms`: leaves every room, then joins these. */
  function replace(client, rooms) {
    if (!Array.isArray(rooms)) throw new TypeError(`rooms must be an array, got ${describe(rooms)}`)
    for (const room of rooms) {
      if (isIgnoredRoom(room)) warnIgnoredRoom('client.rooms = [...]', room)
      else checkRoom(room)
    }
    if (resolve(client) === null) return
    hub.leave(client.id)
    for (const room of rooms) if (!isIgnoredRoom(room)) hub.join(client.id, room)
  }

  return { join, leave, isIn, of, replace }
}

module.exports = { createRooms }
