'use strict'
// The clients' lifecycle events: 'add' (inside add) and 'remove' (with its reason), the
// latter held while a batch of writes (or close()) runs and emitted once it is over, as
// 'drop' is, so a listener never runs in the middle of a batch.

/**
 * `emitter`: the `sse` object. `busy()`: whether a batch is being written now (the writer
 * then calls `batchDone()` when the outermost one is over).
 */
function createLifecycle(emitter, busy) {
  /** 'remove' events waiting for the batch to end: client, reason, client, reason… */
  let queue = []
  /** > 0 while close() runs: removals are then held, and a connection ending is 'shutdown'. */
  let held = 0

  /**
   * Emits the queued events. Every listener call happens; a listener's exception is thrown
   * to the caller (the first; the others are uncaught, in order) when `toCaller`, else all
   * are uncaught (after a batch, which may have been written from the wake-up: no caller).
   */
  function emitQueued(toCaller) {
    const list = queue
    queue = []
    let first = null
    for (let i = 0; i < list.length; i += 2) {
      try {
        emitter.emit('remove', list[i], { reason: list[i + 1] })
      } catch (err) {
        if (toCaller && first === null) first = { err }
        else {
          process.nextTick(() => {
            throw err
          })
        }
      }
    }
    if (first !== null) throw first.err
  }

  return {
    /** A client was added: emitted now. */
    added(client) {
      emitter.emit('add', client)
    },
    /** A client left the registry (`reason`: closed, removed, dropped, shutdown). */
    removed(client, reason) {
      if (emitter.listenerCount('remove') === 0) return
      queue.push(client, held !== 0 && reason === 'closed' ? 'shutdown' : reason)
      if (held === 0 && !busy()) emitQueued(true)
    },
    /** The outermost batch is written: emit what it removed. */
    batchDone() {
      if (held === 0 && queue.length !== 0) emitQueued(false)
    },
    /** Runs `fn` (close's work) with 'remove' events held until it returns (or throws). */
    shutdown(fn) {
      held++
      try {
        return fn()
      } finally {
        held--
        if (held === 0 && queue.length !== 0 && !busy()) emitQueued(true)
      }
    },
  }
}

module.exports = { createLifecycle }
