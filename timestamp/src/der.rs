//! The little DER this crate needs: a reader of definite-length TLVs with
//! one-byte tags, and a writer for the request.
//!
//! Reading is lenient in one way only: a long-form length that could have
//! been shorter is accepted (some encoders pad lengths), since nothing here
//! is re-encoded or hashed. Indefinite lengths (BER) and multi-byte tags are
//! refused with a message saying so.

pub(crate) const BOOLEAN: u8 = 0x01;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;

/// A context-specific tag `[n]`, constructed or primitive.
pub(crate) const fn context(n: u8, constructed: bool) -> u8 {
    0x80 | if constructed { 0x20 } else { 0 } | n
}

/// One element: its tag, its value, and all of its bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub whole: &'a [u8],
}

/// Reads the elements of a value one after the other.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, if any.
    pub fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element, whatever its tag.
    pub fn any(&mut self, what: &str) -> Result<Tlv<'a>, String> {
        let bytes = self.rest;
        let Some(&tag) = bytes.first() else {
            return Err(format!("{what} is missing (the data ends early)"));
        };
        if tag & 0x1f == 0x1f {
            return Err(format!(
                "{what} has a multi-byte tag, which no field here uses"
            ));
        }
        let Some(&first) = bytes.get(1) else {
            return Err(format!("{what} is cut short (no length)"));
        };
        let (len, header) = match first {
            0..=0x7f => (usize::from(first), 2),
            0x80 => {
                return Err(format!(
                    "{what} has an indefinite length (BER); time-stamps must be DER"
                ))
            }
            _ => {
                let n = usize::from(first & 0x7f);
                if n > 4 {
                    return Err(format!(
                        "{what} has an impossibly large length ({n} octets)"
                    ));
                }
                let octets = bytes
                    .get(2..2 + n)
                    .ok_or_else(|| format!("{what} is cut short (in its length)"))?;
                let len = octets
                    .iter()
                    .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
                (len, 2 + n)
            }
        };
        let end = header
            .checked_add(len)
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| {
                format!(
                    "{what} claims {len} bytes but only {} remain",
                    bytes.len() - header
                )
            })?;
        self.rest = &bytes[end..];
        Ok(Tlv {
            tag,
            value: &bytes[header..end],
            whole: &bytes[..end],
        })
    }

    /// The next element, which must have `tag`.
    pub fn expect(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>, String> {
        match self.peek() {
            Some(t) if t == tag => self.any(what),
            Some(t) => Err(format!(
                "{what}: expected {} but found {}",
                tag_name(tag),
                tag_name(t)
            )),
            None => Err(format!("{what} is missing (the data ends early)")),
        }
    }

    /// The next element if it has `tag`.
    pub fn optional(&mut self, tag: u8, what: &str) -> Result<Option<Tlv<'a>>, String> {
        if self.peek() == Some(tag) {
            self.any(what).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Nothing may follow.
    pub fn end(&self, what: &str) -> Result<(), String> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} unexpected bytes after {what} (starting with {})",
                self.rest.len(),
                tag_name(self.rest[0])
            ))
        }
    }
}

/// How a tag is named in messages.
pub(crate) fn tag_name(tag: u8) -> String {
    match tag {
        BOOLEAN => "BOOLEAN".into(),
        INTEGER => "INTEGER".into(),
        BIT_STRING => "BIT STRING".into(),
        OCTET_STRING => "OCTET STRING".into(),
        NULL => "NULL".into(),
        OID => "OBJECT IDENTIFIER".into(),
        0x0c => "UTF8String".into(),
        0x13 => "PrintableString".into(),
        0x16 => "IA5String".into(),
        0x17 => "UTCTime".into(),
        GENERALIZED_TIME => "GeneralizedTime".into(),
        SEQUENCE => "SEQUENCE".into(),
        SET => "SET".into(),
        t if t & 0xc0 == 0x80 => format!("[{}]", t & 0x1f),
        t => format!("tag 0x{t:02x}"),
    }
}

/// A non-negative INTEGER's magnitude, without leading zero octets (empty
/// for zero).
pub(crate) fn unsigned(value: &[u8], what: &str) -> Result<Vec<u8>, String> {
    match value {
        [] => Err(format!("{what} is an empty INTEGER")),
        [first, ..] if first & 0x80 != 0 => Err(format!("{what} is negative")),
        _ => Ok(value.iter().skip_while(|&&b| b == 0).copied().collect()),
    }
}

/// A non-negative INTEGER that fits in 64 bits.
pub(crate) fn small(value: &[u8], what: &str) -> Result<u64, String> {
    let magnitude = unsigned(value, what)?;
    if magnitude.len() > 8 {
        return Err(format!("{what} is too large"));
    }
    Ok(magnitude
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// An OBJECT IDENTIFIER's dotted form, e.g. `2.16.840.1.101.3.4.2.1`.
pub(crate) fn oid(value: &[u8], what: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err(format!("{what} is an empty OBJECT IDENTIFIER"));
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut current: u64 = 0;
    let mut fresh = true;
    for &b in value {
        if fresh && b == 0x80 {
            return Err(format!("{what} has a padded OBJECT IDENTIFIER arc"));
        }
        if current > u64::MAX >> 7 {
            return Err(format!("{what} has an OBJECT IDENTIFIER arc too large"));
        }
        current = (current << 7) | u64::from(b & 0x7f);
        fresh = b & 0x80 == 0;
        if fresh {
            arcs.push(current);
            current = 0;
        }
    }
    if !fresh {
        return Err(format!("{what} has a truncated OBJECT IDENTIFIER"));
    }
    let first = arcs[0];
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut s = format!("{a}.{b}");
    for arc in &arcs[1..] {
        s.push('.');
        s.push_str(&arc.to_string());
    }
    Ok(s)
}

// ------------------------------------------------------------------ writing

/// One element with its definite, minimal length.
pub(crate) fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    out.push(tag);
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let octets: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | octets.len() as u8);
        out.extend_from_slice(&octets);
    }
    out.extend_from_slice(value);
    out
}

/// A non-negative INTEGER in its minimal encoding.
pub(crate) fn uint(value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(7);
    let mut content = Vec::with_capacity(9);
    if bytes[start] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(&bytes[start..]);
    tlv(INTEGER, &content)
}

/// The minimal magnitude of a u64, as [`unsigned`] gives it.
pub(crate) fn magnitude(value: u64) -> Vec<u8> {
    value
        .to_be_bytes()
        .into_iter()
        .skip_while(|&b| b == 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        assert_eq!(tlv(OCTET_STRING, &[]), [4, 0]);
        assert_eq!(tlv(OCTET_STRING, &[7; 127])[..2], [4, 127]);
        assert_eq!(tlv(OCTET_STRING, &[7; 128])[..3], [4, 0x81, 128]);
        assert_eq!(tlv(OCTET_STRING, &[7; 256])[..4], [4, 0x82, 1, 0]);
        for n in [0, 1, 127, 128, 255, 256, 65_535, 65_536] {
            let bytes = tlv(SEQUENCE, &vec![0; n]);
            let mut r = Reader::new(&bytes);
            let t = r.any("x").unwrap();
            assert_eq!(
                (t.tag, t.value.len(), t.whole.len()),
                (SEQUENCE, n, bytes.len())
            );
            r.end("x").unwrap();
        }
        // A padded long form is accepted; BER and overruns are not.
        let mut r = Reader::new(&[4, 0x82, 0, 1, 9]);
        assert_eq!(r.any("x").unwrap().value, [9]);
        assert!(Reader::new(&[0x30, 0x80, 0, 0])
            .any("x")
            .unwrap_err()
            .contains("indefinite"));
        assert!(Reader::new(&[4, 3, 1])
            .any("x")
            .unwrap_err()
            .contains("claims 3 bytes"));
        assert!(Reader::new(&[4, 0x85, 1, 1, 1, 1, 1]).any("x").is_err());
        assert!(Reader::new(&[0x1f, 1, 0]).any("x").is_err());
        assert!(Reader::new(&[4]).any("x").is_err());
    }

    #[test]
    fn integers() {
        for v in [0, 1, 0x7f, 0x80, 0xff, 0x100, u64::MAX >> 1, u64::MAX] {
            let bytes = uint(v);
            let t = Reader::new(&bytes).any("n").unwrap();
            assert_eq!(small(t.value, "n"), Ok(v));
            assert_eq!(unsigned(t.value, "n").unwrap(), magnitude(v));
        }
        assert_eq!(uint(0), [2, 1, 0]);
        assert_eq!(uint(0x80), [2, 2, 0, 0x80]);
        assert!(small(&[0xff], "n").unwrap_err().contains("negative"));
        assert!(small(&[1; 9], "n").unwrap_err().contains("too large"));
        assert!(small(&[], "n").is_err());
    }

    #[test]
    fn object_identifiers() {
        let sha256 = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
        assert_eq!(oid(&sha256, "o").unwrap(), "2.16.840.1.101.3.4.2.1");
        assert_eq!(oid(&[0x2a, 0x03], "o").unwrap(), "1.2.3");
        assert_eq!(oid(&[0x02], "o").unwrap(), "0.2");
        assert!(oid(&[], "o").is_err());
        assert!(oid(&[0x2a, 0x83], "o").is_err());
        assert!(oid(&[0x2a, 0x80, 0x01], "o").is_err());
        assert!(oid(&[0xff; 12], "o").is_err());
    }
}
