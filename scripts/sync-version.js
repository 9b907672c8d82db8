#!/usr/bin/env node
'use strict'
// `npm version <bump>` runs this (the "version" script) after bumping package.json:
// every npm/<platform>/package.json and the main package's optionalDependencies take the
// new version, so the main package always asks for platform packages of its own version.

const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const mainFile = path.join(root, 'package.json')
const main = JSON.parse(fs.readFileSync(mainFile, 'utf8'))
const write = (file, json) => fs.writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`)

for (const name of Object.keys(main.optionalDependencies)) main.optionalDependencies[name] = main.version
write(mainFile, main)
for (const dir of fs.readdirSync(path.join(root, 'npm'))) {
  const file = path.join(root, 'npm', dir, 'package.json')
  if (!fs.existsSync(file)) continue
  const pkg = JSON.parse(fs.readFileSync(file, 'utf8'))
  pkg.version = main.version
  write(file, pkg)
}
console.log(`npm/*/package.json and optionalDependencies now at ${main.version}`)
