//! The napi surface: `Hub`, one per JS realm, wrapping the registry and delivery state.
//!
//! `index.js` owns the `req`/`res` objects and calls these methods with numeric ids.
//! Whenever frames become pending, the hub calls the JS `wake` function through an
//! unref'd threadsafe function; `wake` runs on a later turn of the event loop and
//! calls `drain()` to get one batch to write. Calls from other threads (Redis)
//! go through the same lock and the same wake-up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, Either, Function, Uint32Array};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use parking_lot::Mutex;

use crate::delivery::{Delivery, Outbox, MAX_ID_LINE};
use crate::frame;
use crate::registry::{Registry, Room};

/// The JS-side room: a string or a number.
pub type JsRoom = Either<String, f64>;

type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;

#[derive(Default)]
pub struct State {
    pub reg: Registry<Outbox>,
    pub out: Delivery,
}

impl State {
    /// Queues one event for every member of `room`; returns (members reached, JS must run).
    pub fn broadcast(&mut self, room: &Room, body: &[u8]) -> (usize, bool) {
        let State { reg, out } = self;
        let mut wake = false;
        let body: Arc<[u8]> = Arc::from(body);
        let reached = reg.for_each_in(room, |id, outbox| {
            wake |= out.push_body(id, outbox, &body);
        });
        (reached, wake)
    }
}

/// State shared with other threads, and the way to wake the JS thread.
pub struct Shared {
    pub state: Mutex<State>,
    /// Set while this process shares its broadcasts through Redis.
    #[cfg(not(target_family = "wasm"))]
    pub redis: Mutex<Option<crate::redis::Link>>,
    scheduled: AtomicBool,
    /// True while the wake-up holds the event loop open (JS thread only; see `hold`).
    held: AtomicBool,
    wake: Wake,
}

impl Shared {
    /// Makes sure the JS side drains soon: at most one pending wake-up at a time.
    pub fn wake(&self) {
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            let status = self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
            if status != Status::Ok {
                // The function is closing (environment teardown): nothing left to write to.
                self.scheduled.store(false, Ordering::Release);
            }
        }
    }

    /// Keeps the event loop alive until the next `drain`, so bytes queued from JS are
    /// written even when nothing else holds the loop. Only the pending wake-up holds
    /// it: an idle hub never keeps the process alive. JS thread only.
    fn hold(&self, env: &Env) {
        if !self.held.swap(true, Ordering::AcqRel) {
            // SAFETY: called on the JS thread that owns `env`, with a live function.
            unsafe { napi::sys::napi_ref_threadsafe_function(env.raw(), self.wake.raw()) };
        }
    }

    /// Lets the event loop go again (JS thread only).
    fn release(&self, env: &Env) {
        if self.held.swap(false, Ordering::AcqRel) {
            // SAFETY: as in `hold`.
            unsafe { napi::sys::napi_unref_threadsafe_function(env.raw(), self.wake.raw()) };
        }
    }
}

/// What one `drain()` returns: bytes for several clients and how to split them.
#[napi(object)]
pub struct Batch {
    /// Every client's bytes, one after the other.
    pub data: Buffer,
    /// `(client id, end offset in data, body)` triples: a client's bytes are its part of
    /// `data`, then `bodies[body]` (and `\r\n` when framed) unless body is 0xFFFFFFFF.
    pub index: Uint32Array,
    /// Large broadcast bodies, each once, shared by the clients that receive them.
    pub bodies: Vec<Buffer>,
    /// Ids of clients dropped for passing the pending-bytes cap.
    pub dropped: Uint32Array,
}

#[napi(object)]
pub struct RoomStat {
    pub room: JsRoom,
    pub members: u32,
}

#[napi(object)]
pub struct Stats {
    pub clients: u32,
    pub rooms: Vec<RoomStat>,
    pub events_sent: f64,
    pub bytes_sent: f64,
    pub dropped: f64,
    pub max_pending_bytes: f64,
}

#[napi]
pub struct Hub {
    shared: Arc<Shared>,
}

fn room_of(room: &JsRoom) -> Result<Room> {
    match room {
        Either::A(s) => Ok(Room::string(s)),
        Either::B(n) => Room::number(*n)
            .ok_or_else(|| Error::new(Status::InvalidArg, "room must not be NaN".to_owned())),
    }
}

fn room_to_js(room: &Room) -> JsRoom {
    match room {
        Room::Str(s) => Either::A(s.to_string()),
        Room::Num(bits) => Either::B(f64::from_bits(*bits)),
    }
}

fn unknown(id: u32) -> Error {
    Error::new(
        Status::GenericFailure,
        format!("SSE client {id} does not exist"),
    )
}

fn body(event: Option<&str>, data: &str) -> Result<Vec<u8>> {
    frame::body(event, data).map_err(|_| {
        Error::new(
            Status::InvalidArg,
            "event must not contain \\r or \\n".to_owned(),
        )
    })
}

#[napi]
impl Hub {
    /// `wake` is called (with no arguments, on a later turn) whenever frames are pending.
    #[napi(constructor)]
    pub fn new(wake: Function<(), ()>) -> Result<Self> {
        let wake = wake
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        Ok(Hub {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                #[cfg(not(target_family = "wasm"))]
                redis: Mutex::new(None),
                scheduled: AtomicBool::new(false),
                held: AtomicBool::new(false),
                wake,
            }),
        })
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// After queuing from JS: wake the JS side if needed, holding the loop until it drains.
    fn woke(&self, env: &Env, wake: bool) {
        if wake {
            self.shared.wake();
            self.shared.hold(env);
        }
    }

    fn with_client<R>(&self, id: u32, f: impl FnOnce(&mut State) -> Option<R>) -> Result<R> {
        f(&mut self.shared.state.lock()).ok_or_else(|| unknown(id))
    }

    /// Registers a client and returns its id.
    #[napi(catch_unwind)]
    pub fn add(&self) -> Result<u32> {
        self.shared
            .state
            .lock()
            .reg
            .add(Outbox::default())
            .ok_or_else(|| Error::new(Status::GenericFailure, "client ids exhausted".to_owned()))
    }

    /// Forgets a client and its pending bytes; false if it was not registered.
    #[napi(catch_unwind)]
    pub fn remove(&self, id: u32) -> bool {
        self.shared.state.lock().reg.remove(id).is_some()
    }

    #[napi(catch_unwind)]
    pub fn has(&self, id: u32) -> bool {
        self.shared.state.lock().reg.contains(id)
    }

    #[napi(catch_unwind)]
    pub fn join(&self, id: u32, room: JsRoom) -> Result<bool> {
        let room = room_of(&room)?;
        self.with_client(id, |st| st.reg.join(id, room))
    }

    /// Leaves `room`, or every room when it is absent or `"*"`.
    #[napi(catch_unwind)]
    pub fn leave(&self, id: u32, room: Option<JsRoom>) -> Result<()> {
        let room = room.as_ref().map(room_of).transpose()?;
        self.with_client(id, |st| st.reg.leave(id, room.as_ref()))
    }

    #[napi(catch_unwind)]
    pub fn is_in(&self, id: u32, room: JsRoom) -> Result<bool> {
        let room = room_of(&room)?;
        self.with_client(id, |st| st.reg.is_in(id, &room))
    }

    /// The client's rooms in join order.
    #[napi(catch_unwind)]
    pub fn rooms(&self, id: u32) -> Result<Vec<JsRoom>> {
        self.with_client(id, |st| {
            st.reg
                .rooms_of(id)
                .map(|rooms| rooms.iter().map(room_to_js).collect())
        })
    }

    /// Queues one event for one client.
    #[napi(catch_unwind)]
    pub fn send(&self, env: Env, id: u32, event: Option<String>, data: String) -> Result<()> {
        let body = body(event.as_deref(), &data)?;
        let wake = self.with_client(id, |st| {
            let State { reg, out } = st;
            let outbox = reg.get_mut(id)?;
            Some(out.push_frame(id, outbox, &body))
        })?;
        self.woke(&env, wake);
        Ok(())
    }

    /// Queues one event for every member of `room` (`"*"`: every client); returns how many.
    #[napi(catch_unwind)]
    pub fn broadcast(
        &self,
        env: Env,
        room: JsRoom,
        event: Option<String>,
        data: String,
    ) -> Result<u32> {
        let room = room_of(&room)?;
        let body = body(event.as_deref(), &data)?;
        let (reached, wake) = self.shared.state.lock().broadcast(&room, &body);
        self.woke(&env, wake);
        #[cfg(not(target_family = "wasm"))]
        if let Some(link) = self.shared.redis.lock().as_ref() {
            link.publish(&room, event.as_deref(), &data);
        }
        Ok(reached as u32)
    }

    #[napi(catch_unwind)]
    pub fn retry(&self, env: Env, id: u32, ms: u32) -> Result<()> {
        let wake = self.with_client(id, |st| {
            let State { reg, out } = st;
            let outbox = reg.get_mut(id)?;
            Some(out.push(id, outbox, MAX_ID_LINE + 20, |buf| {
                frame::push_retry(buf, id, ms)
            }))
        })?;
        self.woke(&env, wake);
        Ok(())
    }

    /// Queues the heartbeat comment for every client; returns how many.
    #[napi(catch_unwind)]
    pub fn heartbeat(&self, env: Env) -> u32 {
        let mut wake = false;
        let reached = {
            let mut st = self.shared.state.lock();
            let State { reg, out } = &mut *st;
            reg.for_each(|id, outbox| {
                wake |= out.push(id, outbox, frame::HEARTBEAT.len(), |buf| {
                    buf.extend_from_slice(frame::HEARTBEAT)
                });
            })
        };
        self.woke(&env, wake);
        reached as u32
    }

    /// Everything queued for one client, now (before a direct `res.write`/`res.end`).
    #[napi(catch_unwind)]
    pub fn take(&self, id: u32) -> Option<Buffer> {
        let mut st = self.shared.state.lock();
        let State { reg, out } = &mut *st;
        let outbox = reg.get_mut(id)?;
        if outbox.pending() == 0 {
            return None;
        }
        Some(out.take(id, outbox).into())
    }

    /// One batch of everything pending, or null when nothing is.
    #[napi(catch_unwind)]
    pub fn drain(&self, env: Env) -> Option<Batch> {
        self.shared.scheduled.store(false, Ordering::Release);
        self.shared.release(&env);
        let batch = {
            let mut st = self.shared.state.lock();
            let State { reg, out } = &mut *st;
            out.drain(reg)
        };
        if batch.is_empty() {
            return None;
        }
        Some(Batch {
            data: batch.data.into(),
            index: Uint32Array::new(batch.index),
            bodies: batch.bodies.iter().map(|b| b.to_vec().into()).collect(),
            dropped: Uint32Array::new(batch.dropped),
        })
    }

    /// Framed clients get their batches as HTTP/1.1 chunks, to write straight to the socket.
    #[napi(catch_unwind)]
    pub fn set_framed(&self, id: u32, framed: bool) {
        if let Some(outbox) = self.shared.state.lock().reg.get_mut(id) {
            Delivery::set_framed(outbox, framed);
        }
    }

    /// The client's socket is full: keep its frames queued until `resume`.
    #[napi(catch_unwind)]
    pub fn pause(&self, id: u32) {
        if let Some(outbox) = self.shared.state.lock().reg.get_mut(id) {
            Delivery::pause(outbox);
        }
    }

    #[napi(catch_unwind)]
    pub fn resume(&self, env: Env, id: u32) {
        let wake = {
            let mut st = self.shared.state.lock();
            let State { reg, out } = &mut *st;
            reg.get_mut(id).is_some_and(|outbox| out.resume(id, outbox))
        };
        self.woke(&env, wake);
    }

    #[napi(catch_unwind, getter)]
    pub fn max_pending_bytes(&self) -> f64 {
        self.shared.state.lock().out.max_pending() as f64
    }

    #[napi(catch_unwind, setter)]
    pub fn set_max_pending_bytes(&self, bytes: f64) -> Result<()> {
        if !(bytes.is_finite() && bytes >= 1.0) {
            return Err(Error::new(
                Status::InvalidArg,
                "maxPendingBytes must be a positive number".to_owned(),
            ));
        }
        self.shared.state.lock().out.set_max_pending(bytes as usize);
        Ok(())
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> Stats {
        let st = self.shared.state.lock();
        Stats {
            clients: st.reg.len() as u32,
            rooms: st
                .reg
                .rooms()
                .map(|(room, members)| RoomStat {
                    room: room_to_js(room),
                    members: members as u32,
                })
                .collect(),
            events_sent: st.out.counters.frames as f64,
            bytes_sent: st.out.counters.bytes as f64,
            dropped: st.out.counters.dropped as f64,
            max_pending_bytes: st.out.max_pending() as f64,
        }
    }
}

/// The WASI build has no Redis (tokio's networking does not build for wasm): the same
/// methods as `src/redis`, saying so.
#[cfg(target_family = "wasm")]
#[napi]
impl Hub {
    /// Always rejects: Redis sharing needs a native build.
    #[napi(
        catch_unwind,
        ts_args_type = "url: string, prefix: string, onStatus: (status: string, detail: string) => void",
        ts_return_type = "Promise<void>"
    )]
    pub fn use_redis<'env>(
        &self,
        env: &'env Env,
        _url: String,
        _prefix: String,
        _on_status: Function<'env, napi::bindgen_prelude::Unknown<'env>, ()>,
    ) -> Result<napi::bindgen_prelude::Object<'env>> {
        let (deferred, promise) = env.create_deferred::<(), fn(Env) -> Result<()>>()?;
        deferred.reject(Error::from_reason(
            "useRedis is not available in the WASI build of simple-sse-rs (binding \"wasm32-wasi\"): \
             Redis sharing needs the native addon for this platform"
                .to_owned(),
        ));
        Ok(promise)
    }

    /// Resolves at once: there is never a link to close.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close_redis<'env>(&self, env: &'env Env) -> Result<napi::bindgen_prelude::Object<'env>> {
        let (deferred, promise) = env.create_deferred::<(), fn(Env) -> Result<()>>()?;
        deferred.resolve(|_| Ok(()));
        Ok(promise)
    }

    /// Always null: no link.
    #[napi(catch_unwind, ts_return_type = "null")]
    pub fn redis_stats(&self) -> Option<u32> {
        None
    }
}
