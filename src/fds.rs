//! Direct clients' descriptors: which client writes to which descriptor number (so that
//! `forget` finds it before Node closes that number), and when Rust last wrote to each
//! (for the socket timeouts Node cannot refresh itself). Kept by number, not in each
//! outbox, so that an idle client costs nothing more.

use std::time::Instant;

use crate::direct::Fd;

/// In `Fds::by_fd`: no client writes to this descriptor.
const NO_CLIENT: u32 = u32::MAX;

pub struct Fds {
    /// Descriptor number -> the direct client writing to it ([`NO_CLIENT`]: none). A
    /// number has at most one direct client.
    by_fd: Vec<u32>,
    /// Descriptor number -> when Rust last wrote to it (ms since `epoch`, wrapping).
    written_at: Vec<u32>,
    /// The time `written_at` counts from, and the time of the flush under way (one
    /// clock read per flush, not per write).
    epoch: Instant,
    flush_stamp: Option<u32>,
}

impl Default for Fds {
    fn default() -> Self {
        Fds {
            by_fd: Vec::new(),
            written_at: Vec::new(),
            epoch: Instant::now(),
            flush_stamp: None,
        }
    }
}

impl Fds {
    /// Records that client `id` writes to `fd`. False when another client already does
    /// (the same response added twice).
    pub fn claim(&mut self, id: u32, fd: &Fd) -> bool {
        let Ok(at) = usize::try_from(fd.number()) else {
            return false;
        };
        if self.by_fd.get(at).is_some_and(|&owner| owner != NO_CLIENT) {
            return false;
        }
        if self.by_fd.len() <= at {
            self.by_fd.resize(at + 1, NO_CLIENT);
        }
        self.by_fd[at] = id;
        if self.written_at.len() <= at {
            self.written_at.resize(at + 1, 0);
        }
        // Node wrote the headers just now: the connection is not idle.
        self.stamp(fd);
        true
    }

    /// No client writes to `fd` any more.
    pub fn release(&mut self, fd: &Fd) {
        if let Some(owner) = usize::try_from(fd.number())
            .ok()
            .and_then(|at| self.by_fd.get_mut(at))
        {
            *owner = NO_CLIENT;
        }
    }

    /// Node is about to close `fd`: forgets its client, returned (if any).
    pub fn forget(&mut self, fd: i64) -> Option<u32> {
        let owner = usize::try_from(fd)
            .ok()
            .and_then(|at| self.by_fd.get_mut(at))?;
        Some(std::mem::replace(owner, NO_CLIENT)).filter(|&id| id != NO_CLIENT)
    }

    /// A flush begins (`Some`, one clock read for all its writes) or ends (`None`).
    pub fn begin_flush(&mut self) {
        self.flush_stamp = Some(self.epoch.elapsed().as_millis() as u32);
    }

    pub fn end_flush(&mut self) {
        self.flush_stamp = None;
    }

    /// Milliseconds since `epoch`: the flush's own time within a flush, else now.
    fn now_ms(&self) -> u32 {
        if let Some(now) = self.flush_stamp {
            return now;
        }
        self.epoch.elapsed().as_millis() as u32
    }

    /// Records that Rust wrote to `fd` now.
    pub fn stamp(&mut self, fd: &Fd) {
        let Ok(at) = usize::try_from(fd.number()) else {
            return;
        };
        let now = self.now_ms();
        if let Some(slot) = self.written_at.get_mut(at) {
            *slot = now;
        }
    }

    /// Test: as if Rust last wrote to `fd` `ms` milliseconds ago.
    #[cfg(test)]
    pub fn age(&mut self, fd: i64, ms: u32) {
        let now = self.now_ms();
        if let Some(slot) = usize::try_from(fd)
            .ok()
            .and_then(|at| self.written_at.get_mut(at))
        {
            *slot = now.wrapping_sub(ms);
        }
    }

    /// Milliseconds since Rust last wrote to `fd` (or since it was claimed).
    pub fn idle_ms(&self, fd: &Fd) -> Option<u32> {
        let at = usize::try_from(fd.number()).ok()?;
        let then = *self.written_at.get(at)?;
        Some(self.now_ms().wrapping_sub(then))
    }
}
