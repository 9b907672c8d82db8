'use strict'
// What `npm run build:targets` put in npm/<platform>/ is what each platform needs: the
// right file format and CPU, Linux gnu builds needing glibc 2.17 at most (they load on
// every distribution Node 18+ runs on), musl builds without a single glibc symbol version.
// (The Windows builds: MSVC by the release workflow; MinGW here, checked in windows.test.js.)

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { built, skipUnless } = require('./fixtures/targets')

const ELF_MACHINE = { x64: 0x3e, arm64: 0xb7 }
const MACHO_CPU = { x64: 0x01000007, arm64: 0x0100000c }

/** The glibc symbol versions a binary needs (its version-needed strings). */
function glibcVersions(buf) {
  const found = new Set(buf.toString('latin1').match(/GLIBC_2\.\d+(\.\d+)?/g) || [])
  return [...found].map((v) => v.slice('GLIBC_'.length))
}

function newer(a, b) {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number))
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) > (y[i] || 0)
  }
  return false
}

for (const platform of ['linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'linux-arm64-musl']) {
  const [, arch, libc] = platform.split('-')
  const file = built(platform)
  test(`${platform}: an ELF shared object for ${arch}, ${libc === 'gnu' ? 'glibc <= 2.17' : 'no glibc symbols'}`, {
    skip: skipUnless(file, `npm run build:targets ${platform}`),
  }, () => {
    const buf = fs.readFileSync(file)
    assert.equal(buf.toString('latin1', 0, 4), '\x7fELF')
    assert.equal(buf[4], 2, '64-bit')
    assert.equal(buf.readUInt16LE(16), 3, 'ET_DYN: a shared object (a cdylib, not an rlib)')
    assert.equal(buf.readUInt16LE(18), ELF_MACHINE[arch])
    const versions = glibcVersions(buf)
    if (libc === 'musl') {
      assert.deepEqual(versions, [])
    } else {
      assert.ok(versions.length > 0, 'links against glibc')
      const tooNew = versions.filter((v) => newer(v, '2.17'))
      assert.deepEqual(tooNew, [], `needs only glibc <= 2.17, found ${versions.join(', ')}`)
    }
  })
}

for (const platform of ['darwin-x64', 'darwin-arm64']) {
  const arch = platform.split('-')[1]
  const file = built(platform)
  test(`${platform}: a 64-bit Mach-O dylib for ${arch}`, { skip: skipUnless(file, `npm run build:targets ${platform}`) }, () => {
    const buf = fs.readFileSync(file)
    assert.equal(buf.readUInt32LE(0), 0xfeedfacf)
    assert.equal(buf.readUInt32LE(4), MACHO_CPU[arch])
    assert.equal(buf.readUInt32LE(12), 6, 'MH_DYLIB')
  })
}

test('wasm32-wasi: a WebAssembly module', { skip: skipUnless(built('wasm32-wasi'), 'npm run build:targets wasm32-wasi') }, () => {
  const buf = fs.readFileSync(built('wasm32-wasi'))
  assert.deepEqual([...buf.subarray(0, 8)], [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])
})
