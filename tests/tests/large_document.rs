//! A large document streams through in constant memory, both ways.

mod common;

use std::fs::File;
use std::io::{BufWriter, Read, Write};

use common::Daemon;
use sha2::{Digest, Sha256};

const SIZE: u64 = 1 << 30;
const BUDGET_KIB: u64 = 256 * 1024;

/// Writes `SIZE` bytes of compressible text with some variety, returning
/// their SHA-256.
fn write_document(path: &std::path::Path) -> String {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    let mut line = 0u64;
    while written < SIZE {
        let text = format!("{line:012} registre des délibérations, séance du conseil municipal\n");
        let bytes = &text.as_bytes()[..text.len().min((SIZE - written) as usize)];
        out.write_all(bytes).unwrap();
        hasher.update(bytes);
        written += bytes.len() as u64;
        line += 1;
    }
    out.flush().unwrap();
    hex::encode(hasher.finalize())
}

#[test]
fn a_one_gib_document_is_ingested_and_read_back_in_constant_memory() {
    let work = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&work.path().join("data"));
    let doc = work.path().join("registre.txt");
    let digest = write_document(&doc);

    let result = daemon.cli_json(&["ingest", doc.to_str().unwrap()]);
    let entry = &result["documents"][0];
    assert_eq!(entry["content_sha256"], digest.as_str());
    assert_eq!(entry["size"], SIZE);
    std::fs::remove_file(&doc).unwrap();

    let copy = work.path().join("copy.txt");
    let out = daemon.cli(&[
        "get",
        entry["archive_id"].as_str().unwrap(),
        "-o",
        copy.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut hasher = Sha256::new();
    let mut file = File::open(&copy).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    assert_eq!(hex::encode(hasher.finalize()), digest);

    let peak = daemon.peak_rss_kib();
    assert!(
        peak < BUDGET_KIB,
        "minutierd peaked at {} MiB for a 1 GiB document (budget {} MiB)",
        peak / 1024,
        BUDGET_KIB / 1024
    );
    eprintln!(
        "minutierd peak RSS for a 1 GiB document: {} MiB",
        peak / 1024
    );
    daemon.stop();
}
