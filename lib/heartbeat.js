'use strict'
// The heartbeat timer: `sse.heartbeat` (the interval in ms, 0 for none), and one unref'd
// interval that runs while there are clients, started by `add` and stopped when the last
// client goes or `close()` runs. What a heartbeat writes is `sse.sendHeartbeat`'s.

const { checkHeartbeat } = require('./checks')

/** `beat()`: sends one heartbeat. `hasClients()`: whether any client is live. */
function createHeartbeat({ beat, hasClients }) {
  let ms = 20000
  let timer = null

  /** Starts the timer, unless it runs, is off, or nobody listens. */
  function start() {
    if (timer !== null || ms === 0 || !hasClients()) return
    // The global setInterval, looked up at each start (tests watch it).
    timer = setInterval(beat, ms)
    timer.unref()
  }

  function stop() {
    if (timer === null) return
    clearInterval(timer)
    timer = null
  }

  return {
    start,
    stop,
    /** `sse.heartbeat` */
    get ms() {
      return ms
    },
    /** `sse.heartbeat = value`: checked (a missing value is ignored), then the timer restarts. */
    set ms(value) {
      const checked = checkHeartbeat(value)
      if (checked === null) return
      ms = checked
      stop()
      start()
    },
  }
}

module.exports = { createHeartbeat }
