'use strict'
// Over TLS a response always takes the framed path (Rust frames each turn as an HTTP/1.1
// chunk, JS writes it to the TLS socket): the slow-reader rule holds there as on the
// direct path. A reader draining a big burst stays; one that stops is dropped once
// 1 MiB more piles up behind what its socket refused. (tls-key.pem and tls-cert.pem are
// a self-signed test certificate for 127.0.0.1.)

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const https = require('node:https')
const path = require('node:path')
const sse = require('..')
const { pacedReader } = require('./fixtures/paced-reader')

const MiB = 1024 * 1024

after(() => sse.close())

/** Resolves once `check()` holds (checked every few ms), or fails after `ms`. */
async function until(check, what, ms = 20000) {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > ms) assert.fail(`timed out: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

test('over TLS: 16 MB to a 25 MB/s reader then small events, all delivered; a reader that stops behind 8 MB is dropped after 1 MiB more', async (t) => {
  const fixtures = path.join(__dirname, 'fixtures')
  const added = new Map()
  const server = https.createServer(
    { key: fs.readFileSync(path.join(fixtures, 'tls-key.pem')), cert: fs.readFileSync(path.join(fixtures, 'tls-cert.pem')) },
    (req, res) => {
      const client = sse.add(req, res)
      added.set(req.url, client)
      sse.send(client, 'snapshot', 'S'.repeat(req.url === '/fast' ? 16 * 1000 * 1000 : 8 * 1000 * 1000))
    },
  )
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  const port = server.address().port
  const drops = []
  const onDrop = (client, info) => drops.push({ client, info })
  sse.on('drop', onDrop)
  t.after(() => sse.off('drop', onDrop))

  const fast = await pacedReader(port, { bytes: 256 * 1024, everyMs: 10, path: '/fast', tls: true })
  t.after(() => fast.close())
  const stalled = await pacedReader(port, { bytes: 64 * 1024, everyMs: 50, path: '/stalled', tls: true })
  t.after(() => stalled.close())
  await until(() => added.size === 2 && stalled.taken > 0, 'both added, the stalled one took a little')
  stalled.stop()
  const stalledClient = added.get('/stalled')
  const fastClient = added.get('/fast')
  assert.ok(stalledClient.res.socket.encrypted, 'a TLS socket')

  // Small events to the fast reader, 16 KiB ones to the stalled one, every 10 ms.
  let n = 0
  let queuedBehind = 0
  const ticker = setInterval(() => {
    sse.send(fastClient, 'small', `small:${n++}`)
    if (sse.clients.includes(stalledClient)) {
      sse.send(stalledClient, 'e', 'x'.repeat(16 * 1024))
      queuedBehind += Buffer.byteLength(`id: ${stalledClient.id}\nevent: e\ndata: \n\n`) + 16 * 1024
    }
  }, 10)
  t.after(() => clearInterval(ticker))
  const fastDropped = () => drops.some((d) => d.client === fastClient)
  await until(
    () => fastDropped() || (fast.bodyBytes > 16 * 1000 * 1000 && fast.events().length >= 21 && drops.length > 0),
    'the fast reader has it all and the stalled one is dropped',
    60000,
  )
  clearInterval(ticker)

  assert.ok(!fastDropped(), `the fast reader was dropped after ${fast.bodyBytes} bytes`)
  assert.equal(drops.length, 1, 'only the stalled reader is dropped')
  assert.equal(drops[0].client, stalledClient)
  assert.deepEqual(drops[0].info, { reason: 'slow', maxPendingBytes: MiB })
  assert.ok(queuedBehind > MiB, `dropped after only ${queuedBehind} bytes behind its burst`)
  assert.ok(queuedBehind <= MiB + 16 * 1024 + 4 * MiB, `${queuedBehind} bytes piled up`)
  const evs = fast.events()
  assert.equal(evs[0].length, 16 * 1000 * 1000, 'the big event arrived whole')
  evs.slice(1).forEach((data, i) => assert.equal(data, `small:${i}`))
  assert.ok(sse.clients.includes(fastClient), 'the fast reader stays')
  t.diagnostic(`stalled reader dropped after ${queuedBehind} bytes behind its burst`)
})
