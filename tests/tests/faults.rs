//! Fault torture of replication: the S3 service is up but answers errors
//! (500 InternalError, 503 SlowDown, answers cut by a reset or truncated
//! after the server acted) for a while, or fails at random, through a
//! fault-injecting proxy in front of a real Garage (`common/faulty_s3.rs`).
//! Ingest goes on, the durable queue survives a restart, the queue drains
//! once the service is back, and `minutier audit` finds every replica
//! present and correct.
//!
//! `MINUTIER_TORTURE_S3_ERROR_SECONDS` sets how long the service answers
//! errors (default 20 s; `scripts/torture s3 [SECONDS]` runs it longer).

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::faulty_s3::{FaultyS3, Mode};
use common::garage::{age_decrypt, drained, escrow_key, Garage};
use common::{cli, noise, ok, text, Daemon};
use serde_json::Value;

/// How long the queue may take to drain once the service is back: the
/// replicator's backoff reaches a minute, then the backlog goes up, at
/// no fewer than 50 documents a second.
fn drain_bound(documents: usize) -> Duration {
    Duration::from_secs(120) + Duration::from_millis(20) * documents as u32
}

/// Two configurations: the daemon's, whose endpoint is the proxy, and the
/// auditor's, straight to Garage.
fn configs(work: &Path, garage: &Garage, proxy: &FaultyS3, recipient: &str) -> (PathBuf, PathBuf) {
    let direct = format!(
        "{}scrub_interval_hours = 0\n",
        garage.replication_toml(&[recipient.to_owned()])
    );
    let needle = format!("endpoint = \"{}\"", garage.endpoint());
    assert!(direct.contains(&needle), "{direct}");
    let proxied = direct.replace(&needle, &format!("endpoint = \"{}\"", proxy.endpoint()));
    let (daemon_cfg, audit_cfg) = (work.join("minutierd.toml"), work.join("audit.toml"));
    fs::write(&daemon_cfg, proxied).unwrap();
    fs::write(&audit_cfg, direct).unwrap();
    (daemon_cfg, audit_cfg)
}

fn status(daemon: &Daemon) -> Value {
    daemon.cli_json(&["replication", "status"])
}

/// Waits until the status reports a failure; the status.
fn failure_reported(daemon: &Daemon, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let status = status(daemon);
        if !status["last_error"].as_str().unwrap_or("").is_empty() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "no replication error reported in {timeout:?} while the service fails: {status}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

struct Doc {
    id: String,
    sha256: String,
}

/// Document `n`: every other one small (kept in the index), the others
/// larger than 64 KiB (blob files); all distinct.
fn content(n: u64) -> Vec<u8> {
    if n.is_multiple_of(2) {
        format!(
            "Arrete municipal n. {n}: stationnement rue de la Mairie. {}\n",
            "x".repeat((n as usize * 37) % 2000)
        )
        .into_bytes()
    } else {
        noise(10_000 + n, 66_000 + (n as usize * 7_919) % 40_000)
    }
}

fn ingest(daemon: &Daemon, work: &Path, n: u64) -> Doc {
    let dir = work.join("docs");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("doc-{n}.bin"));
    fs::write(&path, content(n)).unwrap();
    let title = format!("Document {n}");
    let out = daemon.cli_json(&["ingest", path.to_str().unwrap(), "--title", &title]);
    let d = &out["documents"][0];
    Doc {
        id: d["archive_id"].as_str().unwrap().to_owned(),
        sha256: d["content_sha256"].as_str().unwrap().to_owned(),
    }
}

/// `minutier audit` of the stopped data directory with the bucket, the
/// replicas opened with the escrow key; its JSON report, asserted clean.
fn audit(data: &Path, bucket_config: &Path, identity: &Path, docs: &[Doc]) -> Value {
    let out = cli(&[
        "--json",
        "--data-dir",
        data.to_str().unwrap(),
        "audit",
        "--bucket-config",
        bucket_config.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
    ]);
    let all = text(&out);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("audit printed no JSON ({e}): {all}"));
    assert!(out.status.success(), "audit failed: {all}");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["findings_total"], 0, "{report}");
    assert_eq!(report["live"], docs.len(), "{report}");
    let bucket = &report["bucket"];
    assert_eq!(bucket["contents_not_yet_replicated"], 0, "{report}");
    assert_eq!(bucket["records_not_yet_replicated"], 0, "{report}");
    assert!(
        bucket["contents"].as_u64().unwrap() >= docs.len() as u64,
        "{report}"
    );
    report
}

/// Content objects the audit found in the bucket but the index does not
/// record: uploads whose answer was lost (the scrub removes them).
fn interrupted_uploads(report: &Value) -> usize {
    report["notes"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter(|n| n.as_str().unwrap_or("").contains("an interrupted upload"))
                .count()
        })
        .unwrap_or(0)
}

/// Every document listed once, none more: the archives are exactly those
/// ingested.
fn exactly_listed(daemon: &Daemon, docs: &[Doc]) {
    let listed = daemon.cli_json(&["list", "--limit", "100000"]);
    let listed: Vec<&str> = listed["archives"]
        .as_array()
        .expect("list --json has an archives array")
        .iter()
        .map(|a| a["archive_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), docs.len(), "{listed:?}");
    let ids: BTreeSet<&str> = listed.iter().copied().collect();
    let want: BTreeSet<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, want);
    let shas: BTreeSet<&str> = docs.iter().map(|d| d.sha256.as_str()).collect();
    assert_eq!(shas.len(), docs.len(), "the documents are distinct");
}

fn error_seconds() -> u64 {
    match std::env::var("MINUTIER_TORTURE_S3_ERROR_SECONDS") {
        Ok(s) => s.parse().ok().filter(|n| *n > 0).unwrap_or_else(|| {
            panic!("MINUTIER_TORTURE_S3_ERROR_SECONDS={s:?}: a number of seconds")
        }),
        Err(_) => 20,
    }
}

#[test]
fn s3_answering_errors_then_back_loses_nothing() {
    let seconds = error_seconds();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let garage = Garage::single(&w.join("garage"));
    let proxy = FaultyS3::start(&garage.endpoint());
    let (identity, recipient) = escrow_key(w);
    let (cfg, audit_cfg) = configs(w, &garage, &proxy, &recipient);
    let data = w.join("data");
    let mut daemon = Daemon::start_with(&data, Some(&cfg));

    let mut docs: Vec<Doc> = (0..4).map(|n| ingest(&daemon, w, n)).collect();
    drained(&daemon, Duration::from_secs(60));
    assert!(proxy.counts().forwarded > 0, "{}", proxy.counts());
    assert_eq!(proxy.counts().faulted(), 0, "{}", proxy.counts());

    // The service answers nothing but errors.
    proxy.set_mode(Mode::Errors);
    std::thread::sleep(Duration::from_millis(200));
    let before = proxy.counts();
    let started = Instant::now();
    let period = Duration::from_secs(seconds);
    let mut restarted = false;
    let mut n = docs.len() as u64;
    let during_from = docs.len();
    while started.elapsed() < period {
        // Ingest does not depend on the bucket.
        docs.push(ingest(&daemon, w, n));
        n += 1;
        if !restarted && started.elapsed() >= period / 2 {
            let s = failure_reported(&daemon, Duration::from_secs(60));
            assert!(s["queued"].as_u64().unwrap() > 0, "{s}");
            // The appliance restarts during the outage: the queue is durable.
            let queued = s["queued"].as_u64().unwrap();
            daemon.stop();
            daemon = Daemon::start_with(&data, Some(&cfg));
            let s = status(&daemon);
            assert!(s["queued"].as_u64().unwrap() >= queued, "{s}");
            restarted = true;
        }
    }
    assert!(restarted, "the error period is too short to restart in it");
    let during = docs.len() - during_from;
    let s = failure_reported(&daemon, Duration::from_secs(60));
    // Each document ingested meanwhile waits in the queue (its content, at
    // least), nothing of it in the bucket.
    assert!(
        s["queued"].as_u64().unwrap() >= during as u64,
        "{during} documents during the errors: {s}"
    );
    assert!(
        s["contents_replicated"].as_u64().unwrap() <= during_from as u64,
        "{s}"
    );
    let last_error = s["last_error"].as_str().unwrap().to_owned();
    let faults = proxy.counts();
    assert_eq!(
        faults.forwarded, before.forwarded,
        "nothing is answered in full while the service fails: {faults}"
    );
    assert!(faults.faulted() > 0, "{faults}");
    assert!(
        faults.internal_errors + faults.slow_downs > 0,
        "no S3 error answered: {faults}"
    );
    assert!(
        faults.resets + faults.truncations > 0,
        "no answer cut: {faults}"
    );

    // The service is back: the queue drains.
    proxy.set_mode(Mode::Pass);
    let (s, drain_time) = drained(&daemon, drain_bound(docs.len()));
    assert_eq!(s["contents_replicated"], docs.len(), "{s}");
    exactly_listed(&daemon, &docs);
    daemon.stop();

    let report = audit(&data, &audit_cfg, &identity, &docs);
    let total = proxy.counts();
    eprintln!(
        "s3 errors for {seconds} s: {} documents ({during} during the errors, daemon restarted \
         once), {} faults injected ({faults}), last error reported: {last_error}; drained {:.1} s \
         after the service came back; proxy in all: {total}; audit: {} contents, {} objects in the \
         bucket, {} interrupted uploads left for the scrub",
        docs.len(),
        faults.faulted() - before.faulted(),
        drain_time.as_secs_f64(),
        report["bucket"]["contents"],
        report["bucket"]["objects"],
        interrupted_uploads(&report),
    );
}

#[test]
fn flaky_s3_loses_nothing() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let garage = Garage::single(&w.join("garage"));
    let proxy = FaultyS3::start(&garage.endpoint());
    let (identity, recipient) = escrow_key(w);
    let (cfg, audit_cfg) = configs(w, &garage, &proxy, &recipient);
    let data = w.join("data");
    let daemon = Daemon::start_with(&data, Some(&cfg));

    proxy.set_mode(Mode::Flaky(0.3));
    let docs: Vec<Doc> = (0..36)
        .map(|n| {
            let d = ingest(&daemon, w, n);
            // Time for the replicator to send each one on its own.
            std::thread::sleep(Duration::from_millis(150));
            d
        })
        .collect();
    let flaky = proxy.counts();
    proxy.set_mode(Mode::Pass);
    assert!(flaky.faulted() > 0, "{flaky}");
    assert!(flaky.forwarded > 0, "{flaky}");

    let (s, drain_time) = drained(&daemon, drain_bound(docs.len()));
    assert_eq!(s["contents_replicated"], docs.len(), "{s}");
    exactly_listed(&daemon, &docs);
    daemon.stop();
    let report = audit(&data, &audit_cfg, &identity, &docs);
    let orphans = interrupted_uploads(&report);
    assert_eq!(
        report["bucket"]["contents"].as_u64().unwrap(),
        (docs.len() + orphans) as u64,
        "{report}"
    );

    // The scrub removes the objects of interrupted uploads; then the bucket
    // holds exactly one replica per document.
    let daemon = Daemon::start_with(&data, Some(&cfg));
    let scrub = daemon.cli_json(&["scrub"]);
    for field in [
        "contents_corrupt",
        "contents_missing",
        "replicas_missing",
        "replicas_altered",
    ] {
        assert_eq!(scrub[field], 0, "{field}: {scrub}");
    }
    assert!(
        scrub["bucket_orphans_removed"].as_u64().unwrap() >= orphans as u64,
        "{scrub}"
    );
    drained(&daemon, Duration::from_secs(60));
    daemon.stop();
    let report = audit(&data, &audit_cfg, &identity, &docs);
    assert_eq!(report["bucket"]["contents"], docs.len(), "{report}");
    assert_eq!(interrupted_uploads(&report), 0, "{report}");
    // The bucket alone rebuilds the appliance, even when it holds, next
    // to a log segment, shorter ones from the same record (left by
    // uploads whose answer was lost, or cut by a crash): planted here.
    let planted = plant_shorter_segments(&garage, &identity, &recipient, w);
    // The audit counts the longest segment from each record, too.
    audit(&data, &audit_cfg, &identity, &docs);
    let restored = w.join("restored");
    let out = cli(&[
        "--json",
        "restore",
        "--config",
        audit_cfg.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
        "--data-dir",
        restored.to_str().unwrap(),
    ]);
    let all = ok(out.clone());
    let restore: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {all}"));
    assert_eq!(restore["archives"], docs.len(), "{restore}");
    assert_eq!(restore["seals_verified"], docs.len(), "{restore}");
    let daemon = Daemon::start_with(&restored, None);
    exactly_listed(&daemon, &docs);
    daemon.stop();
    eprintln!(
        "flaky s3 (p = 0.3): {} documents, during the ingest {flaky}; drained {:.1} s after; {} \
         interrupted uploads, {} orphans removed by the scrub; restored with {planted} shorter \
         segments planted",
        docs.len(),
        drain_time.as_secs_f64(),
        orphans,
        scrub["bucket_orphans_removed"],
    );
}

/// Next to the longest log segment in the bucket, three shorter ones from
/// the same record (its first records, re-encrypted to the escrow
/// recipient with the stock `age` CLI), under new names listed after
/// every other object; how many.
fn plant_shorter_segments(garage: &Garage, identity: &Path, recipient: &str, work: &Path) -> usize {
    let mut longest: Option<(u64, u64, Value)> = None;
    for (name, _) in garage.list_objects_prefix("objects/") {
        let plain = age_decrypt(identity, &garage.get_object(&name), work);
        let end = plain.iter().position(|b| *b == b'\n').unwrap();
        let header: Value = serde_json::from_slice(&plain[..end]).unwrap();
        if header["type"] != "segment" {
            continue;
        }
        let (from, to) = (
            header["from"].as_u64().unwrap(),
            header["to"].as_u64().unwrap(),
        );
        if longest.as_ref().is_none_or(|(f, t, _)| to - from > t - f) {
            longest = Some((from, to, serde_json::from_slice(&plain[end + 1..]).unwrap()));
        }
    }
    let (from, to, segment) = longest.expect("a log segment in the bucket");
    assert!(to - from >= 4, "segment {from}..{to} is too short to cut");
    for (i, len) in [1, (to - from) / 2, to - from - 1].into_iter().enumerate() {
        let mut short = segment.clone();
        short["records"] =
            Value::Array(segment["records"].as_array().unwrap()[..len as usize].to_vec());
        let header =
            serde_json::json!({"type": "segment", "version": 1, "from": from, "to": from + len});
        let plain = work.join(format!("short-{i}.plain"));
        fs::write(&plain, format!("{header}\n{short}")).unwrap();
        let out = Command::new("age")
            .args(["-r", recipient])
            .arg(&plain)
            .output()
            .unwrap();
        assert!(out.status.success(), "age -r failed: {}", text(&out));
        garage.put_object(
            &format!("objects/{:032x}", u128::MAX - i as u128),
            &out.stdout,
        );
    }
    3
}
