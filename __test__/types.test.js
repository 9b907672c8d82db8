'use strict'
// index.d.ts: the fixtures use every function through every import form, and their
// `@ts-expect-error` lines prove wrong usages are rejected. Compiled twice, as users do:
//  - module nodenext: the package imports itself by name through package.json "exports"
//    (the "types" condition), from a CommonJS .ts file and from an ES module .mts file;
//  - the classic setup (module commonjs, moduleResolution node10, esModuleInterop), the
//    name mapped to index.d.ts with `paths` in a tsconfig written to a temp dir.
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
      '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', usage, esm,
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
        files: [usage],
      }),
    )
    const { code, output } = await run(['--project', tsconfig])
    assert.equal(output, '')
    assert.equal(code, 0)
  })
})

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
