'use strict'
// The README's reconnect example (examples/reconnect.js) in headless Chromium: the
// server cuts the stream, the browser's own EventSource reconnects with Last-Event-ID,
// and the page shows consecutive ticks, the missed ones replayed from the history.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { once } = require('node:events')

const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

// On a developer machine without Chromium, skip with a hint; in CI, never skip.
const skip = !fs.existsSync(CHROMIUM) && !process.env.CI ? `${CHROMIUM} is missing: apt-get install chromium` : false

test('a browser resumes where it left off after the server cut its stream', { skip, timeout: 30000 }, async (t) => {
  const { chromium } = require('playwright-core')
  const sse = require('..')
  const { start, stop } = require('../examples/reconnect.js')
  const server = start({ port: 0, host: '127.0.0.1', tickMs: 50, retryMs: 1000 })
  t.after(() => {
    stop(server)
    sse.history = 0
  })
  await once(server, 'listening')
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS })
  t.after(() => browser.close())
  const page = await browser.newPage()
  const pageErrors = []
  page.on('pageerror', (err) => pageErrors.push(err))
  await page.goto(`http://127.0.0.1:${server.address().port}/`)

  const ticks = page.locator('#log li')
  await page.waitForFunction(() => document.querySelectorAll('#log li').length >= 5, null, { timeout: 10000 })
  await page.click('#cut')
  await page.locator('#state').filter({ hasText: 'reconnecting' }).waitFor({ timeout: 5000 })
  await page.locator('#state').filter({ hasText: 'connected' }).waitFor({ timeout: 5000 })
  // A few live ticks after the replay.
  const before = await ticks.count()
  await page.waitForFunction((n) => document.querySelectorAll('#log li').length >= n + 5, before, { timeout: 10000 })

  const numbers = (await ticks.evaluateAll((items) => items.map((li) => li.value))).reverse()
  assert.deepEqual(numbers, numbers.map((_, i) => numbers[0] + i), 'consecutive ticks')
  assert.equal(await page.locator('#check').innerText(), 'no tick missed')
  // 1 s away at a tick every 50 ms: many came from the history (at least 3, with room for a slow machine).
  assert.ok((await page.locator('#log li.replayed').count()) >= 3)
  assert.match(await page.locator('#last').innerText(), /^\d+-\d+$/)
  assert.deepEqual(pageErrors, [])
})
