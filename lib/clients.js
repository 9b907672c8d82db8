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
//
// A trap per element would make iterating cost ~100x a plain array, so the usual ways
// to walk the clients run natively on the list instead: for...of and spread (values,
// keys, entries), the callback methods (forEach, map, filter, find, some, every, reduce…)
// and indexOf/includes/slice/at. While one of those runs app callbacks over the list, a
// removal splices at once (what a plain array does under a running forEach), so the walk
// sees exactly what it would on a plain array. Index access (`sse.clients[i]`) still
// costs one trap.

const { inspect } = require('node:util')

const CUSTOM = inspect.custom
const A = Array.prototype

/** Methods that call back per element, `(value, index, array)`. */
const PER_ELEMENT = ['forEach', 'map', 'filter', 'find', 'findIndex', 'findLast', 'findLastIndex', 'some', 'every', 'flatMap']
/** Methods that call back `(accumulator, value, index, array)`. */
const FOLDS = ['reduce', 'reduceRight']
/** Methods that call back nothing. */
const LOOKUPS = ['indexOf', 'lastIndexOf', 'includes', 'slice', 'at']

/**
 * Where `id` sits in `list`, sorted by ascending id (`idOf(entry)`): its index, or
 * -1 - the index where it would go.
 */
function searchById(list, id, idOf) {
  let lo = 0
  let hi = list.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const atId = idOf(list[mid])
    if (atId === id) return mid
    if (atId < id) lo = mid + 1
    else hi = mid - 1
  }
  return -1 - lo
}

/** A client's or a marker's id (anything else the app put in the array: undefined). */
const idOfEntry = (entry) => (entry !== null && typeof entry === 'object' ? entry.id : undefined)

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
  /** > 0 while a native array method walks `list` for the app (removals then splice at once). */
  let walking = 0

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
    const at = searchById(list, client.id, idOfEntry)
    return at >= 0 && list[at] === client ? at : list.indexOf(client)
  }

  // Not enumerable and hidden by the traps below: only util.inspect finds it.
  Object.defineProperty(list, CUSTOM, {
    configurable: true,
    value: function inspectClients() {
      if (gone !== 0) compact()
      return list.slice()
    },
  })

  /** key -> [Array.prototype's method, the version that walks `list` natively]. */
  const natives = new Map()

  /** Runs `native` over `list` for the app, as it would run over a plain array. */
  function walk(native, args) {
    if (gone !== 0) compact()
    walking++
    try {
      return native.apply(list, args)
    } finally {
      walking--
    }
  }

  for (const name of PER_ELEMENT) {
    const native = A[name]
    if (typeof native !== 'function') continue
    natives.set(name, [
      native,
      function (callback, thisArg) {
        if (this !== array || typeof callback !== 'function') return native.apply(this, arguments)
        // The callback's third argument is `sse.clients`, never the list behind it.
        return walk(native, [(value, index) => callback.call(thisArg, value, index, array)])
      },
    ])
  }
  for (const name of FOLDS) {
    const native = A[name]
    natives.set(name, [
      native,
      function (callback) {
        if (this !== array || typeof callback !== 'function') return native.apply(this, arguments)
        const wrapped = (acc, value, index) => callback(acc, value, index, array)
        return walk(native, arguments.length > 1 ? [wrapped, arguments[1]] : [wrapped])
      },
    ])
  }
  for (const name of LOOKUPS) {
    const native = A[name]
    if (typeof native !== 'function') continue
    natives.set(name, [
      native,
      function () {
        return this === array ? walk(native, arguments) : native.apply(this, arguments)
      },
    ])
  }

  /** for...of, spread, Array.from: an array iterator's steps over the compacted list. */
  function* iterate(kind) {
    for (let i = 0; ; i++) {
      if (gone !== 0) compact()
      if (i >= list.length) return
      yield kind === 'values' ? list[i] : kind === 'keys' ? i : [i, list[i]]
    }
  }
  for (const [key, kind] of [[Symbol.iterator, 'values'], ['values', 'values'], ['keys', 'keys'], ['entries', 'entries']]) {
    const native = A[key]
    natives.set(key, [
      native,
      function () {
        return this === array ? iterate(kind) : native.call(this)
      },
    ])
  }

  const array = new Proxy(list, {
    get(target, key) {
      if (gone !== 0) {
        if (key === 'length') return list.length - gone
        compact()
      }
      if (key === CUSTOM) return undefined
      const value = target[key]
      if (typeof value === 'function') {
        // The native walk, unless the app replaced the method (then its own is called).
        const own = natives.get(key)
        if (own !== undefined && own[0] === value) return own[1]
      }
      return value
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
      if (walking !== 0) list.splice(at, 1)
      else if (at === list.length - 1) list.pop()
      else {
        list[at] = new Gone(client.id)
        gone++
      }
      if (gone * 2 > list.length) compact()
    },
  }
}

module.exports = { createClientList, searchById }
