'use strict'
// Fixtures shared by api, heartbeat and express tests (not a test file itself).
// The package is a module singleton per process, so every test must leave
// `sse.clients` empty for the next one: `serve` checks that on the way in and
// waits for it on the way out.

const assert = require('node:assert/strict')
const { once } = require('node:events')
const sse = require('..')
const { sseServer, ATTACHED } = require('./helpers')

/** Resolves once `client` is no longer registered (its response's 'close' removes it). */
function gone(client) {
  if (sse.getClient(client.id) !== client) return Promise.resolve()
  // Detached (SIMPLE_SSE_RS_DETACH=1): no response; it goes when its peer does.
  if (client.res === null) {
    return new Promise((resolve) => {
      const listener = (c) => {
        if (c !== client) return
        sse.off('remove', listener)
        resolve()
      }
      sse.on('remove', listener)
    })
  }
  // index.js registered its own 'close' listener in add(), before this one, so
  // by the time this resolves the removal has run.
  return once(client.res, 'close').then(() => undefined)
}

/**
 * An `sseServer` for one test: after the test, its sockets are destroyed and
 * every client it added must have been removed. `options`: `add`'s third argument.
 */
async function serve(t, onClient, options) {
  assert.equal(sse.clients.length, 0, 'a previous test left clients registered')
  const srv = await sseServer(sse, onClient, options)
  t.after(async () => {
    const left = srv.added.map(gone)
    await srv.close()
    await Promise.all(left)
    assert.equal(sse.clients.length, 0)
  })
  return srv
}

/** Waits until `raw` received as many characters as `expected`, then compares the whole body. */
async function expectBody(raw, expected) {
  await raw.until((text) => text.length >= expected.length)
  assert.equal(raw.text, expected)
}

/** The frame `mark(client)` sends: a last event that proves what came before it. */
const markFrame = (id) => `id: ${id}\nevent: mark\ndata: end\n\n`
const mark = (client) => sse.send(client, 'mark', 'end')

// ATTACHED (./helpers): `add`'s third argument for a test about the attached response
// itself (the app's own res.write/res.end, Node's socket): it stays attached under
// SIMPLE_SSE_RS_DETACH=1.

module.exports = { sse, gone, serve, expectBody, mark, markFrame, ATTACHED }
