'use strict'
// Every code sample in README.md and docs/*.md runs as written. Each fenced block tagged
// js, cjs, mjs or ts is a complete program: it is written to a temp dir (whose
// node_modules/simple-sse-rs links to this checkout, as if installed) and run with Node.js.
//  - ts blocks are type-checked with `tsc --strict` first (module nodenext, and CommonJS
//    with esModuleInterop), then the compiled JS is run.
//  - A sample that starts a server (on `process.env.PORT || 3000`; the test sets PORT to a
//    free port and binds it to 127.0.0.1) must answer a real SSE request at the first
//    `/events…` path in its code (`:param` segments filled in) with 200, the SSE headers and
//    a first frame (a server sample sends something on connect: an event or a retry).
//    Then the test kills it. A sample that starts no server must exit with code 0.
//    Either way it must write nothing to stderr (no error, no warning).
//  - A sample that calls useRedis gets REDIS_URL of a private redis-server; without
//    redis-server installed it is skipped (never under CI: apt-get install redis-server).
//  - Blocks whose info string names another runtime (```js bun, ```ts deno, ```ts next)
//    are skipped here with the name of the test that runs them.
//  - Every relative link (and every link from README.md into this repository's main
//    branch) points to a file that exists, and its #anchor to a heading there.
//  - docs/benchmarks.md quotes bench/results/latest.json: its date, commit and figures.
//  - Every fenced block must have an info string, so no sample escapes by lacking one
//    (```text for output, ```sh for commands: neither is run).

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn, execFile } = require('node:child_process')
const { once } = require('node:events')
const fs = require('node:fs')
const path = require('node:path')
const { connect, within } = require('./helpers')
const { REDIS_SERVER, startRedis, freePort } = require('./fixtures/redis-helpers')

const root = path.join(__dirname, '..')
const HOOK = path.join(__dirname, 'fixtures', 'docs-listen.js')
const TSC = path.join(root, 'node_modules', '.bin', 'tsc')
const RUN = new Set(['js', 'cjs', 'mjs', 'ts'])
// Samples for another runtime, and the test that runs them.
const RUNNERS = {
  bun: '__test__/fetch-docs.test.js (Bun)',
  deno: '__test__/fetch-docs.test.js (Deno)',
  next: '__test__/fetch-docs.test.js (in the Next.js project fetch-next.test.js builds)',
}


/** Every fenced block of a Markdown file: { file, line, lang, runtime, code }. */
function blocksOf(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n')
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i])
    if (!open) continue
    const [, indent, fence, info] = open
    const start = i
    const body = []
    for (i++; i < lines.length && !lines[i].trim().startsWith(fence); i++) body.push(lines[i].slice(indent.length))
    const [lang = '', runtime = ''] = info.trim().split(/\s+/)
    blocks.push({ file: path.relative(root, file), line: start + 1, lang, runtime, code: `${body.join('\n')}\n` })
  }
  return blocks
}

const docsDir = path.join(root, 'docs')
const files = [
  path.join(root, 'README.md'),
  ...(fs.existsSync(docsDir) ? fs.readdirSync(docsDir).filter((f) => f.endsWith('.md')).sort().map((f) => path.join(docsDir, f)) : []),
]
const blocks = files.flatMap(blocksOf)

/** GitHub's anchor for a heading. */
function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

/** Anchors of a Markdown file's headings (outside fenced blocks). */
function anchorsOf(file) {
  const anchors = new Set()
  let fence = null
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const open = /^\s*(`{3,}|~{3,})/.exec(line)
    if (open && (fence === null || line.trim().startsWith(fence))) fence = fence === null ? open[1] : null
    else if (fence === null && /^#{1,6} /.test(line)) anchors.add(slug(line.replace(/^#+ /, '')))
  }
  return anchors
}

// README.md links to docs/ by absolute URL (it is also the npm registry's page, where the
// tarball has no docs/): links into this repository's main branch are checked as local paths.
const REPO_BLOB = 'https://github.com/simple-sse-rs/simple-sse-rs/blob/main/'

/** Relative links (and links into this repository) of a Markdown file, outside code: { file, target, anchor }. */
function linksOf(file) {
  const text = fs
    .readFileSync(file, 'utf8')
    .replace(/^(\s*)(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1\2\s*$/gm, '')
    .replace(/`[^`\n]*`/g, '')
  const links = []
  for (const [, href] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const inRepo = href.startsWith(REPO_BLOB)
    if (!inRepo && /^[a-z]+:/i.test(href)) continue
    const [target, anchor = null] = (inRepo ? href.slice(REPO_BLOB.length) : href).split('#')
    const base = inRepo ? root : path.dirname(file)
    links.push({ file, target: target === '' ? file : path.resolve(base, target), anchor, href })
  }
  return links
}

/** The SSE path a server sample serves: its first '/events…' literal, params filled in. */
function eventsPath(code) {
  const match = /['"`](\/events[^'"`\s?]*)/.exec(code)
  if (!match) return null
  return match[1].replace(/:\w+/g, 'lobby')
}

function run(cmd, args, options) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 120000, ...options }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? err.signal) : 0, output: `${stdout}${stderr}` })
    })
  })
}

let dir
let redis = null

before(async () => {
  fs.mkdirSync(path.join(root, '__test__', 'artifacts'), { recursive: true })
  dir = fs.mkdtempSync(path.join(root, '__test__', 'artifacts', 'docs-'))
  // Its own package scope (CommonJS), with simple-sse-rs "installed" as a link to the checkout.
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'docs-samples', private: true, type: 'commonjs' }))
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'simple-sse-rs'), 'dir')
  if (blocks.some((b) => RUN.has(b.lang) && !b.runtime && b.code.includes('useRedis'))) {
    if (REDIS_SERVER !== null) redis = await startRedis()
    else if (process.env.CI) throw new Error('redis-server not found: apt-get install redis-server')
  }
})

after(async () => {
  if (redis) await redis.kill()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

/** Runs `file` (JS) until it exits or listens; a server gets an SSE request, then SIGTERM. */
async function runSample(t, block, file) {
  const port = await freePort()
  const env = { ...process.env, PORT: String(port) }
  if (redis) env.REDIS_URL = redis.url
  const child = spawn(process.execPath, ['--require', HOOK, file], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  let output = ''
  let stderr = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => {
    output += d
    stderr += d
  })
  const exited = once(child, 'exit')
  const listening = new Promise((resolve) => child.on('message', (m) => m && m.listening && resolve(m.listening)))
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })

  const first = await within(
    Promise.race([exited.then(([code, signal]) => ({ code, signal })), listening.then((p) => ({ port: p }))]),
    30000,
    `${block.file}:${block.line} to exit or listen`,
  )
  if (!('port' in first)) {
    assert.deepEqual({ code: first.code, signal: first.signal }, { code: 0, signal: null }, `exit status; output:\n${output}`)
    assert.equal(stderr, '', 'a sample writes no error or warning')
    return
  }

  assert.equal(first.port, port, 'a server sample listens on process.env.PORT')
  const ssePath = eventsPath(block.code)
  assert.ok(ssePath, `a server sample serves its stream at a path starting with /events`)
  const client = await connect(port, ssePath)
  try {
    assert.equal(client.status, 200, `GET ${ssePath}; output:\n${output}`)
    assert.equal(client.headers['content-type'], 'text/event-stream')
    assert.equal(client.headers['cache-control'], 'no-cache')
    const text = await client.until((body) => /\n\n/.test(body), 10000).catch((err) => {
      throw new Error(`a server sample sends a frame when a client connects (an event or a retry): ${err.message}`)
    })
    assert.match(text, /^(id: \d+\n|retry: |event: |data: |:)/, 'the first bytes are an SSE frame')
  } finally {
    client.close()
  }
  child.kill('SIGTERM')
  const [, signal] = await exited
  assert.equal(signal, 'SIGTERM', `output:\n${output}`)
  assert.equal(stderr, '', 'a sample writes no error or warning')
}

describe('documentation samples', () => {
  test('every fenced block has an info string', () => {
    const bare = blocks.filter((b) => b.lang === '').map((b) => `${b.file}:${b.line}`)
    assert.deepEqual(bare, [], 'tag each block: js/ts/mjs/cjs (run), text (output), sh (commands), html…')
  })

  test('the README has runnable samples for Express, node:http, Fastify, TypeScript, reconnect and Redis', () => {
    const readme = blocks.filter((b) => b.file === 'README.md' && RUN.has(b.lang) && !b.runtime).map((b) => b.code)
    assert.ok(readme.some((c) => c.includes("require('express')")), 'Express')
    assert.ok(readme.some((c) => c.includes("require('node:http')")), 'node:http')
    assert.ok(readme.some((c) => c.includes("require('fastify')")), 'Fastify')
    assert.ok(readme.some((c) => c.includes("from 'express'") && c.includes("from 'simple-sse-rs'")), 'TypeScript with Express')
    assert.ok(readme.some((c) => c.includes('sse.history =')), 'reconnect')
    assert.ok(readme.some((c) => c.includes('useRedis')), 'Redis')
  })

  test('every relative link points to a file and a heading that exist', () => {
    const broken = []
    for (const link of files.flatMap(linksOf)) {
      const where = `${path.relative(root, link.file)}: ${link.href}`
      if (!fs.existsSync(link.target)) broken.push(`${where} (no such file)`)
      else if (link.anchor !== null && link.target.endsWith('.md') && !anchorsOf(link.target).has(link.anchor)) {
        broken.push(`${where} (no such heading)`)
      }
    }
    assert.deepEqual(broken, [])
  })

  test('docs/benchmarks.md quotes bench/results/latest.json: its date, commit and every CPU and memory figure', () => {
    const text = fs.readFileSync(path.join(root, 'docs', 'benchmarks.md'), 'utf8')
    const latest = JSON.parse(fs.readFileSync(path.join(root, 'bench', 'results', 'latest.json'), 'utf8'))
    assert.ok(text.includes(latest.date.slice(0, 10)), `the run's date ${latest.date.slice(0, 10)}`)
    assert.ok(text.includes(latest.commit), `the run's commit ${latest.commit}`)
    const table = text.split('\n').filter((line) => line.startsWith('| '))
    for (const scenario of latest.scenarios) {
      const figures = latest.libs.map((lib) => latest.results[lib][scenario.key]).filter(Boolean)
      const cells = figures.map((r) => (r.cpuMs !== undefined ? String(Math.round(r.cpuMs)) : r.anonKB.toFixed(2)))
      const row = table.find((line) => cells.every((cell) => line.includes(cell)))
      assert.ok(row, `a table row with ${scenario.key}'s figures ${cells.join(', ')}`)
    }
  })

  let n = 0
  for (const block of blocks) {
    if (!RUN.has(block.lang)) continue
    const name = `${block.file}:${block.line} (${block.lang}${block.runtime ? ` ${block.runtime}` : ''})`
    if (block.runtime) {
      const runner = RUNNERS[block.runtime] || `the ${block.runtime} test`
      test(name, { skip: `a ${block.runtime} sample: run by ${runner}` }, () => {})
      continue
    }
    const index = n++
    const needsRedis = block.code.includes('useRedis')
    test(name, { timeout: 180000 }, async (t) => {
      if (needsRedis && redis === null) return t.skip('redis-server not found: apt-get install redis-server')
      const base = `sample-${index}-${path.basename(block.file, '.md')}-${block.line}`
      if (block.lang === 'ts') {
        const src = path.join(dir, `${base}.ts`)
        const out = path.join(dir, `out-${index}`)
        fs.writeFileSync(src, block.code)
        const { code, output } = await run(
          TSC,
          ['--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--outDir', out, src],
          { cwd: dir },
        )
        assert.equal(output, '', 'tsc --strict reports nothing')
        assert.equal(code, 0)
        // The other usual setup: CommonJS with esModuleInterop.
        const classic = await run(
          TSC,
          ['--strict', '--noEmit', '--module', 'commonjs', '--moduleResolution', 'node10', '--esModuleInterop', '--target', 'es2022', src],
          { cwd: dir },
        )
        assert.equal(classic.output, '', 'tsc --strict --module commonjs --esModuleInterop reports nothing')
        assert.equal(classic.code, 0)
        return runSample(t, block, path.join(out, `${base}.js`))
      }
      const file = path.join(dir, `${base}.${block.lang}`)
      fs.writeFileSync(file, block.code)
      return runSample(t, block, file)
    })
  }
})
