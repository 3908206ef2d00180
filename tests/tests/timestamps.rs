//! RFC 3161 time-stamps of checkpoints, end to end, against a local TSA
//! built on `openssl ts -reply` (common/tsa.rs): the daemon time-stamps the
//! latest checkpoint when the log grew, records the token in the log, and
//! chains the time-stamps; `minutier timestamps --export` writes files that
//! `openssl ts -verify` accepts (and refuses once the checkpoint is
//! altered); exports (BagIt) carry them; without the TSA the daemon keeps
//! working, reports the error, and catches up when the TSA returns.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::tsa::{Mode, Tsa};
use common::{ok, text, Daemon};
use serde_json::Value;

/// A configuration with timestamping every second.
fn config(work: &Path, tsa: &Tsa) -> PathBuf {
    let path = work.join("minutierd.toml");
    std::fs::write(
        &path,
        format!(
            "[timestamping]\ntsa_url = \"{}\"\ninterval_seconds = 1\ntimeout_seconds = 5\n",
            tsa.url
        ),
    )
    .unwrap();
    path
}

fn ingest(daemon: &Daemon, work: &Path, name: &str) -> (String, u64) {
    let path = work.join(name);
    std::fs::write(&path, format!("Délibération {name}\n")).unwrap();
    let out = daemon.cli_json(&["ingest", path.to_str().unwrap(), "--title", name]);
    let doc = &out["documents"][0];
    (
        doc["archive_id"].as_str().unwrap().to_owned(),
        doc["log_index"].as_u64().unwrap(),
    )
}

/// Polls `f` every 200 ms until it gives something, for at most `within`.
#[track_caller]
fn wait_for<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `minutier timestamps --json`, which must verify.
fn timestamps(daemon: &Daemon) -> Value {
    let v = daemon.cli_json(&["timestamps", "--key", &daemon.verifier_key]);
    assert_eq!(v["verified"], true, "{v:#}");
    v
}

fn count(v: &Value) -> usize {
    v["timestamps"].as_array().unwrap().len()
}

/// `openssl ts -verify` of an exported time-stamp.
fn openssl_verify(dir: &Path, data: &str, tsr: &str, ca: &Path) -> std::process::Output {
    Command::new("openssl")
        .current_dir(dir)
        .args(["ts", "-verify", "-data", data, "-in", tsr, "-CAfile"])
        .arg(ca)
        .output()
        .expect("run openssl")
}

#[test]
fn checkpoints_are_time_stamped_chained_exported_and_verify_with_openssl() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let tsa = Tsa::start(&w.join("tsa"));
    let config = config(w, &tsa);
    let data = w.join("data");
    let daemon = Daemon::start_with(&data, Some(&config));

    // The empty log is not time-stamped.
    std::thread::sleep(Duration::from_millis(1500));
    let v = timestamps(&daemon);
    assert_eq!(count(&v), 0, "{v:#}");
    assert_eq!(v["status"]["enabled"], true);
    assert_eq!(v["status"]["tsa_url"], tsa.url.as_str());
    assert_eq!(v["status"]["interval_seconds"], 1);
    assert!(v["status"]["last_attempt_at"].is_string(), "{v:#}");

    // One document: its checkpoint (size 1) is time-stamped, and the token
    // recorded at index 1.
    let (first_id, first_index) = ingest(&daemon, w, "premier");
    assert_eq!(first_index, 0);
    let v = wait_for("the first time-stamp", Duration::from_secs(20), || {
        let v = timestamps(&daemon);
        (count(&v) == 1).then_some(v)
    });
    let t0 = &v["timestamps"][0];
    assert_eq!(t0["checkpoint_size"], 1, "{v:#}");
    assert_eq!(t0["log_index"], 1);
    assert_eq!(t0["tsa"], tsa.url.as_str());
    assert_eq!(t0["tsa_name"], "CN=Test TSA,O=Minutier tests");
    assert_eq!(t0["policy"], "1.3.6.1.4.1.99999.3161.1");
    assert_eq!(v["status"]["last_timestamped_size"], 1);
    assert!(v["status"]["last_error"].is_null(), "{v:#}");

    // Nothing but the time-stamp itself was added since: the checkpoint
    // that covers only it is not time-stamped again.
    let granted = tsa.granted();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(count(&timestamps(&daemon)), 1);
    assert_eq!(tsa.granted(), granted, "an idle log was time-stamped again");

    // Two more documents: the next time-stamp covers them and the first
    // time-stamp's record (index 1): the chain.
    ingest(&daemon, w, "deuxieme");
    ingest(&daemon, w, "troisieme");
    let v = wait_for("the second time-stamp", Duration::from_secs(20), || {
        let v = timestamps(&daemon);
        (count(&v) == 2).then_some(v)
    });
    let t1 = &v["timestamps"][1];
    assert_eq!(t1["checkpoint_size"], 4, "{v:#}");
    assert_eq!(t1["log_index"], 4);
    assert!(t1["checkpoint_size"].as_u64() > v["timestamps"][0]["log_index"].as_u64());
    assert!(t1["gen_time"].as_str() >= v["timestamps"][0]["gen_time"].as_str());
    assert_ne!(t1["serial"], v["timestamps"][0]["serial"]);

    // The human listing.
    let shown = ok(daemon.cli(&["timestamps"]));
    assert!(shown.contains("2 time-stamps"), "{shown}");
    assert!(shown.contains("each covers the previous"), "{shown}");
    assert!(
        shown.contains(&format!("every 1 s with {}", tsa.url)),
        "{shown}"
    );

    // The appliance's chain holds both timestamp records, verified with
    // their inclusion proofs, and says what each time-stamped.
    let history = ok(daemon.cli(&["history", "appliance", "--key", &daemon.verifier_key]));
    assert!(
        history.contains("history of appliance verifies: 2 records"),
        "{history}"
    );
    assert!(
        history.contains("checkpoint of size 4 time-stamped at"),
        "{history}"
    );

    // Export, then check each file with openssl alone.
    let export = w.join("export");
    let out = ok(daemon.cli(&["timestamps", "--export", export.to_str().unwrap()]));
    assert!(
        out.contains("openssl ts -verify -data checkpoint-4.txt"),
        "{out}"
    );
    for size in [1, 4] {
        let (txt, tsr) = (
            format!("checkpoint-{size}.txt"),
            format!("checkpoint-{size}.tsr"),
        );
        let checked = openssl_verify(&export, &txt, &tsr, &tsa.ca_pem);
        assert!(
            checked.status.success() && text(&checked).contains("Verification: OK"),
            "openssl ts -verify of {tsr}: {}",
            text(&checked)
        );
        // The exported checkpoint is exactly the log's checkpoint at that
        // size, which the current log is consistent with.
        let consistent = daemon.cli_json(&[
            "consistency",
            "--old",
            export.join(&txt).to_str().unwrap(),
            "--key",
            &daemon.verifier_key,
        ]);
        assert_eq!(consistent["consistent"], true, "{consistent:#}");
        assert_eq!(consistent["old_size"], size);
    }
    assert!(std::fs::read_to_string(export.join("README.txt"))
        .unwrap()
        .contains("openssl ts -verify"));
    // The token as openssl extracts it (-token_out) verifies with -token_in
    // too.
    common::tsa::openssl(&[
        "ts",
        "-reply",
        "-in",
        export.join("checkpoint-4.tsr").to_str().unwrap(),
        "-token_out",
        "-out",
        export.join("checkpoint-4.tst").to_str().unwrap(),
    ]);
    let checked = Command::new("openssl")
        .current_dir(&export)
        .args([
            "ts",
            "-verify",
            "-data",
            "checkpoint-4.txt",
            "-in",
            "checkpoint-4.tst",
            "-token_in",
            "-CAfile",
        ])
        .arg(&tsa.ca_pem)
        .output()
        .unwrap();
    assert!(checked.status.success(), "{}", text(&checked));

    // An altered checkpoint does not verify: the size changed, one digit.
    let original = std::fs::read_to_string(export.join("checkpoint-4.txt")).unwrap();
    let altered = original.replacen("\n4\n", "\n5\n", 1);
    assert_ne!(altered, original);
    std::fs::write(export.join("altered.txt"), altered).unwrap();
    let refused = openssl_verify(&export, "altered.txt", "checkpoint-4.tsr", &tsa.ca_pem);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("message imprint mismatch"),
        "{}",
        text(&refused)
    );
    // Nor does a token under another CA.
    let other = w.join("other-tsa");
    let stranger = Tsa::start(&other);
    let refused = openssl_verify(
        &export,
        "checkpoint-4.txt",
        "checkpoint-4.tsr",
        &stranger.ca_pem,
    );
    assert!(!refused.status.success(), "{}", text(&refused));
    drop(stranger);

    // A BagIt export carries the time-stamps: the first that covers the
    // archive (size 1), and the latest (size 4), in a tag directory.
    let bag = w.join("bag");
    ok(daemon.cli(&["export", "--bag", bag.to_str().unwrap(), &first_id]));
    let tagmanifest = std::fs::read_to_string(bag.join("tagmanifest-sha256.txt")).unwrap();
    for name in [
        "timestamps/checkpoint-1.txt",
        "timestamps/checkpoint-1.tsr",
        "timestamps/checkpoint-4.txt",
        "timestamps/checkpoint-4.tsr",
        "timestamps/README.txt",
    ] {
        assert!(bag.join(name).is_file(), "{name}");
        assert!(tagmanifest.contains(name), "{name} in\n{tagmanifest}");
    }
    let checked = openssl_verify(
        &bag.join("timestamps"),
        "checkpoint-1.txt",
        "checkpoint-1.tsr",
        &tsa.ca_pem,
    );
    assert!(checked.status.success(), "{}", text(&checked));
    let verified = ok(common::cli(&[
        "verify-bag",
        bag.to_str().unwrap(),
        "--key",
        &daemon.verifier_key,
    ]));
    assert!(verified.contains("bag verifies: 1 archives"), "{verified}");
    assert!(verified.contains("2 time-stamps"), "{verified}");
    // bagit.py, when the BagIt test has installed it, agrees.
    let bagit = common::bin_dir()
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("python-venv/bin"));
    if let Some(venv) = bagit.filter(|v| v.join("bagit.py").is_file()) {
        let out = Command::new(venv.join("python"))
            .arg(venv.join("bagit.py"))
            .arg("--validate")
            .arg(&bag)
            .output()
            .unwrap();
        assert!(out.status.success(), "bagit.py: {}", text(&out));
    }
    // A time-stamp swapped for another checkpoint's is caught offline.
    std::fs::copy(
        bag.join("timestamps/checkpoint-4.tsr"),
        bag.join("timestamps/checkpoint-1.tsr"),
    )
    .unwrap();
    let out = common::cli(&[
        "verify-bag",
        bag.to_str().unwrap(),
        "--key",
        &daemon.verifier_key,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("timestamps/checkpoint-1.tsr"),
        "{}",
        text(&out)
    );

    // The export read the archive, and reads are records: once the log
    // stops growing, its latest checkpoint is time-stamped in turn. After a
    // restart the daemon knows what it time-stamped: nothing new, nothing
    // again.
    let v = wait_for(
        "the reads to be time-stamped",
        Duration::from_secs(20),
        || {
            let v = timestamps(&daemon);
            let last = v["timestamps"].as_array().unwrap().last()?["log_index"].as_u64()?;
            let size = daemon.cli_json(&["checkpoint"])["size"].as_u64()?;
            (size == last + 1).then_some(v)
        },
    );
    let stamped = count(&v);
    assert!(stamped >= 3, "{v:#}");
    let granted = tsa.granted();
    daemon.stop();
    let daemon = Daemon::start_with(&data, Some(&config));
    std::thread::sleep(Duration::from_millis(2500));
    let after = timestamps(&daemon);
    assert_eq!(count(&after), stamped);
    assert_eq!(
        after["status"]["last_timestamped_size"],
        v["timestamps"][stamped - 1]["checkpoint_size"]
    );
    assert_eq!(tsa.granted(), granted);
    daemon.stop();
}

#[test]
fn without_the_tsa_the_daemon_keeps_working_reports_the_error_and_catches_up() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let tsa = Tsa::start(&w.join("tsa"));
    tsa.set_mode(Mode::Down);
    let config = config(w, &tsa);
    let daemon = Daemon::start_with(&w.join("data"), Some(&config));

    // Archiving goes on.
    ingest(&daemon, w, "pendant-la-panne");
    ingest(&daemon, w, "encore");
    let v = wait_for("the failure to show", Duration::from_secs(20), || {
        let v = timestamps(&daemon);
        (v["status"]["consecutive_failures"].as_u64() >= Some(2)).then_some(v)
    });
    assert_eq!(count(&v), 0, "{v:#}");
    let error = v["status"]["last_error"].as_str().unwrap();
    assert!(error.contains(&tsa.url), "{error}");
    assert!(v["status"]["last_error_at"].is_string());
    let shown = ok(daemon.cli(&["timestamps"]));
    assert!(
        shown.contains("no checkpoint has been time-stamped yet"),
        "{shown}"
    );
    assert!(shown.contains("last attempt FAILED"), "{shown}");

    // A TSA that refuses: its reason is reported.
    tsa.set_mode(Mode::Refusing);
    let v = wait_for("the refusal to show", Duration::from_secs(20), || {
        let v = timestamps(&daemon);
        v["status"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("did not grant"))
            .then_some(v)
    });
    let error = v["status"]["last_error"].as_str().unwrap();
    assert!(error.contains("status 2 (rejection)"), "{error}");
    assert!(error.contains("TSA maintenance"), "{error}");
    assert!(error.contains("systemFailure"), "{error}");
    assert_eq!(count(&v), 0);

    // The TSA is back: the latest checkpoint is time-stamped.
    tsa.set_mode(Mode::Up);
    let v = wait_for("the catch-up", Duration::from_secs(20), || {
        let v = timestamps(&daemon);
        (count(&v) == 1).then_some(v)
    });
    assert_eq!(v["timestamps"][0]["checkpoint_size"], 2, "{v:#}");
    let v = wait_for("the error to clear", Duration::from_secs(10), || {
        let v = timestamps(&daemon);
        v["status"]["last_error"].is_null().then_some(v)
    });
    assert_eq!(v["status"]["consecutive_failures"], 0);
    daemon.stop();
}
