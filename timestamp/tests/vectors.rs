//! The timestamp record of the seal vectors (seal/tests/vectors/lifecycle/,
//! generated with openssl, see gen/lifecycle.py): its document's token
//! time-stamps the checkpoint it holds, and its genTime and serial are the
//! document's.

use base64::Engine as _;
use minutier_timestamp::{parse_response, parse_token, response_from_token, SHA256_OID};
use serde_json::Value;
use sha2::{Digest, Sha256};

const DOCUMENT: &[u8] =
    include_bytes!("../../seal/tests/vectors/lifecycle/18-timestamp-document.json");
const TOKEN: &[u8] = include_bytes!("../../seal/tests/vectors/lifecycle/18-timestamp.tst");
const CHECKPOINT: &[u8] = include_bytes!("../../seal/tests/vectors/lifecycle/checkpoint-18.txt");

#[test]
fn the_vector_token_time_stamps_its_checkpoint() {
    let document: Value = serde_json::from_slice(DOCUMENT).unwrap();
    let token = base64::engine::general_purpose::STANDARD
        .decode(document["token"].as_str().unwrap())
        .unwrap();
    assert_eq!(token, TOKEN);
    let info = parse_token(TOKEN).unwrap();
    assert_eq!(info.hash_algorithm, SHA256_OID);
    assert_eq!(info.message_imprint, Sha256::digest(CHECKPOINT).as_slice());
    assert_eq!(
        document["checkpoint"].as_str().unwrap().as_bytes(),
        CHECKPOINT
    );
    assert_eq!(
        document["gen_time"].as_str().unwrap(),
        info.gen_time.to_string()
    );
    assert_eq!(document["serial"].as_str().unwrap(), info.serial_hex());
    assert_eq!(
        info.tsa.as_deref(),
        Some("CN=Test TSA,O=Mairie d'Exemple (test)")
    );
    // The .tsr an auditor is given for it reads back the same.
    let granted = parse_response(&response_from_token(TOKEN)).unwrap();
    assert_eq!(granted.token, TOKEN);
    assert_eq!(granted.info, info);
}
