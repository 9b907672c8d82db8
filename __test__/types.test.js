'use strict'
// index.d.ts: the fixtures use every function through every import form, and their
// `@ts-expect-error` lines prove wrong usages are rejected. Compiled twice, as users do:
//  - module nodenext: the package imports itself by name through package.json "exports"
//    (the "types" condition), from a CommonJS .ts file and from an ES module .mts file;
//  - the classic setup (module commonjs, moduleResolution node10, esModuleInterop), the
//    name mapped to index.d.ts with `paths` in a tsconfig written to a temp dir.
// Both compile a realistic Express app in strict TypeScript migrated by changing its import
// (fixtures/ts-app/express-app.ts). An app declaring the other kinds of client
// (fixtures/types-kinds.mts) is compiled on its own, the declaration being global.
// Then the types against the runtime: the real objects (stats(), stats().redis, the
// payloads of every event, a client) are built, written out as TypeScript types, and checked
// against the declarations both ways (see `shapeChecks`).
// Then the package as published: `attw --pack` (@arethetypeswrong/cli) finds no problem
// for node10, node16 from CJS, node16 from ESM and bundlers, and index.d.mts names
// exactly the values index.mjs exports (so a named import either fails to compile or works).

const { describe, test } = require('node:test')
const assert = require('node:assert/strict')
const { execFile } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..')
const tsc = path.join(root, 'node_modules', '.bin', 'tsc')
const usage = path.join(__dirname, 'fixtures', 'types-usage.ts')
const esm = path.join(__dirname, 'fixtures', 'types-esm.mts')
const kinds = path.join(__dirname, 'fixtures', 'types-kinds.mts')
const expressApp = path.join(__dirname, 'fixtures', 'ts-app', 'express-app.ts')

function run(args) {
  return new Promise((resolve) => {
    execFile(tsc, args, { cwd: root, timeout: 50000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, output: `${stdout}${stderr}` })
    })
  })
}

describe('index.d.ts', { concurrency: true }, () => {
  test('compiles with module nodenext, self-referenced through "exports"', async () => {
    // No skipLibCheck: index.d.ts itself is checked too.
    const { code, output } = await run([
      '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', usage, esm, expressApp,
    ])
    assert.equal(output, '')
    assert.equal(code, 0)
  })

  test('compiles as CommonJS with esModuleInterop and a paths mapping', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-types-'))
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
    const tsconfig = path.join(dir, 'tsconfig.json')
    fs.writeFileSync(
      tsconfig,
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'es2022',
          module: 'commonjs',
          moduleResolution: 'node10',
          esModuleInterop: true,
          skipLibCheck: true,
          typeRoots: [path.join(root, 'node_modules', '@types')],
          types: ['node'],
          paths: { 'simple-sse-rs': [path.join(root, 'index.d.ts')] },
        },
        files: [usage, expressApp],
      }),
    )
    const { code, output } = await run(['--project', tsconfig])
    assert.equal(output, '')
    assert.equal(code, 0)
  })

  test('an app declaring Fetch and detached clients gets the union, narrowed by kind', async () => {
    const { code, output } = await run([
      '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', kinds,
    ])
    assert.equal(output, '')
    assert.equal(code, 0)
  })
})

describe('the types match the runtime objects', () => {
  test('stats(), stats().redis, a client and every event payload, checked against index.d.ts both ways', { timeout: 60000 }, async (t) => {
    const samples = await buildSamples(t)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-shapes-'))
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
    const file = path.join(dir, 'shapes.ts')
    fs.writeFileSync(file, shapeChecks(samples))
    // SHAPES_OUT=file keeps the generated checks, to read them.
    if (process.env.SHAPES_OUT) fs.copyFileSync(file, process.env.SHAPES_OUT)
    const { code, output } = await run(['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', '--typeRoots', path.join(root, 'node_modules', '@types'), file])
    const wrong = [...namesAt(file, output)].join(', ')
    assert.equal(output, '', `the declarations do not match the runtime's ${wrong}:\n${fs.readFileSync(file, 'utf8')}`)
    assert.equal(code, 0)
    // Every declared variant was built for real.
    const reasons = (event) => [...new Set(samples.events.filter(([e]) => e === event).map(([, args]) => args[1].reason))].sort()
    assert.deepEqual(reasons('remove'), ['closed', 'dropped', 'removed', 'shutdown'])
    assert.deepEqual(reasons('drop'), ['error', 'slow'])
    assert.ok(samples.events.some(([e]) => e === 'add'))
    assert.ok(samples.events.some(([e]) => e === 'gap'))
    if (samples.redis) {
      assert.deepEqual([...new Set(samples.types.RedisStats.map((r) => r.mode))].sort(), ['pubsub', 'stream'])
      const statuses = new Set(samples.events.filter(([e]) => e === 'redis').map(([, [status]]) => status.status))
      assert.deepEqual([...statuses].sort(), ['down', 'overflow', 'too-large', 'up'])
    }
  })

  test('the checks fail for the declarations the runtime contradicted', async (t) => {
    // The same generated checks against the old, wrong declarations (history optional,
    // no mode/tooLarge, oldestId never null…) must not compile: the check can fail.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-shapes-'))
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
    const wrong = fs.readFileSync(path.join(root, 'index.d.ts'), 'utf8')
      .replace('    history: HistoryStats\n', '    history?: HistoryStats\n')
      .replace("    mode: 'pubsub' | 'stream'\n", '')
      .replace('    oldestId: string | null\n  }\n\n  /** The `\'redis\'` event', '    oldestId: string\n  }\n\n  /** The `\'redis\'` event')
      .replace('    bytes: number\n', '')
    fs.writeFileSync(path.join(dir, 'index.d.ts'), wrong)
    const client = Object.create(require('..').Client.prototype)
    Object.assign(client, { id: 0, rooms: ['a'], res: Object.create(require('node:http').ServerResponse.prototype) })
    const stats = { clients: 1, rooms: [], eventsSent: 0, bytesSent: 0, dropped: 0, maxPendingBytes: 1, history: { size: 0, length: 0, bytes: 0, oldestId: null, newestId: null }, redis: null, binding: 'linux-x64-gnu' }
    const redis = { mode: 'pubsub', connected: true, published: 0, received: 0, dropped: 0, queued: 0, reconnects: 0, invalid: 0, tooLarge: 0 }
    const samples = {
      types: { Stats: [stats, { ...stats, redis }], HistoryStats: [stats.history], RedisStats: [redis] },
      events: [['gap', [client, { lastEventId: '1-0', oldestId: null }]]],
      clients: [],
    }
    const file = path.join(dir, 'shapes.ts')
    fs.writeFileSync(file, shapeChecks(samples, path.join(dir, 'index.js')))
    const { code, output } = await run(['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', '--typeRoots', path.join(root, 'node_modules', '@types'), file])
    assert.notEqual(code, 0)
    assert.deepEqual([...namesAt(file, output)].sort(), ['HistoryStats', 'RedisStats', 'Stats', "Events['gap']"].sort())
  })
})

// ---- the runtime objects, and the TypeScript that checks them ---------------------------

/**
 * Builds the real objects: stats() with history off and on, a client, every reason of
 * 'remove' and 'drop', 'add', 'gap', and with redis-server (required when CI is set)
 * stats().redis in both modes and a 'redis' status.
 */
async function buildSamples(t) {
  const http = require('node:http')
  const sse = require('..')
  const { listen, connect, within } = require('./helpers')
  const { REDIS_SERVER, startRedis } = require('./fixtures/redis-helpers')
  // FetchClient: add samples of that kind here once the test makes them.
  const types = { Stats: [], HistoryStats: [], RedisStats: [], NodeClient: [], FetchClient: [], DetachedClient: [] }
  const events = []
  for (const name of ['add', 'remove', 'drop', 'gap', 'redis']) {
    const listener = (...args) => events.push([name, args])
    sse.on(name, listener)
    t.after(() => sse.off(name, listener))
  }
  const stats = () => {
    const s = sse.stats()
    types.Stats.push(s)
    types.HistoryStats.push(s.history)
    if (s.redis !== null) types.RedisStats.push(s.redis)
  }
  stats()

  const srv = await listen((req, res) => {
    if (req.url === '/broken') {
      res.write = () => {
        throw new Error('broken pipe')
      }
    }
    const client = sse.add(req, res, { detach: req.url === '/detached' })
    sse.join(client, 'news')
    sse.join(client, 7)
  })
  t.after(() => srv.close())
  const open = async (path = '/', headers = {}) => {
    const raw = await connect(srv.port, path, { headers })
    t.after(() => raw.close())
    return [raw, sse.clients.at(-1)]
  }
  const removed = (client) => within(new Promise((resolve) => {
    const listener = (c) => {
      if (c !== client) return
      sse.off('remove', listener)
      resolve()
    }
    sse.on('remove', listener)
  }), 5000, `'remove' for client ${client.id}`)

  const [rawA, a] = await open()
  assert.ok(a.res instanceof http.ServerResponse)
  // As it is now, in its rooms (a removed client's rooms read as []).
  types.NodeClient.push(Object.create(Object.getPrototypeOf(a), {
    id: { value: a.id, enumerable: true },
    rooms: { value: a.rooms, enumerable: true },
    res: { value: a.res, enumerable: true },
  }))
  stats()
  // A detached client (where this platform detaches connections).
  const [rawD, d] = await open('/detached')
  if (d.detached) {
    types.DetachedClient.push(Object.create(Object.getPrototypeOf(d), {
      id: { value: d.id, enumerable: true },
      rooms: { value: d.rooms, enumerable: true },
      res: { value: d.res, enumerable: true },
    }))
  }
  const detachedGone = removed(d)
  rawD.close()
  await detachedGone
  // 'removed', 'closed'
  const [, b] = await open()
  sse.remove(b)
  let gone = removed(a)
  rawA.close()
  await gone
  // 'dropped', as 'error' and as 'slow'
  const [, broken] = await open('/broken')
  gone = removed(broken)
  sse.send(broken, 'x')
  await gone
  const [rawSlow, slow] = await open()
  const cap = sse.maxPendingBytes
  sse.maxPendingBytes = 4096
  rawSlow.socket.pause()
  gone = removed(slow)
  let dropped = false
  gone.then(() => {
    dropped = true
  })
  for (let i = 0; !dropped; i++) {
    sse.send(slow, 'x'.repeat(16 * 1024))
    await new Promise((resolve) => setImmediate(resolve))
    assert.ok(i < 4000, 'the stalled client is dropped')
  }
  sse.maxPendingBytes = cap
  // 'gap' with an empty history (after a restart): oldestId null.
  sse.history = 2
  const gaps = events.filter(([e]) => e === 'gap').length
  const [rawEmpty, empty] = await open('/', { 'Last-Event-ID': '1700000000000-0' })
  sse.send(empty, 'after the replay') // held behind the replay, if any
  await rawEmpty.until('after the replay')
  rawEmpty.close()
  const unseen = {}
  if (!events.slice(gaps).some(([e, args]) => e === 'gap' && args[1].oldestId === null)) {
    t.diagnostic("no 'gap' for a reconnect to an empty history: GapInfo.oldestId null not seen")
    unseen['gap.1'] = { oldestId: 'null' }
  }
  // 'gap': a reconnect older than what the history keeps.
  sse.broadcast('*', 'first')
  const first = sse.stats().history.newestId
  for (let i = 0; i < 4; i++) sse.broadcast('*', String(i))
  stats()
  const gap = new Promise((resolve) => sse.once('gap', resolve))
  const [rawGap] = await open('/', { 'Last-Event-ID': first })
  await gap
  rawGap.close()

  let redis = false
  if (REDIS_SERVER !== null || process.env.CI) {
    redis = true
    const server = await startRedis()
    t.after(() => server.kill())
    for (const history of [0, 3]) {
      sse.history = history
      await sse.useRedis({ url: server.url, prefix: `shapes-${process.pid}-${history}` })
      stats()
      await sse.closeRedis()
    }
    sse.history = 0
    await sse.useRedis({ url: server.url, prefix: `shapes-${process.pid}` })
    // Every 'redis' status: too-large, then down (Redis killed), overflow (over 64 MiB
    // waiting while it is down), up (back on the same port).
    const status = (name) => within(new Promise((resolve) => {
      const listener = (s) => {
        if (s.status !== name) return
        sse.off('redis', listener)
        resolve()
      }
      sse.on('redis', listener)
    }), 15000, `the '${name}' status`)
    let next = status('too-large')
    sse.broadcast('nobody', 'x'.repeat(1 << 20))
    await next
    next = status('down')
    await server.kill()
    await next
    stats()
    next = status('overflow')
    for (let i = 0; i < 70; i++) sse.broadcast('nobody', 'x'.repeat(1000000))
    await next
    next = status('up')
    const again = await startRedis(server.port)
    t.after(() => again.kill())
    await next
    stats()
    await sse.closeRedis()
  }
  // 'shutdown'
  await open()
  sse.close()
  stats()
  // Events' clients are typed for an app that declared no other kind: the detached
  // client's own events are checked through its DetachedClient sample.
  const nodeEvents = events.filter(([, args]) => !(args[0] instanceof sse.Client && args[0].detached))
  return { types, events: nodeEvents, redis, unseen }
}

/** The sample names (`// sample of X` on the line) of the lines tsc's `output` reports. */
function namesAt(file, output) {
  const lines = fs.readFileSync(file, 'utf8').split('\n')
  const names = new Set()
  for (const m of output.matchAll(/shapes\.ts\((\d+),\d+\)/g)) {
    const at = lines[Number(m[1]) - 1].indexOf('// sample of ')
    if (at !== -1) names.add(lines[Number(m[1]) - 1].slice(at + 13))
  }
  return names
}

/**
 * TypeScript that checks the samples against the declarations (`dts`: the index.js whose
 * types are checked), both ways:
 *  - each sample, written as a type with its strings and booleans as literals, extends
 *    the declared type (no key or value the declarations do not allow);
 *  - the declared type extends the samples written with strings and booleans widened and
 *    the samples of one type merged (every declared key is there, required where the
 *    runtime always has it, with a value of the kind the runtime gives);
 *  - the declared keys (but those typed `?: undefined`, meaning absent) are exactly the
 *    sample's keys.
 * Unions (DropInfo, RedisStatus) are checked member by member, picked by `reason`/`status`.
 */
function shapeChecks(samples, dts = path.join(root, 'index.js')) {
  const http = require('node:http')
  const lines = [
    `import type sse = require(${JSON.stringify(dts)})`,
    'type Is<A extends B, B> = A',
    'type RealKeys<T> = T extends unknown ? Exclude<{ [K in keyof T]: [T[K]] extends [undefined] ? never : K }[keyof T], undefined> : never',
    // The members of union T whose K can be V.
    'type Pick1<T, K extends PropertyKey, V> = T extends unknown ? (V extends T[K & keyof T] ? T : never) : never',
  ]
  const isClient = (v) => v !== null && typeof v === 'object' && Object.getPrototypeOf(v) !== null && typeof Object.getOwnPropertyDescriptor(Object.getPrototypeOf(v), 'kind')?.get === 'function'
  const keysOf = (v) => (isClient(v) ? [...Object.keys(v), 'kind', 'detached'] : Object.keys(v))
  const isResponse = (v) => typeof Response === 'function' && v instanceof Response
  const isPlain = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof http.ServerResponse) && !(v instanceof Error) && !isResponse(v)
  /** One value's type: `wide` widens strings and booleans. */
  const typeOf = (v, wide) => typeOfMany([v], wide)
  /** The type of several values (one type's samples): objects merged key by key. */
  function typeOfMany(values, wide, extra = {}) {
    const parts = new Set()
    const objects = values.filter(isPlain)
    for (const v of values) {
      if (isPlain(v)) continue
      if (v === null) parts.add('null')
      else if (v === undefined) parts.add('undefined')
      else if (typeof v === 'string') parts.add(wide ? 'string' : JSON.stringify(v))
      else if (typeof v === 'boolean') parts.add(wide ? 'boolean' : String(v))
      else if (typeof v === 'number') parts.add('number')
      else if (v instanceof http.ServerResponse) parts.add("import('node:http').ServerResponse")
      else if (isResponse(v)) parts.add('Response')
      else if (v instanceof Error) parts.add(wide ? 'unknown' : 'Error')
      else if (Array.isArray(v)) {
        parts.add(v.length === 0 ? (wide ? 'unknown[]' : 'never[]') : `Array<${typeOfMany(v, wide)}>`)
      } else throw new Error(`no type for ${typeof v}`)
    }
    if (objects.length > 0) {
      const keys = [...new Set(objects.flatMap(keysOf))]
      const fields = keys.map((k) => {
        const present = objects.filter((o) => keysOf(o).includes(k))
        const type = typeOfMany(present.map((o) => o[k]), wide)
        return `${JSON.stringify(k)}${present.length < objects.length ? '?' : ''}: ${wide && extra[k] ? `${type} | ${extra[k]}` : type}`
      })
      parts.add(`{ ${fields.join('; ')} }`)
    }
    return [...parts].map((p) => `(${p})`).join(' | ') || 'never'
  }
  const keyUnion = (objects) => [...new Set(objects.flatMap(keysOf))].map((k) => JSON.stringify(k)).join(' | ')
  let n = 0
  /**
   * Checks `values` (samples of one declared type) against `declared`. `unseen`: values a
   * key may have that no sample shows (key -> type), allowed in the declared type.
   */
  function check(name, declared, values, unseen = {}) {
    // Group by discriminant, to check a union's members one by one.
    const groups = new Map()
    for (const v of values) {
      const disc = isPlain(v) && typeof v.reason === 'string' ? ['reason', v.reason] : isPlain(v) && typeof v.status === 'string' ? ['status', v.status] : null
      const key = JSON.stringify(disc)
      if (!groups.has(key)) groups.set(key, { disc, values: [] })
      groups.get(key).values.push(v)
    }
    for (const { disc, values: group } of groups.values()) {
      const target = disc === null ? declared : `Pick1<${declared}, ${JSON.stringify(disc[0])}, ${JSON.stringify(disc[1])}>`
      lines.push(`// sample of ${name}${disc === null ? '' : ` (${disc[0]} ${disc[1]})`}`)
      for (const v of group) lines.push(`type L${++n} = Is<${typeOf(v, false)}, ${target}> // sample of ${name}`)
      lines.push(`type W${++n} = Is<${target}, ${typeOfMany(group, true, unseen)}> // sample of ${name}`)
      if (group.every(isPlain)) {
        lines.push(`type K${++n} = Is<RealKeys<${target}>, ${keyUnion(group)}> // sample of ${name}`)
        lines.push(`type K${++n} = Is<${keyUnion(group)}, RealKeys<${target}>> // sample of ${name}`)
      }
    }
  }
  for (const [name, values] of Object.entries(samples.types)) {
    if (values.length > 0) check(name, `sse.${name}`, values)
  }
  // Each event's arguments, position by position, and their number.
  const byEvent = new Map()
  for (const [event, args] of samples.events) {
    if (!byEvent.has(event)) byEvent.set(event, [])
    byEvent.get(event).push(args)
  }
  for (const [event, calls] of byEvent) {
    const declared = `sse.Events[${JSON.stringify(event)}]`
    for (const length of new Set(calls.map((args) => args.length))) {
      lines.push(`type N${++n} = Is<${length}, ${declared}['length']> // sample of Events['${event}']`)
      lines.push(`type N${++n} = Is<${declared}['length'], ${length}> // sample of Events['${event}']`)
    }
    const width = Math.max(...calls.map((args) => args.length))
    for (let i = 0; i < width; i++) {
      const values = calls.map((args) => args[i])
      check(`Events['${event}']`, `${declared}[${i}]`, values, (samples.unseen || {})[`${event}.${i}`])
    }
  }
  return `${lines.join('\n')}\n`
}

describe('the published types', () => {
  test('attw --pack: no problem in node10, node16 (CJS and ESM) and bundler resolution', async () => {
    const attw = path.join(root, 'node_modules', '.bin', 'attw')
    const { stdout, code } = await new Promise((resolve) => {
      execFile(attw, ['--pack', '.', '--format', 'json'], { cwd: root, timeout: 50000, maxBuffer: 64 << 20 }, (err, out) =>
        resolve({ stdout: out, code: err ? err.code : 0 }),
      )
    })
    const report = JSON.parse(stdout)
    const problems = Array.isArray(report.problems) ? report.problems : Object.values(report.problems).flat()
    assert.deepEqual(problems, [])
    assert.equal(code, 0)
    const kinds = Object.keys(report.analysis.entrypoints['.'].resolutions).sort()
    assert.deepEqual(kinds, ['bundler', 'node10', 'node16-cjs', 'node16-esm'])
    // node16 from ESM resolves the ESM types, not the CommonJS ones.
    assert.match(report.analysis.entrypoints['.'].resolutions['node16-esm'].resolution.fileName, /index\.d\.mts$/)
  })

  test('index.d.mts declares exactly the named exports of index.mjs', async () => {
    const mod = await import(require('node:url').pathToFileURL(path.join(root, 'index.mjs')).href)
    const runtime = Object.keys(mod).filter((k) => k !== 'default').sort()
    const dts = fs.readFileSync(path.join(root, 'index.d.mts'), 'utf8')
    const declared = [
      ...[...dts.matchAll(/^export declare const (\w+)/gm)].map((m) => m[1]),
      ...[...dts.matchAll(/^export \{ \w+ as (\w+) \}/gm)].map((m) => m[1]),
    ].sort()
    assert.deepEqual(declared, runtime)
  })
})
