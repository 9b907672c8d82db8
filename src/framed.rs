//! What a flush hands to JavaScript (the framed path, and what a direct socket
//! refused): one buffer of bytes, an index of `(client, end, body, from)` entries, and
//! the shared bodies by reference.

use std::sync::Arc;

use crate::outbox::{Outbox, Seg};

/// In a batch's index: this entry has no shared body.
pub const NO_BODY: u32 = u32::MAX;

/// What one flush hands to JavaScript.
#[derive(Default, Debug)]
pub struct Batch {
    pub data: Vec<u8>,
    /// `(client id, end offset in data, body, from)` entries, a client's in a row: each is
    /// the part of `data` after the previous entry's end, then `bodies[body]` from byte
    /// `from` on, unless body is [`NO_BODY`]. A direct client's part is ready-made HTTP/1.1 chunked bytes for
    /// its socket; any other client's is SSE frames for `res.write`.
    pub index: Vec<u32>,
    /// Clients dropped for passing the limit since the last flush.
    pub dropped: Vec<u32>,
    /// Direct clients whose connection broke (`EPIPE`, `ECONNRESET`…) since the last flush.
    pub gone: Vec<u32>,
    /// Shared bodies, each once; `index` refers to them by position.
    pub bodies: Vec<Arc<[u8]>>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.index.is_empty() && self.dropped.is_empty() && self.gone.is_empty()
    }
}

/// Moves a client's pending bytes into the batch: owned bytes copied into `data`,
/// shared bodies by reference (each once per batch, from an offset when partly written).
pub(crate) fn hand_over(batch: &mut Batch, id: u32, outbox: &mut Outbox) {
    let first = batch.index.len();
    for (seg, from) in outbox.segments() {
        match seg {
            Seg::Shared(body) => push_body(batch, id, body, from),
            _ => batch.data.extend_from_slice(&seg.bytes()[from..]),
        }
    }
    close_entry(batch, id, first);
    outbox.clear();
}

/// Adds a shared body (from byte `from` on) to a client's entries in the batch, by
/// reference: a body already in the batch is listed once.
pub(crate) fn push_body(batch: &mut Batch, id: u32, body: &Arc<[u8]>, from: usize) {
    let at = match batch.bodies.iter().rposition(|b| Arc::ptr_eq(b, body)) {
        Some(at) => at,
        None => {
            batch.bodies.push(Arc::clone(body));
            batch.bodies.len() - 1
        }
    };
    batch
        .index
        .extend([id, batch.data.len() as u32, at as u32, from as u32]);
}

/// Ends a client's entries in the batch: the bytes in `data` after its last body.
fn close_entry(batch: &mut Batch, id: u32, first: usize) {
    let end = batch.data.len() as u32;
    if batch.index.len() == first || batch.index[batch.index.len() - 3] != end {
        batch.index.extend([id, end, NO_BODY, 0]);
    }
}

/// Moves at most `limit` bytes of a client's wire segments (framed for its socket) into
/// the batch: whole shared bodies by reference, a body cut at the limit as a copy of
/// its part. Returns how many bytes.
pub(crate) fn hand_wire(batch: &mut Batch, id: u32, outbox: &mut Outbox, limit: usize) -> usize {
    let first = batch.index.len();
    let mut n = 0;
    for (seg, from) in outbox.segments().take(outbox.wire_segments()) {
        if n >= limit {
            break;
        }
        let bytes = &seg.bytes()[from..];
        let take = bytes.len().min(limit - n);
        match seg {
            Seg::Shared(body) if take == bytes.len() => push_body(batch, id, body, from),
            _ => batch.data.extend_from_slice(&bytes[..take]),
        }
        n += take;
    }
    close_entry(batch, id, first);
    outbox.consume(n);
    n
}
