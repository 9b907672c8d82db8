//! The slow-reader rule: when a client whose socket refused bytes is dropped, judged by
//! what piles up behind what its socket refused and by whether its socket takes anything.
//!
//! Every path that holds bytes for a reader asks this module (the direct and framed paths
//! and `res.write` today; Fetch API streams and writer threads reuse it). It knows only
//! numbers: how many bytes wait for a client, and when its socket last took some. Time
//! comes from a [`Clock`], which tests set by hand (they never sleep).
//!
//! The rule (documented in docs/guarantees.md, "Slow readers and the pending-bytes limit"):
//!
//! - What one turn of the event loop queues is never judged. A client becomes *backlogged*
//!   when its socket still refuses bytes at the end of a turn; the bytes waiting for it
//!   then (the burst that did not fit) are where its backlog starts.
//! - **Hard limit** (`max_pending`, default 1 MiB): a backlogged client is dropped as soon
//!   as what waits for it exceeds, by more than `max_pending`, the least that waited for it
//!   since its backlog began (the low-water mark, which falls as its socket takes bytes).
//!   So a burst in front of a reader never counts; what piles up behind it does, net of
//!   what the reader took meanwhile.
//! - **Stall limit** ([`STALL_MS`], 60 s): a backlogged client whose socket has taken
//!   nothing for that long is dropped when the next frame is queued for it (a heartbeat
//!   counts), whatever the size of its backlog.
//! - A client whose socket has taken everything is no longer backlogged.
//!
//! Progress is what the socket took: each time the caller reports it ([`Limits::progress`])
//! with the bytes still waiting. Bytes are handed to Node in steps of at most [`STEP`] so
//! that progress is seen at least that often; on a full socket, Node writes again only
//! once the kernel has freed about a third of its send buffer (Linux), so a reader is
//! seen taking bytes every max(256 KiB, a third of its send buffer) it takes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Default hard limit: bytes that may pile up behind a backlogged client's low-water mark.
pub const DEFAULT_MAX_PENDING: usize = 1024 * 1024;

/// A backlogged client whose socket takes nothing for this long is dropped (ms).
pub const STALL_MS: u64 = 60_000;

/// The most bytes handed to Node at once for a client that waits for its socket: Rust
/// learns the socket's progress at least every `STEP` bytes.
pub const STEP: usize = 256 * 1024;

/// Milliseconds from an arbitrary origin, never going backwards.
#[derive(Clone)]
pub enum Clock {
    /// The monotonic system clock.
    System(Instant),
    /// A clock that only moves when a test moves it.
    Manual(Arc<AtomicU64>),
}

impl Default for Clock {
    fn default() -> Self {
        Clock::System(Instant::now())
    }
}

impl Clock {
    /// A clock at 0 ms and the handle that moves it.
    pub fn manual() -> (Clock, Arc<AtomicU64>) {
        let ms = Arc::new(AtomicU64::new(0));
        (Clock::Manual(Arc::clone(&ms)), ms)
    }

    pub fn now_ms(&self) -> u64 {
        match self {
            Clock::System(origin) => origin.elapsed().as_millis() as u64,
            Clock::Manual(ms) => ms.load(Ordering::Acquire),
        }
    }
}

/// One backlogged client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Backlog {
    /// The least that waited for the client since its backlog began.
    low: usize,
    /// When its socket last took bytes (or the backlog began).
    progress_at: u64,
}

/// Why a client is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Over {
    /// More than `max_pending` piled up behind its low-water mark.
    Bytes,
    /// Its socket took nothing for [`STALL_MS`].
    Stalled,
}

/// The limits and every backlogged client (only those: an idle client costs nothing here).
pub struct Limits {
    max_pending: usize,
    stall_ms: u64,
    clock: Clock,
    backlogs: HashMap<u32, Backlog>,
}

impl Default for Limits {
    /// The system clock, and the stall limit from `SIMPLE_SSE_RS_STALL_MS` when set (a
    /// test-only switch, read once when the package loads), else [`STALL_MS`].
    fn default() -> Self {
        let mut limits = Limits::with_clock(Clock::default());
        if let Some(ms) = std::env::var("SIMPLE_SSE_RS_STALL_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
        {
            limits.stall_ms = ms;
        }
        limits
    }
}

impl Limits {
    pub fn with_clock(clock: Clock) -> Self {
        Limits {
            max_pending: DEFAULT_MAX_PENDING,
            stall_ms: STALL_MS,
            clock,
            backlogs: HashMap::new(),
        }
    }

    pub fn max_pending(&self) -> usize {
        self.max_pending
    }

    pub fn set_max_pending(&mut self, bytes: usize) {
        self.max_pending = bytes;
    }

    /// Whether `id` is backlogged (judged).
    pub fn is_backlogged(&self, id: u32) -> bool {
        self.backlogs.contains_key(&id)
    }

    /// The end of a turn found `id`'s socket refusing, with `waiting` bytes waiting for it
    /// (in Rust and in Node): its backlog begins, unless it already had one.
    pub fn begin(&mut self, id: u32, waiting: usize) {
        let now = self.clock.now_ms();
        self.backlogs.entry(id).or_insert(Backlog {
            low: waiting,
            progress_at: now,
        });
    }

    /// `id`'s socket took bytes; `waiting` still wait. False when it no longer has a
    /// backlog (nothing waits, or it had none).
    pub fn progress(&mut self, id: u32, waiting: usize) -> bool {
        if waiting == 0 {
            self.backlogs.remove(&id);
            return false;
        }
        let now = self.clock.now_ms();
        match self.backlogs.get_mut(&id) {
            Some(b) => {
                b.low = b.low.min(waiting);
                b.progress_at = now;
                true
            }
            None => false,
        }
    }

    /// Whether `id` must be dropped once `waiting` bytes wait for it (a frame about to be
    /// queued included). Never for a client that is not backlogged.
    pub fn judge(&self, id: u32, waiting: usize) -> Option<Over> {
        let b = self.backlogs.get(&id)?;
        if waiting.saturating_sub(b.low) > self.max_pending {
            return Some(Over::Bytes);
        }
        if self.clock.now_ms().saturating_sub(b.progress_at) >= self.stall_ms {
            return Some(Over::Stalled);
        }
        None
    }

    /// `id` left (dropped, removed, or caught up).
    pub fn forget(&mut self, id: u32) {
        self.backlogs.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manual() -> (Limits, Arc<AtomicU64>) {
        let (clock, ms) = Clock::manual();
        (Limits::with_clock(clock), ms)
    }

    const MIB: usize = 1024 * 1024;

    #[test]
    fn nothing_is_judged_before_a_backlog_begins() {
        let (limits, ms) = manual();
        ms.store(10 * STALL_MS, Ordering::Release);
        assert_eq!(limits.judge(1, usize::MAX), None);
        assert!(!limits.is_backlogged(1));
    }

    #[test]
    fn a_burst_in_front_never_counts_what_piles_up_behind_it_does() {
        let (mut limits, _) = manual();
        // 16 MiB waited when the turn ended.
        limits.begin(1, 16 * MIB);
        assert_eq!(
            limits.judge(1, 16 * MIB + MIB),
            None,
            "exactly the limit: kept"
        );
        assert_eq!(limits.judge(1, 16 * MIB + MIB + 1), Some(Over::Bytes));
        // A second begin (still refusing) keeps the first mark.
        limits.begin(1, 17 * MIB);
        assert_eq!(limits.judge(1, 16 * MIB + MIB + 1), Some(Over::Bytes));
    }

    #[test]
    fn progress_lowers_the_mark_so_a_draining_reader_is_never_dropped() {
        // The case: 8 MB in front, a reader taking 64 KiB every 50 ms, a small
        // event every 20 ms. Nothing ever piles up past 1 MiB above what it has left.
        let (mut limits, ms) = manual();
        let mut waiting = 8_000_000usize;
        limits.begin(1, waiting);
        for tick in 1..=1000u64 {
            ms.store(tick * 10, Ordering::Release);
            if tick % 2 == 0 {
                waiting += 60; // a small event
                assert_eq!(limits.judge(1, waiting), None, "at {} ms", tick * 10);
            }
            if tick % 5 == 0 {
                waiting = waiting.saturating_sub(64 * 1024);
                if !limits.progress(1, waiting) {
                    break;
                }
            }
        }
        assert_eq!(waiting, 0, "drained");
        assert!(!limits.is_backlogged(1), "caught up: no longer judged");
    }

    #[test]
    fn a_reader_that_stops_is_dropped_by_bytes_or_by_time() {
        let (mut limits, ms) = manual();
        limits.begin(1, 8 * MIB);
        limits.begin(2, 8 * MIB);
        // Client 1 gets a steady stream: the bytes limit takes it, memory bounded.
        let mut waiting = 8 * MIB;
        let mut dropped_at = None;
        for i in 0..10_000 {
            waiting += 16 * 1024;
            if limits.judge(1, waiting).is_some() {
                dropped_at = Some(i);
                break;
            }
        }
        assert_eq!(dropped_at, Some(64), "1 MiB / 16 KiB = 64 more frames kept");
        // Client 2 gets a heartbeat now and then: the stall limit takes it.
        ms.store(STALL_MS - 1, Ordering::Release);
        assert_eq!(limits.judge(2, 8 * MIB + 20), None);
        ms.store(STALL_MS, Ordering::Release);
        assert_eq!(limits.judge(2, 8 * MIB + 20), Some(Over::Stalled));
    }

    #[test]
    fn progress_resets_the_stall_clock() {
        let (mut limits, ms) = manual();
        limits.begin(1, MIB);
        ms.store(STALL_MS - 1, Ordering::Release);
        assert!(limits.progress(1, MIB / 2));
        ms.store(2 * STALL_MS - 2, Ordering::Release);
        assert_eq!(limits.judge(1, MIB), None);
        ms.store(2 * STALL_MS - 1, Ordering::Release);
        assert_eq!(limits.judge(1, MIB), Some(Over::Stalled));
    }

    #[test]
    fn a_reader_slower_than_the_sender_is_dropped_once_the_pile_grows_past_the_limit() {
        // It takes 10 KiB per step while 30 KiB are queued: it makes progress, but the
        // pile behind its low-water mark grows, and memory must stay bounded.
        let (mut limits, ms) = manual();
        let mut waiting = 100 * 1024;
        limits.begin(1, waiting);
        let mut steps = 0;
        loop {
            steps += 1;
            ms.store(steps * 10, Ordering::Release);
            waiting += 30 * 1024;
            if limits.judge(1, waiting).is_some() {
                break;
            }
            waiting -= 10 * 1024;
            limits.progress(1, waiting);
            assert!(steps < 1000);
        }
        assert!(waiting <= 100 * 1024 + MIB + 30 * 1024, "{waiting}");
    }

    #[test]
    fn forget_and_caught_up_end_the_backlog() {
        let (mut limits, ms) = manual();
        limits.begin(1, 10);
        limits.forget(1);
        ms.store(STALL_MS, Ordering::Release);
        assert_eq!(limits.judge(1, usize::MAX), None);
        limits.begin(2, 10);
        assert!(!limits.progress(2, 0));
        assert!(!limits.is_backlogged(2));
        assert!(!limits.progress(3, 5), "no backlog: nothing to record");
    }

    #[test]
    fn the_system_clock_moves_forward() {
        let clock = Clock::default();
        let a = clock.now_ms();
        assert!(clock.now_ms() >= a);
    }
}
