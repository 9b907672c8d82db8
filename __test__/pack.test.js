'use strict'
// The published package: `npm pack` (without rebuilding: the .node is already built)
// holds exactly the runtime files, installs offline into an empty project and works
// there, through require() and import, on a real server with a real client.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { execFile } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
// No network and no update checks: everything comes from the tarball.
const env = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' }

function run(cmd, args, cwd) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, timeout: 60000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`))
      else resolve(stdout)
    })
  })
}

// Runs in the consumer project: imports the installed package both ways, serves one SSE
// client, broadcasts one event to it and prints what the client received.
const CONSUMER = `
import sse, { add, join, broadcast, clients } from 'simple-sse-rs'
import { createRequire } from 'node:module'
import http from 'node:http'

const require = createRequire(import.meta.url)
if (require('simple-sse-rs') !== sse) throw new Error('require() and import are different instances')
if (clients !== sse.clients) throw new Error('named exports are not the instance\\'s')

const server = http.createServer((req, res) => {
  join(add(req, res), 'packed')
  broadcast('packed', 'hello', { from: 'tarball' })
})
server.listen(0, '127.0.0.1', () => {
  http.get({ port: server.address().port, host: '127.0.0.1', path: '/' }, (res) => {
    let text = ''
    res.setEncoding('utf8')
    res.on('data', (chunk) => {
      text += chunk
      if (!text.endsWith('\\n\\n')) return
      console.log(JSON.stringify({
        resolved: require.resolve('simple-sse-rs'),
        contentType: res.headers['content-type'],
        text,
      }))
      sse.close()
      server.close()
    })
  })
})
`

test('npm pack produces a tarball that installs offline and works', { timeout: 60000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-pack-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))

  const [packed] = JSON.parse(
    await run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], root),
  )
  const files = packed.files.map((f) => f.path).sort()
  const addons = files.filter((f) => /^simple-sse-rs\.[\w-]+\.node$/.test(f))
  assert.equal(addons.length, 1, `one prebuilt addon in ${files}`)
  assert.deepEqual(
    files,
    ['README.md', 'index.d.ts', 'index.js', 'index.mjs', 'lib/binding.js', 'lib/checks.js', 'lib/clients.js', 'lib/connection.js', 'package.json', addons[0]].sort(),
  )

  const project = path.join(dir, 'consumer')
  fs.mkdirSync(project)
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }))
  await run(npm, ['install', '--offline', '--no-audit', '--no-fund', path.join(dir, packed.filename)], project)

  const installed = path.join(project, 'node_modules', 'simple-sse-rs')
  const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'))
  // Every entry point the manifest names is in the package.
  for (const file of [manifest.main, manifest.types, ...Object.values(manifest.exports['.'])]) {
    assert.ok(fs.existsSync(path.join(installed, file)), `${file} is installed`)
  }

  fs.writeFileSync(path.join(project, 'consumer.mjs'), CONSUMER)
  const out = JSON.parse(await run(process.execPath, ['consumer.mjs'], project))
  assert.equal(out.resolved, path.join(fs.realpathSync(installed), 'index.js'))
  assert.equal(out.contentType, 'text/event-stream')
  assert.equal(out.text, 'id: 0\nevent: hello\ndata: {"from":"tarball"}\n\n')
})
