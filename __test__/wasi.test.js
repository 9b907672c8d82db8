'use strict'
// The WASI build (wasm32-wasip1-threads, npm/wasm32-wasi/ from `npm run build:targets`)
// is the same core: the API, fuzz, misuse, rooms and differential suites run a second
// time against it, with NAPI_RS_FORCE_WASI=1, in a child `node --test`.

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')
const { root, built, skipUnless, wasiEnv } = require('./fixtures/targets')
const { assertTapPassed } = require('./fixtures/rel-helpers')

const skip = skipUnless(built('wasm32-wasi'), 'the WASI build is missing: npm run build:targets wasm32-wasi')
const SUITES = ['api.test.js', 'fuzz.test.js', 'misuse.test.js', 'rooms.test.js', 'differential.test.js']

test('the forced environment loads the WASI build', { skip }, () => {
  const out = execFileSync(process.execPath, ['-p', "require('.').binding"], { cwd: root, env: wasiEnv(), encoding: 'utf8' })
  assert.equal(out.trim(), 'wasm32-wasi')
})

test(`${SUITES.join(', ')} pass against the WASI build`, { skip, timeout: 300000 }, async () => {
  const files = SUITES.map((f) => path.join(__dirname, f))
  const child = spawn(
    process.execPath,
    ['--test', '--test-concurrency=1', '--test-reporter=tap', ...files],
    { cwd: root, env: wasiEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const code = await new Promise((resolve) => child.on('close', resolve))
  assertTapPassed(code, out, 30)
})
