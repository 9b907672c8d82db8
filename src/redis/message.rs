//! The wire format of a broadcast between processes: one JSON object per message; a
//! pub/sub message may carry several, as a JSON array of them.

use serde_json::Value as Json;

use crate::registry::Room;

/// Version tag of the message format.
const FORMAT: u64 = 1;

/// One broadcast as it travels through Redis, JSON:
/// `{"v":1,"o":origin,"r":"room","e":event|null,"d":data}` for a string room, or
/// `"n":"1.5"` instead of `"r"` for a number room (written as text so that every `f64`,
/// `Infinity` included, comes back bit for bit), or `"w":"<hex>"` instead of `"r"` for a
/// string room with a lone surrogate, which JSON text read by serde_json cannot carry:
/// the hex digits of its WTF-8 bytes (see `room.rs`), so that two processes key the
/// room exactly as each keys it locally.
#[derive(Debug, PartialEq)]
pub struct Message {
    pub origin: String,
    pub room: Room,
    pub event: Option<String>,
    pub data: String,
}

fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing a `str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The JSON text of one broadcast.
pub fn encode(origin: &str, room: &Room, event: Option<&str>, data: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + origin.len() + 64);
    out.extend_from_slice(b"{\"v\":1,\"o\":");
    push_json_str(&mut out, origin);
    match room {
        Room::Str(bytes) => match room.as_str() {
            Some(name) => {
                out.extend_from_slice(b",\"r\":");
                push_json_str(&mut out, name);
            }
            None => {
                out.extend_from_slice(b",\"w\":\"");
                push_hex(&mut out, bytes);
                out.push(b'"');
            }
        },
        Room::Num(bits) => {
            out.extend_from_slice(b",\"n\":");
            push_json_str(&mut out, &number_text(f64::from_bits(*bits)));
        }
    }
    out.extend_from_slice(b",\"e\":");
    match event {
        Some(event) => push_json_str(&mut out, event),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"d\":");
    push_json_str(&mut out, data);
    out.push(b'}');
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

/// The bytes of lowercase hex digits; `None` for anything else.
fn from_hex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| HEX.iter().position(|&h| h == c).map(|d| d as u8);
    let text = text.as_bytes();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks(2)
        .map(|pair| Some((digit(pair[0])? << 4) | digit(pair[1])?))
        .collect()
}

/// Shortest text that parses back to the same `f64`; infinities as in JavaScript.
fn number_text(n: f64) -> String {
    if n == f64::INFINITY {
        "Infinity".to_owned()
    } else if n == f64::NEG_INFINITY {
        "-Infinity".to_owned()
    } else {
        n.to_string()
    }
}

/// Several encoded broadcasts as one JSON array (one `PUBLISH` for a whole batch).
pub fn encode_batch<'a>(messages: impl ExactSizeIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(b'[');
    for (i, msg) in messages.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(msg);
    }
    out.push(b']');
    out
}

/// A broadcast from its JSON text; `None` for anything else (never panics).
pub fn decode(bytes: &[u8]) -> Option<Message> {
    let json: Json = serde_json::from_slice(bytes).ok()?;
    from_json(&json)
}

/// The broadcasts of one pub/sub message (an object or an array of them), each `None`
/// when invalid; an empty list when the text is not JSON at all.
pub fn decode_many(bytes: &[u8]) -> Vec<Option<Message>> {
    match serde_json::from_slice::<Json>(bytes) {
        Ok(Json::Array(items)) => items.iter().map(from_json).collect(),
        Ok(json) => vec![from_json(&json)],
        Err(_) => vec![None],
    }
}

fn from_json(json: &Json) -> Option<Message> {
    let obj = json.as_object()?;
    if obj.get("v")?.as_u64()? != FORMAT {
        return None;
    }
    let room = match (obj.get("r"), obj.get("n"), obj.get("w")) {
        (Some(Json::String(name)), None, None) => Room::string(name),
        (None, Some(Json::String(text)), None) => Room::number(text.parse::<f64>().ok()?)?,
        (None, Some(Json::Number(n)), None) => Room::number(n.as_f64()?)?,
        (None, None, Some(Json::String(hex))) => Room::from_wtf8(&from_hex(hex)?)?,
        _ => return None,
    };
    let event = match obj.get("e") {
        None | Some(Json::Null) => None,
        Some(Json::String(event)) => Some(event.clone()),
        Some(_) => return None,
    };
    Some(Message {
        origin: obj.get("o")?.as_str()?.to_owned(),
        room,
        event,
        data: obj.get("d")?.as_str()?.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(room: Room, event: Option<&str>, data: &str) {
        let bytes = encode("o1", &room, event, data);
        let msg = decode(&bytes).expect("decodes");
        assert_eq!(
            msg,
            Message {
                origin: "o1".to_owned(),
                room,
                event: event.map(str::to_owned),
                data: data.to_owned(),
            }
        );
    }

    #[test]
    fn string_rooms_events_and_data_round_trip() {
        round_trip(Room::string("lobby"), Some("chat"), "hello");
        round_trip(Room::string("*"), None, "");
        round_trip(
            Room::string("é\"\\\n"),
            Some("ünï"),
            "line 1\nline 2\r\n\u{0}\u{1F600}",
        );
    }

    #[test]
    fn number_rooms_keep_their_type_and_every_bit() {
        for n in [
            0.0,
            1.0,
            -7.0,
            0.1 + 0.2,
            1e300,
            5e-324,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let room = Room::number(n).expect("not NaN");
            round_trip(room.clone(), None, "x");
            assert_ne!(room, Room::string(&n.to_string()));
        }
    }

    #[test]
    fn rooms_with_lone_surrogates_travel_exactly() {
        let units = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
        let high = [units("dm:alice"), vec![0xD83D]].concat();
        let other = [units("dm:alice"), vec![0xD83E]].concat();
        let low_first = [vec![0xDE00], units("x😀"), vec![0xDBFF], units("y")].concat();
        for room in [&high, &other, &low_first] {
            round_trip(Room::from_utf16(room), Some("e"), "d");
        }
        let bytes = encode("o", &Room::from_utf16(&high), None, "d");
        assert_eq!(
            std::str::from_utf8(&bytes).expect("utf-8"),
            r#"{"v":1,"o":"o","w":"646d3a616c696365eda0bd","e":null,"d":"d"}"#
        );
        let a = decode(&bytes).expect("decodes").room;
        let b = decode(&encode("o", &Room::from_utf16(&other), None, "d"))
            .expect("decodes")
            .room;
        assert_ne!(a, b, "two rooms stay two through Redis");
        assert_ne!(a, Room::string("dm:alice\u{FFFD}"));
        // A well-formed room keeps the "r" form older processes read.
        let plain = encode("o", &Room::from_utf16(&units("a😀")), None, "d");
        assert!(std::str::from_utf8(&plain)
            .expect("utf-8")
            .contains(r#""r":"a😀""#));
        // Malformed hex or bytes that are not canonical WTF-8 are refused.
        for bad in [
            &br#"{"v":1,"o":"x","w":"eda0","d":"y"}"#[..],
            br#"{"v":1,"o":"x","w":"ED A0 BD","d":"y"}"#,
            br#"{"v":1,"o":"x","w":"eda0bdedb880","d":"y"}"#,
            br#"{"v":1,"o":"x","w":"6","d":"y"}"#,
            br#"{"v":1,"o":"x","w":"EDA0BD","d":"y"}"#,
            br#"{"v":1,"o":"x","w":"eda0bd","r":"a","d":"y"}"#,
            br#"{"v":1,"o":"x","w":1,"d":"y"}"#,
        ] {
            assert_eq!(decode(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn the_format_is_readable_json() {
        let bytes = encode(
            "p.1",
            &Room::number(42.0).expect("number"),
            None,
            "{\"a\":1}",
        );
        assert_eq!(
            std::str::from_utf8(&bytes).expect("utf-8"),
            r#"{"v":1,"o":"p.1","n":"42","e":null,"d":"{\"a\":1}"}"#
        );
        let bytes = encode("p.1", &Room::string("r"), Some("e"), "d");
        assert_eq!(
            std::str::from_utf8(&bytes).expect("utf-8"),
            r#"{"v":1,"o":"p.1","r":"r","e":"e","d":"d"}"#
        );
    }

    #[test]
    fn batches_are_json_arrays_of_messages() {
        let a = encode("o", &Room::string("a"), None, "1");
        let b = encode("o", &Room::string("b"), Some("e"), "2");
        let batch = encode_batch([&a[..], &b[..], b"7"].into_iter());
        let got = decode_many(&batch);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].as_ref().map(|m| m.data.as_str()), Some("1"));
        assert_eq!(got[1].as_ref().map(|m| m.data.as_str()), Some("2"));
        assert_eq!(got[2], None);
        assert_eq!(decode_many(&a).len(), 1);
        assert_eq!(decode_many(b"nope"), vec![None]);
    }

    #[test]
    fn json_numbers_are_accepted_for_number_rooms() {
        let msg = decode(br#"{"v":1,"o":"x","n":3,"d":"y"}"#).expect("decodes");
        assert_eq!(msg.room, Room::number(3.0).expect("number"));
        assert_eq!(msg.event, None);
    }

    #[test]
    fn anything_else_is_rejected_without_panicking() {
        for bad in [
            &b""[..],
            b"not json",
            b"[]",
            b"null",
            b"{}",
            br#"{"v":2,"o":"x","r":"a","e":null,"d":"y"}"#,
            br#"{"v":1,"o":"x","e":null,"d":"y"}"#,
            br#"{"v":1,"o":"x","r":"a","n":"1","d":"y"}"#,
            br#"{"v":1,"o":"x","n":"NaN","d":"y"}"#,
            br#"{"v":1,"o":"x","n":"one","d":"y"}"#,
            br#"{"v":1,"o":"x","r":1,"d":"y"}"#,
            br#"{"v":1,"o":"x","r":"a","e":5,"d":"y"}"#,
            br#"{"v":1,"o":"x","r":"a","d":5}"#,
            br#"{"v":1,"o":7,"r":"a","d":"y"}"#,
            b"\xff\xfe",
        ] {
            assert_eq!(decode(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
