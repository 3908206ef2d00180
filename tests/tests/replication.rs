//! Encrypted replication to a real Garage, end to end: only ciphertext and
//! clear checkpoints in the bucket, the escrow key and the stock `age` CLI
//! open a replica, an outage (with a restart of the appliance during it)
//! loses nothing, scrub repairs both ways, an
//! elimination removes its replica, a node of a three-node cluster can die,
//! and the whole appliance comes back from the bucket alone, with its
//! checkpoints' time-stamps.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::garage::{age_decrypt, drained, escrow_key, Garage};
use common::{cli, noise, ok, text, Daemon};
use serde_json::Value;

fn json(out: Output) -> Value {
    let all = ok(out.clone());
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {all}"))
}

fn config(work: &Path, garage: &Garage, recipient: &str, name: &str) -> PathBuf {
    let path = work.join(format!("{name}.toml"));
    fs::write(
        &path,
        format!(
            "{}scrub_interval_hours = 0\n",
            garage.replication_toml(&[recipient.to_owned()])
        ),
    )
    .unwrap();
    path
}

struct Doc {
    id: String,
    path: PathBuf,
    seal: PathBuf,
    content: Vec<u8>,
    title: String,
}

fn ingest(daemon: &Daemon, work: &Path, name: &str, content: Vec<u8>, extra: &[&str]) -> Doc {
    let dir = work.join("docs");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    fs::write(&path, &content).unwrap();
    let title = format!("Titre confidentiel {name}");
    let mut args = vec![
        "ingest",
        path.to_str().unwrap(),
        "--title",
        &title,
        "--seal-dir",
    ];
    let seals = work.join("seals");
    args.push(seals.to_str().unwrap());
    args.extend_from_slice(extra);
    let out = daemon.cli_json(&args);
    Doc {
        id: out["documents"][0]["archive_id"]
            .as_str()
            .unwrap()
            .to_owned(),
        seal: PathBuf::from(out["documents"][0]["seal_file"].as_str().unwrap()),
        path,
        content,
        title,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn split_header(plain: &[u8]) -> (Value, &[u8]) {
    let end = plain.iter().position(|b| *b == b'\n').unwrap();
    (
        serde_json::from_slice(&plain[..end]).unwrap(),
        &plain[end + 1..],
    )
}

#[test]
fn replicas_reveal_nothing_and_open_with_the_escrow_key_and_stock_age() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let garage = Garage::single(&w.join("garage"));
    let (identity, recipient) = escrow_key(w);
    let cfg = config(w, &garage, &recipient, "minutierd");
    let daemon = Daemon::start_with(&w.join("data"), Some(&cfg));

    let docs = [
        ingest(&daemon, w, "grand.bin", noise(3, 400_000), &[]),
        ingest(
            &daemon,
            w,
            "deliberation.txt",
            b"Deliberation du conseil municipal: budget primitif 2026".to_vec(),
            &["--description", "Texte de la deliberation secrete"],
        ),
        ingest(
            &daemon,
            w,
            "etat-civil.txt",
            b"Acte de naissance de Jeanne Martin".to_vec(),
            &[],
        ),
    ];
    ok(daemon.cli(&[
        "correct",
        &docs[1].id,
        "--title",
        "Titre corrige tres confidentiel",
    ]));
    let status = drained(&daemon, Duration::from_secs(60)).0;
    assert_eq!(status["contents_replicated"], 3, "{status}");

    let objects = garage.list_objects();
    let names: Vec<&str> = objects.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.iter().any(|n| n.starts_with("checkpoints/")),
        "{names:?}"
    );
    let mut content_objects = 0;
    for (name, _) in &objects {
        // The secrets object is replaced (new generation) when credentials
        // change: one listed a moment ago may be gone.
        let Some(bytes) = garage.try_get_object(name) else {
            continue;
        };
        if name.starts_with("checkpoints/") {
            // Clear, and only a size and a root.
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.starts_with(&daemon.verifier_key.split('+').next().unwrap().to_string()));
            continue;
        }
        assert!(name.starts_with("objects/"), "unexpected object {name}");
        for d in &docs {
            assert!(!name.contains(&d.id), "{name} names an archive");
            assert!(
                !contains(&bytes, &d.content[..d.content.len().min(40)]),
                "{name} holds document bytes"
            );
            assert!(
                !contains(&bytes, d.title.as_bytes()),
                "{name} holds a title"
            );
            assert!(
                !contains(&bytes, d.id.as_bytes()),
                "{name} holds an archive id"
            );
            assert!(
                !contains(&bytes, b"deliberation secrete"),
                "{name} holds metadata text"
            );
        }
        assert!(
            !contains(&bytes, b"Titre corrige"),
            "{name} holds a corrected title"
        );
        // Every object opens with the escrow key and the stock age CLI.
        let plain = age_decrypt(&identity, &bytes, w);
        let (header, body) = split_header(&plain);
        if header["type"] == "content" {
            content_objects += 1;
            let d = docs
                .iter()
                .find(|d| body == d.content.as_slice())
                .unwrap_or_else(|| panic!("{name} decrypts to no known document"));
            let sha = ok(Command::new("sha256sum").arg(&d.path).output().unwrap());
            assert!(sha.starts_with(header["sha256"].as_str().unwrap()));
        }
    }
    assert_eq!(content_objects, 3);
}

#[test]
fn an_outage_loses_nothing_and_scrub_repairs_both_ways() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let mut garage = Garage::single(&w.join("garage"));
    let (identity, recipient) = escrow_key(w);
    let cfg = config(w, &garage, &recipient, "minutierd");
    let data = w.join("data");
    let daemon = Daemon::start_with(&data, Some(&cfg));
    let mut docs = vec![ingest(&daemon, w, "avant.bin", noise(1, 200_000), &[])];
    drained(&daemon, Duration::from_secs(60));

    // The cloud goes away: ingest still works locally, the queue grows.
    garage.stop_node(0);
    for n in 0..5 {
        docs.push(ingest(
            &daemon,
            w,
            &format!("pendant-{n}.bin"),
            noise(11 + 2 * n, 100_000),
            &[],
        ));
    }
    // The failures show in the status (retries with backoff take a while).
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status = daemon.cli_json(&["replication", "status"]);
        if !status["last_error"].as_str().unwrap_or("").is_empty() || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(status["queued"].as_u64().unwrap() > 0, "{status}");
    assert!(
        !status["last_error"].as_str().unwrap_or("").is_empty(),
        "{status}"
    );
    // The appliance restarts meanwhile: the queue is durable.
    daemon.stop();
    let daemon = Daemon::start_with(&data, Some(&cfg));
    // The cloud comes back: the queue drains, nothing was lost.
    garage.start_node(0);
    let status = drained(&daemon, Duration::from_secs(120)).0;
    assert_eq!(status["contents_replicated"], 6, "{status}");

    // Local damage: one blob corrupted, one deleted.
    let blob_of = |d: &Doc| -> PathBuf {
        let sha = ok(Command::new("sha256sum").arg(&d.path).output().unwrap());
        let sha = sha.split_whitespace().next().unwrap().to_owned();
        common::files_under(&data.join("blobs"))
            .into_iter()
            .find(|p| p.to_string_lossy().contains(&sha))
            .unwrap()
    };
    let corrupt = blob_of(&docs[1]);
    let mut bytes = fs::read(&corrupt).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    fs::write(&corrupt, &bytes).unwrap();
    fs::remove_file(blob_of(&docs[2])).unwrap();
    // Cloud damage, to the replicas of two other documents (found by
    // decrypting with the escrow key): one deleted, one altered.
    let sha_of = |d: &Doc| {
        let out = ok(Command::new("sha256sum").arg(&d.path).output().unwrap());
        out.split_whitespace().next().unwrap().to_owned()
    };
    let replica_of = |d: &Doc| -> String {
        let sha = sha_of(d);
        garage
            .list_objects_prefix("objects/")
            .into_iter()
            .map(|(n, _)| n)
            .find(|n| {
                garage.try_get_object(n).is_some_and(|bytes| {
                    let plain = age_decrypt(&identity, &bytes, w);
                    split_header(&plain).0["sha256"] == sha.as_str()
                })
            })
            .unwrap()
    };
    let (gone, altered_name) = (replica_of(&docs[3]), replica_of(&docs[4]));
    garage.delete_object(&gone);
    let mut altered = garage.get_object(&altered_name);
    altered[100] ^= 1;
    garage.put_object(&altered_name, &altered);

    let report = daemon.cli_json(&["scrub"]);
    assert_eq!(report["contents_corrupt"], 1, "{report}");
    assert_eq!(report["contents_missing"], 1, "{report}");
    assert_eq!(report["contents_repaired"], 2, "{report}");
    assert_eq!(report["replicas_missing"], 1, "{report}");
    assert_eq!(report["replicas_altered"], 1, "{report}");
    assert_eq!(report["replicas_reuploaded"], 2, "{report}");
    let log_index = report["log_index"].as_u64().unwrap();
    for d in &docs {
        let out = w.join("back.bin");
        let _ = fs::remove_file(&out);
        ok(daemon.cli(&["get", &d.id, "-o", out.to_str().unwrap()]));
        assert_eq!(fs::read(&out).unwrap(), d.content, "{}", d.id);
    }
    // A second scrub finds everything sound; both runs are in the log.
    let again = daemon.cli_json(&["scrub"]);
    assert_eq!(again["contents_repaired"], 0, "{again}");
    assert_eq!(again["replicas_reuploaded"], 0, "{again}");
    let history = daemon.cli_json(&["history", "appliance"]);
    assert_eq!(history["verified"], true, "{history}");
    let indices: Vec<u64> = history["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert!(indices.contains(&log_index), "{history}");
    assert_eq!(history["records"][0]["kind"], "scrub");
}

#[test]
fn the_appliance_is_rebuilt_from_the_bucket_alone_and_continues_its_log() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let garage = Garage::single(&w.join("garage"));
    let (identity, recipient) = escrow_key(w);
    let cfg = config(w, &garage, &recipient, "minutierd");
    // Time-stamps too: their records and tokens travel in the log segments.
    let tsa = common::tsa::Tsa::start(&w.join("tsa"));
    let mut toml = fs::read_to_string(&cfg).unwrap();
    toml.push_str(&format!(
        "[timestamping]\ntsa_url = \"{}\"\ninterval_seconds = 1\n",
        tsa.url
    ));
    fs::write(&cfg, toml).unwrap();
    let data = w.join("data");
    let daemon = Daemon::start_with(&data, Some(&cfg));
    let controller = w.join("controller.pem");
    daemon.issue("Claire Controle", "controller", None, &controller);
    let key_file = w.join("verifier.key");
    fs::write(&key_file, &daemon.verifier_key).unwrap();

    let ended = [
        "--retention",
        "5",
        "--final-action",
        "destroy",
        "--retention-start",
        "2000-01-01",
    ];
    let docs = [
        ingest(&daemon, w, "grand.bin", noise(7, 1_500_000), &[]),
        ingest(
            &daemon,
            w,
            "petit.txt",
            b"Registre des arretes".to_vec(),
            &[],
        ),
        ingest(
            &daemon,
            w,
            "perime.txt",
            b"Facture 2000 a eliminer".to_vec(),
            &ended,
        ),
    ];
    ok(daemon.cli(&[
        "correct",
        &docs[1].id,
        "--title",
        "Registre des arretes 2026",
    ]));
    let early = w.join("early.checkpoint");
    ok(daemon.cli(&["checkpoint", "-o", early.to_str().unwrap()]));
    drained(&daemon, Duration::from_secs(60));

    // An elimination: its replica goes too.
    let e = daemon.cli_json(&[
        "elimination",
        "propose",
        "--reason",
        "Fin de DUA",
        &docs[2].id,
    ]);
    let eid = e["elimination_id"].as_str().unwrap().to_owned();
    ok(daemon.cli_as(&controller, &["elimination", "approve", &eid]));
    let certificate = w.join("elimination.cert");
    ok(daemon.cli(&[
        "elimination",
        "execute",
        &eid,
        "--certificate",
        certificate.to_str().unwrap(),
    ]));
    drained(&daemon, Duration::from_secs(60));
    let mut content_objects = 0;
    for (name, _) in &garage.list_objects_prefix("objects/") {
        let Some(bytes) = garage.try_get_object(name) else {
            continue;
        };
        let plain = age_decrypt(&identity, &bytes, w);
        assert!(
            !contains(&plain, &docs[2].content),
            "the eliminated content is still in {name}"
        );
        content_objects += usize::from(split_header(&plain).0["type"] == "content");
    }
    assert_eq!(
        content_objects, 2,
        "the eliminated document's replica is removed"
    );
    // Once the log is idle its latest checkpoint is time-stamped, and the
    // time-stamp replicated.
    let deadline = Instant::now() + Duration::from_secs(30);
    let stamps = loop {
        let v = daemon.cli_json(&["timestamps", "--key", key_file.to_str().unwrap()]);
        let last = v["timestamps"]
            .as_array()
            .unwrap()
            .last()
            .map(|t| t["log_index"].clone());
        let size = daemon.cli_json(&["checkpoint"])["size"].as_u64();
        if last.and_then(|l| l.as_u64()).map(|l| l + 1) == size {
            break v;
        }
        assert!(Instant::now() < deadline, "not time-stamped: {v}");
        std::thread::sleep(Duration::from_millis(200));
    };
    drained(&daemon, Duration::from_secs(60));
    let last_checkpoint = w.join("last.checkpoint");
    ok(daemon.cli(&["checkpoint", "-o", last_checkpoint.to_str().unwrap()]));

    // The fire.
    daemon.stop();
    fs::remove_dir_all(&data).unwrap();

    let restored = w.join("restored");
    let report = json(cli(&[
        "--json",
        "restore",
        "--config",
        cfg.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
        "--data-dir",
        restored.to_str().unwrap(),
    ]));
    assert_eq!(report["archives"], 3, "{report}");
    assert_eq!(report["eliminated"], 1, "{report}");
    assert_eq!(report["seals_verified"], 3, "{report}");
    assert_eq!(report["verifier_key"], daemon_key(&key_file), "{report}");
    assert!(
        report["checkpoints_checked"].as_u64().unwrap() > 0,
        "{report}"
    );

    // The restored appliance: same key, same documents, same seals, the
    // same log going on.
    let daemon = Daemon::start_with(&restored, Some(&cfg));
    assert_eq!(daemon.verifier_key, daemon_key(&key_file));
    for d in &docs[..2] {
        let out = w.join("back.bin");
        let _ = fs::remove_file(&out);
        ok(daemon.cli(&["get", &d.id, "-o", out.to_str().unwrap()]));
        assert_eq!(fs::read(&out).unwrap(), d.content);
    }
    let shown = daemon.cli_json(&["show", &docs[2].id]);
    assert_eq!(shown["state"], "eliminated", "{shown}");
    for d in &docs {
        ok(cli(&[
            "verify",
            d.path.to_str().unwrap(),
            "--seal",
            d.seal.to_str().unwrap(),
            "--key",
            key_file.to_str().unwrap(),
        ]));
    }
    let history = daemon.cli_json(&["history", &docs[1].id, "--key", key_file.to_str().unwrap()]);
    assert_eq!(history["verified"], true, "{history}");
    // The time-stamps came back with the log, each with its checkpoint
    // (which the restored index may not hold otherwise), and still verify
    // with openssl.
    let back = daemon.cli_json(&["timestamps", "--key", key_file.to_str().unwrap()]);
    assert_eq!(back["verified"], true, "{back}");
    // (The reads above are records: a newer time-stamp may follow.)
    let before = stamps["timestamps"].as_array().unwrap();
    assert!(!before.is_empty());
    assert_eq!(
        back["timestamps"].as_array().unwrap()[..before.len()],
        before[..]
    );
    let export = w.join("timestamps");
    ok(daemon.cli(&["timestamps", "--export", export.to_str().unwrap()]));
    let size = stamps["timestamps"][0]["checkpoint_size"].as_u64().unwrap();
    let verified = Command::new("openssl")
        .current_dir(&export)
        .args(["ts", "-verify", "-data"])
        .arg(format!("checkpoint-{size}.txt"))
        .arg("-in")
        .arg(format!("checkpoint-{size}.tsr"))
        .arg("-CAfile")
        .arg(&tsa.ca_pem)
        .output()
        .unwrap();
    assert!(verified.status.success(), "{}", text(&verified));
    ok(cli(&[
        "elimination",
        "verify",
        certificate.to_str().unwrap(),
        "--key",
        key_file.to_str().unwrap(),
    ]));
    ingest(
        &daemon,
        w,
        "apres.txt",
        b"Premier document apres le sinistre".to_vec(),
        &[],
    );
    for old in [&early, &last_checkpoint] {
        ok(daemon.cli(&[
            "consistency",
            "--old",
            old.to_str().unwrap(),
            "--key",
            key_file.to_str().unwrap(),
        ]));
    }
    // Issued credentials still work: the controller's, from before.
    ok(daemon.cli_as(&controller, &["elimination", "list"]));
    // And it keeps replicating where the old one stopped.
    drained(&daemon, Duration::from_secs(60));
}

fn daemon_key(file: &Path) -> String {
    fs::read_to_string(file).unwrap().trim().to_owned()
}

#[test]
fn a_three_node_cluster_loses_a_node_during_replication() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let mut garage = Garage::cluster(&w.join("garage"), 3);
    let (identity, recipient) = escrow_key(w);
    let cfg = config(w, &garage, &recipient, "minutierd");
    let daemon = Daemon::start_with(&w.join("data"), Some(&cfg));
    let mut docs = Vec::new();
    for n in 0..12u64 {
        if n == 4 {
            // Node 0 serves the appliance's endpoint; another one dies.
            garage.kill_node(2);
        }
        docs.push(ingest(
            &daemon,
            w,
            &format!("doc-{n}.bin"),
            noise(101 + 2 * n, 150_000),
            &[],
        ));
    }
    let status = drained(&daemon, Duration::from_secs(120)).0;
    assert_eq!(status["contents_replicated"], 12, "{status}");
    // Each replica is readable with a node down.
    let mut found = 0;
    for (name, _) in garage.list_objects_prefix("objects/") {
        let (header, body) = {
            let Some(bytes) = garage.try_get_object(&name) else {
                continue;
            };
            let plain = age_decrypt(&identity, &bytes, w);
            let (h, b) = split_header(&plain);
            (h, b.to_vec())
        };
        if header["type"] == "content" {
            assert!(docs.iter().any(|d| d.content == body), "{name}");
            found += 1;
        }
    }
    assert_eq!(found, 12);
    garage.start_node(2);
}
