'use strict'
// Behind a proxy: `add` sends `X-Accel-Buffering: no` (set apart from writeHead's
// arguments), and real nginx passes every event on at once, both with a default
// `proxy_pass` (buffering on, HTTP/1.0 to the upstream) and with docs/proxies.md's
// configuration (read from its ```nginx block, so the document stays true).

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const sse = require('..')
const { listen, connect, within } = require('./helpers')
const { freePort } = require('./fixtures/redis-helpers')

const NGINX = ['/usr/sbin/nginx', 'nginx'].find((bin) => spawnSync(bin, ['-v'], { stdio: 'ignore' }).status === 0) || null
const skip = NGINX === null && !process.env.CI ? 'nginx not found: apt-get install nginx-light (never skipped when CI is set)' : false

after(() => sse.close())

test('add sets X-Accel-Buffering: no with setHeader, before writeHead, whose arguments stay simple-sse\'s', () => {
  const calls = []
  const res = {
    setHeader: (...args) => calls.push(['setHeader', ...args]),
    writeHead: (...args) => calls.push(['writeHead', ...args]),
    write() {},
  }
  const client = sse.add({}, res)
  assert.deepEqual(calls, [
    ['setHeader', 'X-Accel-Buffering', 'no'],
    ['writeHead', 200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' }],
  ])
  sse.remove(client)
  // A stub without setHeader still works.
  const plain = sse.add({}, { writeHead() {}, write() {} })
  sse.remove(plain)
})

test('a real response carries X-Accel-Buffering: no on the wire', async (t) => {
  const srv = await listen((req, res) => sse.add(req, res))
  t.after(() => srv.close())
  const raw = await connect(srv.port)
  t.after(() => raw.close())
  assert.equal(raw.status, 200)
  assert.equal(raw.headers['x-accel-buffering'], 'no')
  assert.equal(raw.headers['content-type'], 'text/event-stream')
})

/** docs/proxies.md's nginx configuration. */
function documentedConfig() {
  const doc = fs.readFileSync(path.join(__dirname, '..', 'docs', 'proxies.md'), 'utf8')
  const blocks = [...doc.matchAll(/^```nginx\n([\s\S]*?)^```$/gm)].map((m) => m[1])
  assert.equal(blocks.length, 1, 'docs/proxies.md has one nginx block')
  return blocks[0]
}

/** nginx's shortest useful configuration: a default proxy_pass (buffering on, HTTP/1.0 upstream). */
const DEFAULT_CONFIG = `events {}

http {
    server {
        listen 8080;

        location / {
            proxy_pass http://127.0.0.1:3000;
        }
    }
}
`

/**
 * Runs nginx in the foreground with `config`, its ports (8080, 3000) replaced by `port` and
 * `upstream`, everything it writes kept in a temp dir. Resolves once it accepts connections.
 */
async function startNginx(t, config, port, upstream) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-nginx-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  assert.match(config, /listen 8080;/)
  assert.match(config, /127\.0\.0\.1:3000;/)
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `    ${kind}_temp_path ${path.join(dir, kind)};\n`)
    .join('')
  const conf =
    'daemon off;\n' +
    (process.getuid && process.getuid() === 0 ? 'user root;\n' : '') +
    `pid ${path.join(dir, 'nginx.pid')};\n` +
    'error_log stderr notice;\n' +
    config
      .replace('listen 8080;', `listen 127.0.0.1:${port};`)
      .replace('127.0.0.1:3000;', `127.0.0.1:${upstream};`)
      .replace(/^http \{\n/m, `http {\n    access_log off;\n${temps}`)
  const file = path.join(dir, 'nginx.conf')
  fs.writeFileSync(file, conf)
  const proc = spawn(NGINX, ['-e', 'stderr', '-p', dir, '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] })
  const exited = new Promise((resolve) => proc.once('exit', resolve))
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
    await exited
  })
  let log = ''
  await within(
    new Promise((resolve, reject) => {
      proc.stderr.on('data', (data) => {
        log += data
        if (/start worker process/.test(log)) resolve()
      })
      proc.once('exit', (code) => reject(new Error(`nginx exited (${code}):\n${log}\n${conf}`)))
    }),
    10000,
    'nginx to start',
  )
}

describe('through nginx', { skip }, () => {
  let app
  const streams = []

  before(async () => {
    app = await listen((req, res) => {
      const client = sse.add(req, res)
      streams.push({ client, req })
    })
  })
  after(() => app.close())

  /** Opens a stream through nginx on `port`; resolves with the raw client and the app's client. */
  async function open(t, port) {
    const known = streams.length
    const opening = connect(port, '/events')
    t.after(() => {
      opening.then((raw) => raw.close(), () => {})
    })
    const raw = await within(opening, 5000, 'the response headers through nginx')
    assert.equal(raw.status, 200)
    assert.equal(raw.headers['content-type'], 'text/event-stream')
    assert.equal(streams.length, known + 1, 'the request reached the app')
    return [raw, streams.at(-1)]
  }

  /** Each event arrives before the next one is sent. */
  async function eventsArriveAtOnce(raw, client) {
    let expected = ''
    for (const [event, data] of [['first', 'a'], ['second', 'b'], ['third', 'c']]) {
      sse.send(client, event, data)
      expected += `id: ${client.id}\nevent: ${event}\ndata: ${data}\n\n`
      await raw.until((text) => text === expected, 5000)
    }
    sse.broadcast('*', 'to all')
    expected += `id: ${client.id}\ndata: to all\n\n`
    await raw.until((text) => text === expected, 5000)
  }

  test('a default proxy_pass (buffering on, HTTP/1.0 upstream): events arrive at once', async (t) => {
    const port = await freePort()
    await startNginx(t, DEFAULT_CONFIG, port, app.port)
    const [raw, { client, req }] = await open(t, port)
    assert.equal(req.httpVersion, '1.0', "nginx's default towards the upstream")
    await eventsArriveAtOnce(raw, client)
    // The browser leaving closes the upstream connection: the client is removed.
    const removed = new Promise((resolve) => sse.once('remove', resolve))
    raw.close()
    await within(removed, 5000, 'the client to be removed')
    assert.ok(!sse.clients.includes(client))
  })

  test("docs/proxies.md's configuration: events arrive at once, over kept-alive HTTP/1.1", async (t) => {
    const port = await freePort()
    await startNginx(t, documentedConfig(), port, app.port)
    const [raw, { client, req }] = await open(t, port)
    assert.equal(req.httpVersion, '1.1')
    assert.equal(req.headers.connection, undefined, 'Connection cleared: the upstream connection is kept alive')
    await eventsArriveAtOnce(raw, client)
    // Over 16 KiB in one event (more than nginx's buffers) arrives whole, and the next at once.
    const big = 'x'.repeat(40000)
    sse.send(client, big)
    sse.send(client, 'after')
    await raw.until(`id: ${client.id}\ndata: ${big}\n\nid: ${client.id}\ndata: after\n\n`, 5000)
    const removed = new Promise((resolve) => sse.once('remove', resolve))
    raw.close()
    await within(removed, 5000, 'the client to be removed')
  })
})
