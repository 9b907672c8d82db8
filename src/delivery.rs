//! Pending bytes per client and the batches handed to JavaScript to write.
//!
//! Frames are appended to the receiving client's outbox; the first frame a client
//! gets in a turn puts it on the dirty list. `drain` concatenates every dirty,
//! writable outbox into one buffer with an index of `(id, end, body)` triples, so JS
//! makes one write per client per turn. A paused client (its socket said "slow
//! down") keeps its frames in order until resumed. A client whose outbox would
//! pass the cap is dropped: its bytes are discarded and its id reported once.
//! A *framed* outbox is drained as one HTTP/1.1 chunk (`<hex len>\r\n…\r\n`), for
//! responses JS writes straight to their socket.
//!
//! Large broadcast bodies are not copied per client: a client with nothing else
//! pending just refers to the shared body, and the batch carries each shared body
//! once (JS writes the client's head and the body together). Anything more for that
//! client copies the body into its outbox first, so order is kept.

use std::sync::Arc;

use crate::frame;
use crate::registry::Registry;

/// Broadcast bodies at least this large are shared between clients, not copied.
pub const SHARE_MIN: usize = 4096;

/// In a batch's index: this client's part has no shared body.
pub const NO_BODY: u32 = u32::MAX;

/// Default cap on the bytes queued for one client.
pub const DEFAULT_MAX_PENDING: usize = 1024 * 1024;

/// Outboxes larger than this give their memory back once written.
const KEEP_CAPACITY: usize = 16 * 1024;

#[derive(Default)]
pub struct Outbox {
    buf: Vec<u8>,
    /// When set (and `buf` is empty), what is pending is `id: <id>\n` and this body.
    shared: Option<Arc<[u8]>>,
    queued: bool,
    paused: bool,
    dropped: bool,
    framed: bool,
}

impl Outbox {
    /// Bytes waiting for this client (a shared body counted with its longest `id:` line).
    pub fn pending(&self) -> usize {
        self.buf.len() + self.shared.as_ref().map_or(0, |b| b.len() + MAX_ID_LINE)
    }

    /// Copies a shared body into the outbox, so that more can follow it.
    fn own(&mut self, id: u32) {
        if let Some(body) = self.shared.take() {
            frame::push_id(&mut self.buf, id);
            self.buf.extend_from_slice(&body);
        }
    }
}

#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Counters {
    /// Frames (events, retries, heartbeats) queued.
    pub frames: u64,
    /// Bytes handed to JavaScript to write.
    pub bytes: u64,
    /// Clients dropped for passing the cap.
    pub dropped: u64,
}

/// What one drain hands to JavaScript.
#[derive(Default, Debug)]
pub struct Batch {
    pub data: Vec<u8>,
    /// `(client id, end offset in data, body)` triples; each client's bytes start where the
    /// previous ended and go on with `bodies[body]` (then `\r\n` when framed), or
    /// stop there when body is [`NO_BODY`].
    pub index: Vec<u32>,
    /// Clients dropped since the last drain.
    pub dropped: Vec<u32>,
    /// Shared bodies, each once; `index` refers to them by position.
    pub bodies: Vec<Arc<[u8]>>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.index.is_empty() && self.dropped.is_empty()
    }
}

pub struct Delivery {
    dirty: Vec<u32>,
    dropped: Vec<u32>,
    max_pending: usize,
    pub counters: Counters,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            dirty: Vec::new(),
            dropped: Vec::new(),
            max_pending: DEFAULT_MAX_PENDING,
            counters: Counters::default(),
        }
    }
}

/// The longest `id: N\n` line: 4 + 10 digits + 1.
pub const MAX_ID_LINE: usize = 15;

/// The longest chunk framing this module writes: 8 hex digits and two CRLFs.
const CHUNK_FRAMING: usize = 12;

/// Appends `bytes` as one HTTP/1.1 chunk: `<hex len>\r\n<bytes>\r\n`.
fn push_chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    push_chunk_size(out, bytes.len());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// Appends the start of an HTTP/1.1 chunk of `len` bytes: `<hex len>\r\n`.
fn push_chunk_size(out: &mut Vec<u8>, len: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = (usize::BITS - len.leading_zeros()).div_ceil(4).max(1);
    for shift in (0..digits).rev() {
        out.push(HEX[(len >> (shift * 4)) & 0xf]);
    }
    out.extend_from_slice(b"\r\n");
}

impl Delivery {
    pub fn max_pending(&self) -> usize {
        self.max_pending
    }

    pub fn set_max_pending(&mut self, bytes: usize) {
        self.max_pending = bytes;
    }

    /// Appends one frame built by `write` (at most `len` bytes) to a client's outbox.
    /// Returns true when the client became dirty or was dropped, i.e. JS must run.
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
        if self.over_cap(id, outbox, len) {
            return true;
        }
        outbox.own(id);
        write(&mut outbox.buf);
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
        if body.len() < SHARE_MIN || outbox.pending() > 0 || outbox.paused || outbox.dropped {
            return self.push_frame(id, outbox, body);
        }
        if self.over_cap(id, outbox, body.len() + MAX_ID_LINE) {
            return true;
        }
        outbox.shared = Some(Arc::clone(body));
        self.queued(id, outbox)
    }

    /// Drops the client when `len` more bytes would pass the cap; true if it did.
    fn over_cap(&mut self, id: u32, outbox: &mut Outbox, len: usize) -> bool {
        if outbox.pending().saturating_add(len) <= self.max_pending {
            return false;
        }
        outbox.dropped = true;
        outbox.buf = Vec::new();
        outbox.shared = None;
        self.dropped.push(id);
        self.counters.dropped += 1;
        true
    }

    /// Counts a queued frame; true when the client just became dirty.
    fn queued(&mut self, id: u32, outbox: &mut Outbox) -> bool {
        self.counters.frames += 1;
        if outbox.queued || outbox.paused {
            return false;
        }
        outbox.queued = true;
        self.dirty.push(id);
        true
    }

    /// Whether drains wrap this client's bytes in HTTP/1.1 chunked framing.
    pub fn set_framed(outbox: &mut Outbox, framed: bool) {
        outbox.framed = framed;
    }

    /// Stops handing this client's bytes to JS until `resume`.
    pub fn pause(outbox: &mut Outbox) {
        outbox.paused = true;
    }

    /// Returns true when the client has bytes waiting and JS must run.
    pub fn resume(&mut self, id: u32, outbox: &mut Outbox) -> bool {
        outbox.paused = false;
        if outbox.queued || outbox.dropped || outbox.pending() == 0 {
            return false;
        }
        outbox.queued = true;
        self.dirty.push(id);
        true
    }

    /// Takes everything queued for one client, paused or not (for a direct write or end).
    pub fn take(&mut self, id: u32, outbox: &mut Outbox) -> Vec<u8> {
        outbox.own(id);
        let taken = std::mem::take(&mut outbox.buf);
        self.counters.bytes += taken.len() as u64;
        taken
    }

    /// Collects every dirty client's bytes into one batch.
    pub fn drain(&mut self, reg: &mut Registry<Outbox>) -> Batch {
        let mut batch = Batch {
            dropped: std::mem::take(&mut self.dropped),
            ..Batch::default()
        };
        let mut dirty = std::mem::take(&mut self.dirty);
        let size: usize = dirty
            .iter()
            .filter_map(|id| reg.get_mut(*id).map(|o| o.buf.len() + CHUNK_FRAMING))
            .sum();
        batch.data.reserve_exact(size.min(u32::MAX as usize));
        batch.index.reserve(dirty.len() * 3);
        let mut left = Vec::new();
        for id in dirty.drain(..) {
            let Some(outbox) = reg.get_mut(id) else {
                continue;
            };
            if outbox.pending() == 0 || outbox.paused || outbox.dropped {
                outbox.queued = false;
                continue;
            }
            if batch.data.len() + outbox.buf.len() + MAX_ID_LINE + CHUNK_FRAMING > u32::MAX as usize
            {
                // A batch is indexed with u32 offsets: what does not fit waits for the next one.
                left.push(id);
                continue;
            }
            outbox.queued = false;
            if let Some(body) = outbox.shared.take() {
                let mut head = Vec::with_capacity(MAX_ID_LINE);
                frame::push_id(&mut head, id);
                if outbox.framed {
                    push_chunk_size(&mut batch.data, head.len() + body.len());
                }
                batch.data.extend_from_slice(&head);
                self.counters.bytes += (head.len() + body.len()) as u64;
                let at = match batch.bodies.iter().position(|b| Arc::ptr_eq(b, &body)) {
                    Some(at) => at,
                    None => {
                        batch.bodies.push(body);
                        batch.bodies.len() - 1
                    }
                };
                batch.index.extend([id, batch.data.len() as u32, at as u32]);
                continue;
            }
            let bytes = outbox.buf.len() as u64;
            if outbox.framed {
                push_chunk(&mut batch.data, &outbox.buf);
            } else {
                batch.data.extend_from_slice(&outbox.buf);
            }
            let end32 = batch.data.len() as u32;
            self.counters.bytes += bytes;
            outbox.buf.clear();
            if outbox.buf.capacity() > KEEP_CAPACITY {
                outbox.buf = Vec::new();
            }
            batch.index.extend([id, end32, NO_BODY]);
        }
        self.dirty = left;
        if self.dirty.capacity() == 0 {
            self.dirty = dirty;
        }
        batch
    }

    // provided by the delivery rewrite; placeholder
    /// Queues a whole frame that is the same bytes for every receiver (it carries an
    /// event id, not the client id).
    pub fn push_shared(&mut self, id: u32, outbox: &mut Outbox, frame: &Arc<[u8]>) -> bool {
        self.push(id, outbox, frame.len(), |buf| buf.extend_from_slice(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(n: usize) -> (Registry<Outbox>, Delivery, Vec<u32>) {
        let mut reg = Registry::default();
        let ids = (0..n).filter_map(|_| reg.add(Outbox::default())).collect();
        (reg, Delivery::default(), ids)
    }

    fn push(d: &mut Delivery, reg: &mut Registry<Outbox>, id: u32, bytes: &[u8]) -> bool {
        let outbox = reg.get_mut(id).expect("client");
        d.push(id, outbox, bytes.len(), |buf| buf.extend_from_slice(bytes))
    }

    /// Each client's bytes as JS writes them: its part of `data`, then its shared body.
    fn split(batch: &Batch) -> Vec<(u32, Vec<u8>)> {
        let mut start = 0;
        batch
            .index
            .chunks(3)
            .map(|part| {
                let end = part[1] as usize;
                let mut bytes = batch.data[start..end].to_vec();
                if part[2] != NO_BODY {
                    bytes.extend_from_slice(&batch.bodies[part[2] as usize]);
                }
                start = end;
                (part[0], bytes)
            })
            .collect()
    }

    fn owned(parts: &[(u32, &[u8])]) -> Vec<(u32, Vec<u8>)> {
        parts.iter().map(|(id, b)| (*id, b.to_vec())).collect()
    }

    #[test]
    fn one_part_per_client_in_order() {
        let (mut reg, mut d, ids) = setup(2);
        assert!(push(&mut d, &mut reg, ids[1], b"a"));
        assert!(push(&mut d, &mut reg, ids[0], b"b"));
        assert!(!push(&mut d, &mut reg, ids[1], b"c"));
        let batch = d.drain(&mut reg);
        assert_eq!(split(&batch), owned(&[(1, b"ac"), (0, b"b")]));
        assert!(d.drain(&mut reg).is_empty());
        assert_eq!(d.counters.frames, 3);
        assert_eq!(d.counters.bytes, 3);
    }

    #[test]
    fn paused_clients_keep_their_bytes_until_resumed() {
        let (mut reg, mut d, ids) = setup(1);
        Delivery::pause(reg.get_mut(ids[0]).expect("client"));
        assert!(!push(&mut d, &mut reg, ids[0], b"x"));
        assert!(d.drain(&mut reg).is_empty());
        assert!(d.resume(ids[0], reg.get_mut(ids[0]).expect("client")));
        push(&mut d, &mut reg, ids[0], b"y");
        assert_eq!(split(&d.drain(&mut reg)), owned(&[(0, b"xy")]));
    }

    #[test]
    fn over_the_cap_drops_once() {
        let (mut reg, mut d, ids) = setup(2);
        d.set_max_pending(4);
        push(&mut d, &mut reg, ids[0], b"abc");
        push(&mut d, &mut reg, ids[1], b"abc");
        assert!(push(&mut d, &mut reg, ids[0], b"de"));
        assert!(!push(&mut d, &mut reg, ids[0], b"f"));
        let batch = d.drain(&mut reg);
        assert_eq!(batch.dropped, vec![0]);
        assert_eq!(split(&batch), owned(&[(1, b"abc")]));
        assert_eq!(reg.get_mut(ids[0]).expect("client").pending(), 0);
        assert_eq!(d.counters.dropped, 1);
    }

    #[test]
    fn take_empties_the_outbox_and_drain_skips_it() {
        let (mut reg, mut d, ids) = setup(1);
        push(&mut d, &mut reg, ids[0], b"x");
        assert_eq!(d.take(ids[0], reg.get_mut(ids[0]).expect("client")), b"x");
        assert!(d.drain(&mut reg).is_empty());
        push(&mut d, &mut reg, ids[0], b"z");
        assert_eq!(split(&d.drain(&mut reg)), owned(&[(0, b"z")]));
    }

    #[test]
    fn framed_outboxes_drain_as_http_chunks() {
        let (mut reg, mut d, ids) = setup(2);
        Delivery::set_framed(reg.get_mut(ids[0]).expect("client"), true);
        let big = vec![b'x'; 300];
        push(&mut d, &mut reg, ids[0], &big);
        push(&mut d, &mut reg, ids[1], b"y");
        let batch = d.drain(&mut reg);
        let parts = split(&batch);
        let mut want = b"12c\r\n".to_vec();
        want.extend_from_slice(&big);
        want.extend_from_slice(b"\r\n");
        assert_eq!(parts, owned(&[(0, &want), (1, b"y")]));
        assert_eq!(d.counters.bytes, 301);
        let mut one = Vec::new();
        push_chunk(&mut one, b"abc");
        assert_eq!(one, b"3\r\nabc\r\n");
    }

    fn frame_of(id: u32, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        frame::push_id(&mut out, id);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn large_bodies_are_shared_once_per_batch() {
        let (mut reg, mut d, ids) = setup(3);
        Delivery::set_framed(reg.get_mut(ids[1]).expect("client"), true);
        let body: Arc<[u8]> = Arc::from(vec![b'b'; SHARE_MIN]);
        for id in &ids {
            assert!(d.push_body(*id, reg.get_mut(*id).expect("client"), &body));
        }
        let batch = d.drain(&mut reg);
        assert_eq!(
            batch.bodies.len(),
            1,
            "one copy of the body for every client"
        );
        assert!(batch.index.chunks(3).all(|part| part[2] == 0));
        let mut framed = format!("{:x}\r\n", SHARE_MIN + 6).into_bytes();
        framed.extend_from_slice(b"id: 1\n");
        let parts = split(&batch);
        assert_eq!(parts[0], (0, frame_of(0, &body)));
        assert_eq!(parts[1], (1, [framed, body.to_vec()].concat()));
        assert_eq!(parts[2], (2, frame_of(2, &body)));
        assert_eq!(d.counters.bytes, 3 * (SHARE_MIN as u64 + 6));
    }

    #[test]
    fn anything_after_a_shared_body_keeps_the_order() {
        let (mut reg, mut d, ids) = setup(1);
        let body: Arc<[u8]> = Arc::from(vec![b'b'; SHARE_MIN]);
        let outbox = reg.get_mut(ids[0]).expect("client");
        d.push_body(0, outbox, &body);
        d.push(0, outbox, 1, |buf| buf.push(b'!'));
        d.push_body(0, outbox, &body);
        let batch = d.drain(&mut reg);
        assert!(batch.bodies.is_empty());
        let want = [frame_of(0, &body), b"!".to_vec(), frame_of(0, &body)].concat();
        assert_eq!(split(&batch), vec![(0, want)]);
        // take() copies a shared body out too.
        let outbox = reg.get_mut(ids[0]).expect("client");
        d.push_body(0, outbox, &body);
        assert_eq!(d.take(0, outbox), frame_of(0, &body));
        assert!(d.drain(&mut reg).is_empty());
    }

    #[test]
    fn shared_bodies_count_against_the_cap() {
        let (mut reg, mut d, ids) = setup(1);
        d.set_max_pending(SHARE_MIN);
        let body: Arc<[u8]> = Arc::from(vec![b'b'; SHARE_MIN]);
        assert!(d.push_body(0, reg.get_mut(ids[0]).expect("client"), &body));
        let batch = d.drain(&mut reg);
        assert_eq!(batch.dropped, vec![0]);
        assert!(batch.index.is_empty());
    }

    #[test]
    fn removed_clients_are_skipped() {
        let (mut reg, mut d, ids) = setup(2);
        push(&mut d, &mut reg, ids[0], b"x");
        push(&mut d, &mut reg, ids[1], b"y");
        reg.remove(ids[0]);
        assert_eq!(split(&d.drain(&mut reg)), owned(&[(1, b"y")]));
    }
}
