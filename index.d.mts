// Types of the ES module entry (index.mjs): the default export is the same instance as
// require('simple-sse-rs'), and the named exports are exactly index.mjs's. Live settings
// (heartbeat, maxPendingBytes, history) and the EventEmitter methods (on, once…) are not
// named exports: use them on the default export (`sse.heartbeat = 0`, `sse.on(…)`).

import type { ServerResponse } from 'node:http'
import sse from './index.js'

export default sse

export type {
  Room,
  Data,
  EventName,
  RequestLike,
  FetchRequestLike,
  ResponseLike,
  ClientBase,
  FetchClient,
  DetachedClient,
  AddOptions,
  AddedClient,
  AnyClient,
  ClientConstructor,
  ClientRef,
  DropInfo,
  RemoveInfo,
  GapInfo,
  Events,
  RedisStatus,
  RedisOptions,
  RedisStats,
  Binding,
  HistoryStats,
  Stats,
  SimpleSSE,
} from './index.js'

/** A connected SSE client (see index.d.ts): a NodeClient, or a kind declared in SimpleSseClientKinds. */
export type Client<Res extends sse.ResponseLike = ServerResponse> = sse.Client<Res>
/** A client added with `add(req, res)` (see index.d.ts). */
export type NodeClient<Res extends sse.ResponseLike = ServerResponse> = sse.NodeClient<Res>

export declare const clients: typeof sse.clients
export declare const getClient: typeof sse.getClient
export declare const add: typeof sse.add
export declare const remove: typeof sse.remove
export declare const join: typeof sse.join
export declare const leave: typeof sse.leave
export declare const send: typeof sse.send
export declare const broadcast: typeof sse.broadcast
export declare const setRetry: typeof sse.setRetry
export declare const sendHeartbeat: typeof sse.sendHeartbeat
export declare const flush: typeof sse.flush
export declare const close: typeof sse.close
export declare const stats: typeof sse.stats
export declare const useRedis: typeof sse.useRedis
export declare const closeRedis: typeof sse.closeRedis
/** The class of client objects, for `instanceof`. */
export declare const Client: typeof sse.Client
export declare const binding: typeof sse.binding
declare const isIn: typeof sse.in
export { isIn as in }
