'use strict'
// index.d.ts: the fixtures use every function through every import form, and their
// `@ts-expect-error` lines prove wrong usages are rejected. Compiled twice, as users do:
//  - module nodenext: the package imports itself by name through package.json "exports"
//    (the "types" condition), from a CommonJS .ts file and from an ES module .mts file;
//  - the classic setup (module commonjs, moduleResolution node10, esModuleInterop), the
//    name mapped to index.d.ts with `paths` in a tsconfig written to a temp dir.

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
