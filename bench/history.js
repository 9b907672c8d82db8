'use strict'
// What history costs on the broadcast path, in one process: the same server with
// sse.history = 0 (off: frames carry client ids), 1,000 and 100,000. Each run
// broadcasts to every client, one broadcast per event-loop turn and then all in one
// burst; reports delivered events/s, server CPU per broadcast, and the server's RSS
// once the history is full, with ratios against history off measured in the same run.
//
//   node bench/history.js [--clients 1000] [--events 1000] [--size 64] [--fill 100000]
//
// Uses bench/lib (server.js for the server process, load.js for the raw SSE clients).

const { option, entry, forkServer } = require('./lib/forked')

const SERVER_FLAG = '--history-bench-server'

entry(SERVER_FLAG, runServer, main)

/** A server process: this package (bench/servers/ours.js) keeping `HISTORY` broadcasts. */
function runServer() {
  require('..').history = Number(process.env.HISTORY)
  require('./servers/ours')
}

function startServer(history) {
  return forkServer(__filename, SERVER_FLAG, { HISTORY: String(history) })
}

async function main() {
  const { connectAll, expect, settle, closeAll, nowUs } = require('./lib/load')
  const clients = option('clients', 1000)
  const events = option('events', 1000)
  const size = option('size', 64)
  const fill = option('fill', 100000)
  console.log(`1 process, ${clients} clients; ${events} broadcasts of ${size} bytes to '*' per run\n`)

  const results = []
  for (const history of [0, 1000, fill]) {
    const server = await startServer(history)
    const conns = await connectAll(server.port, new Array(clients).fill(null))
    while ((await server.request('count')).added < clients) await new Promise(setImmediate)
    // Fill the history first, so the runs pay for trimming as a full history does.
    if (history > 0) await server.request('run', { room: 'nobody', count: history, size, mode: 'burst', run: 0 })
    let run = 0
    const row = { history }
    for (const mode of ['turn', 'burst']) {
      run++
      const tally = expect(conns, run, events, () => true)
      const startUs = nowUs()
      await server.request('run', { room: '*', count: events, size, mode, run })
      const settled = await settle(tally, 120000, 0)
      const { cpuMs } = await server.request('stop')
      row[`${mode}: events/s`] = Math.round(tally.received / ((settled.doneUs - startUs) / 1e6))
      row[`${mode}: CPU us/broadcast`] = Number(((cpuMs * 1000) / events).toFixed(1))
      if (settled.missing + settled.extra > 0) row[`${mode}: missing+extra`] = settled.missing + settled.extra
    }
    row['RSS MiB (history full)'] = Number(((await server.request('mem')).rss / 2 ** 20).toFixed(1))
    results.push(row)
    closeAll(conns)
    await server.exit()
  }
  const base = results[0]
  for (const row of results) {
    row['turn: vs off'] = `${(row['turn: events/s'] / base['turn: events/s']).toFixed(2)}x`
    row['burst: vs off'] = `${(row['burst: events/s'] / base['burst: events/s']).toFixed(2)}x`
  }
  console.table(results)
  console.log('\n(history N keeps N broadcasts; the fill broadcasts go to a room nobody is in)')
}
