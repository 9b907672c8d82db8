//! simple-sse-rs: the Rust core of a drop-in replacement for the npm package `simple-sse`.
//!
//! - `frame`: SSE frame encoding;
//! - `registry`: clients, rooms and the room index;
//! - `delivery`: per-client pending bytes, limits, backpressure and batches;
//! - `direct`: writing straight to a client's socket (Unix);
//! - `hub`: the napi surface that `index.js` drives;
//! - `redis`: broadcasts shared between processes through Redis pub/sub
//!   (`redis/message.rs` the wire format, `redis/task.rs` the connection task).
#![deny(clippy::all)]

pub mod delivery;
pub mod direct;
pub mod frame;
pub mod hub;
pub mod redis;
pub mod registry;
