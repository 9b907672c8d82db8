'use strict'
// Windows Node.js under wine, for the tests only (never in the package): what is missing,
// the wine prefix (made once), and running node.exe with its output captured.
//
//   node scripts/wine            makes the prefix (what .ci/run does while targets build)
//   require('./scripts/wine').run(nodeExe, args, { cwd, env }) -> { code, out }
//
// node.exe dies with EBADF when its stdout is a Unix pipe, so output goes to a file, read
// back afterwards (stderr's '\r\n' line ends become '\n'). A Windows process sees the Linux
// filesystem as drive Z: (winPath). SIMPLE_SSE_RS_WINEPREFIX overrides the prefix folder.

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..', '..')
const PREFIX = path.resolve(process.env.SIMPLE_SSE_RS_WINEPREFIX || path.join(root, '.cache', 'wine-prefix'))
const READY = path.join(PREFIX, '.simple-sse-rs-ready')
/** The preload that makes undici's fetch connect under wine (see keepalive-shim.js). */
const SHIM = path.join(__dirname, 'keepalive-shim.js')

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

/** What running Windows Node.js here still needs (apt packages), as install hints; [] if nothing. */
function missing() {
  const out = []
  if (!has('wine')) out.push('wine (apt-get install wine wine64)')
  if (!fs.existsSync(READY) && !has('x86_64-w64-mingw32-gcc')) {
    out.push('MinGW, for the wine prefix\'s bcryptprimitives.dll shim (apt-get install gcc-mingw-w64-x86-64)')
  }
  return out
}

/** The wine prefix, made on first use (about 5-30 s). */
function prefix() {
  if (fs.existsSync(READY)) return PREFIX
  fs.mkdirSync(PREFIX, { recursive: true })
  const r = spawnSync('bash', [path.join(__dirname, 'wine-prefix.sh')], {
    env: { ...process.env, WINEPREFIX: PREFIX, WINEDEBUG: '-all' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  if (r.status !== 0) throw new Error(`wine-prefix.sh failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`)
  fs.writeFileSync(READY, r.stdout)
  return PREFIX
}

/** A Linux path as a Windows process under wine sees it. */
function winPath(p) {
  return `Z:${path.resolve(p).split(path.sep).join('/')}`
}

/** Environment for a Windows process: the test runner's child variables dropped, wine's set. */
function wineEnv(env = process.env) {
  const out = { ...env, WINEPREFIX: prefix(), WINEDEBUG: '-all' }
  delete out.NODE_TEST_CONTEXT
  delete out.NODE_OPTIONS // may name Linux paths
  delete out.NAPI_RS_FORCE_WASI
  delete out.NAPI_RS_NATIVE_LIBRARY_PATH
  return out
}

/**
 * Runs `wine nodeExe ...args` (with the keepalive shim preloaded unless `shim: false`);
 * resolves { code, out } with stdout and stderr together.
 */
function run(nodeExe, args, { cwd = root, env = process.env, shim = true, timeout = 600000 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-wine-'))
  const file = path.join(dir, 'out.txt')
  const fd = fs.openSync(file, 'w')
  const pre = shim ? [`--require=${winPath(SHIM)}`] : []
  const child = spawn('wine', [nodeExe, ...pre, ...args], { cwd, env: wineEnv(env), stdio: ['ignore', fd, fd] })
  fs.closeSync(fd)
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout)
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      const out = fs.readFileSync(file, 'utf8').replace(/\r\n/g, '\n')
      fs.rmSync(dir, { recursive: true, force: true })
      resolve({ code: signal ? `killed by ${signal}` : code, out })
    })
  })
}

module.exports = { PREFIX, SHIM, missing, prefix, winPath, run }

if (require.main === module) {
  const lacking = missing()
  if (lacking.length > 0) {
    console.error(`wine: needs ${lacking.join(', ')}`)
    process.exit(1)
  }
  console.log(`wine prefix ready: ${prefix()}`)
}
