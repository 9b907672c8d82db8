'use strict'
// Windows x64: the MinGW build (npm/win32-x64-gnu/, `npm run build:targets win32-x64-gnu`)
// under Windows Node.js (node-win from scripts/runtimes.js) in wine. The build resolves
// Node-API when it loads (dyn-symbols): it imports nothing from node.exe and loads in a
// renamed node.exe too. Then the API, fidelity, misuse, express, history, delivery and slow-reader
// suites run there, each in its own `node.exe --test` (on Windows every response takes
// the framed path: the direct path's tests skip, saying so).
// Skips naming what to install without wine, the build or node.exe, except under CI.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { root, ci, built, skipUnless, which } = require('./fixtures/targets')
const { assertTapPassed } = require('./fixtures/rel-helpers')
const runtimes = require('../scripts/runtimes')
const wine = require('../scripts/wine')

/** Each suite, and how many of its tests at least must pass there. */
const SUITES = { api: 20, fidelity: 15, misuse: 10, express: 10, history: 5, delivery: 8, slow: 5 }

const build = built('win32-x64-gnu')
const lacking = wine.missing()
if (!build) lacking.push('the MinGW build (npm run build:targets win32-x64-gnu)')
const nodeExe = ci ? runtimes.ensure('node-win') : runtimes.find('node-win')
if (!nodeExe) lacking.push('Windows Node.js (node scripts/runtimes.js node-win)')
const skip = skipUnless(lacking.length === 0, `needs ${lacking.join(', ')}`)

test('the MinGW build: a PE32+ x86-64 DLL that imports nothing from node.exe', { skip: skip || skipUnless(which('x86_64-w64-mingw32-objdump'), 'needs x86_64-w64-mingw32-objdump (apt-get install gcc-mingw-w64-x86-64)') }, () => {
  const buf = fs.readFileSync(build)
  assert.equal(buf.toString('latin1', 0, 2), 'MZ')
  const pe = buf.readUInt32LE(0x3c)
  assert.equal(buf.toString('latin1', pe, pe + 4), 'PE\0\0')
  assert.equal(buf.readUInt16LE(pe + 4), 0x8664, 'x86-64')
  assert.ok(buf.readUInt16LE(pe + 22) & 0x2000, 'IMAGE_FILE_DLL')
  const dump = execFileSync('x86_64-w64-mingw32-objdump', ['-p', build], { encoding: 'utf8', maxBuffer: 256 << 20 })
  const dlls = [...dump.matchAll(/DLL Name: (\S+)/g)].map((m) => m[1].toLowerCase())
  assert.ok(dlls.includes('kernel32.dll'), dlls.join(' '))
  assert.deepEqual(dlls.filter((d) => /node|libnode/.test(d)), [])
  assert.match(dump, /napi_register_module_v1/)
})

test('Windows Node.js loads the MinGW build, also from a node.exe under another name', { skip, timeout: 120000 }, async () => {
  const probe = "console.log([process.platform, process.arch, require('./').binding, typeof require('./').add].join(' '))"
  const direct = await wine.run(nodeExe, ['-e', probe], { cwd: root })
  assert.equal(direct.code, 0, direct.out)
  assert.equal(direct.out.trim(), 'win32 x64 win32-x64-gnu function')

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-win-'))
  try {
    const renamed = path.join(dir, 'server.exe')
    fs.copyFileSync(nodeExe, renamed)
    const other = await wine.run(renamed, ['-e', probe], { cwd: root })
    assert.equal(other.code, 0, other.out)
    assert.equal(other.out.trim(), 'win32 x64 win32-x64-gnu function')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

for (const [suite, minPass] of Object.entries(SUITES)) {
  test(`the ${suite} suite passes under Windows Node.js in wine`, { skip, timeout: 600000 }, async () => {
    const file = wine.winPath(path.join(__dirname, `${suite}.test.js`))
    const { code, out } = await wine.run(nodeExe, ['--test', '--test-concurrency=1', '--test-reporter=tap', file], { cwd: root })
    assert.match(out, /^# Subtest: /m, out.slice(-4000))
    assertTapPassed(code, out, minPass)
  })
}
