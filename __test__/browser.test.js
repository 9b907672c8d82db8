'use strict'
// The demo (examples/server.js): its HTTP API with an EventSource client, then the page
// in headless Chromium: pick a room, see that room's messages and not another room's,
// watch the clock tick, and keep a screenshot in __test__/artifacts/.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { once } = require('node:events')

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = path.join(__dirname, 'artifacts')
// Flags for a closed network: no background connections, no first-run work.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

// On a developer machine without Chromium, skip with a hint; in CI, never skip.
const skip = !fs.existsSync(CHROMIUM) && !process.env.CI
  ? `${CHROMIUM} is missing: apt-get install chromium`
  : false

async function post(base, room, name, text) {
  const res = await fetch(`${base}/rooms/${room}/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, text }),
  })
  assert.equal(res.status, 202)
}

test('the demo API: stats, a welcome, room messages, validation', async (t) => {
  const { EventSource } = require('eventsource')
  const { start, stop, ROOMS } = require('../examples/server.js')
  const { within } = require('./helpers.js')
  const sse = require('..')

  const server = start({ port: 0, host: '127.0.0.1' })
  t.after(() => stop(server))
  await once(server, 'listening')
  const base = `http://127.0.0.1:${server.address().port}`

  const stats = await (await fetch(`${base}/stats`)).json()
  assert.deepEqual(stats.rooms, ROOMS.map((room) => ({ room, members: 0 })))
  assert.equal(stats.clients, 0)

  // An unknown room falls back to the first one.
  const source = new EventSource(`${base}/events?room=nope`)
  t.after(() => source.close())
  const messages = []
  const nextEvent = (type) =>
    within(new Promise((resolve) => source.addEventListener(type, (e) => resolve(JSON.parse(e.data)), { once: true })), 5000, type)
  const welcome = await nextEvent('welcome')
  assert.deepEqual(welcome, { id: sse.clients[0].id, room: ROOMS[0], rooms: ROOMS })
  assert.deepEqual(sse.clients[0].rooms, [ROOMS[0]])
  source.addEventListener('message', (e) => messages.push(JSON.parse(e.data)))

  const postTo = (room, body) =>
    fetch(`${base}/rooms/${room}/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    })
  assert.equal((await postTo('nope', { text: 'x' })).status, 404)
  assert.equal((await postTo(ROOMS[0], { text: '   ' })).status, 400)
  assert.equal((await postTo(ROOMS[0], { text: 'x'.repeat(501) })).status, 400)
  assert.equal((await postTo(ROOMS[1], { text: 'elsewhere' })).status, 202)
  const arrived = nextEvent('message')
  assert.equal((await postTo(ROOMS[0], { name: ' Ada ', text: ' hi ' })).status, 202)
  const msg = await arrived
  assert.deepEqual({ ...msg, at: typeof msg.at }, { room: ROOMS[0], name: 'Ada', text: 'hi', at: 'number' })
  assert.deepEqual(messages, [msg])

  // The clock and the stats reach every client.
  const [clock, live] = await Promise.all([nextEvent('clock'), nextEvent('stats')])
  assert.ok(Math.abs(clock.now - Date.now()) < 5000)
  assert.equal(live.clients, 1)
  assert.deepEqual(live.rooms.find((r) => r.room === ROOMS[0]), { room: ROOMS[0], members: 1 })
})

test('the demo page shows its room\'s messages, not other rooms\', and a ticking clock', { skip, timeout: 45000 }, async (t) => {
  const { chromium } = require('playwright-core')
  const { start, stop } = require('../examples/server.js')
  const sse = require('..')

  const server = start({ port: 0, host: '127.0.0.1' })
  t.after(() => stop(server))
  await once(server, 'listening')
  const base = `http://127.0.0.1:${server.address().port}`

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS })
  t.after(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  const pageErrors = []
  page.on('pageerror', (err) => pageErrors.push(err))

  await page.goto(`${base}/`)
  // The page starts in the first room, then the visitor picks #node.
  await page.locator('#status').filter({ hasText: 'live in #lobby' }).waitFor({ timeout: 10000 })
  await page.click('#room-node')
  await page.locator('#status').filter({ hasText: 'live in #node' }).waitFor()
  // The lobby connection was closed and removed; the counters follow.
  await page.locator('#room-node .count').filter({ hasText: /^1$/ }).waitFor()
  await page.locator('#room-lobby .count').filter({ hasText: /^0$/ }).waitFor()
  assert.equal(sse.clients.length, 1)
  assert.deepEqual(sse.clients[0].rooms, ['node'])

  // A message from the page's own form reaches the page.
  await page.fill('#name', 'Ada')
  await page.fill('#text', 'Hello from the browser')
  await page.click('#message-form button[type=submit]')
  const messages = page.locator('#messages')
  await messages.getByText('Hello from the browser').waitFor()

  // Another room's message, then one for #node: once the second arrived, the first
  // would have arrived before it on the same stream.
  await post(base, 'rust', 'Linus', 'Only for the rust room')
  await post(base, 'node', 'Grace', 'Events arrive in order, one write per turn.')
  await messages.getByText('Events arrive in order').waitFor()
  const shown = await messages.innerText()
  assert.ok(shown.includes('Grace'), shown)
  assert.ok(!shown.includes('Only for the rust room'), shown)
  assert.equal(await page.locator('#messages .message').count(), 2)

  // The clock ticks: two different times, a second apart.
  const clock = page.locator('#clock')
  await clock.filter({ hasText: /^\d\d:\d\d:\d\d$/ }).waitFor()
  const first = await clock.innerText()
  await page.waitForFunction((t0) => document.getElementById('clock').textContent !== t0, first, { timeout: 5000 })
  const second = await clock.innerText()
  assert.match(second, /^\d\d:\d\d:\d\d$/)
  assert.notEqual(second, first)

  // The stats panel shows sse.stats().
  await page.locator('#stat-clients').filter({ hasText: /^1$/ }).waitFor()
  assert.match(await page.locator('#stat-events').innerText(), /^[\d,]+$/)

  fs.mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: path.join(ARTIFACTS, 'demo.png'), fullPage: true })
  assert.deepEqual(pageErrors, [])
})
