//! The Redis part of the napi surface: `useRedis`, `closeRedis`, `redisStats`, and
//! the pages of Redis Stream replays. The bridge itself is `redis/`; this file only
//! connects it to the hub. In the WASI build (no sockets, no tokio networking)
//! `useRedis` rejects saying so.

#[cfg(not(target_family = "wasm"))]
use napi::bindgen_prelude::PromiseRaw;
#[cfg(not(target_family = "wasm"))]
use napi::{Env, Error, Result};
use napi_derive::napi;

/// Counters of the Redis link (`stats().redis`).
#[napi(object)]
pub struct RedisStats {
    /// `'pubsub'` (history off when useRedis was called) or `'stream'`.
    pub mode: String,
    /// True while connected (and subscribed, or reading the stream).
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
    /// Messages that were not valid broadcasts (ignored).
    pub invalid: f64,
    /// Broadcasts too large to share (delivered locally only).
    pub too_large: f64,
}

#[cfg(not(target_family = "wasm"))]
fn rejected<'env, T: napi::bindgen_prelude::ToNapiValue + Send + 'static>(
    env: &'env Env,
    reason: String,
) -> Result<PromiseRaw<'env, T>> {
    env.spawn_future(async move { Err::<T, _>(Error::from_reason(reason)) })
}

#[cfg(not(target_family = "wasm"))]
mod native {
    use std::sync::Arc;

    use napi::bindgen_prelude::{FnArgs, PromiseRaw};
    use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
    use napi::{Env, Error, Result, Status};
    use napi_derive::napi;

    use super::{rejected, RedisStats};
    use crate::history::EventId;
    use crate::hub::Hub;
    use crate::redis::{Link, Mode};

    /// `onStatus(status, detail, dropped)`: unref'd, so it never keeps the process alive.
    type StatusFn = ThreadsafeFunction<
        FnArgs<(String, String, Option<f64>)>,
        (),
        FnArgs<(String, String, Option<f64>)>,
        Status,
        false,
        true,
    >;

    #[napi]
    impl Hub {
        /// Starts sharing broadcasts through Redis at `url` under `prefix`: pub/sub on
        /// `<prefix>:broadcast` when history is off, else the stream `<prefix>:stream`.
        /// Resolves once connected; rejects if Redis cannot be reached (saying so when
        /// authentication failed), or if a link is already in use. Later events are
        /// reported through `onStatus(status, detail, dropped)`.
        #[napi(
            catch_unwind,
            ts_args_type = "url: string, prefix: string, onStatus: (status: 'up' | 'down' | 'overflow' | 'too-large', detail: string, dropped: number | null) => void",
            ts_return_type = "Promise<void>"
        )]
        pub fn use_redis<'env>(
            &self,
            env: &'env Env,
            url: String,
            prefix: String,
            on_status: StatusFn,
        ) -> Result<PromiseRaw<'env, ()>> {
            let size = self.shared.lock().history.cap();
            let mut slot = self.redis.lock();
            if slot.as_ref().is_some_and(|link| !link.failed()) {
                return rejected(
                    env,
                    "useRedis() was already called: call closeRedis() before connecting again"
                        .to_owned(),
                );
            }
            let mode = if size > 0 { Mode::Stream } else { Mode::PubSub };
            let shown_url = crate::redis::redact(&url);
            let (link, first) = match Link::start(
                Arc::downgrade(&self.shared),
                &url,
                &prefix,
                mode,
                size,
                Box::new(move |status, detail, dropped| {
                    // `Closing` during teardown: nobody is left to tell.
                    let _ = on_status.call(
                        FnArgs::from((status.to_owned(), detail, dropped.map(|n| n as f64))),
                        ThreadsafeFunctionCallMode::NonBlocking,
                    );
                }),
            ) {
                Ok(pair) => pair,
                Err(reason) => return rejected(env, reason),
            };
            *slot = Some(link);
            drop(slot);
            env.spawn_future(async move {
                match first.await {
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
        /// connections and resolves. Resolves at once when no link is in use.
        #[napi(catch_unwind, ts_return_type = "Promise<void>")]
        pub fn close_redis<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
            let task = self.redis.lock().take().and_then(Link::close);
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
            let stats = self.live_link(|link| link.stats())?;
            Some(RedisStats {
                mode: match stats.mode {
                    Mode::PubSub => "pubsub",
                    Mode::Stream => "stream",
                }
                .to_owned(),
                connected: stats.connected,
                published: stats.published as f64,
                received: stats.received as f64,
                dropped: stats.dropped as f64,
                queued: stats.queued as u32,
                reconnects: stats.reconnects as f64,
                invalid: stats.invalid as f64,
                too_large: stats.too_large as f64,
            })
        }

        /// Broadcasts of this process not yet acknowledged by Redis (queued or in flight).
        #[napi(catch_unwind)]
        pub fn redis_pending(&self) -> u32 {
            self.live_link(|link| link.pending() as u32).unwrap_or(0)
        }

        /// True while the link is a stream: replays then come from Redis (`replayFromRedis`).
        #[napi(catch_unwind, getter)]
        pub fn redis_streams(&self) -> bool {
            self.streams()
        }
    }

    impl Hub {
        fn live_link<R>(&self, f: impl FnOnce(&Link) -> R) -> Option<R> {
            self.redis
                .lock()
                .as_ref()
                .filter(|link| !link.failed())
                .map(f)
        }

        /// After a local broadcast: hand it to the other processes.
        pub(crate) fn share(
            &self,
            room: &crate::registry::Room,
            event: Option<&str>,
            data: &str,
            id: Option<EventId>,
        ) {
            self.live_link(|link| link.publish(room, event, data, id));
        }

        pub(crate) fn streams(&self) -> bool {
            self.live_link(|link| link.mode() == Mode::Stream)
                .unwrap_or(false)
        }

        /// Fetches the next Redis Stream page of each replay that asked for one (see
        /// `replay.rs`): (client, after, first page). Without a live link, the local
        /// history serves them.
        pub(crate) fn fetch_pages(&self, fetches: Vec<(u32, EventId, bool)>) {
            for (client, after, first) in fetches {
                let shared = Arc::downgrade(&self.shared);
                let fetch = self.live_link(|link| link.fetch_page(shared, client, after, first));
                match fetch {
                    Some(fetch) => {
                        napi::bindgen_prelude::spawn(fetch);
                    }
                    None => self.shared.page_arrived(client, None, None),
                }
            }
        }

        pub(crate) fn history_changed(&self, size: usize) {
            self.live_link(|link| link.set_maxlen(size));
        }
    }
}

#[cfg(target_family = "wasm")]
mod wasi {
    use napi::bindgen_prelude::{Object, Unknown};
    use napi::{Env, Error, Result};
    use napi_derive::napi;

    use super::RedisStats;
    use crate::history::EventId;
    use crate::hub::Hub;

    /// A promise that resolves to what `value` makes (no tokio runtime in this build).
    fn resolved<'env, T: napi::bindgen_prelude::ToNapiValue + 'static>(
        env: &'env Env,
        value: fn(Env) -> Result<T>,
    ) -> Result<Object<'env>> {
        let (deferred, promise) = env.create_deferred::<T, fn(Env) -> Result<T>>()?;
        deferred.resolve(value);
        Ok(promise)
    }

    #[napi]
    impl Hub {
        #[napi(catch_unwind, ts_return_type = "Promise<void>")]
        pub fn use_redis<'env>(
            &self,
            env: &'env Env,
            _url: String,
            _prefix: String,
            _on_status: Unknown<'env>,
        ) -> Result<Object<'env>> {
            let (deferred, promise) = env.create_deferred::<(), fn(Env) -> Result<()>>()?;
            deferred.reject(Error::from_reason(
                "useRedis is not available in the WASI build of simple-sse-rs (binding \"wasm32-wasi\"): \
                 Redis sharing needs the native addon for this platform",
            ));
            Ok(promise)
        }

        #[napi(catch_unwind, ts_return_type = "Promise<void>")]
        pub fn close_redis<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
            resolved(env, |_| Ok(()))
        }

        #[napi(catch_unwind)]
        pub fn redis_stats(&self) -> Option<RedisStats> {
            None
        }

        #[napi(catch_unwind)]
        pub fn redis_pending(&self) -> u32 {
            0
        }

        #[napi(catch_unwind, getter)]
        pub fn redis_streams(&self) -> bool {
            false
        }
    }

    impl Hub {
        pub(crate) fn share(
            &self,
            _room: &crate::registry::Room,
            _event: Option<&str>,
            _data: &str,
            _id: Option<EventId>,
        ) {
        }

        pub(crate) fn streams(&self) -> bool {
            false
        }

        pub(crate) fn fetch_pages(&self, _fetches: Vec<(u32, EventId, bool)>) {}

        pub(crate) fn history_changed(&self, _size: usize) {}
    }
}
