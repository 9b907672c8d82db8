'use strict'
// Last-Event-ID replays, the JS side: which clients reconnect (the id they sent), the
// window after `add` in which their rooms are gathered before the replay starts
// (`sse.replayWindow`), and the 'gap' events. The replay itself is a cursor in Rust
// (src/replay.rs) that moves only as the client's socket takes bytes.

const { show } = require('./checks')

/** The window's timer; tests replace these to end windows without waiting. */
const clock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer),
}

/** Default window: a handler that awaits (auth, a database) before `join` has this long. */
const DEFAULT_WINDOW_MS = 500

/** The id a reconnecting EventSource sent: the header, or `?lastEventId=` for polyfills. */
function lastEventIdOf(req) {
  const header = req.headers != null ? req.headers['last-event-id'] : undefined
  if (typeof header === 'string' && header !== '') return header
  const url = req.url
  if (typeof url === 'string' && url.includes('lastEventId=')) {
    const query = url.slice(url.indexOf('?') + 1)
    const value = new URLSearchParams(query).get('lastEventId')
    if (value) return value
  }
  return null
}

/** A whole number of milliseconds in [0, 2^31), or a string of digits; else a RangeError. */
function checkWindow(value) {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0x7fffffff) {
    throw new RangeError(`replayWindow must be a whole number of milliseconds >= 0, got ${show(value)}`)
  }
  return n
}

/**
 * Replays for one hub. `conns` maps ids to connections; `emitGap(client, info)` tells
 * the app a client missed what the history could not serve.
 */
function createReplays({ hub, conns, emitGap }) {
  let windowMs = DEFAULT_WINDOW_MS
  /** Set by the first replay: until then no wake-up asks Rust for gaps. */
  let replayed = false

  /**
   * Right after `add`, with the `Last-Event-ID` it sent (or null): a client that sent one of our event ids is held from live
   * broadcasts, and its replay starts when its window ends: `windowMs` after `add`
   * (0: at the end of the turn it was added in). Whatever it is sent meanwhile with
   * `send`/`setRetry`, and what the app writes itself, goes out at once.
   */
  function onAdd(conn, last) {
    if (last === null || !hub.holdForReplay(conn.client.id, last)) return
    replayed = true
    if (windowMs === 0) {
      setImmediate(start, conn)
      return
    }
    const timer = clock.setTimeout(() => start(conn), windowMs)
    if (timer != null && typeof timer.unref === 'function') timer.unref()
  }

  function start(conn) {
    // The same client (a detached client's connection record changed meanwhile).
    const live = conns.get(conn.client.id)
    if (live === undefined || live.client !== conn.client) return
    hub.startReplay(conn.client.id)
    reportGaps()
  }

  /** Emits the 'gap's Rust found (after each wake-up, and when a replay starts). */
  function reportGaps() {
    if (!replayed) return
    const gaps = hub.takeGaps()
    if (gaps === null) return
    for (const gap of gaps) {
      const conn = conns.get(gap.client)
      if (conn !== undefined) emitGap(conn.client, { lastEventId: gap.lastEventId, oldestId: gap.oldestId ?? null })
    }
  }

  return {
    onAdd,
    reportGaps,
    get windowMs() {
      return windowMs
    },
    set windowMs(value) {
      windowMs = checkWindow(value)
    },
  }
}

module.exports = { createReplays, lastEventIdOf, clock, DEFAULT_WINDOW_MS }
