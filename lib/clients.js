'use strict'
// The live `sse.clients` array: clients in add order, the same array for the life of the process.

/** Clients in ascending id (add) order. */
function createClientList() {
  const array = []

  /** Clients are in ascending id order: binary search. */
  function indexOfId(id) {
    let lo = 0
    let hi = array.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const at = array[mid].id
      if (at === id) return mid
      if (at < id) lo = mid + 1
      else hi = mid - 1
    }
    return -1
  }

  return {
    /** The public array (`sse.clients`). */
    array,
    /** Appends a client; ids only grow, so the order stays the add order. */
    add(client) {
      array.push(client)
    },
    /** Takes a client out. */
    remove(client) {
      const at = indexOfId(client.id)
      if (at !== -1) array.splice(at, 1)
    },
  }
}

module.exports = { createClientList }
