'use strict'
// lib/clients.js on its own: removals mark a slot and the array is compacted when looked at,
// so whatever app code does with `sse.clients` must see exactly the live clients, in order.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const util = require('node:util')
const { createClientList } = require('../lib/clients')

/** A list of `n` plain clients, and the removal of the given indexes (not the last one first). */
function setup(n, removed) {
  const list = createClientList()
  const all = Array.from({ length: n }, (_, id) => ({ id, rooms: [], res: null }))
  for (const c of all) list.add(c)
  for (const i of removed) list.remove(all[i])
  const live = all.filter((_, i) => !removed.includes(i))
  return { list, all, live }
}

test('after removals every way of looking at the array sees exactly the live clients', () => {
  const removed = [3, 5, 1, 8]
  const views = {
    'length': (a) => a.length,
    'index': (a) => Array.from({ length: a.length }, (_, i) => a[i]),
    'for...of': (a) => {
      const out = []
      for (const c of a) out.push(c)
      return out
    },
    'spread': (a) => [...a],
    'forEach': (a) => {
      const out = []
      a.forEach((c) => out.push(c))
      return out
    },
    'map/filter/slice': (a) => [a.map((c) => c.id), a.filter(() => true).length, a.slice(-2)],
    'indexOf/includes/find': (a) => [a.indexOf(a[2]), a.includes(a[0]), a.find((c) => c.id === 4)],
    'Array.from/concat': (a) => [Array.from(a), [].concat(a)],
    'JSON': (a) => JSON.stringify(a),
    'Object.keys': (a) => Object.keys(a),
    'own property names': (a) => [Reflect.ownKeys(a), Object.getOwnPropertySymbols(a)],
    'in/hasOwn': (a) => [a.length - 1 in a, a.length in a, Object.hasOwn(a, a.length)],
    'util.inspect': (a) => util.inspect(a, { depth: 0 }),
    'isArray/toString': (a) => [Array.isArray(a), Object.prototype.toString.call(a)],
  }
  for (const [name, view] of Object.entries(views)) {
    const { list, live } = setup(10, removed)
    assert.deepEqual(view(list.array), view(live), name)
  }
  const { list, live } = setup(10, removed)
  assert.deepStrictEqual(list.array, live)
  assert.equal(list.array[util.inspect.custom], undefined, 'the inspect hook stays hidden')
})

test('the array stays the same object and keeps add order through adds and removals', () => {
  const { list, all } = setup(6, [2])
  const array = list.array
  const c6 = { id: 6, rooms: [], res: null }
  list.add(c6)
  list.remove(all[0])
  list.remove(c6) // the last one
  assert.equal(list.array, array)
  assert.deepEqual(array.map((c) => c.id), [1, 3, 4, 5])
  for (const c of all) list.remove(c)
  assert.equal(array.length, 0)
  assert.deepEqual([...array], [])
})

test('length is answered without compacting; anything else compacts first', () => {
  const { list, all } = setup(100, [10, 20, 30])
  assert.equal(list.array.length, 97)
  list.remove(all[40])
  assert.equal(list.array.length, 96)
  assert.equal(list.array[10].id, 11)
  assert.equal(list.array[95].id, 99)
})

test('when nobody looks, markers are squeezed out once they outnumber the clients', () => {
  const list = createClientList()
  const all = Array.from({ length: 1000 }, (_, id) => ({ id }))
  for (const c of all) list.add(c)
  // Remove all but the last client, in an order that never takes the last slot.
  for (let i = 0; i < 999; i++) list.remove(all[(i * 7) % 999])
  // The proxy's target is only reachable through util.inspect's hook; it must be small again.
  const target = util.inspect(list.array, { showProxy: true, depth: 1, breakLength: Infinity })
  assert.match(target, /^Proxy \[ \[ \[Object\] \], /, 'the target was compacted on the way, not only when read')
})

test('an app that reorders or mutates the array does not break removal', () => {
  const { list, all } = setup(5, [])
  list.array.reverse()
  list.remove(all[1])
  assert.deepEqual(list.array.map((c) => c.id), [4, 3, 2, 0])
  list.array.push({ id: 'foreign' })
  list.remove(all[4])
  assert.deepEqual(list.array.map((c) => c.id), [3, 2, 0, 'foreign'])
})
