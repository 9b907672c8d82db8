'use strict'
// Socket timeouts the app sets after `add` (`req.setTimeout`, `res.setTimeout`,
// `socket.setTimeout`): they do not fire while events are written, on any path (the
// direct path's writes are Rust's, which Node's timer cannot see: it asks Rust when it
// last wrote before it fires), and they still fire for a connection that receives
// nothing for that long, as with `res.write`. Real short timeouts, awaited as events.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { once } = require('node:events')
const sse = require('..')
const native = require('../lib/binding')
const { PATHS, server, rawClient, parse } = require('./fixtures/endings-helpers')
const { ATTACHED } = require('./helpers')

after(() => sse.close())

// ATTACHED (./helpers): Node's socket timeout is the subject: the clients stay attached
// under SIMPLE_SSE_RS_DETACH.

const pathNames = Object.keys(PATHS).filter((name) => name !== 'direct' || native.DIRECT)

/** The ways the app arms the timeout after add. */
const ARM = {
  'req.setTimeout': (req, res, ms) => req.setTimeout(ms),
  'res.setTimeout': (req, res, ms) => res.setTimeout(ms),
  'socket.setTimeout': (req, res, ms) => req.socket.setTimeout(ms),
}

for (const pathName of pathNames) {
  // Every way of arming on the direct path (the one Node cannot see); req.setTimeout elsewhere.
  const arms = pathName === 'direct' ? Object.keys(ARM) : ['req.setTimeout']
  for (const how of arms) {
    test(`${pathName}: events every 200 ms keep a 1 s timeout (${how} after add) from firing; once they stop, it fires`, async (t) => {
      const TIMEOUT = 1000
      const EVENTS = 12 // 2.4 s of events: more than twice the timeout
      let socket = null
      let timeouts = 0
      let lastEventAt = 0
      let timer = null
      const srv = await server(sse, pathName, (client, req, res) => {
        ARM[how](req, res, TIMEOUT)
        socket = req.socket
        socket.on('timeout', () => timeouts++)
        let n = 0
        timer = setInterval(() => {
          sse.send(client, 'tick', String(n++))
          lastEventAt = Date.now()
          if (n === EVENTS) clearInterval(timer)
        }, 200)
      }, ATTACHED)
      t.after(() => {
        clearInterval(timer)
        return srv.close()
      })
      const c = await rawClient(srv)
      t.after(() => c.close())
      c.request('/sse')
      await c.until(() => (parse(c.raw)[0]?.body ?? '').includes(`data: ${EVENTS - 1}\n\n`), 'every event', 15000)
      assert.equal(timeouts, 0, 'no timeout while events were written')
      assert.equal(c.ended, false, 'the stream is still open')
      // Nothing more is written: the timeout fires (Node's default then closes the socket).
      await once(socket, 'timeout')
      const quiet = Date.now() - lastEventAt
      t.diagnostic(`the timeout fired ${quiet} ms after the last event`)
      assert.ok(quiet >= TIMEOUT - 20, `fired ${quiet} ms after the last event, not before ${TIMEOUT} ms`)
      // One timeout after the last event, as with res.write (slack for a loaded machine).
      assert.ok(quiet < 1.5 * TIMEOUT, `fired ${quiet} ms after the last event`)
      await c.until(() => c.ended, 'the connection to close')
      assert.equal(timeouts, 1)
    })
  }

  for (const [how, arm] of Object.entries(ARM)) {
    test(`${pathName}: a silent connection still times out (${how} after add)`, async (t) => {
      const TIMEOUT = 300
      let armedAt = 0
      let fired = null
      const srv = await server(sse, pathName, (client, req, res) => {
        armedAt = Date.now()
        fired = new Promise((resolve) => {
          req.socket.once('timeout', () => resolve(Date.now() - armedAt))
        })
        arm(req, res, TIMEOUT)
      }, ATTACHED)
      t.after(() => srv.close())
      const c = await rawClient(srv)
      t.after(() => c.close())
      c.request('/sse')
      await c.until(() => fired !== null, 'the client to be added')
      const after = await fired
      assert.ok(after >= TIMEOUT - 20, `fired after ${after} ms`)
      await c.until(() => c.ended, 'the connection to close (no timeout listener)')
    })
  }
}
