'use strict'
// Shared test tools: servers on 127.0.0.1 that close cleanly, and a raw HTTP/1.1
// SSE client that decodes chunked framing and keeps exact bytes and chunk borders.

const http = require('node:http')
const net = require('node:net')
const { once } = require('node:events')

/**
 * Starts `handlerOrApp` (a request listener or an Express app) on an ephemeral port.
 * `close()` destroys open sockets first, so it never waits for SSE streams.
 */
async function listen(handlerOrApp) {
  const server = http.createServer(handlerOrApp)
  const sockets = new Set()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const socket of sockets) socket.destroy()
      // Detached clients (Rust owns their connection; the server no longer sees it) go
      // when their peer does: close the raw clients opened to this server, and wait.
      const peers = rawClients.get(port)
      if (peers !== undefined) for (const socket of peers) socket.destroy()
      rawClients.delete(port)
      await new Promise((resolve) => server.close(resolve))
      await detachedGone()
    },
  }
}

/** port -> the raw client sockets `connect` opened to it. */
const rawClients = new Map()

/** Resolves once the package (if loaded) has no detached client left (at most 2 s). */
async function detachedGone() {
  const id = require.resolve('..')
  const sse = require.cache[id] !== undefined ? require.cache[id].exports : null
  if (sse === null) return
  const start = Date.now()
  while (sse.clients.some((c) => c.detached) && Date.now() - start < 2000) {
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

/**
 * Opens `GET path` on a raw socket. Resolves once the status line and headers arrived.
 * `text` is the decoded body so far, `chunks` each chunk's payload as the server framed it.
 */
function connect(port, path = '/', { headers = {} } = {}) {
  const socket = net.connect(port, '127.0.0.1')
  if (!rawClients.has(port)) rawClients.set(port, new Set())
  const peers = rawClients.get(port)
  peers.add(socket)
  socket.once('close', () => peers.delete(socket))
  const client = {
    socket,
    status: 0,
    headers: {},
    raw: Buffer.alloc(0),
    body: Buffer.alloc(0),
    chunks: [],
    ended: false,
    get text() {
      return client.body.toString('utf8')
    },
    /** Resolves when `test(text)` holds (a string: when the body contains it). */
    until(test, timeoutMs = 5000) {
      const check = typeof test === 'string' ? (t) => t.includes(test) : test
      if (check(client.text)) return Promise.resolve(client.text)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new Error(`timed out waiting; body so far: ${JSON.stringify(client.text)}`))
        }, timeoutMs)
        const waiter = () => {
          if (!check(client.text)) return
          clearTimeout(timer)
          waiters.delete(waiter)
          resolve(client.text)
        }
        waiters.add(waiter)
      })
    },
    /** Resolves when the server ends the response (last chunk) or closes the socket. */
    closed(timeoutMs = 5000) {
      return client.until(() => client.ended, timeoutMs).then(() => undefined)
    },
    close() {
      socket.destroy()
    },
  }
  const waiters = new Set()
  let headersDone = false
  let pending = Buffer.alloc(0)

  const ready = new Promise((resolve, reject) => {
    socket.once('error', reject)
    socket.on('connect', () => {
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n${extra}\r\n`)
    })
    socket.on('data', (data) => {
      client.raw = Buffer.concat([client.raw, data])
      pending = Buffer.concat([pending, data])
      if (!headersDone) {
        const end = pending.indexOf('\r\n\r\n')
        if (end === -1) return
        const lines = pending.subarray(0, end).toString('latin1').split('\r\n')
        client.status = Number(lines[0].split(' ')[1])
        for (const line of lines.slice(1)) {
          const at = line.indexOf(':')
          client.headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim()
        }
        pending = pending.subarray(end + 4)
        headersDone = true
        resolve(client)
      }
      decodeChunks()
      for (const waiter of Array.from(waiters)) waiter()
    })
    socket.on('close', () => {
      client.ended = true
      for (const waiter of Array.from(waiters)) waiter()
    })
  })

  function decodeChunks() {
    if (client.headers['transfer-encoding'] !== 'chunked') {
      client.body = Buffer.concat([client.body, pending])
      pending = Buffer.alloc(0)
      return
    }
    for (;;) {
      const lineEnd = pending.indexOf('\r\n')
      if (lineEnd === -1) return
      const size = parseInt(pending.subarray(0, lineEnd).toString('latin1'), 16)
      if (pending.length < lineEnd + 2 + size + 2) return
      if (size === 0) {
        client.ended = true
        pending = Buffer.alloc(0)
        return
      }
      const chunk = pending.subarray(lineEnd + 2, lineEnd + 2 + size)
      client.chunks.push(Buffer.from(chunk))
      client.body = Buffer.concat([client.body, chunk])
      pending = pending.subarray(lineEnd + 2 + size + 2)
    }
  }

  return ready
}

/**
 * Resolves once `socket` has closed: at once when it is already destroyed, as a detached
 * client's server-side socket is from the hand-over (its 'close' may have been emitted).
 */
function socketClosed(socket) {
  if (socket.destroyed) return Promise.resolve()
  return once(socket, 'close').then(() => undefined)
}

/** `promise`, or a rejection naming `what` after `ms`. */
function within(promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/**
 * A server whose handler adds each request as an SSE client and hands it to `onClient`.
 * `options`, when given, is `add`'s third argument (`{ detach: false }` keeps a client
 * attached under SIMPLE_SSE_RS_DETACH=1; simple-sse 0.0.3 ignores it).
 */
async function sseServer(sse, onClient = () => {}, options) {
  const added = []
  /** client -> the peer's port (read before `add`: a detached client's socket is gone). */
  const ports = new WeakMap()
  const srv = await listen((req, res) => {
    const port = req.socket.remotePort
    const client = options === undefined ? sse.add(req, res) : sse.add(req, res, options)
    ports.set(client, port)
    added.push(client)
    onClient(client, req, res)
  })
  return {
    ...srv,
    added,
    /**
     * Connects a raw client; resolves with [rawClient, sseClient]. `add` sends the
     * headers at once, so when they arrive the server has added the client.
     */
    async open(path = '/') {
      const raw = await connect(srv.port, path)
      const client = added.findLast((c) => ports.get(c) === raw.socket.localPort)
      if (!client) throw new Error('the server did not add the client')
      return [raw, client]
    },
  }
}

/** `add`'s third argument for a test about the attached response itself: it stays attached under SIMPLE_SSE_RS_DETACH=1. */
const ATTACHED = Object.freeze({ detach: false })

module.exports = { listen, connect, within, sseServer, socketClosed, ATTACHED }
