'use strict'
// Argument checks and data encoding shared by the API: clear TypeErrors/RangeErrors naming
// the argument, and the once-per-process warnings for calls simple-sse 0.0.3 accepted.

function describe(value) {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value
}

/** A value as an error message shows it: strings quoted (so "5000" is not 5000), others by kind. */
function show(value) {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value)
    case 'bigint':
      return `${value}n`
    case 'symbol':
      return value.toString()
    case 'function':
      return 'a function'
    default:
      return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object'
  }
}

/** Codes already warned about: each warning is emitted once per process. */
const warned = new Set()

/** `process.emitWarning(message)` with our `code`, the first time only. */
function warnOnce(code, message) {
  if (warned.has(code)) return
  warned.add(code)
  process.emitWarning(message, { code })
}

/** null and undefined: what a missing route/query parameter or setting gives. */
const isMissing = (value) => value === null || value === undefined

/** Warns (once) that `call` (e.g. "sse.join()") got a null/undefined room; the caller then ignores it. */
function warnMissingRoom(call, room) {
  warnOnce(
    'SIMPLE_SSE_RS_NULL_ROOM',
    `${call} got a room that is ${room}. simple-sse-rs ignores such rooms: join() joins ` +
      'nothing and returns false, in() returns false, broadcast() reaches nobody, client.rooms = [...] ' +
      'skips them, and leave() without a room leaves every room. The usual cause is a missing parameter ' +
      "(req.query.room, url.searchParams.get('room')). This warning is shown once.",
  )
}

/**
 * Rooms that are ignored, with a warning once: null and undefined (a missing parameter,
 * see `warnMissingRoom`) and NaN (`parseInt(req.params.room)` of a non-number: simple-sse
 * 0.0.3 stored it, but `NaN === NaN` is false, so such a room never matched anything).
 */
const isIgnoredRoom = (room) => isMissing(room) || (typeof room === 'number' && Number.isNaN(room))

/** Warns (once per kind) that `call` got a room `isIgnoredRoom` ignores. */
function warnIgnoredRoom(call, room) {
  if (isMissing(room)) {
    warnMissingRoom(call, room)
    return
  }
  warnOnce(
    'SIMPLE_SSE_RS_NAN_ROOM',
    `${call} got a room that is NaN. simple-sse-rs ignores it, as NaN equals no room: ` +
      'join() joins nothing (and returns true, as simple-sse 0.0.3 did), in() returns false, ' +
      'broadcast() reaches nobody, client.rooms = [...] skips it, and leave() leaves every room ' +
      '(as 0.0.3 did for NaN). The usual cause is parseInt() or Number() of a parameter that is ' +
      'not a number (/stream/abc). This warning is shown once.',
  )
}

/** A room `isIgnoredRoom` does not ignore: a string or a number, else a TypeError. */
function checkRoom(room) {
  if (typeof room === 'string' || typeof room === 'number') return room
  throw new TypeError(`room must be a string or a number, got ${describe(room)}`)
}

function checkEvent(event) {
  if (event === null) return null
  if (typeof event === 'number') return String(event)
  if (typeof event !== 'string') {
    throw new TypeError(`event must be a string, got ${describe(event)}`)
  }
  if (/[\r\n]/.test(event)) {
    throw new TypeError('event must not contain line breaks (\\r or \\n): it could inject fields')
  }
  return event
}

function encodeData(data) {
  switch (typeof data) {
    case 'string':
      return data
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(data)
    case 'object': {
      const json = JSON.stringify(data)
      if (json === undefined) throw new TypeError('data must serialize to JSON')
      return json
    }
    default:
      throw new TypeError(
        `data must be a string, number, boolean, object or null, got ${describe(data)}`,
      )
  }
}

/** Shared by send and broadcast: (event, data) as given -> [event|null, data string], or null for "nothing". */
function message(event, data) {
  if (data === undefined) {
    if (event === undefined) return null
    return [null, encodeData(event)]
  }
  return [event === undefined ? null : checkEvent(event), encodeData(data)]
}

/** A retry delay -> whole ms, or null (with a warning, once) for a missing one, which is ignored. */
function checkRetry(retry) {
  if (isMissing(retry)) {
    warnOnce(
      'SIMPLE_SSE_RS_NULL_RETRY',
      `sse.setRetry() got a retry that is ${retry}; it is ignored (simple-sse 0.0.3 wrote ` +
        `"retry: ${retry}", which browsers ignore). This warning is shown once.`,
    )
    return null
  }
  const ms = typeof retry === 'string' && /^\d+$/.test(retry) ? Number(retry) : retry
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 0xffffffff) {
    throw new RangeError(`retry must be a whole number of milliseconds >= 0, got ${show(retry)}`)
  }
  return ms
}

/** A number, or a string of digits (as from `process.env`) as that number; anything else as is. */
const digits = (value) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value)

/**
 * A heartbeat interval: whole ms (a number, or a string of digits) -> ms; null (with a
 * warning, once) for undefined or null (an unset environment variable: the interval stays).
 * A fraction is refused: an interval in seconds written where ms are meant (0.5) would
 * otherwise send a heartbeat every millisecond, as setInterval rounds it up to 1.
 */
function checkHeartbeat(value) {
  if (isMissing(value)) {
    warnOnce(
      'SIMPLE_SSE_RS_NULL_HEARTBEAT',
      `sse.heartbeat was set to ${value} (an unset environment variable?); the interval is ` +
        'left as it was (simple-sse 0.0.3 then sent a heartbeat every millisecond). ' +
        'This warning is shown once.',
    )
    return null
  }
  const ms = digits(value)
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 0x7fffffff) {
    throw new RangeError(
      'heartbeat must be a whole number of milliseconds in [0, 2^31) or a string of digits, ' +
        `got ${show(value)}`,
    )
  }
  return ms
}

/** maxPendingBytes: a whole number >= 1, or a string of digits -> bytes. */
function checkMaxPendingBytes(value) {
  const bytes = digits(value)
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 1) {
    throw new RangeError(
      `maxPendingBytes must be a whole number of bytes >= 1 or a string of digits, got ${show(value)}`,
    )
  }
  return bytes
}

/** `sse.history`: a whole number of broadcasts in [0, 2^32), or a string of digits. */
function checkHistory(size) {
  const n = typeof size === 'string' && /^\d+$/.test(size) ? Number(size) : size
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new RangeError(`history must be a whole number of broadcasts >= 0, got ${String(size)}`)
  }
  return n
}

module.exports = {
  warnOnce,
  describe,
  show,
  isMissing,
  warnMissingRoom,
  isIgnoredRoom,
  warnIgnoredRoom,
  checkRoom,
  checkEvent,
  encodeData,
  message,
  checkRetry,
  checkHeartbeat,
  checkMaxPendingBytes,
  checkHistory,
}
