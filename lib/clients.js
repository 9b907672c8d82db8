'use strict'
// The live `sse.clients` array: clients in add order, the same array for the life of the
// process, where a removal costs O(1) amortized however many clients there are.
//
// Splicing each removed client out costs O(clients) per removal: a storm of 20,000
// disconnects took seconds. Instead a removed client's slot gets a `Gone` marker (found by
// binary search, ids only grow), and the markers are squeezed out in one pass
//  - the first time anything looks at the array: `sse.clients` is a Proxy over it whose
//    every trap compacts first (`length` is answered without compacting), so app code
//    never sees a marker and `Array.isArray`, indexes, iteration, spread, JSON and every
//    array method behave as on a plain array;
//  - or once the markers outnumber the clients, so memory stays bounded when nobody looks.
// Either way each marker is moved out once: O(1) amortized per removal. A marker keeps
// only the id, so a removed client's response is not held.
// util.inspect (console.log) reads a Proxy's target without its traps; the target's
// hidden `util.inspect.custom` compacts first and prints the clients.
// The price: reading `sse.clients` through the Proxy costs a trap per access (tens to
// hundreds of ns per element when iterating) instead of a plain array load.

const { inspect } = require('node:util')

const CUSTOM = inspect.custom

/** What a removed client's slot holds until the next compaction. */
class Gone {
  constructor(id) {
    this.id = id
  }
}

function createClientList() {
  /** Clients in ascending id order, with `gone` markers among them. */
  const list = []
  let gone = 0

  function compact() {
    let w = 0
    for (let r = 0; r < list.length; r++) {
      const c = list[r]
      if (!(c instanceof Gone)) list[w++] = c
    }
    list.length = w
    gone = 0
  }

  /** Where `client` sits: binary search by id, or a scan if the app reordered the array. */
  function find(client) {
    const id = client.id
    let lo = 0
    let hi = list.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const at = list[mid]
      const atId = at !== null && typeof at === 'object' ? at.id : undefined
      if (atId === id) return at === client ? mid : list.indexOf(client)
      if (atId < id) lo = mid + 1
      else hi = mid - 1
    }
    return list.indexOf(client)
  }

  // Not enumerable and hidden by the traps below: only util.inspect finds it.
  Object.defineProperty(list, CUSTOM, {
    configurable: true,
    value: function inspectClients() {
      if (gone !== 0) compact()
      return list.slice()
    },
  })

  const array = new Proxy(list, {
    get(target, key) {
      if (gone !== 0) {
        if (key === 'length') return list.length - gone
        compact()
      }
      return key === CUSTOM ? undefined : target[key]
    },
    set(target, key, value) {
      if (gone !== 0) compact()
      return Reflect.set(target, key, value)
    },
    has(target, key) {
      if (gone !== 0) compact()
      return key !== CUSTOM && key in target
    },
    deleteProperty(target, key) {
      if (gone !== 0) compact()
      return key === CUSTOM || Reflect.deleteProperty(target, key)
    },
    defineProperty(target, key, descriptor) {
      if (gone !== 0) compact()
      return key !== CUSTOM && Reflect.defineProperty(target, key, descriptor)
    },
    getOwnPropertyDescriptor(target, key) {
      if (gone !== 0) compact()
      return key === CUSTOM ? undefined : Reflect.getOwnPropertyDescriptor(target, key)
    },
    ownKeys(target) {
      if (gone !== 0) compact()
      const keys = Reflect.ownKeys(target)
      const at = keys.lastIndexOf(CUSTOM)
      if (at !== -1) keys.splice(at, 1)
      return keys
    },
  })

  return {
    /** The public array (`sse.clients`). */
    array,
    /** Appends a client; ids only grow, so the order stays the add order. */
    add(client) {
      list.push(client)
    },
    /** Takes a client out: O(log clients), plus O(1) amortized for the compaction. */
    remove(client) {
      const at = find(client)
      if (at === -1) return
      if (at === list.length - 1) list.pop()
      else {
        list[at] = new Gone(client.id)
        gone++
      }
      if (gone * 2 > list.length) compact()
    },
  }
}

module.exports = { createClientList }
