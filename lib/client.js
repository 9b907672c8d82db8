'use strict'
// The client objects the API hands out (`sse.Client`): `id`, `rooms`, `res`, and the
// `kind`/`detached` getters, and how `util.inspect` shows them. The rooms themselves live
// in Rust; `rooms` reads and replaces them through lib/rooms.js.

const { inspect } = require('node:util')

/** What `util.inspect` shows for a client: its own keys, with the rooms' values. */
const InspectedClient = class Client {}

/**
 * The `Client` class, its `rooms` accessor backed by `rooms` (lib/rooms.js): `of(client)`
 * reads a client's rooms, `replace(client, list)` is `client.rooms = list`.
 */
function createClientClass(rooms) {
  function getRooms() {
    return rooms.of(this)
  }

  function setRooms(list) {
    rooms.replace(this, list)
  }

  /**
   * `rooms` is an own enumerable accessor, as the original's own `rooms` array was an own
   * property (Object.keys, JSON.stringify and spreads see `id, rooms, res`). Defined with the
   * same getter and setter on every client, it lives in the hidden class the clients share,
   * not in each object: a client is a header and two fields (`id`, `res`).
   */
  const ROOMS = Object.freeze({ get: getRooms, set: setRooms, enumerable: true })

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

  return Client
}

module.exports = { createClientClass }
