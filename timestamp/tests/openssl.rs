//! Requests, responses and tokens made by `openssl ts` (fixtures/, see
//! fixtures/gen.sh): the request encoder must reproduce openssl's query byte
//! for byte, and the parser must read openssl's replies, refusals and
//! tokens, and refuse their alterations.

use minutier_timestamp::{
    accept, check, parse_request, parse_response, parse_token, request, response_from_token,
    Accuracy, Error, SHA256_OID,
};
use sha2::{Digest, Sha256};

const DATA: &[u8] = include_bytes!("fixtures/data.txt");
const QUERY: &[u8] = include_bytes!("fixtures/query.tsq");
const REPLY: &[u8] = include_bytes!("fixtures/reply.tsr");
const TOKEN: &[u8] = include_bytes!("fixtures/token.tst");
const BARE: &[u8] = include_bytes!("fixtures/reply-bare.tsr");
const REJECTED: &[u8] = include_bytes!("fixtures/rejected.tsr");
/// The policy in gen.sh's TSA configuration.
const POLICY: &str = "1.3.6.1.4.1.99999.3161.1";

fn digest() -> [u8; 32] {
    Sha256::digest(DATA).into()
}

/// The nonce openssl drew for query.tsq.
fn query_nonce() -> u64 {
    let nonce = parse_request(QUERY).unwrap().nonce.unwrap();
    assert!(nonce.len() <= 8);
    nonce.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

#[test]
fn the_request_is_openssls_query() {
    let parsed = parse_request(QUERY).unwrap();
    assert_eq!(parsed.hash_algorithm, SHA256_OID);
    assert_eq!(parsed.message_imprint, digest());
    assert!(parsed.cert_req);
    assert_eq!(parsed.policy, None);
    assert_eq!(request(&digest(), query_nonce()), QUERY);
}

#[test]
fn a_granted_reply() {
    let granted = parse_response(REPLY).unwrap();
    assert_eq!(granted.status, 0);
    let info = &granted.info;
    assert_eq!(info.policy, POLICY);
    assert_eq!(info.hash_algorithm, SHA256_OID);
    assert_eq!(info.message_imprint, digest());
    // gen.sh starts the serial file at 1000; openssl increments it first.
    assert_eq!(info.serial_hex(), "1001");
    assert_eq!(
        info.accuracy,
        Some(Accuracy {
            seconds: 1,
            millis: 500,
            micros: 0
        })
    );
    assert!(!info.ordering);
    assert_eq!(
        info.tsa.as_deref(),
        Some("CN=Minutier test TSA,O=Minutier test")
    );
    // clock_precision_digits = 3: YYYYMMDDHHMMSS.fffZ, milliseconds kept.
    let text = &info.gen_time_text;
    assert_eq!(text.len(), 19, "{text}");
    let shown = info.gen_time.to_string();
    assert_eq!(
        shown,
        format!(
            "{}-{}-{}T{}:{}:{}.{}Z",
            &text[0..4],
            &text[4..6],
            &text[6..8],
            &text[8..10],
            &text[10..12],
            &text[12..14],
            &text[15..18]
        )
    );
    // The token is exactly what `openssl ts -reply -token_out` extracts.
    assert_eq!(granted.token, TOKEN);
    assert_eq!(parse_token(TOKEN).unwrap(), *info);
    // And wrapping it again gives openssl's reply back.
    assert_eq!(response_from_token(TOKEN), REPLY);
}

#[test]
fn the_reply_answers_the_query_and_nothing_else() {
    let nonce = query_nonce();
    accept(REPLY, &digest(), nonce).unwrap();

    let mut other = digest();
    other[0] ^= 1;
    let e = accept(REPLY, &other, nonce).unwrap_err();
    assert!(matches!(e, Error::WrongImprint { .. }), "{e:?}");
    assert!(e.to_string().contains("another request"), "{e}");

    let e = accept(REPLY, &digest(), nonce ^ 1).unwrap_err();
    match &e {
        Error::WrongNonce { expected, found } => {
            assert_eq!(*expected, format!("{:x}", nonce ^ 1));
            assert_eq!(found.as_deref(), Some(format!("{nonce:x}").as_str()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bare_reply_without_nonce_name_accuracy_or_certificates() {
    let granted = parse_response(BARE).unwrap();
    let info = &granted.info;
    assert_eq!(info.nonce, None);
    assert_eq!(info.tsa, None);
    assert_eq!(info.accuracy, None);
    assert_eq!(info.serial_hex(), "1002");
    assert_eq!(info.message_imprint, digest());
    // Without a nonce it answers no request of ours.
    let e = check(info, &digest(), 7).unwrap_err();
    assert_eq!(
        e,
        Error::WrongNonce {
            expected: "7".into(),
            found: None
        }
    );
    assert!(e.to_string().contains("is absent"), "{e}");
}

#[test]
fn a_refusal_names_its_status_text_and_failure() {
    let e = parse_response(REJECTED).unwrap_err();
    match &e {
        Error::Refused {
            status,
            text,
            fail_info,
        } => {
            assert_eq!(*status, 2);
            assert_eq!(text, &["Message digest algorithm is not supported."]);
            assert_eq!(fail_info.len(), 1);
            assert!(fail_info[0].starts_with("badAlg"), "{fail_info:?}");
        }
        other => panic!("{other:?}"),
    }
    let message = e.to_string();
    for needle in [
        "did not grant",
        "status 2 (rejection)",
        "Message digest algorithm is not supported.",
        "badAlg (unrecognized or unsupported algorithm)",
    ] {
        assert!(message.contains(needle), "{needle:?} in {message}");
    }
}

#[test]
fn every_truncation_is_refused() {
    for input in [REPLY, BARE, REJECTED, QUERY] {
        for n in 0..input.len() {
            let cut = &input[..n];
            assert!(
                matches!(parse_response(cut), Err(Error::Malformed { .. })),
                "prefix of {n} bytes"
            );
            assert!(parse_request(cut).is_err(), "prefix of {n} bytes");
        }
    }
    for n in 0..TOKEN.len() {
        assert!(parse_token(&TOKEN[..n]).is_err(), "prefix of {n} bytes");
    }
    // Trailing bytes too.
    let mut long = REPLY.to_vec();
    long.push(0);
    let e = parse_response(&long).unwrap_err();
    assert!(e.to_string().contains("unexpected bytes"), "{e}");
}

#[test]
fn altered_bytes_never_panic_and_never_pass_unnoticed() {
    // Flip each bit of the reply in turn: the parser may accept the result
    // only if the alteration is in a part it does not read (certificates,
    // signatures), and then the imprint and nonce it reports are unchanged
    // unless the flip hit them, in which case check() refuses.
    let nonce = query_nonce();
    let magnitude: Vec<u8> = nonce
        .to_be_bytes()
        .into_iter()
        .skip_while(|&b| b == 0)
        .collect();
    for i in 0..REPLY.len() {
        for bit in 0..8 {
            let mut altered = REPLY.to_vec();
            altered[i] ^= 1 << bit;
            if let Ok(granted) = parse_response(&altered) {
                let same = granted.info.hash_algorithm == SHA256_OID
                    && granted.info.message_imprint == digest()
                    && granted.info.nonce.as_deref() == Some(magnitude.as_slice());
                assert_eq!(check(&granted.info, &digest(), nonce).is_ok(), same);
            }
        }
    }
}

#[test]
fn a_token_for_other_content_is_refused() {
    // Give the token's content another type: it is no longer a TSTInfo.
    let at = TOKEN
        .windows(11)
        .position(|w| {
            w == [
                0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10,
            ]
        })
        .expect("the id-ct-TSTInfo OID");
    let mut altered = TOKEN.to_vec();
    altered[at + 12] ^= 0x07;
    let e = parse_token(&altered).unwrap_err();
    assert!(e.to_string().contains("not id-ct-TSTInfo"), "{e}");
    // And a ContentInfo that is not signed data.
    let mut altered = TOKEN.to_vec();
    altered[4 + 10] ^= 0x01; // last byte of the signedData OID
    let e = parse_token(&altered).unwrap_err();
    assert!(e.to_string().contains("not signedData"), "{e}");
}
