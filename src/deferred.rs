//! Fan-outs deferred off the JavaScript thread: with writer threads running, a
//! `broadcast` or a heartbeat is queued here in O(1) (one entry per call, whatever the
//! number of receivers) and expanded into each receiver's outbox later, under the same
//! state lock: by a writer thread, in parts that give way to the JavaScript thread
//! (`writer.rs`), or by whoever takes the lock next for anything else (`Shared::lock`).
//!
//! Without writer threads (or during a replay) a fan-out is queued here all the same and
//! expanded at once, by the same code (`State::broadcast`, `State::heartbeat`).
//!
//! The result is the one expanding at the call would give: every other use of the
//! state (add, remove, join, leave, send, retry, take, stats…) first expands everything
//! queued here, so the members reached and each client's order of frames are those at
//! the call. Only queueing one more fan-out, and a flush handing over the clients that
//! are already dirty (`drain`), go without. While a `Last-Event-ID` replay is under way
//! nothing is deferred (`Shared::defers`): a replay reads the history, which a deferred
//! broadcast joins only when it is expanded.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::delivery::{Delivery, Outbox};
use crate::frame;
use crate::history::{EventId, History};
use crate::registry::{Registry, Room};

/// How many receivers a writer thread expands before it looks at the JavaScript thread
/// again (about 20 µs).
pub const PART: usize = 256;

/// What each receiver of a fan-out gets.
pub enum Frames {
    /// `id: <its own id>` and this body (history off, as simple-sse does).
    PerClient(Arc<[u8]>),
    /// The same frame for every receiver, kept in the history under its event id.
    Kept { id: EventId, frame: Arc<[u8]> },
    /// The heartbeat comment (for every client).
    Heartbeat,
}

struct FanOut {
    room: Room,
    frames: Frames,
    /// The lowest client id not reached yet.
    from: u32,
    /// Whether its expansion has begun (a kept broadcast joins the history then).
    begun: bool,
}

/// The fan-outs queued and not expanded yet, oldest first.
#[derive(Default)]
pub struct Deferred {
    queue: VecDeque<FanOut>,
}

impl Deferred {
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues one fan-out to `room` (`"*"`: every client).
    pub fn push(&mut self, room: Room, frames: Frames) {
        self.queue.push_back(FanOut {
            room,
            frames,
            from: 0,
            begun: false,
        });
    }

    /// Expands queued fan-outs, oldest first, for at most `budget` receivers. Returns
    /// whether some are left.
    pub fn expand(
        &mut self,
        reg: &mut Registry<Outbox>,
        out: &mut Delivery,
        history: &mut History,
        mut budget: usize,
    ) -> bool {
        while budget > 0 {
            let Some(fan) = self.queue.front_mut() else {
                return false;
            };
            if !fan.begun {
                fan.begun = true;
                if let Frames::Kept { id, frame } = &fan.frames {
                    history.push(*id, fan.room.clone(), Arc::clone(frame));
                }
            }
            let mut reached = 0;
            let next = reg.for_each_in_from(&fan.room, fan.from, budget, |id, outbox| {
                reached += 1;
                match &fan.frames {
                    Frames::PerClient(body) => {
                        out.push_body(id, outbox, body);
                    }
                    // A client catching up on a replay gets it from its cursor.
                    Frames::Kept { frame, .. } if !outbox.replaying => {
                        out.push_shared(id, outbox, frame);
                    }
                    Frames::Kept { .. } => {}
                    Frames::Heartbeat => {
                        out.push(id, outbox, frame::HEARTBEAT.len(), |buf| {
                            buf.extend_from_slice(frame::HEARTBEAT)
                        });
                    }
                }
            });
            budget = budget.saturating_sub(reached.max(1));
            match next {
                Some(from) => fan.from = from,
                None => {
                    self.queue.pop_front();
                }
            }
        }
        !self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::NO_BODY;

    fn clients(n: usize) -> (Registry<Outbox>, Delivery, History) {
        let mut reg = Registry::default();
        for _ in 0..n {
            reg.add(Outbox::default()).expect("id");
        }
        (reg, Delivery::default(), History::default())
    }

    /// Each client's bytes from one flush, in client order.
    fn flushed(reg: &mut Registry<Outbox>, out: &mut Delivery) -> Vec<(u32, String)> {
        let batch = out.flush(reg);
        let mut start = 0;
        let mut got: Vec<(u32, String)> = batch
            .index
            .chunks(4)
            .map(|part| {
                assert_eq!(part[2], NO_BODY);
                let end = part[1] as usize;
                let text = String::from_utf8(batch.data[start..end].to_vec()).expect("utf-8");
                start = end;
                (part[0], text)
            })
            .collect();
        got.sort();
        got
    }

    #[test]
    fn parts_reach_every_member_once_in_order_whatever_the_budget() {
        for budget in [1, 2, 3, 7, 1000] {
            let (mut reg, mut out, mut history) = clients(10);
            for id in [1, 4, 5, 9] {
                reg.join(id, Room::string("r")).expect("client");
            }
            let mut d = Deferred::default();
            d.push(
                Room::string("r"),
                Frames::PerClient(Arc::from(&b"data: a\n\n"[..])),
            );
            d.push(Room::string("*"), Frames::Heartbeat);
            d.push(
                Room::string("r"),
                Frames::PerClient(Arc::from(&b"data: b\n\n"[..])),
            );
            let mut parts = 0;
            while d.expand(&mut reg, &mut out, &mut history, budget) {
                parts += 1;
            }
            assert!(d.is_empty());
            assert!(budget > 20 || parts > 0, "budget {budget}: in parts");
            let got = flushed(&mut reg, &mut out);
            assert_eq!(got.len(), 10, "budget {budget}");
            for (id, text) in got {
                let beat = std::str::from_utf8(frame::HEARTBEAT).expect("utf-8");
                let want = if [1, 4, 5, 9].contains(&id) {
                    format!("id: {id}\ndata: a\n\n{beat}id: {id}\ndata: b\n\n")
                } else {
                    beat.to_owned()
                };
                assert_eq!(text, want, "client {id}, budget {budget}");
            }
        }
    }

    #[test]
    fn a_kept_broadcast_joins_the_history_when_its_expansion_begins() {
        let (mut reg, mut out, mut history) = clients(3);
        history.set_cap(10);
        let id = history.next_id();
        let frame: Arc<[u8]> = Arc::from(format!("id: {id}\ndata: k\n\n").as_bytes());
        let mut d = Deferred::default();
        d.push(
            Room::string("*"),
            Frames::Kept {
                id,
                frame: Arc::clone(&frame),
            },
        );
        assert_eq!(history.newest(), None, "not before it is expanded");
        assert!(d.expand(&mut reg, &mut out, &mut history, 1));
        assert_eq!(history.newest(), Some(id));
        assert_eq!(history.len(), 1);
        assert!(!d.expand(&mut reg, &mut out, &mut history, usize::MAX));
        assert_eq!(history.len(), 1, "kept once");
        let want = String::from_utf8(frame.to_vec()).expect("utf-8");
        assert_eq!(
            flushed(&mut reg, &mut out),
            vec![(0, want.clone()), (1, want.clone()), (2, want)]
        );
    }

    #[test]
    fn a_room_emptied_or_unknown_ends_its_fan_out() {
        let (mut reg, mut out, mut history) = clients(2);
        let mut d = Deferred::default();
        d.push(Room::string("nobody"), Frames::Heartbeat);
        assert!(!d.expand(&mut reg, &mut out, &mut history, 5));
        assert!(out.flush(&mut reg).is_empty());
    }
}
