'use strict'
// docs/fetch.md's programs, run as written in their runtime: ```js with Node.js (Hono),
// ```js bun with Bun, ```ts deno with Deno, ```ts next as route handlers of the Next.js
// project fetch-next.test.js builds (shared: fixtures/fetch/next-files.js). Each serves
// GET /events/lobby to a real client and broadcasts a POST /rooms/lobby to it.
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { bodyReader, root } = require('./fixtures/fetch/scenarios')
const { blocks, FILES } = require('./fixtures/fetch/next-files')
const { runtime } = require('./fixtures/fetch/runtime')
const { nextProject, nextStart, localBuild } = require('./fixtures/fetch/next-project')

const samples = blocks(path.join(root, 'docs', 'fetch.md')).filter((b) => ['js', 'ts', 'mjs', 'cjs'].includes(b.lang))

// A project folder as a user has it: the package (this checkout) and Hono in node_modules.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-fetch-docs-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
fs.mkdirSync(path.join(dir, 'node_modules'))
// The package copied as npm would install it (a copy: Deno treats files outside node_modules as its own).
const installed = path.join(dir, 'node_modules', 'simple-sse-rs')
for (const f of ['package.json', 'index.js', 'index.mjs', 'index.d.ts', 'index.d.mts', 'lib']) {
  fs.cpSync(path.join(root, f), path.join(installed, f), { recursive: true })
}
const addon = localBuild()
if (addon !== null) fs.copyFileSync(addon.file, path.join(installed, path.basename(addon.file)))
for (const name of ['hono', '@hono']) fs.symlinkSync(path.join(root, 'node_modules', name), path.join(dir, 'node_modules', name))
fs.writeFileSync(
  path.join(dir, 'package.json'),
  JSON.stringify({ name: 'docs-samples', private: true, dependencies: { 'simple-sse-rs': '*', hono: '*', '@hono/node-server': '*' } }),
)

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** The sample's server answers: a client gets its welcome, then a broadcast to its room. */
async function check(url) {
  const deadline = Date.now() + 30000
  let res
  for (;;) {
    try {
      res = await fetch(`${url}/events/lobby`)
      break
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'text/event-stream')
  const body = bodyReader(res)
  await body.until('event: welcome\ndata: {"id":')
  const posted = await fetch(`${url}/rooms/lobby`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ hello: 'docs' }),
  })
  assert.equal(posted.status, 204)
  await body.until('event: message\ndata: {"hello":"docs"}\n\n')
  assert.match(body.text, /^id: \d+\nevent: welcome\ndata: \{"id":\d+\}\n\nid: \d+\nevent: message\ndata: \{"hello":"docs"\}\n\n$/)
  await body.cancel()
}

async function runSample(cmd, args, file, code) {
  fs.writeFileSync(path.join(dir, file), code)
  const port = await freePort()
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', NO_COLOR: '1' }
  delete env.NODE_TEST_CONTEXT
  const child = spawn(cmd, [...args, file], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    await Promise.race([
      check(`http://127.0.0.1:${port}`),
      exited.then((code) => {
        throw new Error(`exited (${code})`)
      }),
    ])
  } catch (err) {
    err.message += `\n${cmd} ${file} printed:\n${output}`
    throw err
  } finally {
    child.kill('SIGTERM')
    await exited
  }
}

const bun = runtime('bun')
const deno = runtime('deno')

test('docs/fetch.md has a sample for Node.js (Hono), Bun, Deno and Next.js', () => {
  assert.deepEqual([...new Set(samples.map((b) => b.runtime || 'node'))].sort(), ['bun', 'deno', 'next', 'node'])
})

samples.forEach((sample, i) => {
  const where = sample.runtime || 'node'
  const name = `docs/fetch.md sample ${i + 1} (\`\`\`${sample.lang}${sample.runtime ? ` ${sample.runtime}` : ''}) serves a client as written`
  if (where === 'node') {
    test(name, { timeout: 60000 }, () => runSample(process.execPath, [], `sample${i}.${sample.lang}`, sample.code))
  } else if (where === 'bun') {
    test(name, { skip: bun.skip, timeout: 60000 }, () => runSample(bun.exe, [], `sample${i}.${sample.lang}`, sample.code))
  } else if (where === 'deno') {
    // The permissions docs/fetch.md gives.
    const flags = ['run', '--allow-net', '--allow-env', '--allow-read', '--allow-ffi']
    test(name, { skip: deno.skip, timeout: 60000 }, () => runSample(deno.exe, flags, `sample${i}.${sample.lang}`, sample.code))
  }
})

test('docs/fetch.md Next.js route handlers serve a client after next build, with no configuration', {
  skip: localBuild() === null && !process.env.CI ? 'no local build of the addon: npm run build' : false,
  timeout: 180000,
}, async () => {
  const project = await nextProject(FILES)
  assert.equal(fs.existsSync(path.join(project, 'next.config.js')) || fs.existsSync(path.join(project, 'next.config.ts')), false)
  const server = await nextStart(project)
  try {
    await check(server.url)
  } finally {
    await server.stop()
  }
})
