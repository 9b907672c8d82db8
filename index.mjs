// ESM entry: the same instance as require('simple-sse-rs'), so both share one registry.
// Keep the named exports in step with index.d.mts.
// Through createRequire, not `import sse from './index.js'`: Deno reads a .js file outside
// node_modules as an ES module (no default export then).
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const sse = require('./index.js')

export default sse
export const {
  clients,
  getClient,
  add,
  remove,
  join,
  leave,
  send,
  broadcast,
  setRetry,
  sendHeartbeat,
  flush,
  close,
  stats,
  useRedis,
  closeRedis,
  Client,
  binding,
} = sse
const isIn = sse.in
export { isIn as in }
