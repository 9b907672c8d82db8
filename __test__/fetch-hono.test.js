'use strict'
// The Fetch API scenarios (fixtures/fetch/scenarios.js) on Hono over @hono/node-server.
const path = require('node:path')
const { runScenarios, spawnAdapter } = require('./fixtures/fetch/scenarios')

runScenarios({
  quiet: true,
  name: 'Hono on @hono/node-server',
  start: () => spawnAdapter(process.execPath, [path.join(__dirname, 'fixtures', 'fetch', 'hono.js')]),
})
