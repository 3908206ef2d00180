//! Packages whose manifest comes apart from an archive of its files (as
//! Pastell sends them): the same checks as a whole package.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use common::{manifest, Obj};
use minutier_sip::{code, Limits, Package, Rejection, TransferPlan};

const A: &[u8] = b"alpha\n";
const B: &[u8] = b"bravo bravo\n";

/// A tar.gz of `entries`, with their directories first, as `tar -czf`
/// writes it.
fn tar_gz(path: &Path, entries: &[(&str, &[u8])]) {
    let mut b = tar::Builder::new(Vec::new());
    let mut dirs: Vec<String> = entries
        .iter()
        .filter_map(|(n, _)| n.rsplit_once('/').map(|(d, _)| format!("{d}/")))
        .collect();
    dirs.sort();
    dirs.dedup();
    for d in &dirs {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o755);
        h.set_entry_type(tar::EntryType::Directory);
        b.append_data(&mut h, d, std::io::empty()).unwrap();
    }
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *data).unwrap();
    }
    let raw = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    std::fs::write(path, gz.finish().unwrap()).unwrap();
}

/// A reference package split in two: its manifest, and a tar.gz of the
/// other files.
fn split_sample(rel: &str, dir: &Path) -> (Vec<u8>, PathBuf) {
    let path = common::seda_dir().join("sips").join(rel);
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut manifest = Vec::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        if f.is_dir() {
            continue;
        }
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        if f.name() == "manifest.xml" {
            manifest = bytes;
        } else {
            files.push((f.name().to_owned(), bytes));
        }
    }
    let archive = dir.join("archive.tar.gz");
    let entries: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    tar_gz(&archive, &entries);
    (manifest, archive)
}

fn plan_split(manifest: &[u8], archive: &Path) -> Result<TransferPlan, Rejection> {
    Package::open_split(archive, manifest.to_vec(), Limits::default())?.plan()
}

#[test]
fn reference_packages_split_give_the_same_plans() {
    for rel in [
        "ok/1_UNIT_1_GOTS_1MB.zip",
        "ok/OK_ARBO_rateau.zip",
        "ok/OK_EMPRT_SHA256_2.zip",
        "ok/OK_RATP.zip",
        "ok/OK_RULES_COMPLEXE_COMPLETE.zip",
        "ok/OK_SIP_2_GO.zip",
        "ok/OK_Test_Agencies.zip",
        "ok/SIP_OK_HoldRules_ManagementMetadata.zip",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (manifest, archive) = split_sample(rel, dir.path());
        let split = plan_split(&manifest, &archive).unwrap_or_else(|r| panic!("{rel}: {r}"));
        let whole = Package::open(common::seda_dir().join("sips").join(rel), Limits::default())
            .unwrap()
            .plan()
            .unwrap();
        assert_eq!(split.documents, whole.documents, "{rel}");
        assert_eq!(split.units, whole.units, "{rel}");
        assert_eq!(split.transfer, whole.transfer, "{rel}");
        assert_eq!(split.manifest.bytes, manifest, "{rel}");
        assert_eq!(split.manifest.path, minutier_sip::SPLIT_MANIFEST_NAME);
    }
}

#[test]
fn reference_ko_packages_split_are_refused() {
    for (rel, expected) in [
        ("ko/DIGEST_VIDE.zip", code::EMPTY_DIGEST),
        ("ko/KO_BORD_empreinte_KO.zip", code::SIZE_MISMATCH),
        ("ko/KO_BORD_xmlKO_sansobjet.zip", code::MALFORMED_MANIFEST),
        // The second manifest is an ordinary file here, and undeclared.
        ("ko/KO_DEUX-Manifest.zip", code::UNDECLARED_FILE),
        ("ko/KO_MANIFESTE-URI.zip", code::MISSING_FILE),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (manifest, archive) = split_sample(rel, dir.path());
        let err = plan_split(&manifest, &archive).expect_err(rel);
        assert_eq!(err.code, expected, "{rel}: {err}");
    }
}

fn objs() -> [Obj<'static>; 2] {
    [
        Obj {
            id: "OA",
            uri: "Content/a.txt",
            data: A,
        },
        Obj {
            id: "OB",
            uri: "Content/b.txt",
            data: B,
        },
    ]
}

#[test]
fn the_archive_holds_the_files_only_or_a_copy_of_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(&objs(), "");
    let archive = dir.path().join("archive.tar.gz");

    tar_gz(&archive, &[("Content/a.txt", A), ("Content/b.txt", B)]);
    let plan = plan_split(m.as_bytes(), &archive).unwrap();
    assert_eq!(plan.documents.len(), 2);

    // The same manifest inside the archive is the manifest.
    tar_gz(
        &archive,
        &[
            ("bordereau.xml", m.as_bytes()),
            ("Content/a.txt", A),
            ("Content/b.txt", B),
        ],
    );
    let plan = plan_split(m.as_bytes(), &archive).unwrap();
    assert_eq!(plan.manifest.path, "bordereau.xml");
    assert_eq!(plan.documents.len(), 2);

    // Another manifest inside the archive is an undeclared file.
    let other = m.replace("MSG-1", "MSG-2");
    tar_gz(
        &archive,
        &[
            ("manifest.xml", other.as_bytes()),
            ("Content/a.txt", A),
            ("Content/b.txt", B),
        ],
    );
    let err = plan_split(m.as_bytes(), &archive).unwrap_err();
    assert_eq!(err.code, code::UNDECLARED_FILE, "{err}");
    assert!(err.message.contains("manifest.xml"), "{err}");

    // Undeclared, missing, changed files: refused as in a whole package.
    tar_gz(
        &archive,
        &[("Content/a.txt", A), ("Content/b.txt", B), ("extra.bin", A)],
    );
    let err = plan_split(m.as_bytes(), &archive).unwrap_err();
    assert_eq!(err.code, code::UNDECLARED_FILE, "{err}");
    tar_gz(&archive, &[("Content/a.txt", A)]);
    let err = plan_split(m.as_bytes(), &archive).unwrap_err();
    assert_eq!(err.code, code::MISSING_FILE, "{err}");
    tar_gz(&archive, &[("Content/a.txt", A), ("Content/b.txt", A)]);
    let err = plan_split(m.as_bytes(), &archive).unwrap_err();
    assert_eq!(err.code, code::SIZE_MISMATCH, "{err}");

    // A zip of the files works as well.
    let zip_path = dir.path().join("files.zip");
    common::write_zip(
        &zip_path,
        &[("Content/a.txt", A), ("Content/b.txt", B)],
        true,
    );
    assert_eq!(
        plan_split(m.as_bytes(), &zip_path).unwrap().documents.len(),
        2
    );
}

#[test]
fn limits_still_apply() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive.tar.gz");
    // An archive that inflates far beyond its size.
    let zeros = vec![0u8; 8 << 20];
    let o = [Obj {
        id: "OZ",
        uri: "Content/zeros.bin",
        data: &zeros,
    }];
    let m = manifest(&o, "");
    tar_gz(&archive, &[("Content/zeros.bin", &zeros)]);
    let err = Package::open_split(&archive, m.clone().into_bytes(), Limits::default()).unwrap_err();
    assert_eq!(err.code, code::ARCHIVE_BOMB, "{err}");

    // A manifest over the limit.
    tar_gz(&archive, &[("Content/a.txt", A)]);
    let limits = Limits {
        max_manifest_size: 100,
        ..Limits::default()
    };
    let err = Package::open_split(&archive, m.into_bytes(), limits).unwrap_err();
    assert_eq!(err.code, code::ARCHIVE_BOMB, "{err}");

    // Not an archive at all.
    std::fs::write(&archive, b"not an archive").unwrap();
    let err = Package::open_split(&archive, b"<x/>".to_vec(), Limits::default()).unwrap_err();
    assert_eq!(err.code, code::UNSUPPORTED_PACKAGE, "{err}");
}
