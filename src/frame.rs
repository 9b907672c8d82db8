//! SSE frame encoding: turns (id, event, data) into the exact bytes simple-sse 0.0.3 writes.
//!
//! A frame is `id: <client id>\n` (with history on: `id: <event id>\n` for broadcasts,
//! no `id:` line for the rest; see `history.rs`), then `event: <name>\n` when there is an event,
//! then one `data: <line>\n` per line of the data, then a blank line. Line breaks in
//! data may be `\n`, `\r\n` or `\r` (all three end a line in the SSE grammar), so the
//! data is split on each of them. An event name containing `\r` or `\n` could inject
//! fields and is refused.

/// The comment written by the heartbeat.
pub const HEARTBEAT: &[u8] = b":heartbeat signal\n\n";

/// Why an event name cannot be encoded.
#[derive(Debug, PartialEq, Eq)]
pub struct BadEventName;

/// Refuses event names that would end the `event:` line early.
pub fn check_event(event: &str) -> Result<(), BadEventName> {
    if event.bytes().any(|b| b == b'\n' || b == b'\r') {
        Err(BadEventName)
    } else {
        Ok(())
    }
}

/// Appends `id: <id>\n`.
pub fn push_id(out: &mut Vec<u8>, id: u32) {
    out.extend_from_slice(b"id: ");
    push_u32(out, id);
    out.push(b'\n');
}

fn push_u32(out: &mut Vec<u8>, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// The part of a frame that follows the `id:` line; the same for every receiver,
/// so a broadcast encodes it once.
pub fn body(event: Option<&str>, data: &str) -> Result<Vec<u8>, BadEventName> {
    let mut out = Vec::with_capacity(data.len() + event.map_or(0, str::len) + 16);
    if let Some(event) = event {
        check_event(event)?;
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event.as_bytes());
        out.push(b'\n');
    }
    push_data(&mut out, data);
    out.push(b'\n');
    Ok(out)
}

/// Appends one `data: <line>\n` per line, splitting on `\r\n`, `\r` and `\n`.
/// An empty string is one empty line, and a trailing break yields a trailing
/// empty line, as `String.prototype.split` did in the original.
fn push_data(out: &mut Vec<u8>, data: &str) {
    let bytes = data.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' | b'\r' => {
                push_line(out, &bytes[start..i]);
                if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    push_line(out, &bytes[start..]);
}

fn push_line(out: &mut Vec<u8>, line: &[u8]) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(line);
    out.push(b'\n');
}

/// `id: <id>\nretry: <ms>\n\n`.
pub fn push_retry(out: &mut Vec<u8>, id: u32, ms: u32) {
    push_id(out, id);
    push_retry_only(out, ms);
}

/// `retry: <ms>\n\n`: with history on, frames other than broadcasts carry no `id:`
/// line, so the browser's last event id stays the last broadcast it saw.
pub fn push_retry_only(out: &mut Vec<u8>, ms: u32) {
    out.extend_from_slice(b"retry: ");
    push_u32(out, ms);
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(id: u32, event: Option<&str>, data: &str) -> String {
        let mut out = Vec::new();
        push_id(&mut out, id);
        out.extend(body(event, data).expect("valid event"));
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn matches_the_original_bytes() {
        assert_eq!(frame(0, None, "hello"), "id: 0\ndata: hello\n\n");
        assert_eq!(
            frame(7, Some("ev"), "a\nb"),
            "id: 7\nevent: ev\ndata: a\ndata: b\n\n"
        );
        assert_eq!(frame(4294967295, None, "x"), "id: 4294967295\ndata: x\n\n");
    }

    #[test]
    fn empty_and_trailing_lines_are_kept() {
        assert_eq!(frame(1, None, ""), "id: 1\ndata: \n\n");
        assert_eq!(frame(1, None, "a\n"), "id: 1\ndata: a\ndata: \n\n");
        assert_eq!(frame(1, None, "\n\n"), "id: 1\ndata: \ndata: \ndata: \n\n");
    }

    #[test]
    fn every_line_break_splits() {
        assert_eq!(
            frame(2, None, "a\r\nb\rc\nd"),
            "id: 2\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
        );
        assert_eq!(
            frame(2, None, "\r\r\n"),
            "id: 2\ndata: \ndata: \ndata: \n\n"
        );
        assert_eq!(
            frame(2, None, "a\n\rb"),
            "id: 2\ndata: a\ndata: \ndata: b\n\n"
        );
    }

    #[test]
    fn unicode_and_nul_pass_through() {
        assert_eq!(frame(3, None, "é€😀\0x"), "id: 3\ndata: é€😀\0x\n\n");
    }

    #[test]
    fn event_names_cannot_inject_fields() {
        assert_eq!(body(Some("a\nid: 9"), "x"), Err(BadEventName));
        assert_eq!(body(Some("a\rb"), "x"), Err(BadEventName));
        assert!(body(Some("a: b"), "x").is_ok());
    }

    #[test]
    fn retry_and_heartbeat() {
        let mut out = Vec::new();
        push_retry(&mut out, 5, 3000);
        assert_eq!(out, b"id: 5\nretry: 3000\n\n");
        out.clear();
        push_retry_only(&mut out, 0);
        assert_eq!(out, b"retry: 0\n\n");
        assert_eq!(HEARTBEAT, b":heartbeat signal\n\n");
    }
}
