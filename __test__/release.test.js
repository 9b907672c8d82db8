'use strict'
// The release rehearsed: the main package and every built platform package are published to
// a local registry (verdaccio on 127.0.0.1, scripts/release-rehearsal.js), then empty
// projects install `simple-sse-rs` by name, as users do: natively, with --cpu=arm64 (run
// under qemu-user on Debian's arm64 Node.js 18), --os=win32 (run by Windows Node.js in
// wine), --libc=musl (run by a musl Bun on musl's own loader, scripts/musl-root.sh) and
// --cpu=wasm32 (the WASI build, as the fallback); Deno (`npm:simple-sse-rs`) and Bun
// (`bun add`) install it from the registry too. Each install gets exactly one platform
// package (Deno, which ignores `libc`, both Linux x64 ones), and each serves an SSE client
// (fixtures/consumer.mjs) with the bytes Node.js on Linux sends.
// The Windows package is a stand-in: simple-sse-rs-win32-x64-msvc holding the MinGW build.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { root, ci, built, hostPlatform, skipUnless, arm64Root, arm64Skip, arm64Node, ownRunEnv } = require('./fixtures/targets')
const runtimes = require('../scripts/runtimes')
const wine = require('../scripts/wine')
const rehearsal = require('../scripts/release-rehearsal')

const NAME = 'simple-sse-rs'
const CONSUMER = path.join(__dirname, 'fixtures', 'consumer.mjs')
const EXPECTED_TEXT = 'id: 0\nevent: hello\ndata: {"from":"consumer"}\n\n'
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const PLATFORMS = Object.keys(manifest.optionalDependencies).map((n) => n.slice(NAME.length + 1))
const platform = hostPlatform()

const haveVerdaccio = fs.existsSync(path.join(root, 'scripts', 'verdaccio', 'node_modules', 'verdaccio'))
const skip = skipUnless(haveVerdaccio, 'needs verdaccio (npm ci --prefix scripts/verdaccio)')

/** A runtime's executable (fetched under CI), or null. */
function runtime(name) {
  return ci ? runtimes.ensure(name) : runtimes.find(name)
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-release-'))
let registry = null
let published = null

before(async () => {
  if (skip) return
  registry = await rehearsal.startRegistry({ dir: fs.mkdtempSync(path.join(tmp, 'registry-')) })
  published = await rehearsal.publishAll(registry)
})

after(async () => {
  if (registry) await registry.stop()
  fs.rmSync(tmp, { recursive: true, force: true })
})

function run(cmd, args, { cwd, env = {}, timeout = 300000 } = {}) {
  return new Promise((resolve, reject) => {
    const full = { ...ownRunEnv(), NO_COLOR: '1', ...(registry ? registry.env : {}), ...env }
    execFile(cmd, args, { cwd, env: full, timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`))
      else resolve({ stdout, stderr })
    })
  })
}

/** An empty project with the consumer program in it. */
function project(name) {
  const dir = path.join(tmp, name)
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `rehearsal-${name}`, private: true }))
  fs.copyFileSync(CONSUMER, path.join(dir, 'consumer.mjs'))
  return dir
}

function ours(dir) {
  const nm = path.join(dir, 'node_modules')
  return fs.existsSync(nm) ? fs.readdirSync(nm).filter((n) => n.startsWith(NAME)).sort() : []
}

/** `npm install simple-sse-rs [flags]` by name in a new project; returns its folder. */
async function install(name, flags = []) {
  const dir = project(name)
  await run('npm', ['install', '--no-audit', '--no-fund', ...flags, NAME], { cwd: dir })
  return dir
}

/** The consumer's JSON line, checked: the build it names, the exact bytes. */
function served(stdout, binding) {
  const got = JSON.parse(stdout.trim().split('\n').pop())
  assert.equal(got.binding, binding)
  assert.equal(got.stats, binding)
  assert.equal(got.contentType, 'text/event-stream')
  assert.equal(got.text, EXPECTED_TEXT)
  return got
}

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')
}

test('the registry holds the main package and every platform package, at the same version', { skip }, async () => {
  if (ci) assert.deepEqual([...published.published].sort(), [NAME, ...PLATFORMS.map((p) => `${NAME}-${p}`)].sort())
  for (const name of published.published) {
    const res = await fetch(`${registry.url}${name}`)
    assert.equal(res.status, 200, name)
    const doc = await res.json()
    assert.deepEqual(Object.keys(doc.versions), [manifest.version], name)
  }
  // Our names are never looked up upstream: one not published here does not exist.
  assert.equal((await fetch(`${registry.url}${NAME}-not-a-platform`)).status, 404)
})

test(`natively: exactly ${platform}'s package is installed, and it serves`, { skip: skip || skipUnless(built(platform), `npm run build:targets ${platform}`) }, async () => {
  const dir = await install('native')
  assert.deepEqual(ours(dir), [NAME, `${NAME}-${platform}`])
  const { stdout, stderr } = await run(process.execPath, ['consumer.mjs'], { cwd: dir })
  assert.equal(stderr, '')
  const got = served(stdout, platform)
  assert.equal(got.resolved, path.join(fs.realpathSync(dir), 'node_modules', NAME, 'index.js'))
  // The published build itself, nothing built at install time.
  const file = path.join(dir, 'node_modules', `${NAME}-${platform}`, `${NAME}.${platform}.node`)
  assert.equal(sha256(file), sha256(built(platform)))
})

test("--cpu=arm64: exactly linux-arm64-gnu, serving under qemu-user on Debian's arm64 Node.js 18", { skip: skip || arm64Skip() }, async () => {
  const dir = await install('arm64', ['--cpu=arm64'])
  assert.deepEqual(ours(dir), [NAME, `${NAME}-linux-arm64-gnu`])
  const { cmd, args } = arm64Node(arm64Root())
  const { stdout } = await run(cmd, [...args, 'consumer.mjs'], { cwd: dir })
  const got = served(stdout, 'linux-arm64-gnu')
  assert.equal(got.arch, 'arm64')
})

const nodeWin = runtime('node-win')
const wineLacks = [...wine.missing(), ...(nodeWin ? [] : ['Windows Node.js (node scripts/runtimes.js node-win)'])]
if (!built('win32-x64-gnu')) wineLacks.push('the MinGW build (npm run build:targets win32-x64-gnu)')
test('--os=win32: exactly win32-x64-msvc (holding the MinGW build), serving under Windows Node.js in wine', { skip: skip || skipUnless(wineLacks.length === 0, `needs ${wineLacks.join(', ')}`) }, async () => {
  assert.match(published.standIns['win32-x64-msvc'] || '', /MinGW/)
  const dir = await install('win32', ['--os=win32'])
  assert.deepEqual(ours(dir), [NAME, `${NAME}-win32-x64-msvc`])
  const file = path.join(dir, 'node_modules', `${NAME}-win32-x64-msvc`, `${NAME}.win32-x64-msvc.node`)
  assert.equal(sha256(file), sha256(built('win32-x64-gnu')), 'the installed artifact is the MinGW build')
  const { code, out } = await wine.run(nodeWin, ['consumer.mjs'], { cwd: dir })
  assert.equal(code, 0, out)
  const got = served(out, 'win32-x64-msvc')
  assert.equal(got.platform, 'win32')
})

const muslRoot = path.join(root, '.cache', 'musl-root')
const bunMusl = runtime('bun-musl')
const muslLacks = []
if (!fs.existsSync(path.join(muslRoot, 'lib', 'libstdc++.so.6'))) muslLacks.push('a musl loader and libstdc++ (bash scripts/musl-root.sh)')
if (!bunMusl) muslLacks.push('a musl Bun (node scripts/runtimes.js bun-musl)')
if (!built('linux-x64-musl')) muslLacks.push('the musl build (npm run build:targets linux-x64-musl)')
test('--libc=musl: exactly linux-x64-musl, serving under a musl-linked Bun', { skip: skip || skipUnless(muslLacks.length === 0, `needs ${muslLacks.join(', ')}`) }, async () => {
  const dir = await install('musl', ['--libc=musl'])
  assert.deepEqual(ours(dir), [NAME, `${NAME}-linux-x64-musl`])
  const loader = path.join(muslRoot, 'usr', 'lib', 'x86_64-linux-musl', 'libc.so')
  const { stdout } = await run(loader, ['--library-path', path.join(muslRoot, 'lib'), bunMusl, 'consumer.mjs'], { cwd: dir })
  const got = served(stdout, 'linux-x64-musl')
  assert.equal(got.runtime, 'bun')
})

test('--cpu=wasm32: exactly the WASI package (its dependencies from upstream), serving as the fallback', { skip: skip || skipUnless(built('wasm32-wasi'), 'npm run build:targets wasm32-wasi') }, async () => {
  const dir = await install('wasi', ['--cpu=wasm32'])
  assert.deepEqual(ours(dir), [NAME, `${NAME}-wasm32-wasi`])
  assert.ok(fs.existsSync(path.join(dir, 'node_modules', '@napi-rs', 'wasm-runtime')), '@napi-rs/wasm-runtime came through the uplink')
  const { stdout, stderr } = await run(process.execPath, ['--disable-warning=ExperimentalWarning', 'consumer.mjs'], { cwd: dir })
  served(stdout, 'wasm32-wasi')
  assert.match(stderr, /SimpleSseRsWarning: no native addon for .* loaded; using the WASI build/)
})

const deno = runtime('deno')
test('Deno: npm:simple-sse-rs from the registry serves', { skip: skip || skipUnless(deno && built(platform), 'needs deno (node scripts/runtimes.js deno) and the native build') }, async (t) => {
  // Deno refuses a package one of whose optionalDependencies is not on the registry.
  const missing = PLATFORMS.filter((p) => !published.published.includes(`${NAME}-${p}`))
  if (missing.length > 0 && !ci) return t.skip(`needs every platform package built (npm run build:targets); missing: ${missing.join(', ')}`)
  const dir = fs.mkdtempSync(path.join(tmp, 'deno-'))
  fs.copyFileSync(CONSUMER, path.join(dir, 'consumer.mjs'))
  const { stdout } = await run(
    deno,
    ['run', '--allow-all', '--node-modules-dir=auto', '--minimum-dependency-age=0', 'consumer.mjs', `npm:${NAME}`],
    { cwd: dir, env: { DENO_DIR: path.join(dir, '.deno') } },
  )
  served(stdout, platform)
  // Deno ignores `libc`: it installs both Linux x64 packages, and the loader picks glibc's.
  const installed = fs.readdirSync(path.join(dir, 'node_modules', '.deno')).filter((n) => n.startsWith(`${NAME}-`))
  assert.ok(installed.some((n) => n.startsWith(`${NAME}-${platform}@`)), installed.join(' '))
})

const bun = runtime('bun')
test(`Bun: bun add simple-sse-rs installs exactly ${platform}'s package, and it serves`, { skip: skip || skipUnless(bun && built(platform), 'needs bun (node scripts/runtimes.js bun) and the native build') }, async () => {
  const dir = project('bun')
  await run(bun, ['add', NAME], { cwd: dir, env: { BUN_INSTALL_CACHE_DIR: path.join(dir, '.bun-cache') } })
  assert.deepEqual(ours(dir), [NAME, `${NAME}-${platform}`])
  const { stdout } = await run(bun, ['consumer.mjs'], { cwd: dir })
  served(stdout, platform)
})
