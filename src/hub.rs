//! The napi surface: `Hub`, one per JS realm, wrapping the registry and delivery state.
//!
//! `index.js` owns the `req`/`res` objects and calls these methods with numeric ids.
//! Whenever frames become pending, the hub calls the JS `wake` function through an
//! unref'd threadsafe function; `wake` runs on a later turn of the event loop and
//! calls `drain()`, which hands every direct client's turn to the writer threads
//! (`writer.rs`) and returns one batch for JS to write (see `delivery.rs`). Calls from other threads (Redis)
//! go through the same lock and the same wake-up. The state lives in `state.rs`;
//! the Redis part of this surface in `hub_redis.rs`; with history on, broadcasts carry
//! event ids and a client added with `Last-Event-ID` gets a replay cursor (`replay.rs`).

use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, Function, Uint32Array};
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
#[cfg(not(target_family = "wasm"))]
use parking_lot::Mutex;

use crate::delivery::{Delivery, Outbox, MAX_ID_LINE};
use crate::detached;
use crate::direct::{self, Fd};
use crate::frame;
use crate::history::EventId;
use crate::registry::Room;
use crate::state::{Shared, State};
use crate::writer::Writers;

/// The JS-side room: a string (exactly, lone surrogates kept) or a number.
pub use crate::room::JsRoom;

/// In a batch's index: the entry has no shared body.
#[napi]
pub const NO_BODY: u32 = crate::delivery::NO_BODY;

/// Whether this build writes to sockets directly (Unix); elsewhere JS writes every byte.
#[napi]
pub const DIRECT: bool = direct::SUPPORTED;

/// Whether this build can detach connections (Unix): `add(req, res, { detach: true })`.
#[napi]
pub const DETACH: bool = detached::SUPPORTED;

/// The most bytes a batch hands over at once for a direct or framed client: a framed
/// client handed this much may have more waiting, and stays paused until `resume`.
#[napi]
pub const STEP: u32 = crate::limits::STEP as u32;

/// What one `drain()` returns: bytes for the clients Rust did not write itself.
#[napi(object)]
pub struct Batch {
    /// Every client's bytes, one after the other.
    pub data: Buffer,
    /// `(client id, end offset in data, body, from)` entries, a client's in a row: each is
    /// the part of `data` after the previous entry's end, then `bodies[body]` from byte
    /// `from` on, unless body is `NO_BODY`. A direct client's bytes are HTTP/1.1 chunks for its socket (the rest of
    /// a write the socket refused: the client is paused until `resume`); any other
    /// client's are SSE frames for `res.write`.
    pub index: Uint32Array,
    /// Large broadcast bodies, each once, shared by the clients that receive them.
    pub bodies: Vec<Buffer>,
    /// Ids of clients dropped because their sockets refused more than `maxPendingBytes`.
    pub dropped: Uint32Array,
    /// Ids of direct clients whose connection broke (`EPIPE`, `ECONNRESET`…).
    pub gone: Uint32Array,
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
    /// Bytes waiting for clients, in Rust and (refused by their sockets) in Node.
    pub pending_bytes: f64,
    pub history: HistoryStats,
}

/// The broadcast history (`stats().history`); ids are `<ms>-<seq>` strings.
#[napi(object)]
pub struct HistoryStats {
    /// Broadcasts kept at most (`sse.history`).
    pub size: u32,
    /// Broadcasts kept now.
    pub length: u32,
    /// Memory they hold, about (frames and bookkeeping).
    pub bytes: f64,
    pub oldest_id: Option<String>,
    pub newest_id: Option<String>,
    /// Clients whose `Last-Event-ID` replay is not done yet.
    pub replaying: u32,
}

/// Broadcasts a reconnecting client could not be sent again (`'gap'`).
#[napi(object)]
pub struct Gap {
    /// The client.
    pub client: u32,
    pub last_event_id: String,
    /// The oldest id still kept (null when none is).
    pub oldest_id: Option<String>,
}

#[napi]
pub struct Hub {
    pub(crate) shared: Arc<Shared>,
    /// Set while this process shares its broadcasts through Redis.
    #[cfg(not(target_family = "wasm"))]
    pub(crate) redis: Mutex<Option<crate::redis::Link>>,
}

fn room_to_js(room: &Room) -> JsRoom {
    JsRoom(room.clone())
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
            shared: Arc::new(Shared::new(wake)),
            #[cfg(not(target_family = "wasm"))]
            redis: Mutex::new(None),
        })
    }

    /// After queuing from JS: wake the JS side if needed, holding the loop until it drains.
    pub(crate) fn woke(&self, env: &Env, wake: bool) {
        if wake {
            self.shared.wake();
            self.shared.hold(env);
        }
    }

    fn with_client<R>(&self, id: u32, f: impl FnOnce(&mut State) -> Option<R>) -> Result<R> {
        f(&mut self.shared.lock()).ok_or_else(|| unknown(id))
    }

    /// Registers a client and returns its id.
    #[napi(catch_unwind)]
    pub fn add(&self) -> Result<u32> {
        self.shared
            .lock()
            .reg
            .add(Outbox::default())
            .ok_or_else(|| Error::new(Status::GenericFailure, "client ids exhausted".to_owned()))
    }

    /// Forgets a client and its pending bytes (and its socket, if direct);
    /// false if it was not registered.
    #[napi(catch_unwind)]
    pub fn remove(&self, id: u32) -> bool {
        let mut st = self.shared.lock();
        match st.reg.remove(id) {
            Some(mut outbox) => {
                st.forget(id, &mut outbox, self.shared.running_reactor());
                st.replays.removed(id);
                true
            }
            None => false,
        }
    }

    /// Hands a direct client's connection to Rust (`detached.rs`): Rust duplicates
    /// descriptor `fd` (Node's, which JS closes right after) and from then on owns the
    /// duplicate, writes every frame to it and watches it for the peer leaving. JS calls
    /// it once Node holds nothing for the socket. False when it cannot (not a direct
    /// client, not a Unix build, no reactor): the client stays as it was.
    #[napi(catch_unwind)]
    pub fn detach(&self, env: Env, id: u32, fd: i64) -> bool {
        let Some(reactor) = self.shared.reactor() else {
            return false;
        };
        let wake = {
            let mut st = self.shared.lock();
            let State { reg, out, .. } = &mut *st;
            let Some(outbox) = reg.get_mut(id) else {
                return false;
            };
            if !outbox.is_direct() || outbox.is_detached() {
                return false;
            }
            let Some(dup) = detached::duplicate(fd) else {
                return false;
            };
            if !reactor.watch(id, &dup) {
                detached::close(dup);
                return false;
            }
            match out.detach(id, outbox, dup) {
                Ok(wake) => wake,
                Err(dup) => {
                    reactor.forget(&dup);
                    detached::close(dup);
                    return false;
                }
            }
        };
        self.woke(&env, wake);
        true
    }

    /// Ends a detached client's stream now: what waits, then the terminating chunk. The
    /// connection closes when JS removes the client (right after).
    #[napi(catch_unwind)]
    pub fn finish(&self, id: u32) {
        let mut st = self.shared.lock();
        let State { reg, out, .. } = &mut *st;
        if let Some(outbox) = reg.get_mut(id) {
            out.finish(id, outbox);
        }
    }

    #[napi(catch_unwind)]
    pub fn has(&self, id: u32) -> bool {
        self.shared.lock().reg.contains(id)
    }

    #[napi(catch_unwind)]
    pub fn join(&self, id: u32, room: JsRoom) -> Result<bool> {
        self.with_client(id, |st| st.reg.join(id, room.0))
    }

    /// Leaves `room`, or every room when it is absent or `"*"`.
    #[napi(catch_unwind)]
    pub fn leave(&self, id: u32, room: Option<JsRoom>) -> Result<()> {
        self.with_client(id, |st| st.reg.leave(id, room.as_ref().map(|r| &r.0)))
    }

    #[napi(catch_unwind)]
    pub fn is_in(&self, id: u32, room: JsRoom) -> Result<bool> {
        self.with_client(id, |st| st.reg.is_in(id, &room.0))
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
            let State {
                reg, out, history, ..
            } = st;
            let outbox = reg.get_mut(id)?;
            Some(if history.is_on() {
                // No `id:` line: the browser's last event id stays the last broadcast.
                out.push(id, outbox, body.len(), |buf| buf.extend_from_slice(&body))
            } else {
                out.push_frame(id, outbox, &body)
            })
        })?;
        self.woke(&env, wake);
        Ok(())
    }

    /// Queues bytes the app wrote itself (a detached client's `res.write` after the
    /// hand-over, `lib/detach.js`) after what waits, as they are; false when the client
    /// is not registered.
    #[napi(catch_unwind)]
    pub fn write_raw(&self, env: Env, id: u32, bytes: Buffer) -> bool {
        let wake = {
            let mut st = self.shared.lock();
            let State { reg, out, .. } = &mut *st;
            let Some(outbox) = reg.get_mut(id) else {
                return false;
            };
            !bytes.is_empty()
                && out.push(id, outbox, bytes.len(), |buf| buf.extend_from_slice(&bytes))
        };
        self.woke(&env, wake);
        true
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
        let room = room.0;
        let body = body(event.as_deref(), &data)?;
        let (done, deferred) = {
            let mut st = self.shared.lock_queue();
            if self.shared.defers(&st) {
                (st.defer_broadcast(&room, &body), true)
            } else {
                drop(st);
                (self.shared.lock().broadcast(&room, &body), false)
            }
        };
        if deferred {
            self.deferred(&env);
        } else {
            self.woke(&env, done.wake);
        }
        self.share(&room, event.as_deref(), &data, done.id);
        Ok(done.reached as u32)
    }

    /// After a fan-out was deferred (`deferred.rs`): a writer thread expands it, and
    /// wakes JS once done; the event loop is held until then.
    fn deferred(&self, env: &Env) {
        self.shared.writers.notify();
        self.shared.hold(env);
    }

    #[napi(catch_unwind)]
    pub fn retry(&self, env: Env, id: u32, ms: u32) -> Result<()> {
        let wake = self.with_client(id, |st| {
            let State {
                reg, out, history, ..
            } = st;
            let outbox = reg.get_mut(id)?;
            let with_id = !history.is_on();
            Some(out.push(id, outbox, MAX_ID_LINE + 20, |buf| {
                if with_id {
                    frame::push_retry(buf, id, ms)
                } else {
                    frame::push_retry_only(buf, ms)
                }
            }))
        })?;
        self.woke(&env, wake);
        Ok(())
    }

    /// Queues the heartbeat comment for every client; returns how many.
    #[napi(catch_unwind)]
    pub fn heartbeat(&self, env: Env) -> u32 {
        {
            let mut st = self.shared.lock_queue();
            if self.shared.defers(&st) {
                let reached = st.defer_heartbeat();
                drop(st);
                self.deferred(&env);
                return reached as u32;
            }
        }
        let (reached, wake) = self.shared.lock().heartbeat();
        self.woke(&env, wake);
        reached as u32
    }

    /// Everything queued for one client, now (before a direct `res.write`/`res.end`).
    #[napi(catch_unwind)]
    pub fn take(&self, id: u32) -> Option<Buffer> {
        let mut st = self.shared.lock();
        let State { reg, out, .. } = &mut *st;
        let outbox = reg.get_mut(id)?;
        if outbox.pending() == 0 {
            return None;
        }
        Some(out.take(outbox).into())
    }

    /// One batch of everything pending, or null when nothing is. `midTurn` true: a loop
    /// piling up is written out before the end of its turn (a socket refusing then is
    /// judged only from the end of the turn on).
    #[napi(catch_unwind)]
    pub fn drain(&self, env: Env, mid_turn: Option<bool>) -> Option<Batch> {
        self.shared.draining();
        self.shared.release(&env);
        // Deferred fan-outs stay with the writer threads (no replay is under way while
        // any waits: `Shared::defers`); the event loop stays held until they are done.
        let (batch, again, fetches, expanding) = {
            let mut st = self.shared.lock_queue();
            let (batch, again) = st.flush(mid_turn != Some(true));
            Writers::handed(&self.shared, &mut st);
            let expanding = !st.deferred.is_empty();
            (batch, again, st.replays.take_fetches(), expanding)
        };
        self.fetch_pages(fetches);
        if expanding {
            self.shared.hold(&env);
        }
        // Replays that go on (their socket took this step) move again next turn.
        self.woke(&env, again);
        if batch.is_empty() {
            return None;
        }
        Some(Batch {
            data: batch.data.into(),
            index: Uint32Array::new(batch.index),
            bodies: batch.bodies.iter().map(|b| b.to_vec().into()).collect(),
            dropped: Uint32Array::new(batch.dropped),
            gone: Uint32Array::new(batch.gone),
        })
    }

    /// Waits until the writer threads have written every direct client handed to them
    /// so far (by `drain`), or found its socket refusing; true when JS must drain again
    /// (a refused rest, a broken connection, clients a deferred fan-out reached). Returns at once without writer threads.
    #[napi(catch_unwind)]
    pub fn wait_writers(&self) -> bool {
        let mut st = self.shared.lock();
        self.shared.writers.wait_idle(&mut st);
        st.out.has_work() || st.out.awaits_flush()
    }

    /// How many writer threads write the direct clients (0: this thread does).
    #[napi(getter)]
    pub fn writer_threads(&self) -> u32 {
        self.shared.writers.count() as u32
    }

    /// True once after a client written through JS piled up past 64 KiB in this turn:
    /// JS should write what is pending now, as `res.write` would have.
    #[napi(catch_unwind)]
    pub fn take_urgent(&self) -> bool {
        self.shared.lock_queue().out.take_urgent()
    }

    /// From now on Rust writes this client's turns to its socket, descriptor `fd`
    /// (Node's own, borrowed: JS calls `forgetFd` before Node closes it). False when it
    /// cannot (not a non-blocking stream socket, another client writes to it, or not a
    /// Unix build): JS keeps writing it. When Node still `held` bytes for the socket,
    /// the client starts paused (see `pause`).
    #[napi(catch_unwind)]
    pub fn set_direct(&self, id: u32, fd: i64, held: f64) -> bool {
        let mut st = self.shared.lock();
        let State { reg, out, .. } = &mut *st;
        let Some(outbox) = reg.get_mut(id) else {
            return false;
        };
        if outbox.is_direct() || outbox.pending() > 0 {
            return outbox.is_direct();
        }
        let Some(fd) = Fd::borrow(fd) else {
            return false;
        };
        if !out.set_direct(id, outbox, fd) {
            return false;
        }
        if held > 0.0 {
            Delivery::pause_holding(outbox, held as usize);
        }
        true
    }

    /// Node is about to close descriptor `fd` (its handle's `close` or `reset`), or the
    /// app ended the socket: Rust never writes to it again. True if a direct client was
    /// writing to it; that client stays registered (its 'close' removes it), its bytes
    /// now go to JS, which writes nothing to a socket that is no longer writable.
    #[napi(catch_unwind)]
    pub fn forget_fd(&self, fd: i64) -> bool {
        let mut st = self.shared.lock();
        let State { reg, out, .. } = &mut *st;
        out.forget_fd(reg, fd)
    }

    /// For a direct client: milliseconds since Rust last wrote to its socket (or since it
    /// became direct), which Node's socket timeout cannot see. Null for any other client.
    #[napi(catch_unwind)]
    pub fn idle_ms(&self, id: u32) -> Option<u32> {
        let mut st = self.shared.lock();
        let State { reg, out, .. } = &mut *st;
        let outbox = reg.get_mut(id)?;
        out.idle_ms(outbox)
    }

    /// A plain HTTP/1.1 response that Rust does not write itself: its bytes come in
    /// batches as HTTP/1.1 chunks, for JS to write straight to its socket.
    #[napi(catch_unwind)]
    pub fn set_framed(&self, id: u32) {
        if let Some(outbox) = self.shared.lock().reg.get_mut(id) {
            Delivery::set_framed(outbox);
        }
    }

    /// Node holds `held` bytes for the client's socket: keep its frames queued until
    /// `resume`. When `held` > 0 the socket refused them, and the slow-reader rule
    /// (`limits.rs`) judges the client from the end of this turn on (`midTurn` true: a
    /// loop piling up, whose turn has not ended yet).
    #[napi(catch_unwind)]
    pub fn pause(&self, id: u32, held: Option<f64>, mid_turn: Option<bool>) {
        let mut st = self.shared.lock();
        let State { reg, out, .. } = &mut *st;
        if let Some(outbox) = reg.get_mut(id) {
            let held = held.filter(|h| h.is_finite() && *h > 0.0).unwrap_or(0.0) as usize;
            if held > 0 {
                out.refused(id, outbox, held, mid_turn != Some(true));
            } else {
                Delivery::pause_holding(outbox, 0);
            }
        }
    }

    /// Node has written everything it held for the client (its socket took it): write
    /// what waits in Rust. Returns whether the client is still backlogged (judged by the
    /// slow-reader rule): while it is, JS reports each time Node has written what it was
    /// handed, so that its progress is seen and its backlog ends once it has caught up.
    #[napi(catch_unwind)]
    pub fn resume(&self, env: Env, id: u32) -> bool {
        let (wake, backlogged) = {
            let mut st = self.shared.lock();
            let State {
                reg, out, replays, ..
            } = &mut *st;
            match reg.get_mut(id) {
                // A replay moves on once its socket took what it was given.
                Some(outbox) => (
                    out.resume(id, outbox) | replays.make_ready(id),
                    outbox.is_backlogged(),
                ),
                None => (false, false),
            }
        };
        self.woke(&env, wake);
        backlogged
    }

    #[napi(catch_unwind, getter)]
    pub fn max_pending_bytes(&self) -> f64 {
        self.shared.lock().out.max_pending() as f64
    }

    #[napi(catch_unwind, setter)]
    pub fn set_max_pending_bytes(&self, bytes: f64) -> Result<()> {
        if !(bytes.is_finite() && bytes >= 1.0) {
            return Err(Error::new(
                Status::InvalidArg,
                "maxPendingBytes must be a positive number".to_owned(),
            ));
        }
        self.shared.lock().out.set_max_pending(bytes as usize);
        Ok(())
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> Stats {
        let mut st = self.shared.lock();
        let mut pending = 0usize;
        st.reg.for_each(|_, outbox| pending += outbox.waiting());
        let replaying = st.replays.len() as u32;
        Stats {
            pending_bytes: pending as f64,
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
            history: HistoryStats {
                size: st.history.cap() as u32,
                length: st.history.len() as u32,
                bytes: st.history.bytes() as f64,
                oldest_id: st.history.oldest().map(|id| id.to_string()),
                newest_id: st.history.newest().map(|id| id.to_string()),
                replaying,
            },
        }
    }

    /// Broadcasts kept for `Last-Event-ID` replays; 0: off (frames carry client ids).
    #[napi(catch_unwind, getter)]
    pub fn history(&self) -> u32 {
        self.shared.lock().history.cap() as u32
    }

    #[napi(catch_unwind, setter)]
    pub fn set_history(&self, size: u32) {
        self.shared.lock().history.set_cap(size as usize);
        self.history_changed(size as usize);
    }

    /// A client reconnected with `Last-Event-ID: last`: when it is one of our event ids
    /// (history on, or a Redis Stream), it gets a replay cursor and live broadcasts skip
    /// it until the replay caught up; true. Call it right after `add`; the cursor moves
    /// from `startReplay` on (the end of its window). False for any other id.
    #[napi(catch_unwind)]
    pub fn hold_for_replay(&self, id: u32, last: String) -> bool {
        let Some(after) = EventId::parse(&last) else {
            return false;
        };
        let streams = self.streams();
        let mut st = self.shared.lock();
        if !st.history.is_on() && !streams {
            return false;
        }
        let State { reg, replays, .. } = &mut *st;
        let Some(outbox) = reg.get_mut(id) else {
            return false;
        };
        replays.hold(id, outbox, after, &last, streams);
        true
    }

    /// The window of a client held for a replay ended: its replay starts (the rooms it
    /// is in now, and `"*"`). Gaps found are reported through `takeGaps`.
    #[napi(catch_unwind)]
    pub fn start_replay(&self, env: Env, id: u32) {
        let wake = {
            let mut st = self.shared.lock();
            let State {
                history, replays, ..
            } = &mut *st;
            replays.start(id, history)
        };
        self.woke(&env, wake);
    }

    /// The `'gap'`s found since the last call (null when none).
    #[napi(catch_unwind)]
    pub fn take_gaps(&self) -> Option<Vec<Gap>> {
        let gaps = self.shared.lock().replays.take_gaps();
        if gaps.is_empty() {
            return None;
        }
        Some(
            gaps.into_iter()
                .map(|gap| Gap {
                    client: gap.client,
                    last_event_id: gap.last,
                    oldest_id: gap.oldest.map(|id| id.to_string()),
                })
                .collect(),
        )
    }
}

impl Drop for Hub {
    /// The writer threads stop (what they have not written is dropped with the hub).
    fn drop(&mut self) {
        let mut st = self.shared.lock_queue();
        self.shared.writers.stop(&mut st);
    }
}
