//! The writer threads: they write the direct clients' turns to their sockets, so that
//! the JavaScript thread's cost of a fan-out is queueing, not the kernel's per-socket
//! write. What they write, and what happens when a socket refuses, is `delivery.rs`'s
//! (`Delivery::write_handed`); this module owns the threads, when they run, and how they
//! give way to the JavaScript thread.
//!
//! Every write happens under the state lock, as every other use of a borrowed
//! descriptor does (see `direct.rs`): JS's `forgetFd` (before Node closes a socket), its
//! `take` (before the app's own `res.write`/`res.end`), `setDirect` and `remove` take
//! the same lock, so none of them runs while a writer writes, and what they change is
//! seen by the next write. A writer holds the lock for at most [`BATCH`] clients and
//! gives it up (fairly, to a waiting thread) as soon as the JavaScript thread asks for
//! it ([`Writers::js_waiting`]): the JavaScript thread waits at most one `sendmsg`.
//!
//! They also expand the fan-outs deferred by `broadcast` and heartbeats (`deferred.rs`),
//! [`PART`] receivers at a time, giving way to the JavaScript thread between parts in
//! the same way, and hand the direct clients each part made dirty straight to their own
//! queue; when a fan-out is done, or clients need JavaScript (framed ones), they wake it.
//!
//! The number of threads is `SIMPLE_SSE_RS_WRITERS` (default 1; 0: no threads, the
//! JavaScript thread writes at the end of each turn, as before). Since writes share one
//! lock, more threads do not write faster; see docs/how-it-works.md.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::deferred::PART;
use crate::state::{Shared, State};

/// The most clients a writer writes before it lets go of the lock.
pub const BATCH: usize = 32;

/// The most parts of a deferred fan-out a writer expands before it lets go of the lock.
pub const PARTS: usize = 8;

/// The most writer threads `SIMPLE_SSE_RS_WRITERS` may ask for.
pub const MAX_THREADS: usize = 16;

/// The threads' shared controls (in [`Shared`]).
pub struct Writers {
    /// Signalled when clients were handed to the writers, and on stop.
    work: Condvar,
    /// Signalled when the writers' queue is empty.
    idle: Condvar,
    /// Lock requests of the JavaScript thread under way: writers give way to them.
    pub js_waiting: AtomicUsize,
    stop: AtomicBool,
    /// How many threads to run (0: none).
    count: usize,
    started: Mutex<bool>,
}

/// The thread count `SIMPLE_SSE_RS_WRITERS` asks for (default 1).
fn configured() -> usize {
    std::env::var("SIMPLE_SSE_RS_WRITERS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(1, |n| n.min(MAX_THREADS))
}

impl Default for Writers {
    fn default() -> Self {
        Writers::with_count(if crate::direct::SUPPORTED {
            configured()
        } else {
            0
        })
    }
}

impl Writers {
    pub fn with_count(count: usize) -> Self {
        Writers {
            work: Condvar::new(),
            idle: Condvar::new(),
            js_waiting: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            count,
            started: Mutex::new(false),
        }
    }

    /// How many writer threads this hub runs (0: the JavaScript thread writes).
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether the threads were started (by the first flush that handed them a client).
    pub fn running(&self) -> bool {
        self.count > 0 && *self.started.lock()
    }

    /// Wakes the threads: clients were handed to them, or a fan-out was deferred.
    pub fn notify(&self) {
        self.work.notify_all();
    }

    /// After a flush handed clients to the writers: starts them the first time, and
    /// wakes them. When no thread can be started, writes here instead.
    pub fn handed(shared: &Arc<Shared>, st: &mut State) {
        if !st.out.has_handed() {
            return;
        }
        let writers = &shared.writers;
        let mut started = writers.started.lock();
        if !*started {
            *started = true;
            for n in 0..writers.count {
                let mine = Arc::clone(shared);
                let spawned = std::thread::Builder::new()
                    .name(format!("sse-writer-{n}"))
                    .spawn(move || run(&mine));
                if spawned.is_err() && n == 0 {
                    // No thread at all: the JavaScript thread goes on writing.
                    st.out.threaded = false;
                }
            }
        }
        drop(started);
        if st.out.threaded {
            writers.work.notify_all();
        } else if write_all(st) {
            shared.wake();
        }
    }

    /// Waits until the writers wrote every direct client handed to them by a flush so
    /// far, or found it refused (then its rest waits for JS's next flush).
    pub fn wait_idle(&self, st: &mut MutexGuard<'_, State>) {
        while st.out.has_handed() && !self.stop.load(Ordering::Acquire) {
            self.idle.wait(st);
        }
    }

    /// Stops the threads (the hub is going away); they leave what is queued.
    pub fn stop(&self, st: &mut State) {
        self.stop.store(true, Ordering::Release);
        let _ = st;
        self.work.notify_all();
        self.idle.notify_all();
    }
}

/// Where the writers share a core with the JavaScript thread, the scheduler lets the
/// JavaScript thread run first (Linux: a nice value of 10 for this thread only). A
/// writer then writes in the JavaScript thread's idle time, however long its pass.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take no pointers; raising one's own nice value is
    // always permitted, and a failure leaves the thread at its priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, NICE);
    }
}

/// The writers' nice value (Linux), relative to nothing: set, not added.
#[cfg(target_os = "linux")]
const NICE: libc::c_int = 10;

/// Writes every handed client on this thread (no writer thread could start). True
/// when JS must run.
fn write_all(st: &mut State) -> bool {
    let mut wake = false;
    while let Some(id) = st.out.next_handed() {
        wake |= write_one(st, id);
    }
    wake
}

/// Writes one handed client; true when JS must run.
fn write_one(st: &mut State, id: u32) -> bool {
    let State {
        reg, out, replays, ..
    } = st;
    let mut wake = out.write_handed(reg, id);
    if let Some(outbox) = reg.get_mut(id) {
        // A replay's step went out: the next one follows.
        wake |= replays.written(id, outbox);
    }
    wake
}

/// One writer thread. Should it ever panic (a bug), the JavaScript thread takes the
/// writes back instead of waiting for a thread that is gone.
fn run(shared: &Arc<Shared>) {
    lower_priority();
    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serve(shared)));
    if served.is_err() {
        let mut st = shared.raw().lock();
        let State { reg, out, .. } = &mut *st;
        out.threaded = false;
        out.reclaim_handed(reg);
        shared.writers.idle.notify_all();
        drop(st);
        shared.wake();
    }
}

/// Waits for deferred fan-outs and handed clients; expands the first ([`PARTS`] parts at
/// a time) and writes the second ([`BATCH`] at a time).
fn serve(shared: &Arc<Shared>) {
    let writers = &shared.writers;
    let mut st = shared.raw().lock();
    loop {
        if writers.stop.load(Ordering::Acquire) {
            return;
        }
        let expanding = !st.deferred.is_empty();
        if !expanding && !st.out.has_handed() {
            writers.idle.notify_all();
            writers.work.wait(&mut st);
            continue;
        }
        let mut wake = expanding && expand_parts(&mut st, &writers.js_waiting);
        for _ in 0..BATCH {
            let Some(id) = st.out.next_handed() else {
                break;
            };
            wake |= write_one(&mut st, id);
            if writers.js_waiting.load(Ordering::Acquire) > 0 {
                break;
            }
        }
        if !st.out.has_handed() && st.deferred.is_empty() {
            writers.idle.notify_all();
        }
        // Never call into JS (or wake it) with the lock held; hand the lock straight to
        // a thread waiting for it.
        MutexGuard::unlocked_fair(&mut st, || {
            if wake {
                shared.wake();
            }
        });
    }
}

/// Expands deferred fan-outs, [`PART`] receivers at a time, until they are done, the
/// JavaScript thread asks for the lock, or [`PARTS`] parts went by; the direct clients
/// made dirty go to the writers' queue. True when JS must run: the fan-outs are done (the
/// event loop it holds for them may go), or clients wait for JavaScript.
fn expand_parts(st: &mut State, js_waiting: &AtomicUsize) -> bool {
    let mut left = true;
    for _ in 0..PARTS {
        left = st.expand(PART);
        if !left || js_waiting.load(Ordering::Acquire) > 0 {
            break;
        }
    }
    let State { reg, out, .. } = st;
    out.hand_dirty(reg);
    !left || out.has_work()
}

#[cfg(all(test, unix))]
mod tests {
    use crate::delivery::{Batch, Delivery, Outbox};
    use crate::direct::{test_pair, test_read_all, Fd};
    use crate::outbox::{test_dechunk, Writer};
    use crate::registry::Registry;
    use parking_lot::Mutex;
    use std::io::Read;
    use std::net::TcpStream;
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    struct St {
        reg: Registry<Outbox>,
        out: Delivery,
    }

    fn threaded() -> St {
        let mut out = Delivery::default();
        out.threaded = true;
        St {
            reg: Registry::default(),
            out,
        }
    }

    fn direct(st: &mut St, server: &TcpStream) -> u32 {
        let id = st.reg.add(Outbox::default()).expect("id");
        let fd = Fd::borrow(server.as_raw_fd() as i64).expect("a socket");
        let outbox = st.reg.get_mut(id).expect("client");
        assert!(st.out.set_direct(id, outbox, fd));
        id
    }

    fn push(st: &mut St, id: u32, bytes: &[u8]) {
        let outbox = st.reg.get_mut(id).expect("client");
        st.out
            .push(id, outbox, bytes.len(), |buf| buf.extend_from_slice(bytes));
    }

    fn flush(st: &mut St) -> Batch {
        st.out.flush(&mut st.reg)
    }

    /// What a writer thread does with the queue: every handed client, in order.
    fn write_queue(st: &mut St) -> bool {
        let mut wake = false;
        while let Some(id) = st.out.next_handed() {
            wake |= st.out.write_handed(&mut st.reg, id);
        }
        wake
    }

    #[test]
    fn a_flush_hands_direct_clients_to_the_writers_and_writes_nothing_itself() {
        let mut st = threaded();
        let (server, mut peer) = test_pair();
        let id = direct(&mut st, &server);
        push(&mut st, id, b"data: a\n\n");
        assert!(flush(&mut st).is_empty());
        assert_eq!(st.out.to_write, [id]);
        // What comes before the writer gets to it joins the same write.
        push(&mut st, id, b"data: b\n\n");
        assert!(flush(&mut st).is_empty());
        assert_eq!(st.out.to_write, [id], "handed once");
        assert!(!write_queue(&mut st));
        let mut want = b"12\r\ndata: a\n\ndata: b\n\n\r\n".to_vec();
        let mut got = vec![0; want.len()];
        peer.read_exact(&mut got).expect("read");
        assert_eq!(got, want);
        // Then it is a new turn: dirty again, handed again.
        push(&mut st, id, b"data: c\n\n");
        flush(&mut st);
        write_queue(&mut st);
        want = b"9\r\ndata: c\n\n\r\n".to_vec();
        let mut got = vec![0; want.len()];
        peer.read_exact(&mut got).expect("read");
        assert_eq!(got, want);
    }

    #[test]
    fn frames_from_the_js_thread_while_a_writer_runs_arrive_in_order_coalesced() {
        let st = Arc::new(Mutex::new(threaded()));
        let (server, peer) = test_pair();
        let id = direct(&mut st.lock(), &server);
        let done = Arc::new(AtomicBool::new(false));
        let writer = {
            let (st, done) = (Arc::clone(&st), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut writes = 0;
                loop {
                    let finished = done.load(Ordering::Acquire);
                    let mut st = st.lock();
                    if !st.out.to_write.is_empty() {
                        writes += 1;
                    }
                    write_queue(&mut st);
                    if finished && st.out.to_write.is_empty() {
                        return writes;
                    }
                    drop(st);
                    std::thread::yield_now();
                }
            })
        };
        let reader = std::thread::spawn(move || {
            let mut peer = peer;
            test_read_all(&mut peer)
        });
        let mut sent = Vec::new();
        for turn in 0..2000 {
            let mut st = st.lock();
            for k in 0..3 {
                let frame = format!("data: {turn}.{k}\n\n");
                push(&mut st, id, frame.as_bytes());
                sent.extend_from_slice(frame.as_bytes());
            }
            assert!(flush(&mut st).is_empty(), "loopback keeps up");
        }
        done.store(true, Ordering::Release);
        let writes = writer.join().expect("writer");
        let wire = reader.join().expect("reader");
        assert_eq!(test_dechunk(&wire), sent, "every frame, in order, once");
        assert!(writes <= 2000, "{writes} writes");
    }

    #[test]
    fn what_a_socket_refuses_goes_to_js_on_the_next_flush_and_the_client_pauses() {
        let mut st = threaded();
        st.out.set_max_pending(usize::MAX);
        let (server, mut peer) = test_pair();
        let id = direct(&mut st, &server);
        let mut sent = Vec::new();
        let mut handed = Vec::new();
        for n in 0..2000 {
            let frame = format!("data: {n}:{}\n\n", "p".repeat(60_000));
            push(&mut st, id, frame.as_bytes());
            sent.extend_from_slice(frame.as_bytes());
            assert!(
                flush(&mut st).is_empty(),
                "nothing for JS before the writer ran"
            );
            if write_queue(&mut st) {
                // The writer wakes JS: its flush hands the rest to Node and pauses.
                assert_eq!(st.reg.get_mut(id).expect("client").writer, Writer::Refused);
                let batch = flush(&mut st);
                assert_eq!(batch.index.len(), 4, "one entry, this client");
                assert_eq!(batch.index[0], id);
                handed = batch.data.to_vec();
                break;
            }
        }
        assert!(!handed.is_empty(), "the socket never refused");
        let outbox = st.reg.get_mut(id).expect("client");
        assert!(outbox.paused && outbox.writer == Writer::Idle);
        // Paused: nothing goes to the writers until Node has written its part.
        push(&mut st, id, b"data: last\n\n");
        sent.extend_from_slice(b"data: last\n\n");
        assert!(flush(&mut st).is_empty());
        assert!(st.out.to_write.is_empty());
        let from_kernel = test_read_all(&mut peer);
        assert!(st.out.resume(id, st.reg.get_mut(id).expect("client")));
        flush(&mut st);
        write_queue(&mut st);
        let rest = test_read_all(&mut peer);
        let wire = [from_kernel, handed, rest].concat();
        assert_eq!(test_dechunk(&wire), sent, "every byte once, in order");
    }

    #[test]
    fn take_before_the_writer_gets_to_a_client_leaves_it_nothing_to_write() {
        let mut st = threaded();
        let (server, mut peer) = test_pair();
        let id = direct(&mut st, &server);
        push(&mut st, id, b"data: a\n\n");
        flush(&mut st);
        // The app's own res.write: JS takes what is queued (Node writes it, first).
        let taken = st.out.take(st.reg.get_mut(id).expect("client"));
        assert_eq!(taken, b"9\r\ndata: a\n\n\r\n");
        assert!(!write_queue(&mut st));
        assert!(
            test_read_all(&mut peer).is_empty(),
            "the writer wrote nothing"
        );
        // The next frame is a new turn, handed anew (the stale entry is gone).
        push(&mut st, id, b"data: b\n\n");
        flush(&mut st);
        assert_eq!(st.out.to_write, [id]);
        write_queue(&mut st);
        assert_eq!(test_read_all(&mut peer), b"9\r\ndata: b\n\n\r\n");
    }

    #[test]
    fn a_descriptor_forgotten_while_queued_is_never_written_and_its_bytes_go_to_js() {
        let mut st = threaded();
        let (server, mut peer) = test_pair();
        let id = direct(&mut st, &server);
        push(&mut st, id, b"data: a\n\n");
        flush(&mut st);
        assert!(st.out.forget_fd(&mut st.reg, server.as_raw_fd() as i64));
        assert!(write_queue(&mut st), "JS must run: its bytes are JS's now");
        assert!(test_read_all(&mut peer).is_empty());
        let batch = flush(&mut st);
        assert_eq!(batch.data, b"9\r\ndata: a\n\n\r\n", "framed, for Node");
    }

    #[test]
    fn without_writers_the_js_thread_takes_the_handed_clients_back() {
        let mut st = threaded();
        let (server, mut peer) = test_pair();
        let id = direct(&mut st, &server);
        push(&mut st, id, b"data: a\n\n");
        flush(&mut st);
        st.out.threaded = false;
        st.out.reclaim_handed(&mut st.reg);
        assert!(st.out.to_write.is_empty());
        assert!(st.out.has_work());
        push(&mut st, id, b"data: b\n\n");
        assert!(flush(&mut st).is_empty(), "written here");
        assert_eq!(
            test_read_all(&mut peer),
            b"12\r\ndata: a\n\ndata: b\n\n\r\n"
        );
    }

    /// The descriptor rule at thread speed: a writer thread writes a stream of turns while
    /// this thread forgets the descriptor, closes it and lets a new socket take the
    /// number. The new socket's peer must get nothing.
    #[test]
    fn forget_during_writes_then_reuse_of_the_number_gets_nothing() {
        let mut reuses = 0;
        for _ in 0..20 {
            let st = Arc::new(Mutex::new(threaded()));
            let (server, peer) = test_pair();
            let number = server.as_raw_fd();
            let id = direct(&mut st.lock(), &server);
            let stop = Arc::new(AtomicBool::new(false));
            let writer = {
                let (st, stop) = (Arc::clone(&st), Arc::clone(&stop));
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        write_queue(&mut st.lock());
                        std::thread::yield_now();
                    }
                })
            };
            let reader = std::thread::spawn(move || {
                let mut peer = peer;
                test_read_all(&mut peer)
            });
            for n in 0..200 {
                let mut st = st.lock();
                push(&mut st, id, format!("data: {n}\n\n").as_bytes());
                flush(&mut st);
            }
            {
                // As JS's close wrapper does: forget, then Node closes.
                let mut st = st.lock();
                push(&mut st, id, b"data: after\n\n");
                flush(&mut st);
                let St { reg, out } = &mut *st;
                assert!(out.forget_fd(reg, number as i64));
            }
            drop(server);
            // The lowest free number goes to the next descriptor made: one end of a
            // pair, whose other end would read anything written to the old number.
            let (a, b) = std::os::unix::net::UnixStream::pair().expect("socketpair");
            let (reused, mut newcomer_peer) = if b.as_raw_fd() == number {
                (b, a)
            } else {
                (a, b)
            };
            if reused.as_raw_fd() == number {
                reuses += 1;
            }
            newcomer_peer.set_nonblocking(true).expect("nonblocking");
            for n in 0..50 {
                let mut st = st.lock();
                push(&mut st, id, format!("data: late {n}\n\n").as_bytes());
                flush(&mut st);
            }
            stop.store(true, Ordering::Release);
            writer.join().expect("writer");
            let mut got = vec![0u8; 4096];
            let got = match newcomer_peer.read(&mut got) {
                Ok(n) => got[..n].to_vec(),
                Err(_) => Vec::new(),
            };
            assert!(
                got.is_empty(),
                "the socket that took number {number} got {} bytes",
                got.len()
            );
            let old =
                String::from_utf8(test_dechunk(&reader.join().expect("reader"))).expect("utf-8");
            assert!(!old.contains("after") && !old.contains("late"));
            drop(reused);
        }
        assert!(
            reuses > 0,
            "the number was never reused: this proves nothing"
        );
    }

    /// A [`State`] whose direct clients the writers write, with `n` direct clients, each
    /// with its peer.
    fn threaded_state(n: usize) -> (crate::state::State, Vec<(u32, TcpStream, TcpStream)>) {
        let mut st = crate::state::State::default();
        st.out.threaded = true;
        let clients = (0..n)
            .map(|_| {
                let (server, peer) = test_pair();
                let id = st.reg.add(Outbox::default()).expect("id");
                let fd = Fd::borrow(server.as_raw_fd() as i64).expect("a socket");
                let outbox = st.reg.get_mut(id).expect("client");
                assert!(st.out.set_direct(id, outbox, fd));
                (id, server, peer)
            })
            .collect();
        (st, clients)
    }

    /// What a writer thread does: expand deferred fan-outs, then write what it may.
    fn writer_pass(st: &mut crate::state::State) {
        let js_waiting = std::sync::atomic::AtomicUsize::new(0);
        while !st.deferred.is_empty() {
            super::expand_parts(st, &js_waiting);
        }
        while let Some(id) = st.out.next_handed() {
            super::write_one(st, id);
        }
    }

    #[test]
    fn a_deferred_fan_out_reaches_its_members_at_the_call_and_waits_for_the_turn_to_end() {
        use crate::registry::Room;
        let (mut st, mut clients) = threaded_state(3);
        let room = Room::string("r");
        for (id, ..) in &clients[..2] {
            st.reg.join(*id, room.clone()).expect("client");
        }
        let done = st.defer_broadcast(&room, b"data: a\n\n");
        assert_eq!(done.reached, 2, "the members now");
        assert!(!done.wake, "JS is not woken: a writer expands it");
        // Later in the same turn: the second member leaves, the third joins. Leaving
        // takes the lock, which expands first and hands the direct clients reached to
        // the writers (`Shared::settle`), as here.
        while st.expand(usize::MAX) {}
        st.out.hand_dirty(&mut st.reg);
        st.reg.leave(clients[1].0, Some(&room)).expect("client");
        st.reg.join(clients[2].0, room.clone()).expect("client");
        let (first, ..) = clients[0];
        push_state(&mut st, first, b"data: more\n\n");
        // A writer writes nothing before the turn's flush: what JS still queues in this
        // turn joins the same write.
        writer_pass(&mut st);
        assert_eq!(st.out.to_write.len(), 2);
        assert!(!st.out.has_handed());
        for (_, _, peer) in &mut clients {
            assert!(test_read_all(peer).is_empty(), "nothing before the flush");
        }
        assert!(st.out.flush(&mut st.reg).is_empty());
        writer_pass(&mut st);
        let got: Vec<Vec<u8>> = clients
            .iter_mut()
            .map(|(_, _, peer)| test_read_all(peer))
            .collect();
        assert_eq!(
            got[0], b"1b\r\nid: 0\ndata: a\n\ndata: more\n\n\r\n",
            "one write"
        );
        assert_eq!(
            got[1], b"f\r\nid: 1\ndata: a\n\n\r\n",
            "it was in the room at the call"
        );
        assert!(got[2].is_empty(), "it joined after the call");
    }

    #[test]
    fn a_writer_expands_a_fan_out_in_parts_giving_way_to_the_js_thread() {
        use crate::registry::Room;
        let (mut st, mut clients) = threaded_state(crate::deferred::PART + 3);
        st.defer_heartbeat();
        let waiting = std::sync::atomic::AtomicUsize::new(1);
        assert!(
            !super::expand_parts(&mut st, &waiting),
            "one part, then it gives way; JS need not run yet"
        );
        assert!(!st.deferred.is_empty());
        assert_eq!(st.out.to_write.len(), crate::deferred::PART);
        // A broadcast meanwhile queues behind it (order kept per client).
        st.defer_broadcast(&Room::string("*"), b"data: b\n\n");
        writer_pass(&mut st);
        assert!(st.deferred.is_empty());
        st.out.flush(&mut st.reg);
        writer_pass(&mut st);
        for (id, _, peer) in &mut clients {
            let text = String::from_utf8(test_dechunk(&test_read_all(peer))).expect("utf-8");
            let beat = std::str::from_utf8(crate::frame::HEARTBEAT).expect("utf-8");
            assert_eq!(text, format!("{beat}id: {id}\ndata: b\n\n"));
        }
    }

    fn push_state(st: &mut crate::state::State, id: u32, bytes: &[u8]) {
        let outbox = st.reg.get_mut(id).expect("client");
        st.out
            .push(id, outbox, bytes.len(), |buf| buf.extend_from_slice(bytes));
    }
}
