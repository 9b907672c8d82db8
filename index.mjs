// ESM entry: the same instance as require('simple-sse-rs'), so both share one registry.
// Keep the named exports in step with index.d.mts.
import { createRequire } from 'node:module'

const sse = createRequire(import.meta.url)('./index.js')

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
