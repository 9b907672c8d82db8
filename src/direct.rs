//! Writing straight to a client's socket (Unix only): a private duplicate of the
//! connection's file descriptor and one `sendmsg` of many slices per call.
//!
//! Why a duplicate: Node may close its descriptor at any moment (the peer went away,
//! the app destroyed the response), and the kernel hands the same number to the next
//! connection it accepts. A duplicate names the *socket*, not the number: until we close
//! it, it can only ever reach the connection it was made from, so a write can never
//! land on another user's connection. The duplicate also keeps that socket open after
//! Node closed its own descriptor, so it is closed as soon as the client is removed
//! (`Drop`). It is never `shutdown()`: that would end Node's side of the connection too.
//!
//! Writes never block (the socket is non-blocking and `MSG_DONTWAIT` is passed) and
//! never raise `SIGPIPE` (`MSG_NOSIGNAL` where the platform has it; elsewhere Node
//! ignores `SIGPIPE` process-wide). On other platforms (Windows, WASI) `SUPPORTED` is
//! false, `Fd::dup` always declines and JavaScript keeps writing through Node.

use std::io::IoSlice;

/// Whether this build can write to sockets directly.
pub const SUPPORTED: bool = cfg!(unix);

/// At most this many slices go to one system call (POSIX guarantees at least 16; Linux
/// and the BSDs allow 1024).
pub const MAX_SLICES: usize = 1024;

/// Why a descriptor was not duplicated.
#[derive(Debug, PartialEq, Eq)]
pub enum Declined {
    /// Not a non-blocking stream socket (or not this platform).
    NotASocket,
    /// A duplicate would leave less than a quarter of the descriptor limit free.
    Crowded,
    /// Less than a sixteenth would be left (or none at all): existing duplicates should
    /// be given back, or the server may soon fail to accept connections.
    Scarce,
}

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
    use super::{Declined, Wrote};
    use std::io::{Error, IoSlice};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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

    /// An owned duplicate of a connected, non-blocking stream socket (closed on drop).
    #[derive(Debug)]
    pub struct Fd(OwnedFd);

    impl Fd {
        /// Duplicates `fd` when it is a non-blocking stream socket and descriptors are plentiful.
        pub fn dup(fd: i64) -> Result<Fd, Declined> {
            let fd = libc::c_int::try_from(fd)
                .ok()
                .filter(|fd| *fd >= 0)
                .ok_or(Declined::NotASocket)?;
            // SAFETY: fcntl(F_DUPFD_CLOEXEC) only reads the descriptor table; an invalid
            // `fd` makes it fail with EBADF, which we treat as "no".
            let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
            if dup < 0 {
                return Err(match Error::last_os_error().raw_os_error() {
                    Some(libc::EMFILE) | Some(libc::ENFILE) => Declined::Scarce,
                    _ => Declined::NotASocket,
                });
            }
            // SAFETY: `dup` is a descriptor we just created and nothing else owns; from
            // here `OwnedFd` closes it exactly once (any early return included).
            let owned = Fd(unsafe { OwnedFd::from_raw_fd(dup) });
            if !owned.is_stream_socket() {
                return Err(Declined::NotASocket);
            }
            owned.room()?;
            Ok(owned)
        }

        /// A duplicate costs a descriptor: decline when it would leave less than a quarter
        /// of the limit free, so the server can still accept connections (JS writes them).
        // rlim_t is u64 here but not on every Unix: the casts are for those.
        #[allow(clippy::unnecessary_cast)]
        fn room(&self) -> Result<(), Declined> {
            // SAFETY: a zeroed rlimit is valid, and getrlimit writes only into it.
            let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
            // SAFETY: `limit` is valid for writes.
            if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
                return Ok(());
            }
            let soft = limit.rlim_cur as u64;
            // Descriptors are handed out lowest first: the duplicate's number is about
            // how many are open.
            let number = self.0.as_raw_fd() as u64;
            if soft == libc::RLIM_INFINITY as u64 || number < soft - soft / 4 {
                Ok(())
            } else if number < soft - soft / 16 {
                Err(Declined::Crowded)
            } else {
                Err(Declined::Scarce)
            }
        }

        fn is_stream_socket(&self) -> bool {
            let mut kind: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: `kind` and `len` are valid for writes of the sizes passed; the
            // descriptor is ours and open.
            let got = unsafe {
                libc::getsockopt(
                    self.0.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_TYPE,
                    (&mut kind as *mut libc::c_int).cast(),
                    &mut len,
                )
            };
            // SAFETY: F_GETFL only reads the open file description's flags.
            let flags = unsafe { libc::fcntl(self.0.as_raw_fd(), libc::F_GETFL) };
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
                // SAFETY: the descriptor is ours and open (closed only in Drop); `msg`
                // points at `bufs.len()` valid iovecs.
                let n = unsafe { libc::sendmsg(self.0.as_raw_fd(), &msg, FLAGS) };
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
    use super::{Declined, Wrote};
    use std::io::IoSlice;

    /// Never constructed on this platform.
    #[derive(Debug)]
    pub enum Fd {}

    impl Fd {
        pub fn dup(_fd: i64) -> Result<Fd, Declined> {
            Err(Declined::NotASocket)
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::{AsRawFd, IntoRawFd};

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        server.set_nonblocking(true).expect("nonblocking");
        (server, client)
    }

    fn read_some(peer: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut out = vec![0; n];
        peer.read_exact(&mut out).expect("read");
        out
    }

    #[test]
    fn writes_every_slice_in_order_with_one_call() {
        let (server, mut peer) = pair();
        let fd = Fd::dup(server.as_raw_fd() as i64).expect("a socket");
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
        assert!(Fd::dup(-1).is_err());
        assert!(Fd::dup(1 << 40).is_err());
        let file = std::fs::File::open("Cargo.toml").expect("file");
        assert!(Fd::dup(file.as_raw_fd() as i64).is_err(), "a file");
        let (server, _peer) = pair();
        server.set_nonblocking(false).expect("blocking");
        assert!(
            Fd::dup(server.as_raw_fd() as i64).is_err(),
            "a blocking socket"
        );
    }

    #[test]
    fn the_duplicate_never_reaches_a_connection_that_reused_the_number() {
        let (first, mut first_peer) = pair();
        let fd = Fd::dup(first.as_raw_fd() as i64).expect("a socket");
        let number = first.into_raw_fd();
        // SAFETY (test): we own `number` and close it once, as Node would.
        unsafe { libc::close(number) };
        // The next socket usually gets the freed number; whichever it gets, our writes
        // must go to the first connection only.
        let (second, mut second_peer) = pair();
        fd.write(&[IoSlice::new(b"mine")]);
        assert_eq!(read_some(&mut first_peer, 4), b"mine");
        second_peer.set_nonblocking(true).expect("nonblocking");
        let mut buf = [0u8; 8];
        assert!(
            second_peer.read(&mut buf).is_err(),
            "nothing reached the other connection"
        );
        drop(second);
        // Dropping the duplicate closes the last descriptor: the first peer sees the end.
        drop(fd);
        first_peer.set_nonblocking(false).expect("blocking");
        assert_eq!(first_peer.read(&mut buf).expect("eof"), 0);
    }

    #[test]
    fn a_full_socket_takes_part_then_nothing() {
        let (server, mut peer) = pair();
        let fd = Fd::dup(server.as_raw_fd() as i64).expect("a socket");
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
        peer.set_nonblocking(true).expect("nonblocking");
        let mut got = 0;
        let mut buf = vec![0u8; 1 << 16];
        let mut idle = 0;
        while idle < 50 {
            match peer.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    got += n;
                    idle = 0;
                }
                Err(_) => {
                    idle += 1;
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            }
        }
        assert_eq!(got, sent);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_broken_connection_is_gone_without_sigpipe() {
        // With SIGPIPE at its default action, a write that raised it would kill this
        // test process; MSG_NOSIGNAL must prevent that.
        // SAFETY (test): setting a signal disposition; restored below.
        let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        let (server, peer) = pair();
        let fd = Fd::dup(server.as_raw_fd() as i64).expect("a socket");
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
