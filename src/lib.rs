//! simple-sse-rs: the Rust core of a drop-in replacement for the npm package `simple-sse`.
//!
//! Layers, each importing only those below it:
//! - `hub` (+ `hub_redis`, `pull`): the napi surface that `index.js` drives (`pull`:
//!   Fetch API clients, whose frames wait until their stream pulls them);
//! - `redis`: broadcasts shared between processes (`redis/task.rs` pub/sub,
//!   `redis/stream.rs` the Redis Stream, `redis/message.rs` the wire format);
//!   not in the WASI build;
//! - `state`: what the JS thread and the Redis task share (registry, delivery,
//!   history, deferred fan-outs, the wake-up); `writer`: the writer threads;
//! - `replay`: `Last-Event-ID` replays, a cursor per client moved as its socket drains;
//! - `deferred`: broadcasts and heartbeats queued in O(1) and expanded off the
//!   JavaScript thread (by the writer threads) or at the next lock;
//! - `history`: event ids and the last N broadcasts, for `Last-Event-ID` replays;
//! - `delivery`: when and how each client's pending bytes are written (direct clients
//!   straight to their socket, the rest through JavaScript), backpressure;
//! - `framed`: the batch a flush hands to JavaScript;
//! - `outbox`: a client's pending bytes (its queue) and their HTTP/1.1 chunk framing;
//! - `fds`: which direct client writes to which descriptor, and when it last wrote;
//! - `limits`: the slow-reader rule (when a client whose socket refused bytes is dropped);
//! - `detached`: connections Rust owns (a duplicate of Node's descriptor) and the thread
//!   that watches them;
//! - `direct`: writing straight to a client's socket (Unix);
//! - `registry`: clients, rooms and the room index;
//! - `room`: room names as keys (JavaScript strings exactly, numbers) and from/to JS;
//! - `frame`: SSE frame encoding.
#![deny(clippy::all)]

pub mod deferred;
pub mod delivery;
pub mod detached;
pub mod direct;
pub mod fds;
pub mod frame;
pub mod framed;
pub mod history;
pub mod hub;
mod hub_redis;
pub mod limits;
pub mod outbox;
pub mod pull;
#[cfg(not(target_family = "wasm"))]
pub mod redis;
pub mod registry;
pub mod replay;
pub mod room;
pub mod state;
pub mod writer;
