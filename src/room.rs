//! A room name as every part of the core keys it: a JavaScript string exactly, or a number.
//!
//! JavaScript strings are UTF-16 and may hold lone surrogates (`'dm:alice\ud83d'`), which
//! a Rust `String` cannot: converted to UTF-8 they all become U+FFFD, so two different
//! rooms would become one. A string room is therefore kept as its WTF-8 bytes
//! (<https://simonsapin.github.io/wtf-8/>): UTF-8 for a well-formed string (the usual
//! case, so nothing changes for it), with each lone surrogate as the 3-byte sequence of
//! its code point. WTF-8 maps UTF-16 strings one to one, so two rooms are equal exactly
//! when the JavaScript strings are `===`. This module also converts rooms from and to
//! JavaScript values (`JsRoom`).

use std::ptr;
use std::sync::Arc;

use napi::bindgen_prelude::{FromNapiValue, ToNapiValue, TypeName, ValidateNapiValue};
use napi::{sys, Error, Result, Status, ValueType};

/// A room name: a string or a number, compared strictly (`1` is not `"1"`).
/// The members of a room share one copy of its name (see `Registry::join`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Room {
    /// The WTF-8 bytes of a string (UTF-8 when the string is well-formed).
    Str(Arc<[u8]>),
    /// The bits of an `f64` that is not NaN, with `-0` stored as `0`.
    Num(u64),
}

impl Room {
    /// `None` for NaN, which equals nothing and so can name no room.
    pub fn number(n: f64) -> Option<Room> {
        if n.is_nan() {
            None
        } else if n == 0.0 {
            Some(Room::Num(0f64.to_bits()))
        } else {
            Some(Room::Num(n.to_bits()))
        }
    }

    /// A well-formed string room.
    pub fn string(s: &str) -> Room {
        Room::Str(Arc::from(s.as_bytes()))
    }

    /// The room of a JavaScript string given as its UTF-16 code units, lone surrogates kept.
    pub fn from_utf16(units: &[u16]) -> Room {
        let mut bytes = Vec::with_capacity(units.len() * 3);
        push_wtf8(&mut bytes, units);
        Room::Str(Arc::from(bytes))
    }

    /// The room of WTF-8 bytes (as `wtf8()` gives them); `None` unless they are WTF-8
    /// exactly as this module writes it (so equal strings always have equal bytes).
    pub fn from_wtf8(bytes: &[u8]) -> Option<Room> {
        if std::str::from_utf8(bytes).is_ok() {
            return Some(Room::Str(Arc::from(bytes)));
        }
        let units = wtf8_to_utf16(bytes)?;
        let room = Room::from_utf16(&units);
        (room.wtf8() == Some(bytes)).then_some(room)
    }

    /// `"*"`: every client, in every room operation.
    pub fn is_all(&self) -> bool {
        matches!(self, Room::Str(s) if &**s == b"*")
    }

    /// A string room's WTF-8 bytes.
    pub fn wtf8(&self) -> Option<&[u8]> {
        match self {
            Room::Str(bytes) => Some(bytes),
            Room::Num(_) => None,
        }
    }

    /// A string room's name when the string is well-formed (has no lone surrogate).
    pub fn as_str(&self) -> Option<&str> {
        self.wtf8().and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// Appends the WTF-8 encoding of UTF-16 code units: a surrogate pair as its code point,
/// a lone surrogate as its own 3-byte sequence.
pub fn push_wtf8(out: &mut Vec<u8>, units: &[u16]) {
    for unit in char::decode_utf16(units.iter().copied()) {
        match unit {
            Ok(c) => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            Err(lone) => {
                let u = lone.unpaired_surrogate();
                out.extend_from_slice(&[
                    0xE0 | (u >> 12) as u8,
                    0x80 | ((u >> 6) & 0x3F) as u8,
                    0x80 | (u & 0x3F) as u8,
                ]);
            }
        }
    }
}

/// The UTF-16 code units of WTF-8 (generalized UTF-8) bytes; `None` for bytes that are
/// not (a bad or overlong sequence, a code point past U+10FFFF, a cut sequence).
pub fn wtf8_to_utf16(bytes: &[u8]) -> Option<Vec<u16>> {
    let mut units = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&first) = bytes.get(i) {
        let (len, mut cp) = match first {
            0x00..=0x7F => (1, u32::from(first)),
            0xC0..=0xDF => (2, u32::from(first & 0x1F)),
            0xE0..=0xEF => (3, u32::from(first & 0x0F)),
            0xF0..=0xF7 => (4, u32::from(first & 0x07)),
            _ => return None,
        };
        for k in 1..len {
            let next = *bytes.get(i + k)?;
            if next & 0xC0 != 0x80 {
                return None;
            }
            cp = (cp << 6) | u32::from(next & 0x3F);
        }
        let least = [0, 0, 0x80, 0x800, 0x1_0000][len];
        if cp < least || cp > 0x10_FFFF {
            return None;
        }
        if cp >= 0x1_0000 {
            let c = cp - 0x1_0000;
            units.push(0xD800 | (c >> 10) as u16);
            units.push(0xDC00 | (c & 0x3FF) as u16);
        } else {
            units.push(cp as u16);
        }
        i += len;
    }
    Some(units)
}

/// A room as it crosses napi: read from a JavaScript string or number, written back as
/// the same string (lone surrogates intact) or number. NaN is refused (`InvalidArg`).
#[derive(Clone, Debug, PartialEq)]
pub struct JsRoom(pub Room);

/// Names up to this many UTF-8 bytes are read into a buffer on the stack.
const STACK_NAME: usize = 128;

fn status(code: sys::napi_status, what: &str) -> Result<()> {
    if code == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(
            Status::from(code),
            format!("cannot read {what}"),
        ))
    }
}

/// Reads a JavaScript string exactly, as its UTF-16 code units.
///
/// # Safety
/// `env` and `value` must be valid, and `value` a string.
unsafe fn read_utf16(env: sys::napi_env, value: sys::napi_value) -> Result<Room> {
    let mut len = 0usize;
    // SAFETY: a null buffer asks only for the length, in code units.
    status(
        unsafe { sys::napi_get_value_string_utf16(env, value, ptr::null_mut(), 0, &mut len) },
        "a room name",
    )?;
    let mut units = vec![0u16; len + 1];
    let mut written = 0usize;
    // SAFETY: `units` holds `len + 1` code units: the string and the NUL napi adds.
    status(
        unsafe {
            sys::napi_get_value_string_utf16(
                env,
                value,
                units.as_mut_ptr(),
                units.len(),
                &mut written,
            )
        },
        "a room name",
    )?;
    units.truncate(written.min(len));
    Ok(Room::from_utf16(&units))
}

/// Reads a JavaScript string room. Natively: as UTF-8, the cheap way, in which Node-API
/// turns each lone surrogate into U+FFFD (`EF BF BD`); only a name whose UTF-8 contains
/// U+FFFD is read again as UTF-16, to tell a real U+FFFD from a lone surrogate. Under
/// WASI (emnapi), whose UTF-8 conversion mangles lone surrogates, always as UTF-16.
///
/// # Safety
/// `env` and `value` must be valid, and `value` a string.
unsafe fn read_string(env: sys::napi_env, value: sys::napi_value) -> Result<Room> {
    if cfg!(target_family = "wasm") {
        // SAFETY: as this function's.
        return unsafe { read_utf16(env, value) };
    }
    let mut len = 0usize;
    // SAFETY: a null buffer asks only for the length, in bytes.
    status(
        unsafe { sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len) },
        "a room name",
    )?;
    let mut stack = [0u8; STACK_NAME + 1];
    let mut heap = Vec::new();
    let buf: &mut [u8] = if len < STACK_NAME {
        &mut stack
    } else {
        heap.resize(len + 1, 0);
        &mut heap
    };
    let mut written = 0usize;
    // SAFETY: `buf` holds `len + 1` bytes at least: the string and the NUL napi adds.
    status(
        unsafe {
            sys::napi_get_value_string_utf8(
                env,
                value,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut written,
            )
        },
        "a room name",
    )?;
    let bytes = &buf[..written.min(len)];
    if bytes.contains(&0xEF) && bytes.windows(3).any(|w| w == [0xEF, 0xBF, 0xBD]) {
        // SAFETY: as this function's.
        return unsafe { read_utf16(env, value) };
    }
    Ok(Room::Str(Arc::from(bytes)))
}

impl TypeName for JsRoom {
    fn type_name() -> &'static str {
        "string | number"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ValidateNapiValue for JsRoom {}

impl FromNapiValue for JsRoom {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        let mut kind = 0;
        // SAFETY: `env` and `value` come from napi for this call.
        status(unsafe { sys::napi_typeof(env, value, &mut kind) }, "a room")?;
        match kind {
            sys::ValueType::napi_string => {
                // SAFETY: `value` is a string.
                unsafe { read_string(env, value) }.map(JsRoom)
            }
            sys::ValueType::napi_number => {
                let mut n = 0f64;
                // SAFETY: `value` is a number.
                status(
                    unsafe { sys::napi_get_value_double(env, value, &mut n) },
                    "a room",
                )?;
                Room::number(n).map(JsRoom).ok_or_else(|| {
                    Error::new(Status::InvalidArg, "room must not be NaN".to_owned())
                })
            }
            _ => Err(Error::new(
                Status::InvalidArg,
                "room must be a string or a number".to_owned(),
            )),
        }
    }
}

impl ToNapiValue for JsRoom {
    unsafe fn to_napi_value(env: sys::napi_env, room: Self) -> Result<sys::napi_value> {
        // SAFETY: as the caller's.
        unsafe { ToNapiValue::to_napi_value(env, &room.0) }
    }
}

impl ToNapiValue for &Room {
    /// The same JavaScript string (or number) the room was made from.
    unsafe fn to_napi_value(env: sys::napi_env, room: Self) -> Result<sys::napi_value> {
        let mut out = ptr::null_mut();
        match room {
            Room::Num(bits) => {
                // SAFETY: `env` is valid for this call.
                status(
                    unsafe { sys::napi_create_double(env, f64::from_bits(*bits), &mut out) },
                    "a room",
                )?;
            }
            Room::Str(bytes) => match std::str::from_utf8(bytes) {
                Ok(name) => {
                    // SAFETY: `name` is UTF-8 of `name.len()` bytes.
                    status(
                        unsafe {
                            sys::napi_create_string_utf8(
                                env,
                                name.as_ptr().cast(),
                                name.len() as isize,
                                &mut out,
                            )
                        },
                        "a room",
                    )?;
                }
                Err(_) => {
                    let units = wtf8_to_utf16(bytes).unwrap_or_default();
                    // SAFETY: as this function's; `units` are UTF-16 code units.
                    out = unsafe { utf16_to_js(env, &units) }?;
                }
            },
        }
        Ok(out)
    }
}

/// A string with lone surrogates, exactly: natively a string (`napi_create_string_utf16`).
///
/// # Safety
/// `env` must be valid for this call.
#[cfg(not(target_family = "wasm"))]
unsafe fn utf16_to_js(env: sys::napi_env, units: &[u16]) -> Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    // SAFETY: `units` holds `units.len()` UTF-16 code units.
    status(
        unsafe {
            sys::napi_create_string_utf16(env, units.as_ptr(), units.len() as isize, &mut out)
        },
        "a room",
    )?;
    Ok(out)
}

/// Under WASI, the array of the string's code units: emnapi's `napi_create_string_utf16`
/// decodes more than 16 code units with `TextDecoder`, which turns lone surrogates into
/// U+FFFD. `lib/binding.js` makes the string (`String.fromCharCode`) for the WASI build.
///
/// # Safety
/// `env` must be valid for this call.
#[cfg(target_family = "wasm")]
unsafe fn utf16_to_js(env: sys::napi_env, units: &[u16]) -> Result<sys::napi_value> {
    let mut array = ptr::null_mut();
    // SAFETY: `env` is valid; the array gets `units.len()` elements below.
    status(
        unsafe { sys::napi_create_array_with_length(env, units.len(), &mut array) },
        "a room",
    )?;
    for (i, unit) in units.iter().enumerate() {
        let mut value = ptr::null_mut();
        // SAFETY: `env` is valid and `array` an array this call created.
        status(
            unsafe { sys::napi_create_uint32(env, u32::from(*unit), &mut value) },
            "a room",
        )?;
        // SAFETY: as above; `i` is below the array's length.
        status(
            unsafe { sys::napi_set_element(env, array, i as u32, value) },
            "a room",
        )?;
    }
    Ok(array)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    /// Lone surrogates (high and low; at the end, at the start, in the middle), next to
    /// valid pairs, and pairs split the wrong way round.
    fn odd_strings() -> Vec<Vec<u16>> {
        let mut out = vec![
            vec![],
            units("dm:alice"),
            [units("dm:alice"), vec![0xD83D]].concat(),
            [units("dm:alice"), vec![0xD83E]].concat(),
            [units("dm:alice"), vec![0xDE00]].concat(),
            [vec![0xDC00], units("x")].concat(),
            [units("a"), vec![0xD800], units("b")].concat(),
            [units("a"), vec![0xDFFF], units("b")].concat(),
            [units("😀"), vec![0xD83D], units("😀")].concat(),
            vec![0xDE00, 0xD83D],
            vec![0xD83D, 0xD83D, 0xDE00],
            vec![0xD83D, 0xDE00, 0xDE00],
            units("\u{FFFD}"),
            units("é✓😀"),
            vec![0xFFFF, 0],
        ];
        out.push([units("€"), vec![0xDBFF]].concat());
        out
    }

    #[test]
    fn wtf8_round_trips_every_string_exactly() {
        for s in odd_strings() {
            let room = Room::from_utf16(&s);
            let bytes = room.wtf8().expect("a string");
            assert_eq!(wtf8_to_utf16(bytes).as_deref(), Some(&s[..]), "{s:x?}");
            assert_eq!(Room::from_wtf8(bytes), Some(room.clone()), "{s:x?}");
            match String::from_utf16(&s) {
                Ok(well_formed) => {
                    assert_eq!(bytes, well_formed.as_bytes(), "UTF-8 when well-formed");
                    assert_eq!(room, Room::string(&well_formed));
                    assert_eq!(room.as_str(), Some(well_formed.as_str()));
                }
                Err(_) => assert_eq!(room.as_str(), None),
            }
        }
    }

    #[test]
    fn rooms_are_equal_exactly_when_the_strings_are() {
        let all = odd_strings();
        for a in &all {
            for b in &all {
                assert_eq!(
                    Room::from_utf16(a) == Room::from_utf16(b),
                    a == b,
                    "{a:x?} {b:x?}"
                );
            }
        }
        // The merge of issue 18: both became U+FFFD.
        let high = [units("dm:alice"), vec![0xD83D]].concat();
        let other = [units("dm:alice"), vec![0xD83E]].concat();
        assert_ne!(Room::from_utf16(&high), Room::from_utf16(&other));
        assert_ne!(Room::from_utf16(&high), Room::string("dm:alice\u{FFFD}"));
        // A pair is its code point, never two surrogate sequences.
        assert_eq!(
            Room::from_utf16(&[0xD83D, 0xDE00]).wtf8(),
            Some("😀".as_bytes())
        );
        assert_eq!(
            Room::from_utf16(&[0xD83D]).wtf8(),
            Some(&[0xED, 0xA0, 0xBD][..])
        );
    }

    #[test]
    fn bytes_that_are_not_canonical_wtf8_are_refused() {
        for bad in [
            &[0xFF][..],
            &[0xC0, 0x80],             // overlong NUL
            &[0xE0, 0x80, 0x80],       // overlong
            &[0xED, 0xA0],             // cut
            &[0xF4, 0x90, 0x80, 0x80], // past U+10FFFF
            &[0x80],                   // a lone continuation byte
            // A pair written as two surrogate sequences: WTF-8 writes the code point.
            &[0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80],
        ] {
            assert_eq!(Room::from_wtf8(bad), None, "{bad:x?}");
        }
        assert_eq!(Room::from_wtf8(b"plain"), Some(Room::string("plain")));
    }

    #[test]
    fn numbers_stay_apart_from_strings() {
        assert_ne!(Room::number(1.0), Some(Room::string("1")));
        assert_eq!(Room::number(-0.0), Room::number(0.0));
        assert_eq!(Room::number(f64::NAN), None);
        assert!(Room::string("*").is_all());
        assert!(!Room::from_utf16(&[0x2A, 0xD800]).is_all());
    }
}
