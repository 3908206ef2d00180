//! Local console accounts: password hashing, password policy and TOTP
//! (RFC 6238). Pure functions; the only I/O is the system's randomness.

use crate::https::percent_encode;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::Rng;
use sha1::Sha1;

/// Shortest and longest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// TOTP parameters, fixed: what authenticator apps assume by default.
const TOTP_STEP_SECONDS: u64 = 30;
const TOTP_DIGITS: u32 = 6;

/// Hashes `password` with argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters and a generated salt cannot fail")
        .to_string()
}

/// Whether `password` matches the PHC string `phc`; false if `phc` is
/// malformed.
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Refuses passwords too short, too long or with control characters.
pub fn check_password_policy(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password has {n} characters; it needs at least {MIN_PASSWORD_CHARS}"
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(format!(
            "the password has {n} characters; it may have at most {MAX_PASSWORD_CHARS}"
        ));
    }
    if let Some((i, c)) = password.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err(format!(
            "the password contains a control character (U+{:04X}) at position {}; \
             control characters, tabs and line breaks are not allowed",
            c as u32,
            i + 1
        ));
    }
    Ok(())
}

/// Letters and digits that cannot be mistaken for one another when read
/// aloud or copied by hand: no 0/O, 1/l/I.
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A random password of 20 characters in four groups of five,
/// xxxxx-xxxxx-xxxxx-xxxxx, for an administrator to hand over once. The
/// dashes count towards the policy's length.
pub fn generate_password() -> String {
    let mut rng = OsRng;
    let mut out = String::with_capacity(23);
    for i in 0..20 {
        if i > 0 && i % 5 == 0 {
            out.push('-');
        }
        out.push(PASSWORD_ALPHABET[rng.gen_range(0..PASSWORD_ALPHABET.len())] as char);
    }
    out
}

/// A new TOTP secret: 20 random bytes (the size of an HMAC-SHA1 key), in
/// unpadded uppercase base32 as authenticator apps expect.
pub fn new_totp_secret() -> String {
    let mut bytes = [0u8; 20];
    OsRng.fill(&mut bytes);
    data_encoding::BASE32_NOPAD.encode(&bytes)
}

/// Decodes a base32 secret, tolerating lowercase, spaces and padding as
/// people type or paste them.
fn decode_secret(secret_base32: &str) -> Option<Vec<u8>> {
    let cleaned: String = secret_base32
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let key = data_encoding::BASE32_NOPAD
        .decode(cleaned.as_bytes())
        .ok()?;
    (!key.is_empty()).then_some(key)
}

/// The HOTP value (RFC 4226) of `counter`, as `digits` decimal digits.
fn hotp(key: &[u8], counter: u64, digits: u32) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[digest.len() - 1] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    let value = binary % 10u32.pow(digits);
    format!("{value:0width$}", width = digits as usize)
}

/// The 6-digit TOTP code (RFC 6238, HMAC-SHA1, 30 s step) at
/// `unix_seconds`; None if the secret is not valid base32.
pub fn totp_code(secret_base32: &str, unix_seconds: u64) -> Option<String> {
    let key = decode_secret(secret_base32)?;
    Some(hotp(&key, unix_seconds / TOTP_STEP_SECONDS, TOTP_DIGITS))
}

/// Whether `code` is the TOTP code of the current step or of one step
/// either side (clocks of phones drift, and typing takes time).
pub fn verify_totp(secret_base32: &str, code: &str, unix_seconds: u64) -> bool {
    totp_step(secret_base32, code, unix_seconds).is_some()
}

/// The step whose TOTP code `code` is, among the current step and one
/// either side; None when it is none of them. The caller refuses a step
/// already used, so that a code serves once.
pub fn totp_step(secret_base32: &str, code: &str, unix_seconds: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| *c != ' ').collect();
    if code.len() != TOTP_DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let key = decode_secret(secret_base32)?;
    let step = unix_seconds / TOTP_STEP_SECONDS;
    let mut matched = None;
    for counter in [step.checked_sub(1), Some(step), step.checked_add(1)]
        .into_iter()
        .flatten()
    {
        // Every candidate is computed and compared, so timing reveals
        // neither the code nor which step matched.
        if constant_time_eq(hotp(&key, counter, TOTP_DIGITS).as_bytes(), code.as_bytes()) {
            matched = Some(counter);
        }
    }
    matched
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The otpauth:// URI that authenticator apps read from a QR code.
pub fn otpauth_uri(issuer: &str, login: &str, secret: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_SECONDS}",
        percent_encode(login),
        percent_encode(secret),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 6238 appendix B secret for SHA-1, in base32.
    fn rfc_secret() -> String {
        data_encoding::BASE32_NOPAD.encode(b"12345678901234567890")
    }

    #[test]
    fn totp_matches_the_rfc_6238_sha1_vectors() {
        let secret = rfc_secret();
        let key = decode_secret(&secret).unwrap();
        assert_eq!(hotp(&key, 59 / 30, 8), "94287082");
        for (t, code) in [
            (59, "287082"),
            (1111111109, "081804"),
            (1111111111, "050471"),
            (1234567890, "005924"),
            (2000000000, "279037"),
        ] {
            assert_eq!(totp_code(&secret, t).as_deref(), Some(code), "T={t}");
        }
        assert_eq!(totp_code("not base32!", 59), None);
        assert_eq!(totp_code("", 59), None);
    }

    #[test]
    fn totp_accepts_one_step_of_skew_and_no_more() {
        let secret = rfc_secret();
        let t = 1234567890;
        let code = totp_code(&secret, t).unwrap();
        assert!(verify_totp(&secret, &code, t));
        assert!(verify_totp(&secret, &code, t + 30));
        assert!(verify_totp(&secret, &code, t - 30));
        assert!(!verify_totp(&secret, &code, t + 90));
        assert!(!verify_totp(&secret, &code, t - 90));
        assert!(verify_totp(
            &secret,
            &format!("{} {}", &code[..3], &code[3..]),
            t
        ));
        assert!(verify_totp(&secret, &format!(" {code} "), t));
        assert!(!verify_totp(&secret, "12345", t));
        assert!(!verify_totp(&secret, "abcdef", t));
        assert!(!verify_totp("not base32!", &code, t));
        assert!(verify_totp(&secret.to_lowercase(), &code, t));
        // Step 0: no step before it, and no underflow.
        let first = totp_code(&secret, 0).unwrap();
        assert!(verify_totp(&secret, &first, 0));
        // The step a code belongs to, whichever side it is checked from.
        assert_eq!(totp_step(&secret, &code, t), Some(t / 30));
        assert_eq!(totp_step(&secret, &code, t + 30), Some(t / 30));
        assert_eq!(totp_step(&secret, &code, t + 90), None);
    }

    #[test]
    fn new_totp_secrets_are_20_bytes_of_base32() {
        let a = new_totp_secret();
        let b = new_totp_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c)));
        assert_eq!(decode_secret(&a).unwrap().len(), 20);
        assert!(totp_code(&a, 0).is_some());
    }

    #[test]
    fn passwords_hash_and_verify() {
        let phc = hash_password("correct horse battery");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password(&phc, "correct horse battery"));
        assert!(!verify_password(&phc, "correct horse battery "));
        assert!(!verify_password(&phc, ""));
        assert!(!verify_password("not a hash", "correct horse battery"));
        assert!(!verify_password("", ""));
        assert_ne!(phc, hash_password("correct horse battery"), "salts differ");
    }

    #[test]
    fn the_password_policy() {
        assert!(check_password_policy("abcdefghijkl").is_ok());
        assert!(
            check_password_policy("ééééééééééé").is_err(),
            "11 characters"
        );
        assert!(
            check_password_policy("éééééééééééé").is_ok(),
            "12 characters, 24 bytes"
        );
        let short = check_password_policy("short").unwrap_err();
        assert!(
            short.contains("5 characters") && short.contains("12"),
            "{short}"
        );
        assert!(check_password_policy(&"a".repeat(256)).is_ok());
        let long = check_password_policy(&"a".repeat(257)).unwrap_err();
        assert!(long.contains("257") && long.contains("256"), "{long}");
        let control = check_password_policy("abcdefghijkl\n").unwrap_err();
        assert!(
            control.contains("U+000A") && control.contains("13"),
            "{control}"
        );
        assert!(check_password_policy("abcdef\tghijkl").is_err());
    }

    #[test]
    fn generated_passwords_are_grouped_unambiguous_and_pass_the_policy() {
        for _ in 0..50 {
            let p = generate_password();
            check_password_policy(&p).unwrap();
            let groups: Vec<&str> = p.split('-').collect();
            assert_eq!(groups.len(), 4, "{p}");
            assert!(groups.iter().all(|g| g.len() == 5), "{p}");
            assert!(!p.contains(['0', 'O', '1', 'l', 'I']), "{p}");
            assert!(p
                .bytes()
                .all(|b| b == b'-' || PASSWORD_ALPHABET.contains(&b)));
        }
        assert_ne!(generate_password(), generate_password());
    }

    #[test]
    fn otpauth_uris_encode_issuer_and_login() {
        assert_eq!(
            otpauth_uri("Minutier archives", "m.dupont@ad", "JBSWY3DP"),
            "otpauth://totp/Minutier%20archives:m.dupont%40ad?secret=JBSWY3DP\
             &issuer=Minutier%20archives&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(percent_encode("a-b_c.d~é:"), "a-b_c.d~%C3%A9%3A");
    }
}
