//! `minutier proof-report` against a real appliance: replication to a real
//! Garage, time-stamps from a local TSA built on `openssl ts -reply`. Every
//! check passes for a sound archive, the HTML page is well formed, and a
//! corrupted content file fails its check (and only it) with exit code 1.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::garage::Garage;
use common::tsa::Tsa;
use common::{files_under, noise, ok, text, Daemon};
use serde_json::Value;

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

fn config(work: &Path, garage: &Garage, tsa: &Tsa) -> PathBuf {
    let (_, recipient) = common::garage::escrow_key(work);
    let path = work.join("minutierd.toml");
    std::fs::write(
        &path,
        format!(
            "[timestamping]\ntsa_url = \"{}\"\ninterval_seconds = 1\ntimeout_seconds = 5\n\n{}scrub_interval_hours = 0\n",
            tsa.url,
            garage.replication_toml(&[recipient])
        ),
    )
    .unwrap();
    path
}

fn checks(report: &Value) -> Vec<(String, String, String)> {
    report["archives"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["outcome"].as_str().unwrap().to_owned(),
                c["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_check_passes_for_a_sound_archive_and_a_corrupt_content_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let garage = Garage::single(&w.join("garage"));
    let tsa = Tsa::start(&w.join("tsa"));
    let data = w.join("data");
    let daemon = Daemon::start_with(&data, Some(&config(w, &garage, &tsa)));

    // A checkpoint the auditor keeps, before the archive arrives.
    let first = w.join("first.txt");
    std::fs::write(&first, b"premier document").unwrap();
    daemon.cli_json(&["ingest", first.to_str().unwrap()]);
    let kept = w.join("kept-checkpoint.txt");
    ok(daemon.cli(&["checkpoint", "-o", kept.to_str().unwrap()]));
    let key = w.join("verifier.key");
    std::fs::write(&key, ok(daemon.cli(&["key"])).trim()).unwrap();

    // Large enough to be a file of its own, incompressible.
    let doc = w.join("plan-cadastral.bin");
    std::fs::write(&doc, noise(0x5eed_0001, 200_000)).unwrap();
    let ingested = daemon.cli_json(&["ingest", doc.to_str().unwrap()]);
    let id = ingested["documents"][0]["archive_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let html = w.join("rapport.html");
    let args = [
        "--json",
        "proof-report",
        &id,
        "--key",
        key.to_str().unwrap(),
        "--checkpoint",
        kept.to_str().unwrap(),
        "--tsa-ca",
        tsa.ca_pem.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ];
    // Replication and the next time-stamp take a moment.
    let deadline = Instant::now() + Duration::from_secs(60);
    let report = loop {
        let out = daemon.cli(&args);
        let report = json(&out);
        if out.status.success() && report["not_checked"] == 0 {
            break report;
        }
        assert!(
            Instant::now() < deadline,
            "the report never became complete:\n{}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let names: Vec<String> = checks(&report).into_iter().map(|c| c.0).collect();
    assert_eq!(
        names,
        [
            "content",
            "checkpoint-signature",
            "inclusion",
            "consistency-with-kept-checkpoint",
            "consistency-with-latest",
            "replica",
            "timestamp"
        ]
    );
    for (name, outcome, detail) in checks(&report) {
        assert_eq!(outcome, "pass", "{name}: {detail}");
    }
    assert_eq!(report["key_source"], "argument");
    assert!(checks(&report)[6].2.contains("openssl ts -verify"));

    // The page an auditor files: French, well-formed.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Rapport de valeur probante") && page.contains("Conforme"));
    assert!(!page.contains("NON CONFORME"));
    let out = Command::new("xmllint")
        .args(["--html", "--noout"])
        .arg(&html)
        .output()
        .expect("run xmllint");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        text(&out)
    );

    // Without the TSA's CA, the token's signature is not claimed checked.
    let out = daemon.cli(&[
        "--json",
        "proof-report",
        &id,
        "--key",
        key.to_str().unwrap(),
    ]);
    let partial = json(&out);
    assert!(out.status.success(), "{}", text(&out));
    let timestamp = &checks(&partial)[6];
    assert_eq!(timestamp.1, "not-checked", "{timestamp:?}");
    assert!(timestamp.2.contains("--tsa-ca"));

    // One byte of the stored file flipped: the content check fails, alone.
    let sha = ingested["documents"][0]["content_sha256"].as_str().unwrap();
    let blob = files_under(&data.join("blobs"))
        .into_iter()
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(sha))
        .expect("the document's blob file");
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[1000] ^= 0x40;
    std::fs::write(&blob, &bytes).unwrap();
    let out = daemon.cli(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let broken = json(&out);
    for (name, outcome, detail) in checks(&broken) {
        let expected = if name == "content" { "fail" } else { "pass" };
        assert_eq!(outcome, expected, "{name}: {detail}");
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("NON CONFORME"));
    daemon.stop();
}
