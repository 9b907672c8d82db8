'use strict'
// For the single-purpose benchmarks (history.js, redis.js): numeric command-line options,
// and server processes forked from the benchmark's own file, each serving this package
// under bench/lib/server.js and driven over IPC.

const { fork } = require('node:child_process')
const { once } = require('node:events')

/** `--name N` on the command line, as a number; `fallback` when absent. */
function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`)
  return at === -1 ? fallback : Number(process.argv[at + 1])
}

/** Runs `server()` in a process forked with `flag` (see forkServer), else `main()`. */
function entry(flag, server, main) {
  const run = process.argv[2] === flag ? server : main
  Promise.resolve()
    .then(run)
    .catch((err) => {
      console.error(err)
      process.exit(1)
    })
}

/** Forks `file` with `flag` and `env`; resolves with { port, request(cmd, args), exit() } once it listens. */
async function forkServer(file, flag, env) {
  const child = fork(file, [flag], { env: { ...process.env, ...env }, execArgv: ['--expose-gc'] })
  const replies = new Map()
  let nextId = 1
  const [hello] = await once(child, 'message')
  child.on('message', (msg) => {
    const reply = replies.get(msg.id)
    replies.delete(msg.id)
    if (reply) reply(msg)
  })
  return {
    port: hello.port,
    request(cmd, args = {}) {
      const id = nextId++
      return new Promise((resolve, reject) => {
        replies.set(id, (msg) => (msg.error ? reject(new Error(msg.error)) : resolve(msg)))
        child.send({ ...args, id, cmd })
      })
    },
    /** bench/lib/server exits when its parent disconnects. */
    exit() {
      child.disconnect()
      return once(child, 'exit')
    },
  }
}

module.exports = { option, entry, forkServer }
