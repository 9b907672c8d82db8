//! The stream connection task (history on): append the queue to `<prefix>:stream`
//! under each broadcast's event id, read the stream from the last id seen on a
//! connection of its own, deliver other processes' entries, and replay the stream to
//! clients that reconnect here. A lost connection is reopened and reading resumes
//! from the last id, so nothing still in the stream is lost or delivered twice.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};
use tokio::sync::{oneshot, watch};

use crate::frame;
use crate::history::{frame_with_id, EventId};
use crate::replay::PAGE;
use crate::state::Shared;

use super::message::{decode, Message};
use super::task::{is_stopped, stopped, Ctx, End};
use super::{explain, Inner, Item, CLOSE_FLUSH, CONNECT_TIMEOUT, PING_EVERY, RESPONSE_TIMEOUT};

/// Appends a batch: `ARGV` is `maxlen, id1, msg1, id2, msg2…`. An explicit id that is
/// not above the stream's last (another process appended in the same millisecond)
/// is appended under a fresh id instead, with its own id in field `i` — unless that
/// very entry is already there (a batch sent again after a lost reply), which makes a
/// retry harmless. When Redis lost it meanwhile (restarted without persistence), the
/// retry lands under a fresh id too, and readers that delivered the first copy skip
/// it by `i` (see `Delivered`).
const APPEND: &str = r"
local out = {}
for i = 2, #ARGV, 2 do
  local id, msg = ARGV[i], ARGV[i + 1]
  local r
  if id ~= '*' then
    r = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], id, 'm', msg)
    if type(r) == 'table' and r.err then
      local same = redis.call('XRANGE', KEYS[1], id, id)
      if #same == 1 and same[1][2][2] == msg then r = id else r = nil end
    end
  end
  if id == '*' then
    r = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', msg)
  elseif r == nil then
    r = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', msg, 'i', id)
  end
  out[#out + 1] = r
end
return out
";

/// How long one `XREAD` waits for new entries.
const READ_BLOCK: Duration = Duration::from_millis(2000);
/// Entries per `XREAD`.
const READ_COUNT: usize = 4096;

/// The publishing connection and the reading one.
type Pair = (MultiplexedConnection, MultiplexedConnection);

fn id_of(value: &Value) -> Option<EventId> {
    match value {
        Value::BulkString(bytes) => EventId::parse(std::str::from_utf8(bytes).ok()?),
        Value::SimpleString(text) => EventId::parse(text),
        _ => None,
    }
}

/// The value of field `name` of an entry's fields (`[k1, v1, k2, v2…]`, or a map).
fn field<'a>(fields: &'a Value, name: &str) -> Option<&'a [u8]> {
    let is_m = |k: &Value| matches!(k, Value::BulkString(b) if b == name.as_bytes());
    fn bytes(v: &Value) -> Option<&[u8]> {
        match v {
            Value::BulkString(b) => Some(b.as_slice()),
            _ => None,
        }
    }
    match fields {
        Value::Array(items) => items
            .chunks(2)
            .find(|kv| kv.len() == 2 && is_m(&kv[0]))
            .and_then(|kv| bytes(&kv[1])),
        Value::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| is_m(k))
            .and_then(|(_, v)| bytes(v)),
        _ => None,
    }
}

/// One entry of the stream.
struct Entry {
    id: EventId,
    /// `None` when it is not one of ours (another app's entry, a malformed one).
    msg: Option<Message>,
    /// The id its broadcast was first meant to have, when Redis appended it under a
    /// fresh one (field `i`, see `APPEND`).
    first: Option<EventId>,
}

impl Entry {
    /// The id that names its broadcast in the origin's sequence.
    fn original(&self) -> EventId {
        self.first.unwrap_or(self.id)
    }
}

/// `[[id, fields]…]` → entries.
fn entries(list: &Value) -> Vec<Entry> {
    let Value::Array(list) = list else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|entry| match entry {
            Value::Array(pair) if pair.len() == 2 => Some(Entry {
                id: id_of(&pair[0])?,
                msg: field(&pair[1], "m").and_then(decode),
                first: field(&pair[1], "i")
                    .and_then(|i| std::str::from_utf8(i).ok())
                    .and_then(EventId::parse),
            }),
            _ => None,
        })
        .collect()
}

/// Per origin (process), the newest of its broadcasts delivered here. Each process's
/// event ids only grow, so an entry whose original id is not above it is a second copy
/// (see `APPEND`) and is skipped.
#[derive(Default)]
struct Delivered(HashMap<String, EventId>);

impl Delivered {
    /// Records the broadcast `original` of `origin`; false when it was delivered already.
    fn first_time(&mut self, origin: &str, original: EventId) -> bool {
        match self.0.get_mut(origin) {
            Some(newest) if *newest >= original => false,
            Some(newest) => {
                *newest = original;
                true
            }
            None => {
                self.0.insert(origin.to_owned(), original);
                true
            }
        }
    }
}

/// The entries of an `XREAD` reply (RESP3: a map of key → entries; RESP2: an array).
fn read_entries(reply: &Value) -> Vec<Entry> {
    match reply {
        Value::Map(streams) => streams.iter().flat_map(|(_, list)| entries(list)).collect(),
        Value::Array(streams) => streams
            .iter()
            .flat_map(|s| match s {
                Value::Array(kv) if kv.len() == 2 => entries(&kv[1]),
                _ => Vec::new(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// One field of an `XINFO STREAM` reply (a map in RESP3, a flat array in RESP2).
fn info_field<'a>(reply: &'a Value, name: &str) -> Option<&'a Value> {
    let is = |k: &Value| match k {
        Value::BulkString(b) => b == name.as_bytes(),
        Value::SimpleString(s) => s == name,
        _ => false,
    };
    match reply {
        Value::Map(pairs) => pairs.iter().find(|(k, _)| is(k)).map(|(_, v)| v),
        Value::Array(items) => items
            .chunks(2)
            .find(|kv| kv.len() == 2 && is(&kv[0]))
            .map(|kv| &kv[1]),
        _ => None,
    }
}

async fn connect(ctx: &Ctx) -> std::result::Result<Pair, String> {
    let reading = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(READ_BLOCK + RESPONSE_TIMEOUT));
    let pair = ctx
        .attempt(async {
            let w = ctx
                .client
                .get_multiplexed_async_connection_with_config(&ctx.config())
                .await?;
            let r = ctx
                .client
                .get_multiplexed_async_connection_with_config(&reading)
                .await?;
            Ok((w, r))
        })
        .await?;
    *ctx.inner.conn.lock() = Some(pair.0.clone());
    Ok(pair)
}

/// The stream's last id (0-0 when it is empty or missing).
async fn top(w: &mut MultiplexedConnection, key: &str) -> redis::RedisResult<EventId> {
    let reply: Value = redis::cmd("XREVRANGE")
        .arg(key)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(w)
        .await?;
    Ok(entries(&reply)
        .first()
        .map(|entry| entry.id)
        .unwrap_or_default())
}

/// Appends the next batch; false when nothing was queued. A batch that fails with the
/// connection (or whose future is dropped) goes back in front of the queue, to be sent
/// again after reconnecting; one that Redis refuses is dropped (and the session ends,
/// so the reason is reported).
async fn append_batch(
    inner: &Inner,
    w: &mut MultiplexedConnection,
) -> std::result::Result<bool, String> {
    let batch = inner.take_batch();
    if batch.is_empty() {
        return Ok(false);
    }
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(APPEND)
        .arg(1)
        .arg(&inner.key)
        .arg(inner.maxlen.load(Ordering::Relaxed));
    for item in &batch {
        match item.id {
            Some(id) => cmd.arg(id.to_string()),
            None => cmd.arg("*"),
        };
        cmd.arg(&item.msg[..]);
    }
    let mut guard = Requeue {
        inner,
        batch: Some(batch),
    };
    match cmd.query_async::<Value>(w).await {
        Ok(_) => {
            if let Some(batch) = guard.batch.take() {
                inner.settled(batch.len(), true);
            }
            Ok(true)
        }
        Err(err) if err.is_io_error() || err.is_timeout() || err.is_connection_dropped() => {
            Err(format!("appending to the stream failed: {}", explain(&err)))
        }
        Err(err) => {
            if let Some(batch) = guard.batch.take() {
                inner.settled(batch.len(), false);
            }
            Err(format!(
                "Redis refused {} broadcasts (dropped): {}",
                inner.key,
                explain(&err)
            ))
        }
    }
}

/// Puts an unsettled batch back in front of the queue when dropped.
struct Requeue<'a> {
    inner: &'a Inner,
    batch: Option<Vec<Item>>,
}

impl Drop for Requeue<'_> {
    fn drop(&mut self) {
        if let Some(batch) = self.batch.take() {
            self.inner.requeue(batch);
        }
    }
}

/// Publishes until the connection fails.
async fn write_loop(ctx: &Ctx, w: &mut MultiplexedConnection) -> End {
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        match append_batch(&ctx.inner, w).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(reason) => return End::Lost(reason),
        }
        tokio::select! {
            () = ctx.inner.ready.notified() => {}
            _ = ping.tick() => {
                if let Err(err) = redis::cmd("PING").query_async::<Value>(w).await {
                    return End::Lost(format!("PING failed: {}", explain(&err)));
                }
            }
        }
    }
}

/// Reads the stream after `last` and delivers other processes' entries (each broadcast
/// once, see `Delivered`), until the connection fails (or the hub is gone).
async fn read_loop(
    ctx: &Ctx,
    r: &mut MultiplexedConnection,
    last: &mut EventId,
    delivered: &mut Delivered,
) -> End {
    loop {
        let reply = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(READ_BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&ctx.inner.key)
            .arg(last.to_string())
            .query_async::<Value>(r)
            .await;
        let reply = match reply {
            Ok(reply) => reply,
            Err(err) => return End::Lost(format!("reading the stream failed: {}", explain(&err))),
        };
        for entry in read_entries(&reply) {
            let id = entry.id;
            match &entry.msg {
                None => {
                    ctx.inner.counters.invalid.fetch_add(1, Ordering::Relaxed);
                }
                Some(m) if m.origin == ctx.inner.origin => {
                    // Ours, already delivered here: keep the clock past it.
                    if let Some(shared) = ctx.shared.upgrade() {
                        let mut st = shared.lock_any();
                        st.history.observe(id);
                        ctx.inner.read_past(id);
                    }
                }
                Some(m) => {
                    if delivered.first_time(&m.origin, entry.original())
                        && !ctx.deliver(m, Some(id))
                    {
                        return End::Stopped;
                    }
                }
            }
            *last = (*last).max(id);
            ctx.inner.read_past(id);
        }
    }
}

/// The whole life of a stream link.
pub(super) async fn run(
    ctx: Ctx,
    mut stop: watch::Receiver<bool>,
    first: oneshot::Sender<std::result::Result<(), String>>,
) {
    let result = tokio::select! {
        () = stopped(&mut stop) => Err("closeRedis() was called before the connection was made".to_owned()),
        result = async {
            let (mut w, r) = connect(&ctx).await?;
            let top = ctx.attempt(top(&mut w, &ctx.inner.key)).await?;
            Ok::<_, String>((w, r, top))
        } => result,
    };
    let mut delivered = Delivered::default();
    let (mut w, mut r, mut last) = match result {
        Ok(triple) => triple,
        Err(reason) => {
            ctx.first_failed(first, reason);
            return;
        }
    };
    // Live from the stream's end: what was appended before is history, not news.
    if let Some(shared) = ctx.shared.upgrade() {
        let mut st = shared.lock_any();
        st.history.observe(last);
        ctx.inner.read_past(last);
    }
    ctx.inner.connected.store(true, Ordering::Relaxed);
    let _ = first.send(Ok(()));
    loop {
        let end = {
            let reading = read_loop(&ctx, &mut r, &mut last, &mut delivered);
            let writing = write_loop(&ctx, &mut w);
            tokio::select! {
                end = reading => end,
                end = writing => end,
                () = stopped(&mut stop) => End::Stopped,
            }
        };
        ctx.inner.connected.store(false, Ordering::Relaxed);
        let reason = match end {
            End::Stopped => {
                if is_stopped(&stop) {
                    // Give what was broadcast before closeRedis a chance to go out.
                    let flush =
                        async { while let Ok(true) = append_batch(&ctx.inner, &mut w).await {} };
                    let _ = tokio::time::timeout(CLOSE_FLUSH, flush).await;
                }
                break;
            }
            End::Lost(reason) => reason,
        };
        *ctx.inner.conn.lock() = None;
        drop((w, r));
        ctx.status(
            "down",
            format!("{reason} ({}); reconnecting", ctx.shown_url),
        );
        match ctx.reconnect(&mut stop, reason, || connect(&ctx)).await {
            Some(pair) => (w, r) = pair,
            None => break,
        }
        ctx.inner.connected.store(true, Ordering::Relaxed);
    }
    *ctx.inner.conn.lock() = None;
    ctx.inner.drop_queued();
}

/// One page of the stream after `after` (at most [`PAGE`] entries), and on the first
/// page of a replay the gap: when Redis already trimmed an entry newer than `after`,
/// the oldest id it still keeps.
async fn fetch(
    inner: &Inner,
    conn: &mut MultiplexedConnection,
    after: EventId,
    first: bool,
) -> redis::RedisResult<(Vec<Entry>, Option<Option<EventId>>)> {
    let reply: Value = redis::cmd("XRANGE")
        .arg(&inner.key)
        .arg(format!("({after}"))
        .arg("+")
        .arg("COUNT")
        .arg(PAGE)
        .query_async(conn)
        .await?;
    let page = entries(&reply);
    if !first {
        return Ok((page, None));
    }
    let info: redis::RedisResult<Value> = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(&inner.key)
        .query_async(conn)
        .await;
    let gap = match info {
        Ok(info) => {
            let id = |name| info_field(&info, name).and_then(id_of);
            let int = |name| match info_field(&info, name) {
                Some(Value::Int(n)) => Some(*n),
                _ => None,
            };
            let first = match info_field(&info, "first-entry") {
                Some(Value::Array(pair)) if !pair.is_empty() => id_of(&pair[0]),
                _ => None,
            };
            // Trimmed entries (MAXLEN) leave `entries-added` above `length` and the
            // first entry past them; deleted ones (XDEL) set `max-deleted-entry-id`.
            let trimmed = matches!((int("entries-added"), int("length")), (Some(added), Some(len)) if added > len)
                && first.is_some_and(|first| first > after);
            let deleted = id("max-deleted-entry-id").is_some_and(|d| d > after);
            (trimmed || deleted).then_some(first)
        }
        // No such key (Redis lost it, or nothing was ever broadcast): a client that
        // has one of its ids missed what cannot be known.
        Err(_) => Some(None),
    };
    Ok((page, gap))
}

/// Fetches one page of a client's replay from the stream and hands it to its cursor
/// (see `replay.rs`); when Redis cannot answer, the local history serves the client.
pub(super) async fn fetch_page(
    inner: Arc<Inner>,
    shared: Weak<Shared>,
    client: u32,
    after: EventId,
    first: bool,
) {
    let conn = inner.conn.lock().clone();
    let fetched = match conn {
        Some(mut conn) => fetch(&inner, &mut conn, after, first).await.ok(),
        None => None,
    };
    let Some(shared) = shared.upgrade() else {
        return;
    };
    match fetched {
        Some((entries, gap)) => {
            let page = entries
                .into_iter()
                .map(|entry| {
                    // An entry that is not a valid broadcast still moves the cursor.
                    let frame = entry.msg.and_then(|m| {
                        let body = frame::body(m.event.as_deref(), &m.data).ok()?;
                        Some((m.room, frame_with_id(entry.id, &body)))
                    });
                    (entry.id, frame)
                })
                .collect();
            shared.page_arrived(client, Some(page), gap);
        }
        None => shared.page_arrived(client, None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn xread_replies_in_both_protocols_and_foreign_entries() {
        let good = String::from_utf8(super::super::message::encode(
            "o",
            &crate::registry::Room::string("r"),
            None,
            "d",
        ))
        .expect("utf-8");
        let list = Value::Array(vec![
            Value::Array(vec![
                bulk("5-1"),
                Value::Array(vec![bulk("m"), bulk(&good)]),
            ]),
            Value::Array(vec![bulk("5-2"), Value::Array(vec![bulk("x"), bulk("y")])]),
            Value::Array(vec![
                bulk("5-3"),
                Value::Array(vec![bulk("m"), bulk("{not json")]),
            ]),
            Value::Array(vec![bulk("nope"), Value::Array(vec![])]),
            Value::Int(3),
            Value::Array(vec![
                bulk("9-0"),
                Value::Array(vec![bulk("m"), bulk(&good), bulk("i"), bulk("5-1")]),
            ]),
        ]);
        let resp3 = Value::Map(vec![(bulk("k"), list.clone())]);
        let resp2 = Value::Array(vec![Value::Array(vec![bulk("k"), list])]);
        for reply in [resp3, resp2] {
            let got = read_entries(&reply);
            assert_eq!(got.len(), 4);
            assert_eq!(got[0].id, EventId { ms: 5, seq: 1 });
            assert_eq!(got[0].msg.as_ref().map(|m| m.data.as_str()), Some("d"));
            assert_eq!((got[0].first, got[0].original()), (None, got[0].id));
            assert!(got[1].msg.is_none() && got[2].msg.is_none());
            // A copy under a fresh id names the id it was first meant to have.
            assert_eq!(got[3].id, EventId { ms: 9, seq: 0 });
            assert_eq!(got[3].original(), EventId { ms: 5, seq: 1 });
        }
        assert!(read_entries(&Value::Nil).is_empty());
    }

    #[test]
    fn each_broadcast_is_delivered_once_per_origin() {
        let id = |ms, seq| EventId { ms, seq };
        let mut delivered = Delivered::default();
        assert!(delivered.first_time("a", id(5, 1)));
        assert!(delivered.first_time("b", id(5, 1)), "origins are apart");
        assert!(!delivered.first_time("a", id(5, 1)), "a second copy");
        assert!(!delivered.first_time("a", id(4, 9)), "an older one");
        assert!(delivered.first_time("a", id(5, 2)));
        assert!(!delivered.first_time("b", id(5, 1)));
    }

    #[test]
    fn xinfo_fields() {
        let info = Value::Map(vec![
            (bulk("length"), Value::Int(2)),
            (bulk("max-deleted-entry-id"), bulk("7-0")),
        ]);
        assert_eq!(
            info_field(&info, "max-deleted-entry-id").and_then(id_of),
            Some(EventId { ms: 7, seq: 0 })
        );
        assert!(info_field(&info, "first-entry").is_none());
    }
}
