'use strict'
// The Fetch API scenarios (fixtures/fetch/scenarios.js) on Bun.serve, Bun from scripts/runtimes.js.
const path = require('node:path')
const { describe } = require('node:test')
const { runScenarios, spawnAdapter } = require('./fixtures/fetch/scenarios')
const { runtime } = require('./fixtures/fetch/runtime')

const bun = runtime('bun')
describe('Bun.serve', { skip: bun.skip }, () => {
  runScenarios({
    quiet: true,
    name: 'Bun.serve',
    start: () => spawnAdapter(bun.exe, [path.join(__dirname, 'fixtures', 'fetch', 'bun.js')]),
  })
})
