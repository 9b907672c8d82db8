//! A client's pending bytes (its queue): owned frame bytes, coalesced, and large
//! broadcast bodies shared by reference, plus the HTTP/1.1 chunk framing a turn gets
//! before it goes to a socket. How they are written is `delivery.rs`'s to say.
//!
//! The queue is allocated while bytes are pending and given back once they are all
//! written or handed over: an idle client (most of them, most of the time) costs its
//! outbox's 40 bytes and nothing else.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::Arc;

use crate::direct::Fd;

pub(crate) const CRLF: &[u8] = b"\r\n";

/// A piece of a client's pending bytes.
pub(crate) enum Seg {
    Own(Vec<u8>),
    Shared(Arc<[u8]>),
    /// The end of an HTTP/1.1 chunk.
    Crlf,
}

impl Seg {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Seg::Own(v) => v,
            Seg::Shared(b) => b,
            Seg::Crlf => CRLF,
        }
    }
}

/// A direct client and the writer threads (one byte: an idle outbox stays small).
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Writer {
    #[default]
    Idle,
    /// In the writers' queue (`Delivery::to_write`): a writer writes it when it gets to
    /// it. Back to `Idle` when JS takes its bytes (`Delivery::take`), so that the stale
    /// queue entry writes nothing.
    Handed,
    /// A writer's write was refused in part: the rest goes to JS on its next flush (and
    /// the client pauses), as a refused write on the JS thread would.
    Refused,
}

/// The pending segments, while there are any.
#[derive(Default)]
struct Queue {
    segs: VecDeque<Seg>,
    /// The first `wire` segments are already framed for the socket: the unwritten rest
    /// of a direct write, which must go out before anything else.
    wire: u32,
    /// Bytes of `segs[0]` already written.
    off: usize,
    /// How many of the pending bytes are in the wire segments.
    wire_len: usize,
}

#[derive(Default)]
pub struct Outbox {
    /// None while nothing is pending.
    q: Option<Box<Queue>>,
    /// Bytes pending (from the first segment's written part on).
    pub(crate) len: usize,
    /// Bytes Node held for this client's socket when it was paused (saturating: a u32
    /// keeps an idle outbox within 40 bytes; see `held()`).
    held: u32,
    /// The client's socket, for a direct client (borrowed from Node, see `direct.rs`).
    pub(crate) fd: Option<Fd>,
    /// JS writes this client's bytes straight to its socket, as HTTP/1.1 chunks Rust
    /// frames: a plain HTTP/1.1 response Rust does not write itself (TLS, no direct
    /// writes on this platform, or its descriptor is being closed).
    pub(crate) framed: bool,
    pub(crate) queued: bool,
    pub(crate) paused: bool,
    pub(crate) dropped: bool,
    /// Judged by the slow-reader rule (`limits.rs` keeps its backlog).
    pub(crate) backlogged: bool,
    /// In `Delivery::refusing` (its socket refused mid-turn).
    pub(crate) refusing: bool,
    /// Where a direct client stands with the writer threads (`writer.rs`).
    pub(crate) writer: Writer,
    /// `fd` is a duplicate Rust owns (a detached connection, see `detached.rs`): Node let
    /// go of the connection, and the descriptor is closed when the client is removed.
    pub(crate) detached: bool,
    /// The replay source: this client has a `Last-Event-ID` cursor (kept in
    /// `replay::Replays`) and has not caught up; live broadcasts skip it meanwhile.
    pub replaying: bool,
}

impl Outbox {
    /// Bytes waiting for this client.
    pub fn pending(&self) -> usize {
        self.len
    }

    /// Replay source: bytes waiting for this client, here and in Node (held).
    pub fn waiting(&self) -> usize {
        self.len.saturating_add(self.held())
    }

    /// Bytes Node held for this client's socket when it was paused.
    pub(crate) fn held(&self) -> usize {
        self.held as usize
    }

    /// Records what Node holds for the socket (beyond 4 GiB it counts as 4 GiB: far past
    /// any limit, so the rule judging slow readers sees the same thing).
    pub(crate) fn set_held(&mut self, held: usize) {
        self.held = u32::try_from(held).unwrap_or(u32::MAX);
    }

    /// Replay source: whether nothing may be written for it now (refused, dropped).
    pub fn is_stopped(&self) -> bool {
        self.stopped() || self.dropped
    }

    /// Whether nothing may be written for this client now (paused).
    pub(crate) fn stopped(&self) -> bool {
        self.paused
    }

    /// Whether the slow-reader rule judges this client (see `limits.rs`).
    pub fn is_backlogged(&self) -> bool {
        self.backlogged
    }

    /// Whether the client waits in the writer threads' queue (`writer.rs`).
    pub fn is_handed(&self) -> bool {
        self.writer == Writer::Handed
    }

    /// Whether Rust writes this client's bytes straight to its socket.
    pub fn is_direct(&self) -> bool {
        self.fd.is_some()
    }

    /// Whether Rust owns this client's connection (see `detached.rs`).
    pub fn is_detached(&self) -> bool {
        self.detached
    }

    pub(crate) fn frames_len(&self) -> usize {
        self.len - self.q.as_ref().map_or(0, |q| q.wire_len)
    }

    /// The queue, made when the first byte comes.
    fn queue(&mut self) -> &mut Queue {
        self.q.get_or_insert_with(Box::default)
    }

    /// Each pending segment with the offset its unwritten part starts at, in order.
    pub(crate) fn segments(&self) -> impl Iterator<Item = (&Seg, usize)> {
        let (segs, off) = match &self.q {
            Some(q) => (&q.segs, q.off),
            None => return None.into_iter().flatten(),
        };
        Some(
            segs.iter()
                .enumerate()
                .map(move |(i, seg)| (seg, if i == 0 { off } else { 0 })),
        )
        .into_iter()
        .flatten()
    }

    /// How many of the first segments are framed for the socket (see `Queue::wire`).
    pub(crate) fn wire_segments(&self) -> usize {
        self.q.as_ref().map_or(0, |q| q.wire as usize)
    }

    /// The owned segment new frame bytes are appended to.
    pub(crate) fn tail(&mut self, hint: usize) -> &mut Vec<u8> {
        let q = self.queue();
        let own_tail = q.segs.len() > q.wire as usize && matches!(q.segs.back(), Some(Seg::Own(_)));
        if !own_tail {
            q.segs
                .push_back(Seg::Own(Vec::with_capacity(hint.clamp(64, 16 * 1024))));
        }
        match q.segs.back_mut() {
            Some(Seg::Own(v)) => v,
            _ => unreachable!("the last segment was just made an owned one"),
        }
    }

    /// Appends bytes written by `write`; returns how many.
    pub(crate) fn append(&mut self, hint: usize, write: impl FnOnce(&mut Vec<u8>)) -> usize {
        let buf = self.tail(hint);
        let before = buf.len();
        write(buf);
        let added = buf.len() - before;
        self.len += added;
        added
    }

    /// Appends a body shared by reference with other clients.
    pub(crate) fn append_shared(&mut self, body: &Arc<[u8]>) {
        self.queue().segs.push_back(Seg::Shared(Arc::clone(body)));
        self.len += body.len();
    }

    /// Wraps every frame not yet framed in one HTTP/1.1 chunk; returns the frames' bytes.
    pub(crate) fn frame_for_wire(&mut self) -> usize {
        let frames = self.frames_len();
        if frames == 0 {
            return 0;
        }
        let mut head = Vec::with_capacity(18);
        push_chunk_size(&mut head, frames);
        self.len += head.len() + CRLF.len();
        let len = self.len;
        let q = self.queue();
        q.segs.insert(q.wire as usize, Seg::Own(head));
        q.segs.push_back(Seg::Crlf);
        q.wire = u32::try_from(q.segs.len()).unwrap_or(u32::MAX);
        q.wire_len = len;
        frames
    }

    /// Appends bytes already framed for the socket (after every pending frame, which it
    /// frames first): the terminating chunk of a detached stream.
    pub(crate) fn push_wire(&mut self, bytes: &'static [u8]) -> usize {
        let frames = self.frame_for_wire();
        self.len += bytes.len();
        let len = self.len;
        let q = self.queue();
        q.segs.push_back(Seg::Own(bytes.to_vec()));
        q.wire = u32::try_from(q.segs.len()).unwrap_or(u32::MAX);
        q.wire_len = len;
        frames
    }

    /// The pending bytes as slices, in order.
    pub(crate) fn slices(&self) -> Vec<IoSlice<'_>> {
        let mut out = Vec::with_capacity(self.q.as_ref().map_or(0, |q| q.segs.len()));
        for (seg, from) in self.segments() {
            let bytes = &seg.bytes()[from..];
            if !bytes.is_empty() {
                out.push(IoSlice::new(bytes));
            }
        }
        out
    }

    /// Forgets the first `n` pending bytes (written); only wire segments are ever written.
    pub(crate) fn consume(&mut self, mut n: usize) {
        let Some(q) = self.q.as_mut() else {
            return;
        };
        self.len -= n;
        q.wire_len -= n;
        while n > 0 {
            let Some(first) = q.segs.front() else {
                break;
            };
            let rest = first.bytes().len() - q.off;
            if n < rest {
                q.off += n;
                break;
            }
            n -= rest;
            q.off = 0;
            q.segs.pop_front();
            q.wire -= 1;
        }
        if q.segs.is_empty() {
            self.clear();
        }
    }

    /// Every pending byte, copied out in order.
    pub(crate) fn copy_out(&self, out: &mut Vec<u8>) {
        for slice in self.slices() {
            out.extend_from_slice(&slice);
        }
    }

    /// Forgets every pending byte; the queue's memory goes back.
    pub(crate) fn clear(&mut self) {
        self.q = None;
        self.len = 0;
    }
}

/// Appends the start of an HTTP/1.1 chunk of `len` bytes: `<hex len>\r\n`.
pub(crate) fn push_chunk_size(out: &mut Vec<u8>, len: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = (usize::BITS - len.leading_zeros()).div_ceil(4).max(1);
    for shift in (0..digits).rev() {
        out.push(HEX[(len >> (shift * 4)) & 0xf]);
    }
    out.extend_from_slice(CRLF);
}

/// The HTTP/1.1 chunks in `wire`, decoded; each chunk must end in CRLF. For tests here,
/// in `delivery` and in `writer`.
#[cfg(test)]
pub(crate) fn test_dechunk(wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        let line = wire[at..]
            .windows(2)
            .position(|w| w == CRLF)
            .expect("size line");
        let size =
            usize::from_str_radix(std::str::from_utf8(&wire[at..at + line]).expect("hex"), 16)
                .expect("hex");
        at += line + 2;
        out.extend_from_slice(&wire[at..at + size]);
        at += size;
        assert_eq!(&wire[at..at + 2], CRLF, "a chunk ends in CRLF");
        at += 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_outbox_is_small_and_allocates_nothing() {
        let mut outbox = Outbox::default();
        assert!(
            std::mem::size_of::<Outbox>() <= 40,
            "{}",
            std::mem::size_of::<Outbox>()
        );
        assert!(outbox.q.is_none());
        // Bytes come, and are written: the queue goes again.
        outbox.append(10, |buf| buf.extend_from_slice(b"data: x\n\n"));
        outbox.append_shared(&Arc::from(&b"shared"[..]));
        assert!(outbox.q.is_some());
        let framed = outbox.frame_for_wire();
        assert_eq!(framed, 15);
        let all = outbox.len;
        let mut wire = Vec::new();
        outbox.copy_out(&mut wire);
        assert_eq!(wire, b"f\r\ndata: x\n\nshared\r\n");
        outbox.consume(3);
        assert!(outbox.q.is_some(), "part of it waits");
        outbox.consume(all - 3);
        assert_eq!(outbox.len, 0);
        assert!(outbox.q.is_none(), "nothing pending, nothing held");
    }

    #[test]
    fn chunk_sizes_are_lower_case_hex() {
        let mut out = Vec::new();
        push_chunk_size(&mut out, 0x12c);
        push_chunk_size(&mut out, 1);
        assert_eq!(out, b"12c\r\n1\r\n");
    }
}
