//! Key custody in a PKCS#11 token, end to end, against SoftHSM2 (Debian
//! package `softhsm2`): `minutierd` configured with `custody = "pkcs11"`
//! signs its checkpoints on the token, the seals verify offline with the
//! published key, no key file exists, a restart reuses the token's key;
//! `minutierd rotate-key` (token key → new token key, file key → token key
//! → new file key) records the change in the log, seals from before and
//! after it verify with the published key history, and consistency from a
//! checkpoint older than the rotation holds. A start with a key that is not
//! the log's is refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{bin_dir, cli, ok, text, Daemon};
use minutier_hw::pkcs11::testing::SoftHsm2;
use minutier_hw::pkcs11::SOFTHSM2_MODULE;

const PIN: &str = "2468-user";
/// One token per test, so tests running in parallel do not meet.
const TOKENS: [&str; 2] = ["e2e-rotation", "e2e-migration"];

/// A SoftHSM2 token directory for this test process, its tokens made once
/// with `softhsm2-util`; `SOFTHSM2_CONF` (inherited by every `minutierd`
/// started here) points at its configuration.
fn hsm() -> &'static SoftHsm2 {
    static HSM: OnceLock<SoftHsm2> = OnceLock::new();
    HSM.get_or_init(|| SoftHsm2::with_tokens(&TOKENS, PIN))
}

/// A configuration with a `[key]` section for `token` and `key_label`.
fn token_config(work: &Path, name: &str, token: &str, key_label: &str) -> PathBuf {
    let path = work.join(name);
    std::fs::write(
        &path,
        format!(
            "[key]\ncustody = \"pkcs11\"\nmodule = \"{SOFTHSM2_MODULE}\"\n\
             token_label = \"{token}\"\npin_file = \"{}\"\nkey_label = \"{key_label}\"\n",
            hsm().pin_file().display()
        ),
    )
    .unwrap();
    path
}

/// Runs `minutierd` to completion (rotate-key).
fn minutierd(args: &[&str]) -> Output {
    Command::new(bin_dir().join("minutierd"))
        .args(args)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .output()
        .expect("run minutierd")
}

fn rotate(data: &Path, config: Option<&Path>, previous: Option<&Path>) -> String {
    let mut args = vec!["--data-dir", data.to_str().unwrap()];
    if let Some(c) = config {
        args.extend(["--config", c.to_str().unwrap()]);
    }
    args.push("rotate-key");
    if let Some(p) = previous {
        args.extend(["--previous-config", p.to_str().unwrap()]);
    }
    ok(minutierd(&args))
}

/// Starts `minutierd`, which must refuse to start; its output.
fn refused_start(data: &Path, config: Option<&Path>) -> String {
    let mut cmd = Command::new(bin_dir().join("minutierd"));
    cmd.arg("--data-dir")
        .arg(data)
        .args(["--listen", "127.0.0.1:0", "--console-listen", "127.0.0.1:0"])
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("minutierd started with a key that is not the log's");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    text(&out)
}

/// Writes `count` documents into `dir`.
fn documents(dir: &Path, prefix: &str, count: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..count {
        std::fs::write(
            dir.join(format!("{prefix}-{i}.txt")),
            format!("Arrêté municipal {prefix} n°{i}\n"),
        )
        .unwrap();
    }
}

/// Ingests the folder `docs`, writing seals under `seals`.
fn ingest(daemon: &Daemon, docs: &Path, seals: &Path) {
    let out = daemon.cli_json(&[
        "ingest",
        docs.to_str().unwrap(),
        "--seal-dir",
        seals.to_str().unwrap(),
    ]);
    assert!(out["failed"].as_array().unwrap().is_empty(), "{out:#}");
}

/// `minutier verify` of a folder against its seals, offline.
fn verify(docs: &Path, seals: &Path, key: &str) -> Output {
    cli(&[
        "verify",
        docs.to_str().unwrap(),
        "--seal-dir",
        seals.to_str().unwrap(),
        "--key",
        key,
    ])
}

fn published(data: &Path) -> Vec<String> {
    std::fs::read_to_string(data.join("verifier.key"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn token_signs_checkpoints_that_verify_and_a_rotation_keeps_old_seals_verifying() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let data = w.join("data");
    let first = token_config(w, "first.toml", "e2e-rotation", "minutier-checkpoint");

    // First start: the key is generated on the token.
    let daemon = Daemon::start_with(&data, Some(&first));
    assert_eq!(published(&data), vec![daemon.verifier_key.clone()]);
    documents(&w.join("docs-1"), "avant", 3);
    ingest(&daemon, &w.join("docs-1"), &w.join("seals-1"));
    let early = w.join("early-checkpoint.txt");
    ok(daemon.cli(&["checkpoint", "-o", early.to_str().unwrap()]));

    // The seals verify offline with the published key; the key never left
    // the token: there is no key file.
    let key_file = data.join("verifier.key");
    let out = verify(
        &w.join("docs-1"),
        &w.join("seals-1"),
        key_file.to_str().unwrap(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("3 documents verified, 0 failed"),
        "{}",
        text(&out)
    );
    assert!(!data.join("keys/checkpoint.key").exists());
    let first_key = daemon.verifier_key.clone();

    // A restart finds the key on the token.
    daemon.stop();
    let daemon = Daemon::start_with(&data, Some(&first));
    assert_eq!(daemon.verifier_key, first_key);
    documents(&w.join("docs-2"), "apres-redemarrage", 1);
    ingest(&daemon, &w.join("docs-2"), &w.join("seals-2"));
    let out = verify(&w.join("docs-2"), &w.join("seals-2"), &first_key);
    assert!(out.status.success(), "{}", text(&out));
    daemon.stop();

    // Another label on the same token: not the log's key, refused (and
    // not generated: only a new log, or a rotation, makes a key).
    let other = token_config(w, "other.toml", "e2e-rotation", "minutier-2027");
    let refused = refused_start(&data, Some(&other));
    assert!(refused.contains("\"minutier-2027\""), "{refused}");

    // Rotation to a new key on the token, recorded under the old key.
    let rotated = rotate(&data, Some(&other), Some(&first));
    assert!(
        rotated.contains(&format!("old verifier key: {first_key}")),
        "{rotated}"
    );
    let new_key = rotated
        .lines()
        .find_map(|l| l.strip_prefix("new verifier key: "))
        .unwrap()
        .to_owned();
    assert_ne!(new_key, first_key);
    assert!(rotated.contains("signed by both keys"), "{rotated}");
    assert_eq!(published(&data), [first_key.clone(), new_key.clone()]);

    // The old key no longer starts the log.
    let refused = refused_start(&data, Some(&first));
    assert!(refused.contains("rotate-key"), "{refused}");
    assert!(refused.contains(&new_key), "{refused}");

    // The new key signs from now on.
    let daemon = Daemon::start_with(&data, Some(&other));
    assert_eq!(daemon.verifier_key, new_key);
    documents(&w.join("docs-3"), "apres-rotation", 2);
    ingest(&daemon, &w.join("docs-3"), &w.join("seals-3"));

    // Every seal verifies with the published history; each key alone
    // verifies the seals of its own time only.
    for (docs, seals) in [
        ("docs-1", "seals-1"),
        ("docs-2", "seals-2"),
        ("docs-3", "seals-3"),
    ] {
        let out = verify(&w.join(docs), &w.join(seals), key_file.to_str().unwrap());
        assert!(out.status.success(), "{docs}: {}", text(&out));
    }
    assert!(!verify(&w.join("docs-1"), &w.join("seals-1"), &new_key)
        .status
        .success());
    assert!(verify(&w.join("docs-1"), &w.join("seals-1"), &first_key)
        .status
        .success());
    assert!(verify(&w.join("docs-3"), &w.join("seals-3"), &new_key)
        .status
        .success());
    let out = verify(&w.join("docs-3"), &w.join("seals-3"), &first_key);
    assert!(!out.status.success());
    assert!(text(&out).contains("no signature by key"), "{}", text(&out));

    // Consistency from a checkpoint signed by the old key to the latest,
    // signed by the new one: with the history, and with the server's keys.
    let consistent = daemon.cli_json(&[
        "consistency",
        "--old",
        early.to_str().unwrap(),
        "--key",
        key_file.to_str().unwrap(),
    ]);
    assert_eq!(consistent["consistent"], true, "{consistent:#}");
    let consistent = daemon.cli_json(&["consistency", "--old", early.to_str().unwrap()]);
    assert_eq!(consistent["consistent"], true, "{consistent:#}");
    assert_eq!(consistent["key_source"], "server");

    // The server states the history; `minutier key` prints it as a key file.
    let keys = ok(daemon.cli(&["key"]));
    assert_eq!(keys, format!("{first_key}\n{new_key}\n"));

    // The rotation is in the appliance's chain, which verifies.
    let history = ok(daemon.cli(&["history", "appliance", "--key", key_file.to_str().unwrap()]));
    assert!(
        history.contains(&format!(
            "checkpoint signing key changed from {first_key} to {new_key} (pkcs11)"
        )),
        "{history}"
    );
    daemon.stop();

    // A second rotation back to a key the log already used is refused.
    let out = minutierd(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--config",
        first.to_str().unwrap(),
        "rotate-key",
        "--previous-config",
        other.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("already signed this log"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_file_key_moves_to_the_token_and_then_to_a_new_file_key() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let data = w.join("data");

    // A log begun with the file keystore.
    let daemon = Daemon::start(&data);
    let file_key = daemon.verifier_key.clone();
    documents(&w.join("docs-1"), "fichier", 2);
    ingest(&daemon, &w.join("docs-1"), &w.join("seals-1"));
    let early = w.join("early-checkpoint.txt");
    ok(daemon.cli(&["checkpoint", "-o", early.to_str().unwrap()]));
    daemon.stop();
    assert!(data.join("keys/checkpoint.key").exists());

    // The token holds no key for this log: a start with it is refused.
    let token = token_config(w, "token.toml", "e2e-migration", "minutier-checkpoint");
    let refused = refused_start(&data, Some(&token));
    assert!(refused.contains("no Ed25519 key labelled"), "{refused}");

    // file → token: the previous key is the data directory's file.
    let rotated = rotate(&data, Some(&token), None);
    assert!(
        rotated.contains(&format!("old verifier key: {file_key}")),
        "{rotated}"
    );
    assert!(rotated.contains("(created)"), "{rotated}");
    assert!(!data.join("keys/checkpoint.key").exists(), "{rotated}");
    let retired: Vec<_> = std::fs::read_dir(data.join("keys/retired"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(retired.len(), 1, "{retired:?}");
    assert_eq!(&retired[0][..8], file_key.split('+').nth(1).unwrap());

    // The file configuration no longer starts the log.
    let refused = refused_start(&data, None);
    assert!(refused.contains("does not exist"), "{refused}");
    assert!(refused.contains("custody pkcs11"), "{refused}");

    let daemon = Daemon::start_with(&data, Some(&token));
    let token_key = daemon.verifier_key.clone();
    assert_ne!(token_key, file_key);
    documents(&w.join("docs-2"), "jeton", 2);
    ingest(&daemon, &w.join("docs-2"), &w.join("seals-2"));
    daemon.stop();

    // token → a new file key.
    let rotated = rotate(&data, None, Some(&token));
    assert!(
        rotated.contains(&format!("old verifier key: {token_key}")),
        "{rotated}"
    );
    assert!(data.join("keys/checkpoint.key").exists());
    assert!(!data.join("keys/checkpoint.key.next").exists());
    let daemon = Daemon::start(&data);
    let new_file_key = daemon.verifier_key.clone();
    assert!(![&file_key, &token_key].contains(&&new_file_key));
    assert_eq!(
        published(&data),
        [file_key.clone(), token_key.clone(), new_file_key.clone()]
    );
    documents(&w.join("docs-3"), "nouveau-fichier", 1);
    ingest(&daemon, &w.join("docs-3"), &w.join("seals-3"));

    let key_file = data.join("verifier.key");
    for (docs, seals) in [
        ("docs-1", "seals-1"),
        ("docs-2", "seals-2"),
        ("docs-3", "seals-3"),
    ] {
        let out = verify(&w.join(docs), &w.join(seals), key_file.to_str().unwrap());
        assert!(out.status.success(), "{docs}: {}", text(&out));
    }
    let consistent = daemon.cli_json(&[
        "consistency",
        "--old",
        early.to_str().unwrap(),
        "--key",
        key_file.to_str().unwrap(),
    ]);
    assert_eq!(consistent["consistent"], true, "{consistent:#}");
    let history = ok(daemon.cli(&["history", "appliance"]));
    assert!(
        history.contains("history of appliance verifies: 2 records"),
        "{history}"
    );
    daemon.stop();
}
