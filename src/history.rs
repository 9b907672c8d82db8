//! The broadcast history: event ids, the last N broadcasts, and what a reconnecting
//! client (`Last-Event-ID`) must be sent again.
//!
//! An event id is `<ms>-<seq>`, the form of a Redis Stream id: milliseconds since the
//! Unix epoch, then a sequence number within that millisecond. Ids come from a clock
//! that never goes below the newest id it issued or saw (so a process restart, or a
//! clock stepping back, never reuses an id as long as the wall clock moved on). Each
//! kept broadcast holds its whole frame (`id: <event id>\n` and the body) once, shared
//! by every receiver and by every replay.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use crate::registry::Room;

/// `<ms>-<seq>`; ordered as Redis orders stream ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventId {
    pub ms: u64,
    pub seq: u64,
}

impl EventId {
    /// `"<ms>-<seq>"` (both decimal, no sign, no leading `+`); `None` for anything else,
    /// such as the client ids that frames carry without history.
    pub fn parse(text: &str) -> Option<EventId> {
        let (ms, seq) = text.trim().split_once('-')?;
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(EventId {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }

    /// The id that follows this one in the same millisecond.
    pub fn next(self) -> EventId {
        match self.seq.checked_add(1) {
            Some(seq) => EventId { ms: self.ms, seq },
            None => EventId {
                ms: self.ms.saturating_add(1),
                seq: 0,
            },
        }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The whole frame of a broadcast that carries an event id: `id: <id>\n` then `body`.
pub fn frame_with_id(id: EventId, body: &[u8]) -> Arc<[u8]> {
    let head = format!("id: {id}\n");
    let mut frame = Vec::with_capacity(head.len() + body.len());
    frame.extend_from_slice(head.as_bytes());
    frame.extend_from_slice(body);
    Arc::from(frame)
}

/// One kept broadcast.
pub struct Entry {
    pub id: EventId,
    pub room: Room,
    pub frame: Arc<[u8]>,
}

/// Fixed bookkeeping counted per kept entry on top of its frame (the entry, the
/// `Arc` header, the ring slot), for `bytes()`.
pub const ENTRY_OVERHEAD: usize = std::mem::size_of::<Entry>() + 16;

#[derive(Default)]
pub struct History {
    /// Broadcasts kept at most; 0: history is off.
    cap: usize,
    entries: VecDeque<Entry>,
    /// Bytes of the kept frames.
    frame_bytes: usize,
    /// The newest id issued or seen (the clock never goes below it).
    last: EventId,
    /// The newest id that was forgotten (trimmed, or dropped by a smaller cap).
    forgotten: Option<EventId>,
    /// The clock when history was last turned on: what came before is unknown here
    /// (another run of the process, or history off), so a replay from before it is a gap.
    since: EventId,
}

impl History {
    pub fn cap(&self) -> usize {
        self.cap
    }

    pub fn is_on(&self) -> bool {
        self.cap > 0
    }

    /// Keeps at most `cap` broadcasts from now on (0 turns history off and forgets all).
    pub fn set_cap(&mut self, cap: usize) {
        if self.cap == 0 && cap > 0 {
            self.since = self.last.next().max(EventId {
                ms: now_ms(),
                seq: 0,
            });
        }
        self.cap = cap;
        self.trim();
        if cap == 0 {
            self.entries = VecDeque::new();
        }
    }

    /// A fresh id, above every id issued or seen so far.
    pub fn next_id(&mut self) -> EventId {
        let now = now_ms();
        self.last = if now > self.last.ms {
            EventId { ms: now, seq: 0 }
        } else {
            self.last.next()
        };
        self.last
    }

    /// Moves the clock past an id made elsewhere (another process, through Redis).
    pub fn observe(&mut self, id: EventId) {
        self.last = self.last.max(id);
    }

    /// Keeps one broadcast (history must be on), forgetting the oldest past the cap.
    pub fn push(&mut self, id: EventId, room: Room, frame: Arc<[u8]>) {
        self.observe(id);
        if self.cap == 0 {
            return;
        }
        self.frame_bytes += frame.len();
        self.entries.push_back(Entry { id, room, frame });
        self.trim();
    }

    fn trim(&mut self) {
        while self.entries.len() > self.cap {
            if let Some(old) = self.entries.pop_front() {
                self.frame_bytes -= old.frame.len();
                self.forgotten = self.forgotten.max(Some(old.id));
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn oldest(&self) -> Option<EventId> {
        self.entries.front().map(|e| e.id)
    }

    pub fn newest(&self) -> Option<EventId> {
        self.entries.back().map(|e| e.id)
    }

    /// The newest id issued or seen.
    pub fn last(&self) -> EventId {
        self.last
    }

    /// The newest id forgotten, if any.
    pub fn forgotten(&self) -> Option<EventId> {
        self.forgotten
    }

    /// The gap a replay from `after` has: `Some(oldest id kept)` when broadcasts newer
    /// than `after` were forgotten, when `after` is older than this history (history
    /// turned on since, such as a restarted process: it cannot know what it missed), or
    /// when `after` is newer than any id issued or seen (not an id of this history).
    pub fn gap(&self, after: EventId) -> Option<Option<EventId>> {
        let forgotten = self.forgotten.is_some_and(|f| f > after);
        (forgotten || after < self.since || after > self.last).then(|| self.oldest())
    }

    /// The kept broadcasts newer than `after`, oldest first.
    pub fn after(&self, after: EventId) -> impl Iterator<Item = &Entry> {
        let start = self.entries.partition_point(|e| e.id <= after);
        self.entries.range(start..)
    }

    /// Memory held by the kept broadcasts, bookkeeping included (about).
    pub fn bytes(&self) -> usize {
        self.frame_bytes + self.entries.len() * ENTRY_OVERHEAD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> EventId {
        EventId { ms, seq }
    }

    #[test]
    fn ids_parse_print_and_order_like_redis_stream_ids() {
        assert_eq!(
            EventId::parse("1700000000000-3"),
            Some(id(1_700_000_000_000, 3))
        );
        assert_eq!(id(5, 12).to_string(), "5-12");
        for bad in [
            "",
            "2",
            "-",
            "1-",
            "-1",
            "a-1",
            "1-b",
            "+1-2",
            "1-2-3",
            "1 -2",
            "99999999999999999999999-0",
        ] {
            assert_eq!(EventId::parse(bad), None, "{bad}");
        }
        assert!(id(1, 9) < id(2, 0));
        assert!(id(2, 0) < id(2, 1));
        assert_eq!(id(3, u64::MAX).next(), id(4, 0));
    }

    #[test]
    fn the_clock_never_goes_back() {
        let mut h = History::default();
        let a = h.next_id();
        let b = h.next_id();
        assert!(b > a);
        let ahead = id(a.ms + 60_000, 7);
        h.observe(ahead);
        assert_eq!(h.next_id(), id(a.ms + 60_000, 8));
    }

    fn frame(text: &str) -> Arc<[u8]> {
        Arc::from(text.as_bytes())
    }

    #[test]
    fn keeps_what_is_newer_and_knows_what_it_cannot_serve() {
        let mut h = History::default();
        h.set_cap(3);
        let start = h.next_id();
        let all = Room::string("*");
        let ids: Vec<EventId> = (0..4).map(|_| h.next_id()).collect();
        for (i, id) in ids.iter().take(3).enumerate() {
            h.push(*id, all.clone(), frame(&i.to_string()));
        }
        let after: Vec<EventId> = h.after(ids[0]).map(|e| e.id).collect();
        assert_eq!(after, vec![ids[1], ids[2]]);
        assert_eq!(h.gap(start), None, "nothing forgotten, issued here");
        assert_eq!(h.gap(ids[2]), None);
        h.push(ids[3], all.clone(), frame("3"));
        assert_eq!(h.len(), 3);
        assert_eq!(h.gap(start), Some(Some(ids[1])), "ids[0] was forgotten");
        assert_eq!(h.gap(ids[0]), None, "nothing after ids[0] was forgotten");
        assert_eq!(h.bytes(), 3 + 3 * ENTRY_OVERHEAD);
        // From before this history (a restart) or from no history at all: a gap.
        assert_eq!(h.gap(id(1, 0)), Some(Some(ids[1])));
        let future = id(ids[3].ms + 1000, 0);
        assert_eq!(h.gap(future), Some(Some(ids[1])), "never issued here");
        h.set_cap(0);
        assert!(h.is_empty());
        h.set_cap(5);
        assert_eq!(
            h.gap(ids[3]),
            Some(None),
            "turned on again: empty, and knows nothing"
        );
    }
}
