//! When and how each client's pending bytes are written: queueing into its outbox
//! (`outbox.rs`), the turn's flush, the direct write, backpressure. When a slow reader is
//! dropped is `limits.rs`'s to say; what goes to JavaScript is built by `framed.rs`;
//! which descriptor a direct client writes to is kept by `fds.rs`.
//!
//! The first frame a client gets in a turn puts it on the dirty list; `flush` then
//! handles every dirty client once:
//!
//! - a *direct* client (Rust borrows its socket's descriptor, see `direct.rs`) gets its
//!   whole turn — chunk header, frames, shared bodies, chunk trailer — in one `sendmsg`
//!   of the segments: handed to the writer threads (`to_write`, `write_handed`, see
//!   `writer.rs`), or straight from here when there are none. What the socket refuses is handed to JS in
//!   the batch, already framed, for Node to write after everything it holds; the client
//!   is paused until JS reports that Node has written it all (`resume`).
//! - any other client's bytes go to JS in the batch, as `(id, end, body)` entries, for
//!   one `res.write` per client.
//!
//! When a client is dropped is decided in `limits.rs` (the slow-reader rule); this module
//! tells it when a client's socket refused bytes at the end of a turn (its backlog
//! begins), when the socket took bytes (progress), and asks it before queueing a frame
//! for a backlogged client. What one turn queues is never judged: past [`EARLY`] bytes
//! it is written out at once, mid-turn (direct clients here; others through JS, see
//! `take_urgent`), and what the socket cannot take yet waits for the end of the turn.
//! A client that waits for its socket (direct or framed) is handed to Node at most
//! [`STEP`] bytes at a time, so that its progress is seen at least that often.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::ThreadId;

use crate::direct::{self, Fd, Wrote};
use crate::fds::Fds;
use crate::frame;
use crate::framed::{hand_over, hand_wire};
pub use crate::framed::{Batch, NO_BODY};
pub use crate::limits::DEFAULT_MAX_PENDING;
#[cfg(test)]
use crate::limits::STALL_MS;
use crate::limits::{Clock, Limits, STEP};
pub use crate::outbox::Outbox;
use crate::outbox::Writer;
use crate::registry::Registry;

/// Broadcast bodies at least this large are shared between clients, not copied.
pub const SHARE_MIN: usize = 4096;

/// A client whose unwritten frames reach this much in one turn is written out at once.
pub const EARLY: usize = 64 * 1024;

/// The longest `id: N\n` line: 4 + 10 digits + 1.
pub const MAX_ID_LINE: usize = 15;

#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Counters {
    /// Frames (events, retries, heartbeats) queued.
    pub frames: u64,
    /// Frame bytes written directly or handed to JavaScript (chunk framing not counted).
    pub bytes: u64,
    /// Clients dropped for passing the limit.
    pub dropped: u64,
}

pub struct Delivery {
    dirty: Vec<u32>,
    dropped: Vec<u32>,
    gone: Vec<u32>,
    /// A client written through JS passed [`EARLY`] this turn: JS should flush now.
    urgent: bool,
    /// Direct clients' descriptors and when Rust last wrote to each.
    fds: Fds,
    /// The thread that made this (the JavaScript thread). Writes to a borrowed
    /// descriptor happen under the state lock, here or on a writer thread
    /// (`write_handed`); a delivery from the Redis task leaves a pile to the flush.
    js_thread: ThreadId,
    /// Clients whose socket refused bytes mid-turn: their backlog begins at the end of
    /// the turn if they still wait then.
    refusing: Vec<u32>,
    /// Direct clients handed to the writer threads (`writer.rs`), in order; an entry
    /// whose client is no longer `handed` is stale and skipped.
    pub(crate) to_write: VecDeque<u32>,
    /// How many of `to_write`'s first entries the writers may write: those handed before
    /// the last flush. A client handed later (by a deferred fan-out's expansion, see
    /// `hand_dirty`) waits for the next flush, the end of the JavaScript turn that may
    /// still queue for it: everything queued for a client in one turn goes in one write.
    sealed: usize,
    /// Whether writer threads write the direct clients (else the flush does, on the
    /// JavaScript thread).
    pub(crate) threaded: bool,
    limits: Limits,
    pub counters: Counters,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery::with_limits(Limits::default())
    }
}

impl Delivery {
    /// A delivery whose slow-reader rule reads the time from `clock`.
    pub fn with_clock(clock: Clock) -> Self {
        Delivery::with_limits(Limits::with_clock(clock))
    }

    fn with_limits(limits: Limits) -> Self {
        Delivery {
            dirty: Vec::new(),
            dropped: Vec::new(),
            gone: Vec::new(),
            urgent: false,
            fds: Fds::default(),
            js_thread: std::thread::current().id(),
            refusing: Vec::new(),
            to_write: VecDeque::new(),
            sealed: 0,
            threaded: false,
            limits,
            counters: Counters::default(),
        }
    }
}

impl Delivery {
    pub fn max_pending(&self) -> usize {
        self.limits.max_pending()
    }

    pub fn set_max_pending(&mut self, bytes: usize) {
        self.limits.set_max_pending(bytes);
    }

    /// The client's backlog begins (its socket refused bytes at the end of a turn).
    fn begin_backlog(&mut self, id: u32, outbox: &mut Outbox) {
        self.limits.begin(id, outbox.waiting());
        outbox.backlogged = true;
    }

    /// The client's socket took bytes: tells the rule what still waits.
    fn progressed(&mut self, id: u32, outbox: &mut Outbox) {
        if outbox.backlogged && !self.limits.progress(id, outbox.waiting()) {
            outbox.backlogged = false;
        }
    }

    /// Appends one frame built by `write` (at most `len` bytes) to a client's outbox.
    /// Returns true when JS must run (the client became dirty, was dropped or broke).
    pub fn push(
        &mut self,
        id: u32,
        outbox: &mut Outbox,
        len: usize,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> bool {
        if outbox.dropped {
            return false;
        }
        if self.over_limit(id, outbox, len) {
            return true;
        }
        outbox.append(len, write);
        self.queued(id, outbox)
    }

    /// Queues `id: <id>\n` and a copy of `body` (the part of a frame after its id line).
    pub fn push_frame(&mut self, id: u32, outbox: &mut Outbox, body: &[u8]) -> bool {
        self.push(id, outbox, body.len() + MAX_ID_LINE, |buf| {
            frame::push_id(buf, id);
            buf.extend_from_slice(body);
        })
    }

    /// Queues `id: <id>\n` and a broadcast body; large bodies are shared, not copied.
    pub fn push_body(&mut self, id: u32, outbox: &mut Outbox, body: &Arc<[u8]>) -> bool {
        if body.len() < SHARE_MIN {
            return self.push_frame(id, outbox, body);
        }
        self.push_segment(id, outbox, Some(id), body)
    }

    /// Queues one complete frame that is the same for every receiver (no `id:` line of
    /// the client's own); large ones are shared, not copied.
    pub fn push_shared(&mut self, id: u32, outbox: &mut Outbox, frame: &Arc<[u8]>) -> bool {
        if frame.len() < SHARE_MIN {
            return self.push(id, outbox, frame.len(), |buf| buf.extend_from_slice(frame));
        }
        self.push_segment(id, outbox, None, frame)
    }

    /// Queues an optional `id:` line and then `body` by reference.
    fn push_segment(
        &mut self,
        id: u32,
        outbox: &mut Outbox,
        id_line: Option<u32>,
        body: &Arc<[u8]>,
    ) -> bool {
        if outbox.dropped {
            return false;
        }
        if self.over_limit(id, outbox, body.len() + MAX_ID_LINE) {
            return true;
        }
        if let Some(line) = id_line {
            outbox.append(MAX_ID_LINE, |buf| frame::push_id(buf, line));
        }
        outbox.append_shared(body);
        self.queued(id, outbox)
    }

    /// Drops the client when queueing `len` more bytes breaks the slow-reader rule
    /// (`limits.rs`); true if it did. Only backlogged clients are judged: their socket
    /// refused bytes at the end of a turn. Within a turn, what the socket could not take
    /// yet (the loop outran the reader) waits here and is retried every [`EARLY`] bytes,
    /// as Node would buffer it for `res.write`; it is never judged on its own.
    fn over_limit(&mut self, id: u32, outbox: &mut Outbox, len: usize) -> bool {
        if !outbox.backlogged {
            return false;
        }
        let waiting = outbox.waiting().saturating_add(len);
        if self.limits.judge(id, waiting).is_none() {
            return false;
        }
        self.limits.forget(id);
        outbox.backlogged = false;
        outbox.dropped = true;
        outbox.clear();
        // No more writes; JS destroys the response on the next flush.
        self.unset_fd(outbox);
        self.dropped.push(id);
        self.counters.dropped += 1;
        true
    }

    /// Counts a queued frame and writes early when a turn piles up; true when JS must run.
    fn queued(&mut self, id: u32, outbox: &mut Outbox) -> bool {
        self.counters.frames += 1;
        let mut wake = false;
        if !outbox.queued && !outbox.stopped() {
            outbox.queued = true;
            self.dirty.push(id);
            wake = true;
        }
        if !outbox.stopped() && outbox.frames_len() >= EARLY {
            if outbox.is_direct() {
                // Off the JavaScript thread (a Redis delivery) the bytes wait for the
                // flush that its wake-up brings.
                if self.on_js_thread() {
                    wake |= self.write_direct(id, outbox);
                }
            } else {
                self.urgent = true;
            }
        }
        wake
    }

    /// Whether a flush has something to do for JS (dirty, dropped or broken clients).
    pub fn has_work(&self) -> bool {
        !self.dirty.is_empty() || !self.dropped.is_empty() || !self.gone.is_empty()
    }

    /// True once since a client written through JS passed [`EARLY`] bytes in a turn.
    pub fn take_urgent(&mut self) -> bool {
        std::mem::take(&mut self.urgent)
    }

    /// Writes a direct client's pending bytes to its socket (one system call for up to
    /// [`direct::MAX_SLICES`] segments). True when the connection broke (JS must run).
    fn write_direct(&mut self, id: u32, outbox: &mut Outbox) -> bool {
        self.counters.bytes += outbox.frame_for_wire() as u64;
        let wrote = match outbox.fd.as_ref() {
            Some(fd) => direct::write_all(fd, &outbox.slices()),
            None => return false,
        };
        match wrote {
            Wrote::Bytes(n) => {
                if n > 0 {
                    self.stamp(outbox);
                }
                outbox.consume(n);
                if n > 0 {
                    self.progressed(id, outbox);
                }
                false
            }
            Wrote::Gone => {
                self.gone(id, outbox);
                true
            }
        }
    }

    /// A writer thread writes client `id`, taken from `to_write` (under the state lock,
    /// like every write to a borrowed descriptor: see `direct.rs`). Returns true when JS
    /// must run: the socket refused part of it (the rest waits for JS's next flush, which
    /// hands it to Node and pauses the client), the connection broke, or the descriptor
    /// was forgotten meanwhile (its bytes now go to JS framed).
    pub fn write_handed(&mut self, reg: &mut Registry<Outbox>, id: u32) -> bool {
        let Some(outbox) = reg.get_mut(id) else {
            return false;
        };
        if outbox.writer != Writer::Handed {
            return false;
        }
        outbox.writer = Writer::Idle;
        if outbox.dropped || outbox.stopped() || outbox.len == 0 {
            outbox.queued = false;
            return false;
        }
        if !outbox.is_direct() {
            self.dirty.push(id);
            return true;
        }
        if self.write_direct(id, outbox) {
            outbox.queued = false;
            return true;
        }
        if outbox.len == 0 {
            outbox.queued = false;
            return false;
        }
        if outbox.detached {
            // Nothing to hand to Node: it pauses now, under the lock this write took, so
            // the reactor's next writable edge finds it paused (`writable`) and resumes it.
            outbox.queued = false;
            self.refused(id, outbox, 0, false);
            return true;
        }
        outbox.writer = Writer::Refused;
        self.dirty.push(id);
        true
    }

    /// The next client the writers may write (see `sealed`).
    pub(crate) fn next_handed(&mut self) -> Option<u32> {
        if self.sealed == 0 {
            return None;
        }
        self.sealed -= 1;
        self.to_write.pop_front()
    }

    /// Whether the writers have clients they may write now.
    pub(crate) fn has_handed(&self) -> bool {
        self.sealed > 0
    }

    /// Whether clients handed since the last flush wait for the next one (`sealed`).
    pub(crate) fn awaits_flush(&self) -> bool {
        self.to_write.len() > self.sealed
    }

    /// After a deferred fan-out was expanded outside a flush (`deferred.rs`): the dirty
    /// direct clients go to the writers' queue, as the next flush would hand them (they
    /// stay queued), to be written after that flush (`sealed`); the others stay dirty for
    /// it. Without writer threads all stay dirty.
    pub fn hand_dirty(&mut self, reg: &mut Registry<Outbox>) {
        if !self.threaded {
            return;
        }
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.retain(|&id| {
            let Some(outbox) = reg.get_mut(id) else {
                return false;
            };
            let ready = outbox.is_direct()
                && outbox.writer != Writer::Refused
                && !outbox.dropped
                && !outbox.stopped()
                && outbox.len > 0;
            if !ready {
                return true;
            }
            if outbox.writer != Writer::Handed {
                outbox.writer = Writer::Handed;
                self.to_write.push_back(id);
            }
            false
        });
        self.dirty = dirty;
    }

    /// The writer threads are gone: every client still handed to them goes back to the
    /// dirty list, for the JavaScript thread's next flush.
    pub fn reclaim_handed(&mut self, reg: &mut Registry<Outbox>) {
        self.sealed = 0;
        for id in std::mem::take(&mut self.to_write) {
            if let Some(outbox) = reg.get_mut(id) {
                if outbox.writer == Writer::Handed {
                    outbox.writer = Writer::Idle;
                    self.dirty.push(id);
                }
            }
        }
    }

    /// The client's connection is gone (a write broke, or the peer of a detached client
    /// left): nothing more is written, and the next batch reports it once.
    fn gone(&mut self, id: u32, outbox: &mut Outbox) {
        self.limits.forget(id);
        outbox.backlogged = false;
        outbox.dropped = true;
        outbox.clear();
        self.unset_fd(outbox);
        self.gone.push(id);
    }

    /// Detaches a direct client (see `detached.rs`): from now on Rust writes to `dup`, a
    /// duplicate of its descriptor that Rust owns, and Node's number is free (Node closes
    /// it next; nothing waits in Node, JS checked). Returns whether JS must run (bytes
    /// wait), or gives `dup` back when the client cannot be detached (not direct).
    pub fn detach(&mut self, id: u32, outbox: &mut Outbox, dup: Fd) -> Result<bool, Fd> {
        if outbox.dropped || outbox.detached || outbox.fd.is_none() {
            return Err(dup);
        }
        if !self.fds.claim(id, &dup) {
            return Err(dup);
        }
        if let Some(node) = outbox.fd.take() {
            self.fds.release(&node);
        }
        outbox.fd = Some(dup);
        outbox.detached = true;
        Ok(self.resume(id, outbox))
    }

    /// A detached client's peer left (or sent bytes after its request): reported as
    /// `gone` in the next batch. True when JS must run.
    pub fn hung_up(&mut self, id: u32, outbox: &mut Outbox) -> bool {
        if !outbox.detached || outbox.dropped {
            return false;
        }
        self.gone(id, outbox);
        true
    }

    /// A detached client's socket has room again: true when it was waiting for that (it
    /// resumes; JS must run to write what waits).
    pub fn writable(&mut self, id: u32, outbox: &mut Outbox) -> bool {
        if !outbox.detached || outbox.dropped || !outbox.paused {
            return false;
        }
        self.resume(id, outbox);
        true
    }

    /// Ends a detached client's stream: what waits for it, then the terminating chunk
    /// (`0\r\n\r\n`), with one write. Nothing is written for it afterwards; the
    /// connection closes when the client is removed (what the socket refused now is lost).
    pub fn finish(&mut self, id: u32, outbox: &mut Outbox) {
        if !outbox.detached || outbox.dropped {
            return;
        }
        self.counters.bytes += outbox.push_wire(b"0\r\n\r\n") as u64;
        if let Some(fd) = outbox.fd.as_ref() {
            let _ = direct::write_all(fd, &outbox.slices());
        }
        self.limits.forget(id);
        outbox.backlogged = false;
        outbox.dropped = true;
        outbox.clear();
    }

    /// From now on this client's bytes are handed to JS as HTTP/1.1 chunks, for its socket.
    pub fn set_framed(outbox: &mut Outbox) {
        outbox.framed = true;
    }

    /// Makes the client direct: Rust writes its turns to `fd` (borrowed from Node). False
    /// when another direct client already writes to that descriptor (the same response
    /// added twice): this one stays with JS.
    pub fn set_direct(&mut self, id: u32, outbox: &mut Outbox, fd: Fd) -> bool {
        if !self.fds.claim(id, &fd) {
            return false;
        }
        outbox.fd = Some(fd);
        true
    }

    /// Records that Rust wrote to a direct client's socket now.
    fn stamp(&mut self, outbox: &Outbox) {
        if let Some(fd) = outbox.fd.as_ref() {
            self.fds.stamp(fd);
        }
    }

    /// For a direct client: milliseconds since Rust last wrote to its socket (or since it
    /// became direct). Node's socket timeout does not see these writes; JS asks this
    /// when that timer fires. `None` for any other client (Node sees its writes).
    pub fn idle_ms(&mut self, outbox: &Outbox) -> Option<u32> {
        self.fds.idle_ms(outbox.fd.as_ref()?)
    }

    /// Node is about to close descriptor `fd`: its direct client (if any) is never
    /// written by Rust again; what it still gets goes to JS framed, where the closed
    /// socket removes it. True if a client was writing to it.
    pub fn forget_fd(&mut self, reg: &mut Registry<Outbox>, fd: i64) -> bool {
        let Some(id) = self.fds.forget(fd) else {
            return false;
        };
        match reg.get_mut(id) {
            Some(outbox) if outbox.fd.is_some() => {
                outbox.fd = None;
                outbox.framed = true;
                true
            }
            _ => false,
        }
    }

    /// A client left the registry: its descriptor is free for another client. A detached
    /// client's descriptor, which Rust owns, is returned: the caller deregisters and
    /// closes it (`detached.rs`).
    #[must_use = "a detached client's descriptor must be closed"]
    pub fn removed(&mut self, id: u32, outbox: &mut Outbox) -> Option<Fd> {
        self.limits.forget(id);
        outbox.backlogged = false;
        if std::mem::take(&mut outbox.detached) {
            let fd = outbox.fd.take()?;
            self.fds.release(&fd);
            return Some(fd);
        }
        self.unset_fd(outbox);
        None
    }

    /// Stops writing to a client's descriptor. A detached client keeps its own until it
    /// is removed (`removed`), when it is closed; `dropped` stops the writes meanwhile.
    fn unset_fd(&mut self, outbox: &mut Outbox) {
        if outbox.detached {
            return;
        }
        if let Some(fd) = outbox.fd.take() {
            self.fds.release(&fd);
        }
    }

    /// Whether this is the thread that may write to borrowed descriptors.
    fn on_js_thread(&self) -> bool {
        std::thread::current().id() == self.js_thread
    }

    /// Stops writing this client's bytes until `resume` (Node holds bytes for its socket).
    pub fn pause(outbox: &mut Outbox) {
        outbox.paused = true;
    }

    /// Pauses, counting `held` bytes that Node holds for the client's socket.
    pub fn pause_holding(outbox: &mut Outbox, held: usize) {
        outbox.paused = true;
        outbox.set_held(held);
    }

    /// The client's socket refused bytes (`held` of them wait in Node): pauses it until
    /// `resume`. At the end of a turn its backlog begins now; mid-turn (a loop piling
    /// up) at the end of the turn, if it still waits then.
    pub fn refused(&mut self, id: u32, outbox: &mut Outbox, held: usize, end_of_turn: bool) {
        Self::pause_holding(outbox, held);
        if outbox.dropped {
            return;
        }
        if end_of_turn {
            self.begin_backlog(id, outbox);
        } else if !outbox.refusing && !outbox.backlogged {
            outbox.refusing = true;
            self.refusing.push(id);
        }
    }

    /// Node has written everything it held for the client (its socket took it). Returns
    /// true when the client has bytes waiting and JS must run.
    pub fn resume(&mut self, id: u32, outbox: &mut Outbox) -> bool {
        outbox.paused = false;
        outbox.set_held(0);
        self.progressed(id, outbox);
        if outbox.queued || outbox.dropped || outbox.len == 0 {
            return false;
        }
        outbox.queued = true;
        self.dirty.push(id);
        true
    }

    /// Takes everything queued for one client, paused or not (before a write or end of
    /// the app's own): HTTP/1.1 chunks for its socket when direct or framed, SSE frames otherwise.
    pub fn take(&mut self, outbox: &mut Outbox) -> Vec<u8> {
        let frames = if outbox.is_direct() || outbox.framed {
            outbox.frame_for_wire()
        } else {
            outbox.len
        };
        self.counters.bytes += frames as u64;
        if outbox.writer == Writer::Handed {
            // Its queue entry is stale now: no writer writes it.
            outbox.writer = Writer::Idle;
            outbox.queued = false;
        }
        outbox.writer = Writer::Idle;
        let mut taken = Vec::with_capacity(outbox.len);
        outbox.copy_out(&mut taken);
        outbox.clear();
        taken
    }

    /// Writes every dirty direct client and collects everything else into one batch, at
    /// the end of a turn.
    pub fn flush(&mut self, reg: &mut Registry<Outbox>) -> Batch {
        self.flush_turn(reg, true)
    }

    /// [`flush`](Self::flush), mid-turn when `end_of_turn` is false (a loop piling up):
    /// a socket refusing then does not start a backlog yet.
    pub fn flush_turn(&mut self, reg: &mut Registry<Outbox>, end_of_turn: bool) -> Batch {
        if end_of_turn {
            for id in std::mem::take(&mut self.refusing) {
                if let Some(outbox) = reg.get_mut(id) {
                    outbox.refusing = false;
                    if outbox.paused && !outbox.dropped && !outbox.backlogged {
                        self.begin_backlog(id, outbox);
                    }
                }
            }
        }
        let mut batch = Batch {
            dropped: std::mem::take(&mut self.dropped),
            ..Batch::default()
        };
        self.urgent = false;
        self.fds.begin_flush();
        let mut dirty = std::mem::take(&mut self.dirty);
        let mut left = Vec::new();
        for id in dirty.drain(..) {
            let Some(outbox) = reg.get_mut(id) else {
                continue;
            };
            if outbox.dropped || outbox.stopped() || outbox.len == 0 {
                outbox.queued = false;
                continue;
            }
            if outbox.is_direct() {
                if outbox.writer == Writer::Refused {
                    // A writer thread's write was refused in part: the rest goes to
                    // Node below, as if this flush had been refused.
                    outbox.writer = Writer::Idle;
                } else if self.threaded {
                    // A writer thread writes it (`write_handed`); it stays queued, so
                    // what comes meanwhile goes out in the same write.
                    if outbox.writer != Writer::Handed {
                        outbox.writer = Writer::Handed;
                        self.to_write.push_back(id);
                    }
                    continue;
                } else {
                    outbox.queued = false;
                    if self.write_direct(id, outbox) || outbox.len == 0 {
                        continue;
                    }
                }
            }
            if batch.data.len() + outbox.len + 64 > u32::MAX as usize {
                // A batch is indexed with u32 offsets: what does not fit waits for the next one.
                left.push(id);
                continue;
            }
            outbox.queued = false;
            if outbox.detached {
                // Nothing to hand to Node: the rest waits here until the reactor sees the
                // socket take bytes again (`writable`).
                self.refused(id, outbox, 0, end_of_turn);
                continue;
            }
            if outbox.is_direct() {
                // The socket refused the rest of the turn: Node writes (at most a step of)
                // it after whatever it holds, and the client waits until Node has written
                // everything (`resume`); the rest waits here.
                let handed = hand_wire(&mut batch, id, outbox, STEP);
                self.refused(id, outbox, handed, end_of_turn);
                continue;
            }
            if outbox.framed {
                // JS writes (at most a step of) it to the socket; when more waits, the
                // client waits until Node has written the step (`resume`). JS reports a
                // refusal (`refused`).
                self.counters.bytes += outbox.frame_for_wire() as u64;
                let handed = hand_wire(&mut batch, id, outbox, STEP);
                if outbox.len > 0 {
                    Self::pause_holding(outbox, handed);
                }
                continue;
            }
            self.counters.bytes += outbox.len as u64;
            hand_over(&mut batch, id, outbox);
        }
        batch.gone = std::mem::take(&mut self.gone);
        // The turn ends here: everything handed so far may be written.
        self.sealed = self.to_write.len();
        self.fds.end_flush();
        self.dirty = left;
        if self.dirty.capacity() == 0 {
            self.dirty = dirty;
        }
        batch
    }
}

#[cfg(test)]
mod tests;
