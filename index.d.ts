// Type definitions for simple-sse-rs: the simple-sse 0.0.3 API on a Rust core.
//
// This file types the CommonJS entry (index.js): `export =` of one value merged with a
// type-only namespace, so every require-style import form works:
//   import sse = require('simple-sse-rs')
//   import sse from 'simple-sse-rs'               (esModuleInterop)
//   import { add, send, type Client } from 'simple-sse-rs'
// ES modules get index.d.mts (package.json "exports"), which names exactly what index.mjs
// exports. Keep the namespace free of values (no class, const or function): a value in it
// would clash with the `sse` const. Checked by __test__/types.test.js (which also builds the
// real objects and checks them against these declarations, both ways) and `attw --pack`.

import type { EventEmitter } from 'node:events'
import type { ServerResponse } from 'node:http'

declare global {
  /**
   * The kinds of client an app adds besides Node's (`add(req, res)`), keyed by `client.kind`.
   * Empty by default, so `sse.clients`, `getClient` and the event listeners give clients
   * whose `res` is Node's `ServerResponse`. An app that also adds Fetch API requests or
   * detached connections declares them once, and `Client` becomes the union to narrow:
   *
   *   declare global {
   *     interface SimpleSseClientKinds {
   *       fetch: import('simple-sse-rs').FetchClient
   *       detached: import('simple-sse-rs').DetachedClient
   *     }
   *   }
   *
   * (Global, so that the same declaration works from CommonJS and ES modules.)
   */
  interface SimpleSseClientKinds {}
}

declare namespace sse {
  /** A room name. Compared strictly: `1` and `"1"` are different rooms. `"*"` means every client. */
  type Room = string | number

  /**
   * Data of an event: strings are sent as they are, numbers/booleans/bigints as text, objects
   * and `null` as JSON. Where a parameter also takes `undefined`, see that function.
   */
  type Data = string | number | boolean | bigint | object | null

  /** An event name: a string without line breaks, or a number (sent as text). */
  type EventName = string | number

  /** The minimal request `add` needs (a `node:http` IncomingMessage or an Express `req`). */
  interface RequestLike {
    socket?: { setTimeout(ms: number): unknown } | null
    connection?: { addListener(event: 'close', listener: () => void): unknown } | null
  }

  /** The minimal response `add` needs (a `node:http` ServerResponse, an Express `res`, Fastify's `reply.raw`). */
  interface ResponseLike {
    writeHead(status: number, headers: Record<string, string>): unknown
    write?(chunk: string | Uint8Array, ...rest: any[]): unknown
    end?(...args: any[]): unknown
    /** Set by the `compression` middleware; called after every write. */
    flush?(): void
  }

  /**
   * What every client has. A client's own keys are `id`, `rooms` and `res` (as simple-sse's
   * plain objects: `Object.keys`, spreads and `JSON.stringify` see those three); `kind` and
   * `detached` are getters on `Client.prototype`, to tell the kinds of client apart.
   */
  interface ClientBase {
    /** 0, 1, 2… in add order; never reused. */
    readonly id: number
    /** The rooms the client is in, in join order (a fresh array on each read). Assigning leaves all rooms and joins these. */
    rooms: Room[]
  }

  /** A client added with `add(req, res)`: a Node.js response (`node:http`, Express, Fastify's `reply.raw`). */
  interface NodeClient<Res extends ResponseLike = ServerResponse> extends ClientBase {
    readonly kind: 'node'
    readonly detached: false
    /** The response passed to `add`. */
    readonly res: Res
  }

  /** A Fetch API `Request` (Node's, Bun's, Deno's…), recognised by this shape: what `add(request)` takes. */
  interface FetchRequestLike {
    readonly url: string
    readonly method: string
    readonly headers: { get(name: string): string | null }
    /** Its abort removes the client (the browser went away). */
    readonly signal?: AbortSignal
  }

  /** A client added with a Fetch API `Request`: its `res` is the `Response` the handler returns. */
  interface FetchClient extends ClientBase {
    readonly kind: 'fetch'
    readonly detached: false
    /** The streaming `Response` (status 200, the SSE headers) to return from the handler. */
    readonly res: Response
  }

  /**
   * A connection handed over to Rust (`add(req, res, { detach: true })` or `sse.detach`):
   * Node's socket, request and response are released, Rust writes every frame and removes
   * the client when the peer goes away (`'remove'`, reason `'closed'`).
   */
  interface DetachedClient extends ClientBase {
    readonly kind: 'detached'
    readonly detached: true
    readonly res: null
  }

  /** `add(req, res, options)`. */
  interface AddOptions {
    /**
     * Hand the connection to Rust once the headers are out (default: `sse.detach`): Rust
     * keeps its own duplicate of the socket's descriptor, Node's socket, parser, request
     * and response are released (their `'close'` fires then: use `sse.on('remove')` for
     * per-client cleanup), and the client's `res` becomes `null`. A connection that cannot
     * be detached (TLS, HTTP/2, a response wrapped by middleware, a request whose body is
     * unread, Windows, WASI) stays attached, without an error (`client.detached` false).
     */
    detach?: boolean
  }

  /** What `add(req, res)` returns: a `NodeClient`, or a `DetachedClient` once the app declares that kind. */
  type AddedClient<Res extends ResponseLike> =
    | NodeClient<Res>
    | ('detached' extends keyof SimpleSseClientKinds ? DetachedClient : never)

  /** Every kind of client, whatever the app declared. */
  type AnyClient = NodeClient<ResponseLike> | FetchClient | DetachedClient

  /**
   * A client as `sse.clients`, `getClient` and the event listeners give it: a `NodeClient`
   * (whose `res` is `Res`, by default Node's `ServerResponse`), or one of the kinds declared
   * in `SimpleSseClientKinds` (none by default). Narrow with `client.kind` or `client.detached`.
   */
  type Client<Res extends ResponseLike = ServerResponse> =
    | NodeClient<Res>
    | SimpleSseClientKinds[keyof SimpleSseClientKinds]

  /** `sse.Client`: for `instanceof` checks only; clients are made by `add`. */
  interface ClientConstructor {
    readonly prototype: AnyClient
    [Symbol.hasInstance](value: unknown): value is Client
  }

  /** A client object (of any kind) or its numeric id. */
  type ClientRef = AnyClient | number

  /** The `'drop'` event: a client too slow to keep up, or whose response failed. */
  type DropInfo =
    | {
        /** It did not read fast enough: more than `maxPendingBytes` waited for it. */
        reason: 'slow'
        /** The limit it passed. */
        maxPendingBytes: number
        error?: undefined
      }
    | {
        /** Writing to its response failed. */
        reason: 'error'
        /** What the response threw or emitted. */
        error: unknown
        maxPendingBytes?: undefined
      }

  /** The `'remove'` event: why a client left the registry. */
  interface RemoveInfo {
    /**
     * `'closed'`: its connection closed, or its response was ended;
     * `'removed'`: `sse.remove(client)` (or assigning `sse.clients`);
     * `'dropped'`: too slow or failing (the `'drop'` event came first, with the details);
     * `'shutdown'`: `sse.close()`.
     */
    reason: 'closed' | 'removed' | 'dropped' | 'shutdown'
  }

  /**
   * The `'gap'` event: a replaying client missed broadcasts the history cannot serve (its id
   * is older than the history, was forgotten, or is unknown, as after a restart; or trimming
   * passed a replay that was not read).
   */
  interface GapInfo {
    /** The `Last-Event-ID` the client sent, or the last id it got when trimming passed its replay. */
    lastEventId: string
    /** The oldest event id still in the history: what the replay goes on from; `null` when the history is empty. */
    oldestId: string | null
  }

  /** The `'redis'` event: the Redis link changed state or lost broadcasts. */
  type RedisStatus =
    | {
        /**
         * `'down'` when the connection to Redis was lost, `'up'` when it is back,
         * `'too-large'` when a broadcast was too large to share (delivered locally only).
         */
        status: 'up' | 'down' | 'too-large'
        detail: string
        dropped?: undefined
      }
    | {
        /** Broadcasts waiting to be published were dropped (the queue was full). */
        status: 'overflow'
        detail: string
        /** Broadcasts dropped so far. */
        dropped: number
      }

  /** The events of `sse` and their listeners' arguments. */
  interface Events {
    /** A client was added (inside `add`, once its headers are written, before `add` returns). */
    add: [client: Client]
    /** A client left the registry; emitted after the batch of writes (or the `close()`) it left in. */
    remove: [client: Client, info: RemoveInfo]
    /** A client was dropped: too slow (`maxPendingBytes`) or its response failed. A `'remove'` follows. */
    drop: [client: Client, info: DropInfo]
    /** A reconnecting client missed events that are no longer in the history. */
    gap: [client: Client, info: GapInfo]
    /** The Redis link changed state or lost broadcasts. */
    redis: [status: RedisStatus]
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
    /** Broadcasts kept at most (`sse.history`; 0: history off). */
    size: number
    /** Broadcasts kept now. */
    length: number
    /** Memory they hold, about (frames and bookkeeping). */
    bytes: number
    oldestId: string | null
    newestId: string | null
    /** Clients whose `Last-Event-ID` replay has not caught up yet. */
    replaying: number
  }

  interface RedisOptions {
    /** `redis://host:port[/db]` */
    url: string
    /** Namespace shared by the processes that should see each other's broadcasts. Default `"simple-sse"`. */
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
    /** Bytes waiting for clients now: queued, and refused by their sockets (held by Node). */
    pendingBytes: number
    /** The replay history (`size` 0 when `history` is off). */
    history: HistoryStats
    /** The Redis link's counters, or `null` when `useRedis` is not in effect. */
    redis: RedisStats | null
    /** Which build of the core is running (as `sse.binding`). */
    binding: Binding
  }

  interface RedisStats {
    /** `'pubsub'` (history off when `useRedis` was called) or `'stream'` (a Redis Stream: replays across processes). */
    mode: 'pubsub' | 'stream'
    /** Whether the link is connected (and subscribed, or reading the stream) now. */
    connected: boolean
    /** Broadcasts published to Redis. */
    published: number
    /** Broadcasts received from other processes. */
    received: number
    /** Broadcasts not published: queue full, a failed publish (never retried), or closed first. */
    dropped: number
    /** Broadcasts waiting to be published. */
    queued: number
    /** Times the link reconnected after losing Redis. */
    reconnects: number
    /** Messages on the channel that were not valid broadcasts. */
    invalid: number
    /** Broadcasts too large to share (delivered to this process only). */
    tooLarge: number
  }

  interface SimpleSSE extends EventEmitter {
    /** The live clients in add order. The same array for the life of the process: read it, don't change it. */
    readonly clients: readonly Client[]
    /**
     * Heartbeat interval in whole ms (default 20000); `0` turns the heartbeat off. Takes effect at once.
     * Reads as a number.
     */
    get heartbeat(): number
    /**
     * A whole number of ms, or a string of digits (`process.env.SSE_HEARTBEAT`). `undefined` or
     * `null` (an unset variable) keeps the current interval. Anything else (a fraction, a
     * negative number, `"20s"`) is a RangeError.
     */
    set heartbeat(ms: number | string | null | undefined)
    /** Bytes that may wait for one client before it is dropped (default 1 MiB). Reads as a number. */
    get maxPendingBytes(): number
    /** A whole number >= 1, or a string of digits; anything else is a RangeError. */
    set maxPendingBytes(bytes: number | string)
    /** Events kept for clients that reconnect with `Last-Event-ID` (default 0: off). Reads as a number. */
    get history(): number
    /** A whole number >= 0, or a string of digits; anything else is a RangeError. */
    set history(events: number | string)
    /**
     * How long after `add` a reconnecting client's rooms are gathered before its replay
     * starts, in ms (default 500; `0`: at the end of the turn it was added in). Rooms it
     * joins within the window are replayed; broadcasts to it wait behind the replay.
     */
    get replayWindow(): number
    set replayWindow(ms: number | string)
    /**
     * Whether `add` detaches connections by default (default `false`); `add`'s `detach`
     * option overrides it. A boolean; anything else is a TypeError. An app that sets it
     * declares `detached: DetachedClient` in `SimpleSseClientKinds`, so that `add`,
     * `sse.clients` and the events give the union to narrow with `client.detached`.
     */
    get detach(): boolean
    set detach(value: boolean)
    /** Which build of the core `require` loaded (`'linux-x64-gnu'`, `'wasm32-wasi'`, …). */
    readonly binding: Binding

    /** The client with this id, or `null`. */
    getClient(id: number): Client | null
    /**
     * Registers an SSE client: turns the socket timeout off, writes the event-stream
     * headers, removes the client when the connection closes and starts the heartbeat.
     * Throws (registering nothing) for a response whose client is registered, or whose headers went out.
     * With `detach: true`, the connection is handed to Rust once the headers are out
     * (a `DetachedClient`) where it can be; otherwise it stays a `NodeClient`.
     */
    add<Res extends ResponseLike>(req: RequestLike, res: Res, options: AddOptions & { detach: true }): NodeClient<Res> | DetachedClient
    /**
     * As above; with `sse.detach` on (and no `detach: false`), the client may be detached
     * (declare the `detached` kind in `SimpleSseClientKinds` to get it in the return type).
     */
    add<Res extends ResponseLike>(req: RequestLike, res: Res, options?: AddOptions): AddedClient<Res>
    /**
     * Registers an SSE client of a Fetch API handler (Hono, Next.js route handlers, Bun.serve,
     * Deno.serve): `client.res` is the Response to return. The client is removed when the
     * request aborts, the body is cancelled, or the body is not read for 3 heartbeats.
     */
    add(request: FetchRequestLike): FetchClient
    /**
     * Writes what was queued for the client, then forgets it (the connection stays open).
     * Returns false when it was not registered; never throws for an unknown id.
     */
    remove(client: ClientRef): boolean
    /** Joins a room; `false` when already in it (always for `"*"`). Throws for an unknown id. */
    join(client: ClientRef, room: Room): boolean
    /** Leaves a room, or every room when `room` is omitted, `null` or `"*"`. */
    leave(client: ClientRef, room?: Room | null): void
    /** Whether the client is in the room; always true for `"*"`. */
    in(client: ClientRef, room: Room): boolean
    /** Sends `data` (no `event:` line). Nothing is sent when `data` is undefined. */
    send(client: ClientRef, data?: Data | undefined, none?: undefined): void
    /**
     * Sends `data` as event `event` (which must not contain `\r` or `\n`). When `data` is
     * undefined, `event` is sent as the data, with no `event:` line (as simple-sse 0.0.3 did).
     */
    send(client: ClientRef, event: EventName | null | undefined, data: Data | undefined): void
    /** Sends `data` to every member of `room` (`"*"`: every client). Nothing is sent when `data` is undefined. */
    broadcast(room: Room, data?: Data | undefined, none?: undefined): void
    /** `send(client, event, data)` to every member of `room`. */
    broadcast(room: Room, event: EventName | null | undefined, data: Data | undefined): void
    /**
     * Tells the client to wait `retry` ms before reconnecting (`id: N\nretry: ms\n\n`).
     * A whole number >= 0 or a string of digits (as simple-sse did); anything else is a RangeError.
     */
    setRetry(client: ClientRef, retry: number | `${number}`): void
    /** Writes `:heartbeat signal\n\n` to every client now. */
    sendHeartbeat(): void
    /**
     * Writes everything pending now, instead of on the next turn of the event loop, and
     * waits for the writer threads: when it returns, every client's pending bytes are in
     * its socket or, where the socket refused them, held by Node for it (as after
     * `res.write`). It does not wait for the peer to read them.
     */
    flush(): void
    /** Graceful shutdown: writes what is pending, ends every response, stops the heartbeat, empties the registry. */
    close(): void
    /** Counters for dashboards and tests. */
    stats(): Stats
    /**
     * Shares broadcasts with every process using the same Redis and prefix: through pub/sub
     * when `history` is off, through a Redis Stream when it is on (replays then work across
     * processes). Resolves once connected; rejects (and stays local) when Redis cannot be reached.
     */
    useRedis(options: string | RedisOptions): Promise<void>
    /** Stops sharing broadcasts through Redis; resolves once the connections are closed. */
    closeRedis(): Promise<void>
    /** The class of client objects, for `instanceof`. */
    readonly Client: ClientConstructor

    on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this
    on(event: string | symbol, listener: (...args: any[]) => void): this
    once<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this
    once(event: string | symbol, listener: (...args: any[]) => void): this
    off<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this
    off(event: string | symbol, listener: (...args: any[]) => void): this
    addListener<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this
    addListener(event: string | symbol, listener: (...args: any[]) => void): this
    removeListener<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this
    removeListener(event: string | symbol, listener: (...args: any[]) => void): this
    prependListener<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this
    prependListener(event: string | symbol, listener: (...args: any[]) => void): this
    prependOnceListener<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this
    prependOnceListener(event: string | symbol, listener: (...args: any[]) => void): this
  }
}

declare const sse: sse.SimpleSSE
export = sse
