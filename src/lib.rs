//! simple-sse-rs: the Rust core of a drop-in replacement for the npm package `simple-sse`.
//!
//! - `frame`: SSE frame encoding;
//! - `registry`: clients, rooms and the room index;
//! - `delivery`: per-client pending bytes, caps, backpressure and batches;
//! - `hub`: the napi surface that `index.js` drives;
//! - `redis`: broadcasts shared between processes through Redis pub/sub
//!   (`redis/message.rs` the wire format, `redis/task.rs` the connection task);
//!   not in the WASI build, where tokio's networking does not exist.
#![deny(clippy::all)]

pub mod delivery;
pub mod frame;
pub mod hub;
#[cfg(not(target_family = "wasm"))]
pub mod redis;
pub mod registry;
