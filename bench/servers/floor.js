'use strict'
// The floor: plain node:http, a Set of responses per room, and one res.write of one
// prebuilt frame per client per event. No ids, no checks: what any library must at least cost.
const { serveFloor } = require('../lib/floor')

serveFloor({
  target: (res) => res,
  encode: (frame) => Buffer.from(frame),
})
