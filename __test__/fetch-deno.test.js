'use strict'
// The Fetch API scenarios (fixtures/fetch/scenarios.js) on Deno.serve, Deno from scripts/runtimes.js.
const path = require('node:path')
const { describe } = require('node:test')
const { runScenarios, spawnAdapter } = require('./fixtures/fetch/scenarios')
const { runtime } = require('./fixtures/fetch/runtime')

const deno = runtime('deno')
describe('Deno.serve', { skip: deno.skip }, () => {
  runScenarios({
    name: 'Deno.serve',
    start: () => spawnAdapter(deno.exe, ['run', '-A', path.join(__dirname, 'fixtures', 'fetch', 'deno.cjs')], { NO_COLOR: '1' }),
  })
})
