//! Crash torture: `minutierd` is killed with SIGKILL at random moments
//! while several clients ingest concurrently, then restarted. After every
//! kill the data directory passes a full offline audit (every record
//! decodes, so none is torn; the Merkle tree is recomputed; every
//! checkpoint verifies, the first one kept included); after every restart
//! every acknowledged document is listed with its digest and size, and the
//! restart time is recorded. At the end every acknowledged document's seal
//! verifies offline against its bytes, and a sample reads back byte for
//! byte. The default suite runs a few kills; `scripts/torture crash` runs
//! the long version (MINUTIER_TORTURE_KILLS, default 100).

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{channel_as, cli, noise, Daemon};
use minutier_proto::v1 as pb;
use minutier_proto::v1::archive_client::ArchiveClient;
use minutier_proto::v1::ingest_request::Part;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

const CLIENTS: usize = 6;
/// Kills in the default suite.
const DEFAULT_KILLS: usize = 5;

/// A document whose ingest was acknowledged (its seal returned).
struct Acked {
    id: String,
    sha256: String,
    size: u64,
    /// Its bytes, under `acked/`, and its seal, under `seals/acked/`.
    path: PathBuf,
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

async fn ingest(
    client: &mut ArchiveClient<Channel>,
    title: String,
    content: &[u8],
) -> Result<pb::IngestResponse, tonic::Status> {
    let mut messages = vec![pb::IngestRequest {
        part: Some(Part::Header(pb::IngestHeader {
            metadata: Some(pb::DocumentMetadata {
                title,
                ..Default::default()
            }),
            declared_sha256: String::new(),
            size: content.len() as u64,
        })),
    }];
    for chunk in content.chunks(256 * 1024) {
        messages.push(pb::IngestRequest {
            part: Some(Part::Chunk(chunk.to_vec())),
        });
    }
    client
        .ingest(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}

/// Client `c` of cycle `cycle`: ingests until the daemon goes away. Mostly
/// small documents (kept in the index), one in twenty large enough to be a
/// blob file. Returns the acknowledged ones and the errors seen before the
/// kill (there must be none).
async fn client(
    mut archive: ArchiveClient<Channel>,
    work: PathBuf,
    seed: u64,
    cycle: usize,
    c: usize,
    killed: Arc<AtomicBool>,
) -> (Vec<Acked>, Vec<String>) {
    let (mut acked, mut errors) = (Vec::new(), Vec::new());
    for n in 0.. {
        let name = format!("k{cycle:03}-c{c}-{n:05}.txt");
        let content = if n % 20 == 7 {
            noise(
                seed ^ ((cycle * 1000 + c * 100_000 + n) as u64),
                70_000 + n * 97 % 150_000,
            )
        } else {
            format!(
                "Délibération {seed}/{cycle}/{c}/{n}\n{}",
                "Le conseil municipal, ouï l'exposé. ".repeat(n % 30)
            )
            .into_bytes()
        };
        match ingest(&mut archive, name.clone(), &content).await {
            Ok(r) => {
                assert_eq!(r.content_sha256, hex::encode(Sha256::digest(&content)));
                let path = work.join("acked").join(&name);
                fs::write(&path, &content).unwrap();
                fs::write(
                    work.join("seals/acked").join(format!("{name}.tlog-proof")),
                    &r.seal,
                )
                .unwrap();
                acked.push(Acked {
                    id: r.archive_id,
                    sha256: r.content_sha256,
                    size: r.size,
                    path,
                });
            }
            Err(status) => {
                if !killed.load(Ordering::SeqCst) {
                    errors.push(format!("{name}: {status}"));
                }
                break;
            }
        }
    }
    (acked, errors)
}

/// `minutier audit` of the stopped daemon's data directory with the
/// published key and the first checkpoint, kept since the start.
fn audit(data: &Path, key: &Path, first: &Path) -> serde_json::Value {
    let out = cli(&[
        "--json",
        "--data-dir",
        data.to_str().unwrap(),
        "audit",
        "--key",
        key.to_str().unwrap(),
        "--checkpoint",
        first.to_str().unwrap(),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("audit printed no JSON ({e}): {}", common::text(&out));
    });
    assert!(
        out.status.success() && report["ok"] == true,
        "the audit after a kill failed:\n{}",
        serde_json::to_string_pretty(&report["findings"]).unwrap()
    );
    assert_eq!(report["records"], report["tree_size"]);
    assert_eq!(report["latest_checkpoint"], report["tree_size"]);
    report
}

/// Every archive the daemon lists: id -> (sha256, size).
async fn listed(archive: &mut ArchiveClient<Channel>) -> HashMap<String, (String, u64)> {
    common::list_archives(archive)
        .await
        .into_iter()
        .map(|a| (a.archive_id, (a.content_sha256, a.size)))
        .collect()
}

fn summary(label: &str, values: &mut [f64]) -> String {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = values.len();
    format!(
        "{label}: min {:.3} s, median {:.3} s, max {:.3} s ({n} restarts)",
        values[0],
        values[n / 2],
        values[n - 1]
    )
}

fn crash_torture(kills: usize, seed: u64, audit_every: usize) {
    eprintln!(
        "crash torture: {kills} kills, {CLIENTS} clients, seed {seed} \
         (MINUTIER_TORTURE_SEED={seed} repeats the schedule)"
    );
    let started = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let data = work.join("data");
    fs::create_dir_all(work.join("acked")).unwrap();
    fs::create_dir_all(work.join("seals/acked")).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // A first document and the first checkpoint, kept as an auditor would.
    let daemon = Daemon::start(&data);
    let key = work.join("verifier.key");
    fs::write(&key, format!("{}\n", daemon.verifier_key)).unwrap();
    let first_doc = work.join("first.txt");
    fs::write(&first_doc, "Registre des délibérations, 1er volume\n").unwrap();
    daemon.cli_json(&["ingest", first_doc.to_str().unwrap()]);
    let first = work.join("first-checkpoint.txt");
    common::ok(daemon.cli(&["checkpoint", "-o", first.to_str().unwrap()]));

    let mut acked: Vec<Acked> = Vec::new();
    let mut restarts = Vec::new();
    let mut delays = Vec::new();
    let mut audits = 0;
    let mut daemon = Some(daemon);
    for cycle in 0..kills {
        let d = daemon.take().unwrap();
        let delay = Duration::from_millis(rng.gen_range(0..1500));
        delays.push(delay.as_secs_f64());
        let killed = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let before = acked.len();
        runtime.block_on(async {
            let mut tasks = Vec::new();
            for c in 0..CLIENTS {
                let archive = ArchiveClient::new(channel_as(&d, &d.archivist).await);
                tasks.push(tokio::spawn(client(
                    archive,
                    work.to_owned(),
                    seed,
                    cycle,
                    c,
                    killed.clone(),
                )));
            }
            tokio::time::sleep(delay).await;
            killed.store(true, Ordering::SeqCst);
            d.kill();
            for t in tasks {
                let (a, e) = t.await.unwrap();
                acked.extend(a);
                errors.lock().unwrap().extend(e);
            }
        });
        let errors = errors.lock().unwrap();
        assert!(
            errors.is_empty(),
            "cycle {cycle}: ingests failed before the kill: {errors:?}"
        );

        // The crashed data directory, as the daemon left it.
        if (cycle + 1) % audit_every == 0 || cycle + 1 == kills {
            audit(&data, &key, &first);
            audits += 1;
        }

        // Restart: from spawn to serving clients.
        let t = Instant::now();
        let d = Daemon::start(&data);
        let restart = t.elapsed().as_secs_f64();
        restarts.push(restart);
        assert_eq!(fs::read_to_string(&key).unwrap().trim(), d.verifier_key);

        // Every document acknowledged so far is there, with its digest.
        let present = runtime.block_on(async {
            let mut archive = ArchiveClient::new(channel_as(&d, &d.archivist).await);
            listed(&mut archive).await
        });
        for a in &acked {
            match present.get(&a.id) {
                Some((sha, size)) => assert!(
                    sha == &a.sha256 && *size == a.size,
                    "cycle {cycle}: {} listed as {sha} ({size} bytes), acknowledged as {} ({} bytes)",
                    a.id,
                    a.sha256,
                    a.size
                ),
                None => panic!(
                    "cycle {cycle}: acknowledged document {} ({}) is missing after the restart",
                    a.id,
                    a.path.display()
                ),
            }
        }
        eprintln!(
            "crash torture: kill {}/{kills} after {:.3} s: {} acknowledged this cycle, \
             {} in all, {} archives listed; restart {restart:.3} s",
            cycle + 1,
            delay.as_secs_f64(),
            acked.len() - before,
            acked.len(),
            present.len()
        );
        assert!(
            restart < 2.0,
            "restart took {restart:.3} s with {} archives",
            present.len()
        );
        daemon = Some(d);
    }

    // Every acknowledged document's seal verifies offline, against its
    // bytes and the published key.
    let daemon = daemon.unwrap();
    let t = Instant::now();
    let out = cli(&[
        "--json",
        "verify",
        work.join("acked").to_str().unwrap(),
        "--seal-dir",
        work.join("seals").to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("verify printed no JSON ({e}): {}", common::text(&out)));
    assert!(out.status.success(), "{report}");
    assert_eq!(report["verified"], acked.len() as u64);
    let verify_time = t.elapsed().as_secs_f64();

    // A sample reads back byte for byte.
    let step = (acked.len() / 25).max(1);
    for a in acked.iter().step_by(step) {
        let back = work.join("retrieved");
        common::ok(daemon.cli(&["get", &a.id, "-o", back.to_str().unwrap()]));
        assert_eq!(fs::read(&back).unwrap(), fs::read(&a.path).unwrap());
        fs::remove_file(&back).unwrap();
    }

    // And a last audit after a clean stop.
    daemon.stop();
    let report = audit(&data, &key, &first);
    let mut restarts_sorted = restarts.clone();
    let mut delays_sorted = delays.clone();
    eprintln!(
        "crash torture: {kills} kills survived: {} documents acknowledged, all present and \
         verified ({verify_time:.1} s for the seals), {} audits passed, last: {} records, \
         {} checkpoints, {} archives; {}; {}; seed {seed}; {:.0} s in all",
        acked.len(),
        audits + 1,
        report["records"],
        report["checkpoints"],
        report["archives"],
        summary("restart", &mut restarts_sorted),
        summary("kill delay", &mut delays_sorted),
        started.elapsed().as_secs_f64()
    );
}

fn seed() -> u64 {
    env_number("MINUTIER_TORTURE_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    })
}

/// A few kills, in the default suite.
#[test]
fn acknowledged_documents_survive_kill_9_during_concurrent_ingest() {
    let kills = env_number("MINUTIER_TORTURE_KILLS").unwrap_or(DEFAULT_KILLS);
    let every = env_number("MINUTIER_TORTURE_AUDIT_EVERY").unwrap_or(1);
    crash_torture(kills, seed(), every);
}
