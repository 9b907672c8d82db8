'use strict'
// This package with detached connections (`sse.detach = true`): after the headers, Rust owns
// a duplicate of each descriptor and Node's socket, parser, request and response are released.
// Where the addon cannot detach (or a build without it), clients stay attached: the `info`
// command reports how many really are (`client.detached`), and fanout.js prints it.
const sse = require('../..')

sse.detach = true
require('./ours')
