//! The contents read once: the structure is judged before any content is
//! read, each declared file goes to the sink once with its digests computed
//! on the way, and a refusal drops everything the sink staged.

mod common;

use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;

use common::{manifest, write_zip, Obj};
use minutier_sip::{code, Limits, Package, Rejection};
use sha2::{Digest, Sha512};

/// What a sink stages; counts itself out when dropped.
#[derive(Debug)]
struct Staged {
    bytes: Vec<u8>,
    dropped: Rc<Cell<usize>>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        self.dropped.set(self.dropped.get() + 1);
    }
}

/// A sink's own error, or a refusal of the package.
#[derive(Debug, PartialEq)]
enum Failure {
    Storage(String),
    Refused(Rejection),
}

impl From<Rejection> for Failure {
    fn from(r: Rejection) -> Self {
        Failure::Refused(r)
    }
}

fn data(i: usize) -> Vec<u8> {
    format!("document {i}\n").repeat(100 + i).into_bytes()
}

/// A zip of `n` documents, in the manifest's order, with SHA-512 digests.
fn package(dir: &std::path::Path, n: usize, corrupt: Option<usize>) -> std::path::PathBuf {
    let contents: Vec<Vec<u8>> = (0..n).map(data).collect();
    let names: Vec<String> = (0..n).map(|i| format!("Content/f{i:03}.txt")).collect();
    let ids: Vec<String> = (0..n).map(|i| format!("O{i:03}")).collect();
    let objs: Vec<Obj> = (0..n)
        .map(|i| Obj {
            id: &ids[i],
            uri: &names[i],
            data: &contents[i],
        })
        .collect();
    let mut m = manifest(&objs, "");
    for (i, c) in contents.iter().enumerate() {
        let declared = if corrupt == Some(i) {
            let mut other = c.clone();
            other[0] ^= 1;
            Sha512::digest(&other)
        } else {
            Sha512::digest(c)
        };
        m = m.replacen(
            &format!("algorithm=\"SHA-256\">{}", common::sha256_hex(c)),
            &format!("algorithm=\"SHA-512\">{}", hex::encode(declared)),
            1,
        );
    }
    let mut entries: Vec<(&str, &[u8])> = vec![("manifest.xml", m.as_bytes())];
    for (name, c) in names.iter().zip(&contents) {
        entries.push((name, c));
    }
    let path = dir.join("sip.zip");
    write_zip(&path, &entries, true);
    path
}

fn keep(
    calls: &Rc<Cell<usize>>,
    dropped: &Rc<Cell<usize>>,
) -> impl FnMut(&minutier_sip::PlannedDocument, &mut dyn Read) -> Result<Staged, Failure> {
    let (calls, dropped) = (calls.clone(), dropped.clone());
    move |_, r| {
        calls.set(calls.get() + 1);
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes)
            .map_err(|e| Failure::Storage(e.to_string()))?;
        Ok(Staged {
            bytes,
            dropped: dropped.clone(),
        })
    }
}

#[test]
fn each_file_goes_to_the_sink_once_with_its_digests() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = Package::open(package(dir.path(), 40, None), Limits::default()).unwrap();
    let plan = pkg.check().unwrap();
    let (calls, dropped) = (Rc::default(), Rc::default());
    let contents = pkg.read_contents(&plan, keep(&calls, &dropped)).unwrap();
    assert_eq!(calls.get(), 40);
    assert_eq!(contents.len(), 40);
    for (i, (c, d)) in contents.iter().zip(&plan.documents).enumerate() {
        assert_eq!(c.staged.bytes, data(i), "{}", d.path);
        assert_eq!(c.size, d.size);
        assert_eq!(hex::encode(c.sha256), common::sha256_hex(&data(i)));
        assert_eq!(d.digest, hex::encode(Sha512::digest(data(i))));
    }
    assert_eq!(
        dropped.get(),
        0,
        "nothing dropped when every digest matches"
    );
}

#[test]
fn a_bad_last_digest_drops_everything_staged() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = Package::open(package(dir.path(), 40, Some(39)), Limits::default()).unwrap();
    // The structure is sound: the bad digest shows only in the contents.
    let plan = pkg.check().unwrap();
    let (calls, dropped) = (Rc::default(), Rc::default());
    let err = pkg
        .read_contents(&plan, keep(&calls, &dropped))
        .expect_err("a bad digest is refused");
    let Failure::Refused(r) = err else {
        panic!("{err:?}")
    };
    assert_eq!(r.code, code::BAD_DIGEST, "{r}");
    assert!(
        r.message
            .starts_with("BinaryDataObject O039: SHA-512 of Content/f039.txt is "),
        "{r}"
    );
    assert_eq!(calls.get(), 40, "every file read once");
    assert_eq!(
        dropped.get(),
        40,
        "every staged file dropped, the bad one's too"
    );
    // The whole check says the same.
    assert_eq!(pkg.plan().unwrap_err(), r);
}

#[test]
fn the_structure_is_judged_before_any_content_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let good = package(dir.path(), 3, Some(0));
    let entries = {
        let mut z = zip::ZipArchive::new(std::fs::File::open(&good).unwrap()).unwrap();
        (0..z.len())
            .map(|i| {
                let mut f = z.by_index(i).unwrap();
                let mut b = Vec::new();
                f.read_to_end(&mut b).unwrap();
                (f.name().to_owned(), b)
            })
            .collect::<Vec<_>>()
    };
    // A bad digest (first file) and an undeclared file (last): the
    // undeclared file is the refusal, and no content reaches the sink.
    let mut with_extra: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    with_extra.push(("Content/extra.txt", b"extra"));
    let path = dir.path().join("extra.zip");
    write_zip(&path, &with_extra, true);
    let pkg = Package::open(&path, Limits::default()).unwrap();
    let r = pkg.check().unwrap_err();
    assert_eq!(r.code, code::UNDECLARED_FILE, "{r}");
    assert_eq!(pkg.plan().unwrap_err(), r);

    // A declared Size the listing contradicts: refused by the check.
    let manifest = String::from_utf8(entries[0].1.clone()).unwrap();
    let size = format!("<Size>{}</Size>", data(2).len());
    let resized = manifest.replacen(&size, &format!("<Size>{}</Size>", data(2).len() + 1), 1);
    let mut sized: Vec<(&str, &[u8])> = vec![("manifest.xml", resized.as_bytes())];
    sized.extend(entries[1..].iter().map(|(n, b)| (n.as_str(), b.as_slice())));
    let path = dir.path().join("sized.zip");
    write_zip(&path, &sized, true);
    let pkg = Package::open(&path, Limits::default()).unwrap();
    let r = pkg.check().unwrap_err();
    assert_eq!(r.code, code::SIZE_MISMATCH, "{r}");
}

#[test]
fn a_read_error_is_the_packages_whatever_the_sink_says() {
    let dir = tempfile::tempdir().unwrap();
    let contents = data(7);
    let objs = [Obj {
        id: "O1",
        uri: "Content/a.txt",
        data: &contents,
    }];
    let m = manifest(&objs, "");
    let path = dir.path().join("stored.zip");
    write_zip(
        &path,
        &[("manifest.xml", m.as_bytes()), ("Content/a.txt", &contents)],
        false,
    );
    // Corrupt the stored bytes: the zip's CRC no longer matches.
    let mut raw = std::fs::read(&path).unwrap();
    let at = raw
        .windows(contents.len())
        .position(|w| w == contents.as_slice())
        .unwrap();
    raw[at + 5] ^= 0x20;
    std::fs::write(&path, &raw).unwrap();
    let pkg = Package::open(&path, Limits::default()).unwrap();
    let plan = pkg.check().unwrap();
    let (calls, dropped) = (Rc::default(), Rc::default());
    let err = pkg
        .read_contents(&plan, keep(&calls, &dropped))
        .unwrap_err();
    let Failure::Refused(r) = err else {
        panic!("{err:?}")
    };
    assert_eq!(r.code, code::UNREADABLE_PACKAGE, "{r}");
    assert!(r.message.starts_with("Content/a.txt: "), "{r}");

    // The sink's own error passes through.
    let pkg = Package::open(package(dir.path(), 3, None), Limits::default()).unwrap();
    let plan = pkg.check().unwrap();
    let err = pkg
        .read_contents(&plan, |d, _| -> Result<(), Failure> {
            Err(Failure::Storage(format!("disk full at {}", d.path)))
        })
        .unwrap_err();
    assert_eq!(
        err,
        Failure::Storage("disk full at Content/f000.txt".into())
    );
}
