// index.mjs: the ES module entry is the same instance as require() — one registry,
// one heartbeat — whether imported by path or by the package's own name.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { once } from 'node:events'

import sse from '../index.mjs'
import * as named from '../index.mjs'
import { add, send, broadcast, join, clients, getClient, in as isIn } from '../index.mjs'
import byName from 'simple-sse-rs'

const require = createRequire(import.meta.url)
const cjs = require('../index.js')
const { listen, connect } = require('./helpers.js')

after(() => sse.close())

test('default import, package-name import and require() are the same object', () => {
  assert.equal(sse, cjs)
  assert.equal(byName, cjs)
  assert.equal(require('simple-sse-rs'), cjs)
  assert.equal(clients, cjs.clients)
})

test('every function of the CommonJS API is a named export, bound to the same function', () => {
  const functions = Object.keys(cjs).filter((key) => !key.startsWith('_') && typeof cjs[key] === 'function')
  assert.ok(functions.length >= 15, `functions: ${functions}`)
  for (const key of functions) assert.equal(named[key], cjs[key], `named export ${key}`)
  assert.equal(named.clients, cjs.clients)
  assert.equal(named.default, cjs)
})

test('a client added through a named import is in the registry require() sees', async (t) => {
  let closed
  const srv = await listen((req, res) => {
    const client = add(req, res)
    join(client, 'esm')
    closed = once(res, 'close')
  })
  t.after(() => srv.close())

  const raw = await connect(srv.port, '/')
  t.after(() => raw.close())
  // add() sends the headers at once, so the client is registered now.
  assert.equal(cjs.clients.length, 1)
  const client = cjs.clients[0]
  assert.equal(getClient(client.id), client)
  assert.equal(isIn(client, 'esm'), true)
  assert.deepEqual(cjs.stats().rooms, [{ room: 'esm', members: 1 }])

  send(client, 'hello', 'from esm')
  cjs.broadcast('esm', { via: 'require' })
  broadcast('other room', 'not for this client')
  await raw.until('data: {"via":"require"}\n\n')
  assert.equal(
    raw.text,
    `id: ${client.id}\nevent: hello\ndata: from esm\n\nid: ${client.id}\ndata: {"via":"require"}\n\n`,
  )

  raw.close()
  // add() listens for 'close' first, so by the time this listener runs the client is gone.
  await closed
  assert.equal(clients.length, 0)
  assert.equal(getClient(client.id), null)
})
