//! The foundation, end to end: 1,000 documents from 16 concurrent CLI
//! clients, a daemon restart, every seal verified offline by the CLI, and a
//! consistency proof from an early checkpoint to the last.

mod common;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use common::{cli, noise, Daemon};

const CLIENTS: usize = 16;
const DOCUMENTS: usize = 1000;

/// Writes client `c`'s share of the corpus: mostly small text documents,
/// some larger incompressible ones (stored as blob files), and a few copies
/// shared between clients (deduplicated).
fn write_corpus(root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for c in 0..CLIENTS {
        let dir = root.join(format!("client-{c:02}"));
        fs::create_dir_all(dir.join("sub")).unwrap();
        let share = DOCUMENTS / CLIENTS + usize::from(c < DOCUMENTS % CLIENTS);
        for i in 0..share {
            let path = if i % 5 == 0 {
                dir.join("sub").join(format!("doc-{i:03}.txt"))
            } else {
                dir.join(format!("doc-{i:03}.txt"))
            };
            let content = match i % 20 {
                0 => noise((c * 1000 + i) as u64 + 7, 150_000 + i * 1000),
                1 => b"the same minutes, filed by every client\n".repeat(4000),
                _ => format!(
                    "Délibération n°{c}-{i}\n{}",
                    "Le conseil municipal, ouï l'exposé. ".repeat(i * 7 % 400)
                )
                .into_bytes(),
            };
            fs::write(path, content).unwrap();
        }
        dirs.push(dir);
    }
    dirs
}

#[test]
fn a_thousand_documents_from_sixteen_clients_survive_a_restart_and_verify_offline() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let daemon = Daemon::start(&data);
    let key_file = work.path().join("verifier.key");
    fs::write(&key_file, format!("{}\n", daemon.verifier_key)).unwrap();
    assert_eq!(
        fs::read_to_string(data.join("verifier.key"))
            .unwrap()
            .trim(),
        daemon.verifier_key,
        "the daemon publishes its verifier key in its data directory"
    );

    // An early document and the checkpoint that covers it.
    let early = work.path().join("early.txt");
    fs::write(&early, "Registre des délibérations, 1er volume\n").unwrap();
    let first = daemon.cli_json(&["ingest", early.to_str().unwrap(), "--title", "Registre 1"]);
    assert_eq!(first["documents"].as_array().unwrap().len(), 1);
    let early_checkpoint = work.path().join("early-checkpoint.txt");
    let out = daemon.cli(&["checkpoint", "-o", early_checkpoint.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // 16 concurrent clients.
    let dirs = write_corpus(&work.path().join("corpus"));
    let seals = work.path().join("seals");
    let results: Vec<serde_json::Value> = std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .iter()
            .map(|dir| {
                let (daemon, seals) = (&daemon, &seals);
                s.spawn(move || {
                    daemon.cli_json(&[
                        "ingest",
                        dir.to_str().unwrap(),
                        "--agency",
                        "MAIRIE-EXEMPLE",
                        "--seal-dir",
                        seals.to_str().unwrap(),
                        "--jobs",
                        "4",
                    ])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let documents: Vec<&serde_json::Value> = results
        .iter()
        .flat_map(|r| {
            assert!(
                r["failed"].as_array().unwrap().is_empty(),
                "failures: {}",
                r["failed"]
            );
            r["documents"].as_array().unwrap()
        })
        .collect();
    assert_eq!(documents.len(), DOCUMENTS);
    let ids: HashSet<&str> = documents
        .iter()
        .map(|d| d["archive_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        DOCUMENTS,
        "every document gets its own archive id"
    );
    let indices: HashSet<u64> = documents
        .iter()
        .map(|d| d["log_index"].as_u64().unwrap())
        .collect();
    assert_eq!(
        indices.len(),
        DOCUMENTS,
        "every document gets its own log entry"
    );
    assert!(indices.iter().all(|&i| (1..=DOCUMENTS as u64).contains(&i)));
    let deduplicated = documents
        .iter()
        .filter(|d| d["deduplicated"].as_bool().unwrap())
        .count();
    assert!(
        deduplicated >= CLIENTS * 2,
        "shared content is stored once ({deduplicated} deduplicated)"
    );

    // Restart: everything acknowledged is still there, under the same key.
    daemon.stop();
    let daemon = Daemon::start(&data);
    assert_eq!(
        fs::read_to_string(&key_file).unwrap().trim(),
        daemon.verifier_key
    );
    let listed = list_all(&daemon);
    assert_eq!(listed.len(), DOCUMENTS + 1);

    // Every seal verifies offline (no server: MINUTIER_SERVER unset): the
    // whole corpus against the seal folder in one run...
    let mut args = vec!["--json", "verify"];
    args.extend(dirs.iter().map(|d| d.to_str().unwrap()));
    args.extend([
        "--seal-dir",
        seals.to_str().unwrap(),
        "--key",
        key_file.to_str().unwrap(),
    ]);
    let out = cli(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], DOCUMENTS);
    // ...and one document at a time, as an auditor handed one file would.
    for doc in documents.iter().step_by(10) {
        let path = doc["path"].as_str().unwrap();
        let seal = doc["seal_file"].as_str().unwrap();
        let out = cli(&[
            "verify",
            path,
            "--seal",
            seal,
            "--key",
            key_file.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "seal of {path} did not verify: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // One altered document in the corpus is caught and named.
    let victim = documents[123]["path"].as_str().unwrap();
    let mut bytes = fs::read(victim).unwrap();
    bytes.push(b'\n');
    fs::write(victim, &bytes).unwrap();
    let out = cli(&args);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], DOCUMENTS - 1);
    assert_eq!(report["failed"][0]["path"], victim);
    bytes.pop();
    fs::write(victim, &bytes).unwrap();

    // Nothing was rewritten since the early checkpoint.
    let out = daemon.cli(&[
        "consistency",
        "--old",
        early_checkpoint.to_str().unwrap(),
        "--key",
        key_file.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("-> {}", DOCUMENTS + 1)),
        "{stdout}"
    );

    // Content comes back byte for byte, small (in the index) and large (files).
    for doc in documents.iter().step_by(37) {
        let out_file = work.path().join("retrieved");
        let id = doc["archive_id"].as_str().unwrap();
        let out = daemon.cli(&["get", id, "-o", out_file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            fs::read(&out_file).unwrap(),
            fs::read(doc["path"].as_str().unwrap()).unwrap()
        );
        fs::remove_file(&out_file).unwrap();
    }

    // A seal fetched now (latest checkpoint) verifies as well.
    let doc = documents[500];
    let fresh = work.path().join("fresh.tlog-proof");
    let out = daemon.cli(&[
        "seal",
        doc["archive_id"].as_str().unwrap(),
        "-o",
        fresh.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let out = cli(&[
        "verify",
        doc["path"].as_str().unwrap(),
        "--seal",
        fresh.to_str().unwrap(),
        "--key",
        &daemon.verifier_key,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    daemon.stop();
}

fn list_all(daemon: &Daemon) -> Vec<serde_json::Value> {
    let listed = daemon.cli_json(&["list", "--limit", "100000"]);
    listed["archives"]
        .as_array()
        .expect("list --json has an archives array")
        .clone()
}
