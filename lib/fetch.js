'use strict'
// Fetch API clients — `sse.add(request)` with a Web `Request` (Hono, Next.js route handlers,
// Bun.serve, Deno.serve): recognising such a request, the `Response` whose body streams the
// client's frames as its stream pulls them from Rust (src/pull.rs), and the client's removal
// when the request aborts, the body is cancelled, or the stream is not pulled for a few heartbeats.

/** A client whose stream was not pulled across this many heartbeats is removed. */
const STALE_HEARTBEATS = 3

/** Deno, where the request's signal is left alone (see `attach`). */
const SKIP_SIGNAL =
  typeof globalThis.Deno === 'object' && globalThis.Deno !== null && typeof globalThis.Deno.serve === 'function'

/** `conn.path` of a Fetch client (the Node paths are 0, 1 and 2: lib/connection.js). */
const PATH_FETCH = 'fetch'

/**
 * The response headers: the Node path's, plus no buffering by nginx. Not `Connection`: the
 * server may speak HTTP/2 (which forbids it: Node warns) and a Request does not say which;
 * HTTP/1.1 keeps the connection open without it.
 */
const HEADERS = [
  ['Content-Type', 'text/event-stream'],
  ['Cache-Control', 'no-cache'],
  ['X-Accel-Buffering', 'no'],
]

/**
 * Whether `req` is a Fetch API `Request` — by shape, as Node (undici), Bun, Deno and
 * frameworks each have their own class: `headers.get`, a string `url`, and a `method`
 * or a `signal`. A Node `IncomingMessage` has plain-object headers.
 */
function isRequest(req) {
  return (
    req !== null &&
    typeof req === 'object' &&
    typeof req.url === 'string' &&
    req.headers != null &&
    typeof req.headers.get === 'function' &&
    (typeof req.method === 'string' || (req.signal != null && typeof req.signal === 'object'))
  )
}

/** The id a reconnecting EventSource sent: the header, or `?lastEventId=` for polyfills. */
function lastEventIdOf(request) {
  const header = request.headers.get('last-event-id')
  if (typeof header === 'string' && header !== '') return header
  const url = request.url
  if (!url.includes('lastEventId=')) return null
  const value = new URLSearchParams(url.slice(url.indexOf('?') + 1).split('#')[0]).get('lastEventId')
  return value || null
}

/** A copy of `pieces` in one Uint8Array of its own (a runtime may transfer what it is given). */
function joined(pieces) {
  if (pieces.length === 1) return new Uint8Array(pieces[0])
  let length = 0
  for (const piece of pieces) length += piece.length
  const out = new Uint8Array(length)
  let at = 0
  for (const piece of pieces) {
    out.set(piece, at)
    at += piece.length
  }
  return out
}

/**
 * `hub`: the Rust hub; `removeConn(conn)`: removes a registered connection (index.js).
 * Returns what index.js uses: `isRequest`, `lastEventIdOf`, `Connection` and `tick`.
 */
function createFetch({ hub, removeConn, isLive }) {
  /** Live Fetch connections, for the heartbeat's staleness check. */
  const live = new Set()

  class FetchConnection {
    /** Makes the client's `Response`; call `attach()` once the connection is registered. */
    constructor(client, request) {
      this.client = client
      this.request = request
      this.path = PATH_FETCH
      this.kind = 'fetch'
      /** `flushNow` (before close) writes through this: straight into the stream. */
      this.write = (chunk) => this.enqueue(new Uint8Array(chunk))
      this.end = null
      this.controller = null
      /** The stream asked for more and got nothing yet: its next frames come in a batch. */
      this.wanting = false
      /** Pulls so far, and as of the last heartbeat; heartbeats since the last pull. */
      this.pulls = 0
      this.pullsSeen = 0
      this.missed = 0
      this.closed = false
      /** The request's signal while we listen to it. */
      this.signal = null
      this.onAbort = () => this.gone()
      const conn = this
      // highWaterMark 0: the stream pulls only when the runtime reads, so frames wait in
      // Rust (counted against maxPendingBytes) until the client can take them.
      const body = new ReadableStream(
        {
          start(controller) {
            conn.controller = controller
          },
          pull() {
            conn.pull()
          },
          cancel() {
            conn.closed = true
            conn.gone()
          },
        },
        { highWaterMark: 0 },
      )
      const headers = new Headers()
      for (const [name, value] of HEADERS) headers.set(name, value)
      client.res = new Response(body, { status: 200, headers })
      this.res = client.res
      hub.waitForPull(client.id)
    }

    /**
     * Once registered: removal when the request aborts (the browser went away). Not on Deno,
     * where reading `request.signal` prints a deprecation warning (its legacy abort on
     * completed responses) and the body's cancel tells the same.
     */
    attach() {
      if (SKIP_SIGNAL) return
      const signal = this.request.signal
      if (signal == null || typeof signal.addEventListener !== 'function') return
      if (signal.aborted) this.gone()
      else {
        this.signal = signal
        signal.addEventListener('abort', this.onAbort)
      }
    }

    live() {
      return isLive(this)
    }

    pull() {
      this.pulls++
      if (!this.live()) return
      const bytes = hub.pull(this.client.id)
      if (bytes !== null) this.enqueue(bytes)
      else this.wanting = true
    }

    /** A client's part of a batch (its stream wanted it): handed over; the next frames wait. */
    put(pieces) {
      this.wanting = false
      if (this.live()) hub.waitForPull(this.client.id)
      this.enqueue(joined(pieces))
    }

    enqueue(bytes) {
      if (this.closed) return
      this.controller.enqueue(bytes)
    }

    /** The client went away: remove it (which `detach`es). */
    gone() {
      if (this.live()) removeConn(this)
      else this.detach()
    }

    /** Out of the registry: forget the signal, end the body (nothing more will come). */
    detach() {
      live.delete(this)
      if (this.signal !== null) {
        this.signal.removeEventListener('abort', this.onAbort)
        this.signal = null
      }
      if (this.closed) return
      this.closed = true
      try {
        this.controller.close()
      } catch {
        // Already closed or errored by the runtime.
      }
    }
  }

  /** Registers a connection made with `new Connection` (after index.js registered it). */
  function attach(conn) {
    live.add(conn)
    conn.attach()
  }

  /**
   * At each heartbeat: a client whose stream was pulled since the last one, or waits for
   * frames, is fine; one not pulled across STALE_HEARTBEATS heartbeats is gone (some
   * runtimes never abort or cancel when the browser leaves: its stream just stops).
   */
  function tick() {
    for (const conn of live) {
      if (conn.wanting || conn.pulls !== conn.pullsSeen) {
        conn.pullsSeen = conn.pulls
        conn.missed = 0
      } else if (++conn.missed >= STALE_HEARTBEATS) {
        conn.gone()
      }
    }
  }

  return { isRequest, lastEventIdOf, Connection: FetchConnection, attach, tick }
}

module.exports = { createFetch, isRequest, STALE_HEARTBEATS }
