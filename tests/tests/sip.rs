//! SEDA transfers end to end: every sample package of the French state's
//! test data gives the outcome its README states, through `minutier
//! import-sip`; accepted ones are archived and sealed whole (contents
//! byte-exact, seals verified offline), refused ones store nothing; replies
//! validate against the SEDA 2.3 schema with xmllint.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{files_under, text, Daemon};
use sha2::{Digest, Sha256};

fn seda_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("sip/tests/seda")
}

fn packages(kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(seda_dir().join("sips").join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "zip"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no sample packages in sips/{kind}");
    v
}

/// Files of a zip, by name.
fn zip_files(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        if f.is_dir() {
            continue;
        }
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.push((f.name().to_owned(), data));
    }
    out
}

fn write_zip(path: &Path, entries: &[(String, Vec<u8>)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        z.start_file(name.as_str(), opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

fn import(daemon: &Daemon, package: &Path, work: &Path) -> (Output, Option<serde_json::Value>) {
    let reply = work.join("reply.xml");
    let seals = work.join("seals");
    let _ = std::fs::remove_dir_all(&seals);
    let out = daemon.cli(&[
        "--json",
        "import-sip",
        package.to_str().unwrap(),
        "--reply",
        reply.to_str().unwrap(),
        "--seal-dir",
        seals.to_str().unwrap(),
    ]);
    let json = serde_json::from_slice(&out.stdout).ok();
    (out, json)
}

fn log_size(daemon: &Daemon) -> u64 {
    daemon.cli_json(&["checkpoint"])["size"]
        .as_u64()
        .expect("checkpoint size")
}

/// Blob files on disk (not counting temporary ones, in `blobs/tmp/`).
fn blob_files(data: &Path) -> BTreeSet<PathBuf> {
    let blobs = data.join("blobs");
    files_under(&blobs)
        .into_iter()
        .filter(|p| !p.strip_prefix(&blobs).unwrap().starts_with("tmp"))
        .collect()
}

fn sha_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[track_caller]
fn xmllint_valid(xml: &Path) {
    let schema = seda_dir().join("schema/seda-2.3-main.xsd");
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(&schema)
        .arg(xml)
        .output()
        .expect("run xmllint (Debian libxml2-utils, installed by scripts/setup test)");
    assert!(
        out.status.success(),
        "xmllint refuses {}:\n{}\n{}",
        xml.display(),
        text(&out),
        std::fs::read_to_string(xml).unwrap_or_default()
    );
}

#[test]
fn every_sample_package_gives_its_stated_outcome() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let daemon = Daemon::start(&data);
    let key = daemon.cli_json(&["key"])["verifier_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();

    for package in packages("ok") {
        let name = package.file_name().unwrap().to_string_lossy().into_owned();
        let before = log_size(&daemon);
        let (out, json) = import(&daemon, &package, &work);
        assert!(
            out.status.success(),
            "{name} must be accepted:\n{}",
            text(&out)
        );
        let o = json.unwrap_or_else(|| panic!("{name}: no JSON:\n{}", text(&out)));
        assert_eq!(o["accepted"], true, "{name}: {o}");
        assert_eq!(o["code"], "OK");
        let reply = std::fs::read_to_string(work.join("reply.xml")).unwrap();
        assert!(
            reply.contains("<ReplyCode>OK</ReplyCode>"),
            "{name}: {reply}"
        );
        let archives = o["archives"].as_array().unwrap();
        // The manifest, then every document and object-less unit, all in
        // one batch of records.
        assert_eq!(
            archives[0]["unit_id"], "",
            "{name}: the manifest comes first"
        );
        assert_eq!(
            log_size(&daemon),
            before + archives.len() as u64,
            "{name}: one record per archive"
        );
        let files = zip_files(&package);
        let manifest = files
            .iter()
            .find(|(n, _)| n.ends_with("manifest.xml"))
            .map(|(_, d)| d.clone())
            .expect("a manifest in the sample");
        let declared_objects = files
            .iter()
            .filter(|(n, _)| !n.ends_with("manifest.xml"))
            .count();
        let with_object = archives.iter().filter(|a| a["object_id"] != "").count();
        assert_eq!(
            with_object, declared_objects,
            "{name}: one archive per file"
        );
        for a in archives {
            let id = a["archive_id"].as_str().unwrap();
            // Every unit is in the reply, under the id it now has.
            if a["unit_id"] != "" {
                assert!(reply.contains(id), "{name}: {id} missing from the reply");
            }
            let got = work.join("content");
            let out = daemon.cli(&["get", id, "-o", got.to_str().unwrap()]);
            assert!(out.status.success(), "{name}: get {id}: {}", text(&out));
            let content = std::fs::read(&got).unwrap();
            assert_eq!(sha_hex(&content), a["content_sha256"].as_str().unwrap());
            if a["object_id"] == "" {
                assert_eq!(content, manifest, "{name}: {id} holds the manifest");
            } else {
                assert!(
                    files.iter().any(|(_, d)| *d == content),
                    "{name}: {id}'s content is not a file of the package"
                );
            }
            let seal = work.join("seals").join(format!("{id}.seal"));
            let out = daemon.cli(&[
                "verify",
                got.to_str().unwrap(),
                "--seal",
                seal.to_str().unwrap(),
                "--key",
                &key,
            ]);
            assert!(out.status.success(), "{name}: seal of {id}: {}", text(&out));
            let shown = daemon.cli_json(&["show", id]);
            let link = &shown["transfer"];
            assert_eq!(
                link["message_identifier"], o["message_identifier"],
                "{shown}"
            );
            if a["unit_id"] != "" {
                assert_eq!(link["manifest_archive_id"], archives[0]["archive_id"]);
            }
        }

        // SEDA holds become holds that block eliminations.
        if name.starts_with("SIP_OK_HoldRules") {
            let held = archives.iter().any(|a| {
                let shown = daemon.cli_json(&["show", a["archive_id"].as_str().unwrap()]);
                shown["rules"]["holds"]
                    .as_array()
                    .is_some_and(|h| !h.is_empty())
            });
            assert!(held, "{name}: its HoldRules were not kept");
        }

        // Sent again: the stored outcome, nothing new.
        let size = log_size(&daemon);
        let (out, json) = import(&daemon, &package, &work);
        assert!(out.status.success(), "{name} again: {}", text(&out));
        assert_eq!(json.unwrap()["replayed"], true);
        assert_eq!(log_size(&daemon), size, "{name}: a replay stores nothing");
    }

    for package in packages("ko") {
        let name = package.file_name().unwrap().to_string_lossy().into_owned();
        let size = log_size(&daemon);
        let blobs = blob_files(&data);
        let (out, json) = import(&daemon, &package, &work);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name} must be refused:\n{}",
            text(&out)
        );
        let o = json.unwrap_or_else(|| panic!("{name}: no JSON:\n{}", text(&out)));
        assert_eq!(o["accepted"], false);
        assert_ne!(o["code"], "OK");
        assert!(!o["message"].as_str().unwrap().is_empty());
        let reply = std::fs::read_to_string(work.join("reply.xml")).unwrap();
        assert!(
            reply.contains("<ReplyCode>KO</ReplyCode>"),
            "{name}: {reply}"
        );
        assert_eq!(log_size(&daemon), size, "{name}: nothing recorded");
        assert_eq!(blob_files(&data), blobs, "{name}: no file left behind");
        // The human rendering says why, on one line with the code.
        let out = daemon.cli(&["import-sip", package.to_str().unwrap()]);
        let all = text(&out);
        assert!(
            all.contains("REFUSED") && all.contains(o["code"].as_str().unwrap()),
            "{all}"
        );
    }
    daemon.stop();
}

/// A sample turned into SEDA 2.3 (its namespace changed), accepted, and a
/// corrupted copy refused: both replies validate against the 2.3 schema.
#[test]
fn replies_validate_against_the_seda_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&tmp.path().join("data"));
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let sample = seda_dir().join("sips/ok/OK_SIP_2_GO.zip");
    let to_2_3 = |entries: Vec<(String, Vec<u8>)>| -> Vec<(String, Vec<u8>)> {
        entries
            .into_iter()
            .map(|(n, d)| {
                if n.ends_with("manifest.xml") {
                    let x = String::from_utf8(d).unwrap().replace(
                        "fr:gouv:culture:archivesdefrance:seda:v2.1",
                        "fr:gouv:culture:archivesdefrance:seda:v2.3",
                    );
                    (n, x.into_bytes())
                } else {
                    (n, d)
                }
            })
            .collect()
    };
    let ok = work.join("ok-2.3.zip");
    write_zip(&ok, &to_2_3(zip_files(&sample)));
    let (out, json) = import(&daemon, &ok, &work);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(json.unwrap()["seda_version"], "2.3");
    xmllint_valid(&work.join("reply.xml"));

    // The same files as a tar.gz made by GNU tar, under another message
    // identifier (else it would be answered as a replay).
    let tree = work.join("tree");
    for (name, data) in to_2_3(zip_files(&sample)) {
        let data = if name.ends_with("manifest.xml") {
            String::from_utf8(data)
                .unwrap()
                .replacen("<MessageIdentifier>", "<MessageIdentifier>TGZ-", 1)
                .into_bytes()
        } else {
            data
        };
        let path = tree.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    let tgz = work.join("ok-2.3.tar.gz");
    let out = Command::new("tar")
        .arg("czf")
        .arg(&tgz)
        .arg("-C")
        .arg(&tree)
        .arg(".")
        .output()
        .expect("run tar");
    assert!(out.status.success(), "{}", text(&out));
    let (out, json) = import(&daemon, &tgz, &work);
    assert!(out.status.success(), "tar.gz: {}", text(&out));
    let o = json.unwrap();
    assert_eq!(o["replayed"], false);
    assert!(o["message_identifier"]
        .as_str()
        .unwrap()
        .starts_with("TGZ-"));
    xmllint_valid(&work.join("reply.xml"));

    // One byte of one file changed: BAD_DIGEST, KO reply, valid too.
    let mut entries = to_2_3(zip_files(&sample));
    let victim = entries
        .iter_mut()
        .find(|(n, _)| !n.ends_with("manifest.xml"))
        .unwrap();
    victim.1[0] ^= 1;
    let bad = work.join("bad-2.3.zip");
    write_zip(&bad, &entries);
    // A different MessageIdentifier is not needed: a refused transfer never
    // replaces an accepted one's outcome, and this one is refused first.
    let (out, json) = import(&daemon, &bad, &work);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let o = json.unwrap();
    assert_eq!(o["code"], "BAD_DIGEST", "{o}");
    xmllint_valid(&work.join("reply.xml"));
    daemon.stop();
}

/// Hostile packages: a path escaping the package, an entity bomb in the
/// manifest, an archive bomb, an empty upload. Each is refused, precisely,
/// with nothing stored, and the daemon keeps serving.
#[test]
fn hostile_packages_are_refused_and_store_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let daemon = Daemon::start(&data);
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let size = log_size(&daemon);
    let blobs = blob_files(&data);
    let sample = zip_files(&seda_dir().join("sips/ok/OK_SIP_2_GO.zip"));

    let escaping = work.join("escaping.zip");
    let mut entries = sample.clone();
    entries.push(("../../etc/evil".into(), b"x".to_vec()));
    write_zip(&escaping, &entries);

    let entity = work.join("entity.zip");
    let mut entries = sample.clone();
    for (n, d) in entries.iter_mut() {
        if n.ends_with("manifest.xml") {
            let x = String::from_utf8(d.clone()).unwrap().replacen(
                "<ArchiveTransfer",
                "<!DOCTYPE ArchiveTransfer [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>\n<ArchiveTransfer",
                1,
            );
            *d = x.into_bytes();
        }
    }
    write_zip(&entity, &entries);

    let bomb = work.join("bomb.zip");
    let mut entries = sample.clone();
    entries.push(("zeros.bin".into(), vec![0u8; 64 << 20]));
    write_zip(&bomb, &entries);

    for (package, code) in [
        (&escaping, "UNSAFE_PATH"),
        (&entity, "FORBIDDEN_DTD"),
        (&bomb, "ARCHIVE_BOMB"),
    ] {
        let (out, json) = import(&daemon, package, &work);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let o = json.unwrap();
        assert_eq!(o["code"], code, "{}: {o}", package.display());
    }
    let empty = work.join("empty.zip");
    std::fs::write(&empty, b"").unwrap();
    let out = daemon.cli(&["import-sip", empty.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("empty"), "{}", text(&out));

    // A document management system deposits for its own agency only.
    let dms = tmp.path().join("dms.pem");
    daemon.issue("GED Autre Service", "dms", Some("AUTRE-SERVICE"), &dms);
    let good = seda_dir().join("sips/ok/OK_SIP_2_GO.zip");
    let out = daemon.cli_as(&dms, &["import-sip", good.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("its own agency AUTRE-SERVICE"),
        "{}",
        text(&out)
    );

    assert_eq!(log_size(&daemon), size, "nothing recorded");
    assert_eq!(blob_files(&data), blobs, "no file left behind");
    assert!(
        files_under(&data.join("blobs/tmp")).is_empty(),
        "no spool file left behind"
    );
    // Still serving: a good package goes in.
    let (out, _) = import(&daemon, &seda_dir().join("sips/ok/OK_SIP_2_GO.zip"), &work);
    assert!(out.status.success(), "{}", text(&out));
    daemon.stop();
}

/// A SEDA 2.3 package of `n` files of 100 KiB (stored as blob files, not
/// inline), SHA-512 digests, each file under its own unit; the last file's
/// declared digest is wrong when `bad_last`.
fn many_files_package(path: &Path, message_id: &str, n: usize, bad_last: bool) {
    use sha2::Sha512;
    let mut objects = String::new();
    let mut units = String::new();
    let mut entries = Vec::new();
    for i in 0..n {
        let data: Vec<u8> = (0..100 * 1024u32)
            .map(|k| (k.wrapping_mul(2_654_435_761) >> 13) as u8 ^ i as u8)
            .collect();
        let mut declared = hex::encode(Sha512::digest(&data));
        if bad_last && i == n - 1 {
            declared = hex::encode(Sha512::digest(b"another content"));
        }
        objects.push_str(&format!(
            "<BinaryDataObject id=\"O{i}\"><DataObjectGroupId>G{i}</DataObjectGroupId>\
             <Uri>content/f{i:03}.bin</Uri><MessageDigest algorithm=\"SHA-512\">{declared}</MessageDigest>\
             <Size>{}</Size><FormatIdentification><MimeType>application/octet-stream</MimeType>\
             </FormatIdentification><FileInfo><Filename>f{i:03}.bin</Filename></FileInfo></BinaryDataObject>",
            data.len()
        ));
        units.push_str(&format!(
            "<ArchiveUnit id=\"U{i}\"><Content><DescriptionLevel>Item</DescriptionLevel>\
             <Title>Pièce {i}</Title></Content><DataObjectReference><DataObjectGroupReferenceId>G{i}\
             </DataObjectGroupReferenceId></DataObjectReference></ArchiveUnit>"
        ));
        entries.push((format!("content/f{i:03}.bin"), data));
    }
    let manifest = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <ArchiveTransfer xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.3\">\
         <Date>2024-01-02T03:04:05</Date><MessageIdentifier>{message_id}</MessageIdentifier>\
         <ArchivalAgreement>AGR-1</ArchivalAgreement><CodeListVersions/><DataObjectPackage>{objects}\
         <DescriptiveMetadata>{units}</DescriptiveMetadata><ManagementMetadata>\
         <OriginatingAgencyIdentifier>OA</OriginatingAgencyIdentifier></ManagementMetadata>\
         </DataObjectPackage><ArchivalAgency><Identifier>AA</Identifier></ArchivalAgency>\
         <TransferringAgency><Identifier>TA</Identifier></TransferringAgency></ArchiveTransfer>\n"
    );
    entries.insert(0, ("manifest.xml".to_owned(), manifest.into_bytes()));
    write_zip(path, &entries);
}

/// Each file is read once, staged as its digests are computed: a package
/// whose last file has a wrong digest, after many good ones, is refused
/// with BAD_DIGEST and leaves no blob file, no temporary file and no
/// record. The same files with the right digest then go in whole.
#[test]
fn a_bad_last_digest_after_many_good_files_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let daemon = Daemon::start(&data);
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let size = log_size(&daemon);
    let blobs = blob_files(&data);

    let bad = work.join("bad-last.zip");
    many_files_package(&bad, "MANY-1", 60, true);
    let (out, json) = import(&daemon, &bad, &work);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let o = json.unwrap();
    assert_eq!(o["accepted"], false, "{o}");
    assert_eq!(o["code"], "BAD_DIGEST", "{o}");
    let message = o["message"].as_str().unwrap();
    assert!(
        message.starts_with("BinaryDataObject O59: SHA-512 of content/f059.bin is "),
        "{message}"
    );
    let reply = std::fs::read_to_string(work.join("reply.xml")).unwrap();
    assert!(reply.contains("<ReplyCode>KO</ReplyCode>"), "{reply}");
    assert!(reply.contains("BAD_DIGEST"), "{reply}");
    xmllint_valid(&work.join("reply.xml"));
    assert_eq!(log_size(&daemon), size, "nothing recorded");
    assert_eq!(blob_files(&data), blobs, "no blob file left behind");
    assert!(
        files_under(&data.join("blobs/tmp")).is_empty(),
        "no temporary file left behind"
    );
    // The refusal is kept, to be asked for later.
    let out = daemon.cli(&["--json", "transfer", "TA", "MANY-1"]);
    let kept: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(kept["accepted"], false, "{kept}");
    assert_eq!(kept["code"], "BAD_DIGEST", "{kept}");

    // Corrected and sent again: accepted whole, every file stored.
    let good = work.join("good.zip");
    many_files_package(&good, "MANY-1", 60, false);
    let (out, json) = import(&daemon, &good, &work);
    assert!(out.status.success(), "{}", text(&out));
    let o = json.unwrap();
    assert_eq!(o["archives"].as_array().unwrap().len(), 61, "{o}");
    assert_eq!(log_size(&daemon), size + 61);
    assert!(
        blob_files(&data).len() >= blobs.len() + 60,
        "each of the 60 files is a blob file"
    );
    daemon.stop();
}
