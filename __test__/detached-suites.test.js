'use strict'
// Every suite that opens SSE connections passes again with detached connections: each runs
// in a child with SIMPLE_SSE_RS_DETACH=1 (a test-only switch, read once when the package
// loads: `sse.detach` starts true), so every plain HTTP/1.1 client is handed to Rust after
// its headers. Tests whose subject is the attached response itself (the app's own
// res.write/res.end, Node's descriptor, stub responses) ask for `{ detach: false }`; every
// other test runs on detached clients with the same bytes. A preloaded counter
// (fixtures/detach-count.js) shows the switch took effect. `npm test` runs the suites
// attached as well, with the writer threads on.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const native = require('../lib/binding')
const { assertTapPassed } = require('./fixtures/rel-helpers')
const { ownRunEnv } = require('./fixtures/targets')

const SKIP = native.DETACH ? false : 'this platform does not detach connections'

/** The suites, and whether they detach clients (TLS, HTTP/2, stubs, wrapped responses and Node's socket timeout stay attached). */
const SUITES = [
  ['api.test.js', true],
  ['fidelity.test.js', true],
  ['delivery.test.js', true],
  ['express.test.js', true],
  ['frameworks.test.js', true],
  ['history.test.js', true],
  ['replay.test.js', true],
  ['rooms.test.js', true],
  ['heartbeat.test.js', true],
  ['lifecycle.test.js', true],
  ['slow.test.js', true],
  ['stall.test.js', true],
  ['storm.test.js', true],
  ['threads.test.js', true],
  ['scale.test.js', true],
  ['endings.test.js', true],
  ['timeouts.test.js', false],
  ['isolation.test.js', true],
  ['misuse.test.js', true],
  ['stubs.test.js', false],
  ['compression.test.js', false],
  ['proxies.test.js', true],
  ['redis.test.js', true],
  ['fuzz.test.js', true],
  ['differential.test.js', true],
  ['tls.test.js', false],
  ['http2.test.js', false],
]

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-detach-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

for (const [suite, detaches] of SUITES) {
  test(`${suite} passes with sse.detach = true`, { skip: SKIP, timeout: 600000 }, async () => {
    const log = path.join(dir, `${suite}.log`)
    const env = {
      ...ownRunEnv(),
      SIMPLE_SSE_RS_DETACH: '1',
      SIMPLE_SSE_RS_DETACH_LOG: log,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS || ''} --require ${path.join(__dirname, 'fixtures', 'detach-count.js')}`.trim(),
    }
    const child = spawn(
      process.execPath,
      ['--test', '--test-concurrency=1', '--test-reporter=tap', path.join(__dirname, suite)],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (s) => (out += s))
    child.stderr.setEncoding('utf8').on('data', (s) => (out += s))
    const code = await new Promise((resolve) => child.on('close', resolve))
    assertTapPassed(code, out, 1)
    // The switch took effect: some process of the suite had detached clients (or, where
    // none can be, had clients that all stayed attached).
    const counts = fs.readFileSync(log, 'utf8').trim().split('\n').map((line) => line.split(' ')[1].split('/').map(Number))
    const detached = counts.reduce((sum, [d]) => sum + d, 0)
    const added = counts.reduce((sum, [, n]) => sum + n, 0)
    assert.ok(added > 0, `${suite} added clients`)
    if (detaches) assert.ok(detached > 0, `${suite}: ${detached} of ${added} sampled clients were detached`)
    else assert.equal(detached, 0, `${suite}: its clients cannot be detached and stay attached`)
  })
}
