'use strict'
// This package's WASI build (NAPI_RS_FORCE_WASI=1), measured beside the native addon:
// BENCH_LIBS=ours,ours-wasi,floor npm run bench (needs npm run build:targets wasm32-wasi).
process.env.NAPI_RS_FORCE_WASI = '1'
const sse = require('../..')
if (sse.binding !== 'wasm32-wasi') throw new Error(`expected the WASI build, got ${sse.binding}`)
require('./ours')
