'use strict'
// Several processes, the JS side: `useRedis` options and errors, the 'redis' status event,
// and keeping the process alive while broadcasts wait to be published. The link itself
// (pub/sub or a Redis Stream, its queue and tasks) is Rust's (src/redis/, src/hub_redis.rs).

/** Most time the loop is held for broadcasts Redis has not taken, without progress. */
const REDIS_HOLD_MS = 3000

/** `emit(info)`: emits a 'redis' event on `sse`. */
function createRedis({ hub, emit }) {
  /** True from useRedis until closeRedis: broadcasts may wait for Redis. */
  let inUse = false
  let hold = null

  /**
   * Keeps the process alive while broadcasts wait to be published, so one that ends
   * without closeRedis() still shares what it broadcast: until nothing waits, or until
   * Redis made no progress for REDIS_HOLD_MS (it is down).
   */
  function holdForRedis() {
    if (hold !== null) return
    let pending = hub.redisPending()
    if (pending === 0) return
    let progress = Date.now()
    hold = setInterval(() => {
      const now = hub.redisPending()
      if (now < pending) progress = Date.now()
      pending = now
      if (now === 0 || Date.now() - progress > REDIS_HOLD_MS) {
        clearInterval(hold)
        hold = null
      }
    }, 5)
  }

  /**
   * Shares broadcasts with every process using the same Redis under the same prefix:
   * pub/sub when history is off, a Redis Stream when it is on. Resolves once connected;
   * rejects (and stays local) when Redis cannot be reached.
   */
  function use(options) {
    const opts = typeof options === 'string' ? { url: options } : options
    if (opts === null || typeof opts !== 'object' || typeof opts.url !== 'string') {
      return Promise.reject(
        new TypeError('useRedis needs a redis:// URL or { url, prefix } options'),
      )
    }
    const prefix = opts.prefix === undefined ? 'simple-sse' : opts.prefix
    if (typeof prefix !== 'string' || prefix === '') {
      return Promise.reject(new TypeError('prefix must be a non-empty string'))
    }
    const linked = hub.useRedis(opts.url, prefix, (status, detail, dropped) => {
      emit(dropped == null ? { status, detail } : { status, detail, dropped })
    })
    inUse = true
    return linked.catch((err) => {
      inUse = hub.redisStats() !== null
      throw err
    })
  }

  /** Stops sharing broadcasts; resolves once the Redis connections are closed. */
  function close() {
    inUse = false
    return hub.closeRedis()
  }

  return {
    use,
    close,
    /** After each broadcast: while Redis is in use, hold the process until it is published. */
    afterBroadcast() {
      if (inUse) holdForRedis()
    },
  }
}

module.exports = { createRedis, REDIS_HOLD_MS }
