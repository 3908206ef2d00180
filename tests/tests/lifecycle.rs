//! The archival lifecycle end to end, through the CLI: retention, holds,
//! a lawful elimination with its certificate, communicability, the access
//! journal, and an archive's history (which notices a record taken out of
//! its chain).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{cli, files_under, noise, ok, text, Daemon};
use serde_json::Value;

/// The command failed (exit 1) and said `needle`.
#[track_caller]
fn refused(out: Output, needle: &str) -> String {
    let all = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected a refusal, got:\n{all}"
    );
    assert!(all.contains(needle), "expected {needle:?} in:\n{all}");
    all
}

struct Doc {
    id: String,
    path: PathBuf,
    seal: PathBuf,
    sha256: String,
}

/// Ingests one file as the test archivist, with extra flags.
fn ingest(daemon: &Daemon, work: &Path, name: &str, content: &[u8], extra: &[&str]) -> Doc {
    let dir = work.join("docs").join(name);
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.bin"));
    fs::write(&path, content).unwrap();
    let seals = work.join("seals").join(name);
    let mut args = vec![
        "ingest",
        path.to_str().unwrap(),
        "--title",
        name,
        "--seal-dir",
        seals.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = daemon.cli_json(&args);
    let doc = &out["documents"][0];
    Doc {
        id: doc["archive_id"].as_str().unwrap().to_owned(),
        path,
        seal: PathBuf::from(doc["seal_file"].as_str().unwrap()),
        sha256: doc["content_sha256"].as_str().unwrap().to_owned(),
    }
}

const ENDED: &[&str] = &[
    "--retention",
    "5",
    "--final-action",
    "destroy",
    "--retention-start",
    "2000-01-01",
];

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["archive_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_full_elimination_cycle_is_lawful_certified_and_keeps_the_log_verifiable() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let daemon = Daemon::start(&w.join("data"));
    let controller = w.join("controller.pem");
    daemon.issue("Claire Contrôle", "controller", None, &controller);
    // The archivist's own name on a controller credential: still one person.
    let same_person = w.join("same-person.pem");
    daemon.issue("Test Archivist", "controller", None, &same_person);
    let admin = daemon.data_dir.join("credentials/admin.pem");
    let key_file = w.join("verifier.key");
    fs::write(&key_file, &daemon.verifier_key).unwrap();

    // A large document (a blob file) and a small one (kept in the index),
    // both at the end of a five-year retention; a second copy of the small
    // one's content in a definitive archive; a definitive archive; one
    // still in its retention period; one that will be put on hold.
    let large = ingest(&daemon, w, "large", &noise(1, 300_000), ENDED);
    let small = ingest(&daemon, w, "small", b"Bordereau de 2000", ENDED);
    let keep_rules = [
        "--retention",
        "5",
        "--final-action",
        "keep",
        "--retention-start",
        "2000-01-01",
    ];
    let copy = ingest(&daemon, w, "copy", b"Bordereau de 2000", &keep_rules);
    let definitive = ingest(
        &daemon,
        w,
        "definitive",
        b"Registre d'etat civil",
        &keep_rules,
    );
    let young = ingest(
        &daemon,
        w,
        "young",
        b"Facture 2025",
        &[
            "--retention",
            "10",
            "--final-action",
            "destroy",
            "--retention-start",
            "2025-01-01",
        ],
    );
    let held = ingest(&daemon, w, "held", b"Marche public", ENDED);
    let early_checkpoint = w.join("early-checkpoint");
    ok(daemon.cli(&["checkpoint", "-o", early_checkpoint.to_str().unwrap()]));

    // Retention: what is due, split by final action.
    let due = daemon.cli_json(&["retention", "due"]);
    let destroy = ids_of(&due["destroy"]);
    let keep = ids_of(&due["keep"]);
    for d in [&large, &small, &held] {
        assert!(
            destroy.contains(&d.id),
            "{} not due for destruction: {due}",
            d.id
        );
    }
    for d in [&copy, &definitive] {
        assert!(keep.contains(&d.id), "{} not due (keep): {due}", d.id);
    }
    assert!(!destroy.contains(&young.id) && !keep.contains(&young.id));
    let before_2000 = daemon.cli_json(&["retention", "due", "--before", "2004-12-31"]);
    assert!(ids_of(&before_2000["destroy"]).is_empty(), "{before_2000}");

    // A hold.
    ok(daemon.cli(&[
        "hold",
        "place",
        &held.id,
        "--reason",
        "Contentieux en cours",
    ]));

    // Each unlawful proposal is refused, with its reason.
    let propose = |ids: &[&str]| {
        let mut args = vec!["elimination", "propose", "--reason", "Fin de DUA"];
        args.extend_from_slice(ids);
        daemon.cli(&args)
    };
    refused(propose(&[&definitive.id]), "definitive archive");
    refused(propose(&[&young.id]), "runs until 2035-01-01");
    refused(propose(&[&held.id]), "under hold");
    // Not even the administrator can touch a definitive archive.
    refused(
        daemon.cli_as(
            &admin,
            &[
                "rules",
                &definitive.id,
                "--retention",
                "1",
                "--final-action",
                "destroy",
            ],
        ),
        "may not",
    );
    refused(
        daemon.cli(&[
            "rules",
            &definitive.id,
            "--retention",
            "1",
            "--final-action",
            "destroy",
        ]),
        "never be changed",
    );

    // The lawful proposal.
    let proposal = daemon.cli_json(&[
        "elimination",
        "propose",
        "--reason",
        "Fin de DUA",
        &large.id,
        &small.id,
    ]);
    let eid = proposal["elimination_id"].as_str().unwrap().to_owned();
    assert_eq!(proposal["state"], "proposed");
    refused(
        daemon.cli(&["elimination", "execute", &eid]),
        "only proposed",
    );
    // The proposer cannot approve, even with a controller credential; an
    // archivist cannot approve at all.
    refused(
        daemon.cli_as(&same_person, &["elimination", "approve", &eid]),
        "cannot also approve",
    );
    refused(daemon.cli(&["elimination", "approve", &eid]), "may not");
    let approved = serde_json::from_str::<Value>(&ok(daemon.cli_as(
        &controller,
        &[
            "--json",
            "elimination",
            "approve",
            &eid,
            "--reason",
            "Visa n°12",
        ],
    )))
    .unwrap();
    assert_eq!(approved["state"], "approved");

    // Execution, and its certificate.
    let certificate = w.join("elimination.cert");
    let executed = daemon.cli_json(&[
        "elimination",
        "execute",
        &eid,
        "--certificate",
        certificate.to_str().unwrap(),
    ]);
    assert_eq!(executed["state"], "executed");
    let rendering = fs::read_to_string(w.join("elimination.cert.txt")).unwrap();
    assert!(
        rendering.contains(&large.id) && rendering.contains(&small.id),
        "{rendering}"
    );
    assert!(rendering.contains("Claire Contrôle"), "{rendering}");
    let verified = ok(cli(&[
        "elimination",
        "verify",
        certificate.to_str().unwrap(),
        "--key",
        key_file.to_str().unwrap(),
    ]));
    assert!(verified.contains("certificate verifies"), "{verified}");
    for needle in [&large.id, &small.id, &large.sha256, &small.sha256] {
        assert!(
            verified.contains(needle.as_str()),
            "{needle} missing from:\n{verified}"
        );
    }
    // A forged certificate fails.
    let forged = w.join("forged.cert");
    fs::write(
        &forged,
        fs::read_to_string(&certificate)
            .unwrap()
            .replace("Fin de DUA", "Fin de DUB"),
    )
    .unwrap();
    refused(
        cli(&[
            "elimination",
            "verify",
            forged.to_str().unwrap(),
            "--key",
            key_file.to_str().unwrap(),
        ]),
        "signature",
    );

    // The content is gone; the tombstone and its history remain.
    let out = w.join("out.bin");
    refused(
        daemon.cli(&["get", &large.id, "-o", out.to_str().unwrap()]),
        "destroyed",
    );
    assert!(!out.exists());
    let blobs: Vec<_> = files_under(&daemon.data_dir.join("blobs"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&large.sha256))
        .collect();
    assert!(
        blobs.is_empty(),
        "the eliminated content is still on disk: {blobs:?}"
    );
    let shown = daemon.cli_json(&["show", &large.id]);
    assert_eq!(shown["state"], "eliminated", "{shown}");
    let history = daemon.cli_json(&["history", &small.id, "--key", key_file.to_str().unwrap()]);
    assert_eq!(history["verified"], true, "{history}");
    let kinds: Vec<&str> = history["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        &kinds[..4],
        [
            "ingest",
            "elimination-proposed",
            "elimination-approved",
            "elimination-executed"
        ],
        "{history}"
    );
    // The same content, held by a definitive archive, is still there.
    let copy_out = w.join("copy.bin");
    ok(daemon.cli(&["get", &copy.id, "-o", copy_out.to_str().unwrap()]));
    assert_eq!(fs::read(&copy_out).unwrap(), b"Bordereau de 2000");

    // Every seal still verifies offline, the eliminated documents' too (the
    // log was not rewritten), and the log extends the early checkpoint.
    for d in [&large, &small, &copy, &definitive, &young, &held] {
        ok(cli(&[
            "verify",
            d.path.to_str().unwrap(),
            "--seal",
            d.seal.to_str().unwrap(),
            "--key",
            key_file.to_str().unwrap(),
        ]));
    }
    ok(daemon.cli(&[
        "consistency",
        "--old",
        early_checkpoint.to_str().unwrap(),
        "--key",
        key_file.to_str().unwrap(),
    ]));

    // A second execution, or eliminating again, is refused.
    refused(
        daemon.cli(&["elimination", "execute", &eid]),
        "already executed",
    );
    refused(propose(&[&small.id]), "already eliminated");
}

#[test]
fn a_refused_elimination_frees_its_archives_and_a_hold_can_be_lifted() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let daemon = Daemon::start(&w.join("data"));
    let controller = w.join("controller.pem");
    daemon.issue("Claire Contrôle", "controller", None, &controller);
    let doc = ingest(&daemon, w, "doc", b"Courrier", ENDED);

    let proposal = daemon.cli_json(&["elimination", "propose", "--reason", "Fin de DUA", &doc.id]);
    let eid = proposal["elimination_id"].as_str().unwrap().to_owned();
    refused(
        daemon.cli_as(&controller, &["elimination", "refuse", &eid]),
        "reason",
    );
    ok(daemon.cli_as(
        &controller,
        &[
            "elimination",
            "refuse",
            &eid,
            "--reason",
            "Interet historique",
        ],
    ));
    refused(daemon.cli(&["elimination", "execute", &eid]), "refused");

    // A hold blocks a new proposal until lifted.
    let placed = daemon.cli_json(&["hold", "place", &doc.id, "--reason", "Enquete"]);
    let hold_id = placed["hold_id"].as_str().unwrap().to_owned();
    refused(
        daemon.cli(&["elimination", "propose", "--reason", "Fin de DUA", &doc.id]),
        &hold_id,
    );
    ok(daemon.cli(&["hold", "lift", &doc.id, &hold_id]));
    let again = daemon.cli_json(&["elimination", "propose", "--reason", "Fin de DUA", &doc.id]);
    assert_eq!(again["state"], "proposed");
    let listed = daemon.cli_json(&["elimination", "list"]);
    assert_eq!(
        listed["eliminations"].as_array().unwrap().len(),
        2,
        "{listed}"
    );
}

#[test]
fn reads_are_journaled_and_content_waits_for_its_communicability() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let daemon = Daemon::start(&w.join("data"));
    let auditor = w.join("auditor.pem");
    daemon.issue("Paul Auditeur", "auditor", None, &auditor);
    let controller = w.join("controller.pem");
    daemon.issue("Claire Contrôle", "controller", None, &controller);

    let restricted = ingest(
        &daemon,
        w,
        "restricted",
        b"Dossier de personnel",
        &[
            "--access-delay",
            "50",
            "--access-start",
            "2000-01-01",
            "--access-rule",
            "AR038",
        ],
    );
    let free = ingest(&daemon, w, "free", b"Deliberation publique", &[]);

    // Metadata is readable; content waits until 2050 for an auditor.
    let out = w.join("restricted.bin");
    refused(
        daemon.cli_as(
            &auditor,
            &["get", &restricted.id, "-o", out.to_str().unwrap()],
        ),
        "not communicable before 2050-01-01",
    );
    assert!(!out.exists());
    ok(daemon.cli_as(&auditor, &["show", &restricted.id]));
    let free_out = w.join("free.bin");
    ok(daemon.cli_as(
        &auditor,
        &["get", &free.id, "-o", free_out.to_str().unwrap()],
    ));
    // An archivist may read it now.
    ok(daemon.cli(&["get", &restricted.id, "-o", out.to_str().unwrap()]));
    assert_eq!(fs::read(&out).unwrap(), b"Dossier de personnel");

    // The journal lists exactly the auditor's reads: not the refused one.
    let journal = serde_json::from_str::<Value>(&ok(daemon.cli_as(
        &controller,
        &["--json", "journal", "--actor", "Paul Auditeur"],
    )))
    .unwrap();
    let reads: Vec<(String, String)> = journal["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(
                e["actor"]
                    .as_str()
                    .unwrap()
                    .starts_with("Paul Auditeur [auditor "),
                "{e}"
            );
            (
                e["archive_id"].as_str().unwrap().to_owned(),
                e["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        reads.contains(&(restricted.id.clone(), "read-metadata".into())),
        "{journal}"
    );
    assert!(
        reads.contains(&(free.id.clone(), "read-content".into())),
        "{journal}"
    );
    assert!(
        !reads.contains(&(restricted.id.clone(), "read-content".into())),
        "a refused read was journaled: {journal}"
    );
    // The archivist's read is there too, under their name.
    let all = serde_json::from_str::<Value>(&ok(daemon.cli_as(
        &auditor,
        &["--json", "journal", "--archive", &restricted.id],
    )))
    .unwrap();
    assert!(
        all["entries"].as_array().unwrap().iter().any(|e| {
            e["kind"] == "read-content"
                && e["actor"].as_str().unwrap().starts_with("Test Archivist")
        }),
        "{all}"
    );
    // Archivists manage archives; they do not read the journal.
    refused(daemon.cli(&["journal"]), "may not");

    // Reads are part of each archive's verified chain.
    let history = daemon.cli_json(&["history", &free.id]);
    assert_eq!(history["verified"], true, "{history}");
    assert!(
        history["records"].as_array().unwrap().iter().any(|r| {
            r["kind"] == "read-content" && r["actor"].as_str().unwrap().starts_with("Paul Auditeur")
        }),
        "{history}"
    );
}

#[test]
fn corrections_are_chained_and_history_detects_a_removed_record() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let data = w.join("data");
    let daemon = Daemon::start(&data);
    let key_file = w.join("verifier.key");
    fs::write(&key_file, &daemon.verifier_key).unwrap();
    let doc = ingest(&daemon, w, "deliberation", b"Deliberation 2026-14", &[]);

    let corrected = daemon.cli_json(&["correct", &doc.id, "--title", "Délibération 2026-14"]);
    let correction_index = corrected["log_index"].as_u64().unwrap();
    refused(
        daemon.cli(&["correct", &doc.id, "--title", "Délibération 2026-14"]),
        "same",
    );
    ok(daemon.cli(&[
        "rules",
        &doc.id,
        "--retention",
        "10",
        "--final-action",
        "destroy",
    ]));
    let placed = daemon.cli_json(&["hold", "place", &doc.id, "--reason", "Recours gracieux"]);
    let hold_id = placed["hold_id"].as_str().unwrap().to_owned();
    ok(daemon.cli(&["hold", "lift", &doc.id, &hold_id]));

    let shown = daemon.cli_json(&["show", &doc.id]);
    assert_eq!(shown["title"], "Délibération 2026-14", "{shown}");

    let history = ok(daemon.cli(&["history", &doc.id, "--key", key_file.to_str().unwrap()]));
    assert!(history.contains("verifies"), "{history}");
    assert!(history.contains("Délibération 2026-14"), "{history}");
    let json = daemon.cli_json(&["history", &doc.id, "--key", key_file.to_str().unwrap()]);
    // `correct` and `rules` read the current metadata first: those reads
    // are in the chain too.
    let kinds: Vec<&str> = json["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .filter(|k| !k.starts_with("read-"))
        .collect();
    assert_eq!(
        kinds,
        [
            "ingest",
            "metadata-correction",
            "rules-change",
            "hold-placed",
            "hold-lifted"
        ],
        "{json}"
    );

    // Someone with access to the box removes the correction from the
    // archive's chain in the index, with RocksDB's own tool.
    daemon.stop();
    let mut key = hex(doc.id.as_bytes());
    key.push_str("00");
    key.push_str(&format!("{correction_index:016x}"));
    ldb(
        &data.join("index"),
        &[
            "--column_family=history",
            "delete",
            "--key_hex",
            &format!("0x{key}"),
        ],
    );
    let daemon = Daemon::start(&data);
    let out = refused(
        daemon.cli(&["history", &doc.id, "--key", key_file.to_str().unwrap()]),
        "does NOT verify",
    );
    assert!(
        out.contains(&format!("index {}", correction_index + 1)) && out.contains("missing"),
        "the broken link is named: {out}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RocksDB's `ldb` (Debian package rocksdb-tools, installed by
/// scripts/setup test).
fn ldb(db: &Path, args: &[&str]) {
    let out = Command::new("ldb")
        .arg(format!("--db={}", db.display()))
        .args(args)
        .output()
        .expect("ldb (from rocksdb-tools) must be installed: run scripts/setup test");
    assert!(out.status.success(), "ldb failed: {}", text(&out));
}
