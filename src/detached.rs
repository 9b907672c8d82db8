//! Detached connections: the descriptors Rust owns (a duplicate of Node's, taken once the
//! response's headers are out) and the one thread that watches them for the peer leaving
//! and for room to write again.
//!
//! After `detach`, Node's socket, parser, request and response are released: Node closes
//! its own number of the connection, and the duplicate made here keeps the connection open
//! (both numbers refer to one open file description; closing one closes only that number).
//! From then on Rust alone writes to it, as for a direct client (`direct.rs`), and a
//! [`Reactor`] thread watches it:
//!
//! - the peer leaving (end of stream, a reset, an error) or sending anything at all after
//!   its request: the client is reported gone, as a broken write reports a direct one;
//! - the socket taking bytes again after it refused some: the client resumes, and what
//!   waited in Rust is written on the JavaScript thread's next drain.
//!
//! It reports to a callback (`state.rs` wires it to the registry and the wake-up); it
//! knows only client ids and readiness.
//!
//! Descriptor rules (what makes owning the duplicate safe):
//!
//! - epoll registrations belong to the open file description, keyed by (description,
//!   number): libuv removes its registration of Node's number before closing it, and the
//!   reactor registers the duplicate's number itself;
//! - a duplicate is closed only when its client leaves the registry, under the state lock,
//!   after it is deregistered here ([`Reactor::forget`], then [`close`]); writes happen only
//!   under that lock to registered clients, so none follows the close, and the number is
//!   closed once;
//! - events carry the client id, never reused: an event for a client that already left
//!   finds nothing.
//!
//! Memory: nothing per connection in this process's memory besides the client's outbox
//! (the kernel keeps the registration); one thread per hub, started on the first detach.

use std::io;

/// Whether this build can detach connections (Unix; not WASI, not Windows).
pub const SUPPORTED: bool = cfg!(unix);

/// What the reactor saw for one detached client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    pub id: u32,
    /// The peer left (end of stream, reset, error) or sent bytes after its request.
    pub gone: bool,
    /// The socket has room to write again.
    pub writable: bool,
}

#[cfg(unix)]
mod imp {
    use super::Ready;
    use crate::direct::Fd;
    use mio::unix::SourceFd;
    use mio::{Events, Interest, Poll, Token, Waker};
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::thread::JoinHandle;

    const WAKER: Token = Token(usize::MAX);

    /// A duplicate of `fd` (close-on-exec) when `fd` is an open, non-blocking stream
    /// socket. The caller owns it and closes it with [`close`].
    pub fn duplicate(fd: i64) -> Option<Fd> {
        let original = Fd::borrow(fd)?;
        // SAFETY: F_DUPFD_CLOEXEC only reads `original`, an open socket Node has not closed
        // (JS calls this inside the call that hands it over, on the JS thread); it makes a
        // new number for the same open file description, which we then own.
        let dup = unsafe { libc::fcntl(original.number(), libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return None;
        }
        match Fd::borrow(i64::from(dup)) {
            Some(fd) => Some(fd),
            None => {
                // SAFETY: `dup` was made just above and nothing else knows it.
                unsafe { libc::close(dup) };
                None
            }
        }
    }

    /// Closes a descriptor made by [`duplicate`] (deregistered from the reactor first).
    pub fn close(fd: Fd) {
        // SAFETY: `fd` is a duplicate this process owns (see the module's rules: closed only
        // here, once, taken by value out of its client's outbox).
        unsafe { libc::close(fd.number()) };
    }

    /// The thread that watches detached descriptors (edge-triggered: epoll or kqueue).
    pub struct Reactor {
        registry: mio::Registry,
        waker: Waker,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
    }

    impl Reactor {
        /// Starts the thread; `on_ready` runs there for each batch of events (false: stop).
        pub fn start(
            on_ready: impl FnMut(&[Ready]) -> bool + Send + 'static,
        ) -> io::Result<Reactor> {
            let poll = Poll::new()?;
            let registry = poll.registry().try_clone()?;
            let waker = Waker::new(poll.registry(), WAKER)?;
            let stop = Arc::new(AtomicBool::new(false));
            let stopping = Arc::clone(&stop);
            let thread = std::thread::Builder::new()
                .name("simple-sse-rs detached".to_owned())
                .stack_size(256 * 1024)
                .spawn(move || run(poll, stopping, on_ready))?;
            Ok(Reactor {
                registry,
                waker,
                stop,
                thread: Some(thread),
            })
        }

        /// Watches client `id`'s descriptor: the peer leaving, bytes from it, room to write.
        pub fn watch(&self, id: u32, fd: &Fd) -> bool {
            let number = fd.number();
            self.registry
                .register(
                    &mut SourceFd(&number),
                    Token(id as usize),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .is_ok()
        }

        /// Stops watching a descriptor (before it is closed).
        pub fn forget(&self, fd: &Fd) {
            let number = fd.number();
            let _ = self.registry.deregister(&mut SourceFd(&number));
        }
    }

    impl Drop for Reactor {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Release);
            let _ = self.waker.wake();
            if let Some(thread) = self.thread.take() {
                // The last reference may be dropped on the reactor thread itself (it holds
                // the state for a moment while it reports): it then ends on its own.
                if thread.thread().id() != std::thread::current().id() {
                    let _ = thread.join();
                }
            }
        }
    }

    fn run(mut poll: Poll, stop: Arc<AtomicBool>, mut on_ready: impl FnMut(&[Ready]) -> bool) {
        let mut events = Events::with_capacity(256);
        let mut ready = Vec::new();
        loop {
            if let Err(err) = poll.poll(&mut events, None) {
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            if stop.load(Ordering::Acquire) {
                return;
            }
            ready.clear();
            for event in events.iter() {
                if event.token() == WAKER {
                    continue;
                }
                let Ok(id) = u32::try_from(event.token().0) else {
                    continue;
                };
                ready.push(Ready {
                    id,
                    gone: event.is_readable()
                        || event.is_read_closed()
                        || event.is_write_closed()
                        || event.is_error(),
                    writable: event.is_writable(),
                });
            }
            if ready.is_empty() {
                continue;
            }
            // A bug in the callback must not end the watching of every other client.
            let go_on = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| on_ready(&ready)))
                .unwrap_or(true);
            if !go_on {
                return;
            }
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use super::Ready;
    use crate::direct::Fd;
    use std::io;

    pub fn duplicate(_fd: i64) -> Option<Fd> {
        None
    }

    pub fn close(fd: Fd) {
        match fd {}
    }

    /// Never constructed on this platform.
    pub enum Reactor {}

    impl Reactor {
        pub fn start(
            _on_ready: impl FnMut(&[Ready]) -> bool + Send + 'static,
        ) -> io::Result<Reactor> {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no detached connections on this platform",
            ))
        }

        pub fn watch(&self, _id: u32, _fd: &Fd) -> bool {
            match *self {}
        }

        pub fn forget(&self, _fd: &Fd) {
            match *self {}
        }
    }
}

pub use imp::{close, duplicate, Reactor};

/// Starts a reactor, or says why it could not.
pub fn start(on_ready: impl FnMut(&[Ready]) -> bool + Send + 'static) -> io::Result<Reactor> {
    Reactor::start(on_ready)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::direct::{test_pair, write_all, Wrote};
    use std::io::{IoSlice, Read, Write};
    use std::os::fd::AsRawFd;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    /// A reactor that sends every event it sees to the returned receiver.
    fn reactor() -> (Reactor, mpsc::Receiver<Ready>) {
        let (tx, rx) = mpsc::channel();
        let reactor = start(move |events| {
            for event in events {
                let _ = tx.send(*event);
            }
            true
        })
        .expect("reactor");
        (reactor, rx)
    }

    /// The next event for `id` within `ms` (others are skipped).
    fn next_for(rx: &mpsc::Receiver<Ready>, id: u32, ms: u64) -> Option<Ready> {
        let until = Instant::now() + Duration::from_millis(ms);
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(event) if event.id == id => return Some(event),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    }

    #[test]
    fn the_duplicate_keeps_the_connection_after_the_original_closes_and_closes_it_once() {
        let (server, mut peer) = test_pair();
        let dup = duplicate(server.as_raw_fd() as i64).expect("a duplicate");
        assert_ne!(dup.number(), server.as_raw_fd());
        // Node closes its number (socket.destroy()): the connection stays open.
        drop(server);
        assert_eq!(
            write_all(&dup, &[IoSlice::new(b"still here")]),
            Wrote::Bytes(10)
        );
        let mut got = [0u8; 10];
        peer.read_exact(&mut got).expect("read");
        assert_eq!(&got, b"still here");
        // Closing the duplicate ends it: the peer reads the end of stream.
        close(dup);
        peer.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        assert_eq!(peer.read(&mut got).expect("eof"), 0);
    }

    #[test]
    fn only_nonblocking_stream_sockets_are_duplicated() {
        assert!(duplicate(-1).is_none());
        let file = std::fs::File::open("Cargo.toml").expect("file");
        assert!(duplicate(file.as_raw_fd() as i64).is_none());
        let (server, _peer) = test_pair();
        server.set_nonblocking(false).expect("blocking");
        assert!(duplicate(server.as_raw_fd() as i64).is_none());
    }

    #[test]
    fn the_peer_leaving_is_seen_at_once() {
        let (reactor, rx) = reactor();
        let (server, peer) = test_pair();
        let dup = duplicate(server.as_raw_fd() as i64).expect("dup");
        drop(server);
        assert!(reactor.watch(7, &dup));
        // Registered on a writable socket: one writable event, nothing gone.
        let first = next_for(&rx, 7, 2000).expect("an event");
        assert!(first.writable && !first.gone, "{first:?}");
        let at = Instant::now();
        drop(peer);
        let event = next_for(&rx, 7, 2000).expect("the hang-up");
        assert!(event.gone);
        assert!(
            at.elapsed() < Duration::from_millis(100),
            "{:?}",
            at.elapsed()
        );
        reactor.forget(&dup);
        close(dup);
    }

    #[test]
    fn bytes_from_the_peer_count_as_leaving() {
        let (reactor, rx) = reactor();
        let (server, mut peer) = test_pair();
        let dup = duplicate(server.as_raw_fd() as i64).expect("dup");
        drop(server);
        assert!(reactor.watch(3, &dup));
        let _ = next_for(&rx, 3, 2000);
        peer.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
        assert!(next_for(&rx, 3, 2000).expect("an event").gone);
        reactor.forget(&dup);
        close(dup);
    }

    #[test]
    fn room_to_write_is_reported_after_a_refusal() {
        let (reactor, rx) = reactor();
        let (server, mut peer) = test_pair();
        let dup = duplicate(server.as_raw_fd() as i64).expect("dup");
        drop(server);
        assert!(reactor.watch(5, &dup));
        let _ = next_for(&rx, 5, 2000);
        // Fill the socket until it refuses.
        let block = vec![b'x'; 1 << 16];
        let mut sent = 0;
        loop {
            match write_all(&dup, &[IoSlice::new(&block)]) {
                Wrote::Bytes(n) if n < block.len() => {
                    sent += n;
                    break;
                }
                Wrote::Bytes(n) => sent += n,
                Wrote::Gone => panic!("gone"),
            }
        }
        assert!(next_for(&rx, 5, 100).is_none(), "nothing while full");
        // The peer reads everything: the socket has room again.
        let mut buf = vec![0u8; 1 << 16];
        let mut read = 0;
        while read < sent {
            read += peer.read(&mut buf).expect("read");
        }
        let event = next_for(&rx, 5, 2000).expect("writable again");
        assert!(event.writable && !event.gone, "{event:?}");
        reactor.forget(&dup);
        close(dup);
    }

    #[test]
    fn a_forgotten_descriptor_reports_nothing_and_dropping_the_reactor_ends_its_thread() {
        let (reactor, rx) = reactor();
        let (server, peer) = test_pair();
        let dup = duplicate(server.as_raw_fd() as i64).expect("dup");
        drop(server);
        assert!(reactor.watch(9, &dup));
        let _ = next_for(&rx, 9, 2000);
        reactor.forget(&dup);
        drop(peer);
        assert!(next_for(&rx, 9, 200).is_none(), "deregistered");
        close(dup);
        drop(reactor);
        // The callback (and its sender) went with the thread.
        assert!(rx.recv_timeout(Duration::from_secs(2)).is_err());
    }
}
