'use strict'
// Finds and loads the Rust core, the way napi-rs packages do:
//   1. a local build (a development checkout): next to index.js (`npm run build`) or in
//      npm/<platform>/ (`npm run build:targets`); on Windows x64, after the MSVC build, the
//      MinGW build in npm/win32-x64-gnu/ (built here for the tests under wine; not published);
//   2. the prebuilt platform package npm installed (an optionalDependency);
//   3. the WASI build (local, then the simple-sse-rs-wasm32-wasi package);
// else one error naming the platform, what was tried and what to do.
// NAPI_RS_FORCE_WASI=1 skips 1 and 2. NAPI_RS_NATIVE_LIBRARY_PATH (a .node or
// .wasi.cjs file) is tried before everything else.
// Exports the addon's exports plus `binding`: which build loaded ('linux-x64-gnu', 'wasm32-wasi', …).
// Bundled (Next.js route handlers: webpack or Turbopack), every require here is left to
// Node at run time (see nodeRequire), so `next build` needs no configuration.

const fs = require('node:fs')
const path = require('node:path')

/* global __non_webpack_require__ */
/**
 * Node's own require, even inside a bundle: webpack compiles `__non_webpack_require__` to
 * the bundle's own `require` (which resolves packages from its folder upward: the app's
 * node_modules), and Turbopack leaves a require marked `turbopackIgnore` to Node. Bundlers
 * cannot follow these requests (computed at run time), and must not: a `.node` file is
 * loaded by Node, not bundled.
 */
const nodeRequire = typeof __non_webpack_require__ === 'function' ? __non_webpack_require__ : require

/** Whether this file runs from a bundle (its own path is not where it says it is). */
function bundled() {
  if (typeof __non_webpack_require__ === 'function') return true
  try {
    return !fs.existsSync(__filename)
  } catch {
    return false
  }
}

const root = path.join(__dirname, '..')
const NAME = 'simple-sse-rs'
const WASI = 'wasm32-wasi'
/** The MinGW build of Windows x64 (`npm run build:targets win32-x64-gnu`): local only, for tests. */
const WIN_GNU = 'win32-x64-gnu'
/** Platforms with a prebuilt package (package.json optionalDependencies). */
const SUPPORTED = [
  'linux-x64-gnu',
  'linux-arm64-gnu',
  'linux-x64-musl',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
]

function isMusl() {
  // glibcVersionRuntime is set exactly when Node runs on glibc.
  try {
    if (process.report && typeof process.report.getReport === 'function') {
      // Skip the report's network section (slow where DNS is); restore the app's setting.
      const excludeNetwork = process.report.excludeNetwork
      process.report.excludeNetwork = true
      try {
        const { header } = process.report.getReport()
        return !(header && header.glibcVersionRuntime)
      } finally {
        process.report.excludeNetwork = excludeNetwork
      }
    }
  } catch {
    // fall through
  }
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch {
    return false
  }
}

/** This machine's platform in napi-rs's spelling: linux-x64-gnu, darwin-arm64, win32-x64-msvc… */
function detectPlatform() {
  const { platform, arch } = process
  if (platform === 'win32') return `win32-${arch}-msvc`
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  return `${platform}-${arch}`
}

/**
 * Hub methods the JavaScript side relies on. A build without one of them comes from
 * another version of the package (a stale local build, a mismatched platform package):
 * loading it would fail later and less clearly (a socket closing would throw).
 */
const NEEDED = ['drain', 'take', 'takeUrgent', 'setDirect', 'setFramed', 'forgetFd', 'idleMs', 'pause', 'resume', 'holdForReplay', 'startReplay', 'takeGaps', 'waitForPull', 'pull', 'waitWriters']

/** The first needed Hub method `exports` lacks, or null. */
function missingMethod(exports) {
  const Hub = exports != null ? exports.Hub : undefined
  if (typeof Hub !== 'function') return 'Hub'
  return NEEDED.find((m) => typeof Hub.prototype[m] !== 'function') ?? null
}

function firstLine(err) {
  const text = err && err.message ? err.message : String(err)
  return text.split('\n')[0]
}

function isMissing(err, request) {
  return (
    err &&
    err.code === 'MODULE_NOT_FOUND' &&
    typeof err.message === 'string' &&
    err.message.includes(`'${request}'`)
  )
}

function wantsWasi() {
  const v = process.env.NAPI_RS_FORCE_WASI
  return v !== undefined && v !== '' && v !== '0' && v !== 'false'
}

function load() {
  const platform = detectPlatform()
  const forced = wantsWasi()
  /** What was tried and what happened, for the error message. */
  const tried = []
  const attempt = (what, binding, request, { file = false } = {}) => {
    if (file && !fs.existsSync(request)) {
      tried.push(`${what}: not found`)
      return null
    }
    try {
      const exports = nodeRequire(/* webpackIgnore: true */ /* turbopackIgnore: true */ request)
      const missing = missingMethod(exports)
      if (missing !== null) {
        tried.push(`${what}: from another version of ${NAME} (no Hub.${missing}); install the same version as ${NAME} itself`)
        return null
      }
      return { exports, binding }
    } catch (err) {
      tried.push(`${what}: ${isMissing(err, request) ? 'not installed' : `does not load (${firstLine(err)})`}`)
      return null
    }
  }

  const override = process.env.NAPI_RS_NATIVE_LIBRARY_PATH
  if (override) {
    const file = path.resolve(override)
    const binding = file.endsWith('.cjs') ? WASI : platform
    const got = attempt(`NAPI_RS_NATIVE_LIBRARY_PATH=${override}`, binding, file, { file: true })
    if (got) return binding === WASI ? wasiLoaded(got, platform, true, tried) : got
  }

  if (!forced) {
    const file = `${NAME}.${platform}.node`
    for (const dir of [root, path.join(root, 'npm', platform)]) {
      const got = attempt(path.join(dir, file), platform, path.join(dir, file), { file: true })
      if (got) return got
    }
    const got = attempt(`package ${NAME}-${platform}`, platform, `${NAME}-${platform}`)
    if (got) return got
    // (Only in a checkout that built it: the published package has no npm/ folder.)
    const gnu = path.join(root, 'npm', WIN_GNU, `${NAME}.${WIN_GNU}.node`)
    if (platform === 'win32-x64-msvc' && fs.existsSync(gnu)) {
      const got = attempt(gnu, WIN_GNU, gnu)
      if (got) return got
    }
  } else {
    tried.push(`the native addon for ${platform}: skipped (NAPI_RS_FORCE_WASI is set)`)
  }

  for (const dir of [root, path.join(root, 'npm', WASI)]) {
    const file = path.join(dir, `${NAME}.wasi.cjs`)
    const got = attempt(file, WASI, file, { file: true })
    if (got) return wasiLoaded(got, platform, forced, tried)
  }
  const got = attempt(`package ${NAME}-${WASI} (the WASI build)`, WASI, `${NAME}-${WASI}`)
  if (got) return wasiLoaded(got, platform, forced, tried)

  const err = new Error(
    [
      `${NAME}: no build of its native addon loads on this platform (${platform}, Node.js ${process.version}).`,
      'Tried:',
      ...tried.map((t) => `  - ${t}`),
      `Prebuilt packages exist for: ${SUPPORTED.join(', ')}; the WASI build (${NAME}-${WASI}) runs on any other platform with Node.js >= 20.19.`,
      'What to do:',
      ...(bundled()
        ? [
            `  - ${NAME} runs from a bundle here (${__filename}), where the loader cannot find its addon: leave`,
            `    ${NAME} out of the bundle (an external) — Next.js: serverExternalPackages: ['${NAME}'] in next.config.`,
          ]
        : []),
      ...(SUPPORTED.includes(platform)
        ? [
            `  - npm installs the package for this platform (${NAME}-${platform}) from optionalDependencies:`,
            '    install again without --no-optional / --omit=optional; if package-lock.json or node_modules came',
            '    from another platform, delete both and run npm install here (npm/cli#4828).',
            `  - Or use the WASI build: npm install --cpu=wasm32 ${NAME}-${WASI}`,
          ]
        : [
            `  - There is no prebuilt native package for ${platform}: use the WASI build,`,
            `    npm install --cpu=wasm32 ${NAME}-${WASI}`,
          ]),
      '    (NAPI_RS_FORCE_WASI=1 makes the package prefer it over a native build).',
      '  - Report a platform that should be supported: https://github.com/simple-sse-rs/simple-sse-rs/issues',
    ].join('\n'),
  )
  err.code = 'SIMPLE_SSE_RS_NO_ADDON'
  err.platform = platform
  err.tried = tried
  throw err
}

function wasiLoaded(got, platform, forced, tried) {
  wellFormedStrings(got.exports.Hub)
  if (!forced) {
    // A native build that exists but fails (e.g. a glibc too old) is worth naming.
    const failed = tried.filter((t) => t.includes(': does not load ('))
    process.emitWarning(
      `no native addon for ${platform} loaded${failed.length ? ` (${failed.join('; ')})` : ''}; ` +
        'using the WASI build (slower, no Redis). ' +
        'Set NAPI_RS_FORCE_WASI=1 to choose it explicitly and silence this warning.',
      { type: 'SimpleSseRsWarning', code: 'SIMPLE_SSE_RS_WASI' },
    )
  }
  return got
}

/**
 * emnapi (the WASI build's Node-API) turns a lone UTF-16 surrogate into UTF-8 by pairing
 * it with the next code unit, where Node-API replaces it with U+FFFD: a lone surrogate
 * before `\n` would then hide the newline from the event-name check. Making the event and
 * data strings well-formed first gives the WASI build the native addon's exact bytes.
 * Rooms are passed as they are: the core reads them as UTF-16 under WASI (src/room.rs),
 * so that `'a\ud83d'` and `'a\ud83e'` stay two rooms there too. A room name with a lone
 * surrogate comes back from the WASI core as the array of its code units (emnapi would
 * turn the surrogate into U+FFFD when making a string of more than 16 code units): it
 * becomes the string again here.
 */
function wellFormedStrings(Hub) {
  if (typeof Hub !== 'function') return
  const wellFormed = typeof String.prototype.toWellFormed === 'function'
  const fix = (v) => (wellFormed && typeof v === 'string' ? v.toWellFormed() : v)
  const proto = Hub.prototype
  const { send, broadcast, rooms, stats } = proto
  Object.assign(proto, {
    send(id, event, data) {
      return send.call(this, id, fix(event), fix(data))
    },
    broadcast(room, event, data) {
      return broadcast.call(this, room, fix(event), fix(data))
    },
    rooms(id) {
      return rooms.call(this, id).map(roomFromWasi)
    },
    stats() {
      const got = stats.call(this)
      for (const entry of got.rooms) entry.room = roomFromWasi(entry.room)
      return got
    },
  })
}

/** A room from the WASI core: a string or a number, or a string's code units (an array). */
function roomFromWasi(room) {
  if (!Array.isArray(room)) return room
  let name = ''
  for (let i = 0; i < room.length; i += 4096) name += String.fromCharCode.apply(null, room.slice(i, i + 4096))
  return name
}

const { exports: native, binding } = load()

// The addon's exports, plus which build they come from.
module.exports = Object.create(native, {
  binding: { value: binding, enumerable: true },
})
