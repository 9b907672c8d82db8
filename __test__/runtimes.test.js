'use strict'
// Other runtimes and Node.js versions (scripts/runtimes.js fetches each, pinned, from npm):
// the API suite under Node.js 18, 22, 24 and 26 (this run's Node.js is the 20 of the
// machine), under Bun (`bun test` runs node:test suites) and under Deno (`deno test` runs
// them too), and on the linux-x64-musl build under a musl Bun; and a program that imports
// index.mjs by path, serves one SSE client and prints what it got, under Deno and Bun. Skips naming what to fetch, except under CI
// (where a missing runtime is fetched).

const test = require('node:test')
const assert = require('node:assert/strict')
const os = require('node:os')
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { root, ci, built, hostPlatform, skipUnless, ownRunEnv } = require('./fixtures/targets')
const { assertTapPassed } = require('./fixtures/rel-helpers')
const runtimes = require('../scripts/runtimes')

const API = path.join(__dirname, 'api.test.js')
const CONSUMER = path.join(__dirname, 'fixtures', 'consumer.mjs')
const EXPECTED_TEXT = 'id: 0\nevent: hello\ndata: {"from":"consumer"}\n\n'
const platform = hostPlatform()

/** The runtime's executable (fetched under CI), and the skip option if it is missing. */
function runtime(name) {
  const exe = ci ? runtimes.ensure(name) : runtimes.find(name)
  return { exe, skip: skipUnless(exe, `needs ${name} (node scripts/runtimes.js ${name})`) }
}

function run(cmd, args, { cwd = root, env = {} } = {}) {
  const child = spawn(cmd, args, { cwd, env: { ...ownRunEnv(), NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, out }))
  })
}

/** The API suite has this many tests at least. */
const MIN_PASS = 20

for (const name of ['node18', 'node22', 'node24', 'node26']) {
  const { exe, skip } = runtime(name)
  test(`the API suite passes under Node.js ${name.slice(4)}`, { skip, timeout: 300000 }, async () => {
    const version = await run(exe, ['-p', "process.versions.node + ' ' + require('.').binding"])
    assert.equal(version.code, 0, version.out)
    assert.match(version.out.trim(), new RegExp(`^${name.slice(4)}\\.\\d+\\.\\d+ ${platform}$`))
    const { code, out } = await run(exe, ['--test', '--test-concurrency=1', '--test-reporter=tap', API])
    assertTapPassed(code, out, MIN_PASS)
  })
}

const bun = runtime('bun')
test('the API suite passes under Bun (bun test)', { skip: bun.skip, timeout: 300000 }, async () => {
  const { code, out } = await run(bun.exe, ['test', API])
  assertBunPassed(code, out)
})

/** The checks of a `bun test` run's output. */
function assertBunPassed(code, out) {
  const count = (word) => Number((out.match(new RegExp(`^\\s*(\\d+) ${word}$`, 'm')) || [])[1])
  assert.deepEqual(out.split('\n').filter((l) => /^\(fail\)/.test(l)), [], out.slice(-4000))
  assert.equal(code, 0, out.slice(-4000))
  assert.equal(count('fail'), 0, out.slice(-4000))
  assert.ok(count('pass') >= MIN_PASS, `the suite ran (${count('pass')} passed)\n${out.slice(-4000)}`)
}

// musl: a musl-linked Bun on Debian trixie's musl loader (scripts/musl-root.sh) loads the
// linux-x64-musl build (npm/linux-x64-musl/).
const bunMusl = runtime('bun-musl')
const muslRoot = path.join(root, '.cache', 'musl-root')
const muslLacks = []
if (!bunMusl.exe) muslLacks.push('a musl Bun (node scripts/runtimes.js bun-musl)')
if (!fs.existsSync(path.join(muslRoot, 'lib', 'libstdc++.so.6'))) muslLacks.push('a musl loader and libstdc++ (bash scripts/musl-root.sh)')
if (!built('linux-x64-musl')) muslLacks.push('the musl build (npm run build:targets linux-x64-musl)')
test('the API suite passes on the linux-x64-musl build under a musl Bun', { skip: skipUnless(muslLacks.length === 0, `needs ${muslLacks.join(', ')}`), timeout: 300000 }, async () => {
  const loader = [path.join(muslRoot, 'usr', 'lib', 'x86_64-linux-musl', 'libc.so'), '--library-path', path.join(muslRoot, 'lib'), bunMusl.exe]
  const probe = await run(loader[0], [...loader.slice(1), '-e', "console.log(require('.').binding)"])
  assert.equal(probe.code, 0, probe.out)
  assert.equal(probe.out.trim(), 'linux-x64-musl')
  const { code, out } = await run(loader[0], [...loader.slice(1), 'test', API])
  assertBunPassed(code, out)
})

const deno = runtime('deno')
test('the API suite passes under Deno (deno test)', { skip: deno.skip, timeout: 300000 }, async () => {
  const { code, out } = await run(deno.exe, ['test', '--allow-all', API])
  const summary = out.match(/^(ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/m)
  assert.ok(summary, out.slice(-4000))
  assert.equal(code, 0, out.slice(-4000))
  assert.equal(summary[1], 'ok')
  assert.equal(Number(summary[3]), 0)
  assert.ok(Number(summary[2]) >= MIN_PASS, `the suite ran (${summary[2]} passed)`)
})

/** Runs the consumer program importing index.mjs by path from an empty folder (no package.json). */
async function consumeByPath(exe, args) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-by-path-'))
  try {
    const { code, out } = await run(exe, [...args, CONSUMER, path.join(root, 'index.mjs')], { cwd: dir })
    assert.equal(code, 0, out)
    const got = JSON.parse(out.trim().split('\n').pop())
    assert.equal(got.binding, platform)
    assert.equal(got.stats, platform)
    assert.equal(got.contentType, 'text/event-stream')
    assert.equal(got.text, EXPECTED_TEXT)
    return got
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

test('Deno imports index.mjs by path (the same instance as require) and serves a client', { skip: deno.skip, timeout: 120000 }, async () => {
  const got = await consumeByPath(deno.exe, ['run', '--allow-all'])
  assert.equal(got.runtime, 'deno')
})

test('Bun imports index.mjs by path (the same instance as require) and serves a client', { skip: bun.skip, timeout: 120000 }, async () => {
  const got = await consumeByPath(bun.exe, [])
  assert.equal(got.runtime, 'bun')
})
