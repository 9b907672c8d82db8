#!/usr/bin/env node
'use strict'
// `npm run build:targets [platform…]`: builds the addon for every target this machine's
// toolchains reach, each into its npm package folder npm/<platform>/ (what `napi
// prepublish` publishes). Linux gnu builds link against glibc 2.17 (cargo-zigbuild, as
// napi-rs releases do); musl builds are cdylibs without glibc symbols; macOS builds come
// from zig too; WASI (wasm32-wasip1-threads) needs no zig. Windows MSVC is left to the
// release workflow (its SDK cannot be downloaded here); Windows x64 is built here with
// MinGW instead (win32-x64-gnu: not published, the tests run it under wine). Windows
// builds resolve Node-API when they load (napi's `dyn-symbols`, Cargo.toml), so they link
// against nothing of Node's: napi-build still asks LIBNODE_PATH for a libnode.dll, and gets
// an empty library (a build that did import from node.exe would then fail to link).
//
// A target whose toolchain is missing is skipped with what to install, except under
// CI=true, where a missing toolchain fails the run. `.ci/run` installs them all.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const napi = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')

/** platform folder -> how to build it. `zig`: through cargo-zigbuild (napi build -x). */
const TARGETS = [
  { platform: 'linux-x64-gnu', triple: 'x86_64-unknown-linux-gnu', build: 'x86_64-unknown-linux-gnu.2.17', zig: true },
  { platform: 'linux-arm64-gnu', triple: 'aarch64-unknown-linux-gnu', build: 'aarch64-unknown-linux-gnu.2.17', zig: true },
  { platform: 'linux-x64-musl', triple: 'x86_64-unknown-linux-musl', zig: true },
  { platform: 'linux-arm64-musl', triple: 'aarch64-unknown-linux-musl', zig: true },
  { platform: 'darwin-x64', triple: 'x86_64-apple-darwin', zig: true },
  { platform: 'darwin-arm64', triple: 'aarch64-apple-darwin', zig: true },
  { platform: 'win32-x64-msvc', triple: 'x86_64-pc-windows-msvc', windowsOnly: true },
  { platform: 'win32-x64-gnu', triple: 'x86_64-pc-windows-gnu', mingw: 'x86_64-w64-mingw32-gcc' },
  { platform: 'wasm32-wasi', triple: 'wasm32-wasip1-threads', zig: false },
]

const ci = Boolean(process.env.CI)

/** zig links what the host's own toolchain cannot: other OSes, and glibc 2.17 everywhere. */
function usesZig(target) {
  if (!target.zig) return false
  if (target.platform.startsWith('darwin') && process.platform === 'darwin') return false
  return true
}

function has(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' })
  return r.status === 0
}

function installedTargets() {
  const r = spawnSync('rustup', ['target', 'list', '--installed'], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.split('\n').map((s) => s.trim()) : null
}

function missingFor(target, rustTargets) {
  const missing = []
  if (target.windowsOnly && process.platform !== 'win32') {
    return ['a Windows machine (the MSVC SDK cannot be downloaded here; the release workflow builds it)']
  }
  if (rustTargets !== null && !rustTargets.includes(target.triple)) {
    missing.push(`the Rust target (rustup target add ${target.triple})`)
  }
  if (target.mingw && !has(target.mingw)) {
    missing.push(`MinGW (apt-get install gcc-mingw-w64-x86-64: ${target.mingw})`)
  }
  if (usesZig(target)) {
    // PyPI's ziglang has no `zig` on PATH; cargo-zigbuild finds it through `python3 -m ziglang`.
    if (!has('zig', ['version']) && !has('python3', ['-m', 'ziglang', 'version'])) {
      missing.push('zig (pip install ziglang==0.17.0)')
    }
    if (!has('cargo-zigbuild')) missing.push('cargo-zigbuild (pip install cargo-zigbuild==0.24.0)')
  }
  return missing
}

/**
 * A folder holding an empty `libnode.dll` (an ar archive without members) for napi-build's
 * check on windows-gnu targets: with `dyn-symbols`, nothing is linked from it.
 */
function emptyLibnode() {
  const dir = path.join(root, 'target', 'libnode-empty')
  fs.mkdirSync(dir, { recursive: true })
  for (const name of ['libnode.dll', 'libnode.dll.a']) fs.writeFileSync(path.join(dir, name), '!<arch>\n')
  return dir
}

function main() {
  const wanted = process.argv.slice(2)
  const unknown = wanted.filter((p) => !TARGETS.some((t) => t.platform === p))
  if (unknown.length > 0) {
    console.error(`unknown platform(s): ${unknown.join(', ')}; known: ${TARGETS.map((t) => t.platform).join(', ')}`)
    process.exit(2)
  }
  const targets = TARGETS.filter((t) => wanted.length === 0 || wanted.includes(t.platform))
  const rustTargets = installedTargets()
  const skipped = []
  const built = []
  for (const target of targets) {
    const dir = path.join(root, 'npm', target.platform)
    const missing = missingFor(target, rustTargets)
    if (missing.length > 0) {
      // Windows is expected to be missing everywhere but Windows: never a CI failure.
      if (ci && !target.windowsOnly) {
        console.error(`build:targets: ${target.platform} needs ${missing.join(', ')}`)
        process.exit(1)
      }
      console.log(`build:targets: skip ${target.platform}: needs ${missing.join(', ')}`)
      skipped.push(target.platform)
      continue
    }
    const args = [
      napi, 'build', '--platform', '--release',
      '--target', target.build || target.triple,
      '--output-dir', dir,
      '--no-js',
      // napi's type generation is what writes the WASI loader; the .d.ts it also
      // writes is a by-product nobody reads (index.d.ts is hand-written): keep it in target/.
      '--dts', path.relative(dir, path.join(root, 'target', 'napi', `${target.platform}.d.ts`)),
    ]
    if (usesZig(target)) args.push('--cross-compile')
    const env = { ...process.env }
    if (target.triple.endsWith('-windows-gnu')) env.LIBNODE_PATH = emptyLibnode()
    console.log(`build:targets: ${target.platform}: napi ${args.slice(1).join(' ')}`)
    const started = Date.now()
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env })
    if (r.status !== 0) {
      console.error(`build:targets: ${target.platform} failed (exit ${r.status})`)
      process.exit(1)
    }
    // Debug copies and generated extras that the package does not ship.
    for (const extra of ['simple-sse-rs.wasm32-wasi.debug.wasm', 'browser.js']) {
      fs.rmSync(path.join(dir, extra), { force: true })
    }
    console.log(`build:targets: ${target.platform} done in ${((Date.now() - started) / 1000).toFixed(0)} s`)
    built.push(target.platform)
  }
  console.log(`build:targets: built ${built.join(', ') || 'nothing'}${skipped.length ? `; skipped ${skipped.join(', ')}` : ''}`)
}

main()
