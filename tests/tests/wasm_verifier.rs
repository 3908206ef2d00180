//! The browser's verifier (`verifier-wasm/` compiled to WebAssembly, driven
//! by `web/verifier.mjs`), run under Node against seals the real daemon
//! issued: a sealed document passes every check; an altered one fails the
//! document check alone; under another log's key the signature check
//! fails and the later checks are not made. The verification page
//! (`web/verify.html`) does the same in Debian's Chromium, driven by
//! Playwright and checked by axe-core (`tests/browser/verify-page.mjs`).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ok, Daemon};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn wasm() -> PathBuf {
    let path = root().join("target/wasm32-unknown-unknown/release/minutier_verifier_wasm.wasm");
    assert!(
        path.is_file(),
        "{} is missing: build it first (cargo build --release --locked \
         -p minutier-verifier-wasm --target wasm32-unknown-unknown, as scripts/test does)",
        path.display()
    );
    path
}

/// `node web/verify-cli.mjs`: its exit code and JSON report.
fn verify_in_wasm(document: &Path, seal: &Path, key: &Path) -> (i32, serde_json::Value) {
    let out = Command::new("node")
        .arg(root().join("web/verify-cli.mjs"))
        .arg(wasm())
        .args([document, seal, key])
        .output()
        .expect("node is missing: scripts/setup test installs it (Debian package nodejs)");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

fn results(report: &serde_json::Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_owned(),
                c["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_browser_verifier_checks_a_daemon_seal_client_side() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let daemon = Daemon::start(&w.join("data"));
    let docs = w.join("docs");
    fs::create_dir_all(&docs).unwrap();
    // Larger than one slice of the reader, so the hashing goes by slices.
    let content = common::noise(7, 3 << 20);
    fs::write(docs.join("registre.pdf"), &content).unwrap();
    let seals = w.join("seals");
    ok(daemon.cli(&[
        "ingest",
        docs.join("registre.pdf").to_str().unwrap(),
        "--seal-dir",
        seals.to_str().unwrap(),
    ]));
    let seal = seals.join("registre.pdf.tlog-proof");
    let key = w.join("verifier.key");
    fs::write(&key, format!("{}\n", daemon.verifier_key)).unwrap();

    let (code, report) = verify_in_wasm(&docs.join("registre.pdf"), &seal, &key);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    let all = results(&report);
    assert_eq!(
        all.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(),
        [
            "key",
            "seal",
            "signature",
            "inclusion",
            "record",
            "document"
        ]
    );
    assert!(all.iter().all(|(_, r)| r == "pass"), "{report}");
    assert_eq!(report["record"]["size"], content.len());
    assert_eq!(report["record"]["kind"], "ingest");

    // One byte changed: the seal still holds, the document is not the one
    // sealed.
    let mut altered = content.clone();
    altered[1 << 20] ^= 1;
    let altered_path = w.join("altered.pdf");
    fs::write(&altered_path, &altered).unwrap();
    let (code, report) = verify_in_wasm(&altered_path, &seal, &key);
    assert_eq!(code, 1, "{report}");
    let all = results(&report);
    assert!(all[..5].iter().all(|(_, r)| r == "pass"), "{report}");
    assert_eq!(all[5], ("document".into(), "fail".into()), "{report}");
    assert!(
        report["checks"][5]["detail"]
            .as_str()
            .unwrap()
            .contains("not the document sealed"),
        "{report}"
    );

    // The same in Debian's Chromium, through the verification page:
    // Playwright picks the files, axe-core checks the page.
    let shots = root().join("target/browser-screenshots");
    let page = Command::new("node")
        .arg(root().join("tests/browser/verify-page.mjs"))
        .arg(wasm())
        .args([
            &docs.join("registre.pdf"),
            &altered_path,
            &seal,
            &key,
            &shots,
        ])
        .output()
        .expect("node is missing: scripts/setup test installs it");
    assert!(
        page.status.success(),
        "the verification page failed in Chromium (playwright-core and axe-core: \
         npm ci in tests/browser, as scripts/setup test does):\n{}{}",
        String::from_utf8_lossy(&page.stdout),
        String::from_utf8_lossy(&page.stderr)
    );
    for shot in [
        "verification-empty",
        "verification-valid",
        "verification-altered",
    ] {
        assert!(shots.join(format!("{shot}.png")).is_file(), "{shot}.png");
    }

    // Another appliance's key: the signature does not hold.
    daemon.stop();
    let other = Daemon::start(&w.join("other"));
    let other_key = w.join("other.key");
    fs::write(&other_key, format!("{}\n", other.verifier_key)).unwrap();
    other.stop();
    let (code, report) = verify_in_wasm(&docs.join("registre.pdf"), &seal, &other_key);
    assert_eq!(code, 1, "{report}");
    let all = results(&report);
    assert_eq!(all[0].1, "pass", "{report}");
    let failed: Vec<_> = all.iter().filter(|(_, r)| r == "fail").collect();
    assert_eq!(failed.len(), 1, "{report}");
    assert!(
        failed[0].0 == "signature" || failed[0].0 == "seal",
        "{report}"
    );
    assert!(all.last().unwrap().1 == "not-checked", "{report}");
}
