//! The connection task of the Redis bridge: connect and subscribe, publish the queue
//! in order, deliver what other processes publish, and reconnect with backoff.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use napi::bindgen_prelude::FnArgs;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Msg, PushInfo, PushKind};
use tokio::sync::{mpsc, oneshot, watch};

use crate::frame;
use crate::hub::Shared;

use super::message::decode;
use super::{
    random_u64, Counters, Inner, StatusFn, BACKOFF_MAX, BACKOFF_MIN, CLOSE_FLUSH, CONNECT_TIMEOUT,
    PING_EVERY, RESPONSE_TIMEOUT,
};

/// Everything the connection task needs; it holds the hub weakly, so a hub that is
/// garbage-collected stops its task.
pub(super) struct Ctx {
    pub(super) shared: Weak<Shared>,
    pub(super) inner: Arc<Inner>,
    pub(super) client: redis::Client,
    pub(super) shown_url: String,
    pub(super) on_status: StatusFn,
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
    pub(super) async fn run(
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
