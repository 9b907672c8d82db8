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
use std::sync::{Arc, Weak};
use std::time::Duration;

use napi::bindgen_prelude::{spawn, FnArgs, PromiseRaw};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use parking_lot::Mutex;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, IntoConnectionInfo, Msg, ProtocolVersion, PushInfo, PushKind};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinHandle;

use crate::frame;
use crate::hub::{Hub, Shared};
use crate::registry::Room;

mod message;
use message::{decode, encode};

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

// ---- the task ----------------------------------------------------------------------

/// Everything the connection task needs; it holds the hub weakly, so a hub that is
/// garbage-collected stops its task.
struct Ctx {
    shared: Weak<Shared>,
    inner: Arc<Inner>,
    client: redis::Client,
    shown_url: String,
    on_status: StatusFn,
}

type Pushes = mpsc::UnboundedReceiver<PushInfo>;

/// Why a connected session ended.
enum End {
    Lost(String),
    Stopped,
}

impl Ctx {
    fn status(&self, status: &str, detail: String) {
        // `Closing` during teardown: nobody is left to tell.
        let _ = self.on_status.call(
            FnArgs::from((status.to_owned(), detail)),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    }

    /// Connects, subscribes, and returns the connection with its stream of pushes.
    async fn connect(&self) -> std::result::Result<(MultiplexedConnection, Pushes), String> {
        let attempt = async {
            let (tx, rx) = mpsc::unbounded_channel();
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(RESPONSE_TIMEOUT))
                .set_push_sender(tx);
            let mut conn = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            conn.subscribe(&self.inner.channel).await?;
            Ok::<_, redis::RedisError>((conn, rx))
        };
        match tokio::time::timeout(CONNECT_TIMEOUT + RESPONSE_TIMEOUT, attempt).await {
            Ok(Ok(pair)) => Ok(pair),
            Ok(Err(err)) => Err(explain(&err)),
            Err(_) => Err("timed out".to_owned()),
        }
    }

    /// Delivers a message from another process to the local members of its room.
    fn deliver(&self, push: PushInfo) -> bool {
        let Some(shared) = self.shared.upgrade() else {
            return false;
        };
        let Some(msg) = Msg::from_push_info(push) else {
            return true;
        };
        let Some(m) = decode(msg.get_payload_bytes()) else {
            self.inner.counters.invalid.fetch_add(1, Ordering::Relaxed);
            return true;
        };
        if m.origin == self.inner.origin {
            return true; // our own broadcast, already delivered locally
        }
        let Ok(body) = frame::body(m.event.as_deref(), &m.data) else {
            self.inner.counters.invalid.fetch_add(1, Ordering::Relaxed);
            return true;
        };
        self.inner.counters.received.fetch_add(1, Ordering::Relaxed);
        let (_, wake) = shared.state.lock().broadcast(&m.room, &body);
        if wake {
            shared.wake();
        }
        true
    }

    /// Publishes the next batch of the queue in one pipelined round trip; false when
    /// nothing was queued. A batch that fails (or whose future is dropped) is counted
    /// as dropped and not retried: it may have been published in part.
    async fn publish_batch(
        &self,
        conn: &mut MultiplexedConnection,
    ) -> std::result::Result<bool, String> {
        let batch = self.inner.take_batch();
        if batch.is_empty() {
            return Ok(false);
        }
        let mut unpublished = Unpublished {
            counters: &self.inner.counters,
            count: batch.len() as u64,
        };
        let mut pipe = redis::pipe();
        for msg in &batch {
            pipe.cmd("PUBLISH")
                .arg(&self.inner.channel)
                .arg(msg)
                .ignore();
        }
        pipe.query_async::<()>(conn)
            .await
            .map_err(|err| format!("publishing failed: {}", explain(&err)))?;
        let count = std::mem::take(&mut unpublished.count);
        self.inner
            .counters
            .published
            .fetch_add(count, Ordering::Relaxed);
        Ok(true)
    }

    /// Handles one push from the connection; `Some` when the session must end.
    fn on_push(&self, push: PushInfo) -> Option<End> {
        match push.kind {
            PushKind::Disconnection => Some(End::Lost("connection lost".to_owned())),
            PushKind::Message => (!self.deliver(push)).then_some(End::Stopped),
            _ => None,
        }
    }

    /// One connected session: publish, receive and ping until the connection fails or
    /// `closeRedis` is called. A batch being published is never abandoned half-way, and
    /// what arrived is delivered between two batches, so neither side starves the other.
    async fn session(
        &self,
        conn: &mut MultiplexedConnection,
        pushes: &mut Pushes,
        stop: &mut watch::Receiver<bool>,
    ) -> End {
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            loop {
                match pushes.try_recv() {
                    Ok(push) => {
                        if let Some(end) = self.on_push(push) {
                            return end;
                        }
                    }
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        return End::Lost("connection closed".to_owned());
                    }
                }
            }
            if is_stopped(stop) {
                // Give what was broadcast before closeRedis a chance to go out.
                let flush = async { while let Ok(true) = self.publish_batch(conn).await {} };
                let _ = tokio::time::timeout(CLOSE_FLUSH, flush).await;
                return End::Stopped;
            }
            match self.publish_batch(conn).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(reason) => return End::Lost(reason),
            }
            tokio::select! {
                () = stopped(stop) => {}
                push = pushes.recv() => match push {
                    Some(push) => {
                        if let Some(end) = self.on_push(push) {
                            return end;
                        }
                    }
                    None => return End::Lost("connection closed".to_owned()),
                },
                () = self.inner.ready.notified() => {}
                _ = ping.tick() => {
                    if let Err(err) = redis::cmd("PING").query_async::<redis::Value>(conn).await {
                        return End::Lost(format!("PING failed: {}", explain(&err)));
                    }
                }
            }
        }
    }

    /// Reconnects with a capped exponential backoff and jitter; `None` once stopped.
    async fn reconnect(
        &self,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<(MultiplexedConnection, Pushes)> {
        let mut delay = BACKOFF_MIN;
        let mut attempts = 0u32;
        loop {
            // Sleep between delay/2 and delay, so processes do not all come back at once.
            let half = delay.as_millis() as u64 / 2;
            let pause = Duration::from_millis(half + random_u64() % (half + 1));
            tokio::select! {
                () = stopped(stop) => return None,
                () = tokio::time::sleep(pause) => {}
            }
            attempts += 1;
            let result = tokio::select! {
                () = stopped(stop) => return None,
                result = self.connect() => result,
            };
            if let Ok(pair) = result {
                self.inner
                    .counters
                    .reconnects
                    .fetch_add(1, Ordering::Relaxed);
                self.status(
                    "up",
                    format!(
                        "reconnected to {} after {attempts} attempt{}",
                        self.shown_url,
                        if attempts == 1 { "" } else { "s" }
                    ),
                );
                return Some(pair);
            }
            delay = (delay * 2).min(BACKOFF_MAX);
        }
    }

    /// The whole life of a link: first connection (reported through `first`), then
    /// sessions and reconnections until `closeRedis` (or the hub goes away).
    async fn run(
        self,
        mut stop: watch::Receiver<bool>,
        first: oneshot::Sender<std::result::Result<(), String>>,
    ) {
        let result = tokio::select! {
            () = stopped(&mut stop) => Err("closeRedis() was called before the connection was made".to_owned()),
            result = self.connect() => result,
        };
        let (mut conn, mut pushes) = match result {
            Ok(pair) => pair,
            Err(reason) => {
                self.forget_link();
                let _ = first.send(Err(reason));
                return;
            }
        };
        self.inner.connected.store(true, Ordering::Relaxed);
        let _ = first.send(Ok(()));
        loop {
            let end = self.session(&mut conn, &mut pushes, &mut stop).await;
            self.inner.connected.store(false, Ordering::Relaxed);
            drop(conn);
            match end {
                End::Stopped => break,
                End::Lost(reason) => self.status(
                    "down",
                    format!("{reason} ({}); reconnecting", self.shown_url),
                ),
            }
            match self.reconnect(&mut stop).await {
                Some(pair) => (conn, pushes) = pair,
                None => break,
            }
            self.inner.connected.store(true, Ordering::Relaxed);
        }
        self.inner.drop_queued();
    }

    /// After a failed first connection: the hub goes back to local-only.
    fn forget_link(&self) {
        if let Some(shared) = self.shared.upgrade() {
            let mut slot = shared.redis.lock();
            if slot
                .as_ref()
                .is_some_and(|link| Arc::ptr_eq(&link.inner, &self.inner))
            {
                *slot = None;
            }
        }
    }
}

/// Counts a batch as dropped unless `count` was taken back after it was published.
struct Unpublished<'a> {
    counters: &'a Counters,
    count: u64,
}

impl Drop for Unpublished<'_> {
    fn drop(&mut self) {
        self.counters
            .dropped
            .fetch_add(self.count, Ordering::Relaxed);
    }
}

/// True once `closeRedis` was called or the link was dropped.
fn is_stopped(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

/// Resolves once `closeRedis` was called or the link was dropped.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// A Redis error in one line, with a hint when the server is too old for RESP3.
fn explain(err: &redis::RedisError) -> String {
    let text = err.to_string();
    if text.contains("HELLO") {
        format!("{text} (Redis 6 or later is needed: simple-sse-rs uses RESP3)")
    } else {
        text
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
