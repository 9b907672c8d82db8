'use strict'
// Argument checks and data encoding shared by the API: clear TypeErrors/RangeErrors naming the argument.

function describe(value) {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value
}

function checkRoom(room) {
  if (typeof room === 'string') return room
  if (typeof room === 'number') {
    if (Number.isNaN(room)) throw new RangeError('room must not be NaN')
    return room
  }
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

function checkRetry(retry) {
  const ms = typeof retry === 'string' && /^\d+$/.test(retry) ? Number(retry) : retry
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 0xffffffff) {
    throw new RangeError(`retry must be a whole number of milliseconds >= 0, got ${String(retry)}`)
  }
  return ms
}

module.exports = { describe, checkRoom, checkEvent, encodeData, message, checkRetry }
