'use strict'
// A client's stream from start to end: `sse.add(req, res)` and `sse.add(request)` (the
// arguments, the headers, registering the client and its connection), forgetting a
// connection however it ends (with the 'remove' event's reason), and `sse.close()`.
// Writing the stream is lib/connection.js's (Node responses) and lib/fetch.js's (Fetch API).

const { Socket } = require('node:net')
const { ServerResponse } = require('node:http')
const { describe } = require('./checks')
const { lastEventIdOf } = require('./replay')

const SET_HEADER = ServerResponse.prototype.setHeader
const WRITE_HEAD = ServerResponse.prototype.writeHead

/**
 * The parts a stream touches: `hub` (Rust), `registry` (lib/registry.js), `Client`
 * (lib/client.js), `writer` (lib/connection.js), `fetchApi` (lib/fetch.js), `replays`
 * (lib/replay.js), `sync` (lib/sync.js), `heartbeat` (lib/heartbeat.js), `lifecycle`
 * (lib/lifecycle.js), `detacher` (lib/detach.js).
 */
function createStreams({ hub, registry, Client, writer, fetchApi, replays, sync, heartbeat, lifecycle, detacher }) {
  function add(req, res, options) {
    // A Fetch API Request (Hono, Next.js, Bun, Deno): the client's res is a Response.
    if (res === undefined && fetchApi.isRequest(req)) return addFetch(req)
    const detach = detacher.wanted(options)
    if (req === null || typeof req !== 'object') {
      throw new TypeError(`req must be the HTTP request, got ${describe(req)}`)
    }
    if (res === null || typeof res !== 'object' || typeof res.writeHead !== 'function') {
      throw new TypeError('res must be the HTTP response (an object with writeHead)')
    }
    const before = writer.addedWith(res)
    if (before !== undefined) {
      throw new TypeError(
        `res was already added (client ${before.client.id}): a response carries one event stream`,
      )
    }
    // Proxies (nginx, and those that honour it) pass the stream on at once instead of
    // buffering it. Set apart, so writeHead gets exactly the headers simple-sse 0.0.3 passed;
    // and first, so a response whose headers already went out throws before anything is
    // registered. A fresh node:http response whose methods are Node's own gets it with
    // writeHead's headers instead (the same bytes, and nobody sees the arguments): Node
    // then keeps no header map for the response, some 550 bytes per client.
    const lean = leanHeaders(req, res)
    if (!lean && typeof res.setHeader === 'function') res.setHeader('X-Accel-Buffering', 'no')
    const id = hub.add()
    const client = new Client(id, res)
    const conn = new writer.Connection(client, res)
    registry.register(conn)
    replays.onAdd(conn, lastEventIdOf(req))

    turnTimeoutOff(req.socket)

    // A response without a socket (a stub or mock in a unit test) is written synchronously
    // inside each call, so nothing waits for it, and its own write/end (spies) stay as they are.
    const socketless = res.socket == null
    // Removal on 'close'; whatever the app writes itself goes after what this package queued.
    conn.attach(req, !socketless)

    // HTTP/2 forbids connection-specific headers (node:http2 warns and drops them).
    const http2 = req.httpVersionMajor === 2 || res.stream != null
    res.writeHead(200, lean
      ? { 'X-Accel-Buffering': 'no', 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' }
      : http2
        ? { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' }
        : { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' })
    if (socketless) sync.add(conn)
    // Send the headers now, so the browser's EventSource opens at once.
    if (typeof res.flushHeaders === 'function' && conn.write !== null) res.flushHeaders()
    releaseHeaderBlock(res)
    // A plain HTTP/1.1 response on a plain TCP socket: Rust writes it from now on.
    conn.route()
    // Rust takes the connection over (lib/detach.js); where it cannot, it stays attached.
    if (detach) detacher.detach(conn, req)

    heartbeat.start()
    lifecycle.added(client)
    return client
  }

  /** `add(request)`: a client whose frames stream as the body of `client.res`, a Response. */
  function addFetch(request) {
    const id = hub.add()
    const client = new Client(id, null)
    const conn = new fetchApi.Connection(client, request)
    registry.register(conn)
    replays.onAdd(conn, fetchApi.lastEventIdOf(request))
    lifecycle.added(client)
    // Removal when the request aborts (at once if it already has).
    fetchApi.attach(conn)
    heartbeat.start()
    return client
  }

  /** Forgets a connection; `reason` is the 'remove' event's (closed, removed, dropped, shutdown). */
  function removeConn(conn, reason = 'closed') {
    // Rust forgets its pending bytes (and stops writing to the socket) first.
    if (!registry.forget(conn)) return false
    conn.detach()
    if (registry.size === 0) heartbeat.stop()
    lifecycle.removed(conn.client, reason)
    return true
  }

  /** `sse.close()`: ends every stream, with 'remove' events held until all are gone. */
  function close() {
    lifecycle.shutdown(closeAll)
  }

  function closeAll() {
    heartbeat.stop()
    let thrown = null
    for (const conn of Array.from(registry.conns.values())) {
      try {
        // A stub's own end (not wrapped) does not remove it: removeConn below does.
        if (conn.end !== null && !conn.res.writableEnded) conn.res.end()
        else writer.flushNow(conn)
      } catch (err) {
        // Every other client is still closed; the first exception is the app's to see.
        if (thrown === null) thrown = { err }
      }
      removeConn(conn)
    }
    if (thrown !== null) throw thrown.err
  }

  return { add, removeConn, close }
}

/**
 * Whether `res` is an HTTP/1 node:http response with no header set and none sent, whose `setHeader`
 * and `writeHead` are Node's own: `writeHead(status, headers)` then stores the headers it
 * is given and no header map (`setHeader` first would make one, with an array per header),
 * and neither call can throw. Anything else (a framework's wrapper, HTTP/2, a stub, headers
 * the app set) takes `setHeader` then `writeHead`, as before.
 */
function leanHeaders(req, res) {
  return (
    req.httpVersionMajor !== 2 &&
    res instanceof ServerResponse &&
    res.setHeader === SET_HEADER &&
    res.writeHead === WRITE_HEAD &&
    !res.headersSent &&
    res.getHeaderNames().length === 0
  )
}

/** What stands in for a response's header block once it went out (see `releaseHeaderBlock`). */
const SENT_HEADER = 'HTTP/1.1 200 OK\r\n\r\n'

/**
 * Node keeps the header block it sent as `res._header` for as long as the response lives
 * (some 200 bytes per client, more in an Express app) and, once `_headerSent` is set, reads
 * it only as a flag (headers went out: `headersSent`, and `setHeader`/`writeHead` throw).
 * A short constant then stands in for it; the bytes on the wire are unchanged.
 */
function releaseHeaderBlock(res) {
  if (
    res instanceof ServerResponse &&
    res._headerSent === true &&
    typeof res._header === 'string' &&
    res._header.length > SENT_HEADER.length
  ) {
    res._header = SENT_HEADER
  }
}

/**
 * The original called `socket.setTimeout(0x7fffffff)` so that a stream never times out.
 * On a real socket this turns the timeout off instead (when one is armed): no timer per
 * client, and none that direct writes (which Node does not see) would fail to refresh.
 */
function turnTimeoutOff(socket) {
  if (socket == null || typeof socket.setTimeout !== 'function') return
  if (!(socket instanceof Socket)) socket.setTimeout(0x7fffffff)
  else if (socket.timeout) socket.setTimeout(0)
}

module.exports = { createStreams }
