'use strict'
// Loading: a missing addon fails with one clear error that says how to build.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

test('a missing native addon gives one clear error naming the build command', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simple-sse-rs-noaddon-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.copyFileSync(path.join(__dirname, '..', 'index.js'), path.join(dir, 'index.js'))
  fs.cpSync(path.join(__dirname, '..', 'lib'), path.join(dir, 'lib'), { recursive: true })
  let err
  try {
    require(path.join(dir, 'index.js'))
  } catch (e) {
    err = e
  }
  assert.ok(err instanceof Error, 'require must throw')
  assert.equal(err.code, 'SIMPLE_SSE_RS_NO_ADDON')
  assert.match(err.message, /native addon simple-sse-rs\.[\w-]+\.node is missing or does not load/)
  assert.match(err.message, /npm run build/)
  assert.ok(err.cause, 'the loader error is kept as the cause')
})

test('the package loads from any directory', () => {
  const out = execFileSync(
    process.execPath,
    ['-e', `const sse = require(${JSON.stringify(path.join(__dirname, '..'))}); process.stdout.write(typeof sse.add + ' ' + sse.heartbeat)`],
    { cwd: os.tmpdir(), encoding: 'utf8' },
  )
  assert.equal(out, 'function 20000')
})
