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

/**
 * Runs `scenario(array, remove, add)` on a plain array whose removals splice (what
 * `sse.clients` was) and on the list, after a few earlier removals; both must trace the same.
 */
function sameAsPlain(scenario) {
  const run = (kind) => {
    const list = createClientList()
    const plain = []
    const all = Array.from({ length: 12 }, (_, id) => ({ id }))
    const add = kind === 'plain' ? (c) => plain.push(c) : (c) => list.add(c)
    const remove = kind === 'plain' ? (c) => plain.includes(c) && plain.splice(plain.indexOf(c), 1) : (c) => list.remove(c)
    for (const c of all) add(c)
    for (const i of [2, 7]) remove(all[i])
    const array = kind === 'plain' ? plain : list.array
    const trace = []
    const result = scenario(array, remove, add, trace, all)
    return { trace, result: JSON.stringify(result), after: array.map((c) => c.id) }
  }
  assert.deepEqual(run('list'), run('plain'))
}

test('removals and adds from inside a walk see what a plain array shows', () => {
  sameAsPlain((a, remove, add, trace, all) =>
    a.forEach((c, i, arr) => {
      trace.push(c.id, i, arr === a)
      if (c.id % 3 === 0) remove(c)
      if (c.id === 4) remove(all[5])
      if (c.id === 10) add({ id: 12 })
    }),
  )
  sameAsPlain((a, remove, add, trace) => {
    for (const c of a) {
      trace.push(c.id, a.length)
      if (c.id % 2 === 0) remove(c)
      if (c.id === 9) add({ id: 12 })
    }
  })
  sameAsPlain((a, remove, add, trace, all) => [...a.entries()].map(([i, c]) => [i, c.id]).concat([...a.keys()]))
  sameAsPlain((a, remove, add, trace, all) => [
    a.map((c) => c.id * 2),
    a.filter(function (c) {
      return c.id > this.min
    }, { min: 5 }).map((c) => c.id),
    a.find((c) => c.id > 3).id,
    a.findIndex((c) => c.id === 8),
    a.some((c) => c.id === 2),
    a.every((c, i, arr) => arr === a),
    a.reduce((sum, c) => sum + c.id, 0),
    a.reduce((sum, c, i, arr) => (arr === a ? sum + c.id : NaN)),
    a.reduceRight((s, c) => s + c.id, ''),
    a.flatMap((c) => [c.id, c.id]).length,
    a.indexOf(all[8]),
    a.includes(all[2]),
    a.slice(2, 5).map((c) => c.id),
    a.at(-1).id,
  ])
  sameAsPlain((a, remove, add, trace, all) => {
    // A removal while a find is running, then the walk goes on.
    const found = a.find((c) => {
      trace.push(c.id)
      if (c.id === 3) remove(all[4])
      return c.id === 6
    })
    return [found.id, Array.from(a, (c) => c.id)]
  })
})

test('the walks stay what the app expects of an array', () => {
  const { list } = setup(5, [1])
  const a = list.array
  assert.throws(() => a.forEach(null), TypeError)
  assert.throws(() => a.reduce(), TypeError)
  assert.deepEqual(a.map.call([1, 2], (x) => x + 1), [2, 3], 'the methods still work on other arrays')
  assert.deepEqual([...a.values.call(['x'])], ['x'])
  a.forEach = () => 'own'
  assert.equal(a.forEach(), 'own', "an app's own method wins")
  delete a.forEach
  assert.equal(a.reduce((n) => n + 1, 0), 4)
})
