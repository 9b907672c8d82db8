'use strict'
// Next.js 16 App Router route handlers, built with the real `next build` (Turbopack, the
// default, with NO configuration: no serverExternalPackages) in a project that installs the
// packed package, served by `next start`: the Fetch API scenarios (fixtures/fetch/scenarios.js),
// a broadcast from another route reaching the streams, and the webpack build (`--webpack`).
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { runScenarios, bodyReader } = require('./fixtures/fetch/scenarios')
const { nextProject, nextBuild, nextStart, localBuild } = require('./fixtures/fetch/next-project')
const { FILES } = require('./fixtures/fetch/next-files')

const skip = localBuild() === null && !process.env.CI ? 'no local build of the addon: npm run build' : false
let project = null
const project$ = skip ? null : nextProject(FILES)
after(() => project$ && project$.catch(() => {}))

let server = null
runScenarios({
  name: 'Next.js route handler',
  skip,
  async start() {
    project = await project$
    server = await nextStart(project)
    return server
  },
})

test('Next.js: a broadcast from another route handler reaches the streams (one module instance)', { skip, timeout: 60000 }, async () => {
  const stream = bodyReader(await fetch(`${server.url}/events?room=n`))
  await stream.until('event: welcome')
  const res = await fetch(`${server.url}/api/notify`, { method: 'POST', body: 'from notify' })
  assert.deepEqual(await res.json(), { clients: 1 })
  await stream.until('event: news\ndata: from notify\n\n')
  await stream.cancel()
})

test('Next.js: next build --webpack needs no configuration either, and the route serves', { skip, timeout: 120000 }, async () => {
  await server.stop()
  const out = await nextBuild(project, ['--webpack'])
  assert.match(out.stdout, /webpack/i)
  const again = await nextStart(project)
  try {
    const res = await fetch(`${again.url}/api/notify`, { method: 'POST', body: 'x' })
    assert.deepEqual(await res.json(), { clients: 0 })
    const stream = bodyReader(await fetch(`${again.url}/events?room=w`))
    await stream.until('event: welcome')
    await stream.cancel()
  } finally {
    await again.stop()
  }
})
