//! Pulled clients (Fetch API responses, `lib/fetch.js`): their frames wait in the
//! outbox, unframed, until the response body's stream pulls them.
//!
//! A pulled client waits for a pull (`wait_for_pull`) whenever its stream has not asked
//! for more: it is paused and backlogged, so the slow-reader rule (`limits.rs`) judges
//! what piles up exactly as behind what a socket refused (passing `maxPendingBytes`, or a
//! stream that takes nothing for the stall limit, drops the client with `'drop'`). `pull` takes what
//! waits, or, when nothing does, lets the next frame wake JS, which hands it to the
//! stream from the batch and makes the client wait for a pull again. No HTTP chunk
//! framing: the runtime frames the body.

use napi::bindgen_prelude::Buffer;
use napi::Env;
use napi_derive::napi;

use crate::delivery::{Delivery, Outbox};
use crate::hub::Hub;
use crate::state::State;

/// What a pull found.
#[derive(Debug, PartialEq, Eq)]
pub enum Pulled {
    /// The bytes that waited; the client stays paused until the next pull.
    Bytes(Vec<u8>),
    /// Nothing to take now: the client is no longer paused, so the next frame wakes JS
    /// (`wake`: it already has frames, held for its replay until now or released).
    Waiting { wake: bool },
}

/// The client's stream has what it asked for: its next frames wait, and the slow-reader
/// rule (`limits.rs`) judges what piles up until the next pull (its backlog starts here).
pub fn wait_for_pull(out: &mut Delivery, id: u32, outbox: &mut Outbox) {
    out.refused(id, outbox, 0, true);
}

/// Takes a pulled client's waiting bytes, or un-pauses it when there are none (a
/// `Last-Event-ID` replay then queues its next step: see `replay.rs`).
pub fn pull(out: &mut Delivery, id: u32, outbox: &mut Outbox) -> Pulled {
    if outbox.pending() > 0 {
        let bytes = out.take(outbox);
        // The stream took everything: what comes next waits for the next pull.
        wait_for_pull(out, id, outbox);
        return Pulled::Bytes(bytes);
    }
    Pulled::Waiting {
        wake: out.resume(id, outbox),
    }
}

#[napi]
impl Hub {
    /// A pulled client's frames wait until its stream's next `pull` (see `pull.rs`): on
    /// `add(request)`, and each time JS hands its stream the frames of a batch.
    #[napi(catch_unwind)]
    pub fn wait_for_pull(&self, id: u32) {
        let mut st = self.shared.lock();
        let State { reg, out, .. } = &mut *st;
        if let Some(outbox) = reg.get_mut(id) {
            wait_for_pull(out, id, outbox);
        }
    }

    /// The stream of a pulled client wants more: what waits for it, or null (then its
    /// next frames come in a batch, after which JS pauses it again).
    #[napi(catch_unwind)]
    pub fn pull(&self, env: Env, id: u32) -> Option<Buffer> {
        let pulled = {
            let mut st = self.shared.lock();
            let State {
                reg, out, replays, ..
            } = &mut *st;
            match pull(out, id, reg.get_mut(id)?) {
                // Un-paused: a replay moves on by one step.
                Pulled::Waiting { wake } => Pulled::Waiting {
                    wake: wake | replays.make_ready(id),
                },
                bytes => bytes,
            }
        };
        match pulled {
            Pulled::Bytes(bytes) => Some(bytes.into()),
            Pulled::Waiting { wake } => {
                self.woke(&env, wake);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    fn setup() -> (Registry<Outbox>, Delivery, u32) {
        let mut reg = Registry::default();
        let id = reg.add(Outbox::default()).expect("id");
        let mut out = Delivery::default();
        wait_for_pull(&mut out, id, reg.get_mut(id).expect("client"));
        (reg, out, id)
    }

    fn push(out: &mut Delivery, reg: &mut Registry<Outbox>, id: u32, bytes: &[u8]) -> bool {
        let outbox = reg.get_mut(id).expect("client");
        out.push(id, outbox, bytes.len(), |buf| buf.extend_from_slice(bytes))
    }

    #[test]
    fn frames_wait_unframed_until_pulled_then_the_next_one_wakes_js() {
        let (mut reg, mut out, id) = setup();
        assert!(
            !push(&mut out, &mut reg, id, b"data: a\n\n"),
            "paused: no wake-up"
        );
        assert!(
            out.flush(&mut reg).is_empty(),
            "nothing handed over unpulled"
        );
        let outbox = reg.get_mut(id).expect("client");
        assert_eq!(
            pull(&mut out, id, outbox),
            Pulled::Bytes(b"data: a\n\n".to_vec())
        );
        let outbox = reg.get_mut(id).expect("client");
        assert_eq!(pull(&mut out, id, outbox), Pulled::Waiting { wake: false });
        assert!(
            push(&mut out, &mut reg, id, b"data: b\n\n"),
            "wanted: wakes JS"
        );
        let batch = out.flush(&mut reg);
        assert_eq!(batch.data, b"data: b\n\n", "no chunk framing");
        assert_eq!(out.counters.bytes, 18);
    }

    #[test]
    fn what_waits_unpulled_counts_against_the_limit() {
        let (mut reg, mut out, id) = setup();
        out.set_max_pending(10);
        assert!(!push(&mut out, &mut reg, id, b"12345678"));
        assert!(
            push(&mut out, &mut reg, id, b"123"),
            "11 bytes wait: dropped"
        );
        assert_eq!(out.flush(&mut reg).dropped, vec![id]);
    }
}
