//! `Last-Event-ID` replays: a cursor per reconnecting client into the broadcast history
//! (or, with a Redis Stream, into pages of the stream), moved only as the client's
//! socket takes bytes, so a replay holds at most one [`STEP`] per client whatever the
//! history's size; and the `'gap'` reports of what the history could not serve.
//!
//! From `add` until its cursor reaches the newest broadcast, a replaying client is
//! skipped by live broadcasts (`State::broadcast_as`): the cursor brings them, in id
//! order, each once. Its window (see `lib/replay.js`) ends with `start`; until then
//! the cursor waits, so rooms joined meanwhile are replayed too. What else the client
//! is sent (`send`, `setRetry`, heartbeats) goes out at once, as usual.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::delivery::{Delivery, Outbox};
use crate::history::{EventId, History};
use crate::registry::{Registry, Room};

/// Bytes of replayed frames queued per client per step: what the next step waits for
/// the socket to take (the rest of a step a socket refused waits in Node or Rust).
pub const STEP: usize = 64 * 1024;

/// Stream entries fetched from Redis per page (see `redis/stream.rs`).
pub const PAGE: usize = 128;

/// One entry of a Redis Stream page: its id, then its room and whole frame (none when
/// it is not a valid broadcast: it still moves the cursor).
pub type PageEntry = (EventId, Option<(Room, Arc<[u8]>)>);

/// Where a cursor reads.
pub enum Source {
    /// The local history.
    Local,
    /// Pages of the Redis Stream, until one is the last (then the local history).
    Stream {
        page: VecDeque<PageEntry>,
        /// A page was asked for and has not arrived.
        fetching: bool,
        /// The page is the stream's last: once it is used, the local history follows.
        last: bool,
        /// No page came yet (the first one checks the stream for a gap).
        first: bool,
    },
}

/// A client's place in its replay.
pub struct Cursor {
    /// The last id examined (sent, or not for its rooms); first its `Last-Event-ID`.
    pub after: EventId,
    /// The `Last-Event-ID` as the client sent it (for the first `'gap'`).
    pub sent: Box<str>,
    /// Its window ended: the cursor moves.
    pub started: bool,
    /// In `Replays::ready`.
    pub ready: bool,
    pub source: Source,
}

/// A `'gap'` to report: the client, the last id it has, the oldest id kept.
pub struct Gap {
    pub client: u32,
    pub last: String,
    pub oldest: Option<EventId>,
}

/// Replays in progress, shared by every client (in `State`).
#[derive(Default)]
pub struct Replays {
    /// Each replaying client's cursor (its outbox says `replaying`).
    cursors: HashMap<u32, Cursor>,
    /// Clients whose cursor may move at the next flush.
    ready: Vec<u32>,
    /// Gaps not yet reported to JS.
    gaps: Vec<Gap>,
    /// Stream pages to fetch: (client, after, first page).
    fetch: Vec<(u32, EventId, bool)>,
}

impl Replays {
    /// Gives a freshly added client a cursor from `last`: it is held from live
    /// broadcasts until it has caught up. Stream mode reads Redis first.
    pub fn hold(&mut self, id: u32, outbox: &mut Outbox, after: EventId, sent: &str, stream: bool) {
        outbox.replaying = true;
        self.cursors.insert(
            id,
            Cursor {
                after,
                sent: sent.into(),
                started: false,
                ready: false,
                source: if stream {
                    Source::Stream {
                        page: VecDeque::new(),
                        fetching: false,
                        last: false,
                        first: true,
                    }
                } else {
                    Source::Local
                },
            },
        );
    }

    /// A client left: its cursor goes too.
    pub fn removed(&mut self, id: u32) {
        self.cursors.remove(&id);
    }

    /// Clients whose replay is not done.
    pub fn len(&self) -> usize {
        self.cursors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cursors.is_empty()
    }

    /// The client's window ended: its cursor starts moving. A local replay the history
    /// cannot serve reports its gap now. True when JS must run.
    pub fn start(&mut self, id: u32, history: &History) -> bool {
        let Some(mut cursor) = self.cursors.remove(&id) else {
            return false;
        };
        if !cursor.started {
            cursor.started = true;
            if matches!(cursor.source, Source::Local) {
                self.local_gap(id, &mut cursor, history);
            }
        }
        self.cursors.insert(id, cursor);
        self.make_ready(id)
    }

    /// Reports the gap a replay from the local history has from the cursor's
    /// `Last-Event-ID` (see `History::gap`), and moves the cursor past what was forgotten.
    fn local_gap(&mut self, id: u32, cursor: &mut Cursor, history: &History) {
        if let Some(oldest) = history.gap(cursor.after) {
            self.gaps.push(Gap {
                client: id,
                last: cursor.sent.to_string(),
                oldest,
            });
            if let Some(forgotten) = history.forgotten() {
                cursor.after = cursor.after.max(forgotten);
            }
        }
    }

    /// Puts a client with a started cursor on the ready list; true when it was not.
    pub fn make_ready(&mut self, id: u32) -> bool {
        match self.cursors.get_mut(&id) {
            Some(cursor) if cursor.started && !cursor.ready => {
                cursor.ready = true;
                self.ready.push(id);
                true
            }
            _ => false,
        }
    }

    /// Before a flush: every ready client not held back by its socket gets its next
    /// step of frames queued. Returns the clients that moved (for `after_flush`).
    pub fn fill(
        &mut self,
        reg: &mut Registry<Outbox>,
        out: &mut Delivery,
        history: &History,
    ) -> Vec<u32> {
        let ready = std::mem::take(&mut self.ready);
        let mut moved = Vec::new();
        for id in ready {
            let Some(cursor) = self.cursors.get_mut(&id) else {
                continue;
            };
            cursor.ready = false;
            let Some(outbox) = reg.get_mut(id) else {
                continue;
            };
            if outbox.is_stopped() {
                // Its socket refused bytes: `resume` makes it ready again.
                continue;
            }
            self.step(id, reg, out, history);
            moved.push(id);
        }
        moved
    }

    /// After the flush that followed `fill`: the clients that moved and can go on are
    /// ready again (their socket took the step). True when JS must run again.
    /// A client handed to the writer threads goes on when a writer has written its step
    /// (`written`).
    pub fn after_flush(&mut self, reg: &mut Registry<Outbox>, moved: Vec<u32>) -> bool {
        let mut again = !self.gaps.is_empty();
        for id in moved {
            let Some(outbox) = reg.get_mut(id) else {
                continue;
            };
            if !outbox.is_handed() {
                again |= self.go_on(id, outbox);
            }
        }
        again
    }

    /// A writer thread wrote what was queued for a client: a replay goes on if its
    /// socket took it all. True when JS must run.
    pub fn written(&mut self, id: u32, outbox: &Outbox) -> bool {
        if !outbox.replaying || outbox.pending() > 0 || outbox.is_handed() {
            return false;
        }
        self.go_on(id, outbox)
    }

    /// Makes a client that moved ready again, unless its socket refused or it waits
    /// for a page from Redis.
    fn go_on(&mut self, id: u32, outbox: &Outbox) -> bool {
        let waiting = match self.cursors.get(&id) {
            None => return false,
            Some(cursor) => matches!(
                &cursor.source,
                Source::Stream { fetching: true, page, .. } if page.is_empty()
            ),
        };
        !waiting && !outbox.is_stopped() && self.make_ready(id)
    }

    /// Queues one step of a client's replay; ends the cursor when it caught up.
    fn step(&mut self, id: u32, reg: &mut Registry<Outbox>, out: &mut Delivery, history: &History) {
        let mut frames: Vec<Arc<[u8]>> = Vec::new();
        let mut bytes = 0;
        let Some(mut cursor) = self.cursors.remove(&id) else {
            return;
        };
        let done = {
            let Some(rooms) = reg.rooms_of(id) else {
                return;
            };
            let member = |room: &Room| room.is_all() || rooms.contains(room);
            self.collect(id, &mut cursor, &member, history, &mut frames, &mut bytes)
        };
        let Some(outbox) = reg.get_mut(id) else {
            return;
        };
        for frame in &frames {
            out.push_shared(id, outbox, frame);
        }
        if done {
            outbox.replaying = false;
        } else {
            self.cursors.insert(id, cursor);
        }
    }

    /// Gathers up to [`STEP`] bytes of frames for `cursor`; true when it caught up.
    fn collect(
        &mut self,
        id: u32,
        cursor: &mut Cursor,
        member: &dyn Fn(&Room) -> bool,
        history: &History,
        frames: &mut Vec<Arc<[u8]>>,
        bytes: &mut usize,
    ) -> bool {
        if let Source::Stream {
            page,
            fetching,
            last,
            first,
        } = &mut cursor.source
        {
            while let Some((eid, entry)) = page.pop_front() {
                if eid <= cursor.after {
                    continue;
                }
                cursor.after = eid;
                let Some((room, frame)) = entry else {
                    continue;
                };
                if member(&room) {
                    *bytes += frame.len();
                    frames.push(frame);
                    if *bytes >= STEP {
                        break;
                    }
                }
            }
            // Half a page left: the next one is fetched meanwhile (at most 1.5 pages held).
            if !*fetching && !*last && page.len() < PAGE / 2 {
                let from = page.back().map_or(cursor.after, |(id, _)| *id);
                *fetching = true;
                self.fetch.push((id, from, *first));
                *first = false;
            }
            if *fetching || !page.is_empty() {
                return false;
            }
            // The local history has everything after the stream's end at the last page,
            // unless it already forgot some of it: then ask Redis again.
            let local_has_it = history.forgotten().is_none_or(|f| f <= cursor.after);
            if !local_has_it {
                *fetching = true;
                self.fetch.push((id, cursor.after, *first));
                *first = false;
                return false;
            }
            cursor.source = Source::Local;
        }
        if !history.is_on() {
            return true;
        }
        if history.forgotten().is_some_and(|f| f > cursor.after) {
            // Trimming passed the cursor while the client was not reading.
            self.gaps.push(Gap {
                client: id,
                last: cursor.after.to_string(),
                oldest: history.oldest(),
            });
        }
        for entry in history.after(cursor.after) {
            cursor.after = entry.id;
            if member(&entry.room) {
                *bytes += entry.frame.len();
                frames.push(Arc::clone(&entry.frame));
                if *bytes >= STEP {
                    return history.newest() == Some(entry.id);
                }
            }
        }
        true
    }

    /// A stream page arrived for a client (None: Redis could not answer, so the local
    /// history serves it, gap included). `gap`: the first page found entries trimmed.
    pub fn page_arrived(
        &mut self,
        id: u32,
        history: &History,
        entries: Option<Vec<PageEntry>>,
        gap: Option<Option<EventId>>,
    ) -> bool {
        let Some(mut cursor) = self.cursors.remove(&id) else {
            return false;
        };
        if let Some(oldest) = gap {
            self.gaps.push(Gap {
                client: id,
                last: cursor.sent.to_string(),
                oldest,
            });
        }
        match entries {
            // Redis has nothing after the cursor: the local history goes on from it (and
            // reports a gap if it forgot what came after).
            Some(entries) if entries.is_empty() => {
                if let Source::Stream { page, .. } = &mut cursor.source {
                    if page.is_empty() {
                        cursor.source = Source::Local;
                    } else if let Source::Stream { fetching, last, .. } = &mut cursor.source {
                        *fetching = false;
                        *last = true;
                    }
                }
            }
            Some(entries) => {
                if let Source::Stream {
                    page,
                    fetching,
                    last,
                    ..
                } = &mut cursor.source
                {
                    *last = entries.len() < PAGE;
                    *fetching = false;
                    page.extend(entries);
                }
            }
            None => {
                cursor.source = Source::Local;
                self.local_gap(id, &mut cursor, history);
            }
        }
        self.cursors.insert(id, cursor);
        self.make_ready(id) || !self.gaps.is_empty()
    }

    /// Gaps found since the last call.
    pub fn take_gaps(&mut self) -> Vec<Gap> {
        std::mem::take(&mut self.gaps)
    }

    /// Stream pages to fetch since the last call: (client, after, first page).
    pub fn take_fetches(&mut self) -> Vec<(u32, EventId, bool)> {
        std::mem::take(&mut self.fetch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::NO_BODY;
    use crate::history::frame_with_id;
    use crate::state::State;

    fn id(ms: u64, seq: u64) -> EventId {
        EventId { ms, seq }
    }

    /// Every byte of a batch for one client (no shared bodies: frames are small here).
    fn bytes(batch: &crate::delivery::Batch) -> String {
        assert!(batch.index.chunks(4).all(|part| part[2] == NO_BODY));
        String::from_utf8(batch.data.clone()).expect("utf-8")
    }

    fn page(from: u64, n: u64, room: &Room) -> Vec<PageEntry> {
        (from..from + n)
            .map(|ms| {
                let body = format!("data: {}\n\n", "s".repeat(1000));
                (
                    id(ms, 0),
                    Some((room.clone(), frame_with_id(id(ms, 0), body.as_bytes()))),
                )
            })
            .collect()
    }

    #[test]
    fn a_stream_replay_reads_pages_as_it_goes_then_the_local_history() {
        let mut st = State::default();
        st.history.set_cap(100);
        let all = Room::string("*");
        let c = st.reg.add(Outbox::default()).expect("id");
        let State { reg, replays, .. } = &mut st;
        replays.hold(c, reg.get_mut(c).expect("client"), id(0, 1), "0-1", true);
        assert!(st.flush(true).0.is_empty(), "the window: nothing yet");
        assert!(
            st.replays.take_fetches().is_empty(),
            "no page before the window ends"
        );
        let State {
            replays, history, ..
        } = &mut st;
        assert!(replays.start(c, history));
        let (batch, again) = st.flush(true);
        assert!(batch.is_empty() && !again, "waiting for the first page");
        assert_eq!(st.replays.take_fetches(), vec![(c, id(0, 1), true)]);
        // A full page: one step of it goes, the next page is asked for half-way.
        let State {
            replays, history, ..
        } = &mut st;
        assert!(replays.page_arrived(c, history, Some(page(1, PAGE as u64, &all)), None));
        let (batch, again) = st.flush(true);
        let sent = bytes(&batch).matches("id: ").count();
        assert!(sent > 0 && sent < PAGE, "one step: {sent}");
        assert!(again, "the page goes on");
        let fetches = st.replays.take_fetches();
        assert_eq!(
            fetches,
            vec![(c, id(PAGE as u64, 0), false)],
            "from the page's end"
        );
        // A live broadcast meanwhile waits in the local history; the last page is short.
        let live = st.history.next_id();
        let live = id(live.ms.max(10_000), 0);
        st.broadcast_as(live, &all, b"data: live\n\n");
        let State {
            replays, history, ..
        } = &mut st;
        replays.page_arrived(c, history, Some(page(PAGE as u64 + 1, 3, &all)), None);
        let mut text = bytes(&batch);
        loop {
            let (batch, again) = st.flush(true);
            text.push_str(&bytes(&batch));
            if !again {
                break;
            }
        }
        let ids: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("id: "))
            .collect();
        assert_eq!(ids.len(), PAGE + 3 + 1, "each once");
        assert_eq!(
            ids.last(),
            Some(&live.to_string().as_str()),
            "the live one last"
        );
        assert!(!st.reg.get_mut(c).expect("client").replaying, "caught up");
        assert!(st.replays.take_fetches().is_empty());
        assert!(st.replays.take_gaps().is_empty());
    }

    #[test]
    fn redis_that_cannot_answer_leaves_the_local_history_to_serve_it_with_its_gap() {
        let mut st = State::default();
        st.history.set_cap(100);
        let c = st.reg.add(Outbox::default()).expect("id");
        let State { reg, replays, .. } = &mut st;
        replays.hold(c, reg.get_mut(c).expect("client"), id(5, 0), "5-0", true);
        let State {
            replays, history, ..
        } = &mut st;
        replays.start(c, history);
        st.flush(true);
        assert_eq!(st.replays.take_fetches().len(), 1);
        let State {
            replays, history, ..
        } = &mut st;
        assert!(replays.page_arrived(c, history, None, None));
        st.flush(true);
        let gaps = st.replays.take_gaps();
        assert_eq!(gaps.len(), 1, "5-0 is older than this history");
        assert_eq!(
            (gaps[0].client, gaps[0].last.as_str(), gaps[0].oldest),
            (c, "5-0", None)
        );
        assert!(st.replays.is_empty(), "an empty history: caught up");
    }
}
