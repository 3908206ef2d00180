//! Tampering is caught: a modified document, seal or key fails offline
//! verification with a message naming what failed, and content corrupted on
//! disk is refused with DATA_LOSS instead of being served.

mod common;

use std::fs;

use common::{cli, files_under, noise, Daemon};

fn stdout_and_err(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn tampering_fails_verification_and_corruption_is_never_served() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let daemon = Daemon::start(&data);
    // Others first, so that the seal carries a non-empty inclusion proof.
    for i in 0..3 {
        let other = work.path().join(format!("other-{i}.txt"));
        fs::write(&other, format!("pièce {i}")).unwrap();
        daemon.cli_json(&["ingest", other.to_str().unwrap()]);
    }
    let doc = work.path().join("acte.pdf");
    fs::write(&doc, noise(11, 400_000)).unwrap();
    let seals = work.path().join("seals");
    let result = daemon.cli_json(&[
        "ingest",
        doc.to_str().unwrap(),
        "--seal-dir",
        seals.to_str().unwrap(),
    ]);
    let entry = &result["documents"][0];
    let id = entry["archive_id"].as_str().unwrap().to_owned();
    let seal = entry["seal_file"].as_str().unwrap().to_owned();
    let key = daemon.verifier_key.clone();

    let verify =
        |file: &str, seal: &str, key: &str| cli(&["verify", file, "--seal", seal, "--key", key]);
    let ok = verify(doc.to_str().unwrap(), &seal, &key);
    assert!(ok.status.success(), "{}", stdout_and_err(&ok));

    // One byte of the document changed.
    let mut bytes = fs::read(&doc).unwrap();
    bytes[1234] ^= 1;
    let altered = work.path().join("altered.pdf");
    fs::write(&altered, &bytes).unwrap();
    let out = verify(altered.to_str().unwrap(), &seal, &key);
    assert_eq!(out.status.code(), Some(1), "{}", stdout_and_err(&out));
    assert!(
        stdout_and_err(&out).to_lowercase().contains("content"),
        "{}",
        stdout_and_err(&out)
    );

    // One proof hash of the seal changed.
    let text = fs::read_to_string(&seal).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let proof_line = lines.iter().position(|l| l.starts_with("index ")).unwrap() + 1;
    let mut forged: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let mut hash = forged[proof_line].clone().into_bytes();
    hash[0] = if hash[0] == b'A' { b'B' } else { b'A' };
    forged[proof_line] = String::from_utf8(hash).unwrap();
    let forged_seal = work.path().join("forged.tlog-proof");
    fs::write(&forged_seal, forged.join("\n") + "\n").unwrap();
    let out = verify(doc.to_str().unwrap(), forged_seal.to_str().unwrap(), &key);
    assert_eq!(out.status.code(), Some(1), "{}", stdout_and_err(&out));

    // Another log's key (the C2SP test vector key).
    let other_key =
        "archives.mairie-exemple.fr/minutier+d4daeb0b+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea";
    let out = verify(doc.to_str().unwrap(), &seal, other_key);
    assert_eq!(out.status.code(), Some(1), "{}", stdout_and_err(&out));

    // A truncated seal.
    let truncated = work.path().join("truncated.tlog-proof");
    fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    let out = verify(doc.to_str().unwrap(), truncated.to_str().unwrap(), &key);
    assert!(!out.status.success(), "{}", stdout_and_err(&out));

    // Corruption on disk: the daemon refuses to serve the altered bytes,
    // and the CLI leaves no file behind.
    let blob = files_under(&data.join("blobs"))
        .into_iter()
        .find(|p| !p.starts_with(data.join("blobs/tmp")))
        .expect("a blob file");
    let mut stored = fs::read(&blob).unwrap();
    stored[100] ^= 0x40;
    fs::write(&blob, stored).unwrap();
    let out_file = work.path().join("out.pdf");
    let out = daemon.cli(&["get", &id, "-o", out_file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stdout_and_err(&out).contains("DATA_LOSS"),
        "{}",
        stdout_and_err(&out)
    );
    assert!(!out_file.exists());
    assert!(!work.path().join("out.pdf.partial").exists());
    daemon.stop();
}
