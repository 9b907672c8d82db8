'use strict'
// A reconnect that resumes where it left off: `node examples/reconnect.js`, then open
// http://localhost:3002 (PORT to change it) and press "Cut the connection".
//
// The server broadcasts a numbered `tick` every 300 ms with sse.history on. The button
// makes the server cut every SSE connection; the browser's EventSource reconnects
// by itself 1.5 s later (setRetry), sending Last-Event-ID, and gets the ticks it missed
// from the history (shown in orange: they arrived late): the numbers stay consecutive.

const http = require('node:http')
const sse = require('..')

sse.history = 100
sse.on('gap', (client, { lastEventId, oldestId }) => {
  sse.send(client, 'note', `missed more than the history keeps (${lastEventId} < ${oldestId})`)
})


const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>simple-sse-rs: reconnect without losing events</title>
<style>body{font:15px system-ui;margin:2em}li.replayed{color:#b35900}#log{columns:6}</style>
<h1>Reconnect without losing events</h1>
<p><button id="cut">Cut the connection</button> <span id="state">connecting…</span></p>
<p>Last event id: <code id="last">none</code>. Ticks in <span style="color:#b35900">orange</span> came from
the history after a reconnect. <strong id="check"></strong></p>
<ol id="log"></ol>
<script>
  const log = document.getElementById('log')
  const check = document.getElementById('check')
  let expected = null
  const events = new EventSource('/events')
  events.onopen = () => { document.getElementById('state').textContent = 'connected' }
  events.onerror = () => { document.getElementById('state').textContent = 'reconnecting…' }
  events.addEventListener('tick', (e) => {
    const { n, at } = JSON.parse(e.data)
    const item = document.createElement('li')
    item.value = n
    item.textContent = 'tick ' + n
    // Sent a while ago: it was missed while disconnected, and replayed from the history.
    if (Date.now() - at > 250) item.className = 'replayed'
    log.prepend(item)
    document.getElementById('last').textContent = e.lastEventId
    if (expected !== null && n !== expected) check.textContent = 'missed tick ' + expected + '!'
    else if (!check.textContent.startsWith('missed')) check.textContent = 'no tick missed'
    expected = n + 1
  })
  events.addEventListener('note', (e) => alert(e.data))
  document.getElementById('cut').onclick = () => fetch('/cut', { method: 'POST' })
</script>`

/** Starts the page and the ticks; `stop(server)` ends both. */
function start({ port = 3002, host, tickMs = 300, retryMs = 1500 } = {}) {
  let tick = 0
  const ticker = setInterval(() => sse.broadcast('*', 'tick', { n: ++tick, at: Date.now() }), tickMs)
  const server = http.createServer((req, res) => {
    if (req.url === '/events') {
      const client = sse.add(req, res)
      sse.setRetry(client, retryMs) // the browser reconnects after retryMs: ticks are missed meanwhile
      return
    }
    if (req.url === '/cut' && req.method === 'POST') {
      for (const client of [...sse.clients]) {
        // A detached client (sse.detach) has no res: removing it ends its stream.
        if (client.detached) sse.remove(client)
        else client.res.destroy()
      }
      res.writeHead(204).end()
      return
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(PAGE)
  })
  server.once('close', () => clearInterval(ticker))
  return server.listen(port, host)
}

function stop(server) {
  sse.close()
  server.close()
}

if (require.main === module) {
  const port = Number(process.env.PORT) || 3002
  start({ port }).once('listening', () => console.log(`http://localhost:${port}`))
}

module.exports = { start, stop }
