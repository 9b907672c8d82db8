//! Broadcasts shared between processes through Redis: the link, its queue and counters.
//!
//! Every process that calls `useRedis` gets a [`Link`]. `Hub::broadcast` delivers
//! locally at once, then hands the broadcast to [`Link::publish`], which only encodes
//! it and appends it to a bounded queue: the JS thread never waits for Redis. A tokio
//! task owns the connections and does the rest, in one of two modes chosen by
//! `useRedis` (history off: pub/sub; history on: a stream):
//!
//! - **pub/sub** (`task.rs`): one RESP3 connection publishes the queue on
//!   `<prefix>:broadcast`, many broadcasts per `PUBLISH` (a JSON array), and receives
//!   what other processes publish. At most once: what is published while a process
//!   is not subscribed is lost for it.
//! - **stream** (`stream.rs`): broadcasts are appended to `<prefix>:stream`
//!   (`XADD … MAXLEN ~ N`, many per round trip, under the event id the local members
//!   already got), and every process reads the stream from its last id on a
//!   connection of its own (`XREAD BLOCK`): after a lost connection it resumes where
//!   it was, so nothing still in the stream is lost or read twice. A client that
//!   reconnects to another process gets its replay from the stream (`XRANGE`).
//!
//! In both modes: the broadcasts of one process reach every other in order; its own
//! come back and are skipped by their origin id; what is broadcast while Redis is
//! unreachable waits in the queue (at most [`QUEUE_MAX_MESSAGES`] messages and
//! [`QUEUE_MAX_BYTES`] bytes, then the oldest are dropped and `overflow` reported);
//! a broadcast larger than [`MESSAGE_MAX_BYTES`] stays local (`too-large`).

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use napi::bindgen_prelude::spawn;
use parking_lot::Mutex;
use redis::aio::MultiplexedConnection;
use redis::{IntoConnectionInfo, ProtocolVersion};
use tokio::sync::{oneshot, watch, Notify};
use tokio::task::JoinHandle;

use crate::history::EventId;
use crate::registry::Room;
use crate::state::Shared;

pub mod message;
mod stream;
mod task;
use message::encode;

/// Most messages waiting to be published; past it the oldest are dropped.
pub const QUEUE_MAX_MESSAGES: usize = 100_000;
/// Most bytes waiting to be published; past it the oldest messages are dropped.
pub const QUEUE_MAX_BYTES: usize = 64 << 20;
/// A broadcast whose message is larger than this is not shared (`too-large`): Redis
/// cuts subscribers whose output buffer passes its pub/sub limit (32 MiB by default).
pub const MESSAGE_MAX_BYTES: usize = 1 << 20;
/// One round trip publishes at most this many messages…
const BATCH_MAX_MESSAGES: usize = 4096;
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

/// Where the link reports `(status, detail, dropped)`: `up`, `down`, `overflow`,
/// `too-large`. Called from any thread; must not block.
pub type StatusSink = Box<dyn Fn(&str, String, Option<u64>) + Send + Sync>;

/// How broadcasts travel between processes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    PubSub,
    Stream,
}

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

/// A Redis error in one line: authentication failures said as such, and a hint when
/// the server is too old for RESP3.
pub fn explain(err: &redis::RedisError) -> String {
    explain_text(&err.to_string())
}

fn explain_text(text: &str) -> String {
    let upper = text.to_ascii_uppercase();
    if [
        "NOAUTH",
        "WRONGPASS",
        "AUTHENTICATION REQUIRED",
        "INVALID PASSWORD",
        "INVALID USERNAME",
    ]
    .iter()
    .any(|needle| upper.contains(needle))
    {
        format!("authentication failed: check the user and password in the URL ({text})")
    } else if upper.contains("HELLO") {
        format!("{text} (Redis 6 or later is needed: simple-sse-rs uses RESP3)")
    } else {
        text.to_owned()
    }
}

// ---- the link: queue and counters shared with the task --------------------------

/// One broadcast waiting to be published.
pub(crate) struct Item {
    /// Its event id (stream mode, history on).
    id: Option<EventId>,
    msg: Vec<u8>,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Item>,
    bytes: usize,
    /// True from a drop until the queue empties again (one `overflow` per episode).
    overflowing: bool,
}

#[derive(Default)]
pub(crate) struct Counters {
    published: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    invalid: AtomicU64,
    reconnects: AtomicU64,
    too_large: AtomicU64,
}

pub(crate) struct Inner {
    origin: String,
    /// The channel (pub/sub) or the stream key.
    key: String,
    mode: Mode,
    queue: Mutex<Queue>,
    ready: Notify,
    counters: Counters,
    connected: AtomicBool,
    /// Messages taken from the queue and not yet acknowledged by Redis.
    in_flight: AtomicUsize,
    /// Set when the first connection failed: the link is dead and may be replaced.
    failed: AtomicBool,
    /// Stream mode: `MAXLEN ~` of each `XADD` (the history size when last known).
    maxlen: AtomicUsize,
    /// Stream mode: the current publishing connection, for replays.
    conn: Mutex<Option<MultiplexedConnection>>,
    /// Stream mode: the newest id this process read (or the stream's end when it connected).
    read_upto: Mutex<EventId>,
    on_status: StatusSink,
}

impl Inner {
    fn new(origin: String, key: String, mode: Mode, maxlen: usize, on_status: StatusSink) -> Inner {
        Inner {
            origin,
            key,
            mode,
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            counters: Counters::default(),
            connected: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
            maxlen: AtomicUsize::new(maxlen.max(1)),
            conn: Mutex::new(None),
            read_upto: Mutex::new(EventId::default()),
            on_status,
        }
    }

    fn status(&self, status: &str, detail: String, dropped: Option<u64>) {
        (self.on_status)(status, detail, dropped);
    }

    /// Stream mode: the entry `id` was read (and delivered, when it was news).
    fn read_past(&self, id: EventId) {
        let mut upto = self.read_upto.lock();
        *upto = (*upto).max(id);
    }

    /// Takes the next batch to publish, oldest first; empty when nothing waits.
    /// The batch counts as in flight until `settled` or `requeue`.
    fn take_batch(&self) -> Vec<Item> {
        let mut q = self.queue.lock();
        let mut batch = Vec::new();
        let mut bytes = 0;
        while batch.len() < BATCH_MAX_MESSAGES && bytes < BATCH_MAX_BYTES {
            let Some(item) = q.items.pop_front() else {
                break;
            };
            bytes += item.msg.len();
            batch.push(item);
        }
        q.bytes -= bytes;
        if q.items.is_empty() {
            q.overflowing = false;
        }
        self.in_flight.fetch_add(batch.len(), Ordering::AcqRel);
        batch
    }

    /// A batch left the in-flight set: published (`ok`) or dropped.
    fn settled(&self, count: usize, ok: bool) {
        self.in_flight.fetch_sub(count, Ordering::AcqRel);
        let counter = if ok {
            &self.counters.published
        } else {
            &self.counters.dropped
        };
        counter.fetch_add(count as u64, Ordering::Relaxed);
    }

    /// Puts a batch that may not have been published back in front of the queue.
    fn requeue(&self, batch: Vec<Item>) {
        let count = batch.len();
        {
            let mut q = self.queue.lock();
            for item in batch.into_iter().rev() {
                q.bytes += item.msg.len();
                q.items.push_front(item);
            }
        }
        self.in_flight.fetch_sub(count, Ordering::AcqRel);
    }

    fn drop_queued(&self) {
        let mut q = self.queue.lock();
        let n = q.items.len() as u64;
        q.items.clear();
        q.bytes = 0;
        self.counters.dropped.fetch_add(n, Ordering::Relaxed);
    }
}

/// This process's share of Redis; lives in the hub while in use.
pub struct Link {
    inner: Arc<Inner>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// Counters of a link (see `Hub::redis_stats`).
pub struct LinkStats {
    pub mode: Mode,
    pub connected: bool,
    pub published: u64,
    pub received: u64,
    pub dropped: u64,
    pub queued: usize,
    pub reconnects: u64,
    pub invalid: u64,
    pub too_large: u64,
}

impl Link {
    /// Parses `url` and starts the connection task. `first` resolves once the first
    /// connection is made (or with why it could not be). Call from within the napi
    /// tokio runtime's reach (any napi method).
    pub fn start(
        shared: Weak<Shared>,
        url: &str,
        prefix: &str,
        mode: Mode,
        maxlen: usize,
        on_status: StatusSink,
    ) -> std::result::Result<(Link, oneshot::Receiver<std::result::Result<(), String>>), String>
    {
        let shown_url = redact(url);
        let client = url
            .into_connection_info()
            .and_then(|info| {
                let settings = info
                    .redis_settings()
                    .clone()
                    .set_protocol(ProtocolVersion::RESP3);
                redis::Client::open(info.set_redis_settings(settings))
            })
            .map_err(|err| format!("invalid Redis URL {shown_url}: {err}"))?;
        let key = match mode {
            Mode::PubSub => format!("{prefix}:broadcast"),
            Mode::Stream => format!("{prefix}:stream"),
        };
        let inner = Arc::new(Inner::new(
            format!("{:x}.{:016x}", std::process::id(), random_u64()),
            key,
            mode,
            maxlen,
            on_status,
        ));
        let (stop, stop_rx) = watch::channel(false);
        let (first_tx, first_rx) = oneshot::channel();
        let ctx = task::Ctx {
            shared,
            inner: Arc::clone(&inner),
            client,
            shown_url,
        };
        let task = match mode {
            Mode::PubSub => spawn(ctx.run(stop_rx, first_tx)),
            Mode::Stream => spawn(stream::run(ctx, stop_rx, first_tx)),
        };
        Ok((
            Link {
                inner,
                stop,
                task: Some(task),
            },
            first_rx,
        ))
    }

    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// True when the first connection failed: the link does nothing and may be replaced.
    pub fn failed(&self) -> bool {
        self.inner.failed.load(Ordering::Acquire)
    }

    /// Publishes one broadcast for the other processes; never blocks the caller.
    /// `id` is its event id (history on). A message over [`MESSAGE_MAX_BYTES`] is not
    /// published (`too-large`); when the queue is full the oldest waiting messages are
    /// dropped (counted, and `overflow` reported once until the queue empties).
    pub fn publish(&self, room: &Room, event: Option<&str>, data: &str, id: Option<EventId>) {
        let inner = &self.inner;
        let msg = encode(&inner.origin, room, event, data);
        if msg.len() > MESSAGE_MAX_BYTES {
            inner.counters.too_large.fetch_add(1, Ordering::Relaxed);
            inner.status(
                "too-large",
                format!(
                    "a broadcast of {} bytes was delivered to this process only: \
                     over {MESSAGE_MAX_BYTES} bytes, it is not shared through Redis",
                    msg.len()
                ),
                None,
            );
            return;
        }
        let mut dropped = 0u64;
        let report;
        {
            let mut q = inner.queue.lock();
            q.bytes += msg.len();
            q.items.push_back(Item { id, msg });
            while q.items.len() > QUEUE_MAX_MESSAGES
                || (q.bytes > QUEUE_MAX_BYTES && q.items.len() > 1)
            {
                if let Some(old) = q.items.pop_front() {
                    q.bytes -= old.msg.len();
                    dropped += 1;
                }
            }
            report = dropped > 0 && !q.overflowing;
            if dropped > 0 {
                q.overflowing = true;
            }
        }
        if dropped > 0 {
            let total = inner.counters.dropped.fetch_add(dropped, Ordering::Relaxed) + dropped;
            if report {
                inner.status(
                    "overflow",
                    format!(
                        "the queue of broadcasts waiting for Redis is full ({QUEUE_MAX_MESSAGES} \
                         messages or {QUEUE_MAX_BYTES} bytes): the oldest are dropped"
                    ),
                    Some(total),
                );
            }
        }
        inner.ready.notify_one();
    }

    /// Stream mode: `MAXLEN ~` for the next appends (the history size).
    pub fn set_maxlen(&self, maxlen: usize) {
        if maxlen > 0 {
            self.inner.maxlen.store(maxlen, Ordering::Relaxed);
        }
    }

    /// Stream mode: the newest entry this process has read and delivered; a client held
    /// for a replay gets from the stream what is up to it, and the rest live.
    pub fn read_upto(&self) -> EventId {
        *self.inner.read_upto.lock()
    }

    /// Broadcasts not yet acknowledged by Redis (queued or in flight).
    pub fn pending(&self) -> usize {
        self.inner.queue.lock().items.len() + self.inner.in_flight.load(Ordering::Acquire)
    }

    pub fn stats(&self) -> LinkStats {
        let c = &self.inner.counters;
        LinkStats {
            mode: self.inner.mode,
            connected: self.inner.connected.load(Ordering::Relaxed),
            published: c.published.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            queued: self.inner.queue.lock().items.len(),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            invalid: c.invalid.load(Ordering::Relaxed),
            too_large: c.too_large.load(Ordering::Relaxed),
        }
    }

    /// Stops the task (it first publishes what is queued, for up to 2 s); await the
    /// returned handle to know it is done.
    pub fn close(mut self) -> Option<JoinHandle<()>> {
        let _ = self.stop.send(true);
        self.task.take()
    }

    /// Stream mode: fetches the page of a client's replay after `after` from the
    /// stream and hands it to its cursor (`first`: also checks the stream for a gap).
    pub fn fetch_page(
        &self,
        shared: Weak<Shared>,
        client: u32,
        after: EventId,
        first: bool,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        stream::fetch_page(Arc::clone(&self.inner), shared, client, after, first)
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
    fn authentication_failures_are_said_as_such() {
        let noauth =
            explain_text("NOAUTH: HELLO must be called with the client already authenticated");
        assert!(noauth.starts_with("authentication failed"), "{noauth}");
        assert!(!noauth.contains("Redis 6"), "{noauth}");
        let wrong = explain_text("WRONGPASS: invalid username-password pair");
        assert!(wrong.starts_with("authentication failed"), "{wrong}");
        assert!(explain_text("ERR unknown command 'HELLO'").contains("Redis 6 or later"));
        assert_eq!(explain_text("Connection refused"), "Connection refused");
    }

    fn link() -> Link {
        let (stop, _rx) = watch::channel(false);
        Link {
            inner: Arc::new(Inner::new(
                "me".into(),
                "k".into(),
                Mode::PubSub,
                1,
                Box::new(|_, _, _| {}),
            )),
            stop,
            task: None,
        }
    }

    #[test]
    fn a_full_queue_drops_the_oldest() {
        let link = link();
        let room = Room::string("r");
        for i in 0..QUEUE_MAX_MESSAGES + 3 {
            link.publish(&room, None, &i.to_string(), None);
        }
        assert_eq!(link.stats().dropped, 3);
        assert!(link.inner.queue.lock().overflowing);
        let first = link.inner.take_batch();
        assert_eq!(first.len(), BATCH_MAX_MESSAGES);
        assert_eq!(decode(&first[0].msg).expect("decodes").data, "3");
        assert_eq!(link.pending(), QUEUE_MAX_MESSAGES);
        // A batch that may not have gone out goes back in front, in order.
        link.inner.requeue(first);
        assert_eq!(link.pending(), QUEUE_MAX_MESSAGES);
        let again = link.inner.take_batch();
        assert_eq!(decode(&again[0].msg).expect("decodes").data, "3");
        link.inner.settled(again.len(), true);
        assert_eq!(link.stats().published, BATCH_MAX_MESSAGES as u64);
        assert_eq!(link.pending(), QUEUE_MAX_MESSAGES - BATCH_MAX_MESSAGES);
    }

    #[test]
    fn too_large_messages_stay_local() {
        let link = link();
        link.publish(
            &Room::string("r"),
            None,
            &"x".repeat(MESSAGE_MAX_BYTES),
            None,
        );
        assert_eq!(link.pending(), 0);
        assert_eq!(link.stats().too_large, 1);
        link.publish(
            &Room::string("r"),
            None,
            &"x".repeat(MESSAGE_MAX_BYTES - 100),
            None,
        );
        assert_eq!(link.pending(), 1);
    }
}
