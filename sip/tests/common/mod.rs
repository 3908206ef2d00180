#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The SEDA packages and schemas (copied into the repository from the
/// French state's public test data; see tests/seda/README.md).
pub fn seda_dir() -> PathBuf {
    match std::env::var_os("MINUTIER_SEDA_TESTDATA") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seda"),
    }
}

/// Validates `xml` against the SEDA 2.3 schema with xmllint.
pub fn xmllint(xml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("message.xml");
    std::fs::write(&file, xml).unwrap();
    let schema = seda_dir().join("schema/seda-2.3-main.xsd");
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
        .expect("xmllint (Debian package libxml2-utils) must be installed");
    assert!(
        out.status.success(),
        "xmllint rejects the message:\n{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Writes a zip with the given entries (stored or deflated).
pub fn write_zip(path: &Path, entries: &[(&str, &[u8])], deflate: bool) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in entries {
        z.start_file(*name, opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

/// A declared binary object for [`manifest`].
pub struct Obj<'a> {
    pub id: &'a str,
    pub uri: &'a str,
    pub data: &'a [u8],
}

/// A minimal SEDA 2.1 manifest: one unit per object (ids U-<obj>), plus
/// `extra_units` inserted verbatim in DescriptiveMetadata.
pub fn manifest(objs: &[Obj<'_>], extra_units: &str) -> String {
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ArchiveTransfer xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\">\n\
         <Date>2024-01-02T03:04:05</Date><MessageIdentifier>MSG-1</MessageIdentifier>\
         <ArchivalAgreement>AGR-1</ArchivalAgreement><CodeListVersions/><DataObjectPackage>\n",
    );
    for o in objs {
        x.push_str(&format!(
            "<BinaryDataObject id=\"{id}\"><DataObjectGroupId>G-{id}</DataObjectGroupId>\
             <Uri>{uri}</Uri><MessageDigest algorithm=\"SHA-256\">{d}</MessageDigest>\
             <Size>{s}</Size><FormatIdentification><MimeType>text/plain</MimeType></FormatIdentification>\
             <FileInfo><Filename>{id}.txt</Filename></FileInfo></BinaryDataObject>\n",
            id = o.id,
            uri = o.uri,
            d = sha256_hex(o.data),
            s = o.data.len()
        ));
    }
    x.push_str("<DescriptiveMetadata>\n");
    for o in objs {
        x.push_str(&format!(
            "<ArchiveUnit id=\"U-{id}\"><Content><DescriptionLevel>Item</DescriptionLevel><Title>Doc {id}</Title></Content>\
             <DataObjectReference><DataObjectGroupReferenceId>G-{id}</DataObjectGroupReferenceId></DataObjectReference></ArchiveUnit>\n",
            id = o.id
        ));
    }
    x.push_str(extra_units);
    x.push_str(
        "</DescriptiveMetadata><ManagementMetadata><OriginatingAgencyIdentifier>OA</OriginatingAgencyIdentifier>\
         </ManagementMetadata></DataObjectPackage>\
         <ArchivalAgency><Identifier>AA</Identifier></ArchivalAgency>\
         <TransferringAgency><Identifier>TA</Identifier></TransferringAgency></ArchiveTransfer>\n",
    );
    x
}
