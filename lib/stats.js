'use strict'
// `sse.stats()`: one snapshot assembled from Rust's counters (clients, rooms, pending
// bytes, drops, history), the Redis link's, and which binding was loaded.

/** `binding`: lib/binding.js's name of the loaded build. */
function createStats({ hub, binding }) {
  return function stats() {
    const stats = hub.stats()
    const { history } = stats
    history.oldestId = history.oldestId ?? null
    history.newestId = history.newestId ?? null
    stats.redis = hub.redisStats()
    stats.binding = binding
    return stats
  }
}

module.exports = { createStats }
