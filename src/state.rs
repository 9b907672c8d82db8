//! The hub's state, shared by the JS thread and the Redis task: the registry, the
//! delivery queues, the broadcast history, and the way to wake the JS thread.
//!
//! It sits below both `hub` (the napi surface) and `redis` (the bridge), which
//! reach it through `Arc<Shared>`; it imports neither. Fan-outs deferred off the
//! JavaScript thread (`deferred.rs`) are expanded whenever the lock is taken, so every
//! user of the state sees them as if they had been expanded at the call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use parking_lot::{Mutex, MutexGuard};

use crate::deferred::{Deferred, Frames};
use crate::delivery::{Delivery, Outbox};
use crate::detached::{self, Reactor, Ready};
use crate::history::{frame_with_id, EventId, History};
use crate::registry::{Registry, Room};
use crate::replay::Replays;
use crate::writer::Writers;

pub type Wake = ThreadsafeFunction<(), (), (), Status, false, true>;

#[derive(Default)]
pub struct State {
    pub reg: Registry<Outbox>,
    pub out: Delivery,
    pub history: History,
    pub replays: Replays,
    /// Broadcasts and heartbeats queued, not expanded yet (`deferred.rs`).
    pub deferred: Deferred,
}

/// What one broadcast did.
pub struct Broadcast {
    /// Members reached.
    pub reached: usize,
    /// JS must run to write.
    pub wake: bool,
    /// The event id its frame carries (history on), else `None`.
    pub id: Option<EventId>,
}

impl State {
    /// Queues one event for every member of `room` now. With history on, the frame
    /// carries a fresh event id (the same bytes for every member) and is kept; otherwise
    /// each member's frame carries its client id, as simple-sse does.
    pub fn broadcast(&mut self, room: &Room, body: &[u8]) -> Broadcast {
        let done = self.defer_broadcast(room, body);
        self.expanded(done)
    }

    /// A broadcast whose expansion is left to a writer thread (`deferred.rs`): O(1)
    /// here, whatever the room. It reaches the members of `room` now, and (history on)
    /// carries a fresh event id.
    pub fn defer_broadcast(&mut self, room: &Room, body: &[u8]) -> Broadcast {
        if self.history.is_on() {
            let id = self.history.next_id();
            return self.defer_kept(id, room, body);
        }
        self.deferred
            .push(room.clone(), Frames::PerClient(Arc::from(body)));
        Broadcast {
            reached: self.reg.count_in(room),
            wake: false,
            id: None,
        }
    }

    /// Queues and keeps one broadcast under a given event id (made here, or by another
    /// process and read from a Redis Stream). A client still catching up on a replay is
    /// skipped: its cursor brings the broadcast in order (see `replay.rs`).
    pub fn broadcast_as(&mut self, id: EventId, room: &Room, body: &[u8]) -> Broadcast {
        let done = self.defer_kept(id, room, body);
        self.expanded(done)
    }

    fn defer_kept(&mut self, id: EventId, room: &Room, body: &[u8]) -> Broadcast {
        let frame = frame_with_id(id, body);
        self.deferred.push(room.clone(), Frames::Kept { id, frame });
        Broadcast {
            reached: self.reg.count_in(room),
            wake: false,
            id: Some(id),
        }
    }

    /// The heartbeat comment for every client, queued now; returns how many it reaches
    /// and whether JS must run.
    pub fn heartbeat(&mut self) -> (usize, bool) {
        let reached = self.defer_heartbeat();
        self.expand(usize::MAX);
        (reached, self.out.has_work())
    }

    /// The heartbeat comment for every client, its expansion left to a writer thread.
    /// Returns how many clients it reaches.
    pub fn defer_heartbeat(&mut self) -> usize {
        self.deferred.push(Room::string("*"), Frames::Heartbeat);
        self.reg.len()
    }

    /// A fan-out just queued, expanded now (with anything queued before it).
    fn expanded(&mut self, done: Broadcast) -> Broadcast {
        self.expand(usize::MAX);
        Broadcast {
            wake: self.out.has_work(),
            ..done
        }
    }

    /// Expands deferred fan-outs for at most `budget` receivers; true when some are left.
    pub fn expand(&mut self, budget: usize) -> bool {
        let State {
            reg,
            out,
            history,
            deferred,
            ..
        } = self;
        deferred.expand(reg, out, history, budget)
    }

    /// One batch of everything pending: the replays' next steps first (see `replay.rs`),
    /// then every client's bytes. The second value is true when JS must run again
    /// (replays that go on, or gaps to report).
    /// `end_of_turn`: see `Delivery::flush_turn`.
    pub fn flush(&mut self, end_of_turn: bool) -> (crate::delivery::Batch, bool) {
        let State {
            reg,
            out,
            history,
            replays,
            ..
        } = self;
        let moved = replays.fill(reg, out, history);
        let batch = out.flush_turn(reg, end_of_turn);
        let again = replays.after_flush(reg, moved);
        (batch, again)
    }
}

impl State {
    /// A client left the registry: a detached client's descriptor (owned by Rust) is
    /// deregistered from the reactor, then closed (`detached.rs`).
    pub fn forget(&mut self, id: u32, outbox: &mut Outbox, reactor: Option<&Reactor>) {
        if let Some(fd) = self.out.removed(id, outbox) {
            if let Some(reactor) = reactor {
                reactor.forget(&fd);
            }
            detached::close(fd);
        }
    }
}

impl Drop for State {
    /// The hub goes away (its JS realm ends): detached connections close with it.
    fn drop(&mut self) {
        let State { reg, out, .. } = self;
        reg.for_each(|id, outbox| {
            if let Some(fd) = out.removed(id, outbox) {
                detached::close(fd);
            }
        });
    }
}

/// State shared with other threads, and the way to wake the JS thread.
pub struct Shared {
    /// Taken through `lock`, `lock_queue`, `lock_any` or (writer threads) `raw`.
    state: Mutex<State>,
    scheduled: AtomicBool,
    /// True while the wake-up holds the event loop open (JS thread only; see `hold`).
    held: AtomicBool,
    wake: Wake,
    /// The writer threads of the direct clients (`writer.rs`).
    pub writers: Writers,
    /// The thread watching detached connections, started by the first detach (None: it
    /// could not start, and clients stay attached).
    reactor: OnceLock<Option<Reactor>>,
}

impl Shared {
    pub fn new(wake: Wake) -> Shared {
        let writers = Writers::default();
        let mut state = State::default();
        state.out.threaded = writers.count() > 0;
        Shared {
            state: Mutex::new(state),
            scheduled: AtomicBool::new(false),
            held: AtomicBool::new(false),
            wake,
            writers,
            reactor: OnceLock::new(),
        }
    }

    /// The reactor, if one runs (it never starts here).
    pub fn running_reactor(&self) -> Option<&Reactor> {
        self.reactor.get().and_then(Option::as_ref)
    }

    /// The reactor watching detached connections, started on first use. It holds the
    /// state weakly: it ends with the hub.
    pub fn reactor(self: &Arc<Self>) -> Option<&Reactor> {
        self.reactor
            .get_or_init(|| {
                let weak = Arc::downgrade(self);
                detached::start(move |events| match weak.upgrade() {
                    Some(shared) => {
                        shared.on_ready(events);
                        true
                    }
                    None => false,
                })
                .ok()
            })
            .as_ref()
    }

    /// Reactor thread: detached clients whose peer left (reported as gone in the next
    /// batch) or whose socket has room again (resumed, and a replay moves on).
    fn on_ready(&self, events: &[Ready]) {
        let mut wake = false;
        {
            let mut st = self.lock_any();
            let State {
                reg, out, replays, ..
            } = &mut *st;
            for event in events {
                let Some(outbox) = reg.get_mut(event.id) else {
                    continue;
                };
                if event.gone {
                    wake |= out.hung_up(event.id, outbox);
                } else if event.writable && out.writable(event.id, outbox) {
                    replays.make_ready(event.id);
                    wake = true;
                }
            }
        }
        if wake {
            self.wake();
        }
    }

    /// The state, for the JavaScript thread, with every deferred fan-out expanded (see
    /// `settle`): a writer thread holding it gives way after the client it is writing
    /// (see `writer.rs`).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        let mut st = self.lock_queue();
        self.settle(&mut st);
        st
    }

    /// The state as it is, deferred fan-outs still queued: for the JavaScript thread's
    /// calls that only queue one more (`broadcast`, heartbeats) or hand over the clients
    /// already dirty (`drain`), and read nothing a fan-out changes.
    pub fn lock_queue(&self) -> MutexGuard<'_, State> {
        if let Some(st) = self.state.try_lock() {
            return st;
        }
        self.writers.js_waiting.fetch_add(1, Ordering::AcqRel);
        let st = self.state.lock();
        self.writers.js_waiting.fetch_sub(1, Ordering::AcqRel);
        st
    }

    /// The state, for the threads that are neither JavaScript's nor a writer (Redis, the
    /// reactor), with every deferred fan-out expanded.
    pub fn lock_any(&self) -> MutexGuard<'_, State> {
        let mut st = self.state.lock();
        self.settle(&mut st);
        st
    }

    /// The lock itself, for the writer threads (they expand deferred fan-outs in parts).
    pub(crate) fn raw(&self) -> &Mutex<State> {
        &self.state
    }

    /// Whether a fan-out now is deferred to the writer threads (`deferred.rs`): they
    /// run, and no `Last-Event-ID` replay is under way.
    pub fn defers(&self, st: &State) -> bool {
        st.out.threaded && self.writers.running() && st.replays.is_empty()
    }

    /// Expands every deferred fan-out now, on this thread: the direct clients it made
    /// dirty go to the writers (written after JS's next flush), and JS is woken for that
    /// flush (which also lets the event loop go, see `hold`). The wake-up only queues a
    /// call (`wake`): no JS runs here.
    fn settle(&self, st: &mut State) {
        if st.deferred.is_empty() {
            return;
        }
        st.expand(usize::MAX);
        let State { reg, out, .. } = st;
        out.hand_dirty(reg);
        self.wake();
    }

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

    /// A drain is starting: the next queued frame must wake JS again.
    pub fn draining(&self) {
        self.scheduled.store(false, Ordering::Release);
    }

    /// Keeps the event loop alive until the next `drain`, so bytes queued from JS are
    /// written even when nothing else holds the loop. Only the pending wake-up holds
    /// it: an idle hub never keeps the process alive. JS thread only.
    pub fn hold(&self, env: &Env) {
        if !self.held.swap(true, Ordering::AcqRel) {
            // SAFETY: called on the JS thread that owns `env`, with a live function.
            unsafe { napi::sys::napi_ref_threadsafe_function(env.raw(), self.wake.raw()) };
        }
    }

    /// A Redis Stream page of a client's replay arrived (None: Redis could not answer;
    /// the local history serves it). Any thread.
    pub fn page_arrived(
        &self,
        client: u32,
        entries: Option<Vec<crate::replay::PageEntry>>,
        gap: Option<Option<EventId>>,
    ) {
        let wake = {
            let mut st = self.lock_any();
            let State {
                history, replays, ..
            } = &mut *st;
            replays.page_arrived(client, history, entries, gap)
        };
        if wake {
            self.wake();
        }
    }

    /// Lets the event loop go again (JS thread only).
    pub fn release(&self, env: &Env) {
        if self.held.swap(false, Ordering::AcqRel) {
            // SAFETY: as in `hold`.
            unsafe { napi::sys::napi_unref_threadsafe_function(env.raw(), self.wake.raw()) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::NO_BODY;

    /// The bytes a drain hands to JS for each client (no shared bodies in these tests).
    fn drained(st: &mut State) -> Vec<(u32, Vec<u8>)> {
        let State { reg, out, .. } = st;
        let batch = out.flush(reg);
        let mut start = 0;
        batch
            .index
            .chunks(4)
            .map(|part| {
                assert_eq!(part[2], NO_BODY);
                let end = part[1] as usize;
                let bytes = batch.data[start..end].to_vec();
                start = end;
                (part[0], bytes)
            })
            .collect()
    }

    #[test]
    fn with_history_a_broadcast_is_one_frame_for_all_and_is_kept() {
        let mut st = State::default();
        let a = st.reg.add(Outbox::default()).expect("id");
        let b = st.reg.add(Outbox::default()).expect("id");
        let off = st.broadcast(&Room::string("*"), b"data: x\n\n");
        assert_eq!(off.id, None);
        assert_eq!(
            drained(&mut st),
            vec![
                (a, b"id: 0\ndata: x\n\n".to_vec()),
                (b, b"id: 1\ndata: x\n\n".to_vec())
            ]
        );
        st.history.set_cap(10);
        let on = st.broadcast(&Room::string("*"), b"data: y\n\n");
        let id = on.id.expect("an event id");
        let frame = format!("id: {id}\ndata: y\n\n").into_bytes();
        assert_eq!(drained(&mut st), vec![(a, frame.clone()), (b, frame)]);
        assert_eq!(st.history.newest(), Some(id));
    }

    /// Everything a client got from flushes until nothing moves (its socket takes all).
    fn replayed(st: &mut State) -> Vec<u8> {
        let mut got = Vec::new();
        loop {
            let (batch, again) = st.flush(true);
            let mut start = 0;
            for part in batch.index.chunks(4) {
                let end = part[1] as usize;
                got.extend_from_slice(&batch.data[start..end]);
                if part[2] != NO_BODY {
                    got.extend_from_slice(&batch.bodies[part[2] as usize][part[3] as usize..]);
                }
                start = end;
            }
            if !again {
                return got;
            }
        }
    }

    #[test]
    fn a_replay_moves_one_step_per_flush_skips_live_broadcasts_and_catches_up() {
        let mut st = State::default();
        st.history.set_cap(10_000);
        let all = Room::string("*");
        let body = vec![b'x'; 1000];
        let first = st.broadcast(&all, &body).id.expect("id");
        for _ in 0..199 {
            st.broadcast(&all, &body);
        }
        let c = st.reg.add(Outbox::default()).expect("id");
        let State { reg, replays, .. } = &mut st;
        replays.hold(
            c,
            reg.get_mut(c).expect("client"),
            first,
            &first.to_string(),
            false,
        );
        // Held: a live broadcast does not reach it (the cursor brings it).
        let live = st.broadcast(&all, b"live").id.expect("id");
        assert!(
            st.flush(true).0.is_empty(),
            "nothing before the window ends"
        );
        let State {
            replays, history, ..
        } = &mut st;
        assert!(replays.start(c, history));
        let (batch, again) = st.flush(true);
        assert!(again, "more to come");
        let step = batch.data.len() + batch.bodies.iter().map(|b| b.len()).sum::<usize>();
        let first_step = String::from_utf8(batch.data.clone()).expect("utf-8");
        assert!(
            (crate::replay::STEP..crate::replay::STEP + 1100).contains(&step),
            "one step: {step}"
        );
        let rest = replayed(&mut st);
        let text = String::from_utf8(rest).expect("utf-8");
        assert!(
            text.ends_with(&format!("id: {live}\nlive")),
            "the live one last"
        );
        assert_eq!(
            first_step.matches("id: ").count() + text.matches("id: ").count(),
            200,
            "each once: the 199 after the first, and the live one"
        );
        assert!(
            !st.reg.get_mut(c).expect("client").replaying,
            "caught up: live"
        );
        assert!(st.replays.is_empty());
        let next = st.broadcast(&all, b"next").id.expect("id");
        assert_eq!(replayed(&mut st), format!("id: {next}\nnext").into_bytes());
        assert!(st.replays.take_gaps().is_empty());
    }
}
