'use strict'
// The orchestrator's side of the server processes, shared by run.js and fanout.js: pinning
// to a core with a raised open-file limit, starting bench/servers/<lib>.js under
// lib/server.js's IPC protocol, and connecting a set of load clients to it.

const { spawn, execFileSync } = require('node:child_process')
const path = require('node:path')
const load = require('./load')

const TIMEOUT_MS = 60000

/** [cmd, args] that run `args` with a raised open-file limit, pinned to `core` (unpinned without taskset). */
function pinned(core, args) {
  const script =
    'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ' +
    'if command -v taskset >/dev/null; then exec taskset -c "$0" "$@"; else exec "$@"; fi'
  return ['bash', ['-c', script, String(core), ...args]]
}

/**
 * Re-runs `file` as the load process pinned to core 1 (with the raised limit), unless this
 * process is already it: returns true in the parent, which must then do nothing else.
 */
function reexecAsLoader(file) {
  if (process.env.BENCH_LOADER === '1') return false
  const [cmd, args] = pinned(1, [process.execPath, file])
  const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, BENCH_LOADER: '1' } })
  child.on('exit', (code, signal) => process.exit(signal ? 1 : code))
  return true
}

/** The open-file limit this process got. */
function fdLimit() {
  return Number(execFileSync('bash', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()) || 1024
}

/** Starts servers/<lib>.js pinned to core 0 with --expose-gc; resolves with { port, call(cmd, args), stop() }. */
async function startServer(lib, env = {}) {
  const file = path.join(__dirname, '..', 'servers', `${lib}.js`)
  const flags = (process.env.BENCH_SERVER_FLAGS || '').split(' ').filter(Boolean)
  const [cmd, args] = pinned(0, [process.execPath, '--expose-gc', ...flags, file])
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  })
  const waiting = new Map()
  let nextId = 1
  child.on('message', (msg) => {
    const resolve = waiting.get(msg.id)
    waiting.delete(msg.id)
    if (resolve) resolve(msg)
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const first = await Promise.race([
    new Promise((resolve) => waiting.set(0, resolve)),
    exited.then((code) => ({ error: `${lib} server exited (${code}) before listening` })),
  ])
  if (first.error) throw new Error(first.error)
  return {
    port: first.port,
    async call(cmd, args = {}) {
      const id = nextId++
      const reply = await new Promise((resolve) => {
        waiting.set(id, resolve)
        child.send({ id, cmd, ...args })
      })
      if (reply.error) throw new Error(`${lib} server, ${cmd}: ${reply.error}`)
      return reply
    },
    async stop() {
      await this.call('exit').catch(() => {})
      await exited
    },
  }
}

/**
 * Connects `set.clients` clients (`set.roomOf(i)`: client i's room or null; `set.first`:
 * the index of the first, default 0) and waits until the library registered every one
 * (besides those it had).
 */
async function connect(server, set) {
  const expected = (await server.call('count')).added + set.clients
  const first = set.first || 0
  const rooms = Array.from({ length: set.clients }, (_, i) => set.roomOf(first + i))
  const clients = await load.connectAll(server.port, rooms)
  if (first > 0) for (const c of clients) c.index += first
  const deadline = Date.now() + TIMEOUT_MS
  while ((await server.call('count')).added < expected) {
    if (Date.now() > deadline) throw new Error('the server did not register every client')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return clients
}

/** The commit measured, with "+dirty" when the package's own files had local changes. */
function gitHead() {
  const git = (args) => execFileSync('git', args, { cwd: path.join(__dirname, '..', '..'), encoding: 'utf8' }).trim()
  try {
    const dirty = git(['status', '--porcelain', '--', 'index.js', 'lib', 'src', 'Cargo.toml']) !== ''
    return git(['rev-parse', '--short', 'HEAD']) + (dirty ? '+dirty' : '')
  } catch {
    return null
  }
}

module.exports = { pinned, reexecAsLoader, fdLimit, startServer, connect, gitHead, TIMEOUT_MS }
