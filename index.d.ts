// Type definitions for simple-sse-rs: the simple-sse 0.0.3 API on a Rust core.
//
// This file types the CommonJS entry (index.js): `export =` of one value merged with a
// type-only namespace, so every require-style import form works:
//   import sse = require('simple-sse-rs')
//   import sse from 'simple-sse-rs'               (esModuleInterop)
//   import { add, send, type Client } from 'simple-sse-rs'
// ES modules get index.d.mts (package.json "exports"), which names exactly what index.mjs
// exports. Keep the namespace free of values (no class, const or function): a value in it
// would clash with the `sse` const. Checked by __test__/types.test.js and `attw --pack`.

import type { EventEmitter } from 'node:events'
import type { ServerResponse } from 'node:http'

declare namespace sse {
  /** A room name. Compared strictly: `1` and `"1"` are different rooms. `"*"` means every client. */
  type Room = string | number

  /** Data of an event: strings are sent as they are, numbers/booleans/bigints as text, objects and `null` as JSON. */
  type Data = string | number | boolean | bigint | object | null

  /** The minimal request `add` needs (a `node:http` IncomingMessage or an Express `req`). */
  interface RequestLike {
    socket?: { setTimeout(ms: number): unknown }
    connection?: { addListener(event: 'close', listener: () => void): unknown }
  }

  /** The minimal response `add` needs (a `node:http` ServerResponse, an Express `res`, Fastify's `reply.raw`). */
  interface ResponseLike {
    writeHead(status: number, headers: Record<string, string>): unknown
    write?(chunk: string | Uint8Array, ...rest: unknown[]): boolean
    end?(...args: unknown[]): unknown
    /** Set by the `compression` middleware; called after every write. */
    flush?(): void
  }

  /**
   * A connected SSE client. The same object is in `clients` and returned by `getClient`.
   * (An interface, not a class, so that this namespace stays type-only and merges with
   * the `sse` value below: that is what lets named imports and `import =` both work.)
   */
  interface Client<Res extends ResponseLike = ServerResponse> {
    /** 0, 1, 2… in add order; never reused. */
    readonly id: number
    /** The rooms the client is in, in join order (a fresh array on each read). Assigning leaves all rooms and joins these. */
    rooms: Room[]
    /** The response passed to `add`. */
    readonly res: Res
  }

  /** `sse.Client`: for `instanceof` checks only; clients are made by `add`. */
  interface ClientConstructor {
    readonly prototype: Client<ResponseLike>
    [Symbol.hasInstance](value: unknown): value is Client<ResponseLike>
  }

  /** A client object or its numeric id. */
  type ClientRef = Client<any> | number

  interface DropInfo {
    /**
     * Why the client was dropped: `'slow'` when it did not read fast enough (more than
     * `maxPendingBytes` waited for it), `'error'` when writing to its response failed.
     */
    reason: 'slow' | 'error'
    /** The cap it passed (reason `'slow'`). */
    maxPendingBytes?: number
    /** What the response threw or emitted (reason `'error'`). */
    error?: unknown
  }

  /** The `'gap'` event: a reconnecting client asked for events older than the history keeps. */
  interface GapInfo {
    /** The `Last-Event-ID` the client sent. */
    lastEventId: string
    /** The oldest event id still in the history. */
    oldestId: string
  }

  interface RedisStatus {
    /**
     * `'down'` when the connection to Redis was lost, `'up'` when it is back (resubscribed),
     * `'overflow'` when broadcasts waiting to be published were dropped, `'too-large'` when a
     * broadcast was too large to publish.
     */
    status: 'up' | 'down' | 'overflow' | 'too-large'
    detail: string
    /** Broadcasts dropped (status `'overflow'`). */
    dropped?: number
  }

  /**
   * Which build of the core `require` loaded: a platform's native addon, or the WASI build
   * (`'wasm32-wasi'`: no Redis; see the README's supported platforms).
   */
  type Binding =
    | 'linux-x64-gnu'
    | 'linux-arm64-gnu'
    | 'linux-x64-musl'
    | 'linux-arm64-musl'
    | 'darwin-x64'
    | 'darwin-arm64'
    | 'win32-x64-msvc'
    | 'wasm32-wasi'
    | (string & {})

  /** `stats().history`: the events kept for clients that reconnect with `Last-Event-ID`. */
  interface HistoryStats {
    /** Events kept. */
    length: number
    oldestId: string | null
    newestId: string | null
  }

  interface RedisOptions {
    /** `redis://host:port[/db]` */
    url: string
    /** Channel namespace shared by the processes that should see each other's broadcasts. Default `"simple-sse"`. */
    prefix?: string
  }

  interface Stats {
    /** Connected clients. */
    clients: number
    /** Every non-empty room and its member count. */
    rooms: Array<{ room: Room; members: number }>
    /** Frames queued: events, retries and heartbeats. */
    eventsSent: number
    /** Bytes handed to the responses. */
    bytesSent: number
    /** Clients dropped for passing `maxPendingBytes`. */
    dropped: number
    maxPendingBytes: number
    /** The Redis link's counters, or `null` when `useRedis` is not in effect. */
    redis: RedisStats | null
    /** Which build of the core is running (as `sse.binding`). */
    binding: Binding
    /** The replay history, when `history` is on. */
    history?: HistoryStats
  }

  interface RedisStats {
    /** Whether the link is connected and subscribed now. */
    connected: boolean
    /** Broadcasts published to Redis. */
    published: number
    /** Broadcasts received from other processes. */
    received: number
    /** Broadcasts dropped: publish queue full, or a failed publish (never retried). */
    dropped: number
    /** Broadcasts waiting to be published. */
    queued: number
    /** Times the link reconnected after losing Redis. */
    reconnects: number
    /** Messages on the channel that were not valid broadcasts. */
    invalid: number
  }

  interface SimpleSSE extends EventEmitter {
    /**
     * The live clients in add order. The same array for the life of the process: read it,
     * don't change it. Typed by what `add` accepts: narrow `res` yourself if you need more.
     */
    readonly clients: readonly Client<ResponseLike>[]
    /** Heartbeat interval in ms (default 20000); `0` turns the heartbeat off. Takes effect at once. */
    get heartbeat(): number
    /** A number of ms, or a string of digits. */
    set heartbeat(ms: number | `${number}`)
    /** Bytes that may wait for one client before it is dropped (default 1 MiB). */
    maxPendingBytes: number
    /**
     * Events kept for clients that reconnect with `Last-Event-ID` (default 0: off).
     * Set a number of events, or a string of digits.
     */
    get history(): number
    set history(events: number | `${number}`)
    /** Which build of the core `require` loaded (`'linux-x64-gnu'`, `'wasm32-wasi'`, …). */
    readonly binding: Binding

    /** The client with this id, or `null`. */
    getClient(id: number): Client<ResponseLike> | null
    /**
     * Registers an SSE client: turns the socket timeout off, writes the event-stream
     * headers, removes the client when the connection closes and starts the heartbeat.
     */
    add<Res extends ResponseLike>(req: RequestLike, res: Res): Client<Res>
    /** Writes what was queued for the client, then forgets it (the connection stays open). Returns false when it was not registered; never throws for an unknown id. */
    remove(client: ClientRef): boolean
    /** Joins a room; `false` when already in it (always for `"*"`). Throws for an unknown id. */
    join(client: ClientRef, room: Room): boolean
    /** Leaves a room, or every room when `room` is omitted, `null` or `"*"`. */
    leave(client: ClientRef, room?: Room | null): void
    /** Whether the client is in the room; always true for `"*"`. */
    in(client: ClientRef, room: Room): boolean
    /** Sends `data` (no `event:` line). Nothing is sent when `data` is undefined. */
    send(client: ClientRef, data?: Data): void
    /** Sends `data` as event `event` (which must not contain `\r` or `\n`). */
    send(client: ClientRef, event: string | number | null | undefined, data: Data): void
    /** Sends `data` to every member of `room` (`"*"`: every client). */
    broadcast(room: Room, data?: Data): void
    broadcast(room: Room, event: string | number | null | undefined, data: Data): void
    /**
     * Tells the client to wait `retry` ms before reconnecting (`id: N\nretry: ms\n\n`).
     * A whole number >= 0 (a string of digits is accepted, as simple-sse did); anything else is a RangeError.
     */
    setRetry(client: ClientRef, retry: number | `${number}`): void
    /** Writes `:heartbeat signal\n\n` to every client now. */
    sendHeartbeat(): void
    /** Writes everything pending now, instead of on the next turn of the event loop. */
    flush(): void
    /** Graceful shutdown: writes what is pending, ends every response, stops the heartbeat, empties the registry. */
    close(): void
    /** Counters for dashboards and tests. */
    stats(): Stats
    /** Shares broadcasts with other processes through Redis pub/sub; resolves once subscribed. */
    useRedis(options: string | RedisOptions): Promise<void>
    /** Stops sharing broadcasts through Redis. */
    closeRedis(): Promise<void>
    /** The class of client objects, for `instanceof`. */
    readonly Client: ClientConstructor

    /** A client was dropped: too slow (`maxPendingBytes`) or its response failed. */
    on(event: 'drop', listener: (client: Client<ResponseLike>, info: DropInfo) => void): this
    /** The Redis link changed state or lost broadcasts. */
    on(event: 'redis', listener: (status: RedisStatus) => void): this
    /** A reconnecting client missed events that are no longer in the history. */
    on(event: 'gap', listener: (client: Client<ResponseLike>, info: GapInfo) => void): this
    on(event: string | symbol, listener: (...args: any[]) => void): this
    once(event: 'drop', listener: (client: Client<ResponseLike>, info: DropInfo) => void): this
    once(event: 'redis', listener: (status: RedisStatus) => void): this
    once(event: 'gap', listener: (client: Client<ResponseLike>, info: GapInfo) => void): this
    once(event: string | symbol, listener: (...args: any[]) => void): this
    off(event: 'drop', listener: (client: Client<ResponseLike>, info: DropInfo) => void): this
    off(event: 'redis', listener: (status: RedisStatus) => void): this
    off(event: 'gap', listener: (client: Client<ResponseLike>, info: GapInfo) => void): this
    off(event: string | symbol, listener: (...args: any[]) => void): this
    addListener(event: 'drop', listener: (client: Client<ResponseLike>, info: DropInfo) => void): this
    addListener(event: 'redis', listener: (status: RedisStatus) => void): this
    addListener(event: 'gap', listener: (client: Client<ResponseLike>, info: GapInfo) => void): this
    addListener(event: string | symbol, listener: (...args: any[]) => void): this
  }
}

declare const sse: sse.SimpleSSE
export = sse
