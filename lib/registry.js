'use strict'
// Which clients are live, as the API sees them: id -> connection, the `sse.clients` array
// (lib/clients.js), resolving a client argument (a client or its numeric id) to its
// connection, and `sse.remove`/`sse.clients = [...]`, which accept what simple-sse 0.0.3 did.
// Rust keeps the same registry for delivery (src/registry.rs); this one keeps the JS objects.

const { describe, show, warnOnce } = require('./checks')
const { createClientList, searchById } = require('./clients')

/** A slot's id: a connection's client's, or the id a removed one left. */
const idOfSlot = (slot) => (typeof slot === 'number' ? slot : slot.client.id)

/**
 * id -> connection, for ids that only grow (Rust gives them out in add order): a sorted
 * array searched by binary search, some 8 bytes a client where a Map costs about 50.
 * A removed connection's slot keeps its id (a number, for the search) until such slots
 * are half the array; then one pass squeezes them out, O(1) amortized per removal.
 * `get`, `set`, `delete`, `size` and `values()` as a Map's.
 */
class ById {
  constructor() {
    /** Connections in ascending id order, with removed ids (numbers) among them. */
    this.slots = []
    this.holes = 0
  }

  get size() {
    return this.slots.length - this.holes
  }

  /** Where `id` sits, or -1 - where it would go. */
  find(id) {
    return searchById(this.slots, id, idOfSlot)
  }

  get(id) {
    if (typeof id !== 'number') return undefined
    const at = this.find(id)
    const conn = at < 0 ? undefined : this.slots[at]
    return typeof conn === 'number' ? undefined : conn
  }

  set(id, conn) {
    const slots = this.slots
    const last = slots.length - 1
    if (last < 0 || idOfSlot(slots[last]) < id) {
      slots.push(conn)
      return this
    }
    const at = this.find(id)
    if (at < 0) slots.splice(-1 - at, 0, conn)
    else {
      if (typeof slots[at] === 'number') this.holes--
      slots[at] = conn
    }
    return this
  }

  delete(id) {
    const at = typeof id === 'number' ? this.find(id) : -1
    const slots = this.slots
    if (at < 0 || typeof slots[at] === 'number') return false
    if (at === slots.length - 1) slots.pop()
    else {
      slots[at] = id
      if (++this.holes * 2 > slots.length) {
        let w = 0
        for (let r = 0; r < slots.length; r++) {
          if (typeof slots[r] !== 'number') slots[w++] = slots[r]
        }
        slots.length = w
        this.holes = 0
      }
    }
    return true
  }

  /** The connections in id order (a copy: removing while walking it is safe). */
  values() {
    return this.slots.filter((conn) => typeof conn !== 'number')
  }
}

/**
 * `hub`: the Rust hub. `isClient(value)`: whether `value` is a `Client`. `release(conn)`:
 * removes a connection once what was queued for it is written (the writer's).
 */
function createRegistry({ hub, isClient, release }) {
  /** id -> connection record (lib/connection.js, lib/fetch.js) */
  const conns = new ById()
  /** Live clients in add order (`sse.clients`). */
  const clientList = createClientList()

  /** The connection of a client object or numeric id; null for a removed client object. */
  function resolve(client) {
    if (typeof client === 'number') {
      const conn = conns.get(client)
      if (conn === undefined) throw new Error(`SSE client ${client} does not exist`)
      return conn
    }
    if (isClient(client)) {
      const conn = conns.get(client.id)
      return conn !== undefined && conn.client === client ? conn : null
    }
    throw new TypeError(
      `client must be a client returned by add() or its numeric id, got ${describe(client)}`,
    )
  }

  /** `sse.remove`: what was queued for the client is written first (0.0.3 wrote at once). */
  function remove(client) {
    if (typeof client === 'number') {
      const conn = conns.get(client)
      return conn !== undefined && release(conn)
    }
    if (isClient(client)) {
      const conn = resolve(client)
      return conn !== null && release(conn)
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
    return conn !== undefined && release(conn)
  }

  /**
   * `sse.clients = value`: simple-sse 0.0.3 let code (often a unit test) reset its array.
   * The array stays the same live view; clients not in the assigned array are removed.
   */
  function assign(value) {
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
    for (const conn of conns.values()) {
      if (!keep.has(conn.client)) release(conn)
    }
  }

  return {
    conns,
    /** The public array (`sse.clients`). */
    clients: clientList.array,
    resolve,
    remove,
    assign,
    /** `sse.getClient(id)`: the live client with that id, or null. */
    get(id) {
      const conn = conns.get(id)
      return conn === undefined ? null : conn.client
    },
    /** Whether `conn` is still its client's live connection. */
    isLive: (conn) => conns.get(conn.client.id) === conn,
    /** A client whose id Rust just gave out, with its connection. */
    register(conn) {
      conns.set(conn.client.id, conn)
      clientList.add(conn.client)
    },
    /** Forgets a connection (Rust first: it stops writing to the socket); false if not live. */
    forget(conn) {
      const id = conn.client.id
      if (conns.get(id) !== conn) return false
      conns.delete(id)
      hub.remove(id)
      clientList.remove(conn.client)
      return true
    },
    get size() {
      return conns.size
    },
  }
}

module.exports = { createRegistry, ById }
