//! The wire format of a broadcast between processes: one JSON object per message; a
//! pub/sub message may carry several, as a JSON array of them.

use serde_json::Value as Json;

use crate::registry::Room;

/// Version tag of the message format.
const FORMAT: u64 = 1;

/// One broadcast as it travels through Redis, JSON:
/// `{"v":1,"o":origin,"r":"room","e":event|null,"d":data}` for a string room, or
/// `"n":"1.5"` instead of `"r"` for a number room (written as text so that every `f64`,
/// `Infinity` included, comes back bit for bit).
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
        Room::Str(name) => {
            out.extend_from_slice(b",\"r\":");
            push_json_str(&mut out, name);
        }
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
    let room = match (obj.get("r"), obj.get("n")) {
        (Some(Json::String(name)), None) => Room::string(name),
        (None, Some(Json::String(text))) => Room::number(text.parse::<f64>().ok()?)?,
        (None, Some(Json::Number(n))) => Room::number(n.as_f64()?)?,
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
