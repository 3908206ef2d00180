//! The contents of a checked package, read once: each declared file is
//! streamed to the caller's sink through its declared digest (SHA-256 or
//! SHA-512) and SHA-256, and judged when it ends (size, then digest).
//!
//! This is safe because of the order: [`Package::check`] has already judged
//! everything structural before the first byte is read, so the only
//! refusals left are about contents (`SIZE_MISMATCH`, `BAD_DIGEST`,
//! `UNREADABLE_PACKAGE`, an entry larger than declared). A sink may stage
//! what it is given, but must commit nothing before
//! [`Package::read_contents`] returns `Ok`: a refusal drops every value the
//! sink returned, the refused file's included.

use std::collections::HashMap;
use std::io::{self, Read};

use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{code, Rejection};
use crate::package::Package;
use crate::plan::{DigestAlgorithm, PlannedDocument, TransferPlan};

/// One document's content, read and verified.
#[derive(Debug)]
pub struct Content<T> {
    /// SHA-256 of the content, computed as it was read.
    pub sha256: [u8; 32],
    pub size: u64,
    /// What the sink returned for it.
    pub staged: T,
}

impl Package {
    /// Reads every document of `plan` (from [`Package::check`] on this
    /// package) once, in container order, handing each to `sink` through a
    /// reader that hashes what it yields. The sink must read to the end (a
    /// file read short is refused as `SIZE_MISMATCH`); it may fail with its
    /// own error (a storage error, say). Returns the
    /// verified contents in the plan's document order, or the first
    /// refusal; on any error, every value the sink returned is dropped.
    ///
    /// A read error of the package is the package's fault, whatever the sink
    /// made of it: it is answered as `UNREADABLE_PACKAGE` (or `ARCHIVE_BOMB`
    /// for an entry yielding more bytes than its container declared).
    pub fn read_contents<T, E>(
        &self,
        plan: &TransferPlan,
        mut sink: impl FnMut(&PlannedDocument, &mut dyn Read) -> Result<T, E>,
    ) -> Result<Vec<Content<T>>, E>
    where
        E: From<Rejection>,
    {
        let index: HashMap<&str, usize> = plan
            .documents
            .iter()
            .enumerate()
            .map(|(i, d)| (d.path.as_str(), i))
            .collect();
        let mut read: Vec<Option<Content<T>>> = plan.documents.iter().map(|_| None).collect();
        self.scan::<E>(None, &mut |entry, r| {
            let Some(&i) = index.get(entry.name.as_str()) else {
                return Ok(());
            };
            let doc = &plan.documents[i];
            let mut hashing = Hashing::new(r, doc.digest_algorithm);
            let staged = sink(doc, &mut hashing);
            if let Some(e) = hashing.failure.take() {
                return Err(Rejection::new(
                    code::UNREADABLE_PACKAGE,
                    format!("{}: {e}", entry.name),
                )
                .into());
            }
            let staged = staged?;
            let (declared, sha256, n) = hashing.finish();
            if n != entry.size {
                return Err(Rejection::new(
                    code::SIZE_MISMATCH,
                    format!(
                        "BinaryDataObject {}: {} yields {n} bytes, {} declared",
                        doc.object_id, doc.path, entry.size
                    ),
                )
                .into());
            }
            if declared != doc.digest {
                return Err(Rejection::new(
                    code::BAD_DIGEST,
                    format!(
                        "BinaryDataObject {}: {} of {} is {declared}, MessageDigest declares {}",
                        doc.object_id,
                        doc.digest_algorithm.as_str(),
                        doc.path,
                        doc.digest
                    ),
                )
                .into());
            }
            read[i] = Some(Content {
                sha256,
                size: n,
                staged,
            });
            Ok(())
        })?;
        read.into_iter()
            .zip(&plan.documents)
            .map(|(content, doc)| {
                content.ok_or_else(|| {
                    Rejection::new(
                        code::MISSING_FILE,
                        format!(
                            "BinaryDataObject {}: file {} could not be read",
                            doc.object_id, doc.path
                        ),
                    )
                    .into()
                })
            })
            .collect()
    }

    /// Reads every document of `plan` once and checks it, keeping nothing.
    pub fn verify_contents(&self, plan: &TransferPlan) -> Result<(), Rejection> {
        self.read_contents(plan, |_, r| {
            // A read error is reported by `read_contents`, naming the file.
            io::copy(r, &mut io::sink())
                .map(|_| ())
                .map_err(|e| Rejection::new(code::UNREADABLE_PACKAGE, e.to_string()))
        })
        .map(|_| ())
    }
}

/// A reader passing bytes through SHA-256 and, when declared, SHA-512,
/// counting them, and keeping its first error (the sink may hide it).
struct Hashing<'a> {
    inner: &'a mut dyn Read,
    sha256: Sha256,
    sha512: Option<Sha512>,
    count: u64,
    failure: Option<io::Error>,
}

impl<'a> Hashing<'a> {
    fn new(inner: &'a mut dyn Read, alg: DigestAlgorithm) -> Self {
        Hashing {
            inner,
            sha256: Sha256::new(),
            sha512: (alg == DigestAlgorithm::Sha512).then(Sha512::new),
            count: 0,
            failure: None,
        }
    }

    /// The declared algorithm's digest (lowercase hex), the SHA-256, and
    /// the number of bytes read.
    fn finish(self) -> (String, [u8; 32], u64) {
        let sha256: [u8; 32] = self.sha256.finalize().into();
        let declared = match self.sha512 {
            Some(s) => hex::encode(s.finalize()),
            None => hex::encode(sha256),
        };
        (declared, sha256, self.count)
    }
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.failure {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.sha256.update(&buf[..n]);
                if let Some(s) = &mut self.sha512 {
                    s.update(&buf[..n]);
                }
                self.count += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.failure = Some(e);
                Err(copy)
            }
        }
    }
}
