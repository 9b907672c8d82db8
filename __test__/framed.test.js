'use strict'
// The framed path holds the same guarantees as the direct path: the delivery,
// slow-reader and stall suites run again with SIMPLE_SSE_RS_FORCE_FRAMED=1 (a test-only switch,
// read once when the package loads), so every plain HTTP/1.1 response on a plain TCP
// socket is framed (Rust frames its turns as HTTP/1.1 chunks, JS writes them to the
// socket) as on TLS, Windows and WASI. `npm test` runs the suites directly as well.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')
const { assertTapPassed } = require('./fixtures/rel-helpers')
const { ownRunEnv } = require('./fixtures/targets')

for (const suite of ['delivery.test.js', 'slow.test.js', 'stall.test.js']) {
  test(`${suite} passes on the framed path`, { timeout: 600000 }, async () => {
    const child = spawn(
      process.execPath,
      ['--test', '--test-concurrency=1', '--test-reporter=tap', path.join(__dirname, suite)],
      { env: { ...ownRunEnv(), SIMPLE_SSE_RS_FORCE_FRAMED: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (s) => (out += s))
    child.stderr.setEncoding('utf8').on('data', (s) => (out += s))
    const code = await new Promise((resolve) => child.on('close', resolve))
    assertTapPassed(code, out, 1)
    // The switch took effect: the delivery suite says it checked the framed writes.
    if (suite === 'delivery.test.js') assert.match(out, /written by Node as Rust framed it \(forced\)/)
  })
}
