'use strict'
// lib/binding.js, the loader: local build → platform package → WASI build → one clear
// error. Each case copies index.js and lib/ into a temp dir laid out as an installed
// package would be, and requires it in a child process (a .node loads once per process).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')
const { root, built, hostPlatform, skipUnless, wasiEnv } = require('./fixtures/targets')

const platform = hostPlatform()
const wasiBuild = built('wasm32-wasi')
const noWasi = skipUnless(wasiBuild, 'the WASI build is missing: npm run build:targets wasm32-wasi')
// The host's addon as a platform package would hold it: the local build, or build:targets'.
const hostAddon = [path.join(root, `simple-sse-rs.${platform}.node`), built(platform)].find(
  (f) => f && fs.existsSync(f),
)

/** A copy of the package's JS (no addon) in a temp dir; `packages` go in its node_modules. */
function fakeInstall(t, packages = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simple-sse-rs-loader-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const pkg = path.join(dir, 'node_modules', 'simple-sse-rs')
  fs.mkdirSync(pkg, { recursive: true })
  for (const f of ['index.js', 'package.json']) fs.copyFileSync(path.join(root, f), path.join(pkg, f))
  fs.cpSync(path.join(root, 'lib'), path.join(pkg, 'lib'), { recursive: true })
  for (const [name, files] of Object.entries(packages)) {
    const to = path.join(dir, 'node_modules', name)
    fs.mkdirSync(to, { recursive: true })
    for (const file of files) fs.copyFileSync(file, path.join(to, path.basename(file)))
  }
  return dir
}

/** Requires the package in `dir` in a child; returns { status, binding, stats, stderr }. */
function load(dir, env = process.env) {
  const code = `const s = require('simple-sse-rs'); process.stdout.write(JSON.stringify({ binding: s.binding, stats: s.stats().binding }))`
  // NODE_PATH: the WASI loader's runtime (@napi-rs/wasm-runtime) comes from this checkout.
  const r = spawnSync(process.execPath, ['-e', code], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...env, NODE_PATH: path.join(root, 'node_modules') },
  })
  const out = r.status === 0 ? JSON.parse(r.stdout) : {}
  return { status: r.status, stderr: r.stderr, ...out }
}

function wasiPackageFiles() {
  const dir = path.dirname(wasiBuild)
  return fs
    .readdirSync(dir)
    .filter((f) => /\.(wasm|cjs|mjs|json)$/.test(f))
    .map((f) => path.join(dir, f))
}

test('no build anywhere: one error naming the platform, what was tried, the supported platforms and what to do', (t) => {
  const dir = fakeInstall(t)
  const r = spawnSync(process.execPath, ['-e', "require('simple-sse-rs')"], { cwd: dir, encoding: 'utf8' })
  assert.notEqual(r.status, 0)
  const msg = r.stderr
  assert.match(msg, new RegExp(`no build of its native addon loads on this platform \\(${platform}, Node\\.js v`))
  assert.match(msg, new RegExp(`Tried:\\n  - .*simple-sse-rs\\.${platform}\\.node: not found`))
  assert.match(msg, new RegExp(`  - package simple-sse-rs-${platform}: not installed`))
  assert.match(msg, /  - package simple-sse-rs-wasm32-wasi \(the WASI build\): not installed/)
  assert.match(msg, /Prebuilt packages exist for: linux-x64-gnu, linux-arm64-gnu, linux-x64-musl, linux-arm64-musl, darwin-x64, darwin-arm64, win32-x64-msvc/)
  assert.match(msg, /What to do:/)
  assert.match(msg, /npm install --cpu=wasm32 simple-sse-rs-wasm32-wasi/)
  assert.match(msg, /code: 'SIMPLE_SSE_RS_NO_ADDON'/)
  // Nothing can be built inside node_modules: the message must not send users there.
  assert.doesNotMatch(msg, /npm run build|cargo/)
})

test('an installed platform package is loaded and named in binding and stats()', { skip: hostAddon ? false : 'build the addon first: npm run build' }, (t) => {
  const dir = fakeInstall(t, {
    [`simple-sse-rs-${platform}`]: [path.join(root, 'npm', platform, 'package.json'), hostAddon],
  })
  // The platform package's main is the addon itself.
  fs.renameSync(
    path.join(dir, 'node_modules', `simple-sse-rs-${platform}`, path.basename(hostAddon)),
    path.join(dir, 'node_modules', `simple-sse-rs-${platform}`, `simple-sse-rs.${platform}.node`),
  )
  const r = load(dir)
  assert.equal(r.stderr, '')
  assert.equal(r.status, 0)
  assert.equal(r.binding, platform)
  assert.equal(r.stats, platform)
})

test('a development checkout loads its local build', () => {
  const out = execFileSync(
    process.execPath,
    ['-e', `const sse = require(${JSON.stringify(root)}); process.stdout.write(typeof sse.add + ' ' + sse.heartbeat + ' ' + sse.binding)`],
    { cwd: os.tmpdir(), encoding: 'utf8', env: { ...process.env, NAPI_RS_FORCE_WASI: '' } },
  )
  assert.equal(out, `function 20000 ${platform}`)
})

test('no native build: the WASI package is the fallback, with one warning saying so', { skip: noWasi }, (t) => {
  const dir = fakeInstall(t, { 'simple-sse-rs-wasm32-wasi': wasiPackageFiles() })
  const r = load(dir, { ...process.env, NODE_OPTIONS: '--disable-warning=ExperimentalWarning' })
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.binding, 'wasm32-wasi')
  assert.equal(r.stats, 'wasm32-wasi')
  assert.match(r.stderr, new RegExp(`SimpleSseRsWarning: no native addon for ${platform} loaded; using the WASI build`))
  assert.equal(r.stderr.match(/SimpleSseRsWarning/g).length, 1)
})

test('NAPI_RS_FORCE_WASI=1 loads the WASI build even where a native one exists, without the fallback warning', { skip: noWasi }, (t) => {
  const dir = fakeInstall(t, {
    'simple-sse-rs-wasm32-wasi': wasiPackageFiles(),
    ...(hostAddon ? { [`simple-sse-rs-${platform}`]: [path.join(root, 'npm', platform, 'package.json'), hostAddon] } : {}),
  })
  const r = load(dir, wasiEnv())
  assert.equal(r.stderr, '')
  assert.equal(r.status, 0)
  assert.equal(r.binding, 'wasm32-wasi')
  // And in this checkout (the build in npm/wasm32-wasi/), useRedis says why it is not there.
  const code = `const s = require('.'); s.useRedis('redis://127.0.0.1:9').then(() => console.log('resolved'), (e) => console.log(s.binding, e.message))`
  const out = execFileSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8', env: wasiEnv() })
  assert.match(out, /^wasm32-wasi useRedis is not available in the WASI build of simple-sse-rs/)
})

test('a build from another version (its Hub lacks a method this JS calls) is refused by name, not loaded', (t) => {
  const dir = fakeInstall(t)
  const pkg = path.join(dir, 'node_modules', `simple-sse-rs-${platform}`)
  fs.mkdirSync(pkg)
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: `simple-sse-rs-${platform}`, main: 'stale.js' }))
  // Everything but forgetFd, as a build from before the direct path borrowed descriptors.
  const methods = ['drain', 'take', 'takeUrgent', 'setDirect', 'setFramed', 'pause', 'resume', 'holdForReplay', 'startReplay', 'takeGaps']
  fs.writeFileSync(path.join(pkg, 'stale.js'), `class Hub {}\nfor (const m of ${JSON.stringify(methods)}) Hub.prototype[m] = function () {}\nmodule.exports = { Hub }\n`)
  const r = spawnSync(process.execPath, ['-e', "require('simple-sse-rs')"], { cwd: dir, encoding: 'utf8' })
  assert.notEqual(r.status, 0)
  assert.match(r.stderr, new RegExp(`  - package simple-sse-rs-${platform}: from another version of simple-sse-rs \\(no Hub\\.forgetFd\\); install the same version as simple-sse-rs itself`))
  assert.match(r.stderr, /SIMPLE_SSE_RS_NO_ADDON/)
})

test('NAPI_RS_FORCE_WASI=1 without a WASI build fails with the same clear error', (t) => {
  const dir = fakeInstall(t)
  const r = spawnSync(process.execPath, ['-e', "require('simple-sse-rs')"], { cwd: dir, encoding: 'utf8', env: wasiEnv() })
  assert.notEqual(r.status, 0)
  assert.match(r.stderr, new RegExp(`the native addon for ${platform}: skipped \\(NAPI_RS_FORCE_WASI is set\\)`))
  assert.match(r.stderr, /SIMPLE_SSE_RS_NO_ADDON/)
})

test('a platform without a prebuilt package: the error names it and points to the WASI build', { skip: process.platform === 'linux' ? false : 'Linux only' }, (t) => {
  const dir = fakeInstall(t)
  const code = "Object.defineProperty(process, 'arch', { value: 'riscv64' }); require('simple-sse-rs')"
  const r = spawnSync(process.execPath, ['-e', code], { cwd: dir, encoding: 'utf8' })
  assert.notEqual(r.status, 0)
  assert.match(r.stderr, /no build of its native addon loads on this platform \(linux-riscv64-(gnu|musl), /)
  assert.match(r.stderr, /package simple-sse-rs-linux-riscv64-(gnu|musl): not installed/)
  assert.match(r.stderr, /There is no prebuilt native package for linux-riscv64-(gnu|musl): use the WASI build,\n +npm install --cpu=wasm32 simple-sse-rs-wasm32-wasi/)
})

test('a native build that fails to load is named in the fallback warning', { skip: noWasi }, (t) => {
  // A broken "addon" in the platform package: the loader says why, then falls back to WASI.
  const dir = fakeInstall(t, { 'simple-sse-rs-wasm32-wasi': wasiPackageFiles() })
  const pkg = path.join(dir, 'node_modules', `simple-sse-rs-${platform}`)
  fs.mkdirSync(pkg)
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: `simple-sse-rs-${platform}`, main: `simple-sse-rs.${platform}.node` }))
  fs.writeFileSync(path.join(pkg, `simple-sse-rs.${platform}.node`), 'not a shared object')
  const r = load(dir, { ...process.env, NODE_OPTIONS: '--disable-warning=ExperimentalWarning' })
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.binding, 'wasm32-wasi')
  assert.match(r.stderr, new RegExp(`no native addon for ${platform} loaded \\(package simple-sse-rs-${platform}: does not load \\(.+\\)\\); using the WASI build`))
})
