//! A client's pending bytes (its queue): owned frame bytes, coalesced, and large
//! broadcast bodies shared by reference, plus the HTTP/1.1 chunk framing a turn gets
//! before it goes to a socket. How they are written is `delivery.rs`'s to say.

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

#[derive(Default)]
pub struct Outbox {
    pub(crate) segs: VecDeque<Seg>,
    /// The first `wire` segments are already framed for the socket: the unwritten rest
    /// of a direct write, which must go out before anything else.
    pub(crate) wire: u32,
    /// Bytes of `segs[0]` already written.
    pub(crate) off: usize,
    /// Bytes pending (from `off` on), and how many of them are in the wire segments.
    pub(crate) len: usize,
    pub(crate) wire_len: usize,
    /// Bytes Node held for this client's socket when it was paused.
    pub(crate) held: usize,
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
        self.len + self.held
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

    /// Whether Rust writes this client's bytes straight to its socket.
    pub fn is_direct(&self) -> bool {
        self.fd.is_some()
    }

    pub(crate) fn frames_len(&self) -> usize {
        self.len - self.wire_len
    }

    /// The owned segment new frame bytes are appended to.
    pub(crate) fn tail(&mut self, hint: usize) -> &mut Vec<u8> {
        let own_tail =
            self.segs.len() > self.wire as usize && matches!(self.segs.back(), Some(Seg::Own(_)));
        if !own_tail {
            self.segs
                .push_back(Seg::Own(Vec::with_capacity(hint.clamp(64, 16 * 1024))));
        }
        match self.segs.back_mut() {
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

    /// Wraps every frame not yet framed in one HTTP/1.1 chunk; returns the frames' bytes.
    pub(crate) fn frame_for_wire(&mut self) -> usize {
        let frames = self.frames_len();
        if frames == 0 {
            return 0;
        }
        let mut head = Vec::with_capacity(18);
        push_chunk_size(&mut head, frames);
        self.len += head.len() + CRLF.len();
        self.segs.insert(self.wire as usize, Seg::Own(head));
        self.segs.push_back(Seg::Crlf);
        self.wire = u32::try_from(self.segs.len()).unwrap_or(u32::MAX);
        self.wire_len = self.len;
        frames
    }

    /// The pending bytes as slices, in order.
    pub(crate) fn slices(&self) -> Vec<IoSlice<'_>> {
        let mut out = Vec::with_capacity(self.segs.len());
        for (i, seg) in self.segs.iter().enumerate() {
            let bytes = seg.bytes();
            let bytes = if i == 0 { &bytes[self.off..] } else { bytes };
            if !bytes.is_empty() {
                out.push(IoSlice::new(bytes));
            }
        }
        out
    }

    /// Forgets the first `n` pending bytes (written); only wire segments are ever written.
    pub(crate) fn consume(&mut self, mut n: usize) {
        self.len -= n;
        self.wire_len -= n;
        while n > 0 {
            let Some(first) = self.segs.front() else {
                break;
            };
            let rest = first.bytes().len() - self.off;
            if n < rest {
                self.off += n;
                break;
            }
            n -= rest;
            self.off = 0;
            self.segs.pop_front();
            self.wire -= 1;
        }
        if self.segs.is_empty() {
            self.clear();
        }
    }

    /// Every pending byte, copied out in order.
    pub(crate) fn copy_out(&self, out: &mut Vec<u8>) {
        for slice in self.slices() {
            out.extend_from_slice(&slice);
        }
    }

    pub(crate) fn clear(&mut self) {
        if self.segs.capacity() > 64 {
            self.segs = VecDeque::new();
        } else {
            self.segs.clear();
        }
        self.wire = 0;
        self.off = 0;
        self.len = 0;
        self.wire_len = 0;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_outbox_is_small_and_allocates_nothing() {
        let outbox = Outbox::default();
        assert!(
            std::mem::size_of::<Outbox>() <= 80,
            "{}",
            std::mem::size_of::<Outbox>()
        );
        assert_eq!(outbox.segs.capacity(), 0);
    }

    #[test]
    fn chunk_sizes_are_lower_case_hex() {
        let mut out = Vec::new();
        push_chunk_size(&mut out, 0x12c);
        push_chunk_size(&mut out, 1);
        assert_eq!(out, b"12c\r\n1\r\n");
    }
}
