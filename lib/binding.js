'use strict'
// Loads the native addon built for this platform; one clear error when it is missing.

const path = require('node:path')

const root = path.join(__dirname, '..')

function platformTriple() {
  const { platform, arch } = process
  if (platform === 'win32') return `win32-${arch}-msvc`
  if (platform !== 'linux') return `${platform}-${arch}`
  const glibc = process.report && process.report.getReport().header.glibcVersionRuntime
  return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
}

function loadNative() {
  const file = path.join(root, `simple-sse-rs.${platformTriple()}.node`)
  try {
    return require(file)
  } catch (cause) {
    const err = new Error(
      `simple-sse-rs: the native addon ${path.basename(file)} is missing or does not load ` +
        `(${cause && cause.message ? cause.message.split('\n')[0] : cause}). ` +
        `Build it with \`npm run build\` in ${root} (needs Rust: https://rustup.rs).`,
      { cause },
    )
    err.code = 'SIMPLE_SSE_RS_NO_ADDON'
    throw err
  }
}

module.exports = loadNative()
