//! The pub/sub connection task: connect and subscribe, publish the queue in order
//! (one `PUBLISH` per batch), deliver what other processes publish, and reconnect
//! with backoff. Also the pieces the stream task shares: `Ctx`, status, backoff.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Msg, PushInfo, PushKind};
use tokio::sync::{mpsc, oneshot, watch};

use crate::frame;
use crate::history::EventId;
use crate::state::Shared;

use super::message::{decode_many, encode_batch, Message};
use super::{
    explain, random_u64, Inner, BACKOFF_MAX, BACKOFF_MIN, CLOSE_FLUSH, CONNECT_TIMEOUT, PING_EVERY,
    RESPONSE_TIMEOUT,
};

/// Everything a connection task needs; it holds the hub's state weakly, so a hub
/// that is garbage-collected stops its task.
pub(super) struct Ctx {
    pub(super) shared: Weak<Shared>,
    pub(super) inner: Arc<Inner>,
    pub(super) client: redis::Client,
    pub(super) shown_url: String,
}

type Pushes = mpsc::UnboundedReceiver<PushInfo>;

/// Why a connected session ended.
pub(super) enum End {
    Lost(String),
    Stopped,
}

impl Ctx {
    pub(super) fn status(&self, status: &str, detail: String) {
        self.inner.status(status, detail, None);
    }

    pub(super) fn config(&self) -> AsyncConnectionConfig {
        AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
    }

    /// Runs a connection attempt with an overall timeout; errors explained in one line.
    pub(super) async fn attempt<T>(
        &self,
        attempt: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> std::result::Result<T, String> {
        match tokio::time::timeout(CONNECT_TIMEOUT + RESPONSE_TIMEOUT, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(explain(&err)),
            Err(_) => Err("timed out".to_owned()),
        }
    }

    /// Connects, subscribes, and returns the connection with its stream of pushes.
    async fn connect(&self) -> std::result::Result<(MultiplexedConnection, Pushes), String> {
        let (tx, rx) = mpsc::unbounded_channel();
        let config = self.config().set_push_sender(tx);
        self.attempt(async {
            let mut conn = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            conn.subscribe(&self.inner.key).await?;
            Ok((conn, rx))
        })
        .await
    }

    /// Delivers one broadcast of another process to the local members of its room
    /// (with `id`, its event id, when it came from a stream). False once the hub is gone.
    pub(super) fn deliver(&self, m: &Message, id: Option<EventId>) -> bool {
        let Some(shared) = self.shared.upgrade() else {
            return false;
        };
        let Ok(body) = frame::body(m.event.as_deref(), &m.data) else {
            self.inner.counters.invalid.fetch_add(1, Ordering::Relaxed);
            return true;
        };
        self.inner.counters.received.fetch_add(1, Ordering::Relaxed);
        let done = {
            let mut st = shared.lock_any();
            match id {
                Some(id) => {
                    let done = st.broadcast_as(id, &m.room, &body);
                    // Under the state lock, so a client held for a replay gets every
                    // entry either from the replay or live, never both.
                    self.inner.read_past(id);
                    done
                }
                None => st.broadcast(&m.room, &body),
            }
        };
        if done.wake {
            shared.wake();
        }
        true
    }

    /// Delivers what another process published; false once the hub is gone.
    fn on_message(&self, push: PushInfo) -> bool {
        let Some(msg) = Msg::from_push_info(push) else {
            return true;
        };
        for m in decode_many(msg.get_payload_bytes()) {
            match m {
                None => {
                    self.inner.counters.invalid.fetch_add(1, Ordering::Relaxed);
                }
                // Our own broadcast, already delivered locally.
                Some(m) if m.origin == self.inner.origin => {}
                Some(m) => {
                    if !self.deliver(&m, None) {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Publishes the next batch of the queue in one `PUBLISH`; false when nothing was
    /// queued. A batch that fails (or whose future is dropped) is counted as dropped
    /// and not retried: pub/sub delivers at most once.
    async fn publish_batch(
        &self,
        conn: &mut MultiplexedConnection,
    ) -> std::result::Result<bool, String> {
        let batch = self.inner.take_batch();
        if batch.is_empty() {
            return Ok(false);
        }
        let mut guard = Settle {
            inner: &self.inner,
            count: batch.len(),
        };
        let payload = if batch.len() == 1 {
            batch[0].msg.clone()
        } else {
            encode_batch(batch.iter().map(|item| &item.msg[..]))
        };
        redis::cmd("PUBLISH")
            .arg(&self.inner.key)
            .arg(payload)
            .query_async::<()>(conn)
            .await
            .map_err(|err| format!("publishing failed: {}", explain(&err)))?;
        let count = std::mem::take(&mut guard.count);
        self.inner.settled(count, true);
        Ok(true)
    }

    /// Handles one push from the connection; `Some` when the session must end.
    fn on_push(&self, push: PushInfo) -> Option<End> {
        match push.kind {
            PushKind::Disconnection => Some(End::Lost("connection lost".to_owned())),
            PushKind::Message => (!self.on_message(push)).then_some(End::Stopped),
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

    /// Reconnects with a capped exponential backoff and jitter, using `connect`;
    /// `None` once stopped. A failure whose reason differs from the last one reported
    /// (say the password changed) is reported as `down` again.
    pub(super) async fn reconnect<
        T,
        F: std::future::Future<Output = std::result::Result<T, String>>,
    >(
        &self,
        stop: &mut watch::Receiver<bool>,
        mut reported: String,
        connect: impl Fn() -> F,
    ) -> Option<T> {
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
                result = connect() => result,
            };
            match result {
                Ok(value) => {
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
                    return Some(value);
                }
                Err(reason) if reason != reported && !is_stopped(stop) => {
                    self.status(
                        "down",
                        format!("{reason} ({}); reconnecting", self.shown_url),
                    );
                    reported = reason;
                }
                Err(_) => {}
            }
            delay = (delay * 2).min(BACKOFF_MAX);
        }
    }

    /// The whole life of a pub/sub link: first connection (reported through `first`),
    /// then sessions and reconnections until `closeRedis` (or the hub goes away).
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
                self.first_failed(first, reason);
                return;
            }
        };
        self.inner.connected.store(true, Ordering::Relaxed);
        let _ = first.send(Ok(()));
        loop {
            let end = self.session(&mut conn, &mut pushes, &mut stop).await;
            self.inner.connected.store(false, Ordering::Relaxed);
            drop(conn);
            let reason = match end {
                End::Stopped => break,
                End::Lost(reason) => reason,
            };
            self.status(
                "down",
                format!("{reason} ({}); reconnecting", self.shown_url),
            );
            match self.reconnect(&mut stop, reason, || self.connect()).await {
                Some(pair) => (conn, pushes) = pair,
                None => break,
            }
            self.inner.connected.store(true, Ordering::Relaxed);
        }
        self.inner.drop_queued();
    }

    /// After a failed first connection: the link is dead (the hub may replace it).
    pub(super) fn first_failed(
        &self,
        first: oneshot::Sender<std::result::Result<(), String>>,
        reason: String,
    ) {
        self.inner.failed.store(true, Ordering::Release);
        self.inner.drop_queued();
        let _ = first.send(Err(reason));
    }
}

/// Settles a batch as dropped unless `count` was taken back after it was published.
pub(super) struct Settle<'a> {
    pub(super) inner: &'a Inner,
    pub(super) count: usize,
}

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        if self.count > 0 {
            self.inner.settled(self.count, false);
        }
    }
}

/// True once `closeRedis` was called or the link was dropped.
pub(super) fn is_stopped(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

/// Resolves once `closeRedis` was called or the link was dropped.
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
