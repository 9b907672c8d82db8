'use strict'
// The Fetch API scenarios (fixtures/fetch/scenarios.js) on Deno.serve, Deno from scripts/runtimes.js.
const path = require('node:path')
const { describe, test } = require('node:test')
const { runScenarios, spawnAdapter } = require('./fixtures/fetch/scenarios')
const { runtime } = require('./fixtures/fetch/runtime')

const deno = runtime('deno')
describe('Deno.serve', { skip: deno.skip }, () => {
  runScenarios({
    quiet: true,
    name: 'Deno.serve',
    start: () => spawnAdapter(deno.exe, ['run', '-A', path.join(__dirname, 'fixtures', 'fetch', 'deno.cjs')], { NO_COLOR: '1' }),
  })
})

test('Deno: add(request) never reads request.signal (Deno warns on any read); the body cancel removes the client', { skip: deno.skip }, () => {
  const { execFileSync } = require('node:child_process')
  const assert = require('node:assert/strict')
  const out = execFileSync(deno.exe, ['run', '-A', path.join(__dirname, 'fixtures', 'fetch', 'deno-signal.cjs')], {
    env: { ...process.env, SSE_PACKAGE: path.join(__dirname, '..', 'index.js'), NO_COLOR: '1' },
    encoding: 'utf8',
  })
  assert.deepEqual(JSON.parse(out), { read: false, removed: true })
})
