//! Tampering is caught: a modified document, seal or key fails offline
//! verification with a message naming what failed, content corrupted on
//! disk is refused with DATA_LOSS instead of being served, and `minutier
//! audit` names every kind of tampering of a data directory (a blob, a
//! record, a document, an archive entry, a checkpoint, a rollback, a
//! replica in the bucket) with what and where. `scripts/torture tamper`
//! runs the long version (many random byte flips).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

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

// ---------------------------------------------------------------------
// `minutier audit`: a full offline audit of a data directory names every
// kind of tampering, with what and where.

/// A data directory built by the real daemon, then stopped.
struct Fixture {
    /// Keeps the temporary directory alive.
    _work: tempfile::TempDir,
    work: PathBuf,
    /// The data directory as the daemon left it.
    pristine: PathBuf,
    /// A copy taken before the last ingest.
    older: PathBuf,
    /// The latest checkpoint, kept by an auditor.
    kept: PathBuf,
    /// The published verifier key, in a file.
    key_file: PathBuf,
    /// A compressible document over 64 KiB: a zstd blob file.
    report: Doc,
    /// An incompressible one: a raw blob file.
    plan: Doc,
    /// A small one, kept in the index, whose metadata was corrected.
    note: Doc,
    correction_index: u64,
    hold_index: u64,
}

struct Doc {
    id: String,
    sha256: String,
}

const ENDED: &[&str] = &[
    "--retention",
    "5",
    "--final-action",
    "destroy",
    "--retention-start",
    "2000-01-01",
];

fn ingest_doc(daemon: &Daemon, work: &Path, name: &str, content: &[u8], extra: &[&str]) -> Doc {
    let path = work.join("docs").join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    let mut args = vec!["ingest", path.to_str().unwrap(), "--title", name];
    args.extend_from_slice(extra);
    let out = daemon.cli_json(&args);
    Doc {
        id: out["documents"][0]["archive_id"]
            .as_str()
            .unwrap()
            .to_owned(),
        sha256: out["documents"][0]["content_sha256"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

/// `cp -a`, as an administrator copies a stopped data directory.
fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cp -a {} {}",
        from.display(),
        to.display()
    );
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().to_owned();
    let data = work.join("data");
    let daemon = Daemon::start(&data);
    let key_file = work.join("verifier.key");
    fs::write(&key_file, format!("{}\n", daemon.verifier_key)).unwrap();
    let controller = work.join("controller.pem");
    daemon.issue("Claire Contrôle", "controller", None, &controller);

    let text: String = (0..3000)
        .map(|i| format!("Article {i} : le conseil municipal délibère.\n"))
        .collect();
    let report = ingest_doc(&daemon, &work, "rapport.txt", text.as_bytes(), &[]);
    let plan = ingest_doc(&daemon, &work, "plan.bin", &noise(5, 90_000), &[]);
    let note = ingest_doc(&daemon, &work, "note.txt", b"Note de service", &[]);
    let facture = ingest_doc(&daemon, &work, "facture.txt", b"Facture 1999", ENDED);
    let corrected = daemon.cli_json(&["correct", &note.id, "--title", "Note corrigée"]);
    let correction_index = corrected["log_index"].as_u64().unwrap();
    let held = daemon.cli_json(&["hold", "place", &plan.id, "--reason", "Contentieux"]);
    let hold_index = held["log_index"].as_u64().unwrap();
    let proposal = daemon.cli_json(&[
        "elimination",
        "propose",
        "--reason",
        "Fin de DUA",
        &facture.id,
    ]);
    let eid = proposal["elimination_id"].as_str().unwrap().to_owned();
    let approved = daemon.cli_as(&controller, &["elimination", "approve", &eid]);
    assert!(approved.status.success(), "{}", stdout_and_err(&approved));
    let certificate = work.join("elimination.cert");
    daemon.cli_json(&[
        "elimination",
        "execute",
        &eid,
        "--certificate",
        certificate.to_str().unwrap(),
    ]);

    // The index of a running daemon is refused: stop it, or audit a copy.
    let out = cli(&["--data-dir", data.to_str().unwrap(), "audit"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout_and_err(&out));
    assert!(
        stdout_and_err(&out).contains("stop the daemon"),
        "{}",
        stdout_and_err(&out)
    );
    daemon.stop();

    // A copy before the last ingest, then the last ingest and a
    // checkpoint an auditor keeps.
    let older = work.join("older");
    copy_dir(&data, &older);
    let daemon = Daemon::start(&data);
    ingest_doc(&daemon, &work, "dernier.txt", b"Dernier acte", &[]);
    let kept = work.join("kept-checkpoint.txt");
    let out = daemon.cli(&["checkpoint", "-o", kept.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stdout_and_err(&out));
    daemon.stop();
    Fixture {
        _work: dir,
        work,
        pristine: data,
        older,
        kept,
        key_file,
        report,
        plan,
        note,
        correction_index,
        hold_index,
    }
}

impl Fixture {
    /// A fresh copy of the pristine data directory.
    fn copy(&self, name: &str) -> PathBuf {
        let to = self.work.join(name);
        copy_dir(&self.pristine, &to);
        to
    }

    /// `minutier audit` of `dir` with the published key and the kept
    /// checkpoint.
    fn audit(&self, dir: &Path, extra: &[&str]) -> std::process::Output {
        let mut args = vec![
            "--data-dir",
            dir.to_str().unwrap(),
            "audit",
            "--key",
            self.key_file.to_str().unwrap(),
            "--checkpoint",
            self.kept.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        cli(&args)
    }

    /// The audit fails (exit 1) and its report holds every needle.
    #[track_caller]
    fn fails(&self, dir: &Path, needles: &[&str]) -> String {
        let out = self.audit(dir, &[]);
        let all = stdout_and_err(&out);
        assert_eq!(out.status.code(), Some(1), "expected findings:\n{all}");
        for needle in needles {
            assert!(all.contains(needle), "expected {needle:?} in:\n{all}");
        }
        all
    }
}

/// The blob file of a content, relative to the data directory.
fn blob_file(dir: &Path, sha256: &str) -> String {
    let file = files_under(&dir.join("blobs"))
        .into_iter()
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(sha256))
        })
        .unwrap_or_else(|| panic!("no blob file for {sha256}"));
    file.strip_prefix(dir).unwrap().display().to_string()
}

fn flip(path: &Path, at: usize, mask: u8) {
    let mut bytes = fs::read(path).unwrap();
    let at = at % bytes.len();
    bytes[at] ^= mask;
    fs::write(path, bytes).unwrap();
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RocksDB's `ldb` (Debian package rocksdb-tools, installed by
/// scripts/setup test) on the index of `dir`.
fn ldb(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("ldb")
        .arg(format!("--db={}", dir.join("index").display()))
        .args(args)
        .output()
        .expect("ldb (from rocksdb-tools) must be installed: run scripts/setup test");
    assert!(out.status.success(), "ldb failed: {}", stdout_and_err(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn ldb_get(dir: &Path, cf: &str, key: &[u8]) -> Vec<u8> {
    let out = ldb(
        dir,
        &[
            &format!("--column_family={cf}"),
            "get",
            "--key_hex",
            "--value_hex",
            &format!("0x{}", to_hex(key)),
        ],
    );
    let hex = out.trim().trim_start_matches("0x");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn ldb_put(dir: &Path, cf: &str, key: &[u8], value: &[u8]) {
    ldb(
        dir,
        &[
            &format!("--column_family={cf}"),
            "put",
            "--key_hex",
            "--value_hex",
            &format!("0x{}", to_hex(key)),
            &format!("0x{}", to_hex(value)),
        ],
    );
}

fn ldb_delete(dir: &Path, cf: &str, key: &[u8]) {
    ldb(
        dir,
        &[
            &format!("--column_family={cf}"),
            "delete",
            "--key_hex",
            &format!("0x{}", to_hex(key)),
        ],
    );
}

/// The value of `key` in a record's text.
fn field<'a>(record: &'a str, key: &str) -> &'a str {
    record
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .unwrap()
}

/// The latest checkpoint's size and text.
fn latest_checkpoint(f: &Fixture) -> (u64, String) {
    let text = fs::read_to_string(&f.kept).unwrap();
    let size = text.lines().nth(1).unwrap().parse().unwrap();
    (size, text)
}

#[test]
fn audit_names_every_kind_of_tampering() {
    let f = fixture();

    // The pristine data directory passes, in text and in JSON.
    let out = f.audit(&f.pristine, &[]);
    assert!(out.status.success(), "{}", stdout_and_err(&out));
    assert!(stdout_and_err(&out).contains("OK: every check passed"));
    let out = f.audit(&f.pristine, &["--json"]);
    assert!(out.status.success(), "{}", stdout_and_err(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["independent_key"], true, "{report}");
    assert_eq!(report["live"], 4, "{report}");
    assert_eq!(report["eliminated"], 1, "{report}");
    assert_eq!(report["kept_checkpoints"][0]["ok"], true, "{report}");
    let (size, _) = latest_checkpoint(&f);
    assert_eq!(report["records"], size, "{report}");
    // Without --key, the data directory's own verifier.key, said so.
    let out = cli(&["--data-dir", f.pristine.to_str().unwrap(), "audit"]);
    assert!(out.status.success(), "{}", stdout_and_err(&out));
    assert!(stdout_and_err(&out).contains("not independent"));

    // A flipped byte in a blob file, compressed or not.
    for (doc, name) in [(&f.report, "zst-flip"), (&f.plan, "raw-flip")] {
        let dir = f.copy(name);
        let blob = blob_file(&dir, &doc.sha256);
        flip(&dir.join(&blob), 20_000, 0x08);
        f.fails(&dir, &["[contents]", &blob, &doc.id]);
    }

    // A changed record: one byte of the correction's actor.
    let dir = f.copy("record-changed");
    let key = f.correction_index.to_be_bytes();
    let mut record = ldb_get(&dir, "records", &key);
    let at = String::from_utf8_lossy(&record).find("actor ").unwrap() + 8;
    record[at] ^= 0x01;
    ldb_put(&dir, "records", &key, &record);
    let index = f.correction_index;
    f.fails(
        &dir,
        &[
            &format!(
                "[log] record {index}: record {index} (archive {}",
                f.note.id
            ),
            "was changed after it was logged",
            &format!("record {index} was changed"),
        ],
    );

    // A deleted record.
    let dir = f.copy("record-deleted");
    ldb_delete(&dir, "records", &f.hold_index.to_be_bytes());
    let index = f.hold_index;
    f.fails(
        &dir,
        &[&format!("[log] record {index}: record {index} is missing")],
    );

    // A changed metadata value, in the document the correction commits to.
    let dir = f.copy("document-changed");
    let record = ldb_get(&dir, "records", &f.correction_index.to_be_bytes());
    let digest = field(&String::from_utf8(record).unwrap(), "metadata-sha256").to_owned();
    let digest_bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&digest[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let document = String::from_utf8(ldb_get(&dir, "documents", &digest_bytes)).unwrap();
    assert!(document.contains("Note corrigée"), "{document}");
    let forged = document.replace("Note corrigée", "Note modifiée");
    ldb_put(&dir, "documents", &digest_bytes, forged.as_bytes());
    f.fails(
        &dir,
        &[&format!("[documents] document {digest}"), "was changed"],
    );

    // A changed metadata value, in the archive's entry.
    let dir = f.copy("entry-changed");
    let entry = String::from_utf8(ldb_get(&dir, "archives", f.note.id.as_bytes())).unwrap();
    let forged = entry.replace("Note corrigée", "Note falsifiée");
    assert_ne!(forged, entry);
    ldb_put(&dir, "archives", f.note.id.as_bytes(), forged.as_bytes());
    f.fails(
        &dir,
        &[
            &format!("[archives] archive {}", f.note.id),
            "Note falsifiée",
            "its metadata was changed",
        ],
    );

    // The latest checkpoint replaced by one signed with another key.
    let (size, text) = latest_checkpoint(&f);
    let dir = f.copy("checkpoint-other-key");
    let mut cp = minutier_seal::checkpoint::Checkpoint::parse_unverified(&text).unwrap();
    cp.extensions.clear();
    let other = minutier_seal::note::Ed25519Signer::from_seed(&cp.origin, &[7; 32]).unwrap();
    let forged = cp.sign(&other).unwrap();
    ldb_put(&dir, "checkpoints", &size.to_be_bytes(), forged.as_bytes());
    f.fails(
        &dir,
        &[
            &format!("[checkpoints] checkpoint {size} (the latest)"),
            "does not verify",
        ],
    );

    // The latest checkpoint replaced by an older one of the same log.
    let dir = f.copy("checkpoint-older");
    let old = ldb_get(&dir, "checkpoints", &(size - 2).to_be_bytes());
    ldb_put(&dir, "checkpoints", &size.to_be_bytes(), &old);
    f.fails(
        &dir,
        &[
            &format!("[checkpoints] checkpoint {size} (the latest)"),
            &format!("is a checkpoint of size {}", size - 2),
        ],
    );

    // A data directory rolled back to an older copy, against the
    // checkpoint the auditor kept.
    let older_size = size - 1;
    f.fails(
        &f.older,
        &[
            "[kept-checkpoints]",
            f.kept.to_str().unwrap(),
            &format!(
                "the log has {older_size} records, but the checkpoint you kept has {size} > \
                 {older_size}: this data directory was rolled back or truncated"
            ),
        ],
    );
    // Without the kept checkpoint, the older copy is consistent in itself.
    let out = cli(&[
        "--data-dir",
        f.older.to_str().unwrap(),
        "audit",
        "--key",
        f.key_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stdout_and_err(&out));

    // A few random byte flips, every one caught (the long run:
    // scripts/torture tamper).
    torture(&f, TARGETS.len(), 1);
}

/// What a flip of the torture hits.
#[derive(Clone, Copy, Debug)]
enum Target {
    BlobFile,
    Record,
    InlineContent,
    Document,
    Checkpoint,
    TreeNode,
}

const TARGETS: [Target; 6] = [
    Target::BlobFile,
    Target::Record,
    Target::InlineContent,
    Target::Document,
    Target::Checkpoint,
    Target::TreeNode,
];

/// The keys of a column family of the index.
fn ldb_keys(dir: &Path, cf: &str) -> Vec<Vec<u8>> {
    ldb(
        dir,
        &[
            &format!("--column_family={cf}"),
            "scan",
            "--key_hex",
            "--value_hex",
        ],
    )
    .lines()
    .filter_map(|line| line.split(" : ").next())
    .map(|key| {
        let hex = key.trim().trim_start_matches("0x");
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    })
    .collect()
}

/// Random single-byte flips, one at a time and each undone before the
/// next, taking turns over blob files, records, contents kept in the
/// index, documents, checkpoints and tree nodes: every flip that changes
/// what was sealed is caught, and the report names the thing flipped.
fn torture(f: &Fixture, flips: usize, seed: u64) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = f.copy("torture");
    let blobs: Vec<PathBuf> = files_under(&dir.join("blobs"))
        .into_iter()
        .filter(|p| !p.starts_with(dir.join("blobs/tmp")))
        .collect();
    let inline = ldb_keys(&dir, "blobs");
    let documents = ldb_keys(&dir, "documents");
    let checkpoints = ldb_keys(&dir, "checkpoints");
    assert!(!blobs.is_empty() && !inline.is_empty() && !documents.is_empty());
    let (size, _) = latest_checkpoint(f);
    let started = std::time::Instant::now();
    let (mut caught, mut harmless) = (0, 0);
    for n in 0..flips {
        if n > 0 && n % 100 == 0 {
            // Each `ldb` run adds files to the index: start again from a
            // fresh copy now and then, so every audit reads a similar index.
            fs::remove_dir_all(&dir).unwrap();
            copy_dir(&f.pristine, &dir);
        }
        let mask = rng.gen_range(1..=255u8);
        let target = TARGETS[n % TARGETS.len()];
        let turn = n / TARGETS.len();
        if let Target::BlobFile = target {
            let blob = &blobs[turn % blobs.len()];
            let original = fs::read(blob).unwrap();
            let at = rng.gen_range(0..original.len());
            flip(blob, at, mask);
            let relative = blob.strip_prefix(&dir).unwrap().display().to_string();
            let out = f.audit(&dir, &[]);
            let all = stdout_and_err(&out);
            if decodes_to_the_same(blob, &original) {
                // A bit the decoder ignores: the document is intact.
                assert!(out.status.success(), "{all}");
                harmless += 1;
            } else {
                assert_eq!(
                    out.status.code(),
                    Some(1),
                    "flip {n}: byte {at} ^ {mask:#04x} of {relative} was not caught:\n{all}"
                );
                assert!(
                    all.contains(&relative),
                    "flip {n}: {relative} not named:\n{all}"
                );
                caught += 1;
            }
            fs::write(blob, original).unwrap();
            continue;
        }
        // A value of the index: its column family, key, and the name the
        // report must give.
        let (cf, key, names): (&str, Vec<u8>, Vec<String>) = match target {
            Target::Record => {
                let index = (turn as u64 * 7 + rng.gen_range(0..size)) % size;
                (
                    "records",
                    index.to_be_bytes().to_vec(),
                    vec![format!("[log] record {index}: ")],
                )
            }
            Target::InlineContent => {
                let key = inline[turn % inline.len()].clone();
                let name = format!("[contents] inline content {}", to_hex(&key));
                ("blobs", key, vec![name])
            }
            Target::Document => {
                let key = documents[rng.gen_range(0..documents.len())].clone();
                let name = format!("[documents] document {}", to_hex(&key));
                ("documents", key, vec![name])
            }
            Target::Checkpoint => {
                let key = checkpoints[rng.gen_range(0..checkpoints.len())].clone();
                let at = u64::from_be_bytes(key[..].try_into().unwrap());
                (
                    "checkpoints",
                    key,
                    vec![format!("[checkpoints] checkpoint {at}")],
                )
            }
            Target::TreeNode => {
                let top = 63 - size.leading_zeros();
                let level = rng.gen_range(0..=top);
                let index = rng.gen_range(0..size >> level);
                let mut key = vec![level as u8];
                key.extend_from_slice(&index.to_be_bytes());
                let names = if level == 0 {
                    vec![format!("[log] record {index}: ")]
                } else {
                    vec![format!("[tree] tree node (level {level}, index {index})")]
                };
                ("nodes", key, names)
            }
            Target::BlobFile => unreachable!(),
        };
        let original = ldb_get(&dir, cf, &key);
        let mut changed = original.clone();
        let at = rng.gen_range(0..changed.len());
        changed[at] ^= mask;
        ldb_put(&dir, cf, &key, &changed);
        let out = f.audit(&dir, &[]);
        let all = stdout_and_err(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "flip {n}: byte {at} ^ {mask:#04x} of {target:?} {} was not caught:\n{all}",
            to_hex(&key)
        );
        assert!(
            names.iter().any(|name| all.contains(name.as_str())),
            "flip {n} ({target:?}): none of {names:?} named in:\n{all}"
        );
        caught += 1;
        ldb_put(&dir, cf, &key, &original);
        if n % 50 == 49 {
            eprintln!(
                "torture: {} flips, {caught} caught, {harmless} harmless, {:.0?}",
                n + 1,
                started.elapsed()
            );
        }
    }
    // Every flip was undone: the directory passes again.
    let out = f.audit(&dir, &[]);
    assert!(out.status.success(), "{}", stdout_and_err(&out));
    eprintln!(
        "torture: {flips} flips, {caught} caught, {harmless} left the document intact, in {:.1?}",
        started.elapsed()
    );
}

/// Whether a flipped blob file still gives the document it held: a zstd
/// frame has bits its decoder ignores.
fn decodes_to_the_same(blob: &Path, original: &[u8]) -> bool {
    if blob.extension().is_none_or(|e| e != "zst") {
        return false;
    }
    let flipped = fs::read(blob).unwrap();
    match (
        zstd::stream::decode_all(original),
        zstd::stream::decode_all(&flipped[..]),
    ) {
        (Ok(before), Ok(after)) => before == after,
        _ => false,
    }
}

/// The long run: `scripts/torture tamper` (MINUTIER_TORTURE_FLIPS flips,
/// default 1000; MINUTIER_TORTURE_SEED).
#[test]
#[ignore = "long: run with scripts/torture tamper"]
fn tamper_torture() {
    let flips = std::env::var("MINUTIER_TORTURE_FLIPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let seed = std::env::var("MINUTIER_TORTURE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        });
    eprintln!("torture: {flips} flips, seed {seed} (MINUTIER_TORTURE_SEED={seed} repeats it)");
    let f = fixture();
    torture(&f, flips, seed);
}

/// The header of a replica, decrypted with the stock `age` tool.
fn replica_header(identity: &Path, ciphertext: &[u8], work: &Path) -> serde_json::Value {
    let plain = common::garage::age_decrypt(identity, ciphertext, work);
    let end = plain.iter().position(|b| *b == b'\n').unwrap();
    serde_json::from_slice(&plain[..end]).unwrap()
}

#[test]
fn audit_names_a_swapped_or_replaced_replica_in_the_bucket() {
    use common::garage::Garage;
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let garage = Garage::single(&w.join("garage"));
    let (escrow, recipient) = common::garage::escrow_key(w);
    let config = w.join("minutierd.toml");
    fs::write(
        &config,
        format!(
            "{}scrub_interval_hours = 0\n",
            garage.replication_toml(std::slice::from_ref(&recipient))
        ),
    )
    .unwrap();
    let data = w.join("data");
    let daemon = Daemon::start_with(&data, Some(&config));
    let big = ingest_doc(&daemon, w, "grand.bin", &noise(9, 100_000), &[]);
    let small = ingest_doc(&daemon, w, "petit.txt", b"Arrete du maire", &[]);
    common::garage::drained(&daemon, std::time::Duration::from_secs(60));
    daemon.stop();

    let audit = |identity: Option<&Path>| {
        let mut args = vec![
            "--data-dir",
            data.to_str().unwrap(),
            "audit",
            "--bucket-config",
            config.to_str().unwrap(),
        ];
        if let Some(i) = identity {
            args.extend(["--identity", i.to_str().unwrap()]);
        }
        cli(&args)
    };
    // Sound: with the escrow key, and with the box's own replica key.
    for identity in [Some(escrow.as_path()), None] {
        let out = audit(identity);
        let all = stdout_and_err(&out);
        assert!(out.status.success(), "{all}");
        assert!(all.contains("2 contents"), "{all}");
    }

    // Which object holds which document (headers read with the stock age).
    let contents: Vec<(String, String)> = garage
        .list_objects_prefix("objects/")
        .into_iter()
        .filter_map(|(name, _)| {
            let header = replica_header(&escrow, &garage.get_object(&name), w);
            (header["type"] == "content")
                .then(|| (name, header["sha256"].as_str().unwrap().to_owned()))
        })
        .collect();
    let name_of = |sha: &str| {
        contents
            .iter()
            .find(|(_, s)| s == sha)
            .map(|(n, _)| n.clone())
            .unwrap()
    };
    let (big_object, small_object) = (name_of(&big.sha256), name_of(&small.sha256));
    let small_bytes = garage.get_object(&small_object);

    // Swapped: the large document's replica under the small one's name.
    garage.put_object(&small_object, &garage.get_object(&big_object));
    let out = audit(Some(&escrow));
    let all = stdout_and_err(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    for needle in [
        &format!("[bucket] {small_object}: holds content {}", big.sha256),
        &big.id,
        &small.id,
        &"swapped".to_owned(),
    ] {
        assert!(all.contains(needle.as_str()), "{needle:?} missing:\n{all}");
    }

    // Replaced: a replica of other bytes under a header naming the small
    // document (made with the stock age tool, to the public recipient).
    let plain = w.join("forged.plain");
    fs::write(
        &plain,
        format!(
            "{{\"type\":\"content\",\"version\":1,\"sha256\":\"{}\"}}\nArrete falsifie",
            small.sha256
        ),
    )
    .unwrap();
    let forged = Command::new("age")
        .args(["-r", &recipient])
        .arg(&plain)
        .output()
        .unwrap();
    assert!(forged.status.success(), "{}", stdout_and_err(&forged));
    garage.put_object(&small_object, &forged.stdout);
    let out = audit(Some(&escrow));
    let all = stdout_and_err(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains(&format!(
            "[bucket] {small_object}: says it holds content {} (archive {}) but holds other bytes",
            small.sha256, small.id
        )),
        "{all}"
    );

    // Put back, the bucket is sound again.
    garage.put_object(&small_object, &small_bytes);
    let out = audit(Some(&escrow));
    assert!(out.status.success(), "{}", stdout_and_err(&out));
}
