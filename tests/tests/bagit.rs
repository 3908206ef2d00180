//! BagIt (RFC 8493) exports: `minutier export --bag` writes a bag that the
//! reference validator (PyPI `bagit`) accepts, `minutier verify-bag` checks
//! it offline down to the seals, and both notice tampering.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{cli, files_under, noise, ok, text, Daemon};

#[track_caller]
fn failed(out: Output, needle: &str) -> String {
    let all = text(&out);
    assert!(!out.status.success(), "expected a failure, got:\n{all}");
    assert!(all.contains(needle), "expected {needle:?} in:\n{all}");
    all
}

/// The workspace root (tests/ is one level below it).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The test suite's Python venv with `bagit.py`, created as
/// tests/python/run creates it when it is missing.
fn python_venv() -> PathBuf {
    let root = workspace();
    let venv = root.join("target/python-venv");
    let bagit = venv.join("bin/bagit.py");
    if !bagit.is_file() {
        if !venv.join("bin/pip").is_file() {
            let status = Command::new("python3")
                .arg("-m")
                .arg("venv")
                .arg(&venv)
                .status()
                .expect("run python3 -m venv (python3 is required for the BagIt test)");
            assert!(
                status.success(),
                "python3 -m venv {} failed",
                venv.display()
            );
        }
        let status = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(root.join("tests/python/requirements.txt"))
            .status()
            .expect("run pip");
        assert!(
            status.success(),
            "pip install -r tests/python/requirements.txt failed"
        );
    }
    assert!(
        bagit.is_file(),
        "{} is missing after installing tests/python/requirements.txt: \
         the reference BagIt validator is required for this test",
        bagit.display()
    );
    venv
}

fn bagit_validate(venv: &Path, bag: &Path) -> Output {
    Command::new(venv.join("bin/python"))
        .arg(venv.join("bin/bagit.py"))
        .arg("--validate")
        .arg(bag)
        .output()
        .expect("run bagit.py")
}

/// Rewrites the manifests of a bag with the reference implementation, so
/// that only Minutier's own checks can notice a change.
fn bagit_remanifest(venv: &Path, bag: &Path) {
    let out = Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(
            "import sys, bagit\n\
             b = bagit.Bag(sys.argv[1])\n\
             b.save(manifests=True)\n",
        )
        .arg(bag)
        .output()
        .expect("run python");
    ok(out);
}

fn ingest(daemon: &Daemon, path: &Path, extra: &[&str]) -> String {
    let mut args = vec!["ingest", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = daemon.cli_json(&args);
    out["documents"][0]["archive_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn flip_byte(path: &Path, at: usize) -> Vec<u8> {
    let original = fs::read(path).unwrap();
    let mut bytes = original.clone();
    bytes[at] ^= 0x01;
    fs::write(path, &bytes).unwrap();
    original
}

#[test]
fn an_export_is_a_valid_bag_that_verifies_offline_and_notices_tampering() {
    let venv = python_venv();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let daemon = Daemon::start(&w.join("data"));
    let key_file = w.join("trusted.key");
    fs::write(&key_file, &daemon.verifier_key).unwrap();

    let docs = w.join("docs");
    fs::create_dir_all(&docs).unwrap();
    let accented = docs.join("Procès verbal n°3.txt");
    fs::write(&accented, "Séance du conseil municipal\n").unwrap();
    let large = docs.join("large.bin");
    let large_content = noise(7, 2_000_000);
    fs::write(&large, &large_content).unwrap();
    let ruled = docs.join("deliberation.pdf");
    fs::write(&ruled, b"%PDF-1.4 delib").unwrap();

    let accented_id = ingest(&daemon, &accented, &["--agency", "MAIRIE-01"]);
    let large_id = ingest(&daemon, &large, &["--title", "Gros fichier"]);
    let ruled_id = ingest(
        &daemon,
        &ruled,
        &[
            "--title",
            "Délibération <budget> & \"annexes\"",
            "--description",
            "Budget primitif",
            "--agency",
            "MAIRIE-01",
            "--start-date",
            "2024-01-01",
            "--end-date",
            "2024-12-31",
            "--keyword",
            "budget",
            "--keyword",
            "finances",
            "--retention",
            "10",
            "--final-action",
            "destroy",
            "--access-delay",
            "25",
            "--access-rule",
            "AR038",
        ],
    );

    // Export.
    let bag = w.join("bag");
    let bag_s = bag.to_str().unwrap();
    let out = daemon.cli_json(&["export", "--bag", bag_s, &accented_id, &large_id, &ruled_id]);
    assert_eq!(out["bag"], bag_s);
    assert_eq!(out["archives"], 3);
    assert_eq!(out["files"], 3 * 4 + 3);
    let payload_bytes: u64 = files_under(&bag.join("data"))
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(out["bytes"], payload_bytes);

    // The layout, content byte for byte.
    let accented_copy = bag
        .join("data")
        .join(&accented_id)
        .join("content/Procès verbal n°3.txt");
    assert_eq!(
        fs::read(&accented_copy).unwrap(),
        fs::read(&accented).unwrap()
    );
    let large_copy = bag.join("data").join(&large_id).join("content/large.bin");
    assert_eq!(fs::read(&large_copy).unwrap(), large_content);
    for f in [
        "bagit.txt",
        "bag-info.txt",
        "manifest-sha256.txt",
        "manifest-sha512.txt",
        "tagmanifest-sha256.txt",
        "data/checkpoint.txt",
        "data/verifier.key",
        "data/README.txt",
    ] {
        assert!(bag.join(f).is_file(), "{f} missing");
    }
    assert_eq!(
        fs::read_to_string(bag.join("bagit.txt")).unwrap(),
        "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    );
    assert_eq!(
        fs::read_to_string(bag.join("data/verifier.key"))
            .unwrap()
            .trim(),
        daemon.verifier_key
    );
    let manifest = fs::read_to_string(bag.join("manifest-sha256.txt")).unwrap();
    assert!(
        manifest.contains(&format!(
            "  data/{accented_id}/content/Procès verbal n°3.txt\n"
        )),
        "{manifest}"
    );
    let info = fs::read_to_string(bag.join("bag-info.txt")).unwrap();
    assert!(info.contains("Source-Organization: MAIRIE-01\n"), "{info}");
    assert!(info.contains(&format!("Payload-Oxum: {payload_bytes}.15\n")));
    assert!(info.contains("Bag-Count: 1 of 1\n"));
    assert!(info.contains("Bag-Software-Agent: minutier "));
    assert!(info.contains("External-Description: Minutier"));
    assert!(info.contains(&ruled_id));
    let readme = fs::read_to_string(bag.join("data/README.txt")).unwrap();
    for needle in ["verify-bag", "tlog-proof", "signed-note", "Vérifier"] {
        assert!(readme.contains(needle), "{needle} not in README");
    }

    // metadata.json is what `show --json` gives.
    let shown = daemon.cli_json(&["show", &ruled_id]);
    let meta: serde_json::Value = serde_json::from_slice(
        &fs::read(bag.join("data").join(&ruled_id).join("metadata.json")).unwrap(),
    )
    .unwrap();
    for field in ["archive_id", "title", "content_sha256", "keywords", "rules"] {
        assert_eq!(meta[field], shown[field], "{field}");
    }

    // The SEDA description is well-formed XML in the SEDA 2.3 namespace.
    let seda = bag.join("data").join(&ruled_id).join("metadata-seda.xml");
    let out = Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(
            "import sys, xml.etree.ElementTree as ET\n\
             ns = '{fr:gouv:culture:archivesdefrance:seda:v2.3}'\n\
             root = ET.parse(sys.argv[1]).getroot()\n\
             assert root.tag == ns + 'ArchiveUnit', root.tag\n\
             c = root.find(ns + 'Content')\n\
             print(c.find(ns + 'Title').text)\n\
             print(','.join(k.find(ns + 'KeywordContent').text for k in c.findall(ns + 'Keyword')))\n\
             print(c.find(ns + 'OriginatingAgency').find(ns + 'Identifier').text)\n\
             m = root.find(ns + 'Management')\n\
             print(m.find(ns + 'AppraisalRule').find(ns + 'FinalAction').text)\n\
             print(m.find(ns + 'AccessRule').find(ns + 'Rule').text)\n\
             print(c.find(ns + 'StartDate').text, c.find(ns + 'EndDate').text)\n",
        )
        .arg(&seda)
        .output()
        .unwrap();
    let parsed = ok(out);
    assert!(
        parsed.starts_with(
            "Délibération <budget> & \"annexes\"\nbudget,finances\nMAIRIE-01\nDestroy\nAR038\n\
             2024-01-01 2024-12-31\n"
        ),
        "{parsed}"
    );

    // The reference validator accepts the bag; verify-bag too, with the
    // trusted key and with the bag's own (and then says so).
    ok(bagit_validate(&venv, &bag));
    let out = ok(cli(&[
        "verify-bag",
        bag_s,
        "--key",
        key_file.to_str().unwrap(),
    ]));
    assert!(out.contains("bag verifies: 3 archives, 15 files"), "{out}");
    assert!(!out.contains("warning"), "{out}");
    let out = ok(cli(&["verify-bag", bag_s]));
    assert!(out.contains("bag verifies: 3 archives, 15 files"), "{out}");
    assert!(out.contains("warning: no --key given"), "{out}");
    let report = cli(&["--json", "verify-bag", bag_s, "--key", &daemon.verifier_key]);
    assert!(report.status.success());
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["key_source"], "argument");
    assert_eq!(report["archives"].as_array().unwrap().len(), 3);

    // Another log's key is not this bag's.
    let other = Daemon::start(&w.join("other"));
    failed(
        cli(&["verify-bag", bag_s, "--key", &other.verifier_key]),
        "data/checkpoint.txt",
    );
    other.stop();

    // One byte of a content file changed: both validators notice, and
    // verify-bag names the file.
    let original = flip_byte(&large_copy, 1_000_000);
    failed(bagit_validate(&venv, &bag), "large.bin");
    let out = failed(
        cli(&["verify-bag", bag_s, "--key", key_file.to_str().unwrap()]),
        &format!("data/{large_id}/content/large.bin"),
    );
    assert!(out.contains("sha256 mismatch"), "{out}");
    // Even with the manifests rewritten to match, the seal does not.
    let pristine = w.join("pristine");
    copy_tree(&bag, &pristine);
    bagit_remanifest(&venv, &bag);
    ok(bagit_validate(&venv, &bag));
    let out = failed(
        cli(&["verify-bag", bag_s, "--key", key_file.to_str().unwrap()]),
        &format!("data/{large_id}/content/large.bin"),
    );
    assert!(out.contains("does not match its seal"), "{out}");
    fs::remove_dir_all(&bag).unwrap();
    fs::rename(&pristine, &bag).unwrap();
    fs::write(&large_copy, &original).unwrap();
    ok(bagit_validate(&venv, &bag));
    ok(cli(&[
        "verify-bag",
        bag_s,
        "--key",
        key_file.to_str().unwrap(),
    ]));

    // A seal altered: verify-bag names it, through the manifests and, once
    // they are rewritten, through the seal's own verification.
    let seal = bag.join("data").join(&ruled_id).join("seal.tlog-proof");
    let seal_text = fs::read_to_string(&seal).unwrap();
    let index_line = seal_text
        .lines()
        .find(|l| l.starts_with("index "))
        .unwrap()
        .to_owned();
    let index: u64 = index_line["index ".len()..].parse().unwrap();
    let altered = seal_text.replacen(&index_line, &format!("index {}", index ^ 1), 1);
    fs::write(&seal, &altered).unwrap();
    let seal_rel = format!("data/{ruled_id}/seal.tlog-proof");
    failed(
        cli(&["verify-bag", bag_s, "--key", key_file.to_str().unwrap()]),
        &seal_rel,
    );
    bagit_remanifest(&venv, &bag);
    ok(bagit_validate(&venv, &bag));
    let out = failed(
        cli(&["verify-bag", bag_s, "--key", key_file.to_str().unwrap()]),
        &seal_rel,
    );
    assert!(out.contains("the seal does not verify"), "{out}");

    // An existing directory is refused, and left as it was.
    let before = files_under(&bag);
    failed(
        daemon.cli(&["export", "--bag", bag_s, &accented_id]),
        "already exists",
    );
    assert_eq!(files_under(&bag), before);
    let empty = w.join("empty");
    fs::create_dir(&empty).unwrap();
    failed(
        daemon.cli(&["export", "--bag", empty.to_str().unwrap(), &accented_id]),
        "already exists",
    );

    // An unknown archive fails the export and leaves nothing behind.
    let missing = w.join("missing-bag");
    failed(
        daemon.cli(&[
            "export",
            "--bag",
            missing.to_str().unwrap(),
            &accented_id,
            "no-such-archive",
        ]),
        "NOT_FOUND",
    );
    assert!(!missing.exists());

    daemon.stop();
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &dest);
        } else {
            fs::copy(&path, &dest).unwrap();
        }
    }
}
