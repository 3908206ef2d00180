//! Small strict parsers shared by the text formats.
//!
//! Every format in this crate has exactly one encoding per value, so these
//! helpers reject anything a canonical encoder would not produce.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::Hash;

/// Parses an ASCII decimal `u64` with no sign, no leading zeros (except `0`
/// itself) and no surrounding space. Returns a short reason on failure.
pub(crate) fn parse_decimal(s: &str) -> Result<u64, &'static str> {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return Err("empty number");
    }
    if !bytes.iter().all(u8::is_ascii_digit) {
        return Err("not a decimal number (only the digits 0-9 are allowed)");
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return Err("leading zeros are not allowed");
    }
    let mut n: u64 = 0;
    for &b in bytes {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or("number too large (maximum 18446744073709551615)")?;
    }
    Ok(n)
}

/// Decodes standard, padded, canonical base64 (RFC 4648 §4).
///
/// The `STANDARD` engine requires canonical padding and zero trailing bits,
/// so each byte string has exactly one accepted spelling.
pub(crate) fn decode_b64(s: &str) -> Result<Vec<u8>, &'static str> {
    STANDARD
        .decode(s)
        .map_err(|_| "invalid base64 (standard alphabet, padded, canonical)")
}

/// Decodes the base64 of exactly one 32-byte hash.
pub(crate) fn decode_b64_hash(s: &str) -> Result<Hash, &'static str> {
    // 32 bytes always encode to 44 characters; checking first bounds the work
    // on hostile input.
    if s.len() != 44 {
        return Err("a hash must be 44 base64 characters (32 bytes)");
    }
    let mut out = [0u8; 32];
    match STANDARD.decode_slice(s, &mut out) {
        Ok(32) => Ok(out),
        _ => Err("invalid base64 hash (standard alphabet, padded, canonical, 32 bytes)"),
    }
}

/// Encodes bytes as standard padded base64.
pub(crate) fn encode_b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Appends the standard padded base64 of `data` to `out`.
pub(crate) fn push_b64(out: &mut String, data: &[u8]) {
    STANDARD.encode_string(data, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal() {
        assert_eq!(parse_decimal("0"), Ok(0));
        assert_eq!(parse_decimal("18446744073709551615"), Ok(u64::MAX));
        for bad in [
            "",
            "00",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1e3",
            "18446744073709551616",
            "99999999999999999999999",
            "１",
        ] {
            assert!(parse_decimal(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn base64_is_canonical() {
        assert_eq!(decode_b64("AA==").unwrap(), vec![0]);
        assert!(decode_b64("AB==").is_err(), "non-zero trailing bits");
        assert!(decode_b64("AA").is_err(), "missing padding");
        assert!(decode_b64("AA=").is_err());
        assert!(decode_b64("A A=").is_err());
        assert!(decode_b64("AA==\n").is_err());
        assert!(decode_b64("-_==").is_err(), "url-safe alphabet");
        let h = [7u8; 32];
        assert_eq!(decode_b64_hash(&encode_b64(&h)).unwrap(), h);
        assert!(decode_b64_hash(&encode_b64(&[7u8; 31])).is_err());
        assert!(decode_b64_hash(&encode_b64(&[7u8; 33])).is_err());
    }
}
