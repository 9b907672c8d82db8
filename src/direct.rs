//! Writing straight to a client's socket (Unix only): Node's own descriptor of the
//! connection, and one `sendmsg` of many slices per call.
//!
//! [`Fd`] borrows the descriptor: it costs no descriptor of its own (a server can hold
//! as many direct clients as it can hold sockets) and never closes it. Borrowing is
//! safe only because of two rules, which keep a write from ever landing on a connection
//! that reused the number after Node closed it:
//!
//! - every write happens under the hub's state lock (`state::Shared::state`): on the
//!   JavaScript thread inside a call from JavaScript, or on a writer thread
//!   (`writer.rs`), which takes the client's descriptor from its outbox under that lock;
//! - JavaScript tells Rust to forget the descriptor (`Hub::forget_fd`, which takes the
//!   same lock and clears it from the outbox) *before* Node closes it:
//!   `lib/connection.js` wraps the `close` and `reset` of the socket's handle, the only
//!   two ways Node closes a connected socket, and each runs on that thread.
//!
//! So while a write runs, `forget_fd` cannot, and Node has not closed the number; after
//! `forget_fd` no write can find it. The kernel cannot have handed the number to
//! another connection while Rust may write to it.
//!
//! Writes never block (the socket is non-blocking and `MSG_DONTWAIT` is passed) and
//! never raise `SIGPIPE` (`MSG_NOSIGNAL` where the platform has it; elsewhere Node
//! ignores `SIGPIPE` process-wide). On other platforms (Windows, WASI) `SUPPORTED` is
//! false, `Fd::borrow` always declines and JavaScript keeps writing through Node.

use std::io::IoSlice;

/// Whether this build can write to sockets directly.
pub const SUPPORTED: bool = cfg!(unix);

/// At most this many slices go to one system call (POSIX guarantees at least 16; Linux
/// and the BSDs allow 1024).
pub const MAX_SLICES: usize = 1024;

/// What one write did.
#[derive(Debug, PartialEq, Eq)]
pub enum Wrote {
    /// This many bytes went out (0: the socket is full right now).
    Bytes(usize),
    /// The connection is broken (`EPIPE`, `ECONNRESET`, …): nothing more can be written.
    Gone,
}

#[cfg(unix)]
mod imp {
    use super::Wrote;
    use std::io::{Error, IoSlice};
    use std::num::NonZeroU32;
    use std::os::fd::RawFd;

    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "illumos",
        target_os = "solaris"
    ))]
    const FLAGS: libc::c_int = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "illumos",
        target_os = "solaris"
    )))]
    const FLAGS: libc::c_int = libc::MSG_DONTWAIT;

    /// A borrowed descriptor of a connected, non-blocking stream socket (see the module
    /// documentation for why it stays valid while held). Never closed here. Kept as the
    /// number plus one, so that `Option<Fd>` is as small as `Fd`.
    #[derive(Debug, PartialEq, Eq)]
    pub struct Fd(NonZeroU32);

    impl Fd {
        /// Borrows `fd` when it is an open, non-blocking stream socket.
        pub fn borrow(fd: i64) -> Option<Fd> {
            let plus_one = u32::try_from(fd).ok().filter(|fd| *fd < i32::MAX as u32)? + 1;
            let fd = Fd(NonZeroU32::new(plus_one)?);
            fd.is_stream_socket().then_some(fd)
        }

        /// The descriptor's number.
        pub fn number(&self) -> RawFd {
            // At most i32::MAX - 1 by construction.
            (self.0.get() - 1) as RawFd
        }

        fn is_stream_socket(&self) -> bool {
            let mut kind: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: `kind` and `len` are valid for writes of the sizes passed;
            // getsockopt and fcntl(F_GETFL) only read, and fail with EBADF/ENOTSOCK
            // on a descriptor that is not an open socket, which we treat as "no".
            let got = unsafe {
                libc::getsockopt(
                    self.number(),
                    libc::SOL_SOCKET,
                    libc::SO_TYPE,
                    (&mut kind as *mut libc::c_int).cast(),
                    &mut len,
                )
            };
            // SAFETY: F_GETFL only reads the open file description's flags.
            let flags = unsafe { libc::fcntl(self.number(), libc::F_GETFL) };
            got == 0 && kind == libc::SOCK_STREAM && flags >= 0 && flags & libc::O_NONBLOCK != 0
        }

        /// Writes `bufs` in order with one system call, never blocking.
        pub fn write(&self, bufs: &[IoSlice<'_>]) -> Wrote {
            let bufs = &bufs[..bufs.len().min(super::MAX_SLICES)];
            // SAFETY: a zeroed msghdr is valid (no name, no control data).
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            // `IoSlice` is guaranteed ABI-compatible with `iovec` on Unix; sendmsg only reads
            // through these pointers, and `bufs` outlives the call.
            msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
            msg.msg_iovlen = bufs.len() as _;
            loop {
                // SAFETY: the descriptor is still this client's open socket (the rules in
                // the module documentation); sendmsg only reads the `bufs.len()` valid
                // iovecs `msg` points at, and `bufs` outlives the call.
                let n = unsafe { libc::sendmsg(self.number(), &msg, FLAGS) };
                if n >= 0 {
                    return Wrote::Bytes(n as usize);
                }
                match Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(e)
                        if e == libc::EAGAIN || e == libc::EWOULDBLOCK || e == libc::ENOBUFS =>
                    {
                        return Wrote::Bytes(0)
                    }
                    _ => return Wrote::Gone,
                }
            }
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use super::Wrote;
    use std::io::IoSlice;

    /// Never constructed on this platform.
    #[derive(Debug, PartialEq, Eq)]
    pub enum Fd {}

    impl Fd {
        pub fn borrow(_fd: i64) -> Option<Fd> {
            None
        }

        pub fn number(&self) -> i32 {
            match *self {}
        }

        pub fn write(&self, _bufs: &[IoSlice<'_>]) -> Wrote {
            match *self {}
        }
    }
}

pub use imp::Fd;

/// Writes all of `bufs` (any number of slices) until done or the socket refuses.
pub fn write_all(fd: &Fd, bufs: &[IoSlice<'_>]) -> Wrote {
    let mut total = 0;
    let mut at = 0;
    while at < bufs.len() {
        let part = &bufs[at..bufs.len().min(at + MAX_SLICES)];
        let want: usize = part.iter().map(|b| b.len()).sum();
        match fd.write(part) {
            Wrote::Gone => return Wrote::Gone,
            Wrote::Bytes(n) => {
                total += n;
                if n < want {
                    break;
                }
            }
        }
        at += part.len();
    }
    Wrote::Bytes(total)
}

/// A connected TCP pair on 127.0.0.1: the server side (non-blocking, as Node's sockets
/// are) and its peer. For tests here and in `delivery`.
#[cfg(all(test, unix))]
pub(crate) fn test_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let peer = std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    server.set_nonblocking(true).expect("nonblocking");
    (server, peer)
}

/// Everything `peer` receives until it has been idle for ~100 ms (or the connection ends).
#[cfg(all(test, unix))]
pub(crate) fn test_read_all(peer: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read;
    peer.set_nonblocking(true).expect("nonblocking");
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut idle = 0;
    while idle < 50 {
        match peer.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                idle = 0;
            }
            Err(_) => {
                idle += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
    }
    got
}

#[cfg(all(test, unix))]
mod tests {
    use super::test_pair as pair;
    use super::*;
    use std::io::Read;
    use std::net::TcpStream;
    use std::os::fd::AsRawFd;

    fn read_some(peer: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut out = vec![0; n];
        peer.read_exact(&mut out).expect("read");
        out
    }

    #[test]
    fn writes_every_slice_in_order_with_one_call() {
        let (server, mut peer) = pair();
        let fd = Fd::borrow(server.as_raw_fd() as i64).expect("a socket");
        let wrote = fd.write(&[
            IoSlice::new(b"3\r\n"),
            IoSlice::new(b"abc"),
            IoSlice::new(b"\r\n"),
        ]);
        assert_eq!(wrote, Wrote::Bytes(8));
        assert_eq!(read_some(&mut peer, 8), b"3\r\nabc\r\n");
    }

    #[test]
    fn refuses_what_is_not_a_nonblocking_stream_socket() {
        assert!(Fd::borrow(-1).is_none());
        assert!(Fd::borrow(1 << 40).is_none());
        let file = std::fs::File::open("Cargo.toml").expect("file");
        assert!(Fd::borrow(file.as_raw_fd() as i64).is_none(), "a file");
        let (server, _peer) = pair();
        server.set_nonblocking(false).expect("blocking");
        assert!(
            Fd::borrow(server.as_raw_fd() as i64).is_none(),
            "a blocking socket"
        );
    }

    #[test]
    fn borrowing_costs_no_descriptor_and_never_closes_it() {
        let (server, mut peer) = pair();
        {
            let fd = Fd::borrow(server.as_raw_fd() as i64).expect("a socket");
            assert_eq!(fd.number(), server.as_raw_fd());
        }
        // Still open: the connection works, and Node's close is the only one.
        let again = Fd::borrow(server.as_raw_fd() as i64).expect("still a socket");
        assert_eq!(again.write(&[IoSlice::new(b"open")]), Wrote::Bytes(4));
        assert_eq!(read_some(&mut peer, 4), b"open");
    }

    #[test]
    fn a_full_socket_takes_part_then_nothing() {
        let (server, mut peer) = pair();
        let fd = Fd::borrow(server.as_raw_fd() as i64).expect("a socket");
        let block = vec![7u8; 1 << 20];
        let mut sent = 0;
        let mut saw_zero = false;
        for _ in 0..256 {
            match write_all(&fd, &[IoSlice::new(&block)]) {
                Wrote::Bytes(0) => {
                    saw_zero = true;
                    break;
                }
                Wrote::Bytes(n) => sent += n,
                Wrote::Gone => panic!("gone"),
            }
        }
        assert!(saw_zero, "the socket never pushed back");
        assert!(sent > 0);
        // Everything the kernel took arrives, none of what it refused.
        assert_eq!(super::test_read_all(&mut peer).len(), sent);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_broken_connection_is_gone_without_sigpipe() {
        // With SIGPIPE at its default action, a write that raised it would kill this
        // test process; MSG_NOSIGNAL must prevent that.
        // SAFETY (test): setting a signal disposition; restored below.
        let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        let (server, peer) = pair();
        let fd = Fd::borrow(server.as_raw_fd() as i64).expect("a socket");
        // The peer goes away; our side stays open (Node has not closed it).
        drop(peer);
        let mut gone = false;
        for _ in 0..100 {
            if fd.write(&[IoSlice::new(b"x")]) == Wrote::Gone {
                gone = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        // SAFETY (test): restores the previous disposition.
        unsafe { libc::signal(libc::SIGPIPE, old) };
        assert!(gone, "writes to a closed peer end in Gone");
    }
}
