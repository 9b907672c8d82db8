'use strict'
// Turns the benchmark's results (see run.js) into the printed tables, the PASS/MISS
// targets and a hand-written SVG chart.

const US = 'ours'
const NAMES = { ours: 'simple-sse-rs', floor: 'floor (node:http)', 'simple-sse': 'simple-sse 0.0.3', 'better-sse': 'better-sse 0.16.1', 'sse-channel': 'sse-channel 4.0.2' }
const COLORS = { ours: '#e8590c', floor: '#868e96', 'simple-sse': '#1c7ed6', 'better-sse': '#2f9e44', 'sse-channel': '#ae3ec9' }
const SHORT = {
  turn: '64 B to all, one per turn',
  burst: '64 B to all, one burst',
  kb1: '1 KB to all, one per turn',
  kb16: '16 KB to all, one per turn',
  churn: '64 B to all, with churn',
  room: '64 B to one room of 100',
  wide: '64 B to all, 19,000 clients',
  idle: 'idle memory',
}

const nameOf = (lib) => NAMES[lib] || lib
const colorOf = (lib) => COLORS[lib] || '#343a40'
const fmt = (x, digits = 1) => (x === null || x === undefined ? '—' : Number(x).toFixed(digits))
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : '—')
/** The idle figure the target uses: anonymous RSS per client (results from before it had only total RSS). */
const anonOf = (m) => (m.anonKB === undefined ? m.rssKB : m.anonKB)

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** The product's targets, each compared with peers measured in the same run. */
function targets(doc) {
  const r = doc.results
  const cpu = (lib, key) => r[lib] && r[lib][key] && r[lib][key].cpuMs
  const out = []
  const check = (name, value, limit, pass) => {
    if (value === undefined || limit === undefined || Number.isNaN(value) || Number.isNaN(limit)) return
    out.push({ name, value: Number(value.toFixed(3)), limit: Number(limit.toFixed(3)), pass })
  }
  const vsFloor = (key, max) => {
    if (cpu(US, key) && cpu('floor', key)) {
      const x = cpu(US, key) / cpu('floor', key)
      check(`${key}: CPU ≤ ${max}× floor`, x, max, x <= max)
    }
  }
  const timesLess = (key, peer, min) => {
    if (cpu(US, key) && cpu(peer, key)) {
      const x = cpu(peer, key) / cpu(US, key)
      check(`${key}: CPU ≥ ${min}× less than ${peer}`, x, min, x >= min)
    }
  }
  const less = (key, peer) => {
    if (cpu(US, key) && cpu(peer, key)) {
      const x = cpu(US, key) / cpu(peer, key)
      check(`${key}: CPU less than ${peer} (ours ÷ ${peer})`, x, 1, x < 1)
    }
  }
  // Issue 10's targets (server CPU vs the floor, same run), then the peers.
  vsFloor('turn', 0.6)
  vsFloor('burst', 0.1)
  vsFloor('room', 0.8)
  vsFloor('kb16', 1.0)
  vsFloor('wide', 0.65)
  less('churn', 'floor')
  timesLess('burst', 'simple-sse', 5)
  less('turn', 'better-sse')
  less('turn', 'simple-sse')
  timesLess('room', 'simple-sse', 2)
  if (r[US] && r[US].idle && r.floor && r.floor.idle) {
    const extra = (anonOf(r[US].idle) - anonOf(r.floor.idle)) * 1024
    const what = r[US].idle.anonKB === undefined ? 'RSS' : 'anonymous RSS'
    // ours − floor moved within ~250 B between runs (median of 3 × 10,000 clients, and one run of 4,000 alike).
    const noisy = doc.mode === 'quick' ? ' [quick mode: one run, ±250 B]' : ''
    check(`idle: ${what} per client ≤ floor + 512 B (ours − floor, bytes)${noisy}`, extra, 512, extra <= 512)
  }
  if (r[US]) {
    const runs = Object.values(r[US]).filter((x) => x.events !== undefined)
    const lost = runs.reduce((s, x) => s + x.missing + x.extra, 0)
    if (runs.length > 0) check('no event lost or duplicated (missing + extra)', lost, 0, lost === 0)
  }
  return out
}

function text(doc) {
  const parts = []
  const libs = doc.libs
  for (const sc of doc.scenarios) {
    if (sc.key === 'idle') continue
    const rows = libs
      .filter((lib) => doc.results[lib][sc.key])
      .map((lib) => {
        const x = doc.results[lib][sc.key]
        const ours = doc.results[US] && doc.results[US][sc.key]
        return [nameOf(lib), fmt(x.cpuMs), fmt(x.wallMs), fmt(x.p50Ms, 2), fmt(x.p99Ms, 2), x.missing, x.extra, lib === US || !ours ? '—' : ratio(ours.cpuMs, x.cpuMs)]
      })
    parts.push(`${sc.key}: ${sc.label} (${sc.events.toLocaleString('en')} events)`)
    parts.push(table(['library', 'server CPU ms', 'wall ms', 'p50 ms', 'p99 ms', 'missing', 'extra', 'ours ÷ lib (CPU)'], rows))
    parts.push('')
  }
  const idle = libs.filter((lib) => doc.results[lib].idle)
  if (idle.length > 0) {
    const ours = doc.results[US] && doc.results[US].idle
    const anon = idle.some((lib) => doc.results[lib].idle.anonKB !== undefined)
    parts.push(`idle: ${doc.scenarios.find((s) => s.key === 'idle').label} (after GC${anon ? ', median of fresh servers' : ''})`)
    // Results from before anonymous RSS had total RSS only: no runs and total columns then.
    const cols = anon ? [0, 1, 2, 3, 4, 5, 6] : [0, 1, 4, 5, 6]
    const header = ['library', anon ? 'anonymous RSS KB' : 'RSS KB', 'runs', 'total RSS KB', 'V8 heap KB', 'external KB', `ours − lib ${anon ? 'anon.' : 'RSS'} KB`]
    const rows = idle.map((lib) => {
      const m = doc.results[lib].idle
      const runs = m.anonKBRuns ? m.anonKBRuns.map((x) => fmt(x, 2)).join(' / ') : '—'
      return [nameOf(lib), fmt(anonOf(m), 2), runs, fmt(m.rssKB, 2), fmt(m.heapKB, 2), fmt(m.externalKB, 2), lib === US || !ours ? '—' : fmt(anonOf(ours) - anonOf(m), 2)]
    })
    parts.push(table(cols.map((i) => header[i]), rows.map((row) => cols.map((i) => row[i]))))
    parts.push('')
  }
  if (doc.writes && Object.keys(doc.writes).length > 0) {
    parts.push('writes per delivered event (diagnostic run): res.write calls / socket writes (system calls)')
    parts.push(table(['library', 'res.write, per turn', 'socket, per turn', 'res.write, burst', 'socket, burst'], Object.entries(doc.writes).map(([lib, w]) => [nameOf(lib), fmt(w.turn.res, 2), fmt(w.turn.socket, 2), fmt(w.burst.res, 3), fmt(w.burst.socket, 3)])))
    parts.push('')
  }
  const cpuKeys = doc.results[US] ? doc.scenarios.filter((s) => s.key !== 'idle' && doc.results[US][s.key]).map((s) => s.key) : []
  if (cpuKeys.length > 0) {
    const peers = libs.filter((lib) => lib !== US)
    parts.push('server CPU, ours ÷ peer (below 1 = we use less)')
    parts.push(table(['scenario', ...peers], cpuKeys.map((key) => [key, ...peers.map((p) => ratio(doc.results[US][key].cpuMs, doc.results[p][key] && doc.results[p][key].cpuMs))])))
    parts.push('')
  }
  parts.push('targets (informational)')
  for (const t of doc.targets) parts.push(`  ${t.pass ? 'PASS' : 'MISS'}  ${t.name}: ${t.value} (limit ${t.limit})`)
  return parts.join('\n')
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Small multiples: one panel per scenario with its own linear scale, bars per library. */
function svg(doc) {
  const libs = doc.libs
  // Memory last: it is the one panel that is not CPU.
  const ordered = [...doc.scenarios.filter((s) => s.key !== 'idle'), ...doc.scenarios.filter((s) => s.key === 'idle')]
  const panels = ordered.map((sc) => ({
    title: SHORT[sc.key] || sc.key,
    sub: sc.key === 'idle'
      ? `${libs.some((lib) => doc.results[lib].idle && doc.results[lib].idle.anonKB !== undefined) ? 'anonymous ' : ''}RSS KB per client, ${sc.clients.toLocaleString('en')} clients`
      : `server CPU ms, ${sc.count} events × ${(sc.events / sc.count).toLocaleString('en')} clients${sc.events / sc.count < sc.clients ? ` (of ${sc.clients.toLocaleString('en')})` : ''}`,
    values: libs.map((lib) => {
      const x = doc.results[lib][sc.key]
      return x ? (sc.key === 'idle' ? anonOf(x) : x.cpuMs) : null
    }),
  }))
  const cols = 3
  const pw = 320
  const ph = 240
  const top = 90
  const width = cols * pw + 20
  const height = top + Math.ceil(panels.length / cols) * ph + 20
  const out = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`)
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`)
  out.push(`<text x="${width / 2}" y="28" text-anchor="middle" font-size="18" font-weight="bold">SSE broadcast: server CPU and memory per client (lower is better)</text>`)
  out.push(`<text x="${width / 2}" y="48" text-anchor="middle" font-size="12" fill="#495057">${esc(`ours = simple-sse-rs · node ${doc.machine.node}, each server pinned to one core · median of ${doc.method.reps} run(s) · ${doc.date.slice(0, 10)}`)}</text>`)
  // Legend.
  const lw = 150
  let lx = (width - libs.length * lw) / 2
  for (const lib of libs) {
    out.push(`<rect x="${lx}" y="62" width="14" height="14" fill="${colorOf(lib)}"/>`)
    out.push(`<text x="${lx + 20}" y="74" font-size="12">${esc(nameOf(lib))}</text>`)
    lx += lw
  }
  panels.forEach((p, i) => {
    const x0 = 10 + (i % cols) * pw
    const y0 = top + Math.floor(i / cols) * ph
    const plotTop = y0 + 62
    const plotH = ph - 95
    const base = plotTop + plotH
    const max = Math.max(...p.values.filter((v) => v !== null), 1e-9)
    out.push(`<text x="${x0 + pw / 2}" y="${y0 + 20}" text-anchor="middle" font-size="14" font-weight="bold">${esc(p.title)}</text>`)
    out.push(`<text x="${x0 + pw / 2}" y="${y0 + 37}" text-anchor="middle" font-size="11" fill="#495057">${esc(p.sub)}</text>`)
    out.push(`<line x1="${x0 + 20}" y1="${base}" x2="${x0 + pw - 20}" y2="${base}" stroke="#adb5bd"/>`)
    const slot = (pw - 40) / libs.length
    p.values.forEach((v, j) => {
      if (v === null) return
      const h = Math.max(1, (v / max) * plotH)
      const bx = x0 + 20 + j * slot + slot * 0.15
      const bw = slot * 0.7
      out.push(`<rect x="${bx.toFixed(1)}" y="${(base - h).toFixed(1)}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}" fill="${colorOf(libs[j])}"><title>${esc(`${nameOf(libs[j])}: ${v}`)}</title></rect>`)
      out.push(`<text x="${(bx + bw / 2).toFixed(1)}" y="${(base - h - 4).toFixed(1)}" text-anchor="middle" font-size="11">${esc(v >= 100 ? v.toFixed(0) : v.toFixed(1))}</text>`)
      out.push(`<text x="${(bx + bw / 2).toFixed(1)}" y="${base + 14}" text-anchor="middle" font-size="10" fill="#495057">${esc(libs[j] === US ? 'ours' : libs[j])}</text>`)
    })
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

module.exports = { targets, text, svg, NAMES }

// `node bench/lib/report.js [results.json]`: print the tables and rewrite the SVG beside the JSON.
if (require.main === module) {
  const fs = require('node:fs')
  const path = require('node:path')
  const file = path.resolve(process.argv[2] || path.join(__dirname, '..', 'results', 'latest.json'))
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'))
  doc.targets = targets(doc)
  fs.writeFileSync(path.join(path.dirname(file), 'latest.svg'), svg(doc))
  console.log(text(doc))
}
