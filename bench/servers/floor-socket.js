'use strict'
// Not in the default run (BENCH_LIBS=ours,floor,floor-socket to include it): the floor
// below res.write. Each event is one prebuilt HTTP/1.1 chunk written straight to each
// client's socket, which is what this package does with its batches.
const { serveFloor } = require('../lib/floor')

serveFloor({
  target: (res) => res.socket,
  encode: (frame) => Buffer.from(`${Buffer.byteLength(frame).toString(16)}\r\n${frame}\r\n`),
})
