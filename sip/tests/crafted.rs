//! Packages built on the fly for defects the reference set lacks.

mod common;

use std::io::Write;

use common::{manifest, write_zip, Obj};
use minutier_sip::{code, Limits, Package, Rejection};

fn plan_zip(
    entries: &[(&str, &[u8])],
    deflate: bool,
) -> Result<minutier_sip::TransferPlan, Rejection> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sip.zip");
    write_zip(&path, entries, deflate);
    Package::open(&path, Limits::default())?.plan()
}

fn assert_rejected(r: Result<minutier_sip::TransferPlan, Rejection>, code: &str, culprit: &str) {
    let err = r.expect_err("package must be rejected");
    assert_eq!(err.code, code, "{err}");
    assert!(
        err.message.contains(culprit),
        "{err} does not name {culprit}"
    );
}

const A: &[u8] = b"first document\n";
const B: &[u8] = b"second document\n";

fn objs() -> Vec<Obj<'static>> {
    vec![
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
fn well_formed_crafted_package_is_accepted() {
    let m = manifest(&objs(), "");
    let plan = plan_zip(
        &[
            ("manifest.xml", m.as_bytes()),
            ("Content/a.txt", A),
            ("Content/b.txt", B),
        ],
        true,
    )
    .unwrap();
    assert_eq!(plan.documents.len(), 2);
    assert_eq!(plan.documents[0].digest, common::sha256_hex(A));
    assert_eq!(plan.documents[0].metadata.originating_agency, "OA");
    assert_eq!(plan.documents[0].metadata.archival_agreement, "AGR-1");
    assert_eq!(plan.transfer.message_identifier, "MSG-1");
}

#[test]
fn undeclared_file() {
    let m = manifest(&objs(), "");
    assert_rejected(
        plan_zip(
            &[
                ("manifest.xml", m.as_bytes()),
                ("Content/a.txt", A),
                ("Content/b.txt", B),
                ("Content/extra.txt", b"x"),
            ],
            false,
        ),
        code::UNDECLARED_FILE,
        "Content/extra.txt",
    );
}

#[test]
fn size_mismatch() {
    let m = manifest(&objs(), "").replace("<Size>16</Size>", "<Size>17</Size>");
    assert_rejected(
        plan_zip(
            &[
                ("manifest.xml", m.as_bytes()),
                ("Content/a.txt", A),
                ("Content/b.txt", B),
            ],
            false,
        ),
        code::SIZE_MISMATCH,
        "OB",
    );
}

#[test]
fn bad_digest() {
    let other = b"first documenT\n";
    let m = manifest(&objs(), "");
    assert_rejected(
        plan_zip(
            &[
                ("manifest.xml", m.as_bytes()),
                ("Content/a.txt", other),
                ("Content/b.txt", B),
            ],
            true,
        ),
        code::BAD_DIGEST,
        "Content/a.txt",
    );
}

#[test]
fn unsupported_digest_algorithm() {
    let m = manifest(&objs(), "").replacen("SHA-256", "MD5", 1);
    assert_rejected(
        plan_zip(
            &[
                ("manifest.xml", m.as_bytes()),
                ("Content/a.txt", A),
                ("Content/b.txt", B),
            ],
            false,
        ),
        code::UNSUPPORTED_DIGEST,
        "OA",
    );
}

#[test]
fn empty_uri() {
    let m = manifest(&objs(), "").replace("<Uri>Content/b.txt</Uri>", "<Uri></Uri>");
    assert_rejected(
        plan_zip(
            &[("manifest.xml", m.as_bytes()), ("Content/a.txt", A)],
            false,
        ),
        code::EMPTY_URI,
        "OB",
    );
}

#[test]
fn unit_cycle() {
    let cycle = "<ArchiveUnit id=\"C1\"><Content><Title>c1</Title></Content>\
                 <ArchiveUnit id=\"R1\"><ArchiveUnitRefId>C2</ArchiveUnitRefId></ArchiveUnit></ArchiveUnit>\
                 <ArchiveUnit id=\"C2\"><Content><Title>c2</Title></Content>\
                 <ArchiveUnit id=\"R2\"><ArchiveUnitRefId>C1</ArchiveUnitRefId></ArchiveUnit></ArchiveUnit>";
    let m = manifest(&objs(), cycle);
    assert_rejected(
        plan_zip(
            &[
                ("manifest.xml", m.as_bytes()),
                ("Content/a.txt", A),
                ("Content/b.txt", B),
            ],
            false,
        ),
        code::UNIT_CYCLE,
        "C1",
    );
}

#[test]
fn dangling_unit_reference() {
    let dangling = "<ArchiveUnit id=\"C1\"><Content><Title>c1</Title></Content>\
                    <ArchiveUnit id=\"R1\"><ArchiveUnitRefId>NOPE</ArchiveUnitRefId></ArchiveUnit></ArchiveUnit>";
    let m = manifest(&objs(), dangling);
    assert_rejected(
        plan_zip(
            &[
                ("manifest.xml", m.as_bytes()),
                ("Content/a.txt", A),
                ("Content/b.txt", B),
            ],
            false,
        ),
        code::INVALID_MANIFEST,
        "NOPE",
    );
}

#[test]
fn parent_escape_path() {
    let o = [Obj {
        id: "OA",
        uri: "../a.txt",
        data: A,
    }];
    let m = manifest(&o, "");
    assert_rejected(
        plan_zip(&[("manifest.xml", m.as_bytes()), ("../a.txt", A)], false),
        code::UNSAFE_PATH,
        "../a.txt",
    );
    // A Uri escaping the package, even with no such entry.
    let m = manifest(
        &[Obj {
            id: "OA",
            uri: "Content/../../etc/passwd",
            data: A,
        }],
        "",
    );
    assert_rejected(
        plan_zip(&[("manifest.xml", m.as_bytes())], false),
        code::UNSAFE_PATH,
        "OA",
    );
}

#[test]
fn absolute_path() {
    let m = manifest(&objs(), "");
    assert_rejected(
        plan_zip(
            &[
                ("manifest.xml", m.as_bytes()),
                ("Content/a.txt", A),
                ("Content/b.txt", B),
                ("/etc/x", b"x"),
            ],
            false,
        ),
        code::UNSAFE_PATH,
        "/etc/x",
    );
}

#[test]
fn backslash_and_duplicate_names() {
    let m = manifest(&objs(), "");
    assert_rejected(
        plan_zip(
            &[("manifest.xml", m.as_bytes()), ("Content\\a.txt", A)],
            false,
        ),
        code::UNSAFE_PATH,
        "Content\\\\a.txt",
    );
    // The zip writer refuses duplicates, so write both under distinct names
    // and patch the second name in place.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dup.zip");
    write_zip(
        &path,
        &[
            ("manifest.xml", m.as_bytes()),
            ("Content/a.txt", A),
            ("Content/b.txt", B),
            ("Content/c.txt", B),
        ],
        false,
    );
    let mut bytes = std::fs::read(&path).unwrap();
    let mut i = 0;
    while let Some(pos) = bytes[i..].windows(13).position(|w| w == b"Content/c.txt") {
        bytes[i + pos + 8] = b'b';
        i += pos + 13;
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = Package::open(&path, Limits::default()).unwrap_err();
    assert_eq!(err.code, code::DUPLICATE_ENTRY, "{err}");
    assert!(err.message.contains("Content/b.txt"));
}

#[test]
fn zip_bomb_ratio() {
    let zeros = vec![0u8; 8 << 20];
    let o = [Obj {
        id: "OZ",
        uri: "Content/zeros.bin",
        data: &zeros,
    }];
    let m = manifest(&o, "");
    assert_rejected(
        plan_zip(
            &[
                ("manifest.xml", m.as_bytes()),
                ("Content/zeros.bin", &zeros),
            ],
            true,
        ),
        code::ARCHIVE_BOMB,
        "Content/zeros.bin",
    );
}

#[test]
fn too_many_entries_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sip.zip");
    let m = manifest(&objs(), "");
    write_zip(
        &path,
        &[
            ("manifest.xml", m.as_bytes()),
            ("Content/a.txt", A),
            ("Content/b.txt", B),
        ],
        false,
    );
    let limits = Limits {
        max_entries: 2,
        ..Limits::default()
    };
    assert_eq!(
        Package::open(&path, limits).unwrap_err().code,
        code::ARCHIVE_BOMB
    );
    let limits = Limits {
        max_total_size: 100,
        ..Limits::default()
    };
    assert_eq!(
        Package::open(&path, limits).unwrap_err().code,
        code::ARCHIVE_BOMB
    );
}

#[test]
fn doctype_and_entities_are_refused() {
    let m = manifest(&objs(), "");
    let with_dtd = m.replacen(
        "<ArchiveTransfer",
        "<!DOCTYPE ArchiveTransfer [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]>\n<ArchiveTransfer",
        1,
    );
    assert_rejected(
        plan_zip(
            &[
                ("manifest.xml", with_dtd.as_bytes()),
                ("Content/a.txt", A),
                ("Content/b.txt", B),
            ],
            false,
        ),
        code::FORBIDDEN_DTD,
        "DOCTYPE",
    );
    let external = m.replacen(
        "<ArchiveTransfer",
        "<!DOCTYPE ArchiveTransfer SYSTEM \"file:///etc/passwd\">\n<ArchiveTransfer",
        1,
    );
    assert_rejected(
        plan_zip(
            &[
                ("manifest.xml", external.as_bytes()),
                ("Content/a.txt", A),
                ("Content/b.txt", B),
            ],
            false,
        ),
        code::FORBIDDEN_DTD,
        "DOCTYPE",
    );
    let undeclared = m.replace("<Title>Doc OA</Title>", "<Title>&xxe;</Title>");
    assert_rejected(
        plan_zip(
            &[
                ("manifest.xml", undeclared.as_bytes()),
                ("Content/a.txt", A),
                ("Content/b.txt", B),
            ],
            false,
        ),
        code::FORBIDDEN_DTD,
        "xxe",
    );
}

#[test]
fn predefined_entities_are_decoded() {
    let m =
        manifest(&objs(), "").replace("<Title>Doc OA</Title>", "<Title>A &amp; B &#233;</Title>");
    let plan = plan_zip(
        &[
            ("manifest.xml", m.as_bytes()),
            ("Content/a.txt", A),
            ("Content/b.txt", B),
        ],
        false,
    )
    .unwrap();
    assert_eq!(plan.documents[0].metadata.title, "A & B é");
}

#[test]
fn other_namespaces_and_versions() {
    let m = manifest(&objs(), "");
    for v in ["2.2", "2.3"] {
        let mv = m.replace("seda:v2.1", &format!("seda:v{v}"));
        let plan = plan_zip(
            &[
                ("manifest.xml", mv.as_bytes()),
                ("Content/a.txt", A),
                ("Content/b.txt", B),
            ],
            false,
        )
        .unwrap();
        assert_eq!(plan.version.as_str(), v);
    }
    let mv = m.replace("seda:v2.1", "seda:v1.0");
    assert_rejected(
        plan_zip(
            &[
                ("manifest.xml", mv.as_bytes()),
                ("Content/a.txt", A),
                ("Content/b.txt", B),
            ],
            false,
        ),
        code::UNSUPPORTED_VERSION,
        "v1.0",
    );
}

#[test]
fn missing_manifest() {
    assert_rejected(
        plan_zip(&[("Content/a.txt", A)], false),
        code::MISSING_MANIFEST,
        "manifest",
    );
}

fn tar_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn tar_and_tar_gz() {
    let m = manifest(&objs(), "");
    let raw = tar_bytes(&[
        ("manifest.xml", m.as_bytes()),
        ("Content/a.txt", A),
        ("Content/b.txt", B),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let tar_path = dir.path().join("sip.tar");
    std::fs::write(&tar_path, &raw).unwrap();
    let pkg = Package::open(&tar_path, Limits::default()).unwrap();
    assert_eq!(pkg.format(), minutier_sip::Format::Tar);
    assert_eq!(pkg.plan().unwrap().documents.len(), 2);

    let gz_path = dir.path().join("sip.tar.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();
    let pkg = Package::open(&gz_path, Limits::default()).unwrap();
    assert_eq!(pkg.format(), minutier_sip::Format::TarGz);
    let plan = pkg.check().unwrap();
    let contents = pkg
        .read_contents(&plan, |_, r| {
            std::io::copy(r, &mut std::io::sink())
                .map_err(|e| Rejection::new(code::UNREADABLE_PACKAGE, e.to_string()))
        })
        .unwrap();
    assert_eq!(hex::encode(contents[1].sha256), common::sha256_hex(B));
    assert_eq!(contents[1].staged, B.len() as u64);

    // A tar.gz that inflates far beyond its size.
    let zeros = vec![0u8; 8 << 20];
    let o = [Obj {
        id: "OZ",
        uri: "Content/zeros.bin",
        data: &zeros,
    }];
    let mz = manifest(&o, "");
    let raw = tar_bytes(&[
        ("manifest.xml", mz.as_bytes()),
        ("Content/zeros.bin", &zeros),
    ]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&raw).unwrap();
    std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();
    assert_eq!(
        Package::open(&gz_path, Limits::default()).unwrap_err().code,
        code::ARCHIVE_BOMB
    );
}
