'use strict'
// A release rehearsal's registry: a local verdaccio (scripts/verdaccio/, pinned, installed on
// first use) on 127.0.0.1 that keeps simple-sse-rs and simple-sse-rs-* to itself (publish
// allowed, never looked up upstream) and proxies every other name to the npm registry, so
// that dependencies such as @napi-rs/wasm-runtime resolve. Then `publishAll` publishes
// every built platform package (npm/<platform>/) and the main package, as the release
// workflow does on npm.
//
// Windows: the MSVC build cannot be linked here, so the rehearsal publishes
// simple-sse-rs-win32-x64-msvc holding the MinGW build (npm/win32-x64-gnu/) under the MSVC
// file name, and says so (`standIns`).
//
//   node scripts/release-rehearsal.js   starts a registry, publishes, prints how to install
//                                       from it, and serves until Ctrl-C
//   require('./scripts/release-rehearsal'): { startRegistry, publishAll, platformDirs }

const { execFile, spawn, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..')
const VERDACCIO_DIR = path.join(__dirname, 'verdaccio')
const VERDACCIO_BIN = path.join(VERDACCIO_DIR, 'node_modules', 'verdaccio', 'bin', 'verdaccio')
const UPLINK = 'https://registry.npmjs.org/'
const NAME = 'simple-sse-rs'

/** verdaccio's executable, installed from scripts/verdaccio/package-lock.json on first use. */
function ensureVerdaccio() {
  if (!fs.existsSync(VERDACCIO_BIN)) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: VERDACCIO_DIR, stdio: 'inherit' })
  }
  return VERDACCIO_BIN
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function config(dir, port) {
  // Names of our own packages are local only; everything else comes from the npm registry.
  const own = `    access: $all\n    publish: $authenticated\n    unpublish: $authenticated\n`
  return [
    `storage: ${JSON.stringify(path.join(dir, 'storage'))}`,
    'auth:',
    '  htpasswd:',
    `    file: ${JSON.stringify(path.join(dir, 'htpasswd'))}`,
    'uplinks:',
    '  npmjs:',
    `    url: ${UPLINK}`,
    '    timeout: 60s',
    'packages:',
    `  '${NAME}':`,
    own,
    `  '${NAME}-*':`,
    own,
    "  '**':",
    '    access: $all',
    '    publish: $authenticated',
    '    proxy: npmjs',
    `listen: 127.0.0.1:${port}`,
    'max_body_size: 200mb',
    'log: { type: stdout, format: pretty, level: warn }',
    '',
  ].join('\n')
}

/**
 * Starts verdaccio in a fresh folder. Resolves { url, dir, npmrc, env, stop() }: `npmrc` holds
 * the registry and a publish token; `env` points npm (and Bun, Deno) at the registry.
 */
async function startRegistry({ dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-registry-')) } = {}) {
  const bin = ensureVerdaccio()
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  fs.writeFileSync(path.join(dir, 'config.yaml'), config(dir, port))
  const logFile = path.join(dir, 'verdaccio.log')
  const log = fs.openSync(logFile, 'w')
  const child = spawn(process.execPath, [bin, '--config', path.join(dir, 'config.yaml')], {
    cwd: dir,
    env: { ...process.env, NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', NODE_OPTIONS: '' },
    stdio: ['ignore', log, log],
  })
  fs.closeSync(log)
  let exited = null
  child.once('exit', (code, signal) => (exited = signal || code))
  const stop = () =>
    new Promise((resolve) => {
      if (exited !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    })
  try {
    const started = Date.now()
    for (;;) {
      if (exited !== null) throw new Error(`verdaccio exited (${exited}):\n${fs.readFileSync(logFile, 'utf8')}`)
      try {
        const res = await fetch(`${url}-/ping`)
        if (res.ok) break
      } catch {
        // not listening yet
      }
      if (Date.now() - started > 60000) throw new Error(`verdaccio did not answer in 60 s:\n${fs.readFileSync(logFile, 'utf8')}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const res = await fetch(`${url}-/user/org.couchdb.user:rehearsal`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'rehearsal', password: 'rehearsal-password' }),
    })
    const { token } = await res.json()
    if (!res.ok || !token) throw new Error(`verdaccio refused the user (${res.status})`)
    const npmrc = path.join(dir, 'npmrc')
    fs.writeFileSync(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`)
    const env = {
      npm_config_registry: url,
      npm_config_userconfig: npmrc,
      npm_config_cache: path.join(dir, 'npm-cache'),
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
      NPM_CONFIG_REGISTRY: url, // Deno and Bun read this one
      BUN_CONFIG_REGISTRY: url,
    }
    return { url, dir, npmrc, env, logFile, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** npm/<platform> folders whose build exists, as { platform: dir }. */
function platformDirs() {
  const main = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  const out = {}
  for (const name of Object.keys(main.optionalDependencies)) {
    const platform = name.slice(NAME.length + 1)
    const dir = path.join(root, 'npm', platform)
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
    if (pkg.files.every((f) => !/\.(node|wasm)$/.test(f) || fs.existsSync(path.join(dir, f)))) out[platform] = dir
  }
  return out
}

function npm(args, cwd, env) {
  return new Promise((resolve, reject) => {
    execFile('npm', args, { cwd, env: { ...process.env, ...env }, maxBuffer: 16 << 20, timeout: 300000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`npm ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n${stdout}\n${stderr}`))
      else resolve(stdout + stderr)
    })
  })
}

/**
 * Publishes every built platform package, then the main package. Resolves
 * { published: [names], standIns: { platform: what it holds instead } }.
 */
async function publishAll(registry) {
  const dirs = platformDirs()
  const standIns = {}
  const gnu = path.join(root, 'npm', 'win32-x64-gnu', `${NAME}.win32-x64-gnu.node`)
  if (!dirs['win32-x64-msvc'] && fs.existsSync(gnu)) {
    // The MSVC package's folder, holding the MinGW build under the MSVC build's name.
    const staged = path.join(registry.dir, 'win32-x64-msvc')
    fs.mkdirSync(staged)
    for (const f of ['package.json', 'README.md']) fs.copyFileSync(path.join(root, 'npm', 'win32-x64-msvc', f), path.join(staged, f))
    fs.copyFileSync(gnu, path.join(staged, `${NAME}.win32-x64-msvc.node`))
    dirs['win32-x64-msvc'] = staged
    standIns['win32-x64-msvc'] = 'the MinGW build (npm/win32-x64-gnu/): MSVC cannot be linked here'
  }
  const published = []
  for (const [platform, dir] of Object.entries(dirs)) {
    await npm(['publish', '--ignore-scripts', '--access', 'public'], dir, registry.env)
    published.push(`${NAME}-${platform}`)
  }
  await npm(['publish', '--ignore-scripts', '--access', 'public'], root, registry.env)
  published.push(NAME)
  return { published, standIns }
}

module.exports = { startRegistry, publishAll, platformDirs, ensureVerdaccio }

if (require.main === module) {
  ;(async () => {
    const registry = await startRegistry()
    const { published, standIns } = await publishAll(registry)
    console.log(`registry: ${registry.url} (folder ${registry.dir})`)
    console.log(`published: ${published.join(', ')}`)
    for (const [p, what] of Object.entries(standIns)) console.log(`stand-in: ${NAME}-${p} holds ${what}`)
    console.log(`try: npm install ${NAME} --registry ${registry.url} [--cpu=arm64 | --os=win32 | --libc=musl | --cpu=wasm32]`)
    console.log('Ctrl-C stops the registry.')
    process.once('SIGINT', () => registry.stop().then(() => process.exit(0)))
  })().catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
