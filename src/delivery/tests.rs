//! `delivery.rs`'s tests: queueing, turns, backpressure and the slow-reader rule, on a
//! registry of outboxes without sockets.

use super::*;
use crate::outbox::{push_chunk_size, test_dechunk, CRLF};
use std::sync::atomic::{AtomicU64, Ordering};

fn setup(n: usize) -> (Registry<Outbox>, Delivery, Vec<u32>) {
    let mut reg = Registry::default();
    let ids = (0..n).filter_map(|_| reg.add(Outbox::default())).collect();
    (reg, Delivery::default(), ids)
}

fn ob(reg: &mut Registry<Outbox>, id: u32) -> &mut Outbox {
    reg.get_mut(id).expect("client")
}

fn push(d: &mut Delivery, reg: &mut Registry<Outbox>, id: u32, bytes: &[u8]) -> bool {
    d.push(id, ob(reg, id), bytes.len(), |buf| {
        buf.extend_from_slice(bytes)
    })
}

/// Each client's bytes as JS writes them: its entries in a row, bodies included.
fn split(batch: &Batch) -> Vec<(u32, Vec<u8>)> {
    let mut start = 0;
    let mut out: Vec<(u32, Vec<u8>)> = Vec::new();
    for part in batch.index.chunks(4) {
        let end = part[1] as usize;
        let mut bytes = batch.data[start..end].to_vec();
        if part[2] != NO_BODY {
            bytes.extend_from_slice(&batch.bodies[part[2] as usize][part[3] as usize..]);
        }
        start = end;
        match out.last_mut() {
            Some((id, prev)) if *id == part[0] => prev.extend_from_slice(&bytes),
            _ => out.push((part[0], bytes)),
        }
    }
    out
}

fn owned(parts: &[(u32, &[u8])]) -> Vec<(u32, Vec<u8>)> {
    parts.iter().map(|(id, b)| (*id, b.to_vec())).collect()
}

fn frame_of(id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::push_id(&mut out, id);
    out.extend_from_slice(body);
    out
}

#[test]
fn one_part_per_client_in_order() {
    let (mut reg, mut d, ids) = setup(2);
    assert!(push(&mut d, &mut reg, ids[1], b"a"));
    assert!(push(&mut d, &mut reg, ids[0], b"b"));
    assert!(!push(&mut d, &mut reg, ids[1], b"c"));
    let batch = d.flush(&mut reg);
    assert_eq!(split(&batch), owned(&[(1, b"ac"), (0, b"b")]));
    assert_eq!(batch.index.len(), 8, "one entry per client");
    assert!(d.flush(&mut reg).is_empty());
    assert_eq!(d.counters.frames, 3);
    assert_eq!(d.counters.bytes, 3);
}

#[test]
fn paused_clients_keep_their_bytes_until_resumed() {
    let (mut reg, mut d, ids) = setup(1);
    Delivery::pause(ob(&mut reg, ids[0]));
    assert!(!push(&mut d, &mut reg, ids[0], b"x"));
    assert!(d.flush(&mut reg).is_empty());
    assert!(d.resume(ids[0], ob(&mut reg, ids[0])));
    push(&mut d, &mut reg, ids[0], b"y");
    assert_eq!(split(&d.flush(&mut reg)), owned(&[(0, b"xy")]));
}

#[test]
fn what_one_turn_queues_is_never_judged() {
    let (mut reg, mut d, ids) = setup(1);
    d.set_max_pending(4);
    let big = vec![b'x'; 3 * EARLY];
    assert!(push(&mut d, &mut reg, ids[0], &big));
    assert!(d.take_urgent(), "past EARLY, JS is asked to write at once");
    assert!(!d.take_urgent());
    let batch = d.flush(&mut reg);
    assert!(batch.dropped.is_empty());
    assert_eq!(split(&batch), vec![(0, big)]);
}

#[test]
fn what_piles_up_behind_a_refusal_past_the_limit_drops_the_client_once() {
    let (mut reg, mut d, ids) = setup(2);
    d.set_max_pending(10);
    // Node holds 40 refused bytes for client 0: they are its burst, not counted.
    d.refused(ids[0], ob(&mut reg, ids[0]), 40, true);
    Delivery::pause(ob(&mut reg, ids[1]));
    assert!(
        !push(&mut d, &mut reg, ids[0], b"abc"),
        "3 behind the burst: kept"
    );
    assert!(
        !push(&mut d, &mut reg, ids[1], b"abcdefghijkl"),
        "paused without a refusal: not judged"
    );
    assert!(!push(&mut d, &mut reg, ids[0], b"defghij"), "10: kept");
    assert!(push(&mut d, &mut reg, ids[0], b"k"), "11: dropped");
    assert!(!push(&mut d, &mut reg, ids[0], b"h"), "once");
    let batch = d.flush(&mut reg);
    assert_eq!(batch.dropped, vec![0]);
    assert!(batch.index.is_empty());
    assert_eq!(ob(&mut reg, ids[0]).pending(), 0);
    assert_eq!(ob(&mut reg, ids[1]).pending(), 12);
    assert_eq!(d.counters.dropped, 1);
    assert!(!d.limits.is_backlogged(ids[0]), "forgotten");
    // Resumed, the other client's bytes go out.
    assert!(d.resume(ids[1], ob(&mut reg, ids[1])));
    assert_eq!(split(&d.flush(&mut reg)), owned(&[(1, b"abcdefghijkl")]));
}

/// A delivery with a clock the test moves, and one client.
fn setup_clock() -> (Registry<Outbox>, Delivery, u32, Arc<AtomicU64>) {
    let mut reg = Registry::default();
    let id = reg.add(Outbox::default()).expect("id");
    let (clock, ms) = Clock::manual();
    (reg, Delivery::with_clock(clock), id, ms)
}

#[test]
fn a_reader_draining_a_big_burst_is_never_dropped_for_small_events_behind_it() {
    // Issue 19: 8 MB in front (Node holds a step, Rust the rest), then a small event
    // every 20 ms to a reader taking 64 KiB every 50 ms.
    let (mut reg, mut d, c, ms) = setup_clock();
    let snapshot: Arc<[u8]> = Arc::from(vec![b's'; 8_000_000]);
    assert!(d.push_shared(c, ob(&mut reg, c), &snapshot));
    Delivery::set_framed(ob(&mut reg, c));
    let batch = d.flush(&mut reg);
    let mut node_holds = split(&batch)[0].1.len();
    assert!(node_holds <= STEP, "one step handed to Node: {node_holds}");
    // The socket took some and refused the rest at the end of the turn.
    node_holds -= 1000;
    d.refused(c, ob(&mut reg, c), node_holds, true);
    let mut delivered = 1000usize;
    for tick in 1..=20_000u64 {
        ms.store(tick * 10, Ordering::Release);
        if tick % 2 == 0 && delivered < 8_000_000 {
            assert!(
                !push(&mut d, &mut reg, c, b"data: small\n\n") || ob(&mut reg, c).queued,
                "kept at {} ms",
                tick * 10
            );
            assert_eq!(d.counters.dropped, 0, "at {} ms", tick * 10);
        }
        if tick % 5 == 0 {
            // The reader takes 64 KiB of what Node holds; when Node is done, resume.
            let took = node_holds.min(64 * 1024);
            node_holds -= took;
            delivered += took;
            if node_holds == 0 {
                d.resume(c, ob(&mut reg, c));
                let batch = d.flush(&mut reg);
                node_holds = split(&batch).first().map_or(0, |p| p.1.len());
                if node_holds == 0 {
                    break;
                }
                Delivery::pause_holding(ob(&mut reg, c), node_holds);
            }
        }
    }
    assert!(delivered >= 8_000_000, "{delivered}");
    assert_eq!(d.counters.dropped, 0);
    assert!(
        !d.limits.is_backlogged(c),
        "caught up once nothing more is sent"
    );
}

#[test]
fn a_stalled_reader_behind_a_burst_is_dropped_by_bytes_or_by_time() {
    for by_time in [false, true] {
        let (mut reg, mut d, c, ms) = setup_clock();
        let snapshot: Arc<[u8]> = Arc::from(vec![b's'; 8_000_000]);
        d.push_shared(c, ob(&mut reg, c), &snapshot);
        Delivery::set_framed(ob(&mut reg, c));
        let handed = split(&d.flush(&mut reg))[0].1.len();
        d.refused(c, ob(&mut reg, c), handed, true);
        let waiting = ob(&mut reg, c).pending() + handed;
        let mut queued = 0;
        let mut t = 0;
        while d.counters.dropped == 0 {
            if by_time {
                t += 1000;
                ms.store(t, Ordering::Release);
                d.push(c, ob(&mut reg, c), frame::HEARTBEAT.len(), |buf| {
                    buf.extend_from_slice(frame::HEARTBEAT)
                });
            } else {
                push(&mut d, &mut reg, c, &[b'x'; 16 * 1024]);
                queued += 16 * 1024;
            }
            assert!(queued < 64 * 1024 * 1024 && t < 10 * STALL_MS);
        }
        if by_time {
            assert_eq!(
                t, STALL_MS,
                "dropped at the first frame after the stall limit"
            );
        } else {
            assert_eq!(
                queued,
                DEFAULT_MAX_PENDING + 16 * 1024,
                "1 MiB kept behind it"
            );
        }
        assert_eq!(d.flush(&mut reg).dropped, vec![c]);
        assert_eq!(ob(&mut reg, c).pending(), 0, "its bytes are freed");
        assert_eq!(Arc::strong_count(&snapshot), 1);
        assert!(waiting > 7_000_000);
    }
}

#[test]
fn a_refusal_mid_turn_is_judged_only_from_the_end_of_the_turn() {
    let (mut reg, mut d, c, _) = setup_clock();
    d.set_max_pending(10);
    Delivery::set_framed(ob(&mut reg, c));
    push(&mut d, &mut reg, c, b"first");
    let handed = split(&d.flush_turn(&mut reg, false))[0].1.len();
    d.refused(c, ob(&mut reg, c), handed, false);
    // The loop goes on: far past the limit, never judged within its turn.
    for _ in 0..100 {
        assert!(!push(&mut d, &mut reg, c, b"0123456789"));
    }
    assert_eq!(d.counters.dropped, 0);
    // The turn ends with the socket still refusing: from now on it is judged.
    assert!(d.flush(&mut reg).is_empty(), "still waiting for Node");
    assert!(d.limits.is_backlogged(c));
    assert!(!push(&mut d, &mut reg, c, b"0123456789"), "10 behind: kept");
    assert!(push(&mut d, &mut reg, c, b"!"), "11: dropped");
    // Refused again and again mid-turn (the app's own writes): listed once.
    let (mut reg, mut d, c, _) = setup_clock();
    for _ in 0..100 {
        d.refused(c, ob(&mut reg, c), 10, false);
    }
    assert_eq!(d.refusing, vec![c]);
    d.flush(&mut reg);
    assert!(d.refusing.is_empty() && d.limits.is_backlogged(c));
    d.refused(c, ob(&mut reg, c), 10, false);
    assert!(d.refusing.is_empty(), "already backlogged");
    // A client that was written meanwhile (resumed) starts no backlog.
    let (mut reg, mut d, c, _) = setup_clock();
    Delivery::set_framed(ob(&mut reg, c));
    push(&mut d, &mut reg, c, b"first");
    let handed = split(&d.flush_turn(&mut reg, false))[0].1.len();
    d.refused(c, ob(&mut reg, c), handed, false);
    d.resume(c, ob(&mut reg, c));
    assert!(d.flush(&mut reg).is_empty());
    assert!(!d.limits.is_backlogged(c));
}

#[test]
fn a_backlog_ends_once_everything_handed_was_written_and_nothing_else_waits() {
    let (mut reg, mut d, c, ms) = setup_clock();
    Delivery::set_framed(ob(&mut reg, c));
    push(&mut d, &mut reg, c, b"burst");
    d.flush(&mut reg);
    d.refused(c, ob(&mut reg, c), 5, true);
    push(&mut d, &mut reg, c, b"more");
    // Node wrote the burst: "more" is written next, still judged until it is taken.
    d.resume(c, ob(&mut reg, c));
    assert!(ob(&mut reg, c).is_backlogged());
    assert_eq!(split(&d.flush(&mut reg))[0].1, b"4\r\nmore\r\n");
    assert!(!ob(&mut reg, c).paused, "all of it handed: not paused");
    // JS reports that Node wrote it: caught up, no longer judged, so no stall later.
    d.resume(c, ob(&mut reg, c));
    assert!(!ob(&mut reg, c).is_backlogged());
    ms.store(10 * STALL_MS, Ordering::Release);
    push(&mut d, &mut reg, c, b"late");
    assert_eq!(d.counters.dropped, 0);
    assert!(d.flush(&mut reg).dropped.is_empty());
}

#[test]
fn a_framed_client_is_handed_a_step_at_a_time_in_order() {
    let (mut reg, mut d, c, _) = setup_clock();
    Delivery::set_framed(ob(&mut reg, c));
    let big: Arc<[u8]> = Arc::from(vec![b'b'; 3 * STEP + 7]);
    push(&mut d, &mut reg, c, b"head");
    d.push_body(c, ob(&mut reg, c), &big);
    push(&mut d, &mut reg, c, b"tail");
    let mut wire = Vec::new();
    loop {
        let batch = d.flush(&mut reg);
        let parts = split(&batch);
        if parts.is_empty() {
            break;
        }
        assert!(parts[0].1.len() <= STEP);
        wire.extend_from_slice(&parts[0].1);
        assert!(d.flush(&mut reg).is_empty(), "waits for Node");
        d.resume(c, ob(&mut reg, c));
    }
    let frames = [&b"head"[..], &frame_of(c, &big), b"tail"].concat();
    let mut want = Vec::new();
    push_chunk_size(&mut want, frames.len());
    want.extend_from_slice(&frames);
    want.extend_from_slice(CRLF);
    assert_eq!(wire, want);
}

#[test]
fn take_empties_the_outbox_and_flush_skips_it() {
    let (mut reg, mut d, ids) = setup(1);
    push(&mut d, &mut reg, ids[0], b"x");
    assert_eq!(d.take(ob(&mut reg, ids[0])), b"x");
    assert!(d.flush(&mut reg).is_empty());
    push(&mut d, &mut reg, ids[0], b"z");
    assert_eq!(split(&d.flush(&mut reg)), owned(&[(0, b"z")]));
}

#[test]
fn large_bodies_stay_shared_whatever_else_is_queued() {
    let (mut reg, mut d, ids) = setup(3);
    let body: Arc<[u8]> = Arc::from(vec![b'b'; SHARE_MIN]);
    for id in &ids {
        push(&mut d, &mut reg, *id, frame::HEARTBEAT);
        assert!(!d.push_body(*id, ob(&mut reg, *id), &body));
        push(&mut d, &mut reg, *id, b"after");
    }
    assert_eq!(
        Arc::strong_count(&body),
        4,
        "every outbox refers to the one body"
    );
    let batch = d.flush(&mut reg);
    assert_eq!(
        batch.bodies.len(),
        1,
        "one copy of the body for every client"
    );
    for (id, bytes) in split(&batch) {
        let want = [frame::HEARTBEAT, &frame_of(id, &body), b"after"].concat();
        assert_eq!(bytes, want);
    }
    assert_eq!(
        d.counters.bytes,
        3 * (frame::HEARTBEAT.len() + SHARE_MIN + 6 + 5) as u64
    );
}

#[test]
fn push_shared_queues_the_frame_as_is() {
    let (mut reg, mut d, ids) = setup(1);
    let small: Arc<[u8]> = Arc::from(&b"id: 7\ndata: x\n\n"[..]);
    let large: Arc<[u8]> = Arc::from(vec![b'l'; SHARE_MIN]);
    assert!(d.push_shared(ids[0], ob(&mut reg, ids[0]), &small));
    assert!(!d.push_shared(ids[0], ob(&mut reg, ids[0]), &large));
    assert_eq!(Arc::strong_count(&large), 2);
    let batch = d.flush(&mut reg);
    assert_eq!(split(&batch), vec![(0, [&small[..], &large[..]].concat())]);
}

#[test]
fn shared_bodies_count_against_the_limit_when_refused() {
    let (mut reg, mut d, ids) = setup(1);
    d.set_max_pending(SHARE_MIN);
    d.refused(ids[0], ob(&mut reg, ids[0]), 1, true);
    let body: Arc<[u8]> = Arc::from(vec![b'b'; SHARE_MIN]);
    assert!(d.push_body(0, ob(&mut reg, ids[0]), &body));
    let batch = d.flush(&mut reg);
    assert_eq!(batch.dropped, vec![0]);
    assert!(batch.index.is_empty());
    assert_eq!(
        Arc::strong_count(&body),
        1,
        "a dropped client lets go of the body"
    );
}

#[test]
fn removed_clients_are_skipped() {
    let (mut reg, mut d, ids) = setup(2);
    push(&mut d, &mut reg, ids[0], b"x");
    push(&mut d, &mut reg, ids[1], b"y");
    reg.remove(ids[0]);
    assert_eq!(split(&d.flush(&mut reg)), owned(&[(1, b"y")]));
}

#[test]
fn a_framed_client_gets_its_turn_as_one_http_chunk_for_js() {
    let (mut reg, mut d, ids) = setup(2);
    Delivery::set_framed(ob(&mut reg, ids[0]));
    push(&mut d, &mut reg, ids[0], b"abc");
    push(&mut d, &mut reg, ids[0], b"de");
    push(&mut d, &mut reg, ids[1], b"xy");
    assert_eq!(
        split(&d.flush(&mut reg)),
        owned(&[(0, b"5\r\nabcde\r\n"), (1, b"xy")])
    );
    // What the app's own write takes first is framed too.
    push(&mut d, &mut reg, ids[0], b"f");
    assert_eq!(d.take(ob(&mut reg, ids[0])), b"1\r\nf\r\n");
    assert_eq!(d.counters.bytes, 8, "frames counted, not framing");
}

#[cfg(unix)]
mod direct_clients {
    use super::*;
    use crate::direct::{test_pair, test_read_all};
    use std::io::Read;
    use std::net::TcpStream;
    use std::os::fd::AsRawFd;

    /// A registry of one direct client; returns the server side (keep it open) and the peer.
    fn direct_pair(reg: &mut Registry<Outbox>, d: &mut Delivery) -> (u32, TcpStream, TcpStream) {
        let (server, peer) = test_pair();
        let id = reg.add(Outbox::default()).expect("id");
        let fd = Fd::borrow(server.as_raw_fd() as i64).expect("a socket");
        assert!(d.set_direct(id, ob(reg, id), fd));
        (id, server, peer)
    }

    fn read_exact(peer: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut out = vec![0; n];
        peer.read_exact(&mut out).expect("read");
        out
    }

    fn chunk(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        push_chunk_size(&mut out, bytes.len());
        out.extend_from_slice(bytes);
        out.extend_from_slice(CRLF);
        out
    }

    #[test]
    fn a_turn_goes_out_as_one_chunk_with_shared_bodies_in_place() {
        let (mut reg, mut d, _) = setup(0);
        let (id, _server, mut peer) = direct_pair(&mut reg, &mut d);
        let body: Arc<[u8]> = Arc::from(vec![b'b'; SHARE_MIN]);
        push(&mut d, &mut reg, id, b"one\n\n");
        d.push_body(id, ob(&mut reg, id), &body);
        push(&mut d, &mut reg, id, frame::HEARTBEAT);
        let batch = d.flush(&mut reg);
        assert!(batch.is_empty(), "nothing left for JS");
        let turn = [&b"one\n\n"[..], &frame_of(id, &body), frame::HEARTBEAT].concat();
        let want = chunk(&turn);
        assert_eq!(read_exact(&mut peer, want.len()), want);
        assert_eq!(ob(&mut reg, id).pending(), 0);
        assert_eq!(d.counters.bytes, turn.len() as u64);
    }

    #[test]
    fn what_the_socket_refuses_goes_to_js_in_order_and_the_client_pauses() {
        let (mut reg, mut d, _) = setup(0);
        d.set_max_pending(usize::MAX);
        let (id, _server, mut peer) = direct_pair(&mut reg, &mut d);
        // More than any loopback socket buffer takes at once.
        let mut sent = Vec::new();
        let mut n = 0u32;
        let mut handed = Vec::new();
        while handed.is_empty() {
            let payload = format!("data: {n}:{}\n\n", "p".repeat(60_000));
            n += 1;
            push(&mut d, &mut reg, id, payload.as_bytes());
            sent.extend_from_slice(payload.as_bytes());
            let batch = d.flush(&mut reg);
            if !batch.index.is_empty() {
                handed = split(&batch);
            }
            assert!(n < 2000, "the socket never refused");
        }
        assert_eq!(handed.len(), 1);
        assert!(
            ob(&mut reg, id).paused,
            "paused until Node has written the rest"
        );
        assert_eq!(ob(&mut reg, id).held(), handed[0].1.len());
        // While paused, frames wait in Rust.
        push(&mut d, &mut reg, id, b"data: last\n\n");
        sent.extend_from_slice(b"data: last\n\n");
        assert!(d.flush(&mut reg).is_empty());
        // Read everything the kernel took, then JS's part, then what Rust still holds.
        let direct_part = test_read_all(&mut peer);
        assert!(d.resume(id, ob(&mut reg, id)));
        let rest = d.take(ob(&mut reg, id));
        let wire = [direct_part, handed[0].1.clone(), rest].concat();
        // Decode the chunks: together they are exactly what was sent, in order.
        assert_eq!(test_dechunk(&wire), sent);
    }

    #[test]
    fn a_refused_body_goes_to_node_a_step_at_a_time_and_the_rest_waits_shared() {
        let (mut reg, mut d, _) = setup(0);
        let (id, _server, mut peer) = direct_pair(&mut reg, &mut d);
        // Far more than the socket takes while nobody reads.
        let body: Arc<[u8]> = Arc::from(vec![b'b'; 64 * 1024 * 1024]);
        d.push_body(id, ob(&mut reg, id), &body);
        let batch = d.flush(&mut reg);
        let handed = split(&batch);
        assert_eq!(handed.len(), 1);
        assert!(handed[0].1.len() <= STEP, "{}", handed[0].1.len());
        assert!(
            batch.bodies.is_empty(),
            "the part of the body Node gets is a copy"
        );
        assert!(ob(&mut reg, id).paused);
        assert!(d.limits.is_backlogged(id), "refused at the end of a turn");
        assert!(
            ob(&mut reg, id).pending() > 32 * 1024 * 1024,
            "the rest waits in Rust"
        );
        assert_eq!(Arc::strong_count(&body), 2, "by reference");
        // Node wrote its step, the reader reads: the next flushes write the rest.
        let mut wire = test_read_all(&mut peer);
        wire.extend_from_slice(&handed[0].1);
        let mut steps = 1;
        while ob(&mut reg, id).pending() > 0 {
            d.resume(id, ob(&mut reg, id));
            let batch = d.flush(&mut reg);
            let mut from_kernel = test_read_all(&mut peer);
            wire.append(&mut from_kernel);
            if let Some((_, part)) = split(&batch).pop() {
                assert!(part.len() <= STEP);
                wire.extend_from_slice(&part);
                steps += 1;
            }
            assert!(steps < 10_000);
        }
        d.resume(id, ob(&mut reg, id));
        assert!(!d.limits.is_backlogged(id), "caught up");
        assert_eq!(Arc::strong_count(&body), 1);
        let mut want = Vec::new();
        let frame = frame_of(id, &body);
        push_chunk_size(&mut want, frame.len());
        want.extend_from_slice(&frame);
        want.extend_from_slice(CRLF);
        assert_eq!(wire.len(), want.len());
        assert!(wire == want, "every byte, in order");
    }

    #[test]
    fn a_loop_that_piles_up_is_written_out_as_it_goes() {
        let (mut reg, mut d, _) = setup(0);
        d.set_max_pending(1);
        let (id, _server, mut peer) = direct_pair(&mut reg, &mut d);
        let frame = vec![b'f'; 1000];
        for _ in 0..(EARLY / 1000 + 1) {
            push(&mut d, &mut reg, id, &frame);
        }
        assert_eq!(
            ob(&mut reg, id).pending(),
            0,
            "written mid-turn, before any flush"
        );
        assert!(!d.take_urgent(), "direct clients need no help from JS");
        let want = chunk(&frame.repeat(EARLY / 1000 + 1));
        assert_eq!(read_exact(&mut peer, want.len()), want);
    }

    #[test]
    fn a_descriptor_node_closes_is_forgotten_first_and_its_client_goes_to_js() {
        let (mut reg, mut d, _) = setup(0);
        let (id, server, _peer) = direct_pair(&mut reg, &mut d);
        let (other, _s1, _p1) = direct_pair(&mut reg, &mut d);
        let fd = server.as_raw_fd() as i64;
        // The same socket cannot have two direct clients (the same response added twice).
        let again = reg.add(Outbox::default()).expect("id");
        let borrowed = Fd::borrow(fd).expect("a socket");
        assert!(!d.set_direct(again, ob(&mut reg, again), borrowed));
        // Node is about to close it: Rust lets go, and the client's bytes go to JS framed.
        assert!(d.forget_fd(&mut reg, fd));
        assert!(!ob(&mut reg, id).is_direct());
        assert!(ob(&mut reg, other).is_direct(), "only that descriptor");
        assert!(!d.forget_fd(&mut reg, fd), "once");
        assert!(!d.forget_fd(&mut reg, -1) && !d.forget_fd(&mut reg, 1 << 40));
        push(&mut d, &mut reg, id, b"data: x\n\n");
        assert_eq!(
            split(&d.flush(&mut reg)),
            owned(&[(id, b"9\r\ndata: x\n\n\r\n")])
        );
        drop(server);
        // A new connection may now get that number: it can have a direct client again.
        let newcomer = reg.add(Outbox::default()).expect("id");
        let (next, _p2) = test_pair();
        let fd = Fd::borrow(next.as_raw_fd() as i64).expect("a socket");
        assert!(d.set_direct(newcomer, ob(&mut reg, newcomer), fd));
        // Removing a client frees its descriptor's entry.
        let mut outbox = reg.remove(newcomer).expect("registered");
        assert!(
            d.removed(newcomer, &mut outbox).is_none(),
            "borrowed: never closed"
        );
        assert!(!d.forget_fd(&mut reg, next.as_raw_fd() as i64));
    }

    #[test]
    fn off_the_js_thread_a_pile_waits_for_the_flush() {
        let (mut reg, mut d, _) = setup(0);
        let (id, _server, mut peer) = direct_pair(&mut reg, &mut d);
        let frame = vec![b'f'; 1000];
        let count = EARLY / 1000 + 1;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for _ in 0..count {
                    push(&mut d, &mut reg, id, &frame);
                }
            });
        });
        assert_eq!(
            ob(&mut reg, id).pending(),
            1000 * count,
            "nothing written there"
        );
        assert!(d.flush(&mut reg).is_empty());
        let want = chunk(&frame.repeat(count));
        assert_eq!(read_exact(&mut peer, want.len()), want);
    }

    #[test]
    fn idle_time_counts_from_rusts_last_write_to_the_socket() {
        let (mut reg, mut d, ids) = setup(1);
        let (id, server, mut peer) = direct_pair(&mut reg, &mut d);
        assert_eq!(
            d.idle_ms(ob(&mut reg, ids[0])),
            None,
            "not direct: Node sees its writes"
        );
        assert!(
            d.idle_ms(ob(&mut reg, id)).is_some_and(|ms| ms < 5000),
            "made direct: not idle"
        );
        // As if Rust last wrote 10 s ago.
        d.fds.age(server.as_raw_fd() as i64, 10_000);
        assert!(d.idle_ms(ob(&mut reg, id)).is_some_and(|ms| ms >= 10_000));
        // Queued but not yet written is not activity; the flush's write is.
        push(&mut d, &mut reg, id, b"data: x\n\n");
        assert!(d.idle_ms(ob(&mut reg, id)).is_some_and(|ms| ms >= 10_000));
        assert!(d.flush(&mut reg).is_empty());
        assert!(d.idle_ms(ob(&mut reg, id)).is_some_and(|ms| ms < 5000));
        let want = chunk(b"data: x\n\n");
        assert_eq!(read_exact(&mut peer, want.len()), want);
    }

    #[test]
    fn a_broken_connection_is_reported_once_and_forgotten() {
        let (mut reg, mut d, _) = setup(0);
        let (id, _server, peer) = direct_pair(&mut reg, &mut d);
        // The peer goes away; Node has not closed our side.
        drop(peer);
        let mut gone = Vec::new();
        for _ in 0..100 {
            push(&mut d, &mut reg, id, b"data: x\n\n");
            let batch = d.flush(&mut reg);
            if !batch.gone.is_empty() {
                gone = batch.gone;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert_eq!(gone, vec![id]);
        assert!(!ob(&mut reg, id).is_direct(), "no more writes to it");
        assert!(!push(&mut d, &mut reg, id, b"more"));
        assert!(d.flush(&mut reg).is_empty(), "reported once");
    }
}
