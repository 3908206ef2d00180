//! Seals: C2SP transparency-log proofs (<https://c2sp.org/tlog-proof>).
//!
//! A seal is a self-contained, offline-verifiable proof that a record is in
//! the log:
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 of the record bytes>
//! index <leaf index>
//! <base64 proof hash, leaf's sibling first>
//! …
//!
//! <signed checkpoint, verbatim>
//! ```
//!
//! Minutier puts the encoded record in the `extra` line, so the seal alone
//! lets anyone recompute the leaf hash.

use crate::note::MAX_NOTE_LEN;
use crate::text::{decode_b64, decode_b64_hash, push_b64};
use crate::{Error, Hash};

/// First line of every seal.
pub const TLOG_PROOF_V1: &str = "c2sp.org/tlog-proof@v1";

/// Maximum number of inclusion proof hashes (a tree of 2^64 leaves needs 64).
pub const MAX_PROOF_HASHES: usize = 64;

/// Maximum size of a seal: a checkpoint note plus room for the header, the
/// `extra` data and the proof.
pub const MAX_SEAL_LEN: usize = MAX_NOTE_LEN + 64 * 1024;

/// A parsed seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    /// The `extra` data: for Minutier, the encoded record. Empty when the seal
    /// has no `extra` line.
    pub record: Vec<u8>,
    /// Zero-based index of the record in the log.
    pub index: u64,
    /// Inclusion proof, leaf's sibling first.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note the proof leads to, verbatim.
    pub checkpoint: String,
}

/// A seal whose checkpoint still borrows from the input, so verification does
/// not copy it.
pub(crate) struct SealRef<'a> {
    pub record: Vec<u8>,
    pub index: u64,
    pub proof: Vec<Hash>,
    pub checkpoint: &'a str,
}

fn malformed(line: usize, reason: impl Into<String>) -> Error {
    Error::MalformedSeal {
        line,
        reason: reason.into(),
    }
}

/// Splits off the next LF-terminated line.
fn next_line<'a>(rest: &mut &'a str, line_no: &mut usize) -> Result<&'a str, Error> {
    *line_no += 1;
    match rest.split_once('\n') {
        Some((line, tail)) => {
            *rest = tail;
            Ok(line)
        }
        None => Err(malformed(
            *line_no,
            "the seal ends early; expected a checkpoint after the proof and a blank line",
        )),
    }
}

pub(crate) fn parse_ref(text: &str) -> Result<SealRef<'_>, Error> {
    if text.len() > MAX_SEAL_LEN {
        return Err(malformed(
            0,
            format!(
                "{} bytes is larger than the {MAX_SEAL_LEN}-byte maximum",
                text.len()
            ),
        ));
    }
    if text.contains('\r') {
        return Err(malformed(
            0,
            "contains a carriage return; seals use LF line endings only (was the file converted \
             to CRLF or transferred in text mode?)",
        ));
    }
    let mut rest = text;
    let mut n = 0usize;
    if next_line(&mut rest, &mut n)? != TLOG_PROOF_V1 {
        return Err(malformed(
            n,
            format!("the first line must be {TLOG_PROOF_V1:?}; this is not a seal"),
        ));
    }
    let mut line = next_line(&mut rest, &mut n)?;
    let mut record = Vec::new();
    if let Some(b64) = line.strip_prefix("extra ") {
        record = decode_b64(b64).map_err(|r| malformed(n, format!("extra: {r}")))?;
        if record.is_empty() {
            return Err(malformed(
                n,
                "empty extra data; the line must then be omitted",
            ));
        }
        line = next_line(&mut rest, &mut n)?;
    }
    let Some(index) = line.strip_prefix("index ") else {
        return Err(malformed(n, "expected `index <decimal>`"));
    };
    let index =
        crate::text::parse_decimal(index).map_err(|r| malformed(n, format!("index: {r}")))?;
    let mut proof = Vec::new();
    loop {
        let line = next_line(&mut rest, &mut n)?;
        if line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_HASHES {
            return Err(malformed(
                n,
                format!("more than {MAX_PROOF_HASHES} proof hashes"),
            ));
        }
        proof.push(decode_b64_hash(line).map_err(|r| malformed(n, format!("proof hash: {r}")))?);
    }
    let checkpoint = rest;
    if checkpoint.is_empty() {
        return Err(malformed(n + 1, "missing checkpoint"));
    }
    if checkpoint.len() > MAX_NOTE_LEN || !checkpoint.ends_with('\n') {
        return Err(malformed(
            n + 1,
            "the checkpoint must be a signed note ending with a newline",
        ));
    }
    Ok(SealRef {
        record,
        index,
        proof,
        checkpoint,
    })
}

impl Seal {
    /// The seal's text. [`Seal::parse`] of the result gives back `self`, and
    /// `to_text` of any successfully parsed seal gives back its input.
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(
            64 + self.record.len() * 4 / 3 + self.proof.len() * 45 + self.checkpoint.len(),
        );
        s.push_str(TLOG_PROOF_V1);
        s.push('\n');
        if !self.record.is_empty() {
            s.push_str("extra ");
            push_b64(&mut s, &self.record);
            s.push('\n');
        }
        s.push_str("index ");
        s.push_str(&self.index.to_string());
        s.push('\n');
        for h in &self.proof {
            push_b64(&mut s, h);
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Parses a seal. Strict: LF line endings, canonical base64 and decimals,
    /// at most [`MAX_PROOF_HASHES`] proof lines and [`MAX_SEAL_LEN`] bytes.
    /// The checkpoint is kept verbatim and only checked for its outer shape;
    /// [`crate::verify::SealVerifier`] verifies it.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let r = parse_ref(text)?;
        Ok(Seal {
            record: r.record,
            index: r.index,
            proof: r.proof,
            checkpoint: r.checkpoint.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CP: &str = "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} o AAAA\n";

    fn seal() -> Seal {
        Seal {
            record: b"rec\n".to_vec(),
            index: 12,
            proof: vec![[1; 32], [2; 32]],
            checkpoint: CP.into(),
        }
    }

    #[test]
    fn round_trip() {
        let s = seal();
        assert_eq!(Seal::parse(&s.to_text()), Ok(s.clone()));
        let mut e = s.clone();
        e.record.clear();
        e.proof.clear();
        assert!(!e.to_text().contains("extra"));
        assert_eq!(Seal::parse(&e.to_text()), Ok(e));
    }

    #[test]
    fn rejects() {
        let good = seal().to_text();
        let cases = [
            good.replace('\n', "\r\n"),
            good.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
            good.replacen("index 12", "index 012", 1),
            good.replacen("index 12", "index  12", 1),
            good.replacen("index 12", "index -1", 1),
            good.replacen("index 12\n", "", 1),
            good.replacen("extra cmVjCg==", "extra cmVjCg", 1),
            good.replacen("extra cmVjCg==", "extra ", 1),
            good.replacen("extra cmVjCg==", "extra  cmVjCg==", 1),
            good.replacen("AQEB", "AQE", 1),
            good.replacen("\n\no\n", "\no\n", 1),
            good[..good.find("o\n1\n").unwrap()].to_owned(),
            good[..good.len() - 1].to_owned(),
            format!("{}\n", "x".repeat(MAX_SEAL_LEN)),
            String::new(),
            "c2sp.org/tlog-proof@v1".into(),
        ];
        for (i, bad) in cases.iter().enumerate() {
            assert!(Seal::parse(bad).is_err(), "case {i}: {bad:?}");
        }
        let mut long = seal();
        long.proof = vec![[0; 32]; MAX_PROOF_HASHES + 1];
        assert!(Seal::parse(&long.to_text()).is_err());
        long.proof.pop();
        assert!(Seal::parse(&long.to_text()).is_ok());
    }
}
