//! Cross-process broadcasts over Redis pub/sub.
//!
//! Every process that calls `useRedis` keeps one Redis connection (RESP3, so one
//! connection both publishes and receives) and subscribes to `<prefix>:broadcast`.
//! `Hub::broadcast` delivers locally at once, then hands the broadcast to
//! [`Link::publish`], which only encodes it and appends it to a bounded queue: the
//! JS thread never waits for Redis. A tokio task owns the connection and does the rest:
//!
//! - it publishes the queue in order, in pipelined batches, on one connection, so the
//!   broadcasts of one process reach every other process in the order they were made;
//! - it delivers what other processes published to the local members of the room
//!   (its own messages come back too, and are skipped by their origin id);
//! - when the connection is lost it reports `down`, reconnects with a capped
//!   exponential backoff, resubscribes and reports `up`. Local broadcasts never stop.
//!
//! Delivery across processes is at most once: what is published while a process is
//! not subscribed is lost for it, and a batch whose publication failed is not retried
//! (it may have been published in part). The queue holds at most [`QUEUE_MAX_MESSAGES`]
//! messages and [`QUEUE_MAX_BYTES`] bytes; when full, the oldest messages are dropped
//! and counted.

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{spawn, FnArgs, PromiseRaw};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use parking_lot::Mutex;
use redis::{IntoConnectionInfo, ProtocolVersion};
use tokio::sync::{oneshot, watch, Notify};
use tokio::task::JoinHandle;

use crate::hub::Hub;
use crate::registry::Room;

mod message;
mod task;
use message::encode;
use task::Ctx;

/// Most messages waiting to be published; past it the oldest are dropped.
pub const QUEUE_MAX_MESSAGES: usize = 10_000;
/// Most bytes waiting to be published; past it the oldest messages are dropped.
pub const QUEUE_MAX_BYTES: usize = 16 << 20;
/// One pipelined round trip publishes at most this many messages…
const BATCH_MAX_MESSAGES: usize = 512;
/// …or about this many bytes.
const BATCH_MAX_BYTES: usize = 1 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// An idle connection is checked with PING this often, to notice a silent network loss.
const PING_EVERY: Duration = Duration::from_secs(10);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(3);
/// On `closeRedis`, how long queued messages may take to go out before they are dropped.
const CLOSE_FLUSH: Duration = Duration::from_secs(2);

/// `onStatus(status, detail)`: unref'd, so it never keeps the process alive.
type StatusFn =
    ThreadsafeFunction<FnArgs<(String, String)>, (), FnArgs<(String, String)>, Status, false, true>;

fn random_u64() -> u64 {
    // Each `RandomState` has fresh random keys: good enough for ids and jitter.
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// `redis://user:secret@host` → `redis://user:***@host`, so errors never show a password.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => {
            let user = authority[..at].split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme_end], &rest[at..])
        }
        None => url.to_owned(),
    }
}

// ---- the link: queue and counters shared with the task --------------------------

#[derive(Default)]
struct Queue {
    items: VecDeque<Vec<u8>>,
    bytes: usize,
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    invalid: AtomicU64,
    reconnects: AtomicU64,
}

struct Inner {
    origin: String,
    channel: String,
    queue: Mutex<Queue>,
    ready: Notify,
    counters: Counters,
    connected: AtomicBool,
}

impl Inner {
    /// Takes the next batch to publish, oldest first; empty when nothing waits.
    fn take_batch(&self) -> Vec<Vec<u8>> {
        let mut q = self.queue.lock();
        let mut batch = Vec::new();
        let mut bytes = 0;
        while batch.len() < BATCH_MAX_MESSAGES && bytes < BATCH_MAX_BYTES {
            let Some(item) = q.items.pop_front() else {
                break;
            };
            bytes += item.len();
            batch.push(item);
        }
        q.bytes -= bytes;
        batch
    }

    fn drop_queued(&self) {
        let mut q = self.queue.lock();
        let n = q.items.len() as u64;
        q.items.clear();
        q.bytes = 0;
        self.counters.dropped.fetch_add(n, Ordering::Relaxed);
    }
}

/// This process's share of a Redis channel; lives in `Shared::redis` while in use.
pub struct Link {
    inner: Arc<Inner>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Link {
    /// Publishes one broadcast for the other processes; never blocks the caller.
    /// When the queue is full the oldest waiting messages are dropped (and counted).
    pub fn publish(&self, room: &Room, event: Option<&str>, data: &str) {
        let msg = encode(&self.inner.origin, room, event, data);
        let mut dropped = 0;
        {
            let mut q = self.inner.queue.lock();
            q.bytes += msg.len();
            q.items.push_back(msg);
            while q.items.len() > QUEUE_MAX_MESSAGES
                || (q.bytes > QUEUE_MAX_BYTES && q.items.len() > 1)
            {
                if let Some(old) = q.items.pop_front() {
                    q.bytes -= old.len();
                    dropped += 1;
                }
            }
        }
        if dropped > 0 {
            self.inner
                .counters
                .dropped
                .fetch_add(dropped, Ordering::Relaxed);
        }
        self.inner.ready.notify_one();
    }
}

fn rejected<'env>(env: &'env Env, reason: String) -> Result<PromiseRaw<'env, ()>> {
    env.spawn_future(async move { Err::<(), _>(Error::from_reason(reason)) })
}

// ---- the JS surface ----------------------------------------------------------------

/// Counters of the Redis link (see `Hub::redis_stats`).
#[napi(object)]
pub struct RedisStats {
    /// True while connected and subscribed.
    pub connected: bool,
    /// Broadcasts of this process published to Redis.
    pub published: f64,
    /// Broadcasts of other processes delivered here.
    pub received: f64,
    /// Broadcasts of this process not published: queue overflow, failed batches, close.
    pub dropped: f64,
    /// Broadcasts waiting to be published.
    pub queued: u32,
    /// Successful reconnections after a loss.
    pub reconnects: f64,
    /// Messages on the channel that were not valid broadcasts (ignored).
    pub invalid: f64,
}

#[napi]
impl Hub {
    /// Starts sharing broadcasts through Redis at `url` on the channel `<prefix>:broadcast`.
    /// Resolves once connected and subscribed; rejects if Redis cannot be reached, or if
    /// a link is already in use (call `closeRedis()` first). Later losses are reported
    /// through `onStatus('down' | 'up', detail)` while the link reconnects by itself.
    #[napi(
        catch_unwind,
        ts_args_type = "url: string, prefix: string, onStatus: (status: 'up' | 'down', detail: string) => void",
        ts_return_type = "Promise<void>"
    )]
    pub fn use_redis<'env>(
        &self,
        env: &'env Env,
        url: String,
        prefix: String,
        on_status: StatusFn,
    ) -> Result<PromiseRaw<'env, ()>> {
        let shown_url = redact(&url);
        let client = match url.as_str().into_connection_info().and_then(|info| {
            let settings = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            redis::Client::open(info.set_redis_settings(settings))
        }) {
            Ok(client) => client,
            Err(err) => return rejected(env, format!("invalid Redis URL {shown_url}: {err}")),
        };
        let shared = self.shared();
        let mut slot = shared.redis.lock();
        if slot.is_some() {
            return rejected(
                env,
                "useRedis() was already called: call closeRedis() before connecting again"
                    .to_owned(),
            );
        }
        let inner = Arc::new(Inner {
            origin: format!("{:x}.{:016x}", std::process::id(), random_u64()),
            channel: format!("{prefix}:broadcast"),
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            counters: Counters::default(),
            connected: AtomicBool::new(false),
        });
        let (stop, stop_rx) = watch::channel(false);
        let (first_tx, first_rx) = oneshot::channel();
        let ctx = Ctx {
            shared: Arc::downgrade(shared),
            inner: Arc::clone(&inner),
            client,
            shown_url: shown_url.clone(),
            on_status,
        };
        let task = spawn(ctx.run(stop_rx, first_tx));
        *slot = Some(Link {
            inner,
            stop,
            task: Some(task),
        });
        drop(slot);
        env.spawn_future(async move {
            match first_rx.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(reason)) => Err(Error::from_reason(format!(
                    "cannot connect to Redis at {shown_url}: {reason}"
                ))),
                Err(_) => Err(Error::from_reason(format!(
                    "cannot connect to Redis at {shown_url}: the connection task ended"
                ))),
            }
        })
    }

    /// Stops sharing broadcasts: publishes what is queued (for up to 2 s), closes the
    /// connection and resolves. Resolves at once when no link is in use.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close_redis<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let link = self.shared().redis.lock().take();
        let task = link.and_then(|mut link| {
            let _ = link.stop.send(true);
            link.task.take()
        });
        env.spawn_future(async move {
            if let Some(task) = task {
                // A JoinError means the task was cancelled (runtime shutting down): done too.
                let _ = task.await;
            }
            Ok(())
        })
    }

    /// Counters of the Redis link, or null when `useRedis` is not in effect.
    #[napi(catch_unwind)]
    pub fn redis_stats(&self) -> Option<RedisStats> {
        let inner = Arc::clone(&self.shared().redis.lock().as_ref()?.inner);
        let c = &inner.counters;
        let queued = inner.queue.lock().items.len() as u32;
        Some(RedisStats {
            connected: inner.connected.load(Ordering::Relaxed),
            published: c.published.load(Ordering::Relaxed) as f64,
            received: c.received.load(Ordering::Relaxed) as f64,
            dropped: c.dropped.load(Ordering::Relaxed) as f64,
            queued,
            reconnects: c.reconnects.load(Ordering::Relaxed) as f64,
            invalid: c.invalid.load(Ordering::Relaxed) as f64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::message::decode;
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            redact("redis://user:s3cret@host:6379/0"),
            "redis://user:***@host:6379/0"
        );
        assert_eq!(redact("redis://:s3cret@host"), "redis://:***@host");
        assert_eq!(redact("rediss://a:b@c@host?x=@"), "rediss://a:***@host?x=@");
        assert_eq!(redact("nonsense"), "nonsense");
    }

    #[test]
    fn a_full_queue_drops_the_oldest() {
        let (stop, _rx) = watch::channel(false);
        let link = Link {
            inner: Arc::new(Inner {
                origin: "me".to_owned(),
                channel: "c".to_owned(),
                queue: Mutex::new(Queue::default()),
                ready: Notify::new(),
                counters: Counters::default(),
                connected: AtomicBool::new(false),
            }),
            stop,
            task: None,
        };
        let room = Room::string("r");
        for i in 0..QUEUE_MAX_MESSAGES + 3 {
            link.publish(&room, None, &i.to_string());
        }
        assert_eq!(link.inner.counters.dropped.load(Ordering::Relaxed), 3);
        let first = link.inner.take_batch();
        assert_eq!(first.len(), BATCH_MAX_MESSAGES);
        assert_eq!(decode(&first[0]).expect("decodes").data, "3");
        // A huge message pushes everything else out but is itself kept.
        link.publish(&room, None, &"x".repeat(QUEUE_MAX_BYTES + 1));
        let q = link.inner.queue.lock();
        assert_eq!(q.items.len(), 1);
        assert_eq!(q.bytes, q.items[0].len());
    }
}
