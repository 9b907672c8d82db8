'use strict'
// The published packages, as a user gets them: `npm pack` the main package and every
// built platform package (npm/<platform>/), then install the main tarball into empty
// projects with no Rust on PATH, the platform packages reaching npm exactly as they would
// from the registry (as the main package's optionalDependencies; `overrides` point their
// names at the tarballs). npm picks the one matching the platform, nothing is built and
// no install-script warning is printed; the package then serves a real SSE client:
// natively, with the WASI build (forced, and as the fallback where no native package
// matches), and the arm64 gnu build under qemu-user on Debian's arm64 Node.js 18.

const { test, describe, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFile } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { root, built, hostPlatform, skipUnless, arm64Root, arm64Skip, arm64Node, ownRunEnv, wasiEnv } = require('./fixtures/targets')

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const platform = hostPlatform()
const PLATFORMS = Object.keys(manifest.optionalDependencies).map((n) => n.replace('simple-sse-rs-', ''))

// No Rust anywhere: PATH holds node and the system's binaries only, and cargo/rustup homes
// point nowhere, so an install that tried to build would fail.
const noRustEnv = {
  ...ownRunEnv(),
  PATH: [path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(path.delimiter),
  CARGO_HOME: '/nonexistent',
  RUSTUP_HOME: '/nonexistent',
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
}

function run(cmd, args, cwd, env = noRustEnv) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, timeout: 120000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`))
      else resolve({ stdout, stderr })
    })
  })
}

// Runs in a consumer project: imports the installed package both ways, serves one SSE
// client, broadcasts one event to it and prints what the client received.
const CONSUMER = `
import sse, { add, join, broadcast, clients, binding } from 'simple-sse-rs'
import { createRequire } from 'node:module'
import http from 'node:http'

const require = createRequire(import.meta.url)
if (require('simple-sse-rs') !== sse) throw new Error('require() and import are different instances')
if (clients !== sse.clients) throw new Error('named exports are not the instance\\'s')

const server = http.createServer((req, res) => {
  join(add(req, res), 'packed')
  broadcast('packed', 'hello', { from: 'tarball' })
})
server.listen(0, '127.0.0.1', () => {
  http.get({ port: server.address().port, host: '127.0.0.1', path: '/' }, (res) => {
    let text = ''
    res.setEncoding('utf8')
    res.on('data', (chunk) => {
      text += chunk
      if (!text.endsWith('\\n\\n')) return
      console.log(JSON.stringify({
        resolved: require.resolve('simple-sse-rs'),
        binding,
        stats: sse.stats().binding,
        node: process.version,
        arch: process.arch,
        contentType: res.headers['content-type'],
        text,
      }))
      sse.close()
      server.close()
    })
  })
})
`
const EXPECTED_TEXT = 'id: 0\nevent: hello\ndata: {"from":"tarball"}\n\n'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-pack-'))
after(() => fs.rmSync(tmp, { recursive: true, force: true }))

/** filename of each packed platform package, by platform */
const tarballs = {}
let mainPacked

before(async () => {
  const { stdout } = await run(npm, ['pack', '--json', '--pack-destination', tmp], root)
  ;[mainPacked] = JSON.parse(stdout)
  for (const p of PLATFORMS) {
    if (!built(p)) continue
    const out = await run(npm, ['pack', '--json', '--pack-destination', tmp], path.join(root, 'npm', p))
    tarballs[p] = JSON.parse(out.stdout)[0]
  }
})

/** An empty project that installs the main tarball with `npm install [flags]`; returns its dir and npm's output. */
async function installProject(name, flags = []) {
  const dir = path.join(tmp, name)
  fs.mkdirSync(dir)
  const overrides = Object.fromEntries(
    Object.entries(tarballs).map(([p, t]) => [`simple-sse-rs-${p}`, `file:${path.join(tmp, t.filename)}`]),
  )
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true, overrides }))
  fs.writeFileSync(path.join(dir, 'consumer.mjs'), CONSUMER)
  const out = await run(npm, ['install', '--no-audit', '--no-fund', ...flags, path.join(tmp, mainPacked.filename)], dir)
  const installed = fs.readdirSync(path.join(dir, 'node_modules')).filter((n) => n.startsWith('simple-sse-rs'))
  return { dir, out: out.stdout + out.stderr, installed: installed.sort() }
}

function checkConsumer(out, dir, binding) {
  const got = JSON.parse(out)
  assert.equal(got.resolved, path.join(fs.realpathSync(dir), 'node_modules', 'simple-sse-rs', 'index.js'))
  assert.equal(got.binding, binding)
  assert.equal(got.stats, binding)
  assert.equal(got.contentType, 'text/event-stream')
  assert.equal(got.text, EXPECTED_TEXT)
  return got
}

test('the main tarball: the runtime files, LICENSE, no binary, no install script, every platform at its version', () => {
  const files = mainPacked.files.map((f) => f.path).sort()
  const lib = fs.readdirSync(path.join(root, 'lib')).filter((f) => f.endsWith('.js')).map((f) => `lib/${f}`)
  assert.deepEqual(
    files,
    ['LICENSE', 'README.md', 'index.d.mts', 'index.d.ts', 'index.js', 'index.mjs', 'package.json', ...lib].sort(),
  )
  for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) {
    assert.equal(manifest.scripts[script], undefined, `no ${script} script: nothing runs when the tarball installs`)
  }
  assert.deepEqual(
    manifest.optionalDependencies,
    Object.fromEntries(PLATFORMS.map((p) => [`simple-sse-rs-${p}`, manifest.version])),
  )
  for (const key of ['repository', 'homepage', 'bugs']) assert.ok(manifest[key], `package.json has ${key}`)
})

test('README links work on the registry page: absolute, or files in the tarball', () => {
  const files = new Set(mainPacked.files.map((f) => f.path))
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
  const targets = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1])
  assert.ok(targets.length > 5, 'the README has links')
  const broken = targets.filter((t) => !/^(https?:|mailto:|#)/.test(t) && !files.has(t.replace(/^\.\//, '').split('#')[0]))
  assert.deepEqual(broken, [])
})

test('each platform package holds its build, with os/cpu/libc set', () => {
  assert.ok(tarballs[platform] || !process.env.CI, `the ${platform} package is built`)
  for (const [p, packed] of Object.entries(tarballs)) {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'npm', p, 'package.json'), 'utf8'))
    assert.equal(pkg.name, `simple-sse-rs-${p}`)
    assert.equal(pkg.version, manifest.version)
    const files = packed.files.map((f) => f.path)
    assert.ok(files.includes(path.basename(built(p))), `${p}: ${files}`)
    if (p === 'wasm32-wasi') {
      assert.deepEqual(pkg.cpu, ['wasm32'])
      assert.ok(files.includes('simple-sse-rs.wasi.cjs') && files.includes('wasi-worker.mjs'), `${p}: ${files}`)
    } else {
      assert.deepEqual(pkg.os, [p.split('-')[0]])
      assert.deepEqual(pkg.cpu, [p.split('-')[1]])
      if (p.startsWith('linux-')) assert.deepEqual(pkg.libc, [p.endsWith('-musl') ? 'musl' : 'glibc'])
    }
  }
})

describe('installed from the tarballs, without Rust', () => {
  test('nothing to build: no cargo on the PATH the installs use', async () => {
    await assert.rejects(run('cargo', ['--version'], tmp))
  })

  test(`natively: npm installs only ${platform}'s package, quietly, and it serves`, { skip: skipUnless(built(platform), `build the ${platform} package: npm run build:targets ${platform}`) }, async () => {
    const { dir, out, installed } = await installProject('native')
    assert.deepEqual(installed, ['simple-sse-rs', `simple-sse-rs-${platform}`])
    assert.doesNotMatch(out, /warn|install-scripts|prepare/i)
    const { stdout, stderr } = await run(process.execPath, ['consumer.mjs'], dir)
    assert.equal(stderr, '')
    checkConsumer(stdout, dir, platform)
  })

  test('WASI: installed with --cpu=wasm32, it serves forced and as the fallback (with one warning)', { skip: skipUnless(built('wasm32-wasi'), 'build the WASI package: npm run build:targets wasm32-wasi') }, async () => {
    const { dir, out, installed } = await installProject('wasi', ['--cpu=wasm32'])
    assert.deepEqual(installed, ['simple-sse-rs', 'simple-sse-rs-wasm32-wasi'])
    assert.doesNotMatch(out, /install-scripts|prepare/i)
    const forced = await run(process.execPath, ['consumer.mjs'], dir, wasiEnv(noRustEnv))
    assert.equal(forced.stderr, '')
    checkConsumer(forced.stdout, dir, 'wasm32-wasi')
    const fallback = await run(process.execPath, ['--disable-warning=ExperimentalWarning', 'consumer.mjs'], dir)
    checkConsumer(fallback.stdout, dir, 'wasm32-wasi')
    assert.match(fallback.stderr, /SimpleSseRsWarning: no native addon for .* loaded; using the WASI build/)
  })

  const root64 = arm64Root()
  test('arm64 (gnu): installed with --cpu=arm64, it serves under qemu-user on Debian\'s arm64 Node.js 18', { skip: arm64Skip() }, async () => {
    const { dir, installed } = await installProject('arm64', ['--cpu=arm64'])
    assert.deepEqual(installed, ['simple-sse-rs', 'simple-sse-rs-linux-arm64-gnu'])
    const { cmd, args } = arm64Node(root64)
    const { stdout } = await run(cmd, [...args, 'consumer.mjs'], dir)
    const got = checkConsumer(stdout, dir, 'linux-arm64-gnu')
    assert.equal(got.arch, 'arm64')
    assert.match(got.node, /^v18\./)
  })
})
