'use strict'
// Express with the `compression` middleware: every event is flushed through the
// compressor (the package calls res.flush() after each write), so it arrives while the
// stream stays open. Each event is awaited decoded before the next one is sent.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const zlib = require('node:zlib')
const { once } = require('node:events')
const express = require('express')
const compression = require('compression')
const sse = require('..')
const { listen, within } = require('./helpers.js')

after(() => sse.close())

/** An Express app with compression whose GET /events adds an SSE client in room "z". */
async function compressedServer() {
  const app = express()
  app.use(compression())
  const added = []
  app.get('/events', (req, res) => {
    const client = sse.add(req, res)
    sse.join(client, 'z')
    added.push(client)
  })
  const srv = await listen(app)
  return { ...srv, added }
}

/** Accumulates decoded text from a stream; `until(s)` resolves when the text ends with `s`. */
function textOf(stream) {
  const state = { text: '', waiters: new Set() }
  stream.setEncoding('utf8')
  stream.on('data', (chunk) => {
    state.text += chunk
    for (const waiter of Array.from(state.waiters)) waiter()
  })
  state.until = (suffix) =>
    within(
      new Promise((resolve) => {
        const waiter = () => {
          if (!state.text.endsWith(suffix)) return
          state.waiters.delete(waiter)
          resolve(state.text)
        }
        state.waiters.add(waiter)
        waiter()
      }),
      5000,
      `${JSON.stringify(suffix)}; decoded so far: ${JSON.stringify(state.text)}`,
    )
  return state
}

test('gzip: each event decodes from the raw body before the next one is sent', async (t) => {
  const srv = await compressedServer()
  t.after(() => srv.close())

  const req = http.get(`${srv.url}/events`, {
    headers: { Accept: 'text/event-stream', 'Accept-Encoding': 'gzip' },
  })
  const [res] = await once(req, 'response')
  t.after(() => req.destroy())
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], 'text/event-stream')
  // Without this the test would prove nothing: the body really is gzip.
  assert.equal(res.headers['content-encoding'], 'gzip')

  const gunzip = res.pipe(zlib.createGunzip())
  const body = textOf(gunzip)
  const [client] = srv.added
  const id = client.id
  let expected = ''
  const expect = async (frame) => {
    expected += frame
    assert.equal(await body.until(frame), expected)
  }

  for (let i = 1; i <= 5; i++) {
    sse.broadcast('z', 'tick', { i })
    await expect(`id: ${id}\nevent: tick\ndata: {"i":${i}}\n\n`)
  }
  sse.send(client, 'two\nlines')
  await expect(`id: ${id}\ndata: two\ndata: lines\n\n`)
  sse.setRetry(client, 1500)
  await expect(`id: ${id}\nretry: 1500\n\n`)
  sse.sendHeartbeat()
  await expect(':heartbeat signal\n\n')
})

test('fetch (which decompresses by itself) reads each event as it is sent', async (t) => {
  const srv = await compressedServer()
  t.after(() => srv.close())

  const controller = new AbortController()
  t.after(() => controller.abort())
  const res = await fetch(`${srv.url}/events`, {
    headers: { Accept: 'text/event-stream', 'Accept-Encoding': 'gzip, deflate, br' },
    signal: controller.signal,
  })
  assert.equal(res.status, 200)
  // compression picks br or gzip; either way the bytes on the wire are compressed.
  assert.match(res.headers.get('content-encoding'), /^(br|gzip)$/)

  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let text = ''
  /** Reads until the decoded text ends with `suffix`; fails if anything more arrives. */
  async function read(suffix) {
    while (!text.endsWith(suffix)) {
      const { value, done } = await within(reader.read(), 5000, `${JSON.stringify(suffix)}; so far ${JSON.stringify(text)}`)
      assert.equal(done, false)
      text += value
    }
    return text
  }

  const id = srv.added[0].id
  let expected = ''
  for (const word of ['one', 'two', 'three']) {
    sse.broadcast('z', 'word', word)
    expected += `id: ${id}\nevent: word\ndata: ${word}\n\n`
    assert.equal(await read(`data: ${word}\n\n`), expected)
  }
  await reader.cancel()
})
