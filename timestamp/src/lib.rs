//! RFC 3161 time-stamps, as Minutier uses them over its checkpoints.
//!
//! The daemon asks a time-stamping authority (TSA) to time-stamp the SHA-256
//! of a signed checkpoint: it builds a `TimeStampReq` with [`request`], posts
//! it, and hands the `TimeStampResp` to [`accept`], which checks that the
//! authority granted it ([`parse_response`]), extracts the token (the CMS
//! `ContentInfo`, kept as it came) and its `TSTInfo` ([`parse_token`]), and
//! checks that the token's message imprint and nonce are those of the
//! request ([`check`]). [`response_from_token`] wraps a kept token back into
//! a granted `TimeStampResp`, the `.tsr` file `openssl ts -verify` reads.
//!
//! **This crate does not verify the token's signature, nor the TSA's
//! certificate chain.** That is left to an independent verifier, which is
//! the point of a time-stamp: `openssl ts -verify -data <checkpoint> -in
//! <file>.tsr -CAfile <the TSA's CA>` (see docs/timestamps.md). What is
//! checked here is what the daemon must know before recording a token: that
//! it is well formed, granted, and answers this request.
//!
//! Like `minutier-seal`, the crate is pure: no I/O, no clock, no random
//! numbers (the nonce is a parameter). Its DER reader accepts definite
//! lengths only, and refuses anything it does not understand with a message
//! naming the field.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod der;

use std::fmt;

use der::{Reader, Tlv};
use minutier_seal::record::Timestamp;

/// The OID of SHA-256, the only hash algorithm Minutier requests.
pub const SHA256_OID: &str = "2.16.840.1.101.3.4.2.1";
/// `id-signedData`, the content type of a token.
const SIGNED_DATA_OID: &str = "1.2.840.113549.1.7.2";
/// `id-ct-TSTInfo`, the content type inside a token's signed data.
const TST_INFO_OID: &str = "1.2.840.113549.1.9.16.1.4";
/// The DER of the SHA-256 OID's value.
const SHA256_OID_DER: [u8; 9] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];

/// The media type of a request, for the HTTP `Content-Type` (RFC 3161 §3.4).
pub const QUERY_MEDIA_TYPE: &str = "application/timestamp-query";
/// The media type of a response.
pub const REPLY_MEDIA_TYPE: &str = "application/timestamp-reply";

/// Why a request, response or token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not the DER structure RFC 3161 describes.
    #[error("malformed time-stamp {what}: {reason}")]
    Malformed {
        /// `request`, `response`, `token` or `TSTInfo`.
        what: &'static str,
        /// What was wrong, naming the field.
        reason: String,
    },
    /// The authority answered, but did not grant a time-stamp.
    #[error("{}", refusal(*status, text, fail_info))]
    Refused {
        /// The `PKIStatus` (2: rejection, 3: waiting, …).
        status: u64,
        /// The `statusString` texts, if any.
        text: Vec<String>,
        /// The `failInfo` bits set, by name (`badAlg`, `timeNotAvailable`…).
        fail_info: Vec<String>,
    },
    /// The token uses another hash algorithm than SHA-256.
    #[error(
        "the token's message imprint uses hash algorithm {0}, not SHA-256 ({SHA256_OID}) as \
         requested"
    )]
    UnsupportedHash(String),
    /// The token time-stamps other data than the request's.
    #[error(
        "the token time-stamps {found}, not the requested digest {expected}: the authority \
         answered another request"
    )]
    WrongImprint {
        /// The requested digest, hex.
        expected: String,
        /// The token's imprint, hex.
        found: String,
    },
    /// The token's nonce is not the request's.
    #[error(
        "the token's nonce is {}, not the request's {expected}: the answer was not made for \
         this request (replayed or misrouted)",
        found.as_deref().unwrap_or("absent")
    )]
    WrongNonce {
        /// The request's nonce, hex.
        expected: String,
        /// The token's, hex, if it has one.
        found: Option<String>,
    },
}

fn refusal(status: u64, text: &[String], fail_info: &[String]) -> String {
    let mut s = format!(
        "the time-stamping authority did not grant the time-stamp: status {status} ({})",
        status_name(status)
    );
    if !text.is_empty() {
        s.push_str(&format!(", saying {:?}", text.join(" ")));
    }
    if !fail_info.is_empty() {
        s.push_str(&format!(", failure: {}", fail_info.join(", ")));
    }
    s
}

/// The name of a `PKIStatus` (RFC 3161 §2.4.2).
pub fn status_name(status: u64) -> &'static str {
    match status {
        0 => "granted",
        1 => "grantedWithMods",
        2 => "rejection",
        3 => "waiting",
        4 => "revocationWarning",
        5 => "revocationNotification",
        _ => "unknown status",
    }
}

/// The `PKIFailureInfo` bits of RFC 3161 §2.4.2, with what they mean.
const FAIL_INFO: [(usize, &str, &str); 8] = [
    (0, "badAlg", "unrecognized or unsupported algorithm"),
    (2, "badRequest", "transaction not permitted or supported"),
    (
        5,
        "badDataFormat",
        "the data submitted has the wrong format",
    ),
    (
        14,
        "timeNotAvailable",
        "the TSA's time source is not available",
    ),
    (
        15,
        "unacceptedPolicy",
        "the requested TSA policy is not supported",
    ),
    (
        16,
        "unacceptedExtension",
        "the requested extension is not supported",
    ),
    (
        17,
        "addInfoNotAvailable",
        "the additional information requested is not available",
    ),
    (25, "systemFailure", "the TSA failed"),
];

fn malformed(what: &'static str) -> impl Fn(String) -> Error {
    move |reason| Error::Malformed { what, reason }
}

// ------------------------------------------------------------------ request

/// The DER `TimeStampReq` for a SHA-256 digest: version 1, the message
/// imprint, no policy, `nonce` (draw it at random for each request), and
/// `certReq` TRUE so that the token carries the TSA's certificate.
///
/// It is byte for byte what `openssl ts -query -sha256 -cert` sends for the
/// same digest and nonce.
pub fn request(digest: &[u8; 32], nonce: u64) -> Vec<u8> {
    let algorithm = sequence(&[
        &der::tlv(der::OID, &SHA256_OID_DER),
        &der::tlv(der::NULL, &[]),
    ]);
    let imprint = sequence(&[&algorithm, &der::tlv(der::OCTET_STRING, digest)]);
    sequence(&[
        &der::uint(1),
        &imprint,
        &der::uint(nonce),
        &der::tlv(der::BOOLEAN, &[0xff]),
    ])
}

/// A SEQUENCE of already encoded fields.
fn sequence(fields: &[&[u8]]) -> Vec<u8> {
    der::tlv(der::SEQUENCE, &fields.concat())
}

/// A `TimeStampReq`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The hash algorithm's OID, dotted.
    pub hash_algorithm: String,
    /// The digest to time-stamp.
    pub message_imprint: Vec<u8>,
    /// The requested policy's OID, if any.
    pub policy: Option<String>,
    /// The nonce's magnitude (big-endian, no leading zero), if any.
    pub nonce: Option<Vec<u8>>,
    /// Whether the token should carry the TSA's certificate.
    pub cert_req: bool,
}

/// Decodes a `TimeStampReq` (extensions are skipped).
pub fn parse_request(bytes: &[u8]) -> Result<Request, Error> {
    request_fields(bytes).map_err(malformed("request"))
}

fn request_fields(bytes: &[u8]) -> Result<Request, String> {
    let req = sole(bytes, der::SEQUENCE, "TimeStampReq", "the TimeStampReq")?;
    let mut r = Reader::new(req.value);
    version_one(&mut r)?;
    let (hash_algorithm, message_imprint) = message_imprint(&mut r)?;
    let policy = r
        .optional(der::OID, "reqPolicy")?
        .map(|t| der::oid(t.value, "reqPolicy"))
        .transpose()?;
    let nonce = optional_nonce(&mut r)?;
    let cert_req = boolean_default_false(&mut r, "certReq")?;
    r.optional(der::context(0, true), "extensions")?;
    r.end("the request's fields")?;
    Ok(Request {
        hash_algorithm,
        message_imprint,
        policy,
        nonce,
        cert_req,
    })
}

/// The one element `bytes` holds, which must have `tag`; `whole` names it
/// in the message about bytes after it.
fn sole<'a>(bytes: &'a [u8], tag: u8, what: &str, whole: &str) -> Result<Tlv<'a>, String> {
    let mut r = Reader::new(bytes);
    let element = r.expect(tag, what)?;
    r.end(whole)?;
    Ok(element)
}

/// `version INTEGER { v1(1) }`, which opens a request and a `TSTInfo`.
fn version_one(r: &mut Reader<'_>) -> Result<(), String> {
    let version = r.expect(der::INTEGER, "version")?;
    if der::small(version.value, "version")? != 1 {
        return Err("version is not 1".into());
    }
    Ok(())
}

/// An OBJECT IDENTIFIER, dotted.
fn oid_field(r: &mut Reader<'_>, what: &str) -> Result<String, String> {
    let oid = r.expect(der::OID, what)?;
    der::oid(oid.value, what)
}

/// `nonce INTEGER OPTIONAL`, as its magnitude.
fn optional_nonce(r: &mut Reader<'_>) -> Result<Option<Vec<u8>>, String> {
    r.optional(der::INTEGER, "nonce")?
        .map(|t| der::unsigned(t.value, "nonce"))
        .transpose()
}

/// A `BOOLEAN DEFAULT FALSE` field.
fn boolean_default_false(r: &mut Reader<'_>, what: &str) -> Result<bool, String> {
    match r.optional(der::BOOLEAN, what)?.map(|t| t.value) {
        None | Some([0]) => Ok(false),
        Some([_]) => Ok(true),
        Some(_) => Err(format!("{what} is not a one-byte BOOLEAN")),
    }
}

/// `MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier,
/// hashedMessage OCTET STRING }`.
fn message_imprint(r: &mut Reader<'_>) -> Result<(String, Vec<u8>), String> {
    let imprint = r.expect(der::SEQUENCE, "messageImprint")?;
    let mut m = Reader::new(imprint.value);
    let algorithm = m.expect(der::SEQUENCE, "messageImprint.hashAlgorithm")?;
    let mut a = Reader::new(algorithm.value);
    let oid = a.expect(der::OID, "messageImprint.hashAlgorithm.algorithm")?;
    let oid = der::oid(oid.value, "messageImprint.hashAlgorithm")?;
    // Parameters: NULL or absent for the SHA-2 family.
    if !a.is_empty() {
        a.any("messageImprint.hashAlgorithm.parameters")?;
    }
    a.end("the hash algorithm")?;
    let digest = m.expect(der::OCTET_STRING, "messageImprint.hashedMessage")?;
    m.end("the message imprint")?;
    Ok((oid, digest.value.to_vec()))
}

// ----------------------------------------------------------------- response

/// The `accuracy` of a token's time: how far the true time may be from
/// `genTime`, either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Accuracy {
    /// Seconds.
    pub seconds: u64,
    /// Milliseconds, 0 to 999.
    pub millis: u64,
    /// Microseconds, 0 to 999.
    pub micros: u64,
}

/// The `TSTInfo` of a token: what the authority signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TstInfo {
    /// The TSA policy under which the token was issued, dotted OID.
    pub policy: String,
    /// The message imprint's hash algorithm, dotted OID.
    pub hash_algorithm: String,
    /// The time-stamped digest.
    pub message_imprint: Vec<u8>,
    /// The token's serial number: magnitude, big-endian, no leading zero.
    pub serial: Vec<u8>,
    /// `genTime`, to the millisecond (finer digits are dropped).
    pub gen_time: Timestamp,
    /// `genTime` exactly as encoded (`YYYYMMDDHHMMSS[.f…]Z`).
    pub gen_time_text: String,
    /// The time's accuracy, if stated.
    pub accuracy: Option<Accuracy>,
    /// Whether tokens of this TSA can be ordered by `genTime` alone.
    pub ordering: bool,
    /// The nonce's magnitude, if the token has one.
    pub nonce: Option<Vec<u8>>,
    /// The TSA's name, if given: a distinguished name in RFC 4514 form
    /// (`CN=…,O=…`), or an e-mail address, DNS name or URI.
    pub tsa: Option<String>,
}

impl TstInfo {
    /// The serial number in lowercase hex (`"0"` for zero).
    pub fn serial_hex(&self) -> String {
        if self.serial.is_empty() {
            "0".into()
        } else {
            hex(&self.serial)
        }
    }
}

/// A granted `TimeStampResp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// 0 (granted) or 1 (grantedWithMods).
    pub status: u64,
    /// The `TimeStampToken`: the DER of its CMS `ContentInfo`, exactly as
    /// the authority sent it.
    pub token: Vec<u8>,
    /// The token's `TSTInfo`.
    pub info: TstInfo,
}

/// Decodes a `TimeStampResp`: a refusal becomes [`Error::Refused`] with the
/// authority's status, texts and failure bits; a granted response gives its
/// token and the token's `TSTInfo`.
pub fn parse_response(bytes: &[u8]) -> Result<Granted, Error> {
    let bad = malformed("response");
    let (status, token) = response_fields(bytes).map_err(&bad)?;
    if status.status > 1 {
        return Err(Error::Refused {
            status: status.status,
            text: status.text,
            fail_info: status.fail_info,
        });
    }
    let status = status.status;
    let token = token.ok_or_else(|| {
        bad(format!(
            "status {status} ({}) but no time-stamp token",
            status_name(status)
        ))
    })?;
    let info = parse_token(token.whole)?;
    Ok(Granted {
        status,
        token: token.whole.to_vec(),
        info,
    })
}

/// A `PKIStatusInfo`, decoded.
struct StatusInfo {
    status: u64,
    text: Vec<String>,
    fail_info: Vec<String>,
}

/// The status of a `TimeStampResp` and its token, if any.
fn response_fields(bytes: &[u8]) -> Result<(StatusInfo, Option<Tlv<'_>>), String> {
    let resp = sole(bytes, der::SEQUENCE, "TimeStampResp", "the TimeStampResp")?;
    let mut r = Reader::new(resp.value);
    let status_info = r.expect(der::SEQUENCE, "status")?;
    let token = r.optional(der::SEQUENCE, "timeStampToken")?;
    r.end("the time-stamp token")?;

    let mut s = Reader::new(status_info.value);
    let status = s.expect(der::INTEGER, "status.status")?;
    let status = der::small(status.value, "status.status")?;
    let mut text = Vec::new();
    if let Some(free) = s.optional(der::SEQUENCE, "status.statusString")? {
        let mut f = Reader::new(free.value);
        while !f.is_empty() {
            let t = f.expect(0x0c, "status.statusString")?;
            text.push(String::from_utf8_lossy(t.value).into_owned());
        }
    }
    let fail_info = match s.optional(der::BIT_STRING, "status.failInfo")? {
        Some(bits) => failure_bits(bits.value)?,
        None => Vec::new(),
    };
    s.end("the status")?;
    Ok((
        StatusInfo {
            status,
            text,
            fail_info,
        },
        token,
    ))
}

fn failure_bits(value: &[u8]) -> Result<Vec<String>, String> {
    let Some((&unused, bits)) = value.split_first() else {
        return Err("status.failInfo is an empty BIT STRING".into());
    };
    if unused > 7 || (bits.is_empty() && unused != 0) {
        return Err("status.failInfo is not a valid BIT STRING".into());
    }
    let mut names = Vec::new();
    for (i, byte) in bits.iter().enumerate() {
        for j in 0..8 {
            if byte & (0x80 >> j) == 0 {
                continue;
            }
            let bit = i * 8 + j;
            names.push(match FAIL_INFO.iter().find(|(b, ..)| *b == bit) {
                Some((_, name, meaning)) => format!("{name} ({meaning})"),
                None => format!("bit {bit}"),
            });
        }
    }
    Ok(names)
}

/// Decodes a `TimeStampToken` (the CMS `ContentInfo` of `SignedData` whose
/// content is a `TSTInfo`) and returns its `TSTInfo`. The structure around
/// it is checked (content types, at least one signer), the signature is not
/// (see the crate's documentation).
pub fn parse_token(bytes: &[u8]) -> Result<TstInfo, Error> {
    let tst_info = signed_tst_info(bytes).map_err(malformed("token"))?;
    parse_tst_info(tst_info).map_err(malformed("TSTInfo"))
}

/// The DER of the `TSTInfo` that a token signs.
fn signed_tst_info(bytes: &[u8]) -> Result<&[u8], String> {
    let content_info = sole(bytes, der::SEQUENCE, "ContentInfo", "the token")?;
    let mut c = Reader::new(content_info.value);
    let content_type = oid_field(&mut c, "contentType")?;
    if content_type != SIGNED_DATA_OID {
        return Err(format!(
            "contentType is {content_type}, not signedData ({SIGNED_DATA_OID})"
        ));
    }
    let explicit = c.expect(der::context(0, true), "content")?;
    c.end("the signed data")?;
    let signed = sole(
        explicit.value,
        der::SEQUENCE,
        "SignedData",
        "the SignedData",
    )?;

    let mut sd = Reader::new(signed.value);
    sd.expect(der::INTEGER, "SignedData.version")?;
    sd.expect(der::SET, "SignedData.digestAlgorithms")?;
    let encap = sd.expect(der::SEQUENCE, "SignedData.encapContentInfo")?;
    sd.optional(der::context(0, true), "SignedData.certificates")?;
    sd.optional(der::context(1, true), "SignedData.crls")?;
    let signers = sd.expect(der::SET, "SignedData.signerInfos")?;
    sd.end("the signer infos")?;
    if signers.value.is_empty() {
        return Err("SignedData.signerInfos is empty: the token is not signed".into());
    }

    let mut ec = Reader::new(encap.value);
    let e_type = oid_field(&mut ec, "eContentType")?;
    if e_type != TST_INFO_OID {
        return Err(format!(
            "eContentType is {e_type}, not id-ct-TSTInfo ({TST_INFO_OID})"
        ));
    }
    let e_content = ec.expect(der::context(0, true), "eContent")?;
    ec.end("the encapsulated content")?;
    let mut o = Reader::new(e_content.value);
    let octets = o
        .expect(der::OCTET_STRING, "eContent")
        .map_err(|e| format!("{e} (a constructed OCTET STRING is BER; time-stamps must be DER)"))?;
    o.end("eContent")?;
    Ok(octets.value)
}

/// `TSTInfo` (RFC 3161 §2.4.2).
fn parse_tst_info(bytes: &[u8]) -> Result<TstInfo, String> {
    let info = sole(bytes, der::SEQUENCE, "TSTInfo", "the TSTInfo")?;
    let mut r = Reader::new(info.value);
    version_one(&mut r)?;
    let policy = oid_field(&mut r, "policy")?;
    let (hash_algorithm, message_imprint) = message_imprint(&mut r)?;
    let serial = r.expect(der::INTEGER, "serialNumber")?;
    let serial = der::unsigned(serial.value, "serialNumber")?;
    let time = r.expect(der::GENERALIZED_TIME, "genTime")?;
    let (gen_time, gen_time_text) = generalized_time(time.value)?;
    let accuracy = r
        .optional(der::SEQUENCE, "accuracy")?
        .map(|t| accuracy(t.value))
        .transpose()?;
    let ordering = boolean_default_false(&mut r, "ordering")?;
    let nonce = optional_nonce(&mut r)?;
    let tsa = r
        .optional(der::context(0, true), "tsa")?
        .map(|t| general_name(t.value))
        .transpose()?;
    r.optional(der::context(1, true), "extensions")?;
    r.end("the TSTInfo's fields")?;
    Ok(TstInfo {
        policy,
        hash_algorithm,
        message_imprint,
        serial,
        gen_time,
        gen_time_text,
        accuracy,
        ordering,
        nonce,
        tsa,
    })
}

/// `GeneralizedTime` in DER: `YYYYMMDDHHMMSS[.f…]Z`, UTC.
fn generalized_time(value: &[u8]) -> Result<(Timestamp, String), String> {
    let text = std::str::from_utf8(value)
        .map_err(|_| "genTime is not ASCII".to_owned())?
        .to_owned();
    let shape = || format!("genTime {text:?} is not YYYYMMDDHHMMSS[.fff]Z (UTC)");
    let b = text.as_bytes();
    if b.len() < 15 || !b[..14].iter().all(u8::is_ascii_digit) || b[b.len() - 1] != b'Z' {
        return Err(shape());
    }
    let fraction = &text[14..text.len() - 1];
    let millis = match fraction.strip_prefix('.') {
        None if fraction.is_empty() => "000".to_owned(),
        Some(digits) if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) => {
            format!("{:0<3}", &digits[..digits.len().min(3)])
        }
        _ => return Err(shape()),
    };
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}.{millis}Z",
        &text[0..4],
        &text[4..6],
        &text[6..8],
        &text[8..10],
        &text[10..12],
        &text[12..14]
    );
    let time = rfc3339
        .parse::<Timestamp>()
        .map_err(|e| format!("genTime {text:?}: {e}"))?;
    Ok((time, text))
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER
/// (1..999) OPTIONAL, micros [1] INTEGER (1..999) OPTIONAL }`.
fn accuracy(value: &[u8]) -> Result<Accuracy, String> {
    let mut r = Reader::new(value);
    let mut a = Accuracy::default();
    if let Some(t) = r.optional(der::INTEGER, "accuracy.seconds")? {
        a.seconds = der::small(t.value, "accuracy.seconds")?;
    }
    if let Some(t) = r.optional(der::context(0, false), "accuracy.millis")? {
        a.millis = der::small(t.value, "accuracy.millis")?;
    }
    if let Some(t) = r.optional(der::context(1, false), "accuracy.micros")? {
        a.micros = der::small(t.value, "accuracy.micros")?;
    }
    r.end("the accuracy")?;
    if a.millis > 999 || a.micros > 999 {
        return Err("accuracy: millis and micros must be at most 999".into());
    }
    Ok(a)
}

/// The `GeneralName` inside `tsa [0]`, rendered for people.
fn general_name(value: &[u8]) -> Result<String, String> {
    let mut r = Reader::new(value);
    let name = r.any("tsa")?;
    r.end("the TSA name")?;
    match name.tag {
        // rfc822Name, dNSName, uniformResourceIdentifier: IA5String.
        0x81 | 0x82 | 0x86 => Ok(String::from_utf8_lossy(name.value).into_owned()),
        // directoryName [4] EXPLICIT Name.
        0xa4 => {
            let dn = sole(
                name.value,
                der::SEQUENCE,
                "tsa.directoryName",
                "the TSA's directory name",
            )?;
            distinguished_name(dn.value)
        }
        other => Ok(format!("(a {} name)", der::tag_name(other))),
    }
}

/// An X.501 `Name` in RFC 4514 form: the last RDN first, `CN=…,O=…`.
fn distinguished_name(value: &[u8]) -> Result<String, String> {
    let mut rdns = Vec::new();
    let mut r = Reader::new(value);
    while !r.is_empty() {
        let rdn = r.expect(der::SET, "tsa name RDN")?;
        let mut attributes = Vec::new();
        let mut a = Reader::new(rdn.value);
        while !a.is_empty() {
            let pair = a.expect(der::SEQUENCE, "tsa name attribute")?;
            let mut p = Reader::new(pair.value);
            let oid = oid_field(&mut p, "tsa name attribute type")?;
            let v = p.any("tsa name attribute value")?;
            p.end("the attribute")?;
            attributes.push(format!(
                "{}={}",
                attribute_name(&oid),
                escape(&string_value(v))
            ));
        }
        rdns.push(attributes.join("+"));
    }
    rdns.reverse();
    Ok(rdns.join(","))
}

fn attribute_name(oid: &str) -> String {
    match oid {
        "2.5.4.3" => "CN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.97" => "organizationIdentifier",
        "1.2.840.113549.1.9.1" => "emailAddress",
        other => return other.to_owned(),
    }
    .to_owned()
}

fn string_value(v: Tlv<'_>) -> String {
    match v.tag {
        // UTF8String, PrintableString, IA5String, VisibleString.
        0x0c | 0x13 | 0x16 | 0x1a => String::from_utf8_lossy(v.value).into_owned(),
        // TeletexString: Latin-1 in practice.
        0x14 => v.value.iter().map(|&b| char::from(b)).collect(),
        // BMPString: UTF-16BE.
        0x1e => char::decode_utf16(
            v.value
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])),
        )
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect(),
        _ => format!("#{}", hex(v.whole)),
    }
}

/// RFC 4514 escaping of the special characters, of a leading `#` and of
/// spaces at either end; control characters as `\\xx`.
fn escape(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        let edge = i == 0 || i + 1 == chars.len();
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if edge => out.push_str("\\ "),
            c if c.is_control() => out.push_str(&format!("\\{:02x}", u32::from(c) & 0xff)),
            c => out.push(c),
        }
    }
    out
}

// --------------------------------------------------------------- checking

/// Checks that a token answers the request for `digest` with `nonce`:
/// SHA-256, the same digest, the same nonce.
pub fn check(info: &TstInfo, digest: &[u8; 32], nonce: u64) -> Result<(), Error> {
    if info.hash_algorithm != SHA256_OID {
        return Err(Error::UnsupportedHash(info.hash_algorithm.clone()));
    }
    if info.message_imprint != digest {
        return Err(Error::WrongImprint {
            expected: hex(digest),
            found: hex(&info.message_imprint),
        });
    }
    let expected = der::magnitude(nonce);
    if info.nonce.as_deref() != Some(expected.as_slice()) {
        return Err(Error::WrongNonce {
            expected: format!("{nonce:x}"),
            found: info.nonce.as_deref().map(|n| {
                if n.is_empty() {
                    "0".to_owned()
                } else {
                    hex(n).trim_start_matches('0').to_owned()
                }
            }),
        });
    }
    Ok(())
}

/// [`parse_response`] then [`check`]: what the daemon does with an answer.
pub fn accept(response: &[u8], digest: &[u8; 32], nonce: u64) -> Result<Granted, Error> {
    let granted = parse_response(response)?;
    check(&granted.info, digest, nonce)?;
    Ok(granted)
}

/// A granted `TimeStampResp` (status 0) around a kept token: the `.tsr`
/// that `openssl ts -verify -in` reads. The status is not signed, the token
/// is: the file proves exactly what the token proves.
pub fn response_from_token(token: &[u8]) -> Vec<u8> {
    sequence(&[&sequence(&[&der::uint(0)]), token])
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        for nonce in [0, 1, 0x7f, 0x80, 0xdead_beef, u64::MAX] {
            let digest = [nonce as u8; 32];
            let req = parse_request(&request(&digest, nonce)).unwrap();
            assert_eq!(req.hash_algorithm, SHA256_OID);
            assert_eq!(req.message_imprint, digest);
            assert_eq!(req.nonce, Some(der::magnitude(nonce)));
            assert!(req.cert_req);
            assert_eq!(req.policy, None);
        }
    }

    #[test]
    fn generalized_times() {
        let t = |s: &str| generalized_time(s.as_bytes()).map(|(t, _)| t.to_string());
        assert_eq!(t("20261129141428Z").unwrap(), "2026-11-29T14:14:28.000Z");
        assert_eq!(t("20261129141428.7Z").unwrap(), "2026-11-29T14:14:28.700Z");
        assert_eq!(
            t("20261129141428.736Z").unwrap(),
            "2026-11-29T14:14:28.736Z"
        );
        assert_eq!(
            t("20261129141428.73691Z").unwrap(),
            "2026-11-29T14:14:28.736Z"
        );
        for bad in [
            "",
            "20261129141428",
            "20261129141428+0100",
            "20261129141428.Z",
            "2026112914142Z",
            "20261329141428Z",
            "19691231235959Z",
            "2026112914142aZ",
            "20261129141428.1aZ",
        ] {
            assert!(t(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn failure_bits_are_named() {
        // badAlg (bit 0) and systemFailure (bit 25).
        let names = failure_bits(&[6, 0x80, 0, 0, 0x40]).unwrap();
        assert_eq!(names.len(), 2);
        assert!(names[0].starts_with("badAlg"));
        assert!(names[1].starts_with("systemFailure"));
        assert_eq!(failure_bits(&[0, 0x02]).unwrap(), ["bit 6"]);
        assert!(failure_bits(&[]).is_err());
        assert!(failure_bits(&[8, 0]).is_err());
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(escape("Test, Inc."), "Test\\, Inc.");
        assert_eq!(escape(" a "), "\\ a\\ ");
        assert_eq!(escape("#1"), "\\#1");
        assert_eq!(escape(" "), "\\ ");
        assert_eq!(escape("a\nb"), "a\\0ab");
    }

    #[test]
    fn a_wrapped_token_is_a_granted_response() {
        // The smallest structure that parse_response accepts as a token is
        // a real one; see tests/openssl.rs. A malformed token is reported as
        // such, inside a granted response.
        let e = parse_response(&response_from_token(&der::tlv(der::SEQUENCE, &[]))).unwrap_err();
        assert!(
            matches!(&e, Error::Malformed { what: "token", .. }),
            "{e:?}"
        );
    }
}
