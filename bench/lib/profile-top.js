'use strict'
// Prints the functions with the most self time in a V8 .cpuprofile (node --cpu-prof).
// Usage: node bench/lib/profile-top.js FILE.cpuprofile [N]

const fs = require('node:fs')

const profile = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const top = Number(process.argv[3]) || 25
const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map()
let total = 0
profile.samples.forEach((id, i) => {
  const us = profile.timeDeltas[i] || 0
  const { functionName, url, lineNumber } = nodes.get(id).callFrame
  const key = `${functionName || '(anonymous)'}  ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`
  self.set(key, (self.get(key) || 0) + us)
  total += us
})
console.log(`total ${(total / 1000).toFixed(0)} ms sampled`)
for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}`)
}
