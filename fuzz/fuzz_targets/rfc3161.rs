//! `minutier_timestamp::parse_response`, `parse_token` and `parse_request`:
//! the RFC 3161 DER that the daemon reads from a time-stamping authority and
//! the CLI from exported `.tsr` files.
//!
//! Invariants: none panics; a granted response has status 0 or 1, its token
//! is a part of the input and parses alone to the same `TSTInfo`, and,
//! wrapped again by `response_from_token`, gives back the same token and
//! `TSTInfo`; `check` accepts the token for its own imprint and nonce exactly
//! when it is a SHA-256 imprint, and never for another nonce; a request that
//! parses, if it is a SHA-256 request with a 64-bit nonce, is rebuilt by
//! `request` into one that parses to the same digest and nonce.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minutier_timestamp::{
    check, parse_request, parse_response, parse_token, request, response_from_token, SHA256_OID,
};

/// A nonce's magnitude as a u64, if it fits.
fn nonce_u64(magnitude: &[u8]) -> Option<u64> {
    (magnitude.len() <= 8).then(|| {
        magnitude
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(granted) = parse_response(data) {
        assert!(granted.status <= 1, "status {}", granted.status);
        assert!(
            data.windows(granted.token.len())
                .any(|w| w == granted.token),
            "the token is not part of the response"
        );
        assert_eq!(parse_token(&granted.token).as_ref(), Ok(&granted.info));
        let again =
            parse_response(&response_from_token(&granted.token)).expect("a wrapped token parses");
        assert_eq!(again.status, 0);
        assert_eq!(again.token, granted.token);
        assert_eq!(again.info, granted.info);
        assert!(granted.info.gen_time.is_valid());
        let digest = <[u8; 32]>::try_from(granted.info.message_imprint.as_slice());
        let nonce = granted.info.nonce.as_deref().and_then(nonce_u64);
        if let (Ok(digest), Some(nonce)) = (digest, nonce) {
            assert_eq!(
                check(&granted.info, &digest, nonce).is_ok(),
                granted.info.hash_algorithm == SHA256_OID
            );
            assert!(check(&granted.info, &digest, nonce ^ 1).is_err());
        }
    }
    let _ = parse_token(data);
    if let Ok(req) = parse_request(data) {
        let digest = <[u8; 32]>::try_from(req.message_imprint.as_slice());
        let nonce = req.nonce.as_deref().and_then(nonce_u64);
        if let (true, Ok(digest), Some(nonce)) = (req.hash_algorithm == SHA256_OID, digest, nonce) {
            let rebuilt = parse_request(&request(&digest, nonce)).expect("a built request parses");
            assert_eq!(rebuilt.message_imprint, digest);
            assert_eq!(rebuilt.nonce.as_deref().and_then(nonce_u64), Some(nonce));
            assert!(rebuilt.cert_req);
        }
    }
});
