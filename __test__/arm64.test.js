'use strict'
// The linux-arm64-gnu build (npm/linux-arm64-gnu/, cross-built for glibc 2.17) runs the API
// suite under qemu-user on Debian's arm64 Node.js 18 (scripts/arm64-node-root.sh): the
// binary works on arm64, and the package keeps its `engines.node >= 18` promise.

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { root, arm64Root, arm64Skip, arm64Node, ownRunEnv } = require('./fixtures/targets')
const { assertTapPassed } = require('./fixtures/rel-helpers')

const dir = arm64Root()
const skip = arm64Skip()

function runArm64(args) {
  const { cmd, args: pre } = arm64Node(dir)
  const child = spawn(cmd, [...pre, ...args], { cwd: root, env: ownRunEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out })))
}

test("Debian's arm64 Node.js 18 loads the linux-arm64-gnu build", { skip, timeout: 60000 }, async () => {
  const { code, out } = await runArm64(['-p', "[process.arch, process.version, require('.').binding].join(' ')"])
  assert.equal(code, 0, out)
  assert.match(out.trim(), /^arm64 v18\.\d+\.\d+ linux-arm64-gnu$/)
})

test('the API suite passes on arm64 under qemu-user', { skip, timeout: 600000 }, async () => {
  // The file itself, not `--test`: the runner would start each file with process.execPath,
  // the arm64 binary, outside qemu.
  const { code, out } = await runArm64(['--test-reporter=tap', path.join(__dirname, 'api.test.js')])
  assertTapPassed(code, out, 15)
})
