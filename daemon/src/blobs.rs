//! Content-addressed, write-once blob files.
//!
//! A blob is written to `blobs/tmp/` while its SHA-256 is computed, fsynced,
//! then renamed to `blobs/<2 hex>/<sha256>.zst` (or `.raw` when compression
//! does not pay) and its directory fsynced. Identical content is kept once.
//! Anything left in `tmp/` after a crash is garbage and removed at start.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use minutier_seal::{hash, Hash};
use sha2::{Digest, Sha256};

use crate::model::BlobLocation;

/// Compression must save at least this fraction of the sample to be used.
const MIN_SAVING: f64 = 0.08;
const WRITE_BUFFER: usize = 1 << 20;

/// The directory of blob files.
pub struct BlobStore {
    root: PathBuf,
    tmp: PathBuf,
    level: i32,
    next_tmp: AtomicU64,
}

impl BlobStore {
    /// Opens `dir`, creating its layout, and removes stale temporary files.
    pub fn open(dir: &Path, compression_level: i32) -> io::Result<Self> {
        let tmp = dir.join("tmp");
        fs::create_dir_all(&tmp)?;
        for entry in fs::read_dir(&tmp)? {
            let entry = entry?;
            tracing::warn!(file = %entry.path().display(), "removing an unfinished upload left by a crash");
            fs::remove_file(entry.path())?;
        }
        for prefix in 0..=255u8 {
            let sub = dir.join(format!("{prefix:02x}"));
            if !sub.is_dir() {
                fs::create_dir(&sub)?;
            }
        }
        sync_dir(dir)?;
        Ok(BlobStore {
            root: dir.to_owned(),
            tmp,
            level: compression_level,
            next_tmp: AtomicU64::new(0),
        })
    }

    /// The blob files under `dir`, for reading only (an offline audit):
    /// unlike [`BlobStore::open`], nothing is created or removed.
    pub fn open_read_only(dir: &Path) -> Self {
        BlobStore {
            root: dir.to_owned(),
            tmp: dir.join("tmp"),
            level: 0,
            next_tmp: AtomicU64::new(0),
        }
    }

    /// Where a blob lives.
    pub fn path(&self, sha256: &Hash, location: BlobLocation) -> PathBuf {
        let hex = hash::to_hex(sha256);
        let ext = match location {
            BlobLocation::Zstd => "zst",
            BlobLocation::Raw => "raw",
            BlobLocation::Inline => "inline",
        };
        self.root.join(&hex[..2]).join(format!("{hex}.{ext}"))
    }

    /// How a blob with this digest is already stored, if it is.
    pub fn find(&self, sha256: &Hash) -> Option<BlobLocation> {
        [BlobLocation::Zstd, BlobLocation::Raw]
            .into_iter()
            .find(|loc| self.path(sha256, *loc).is_file())
    }

    /// Every blob file: its digest, codec, and last modification time.
    pub fn files(&self) -> io::Result<Vec<(Hash, BlobLocation, std::time::SystemTime)>> {
        let mut out = Vec::new();
        for prefix in 0..=255u8 {
            let dir = self.root.join(format!("{prefix:02x}"));
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name();
                let Some((stem, ext)) = name.to_str().and_then(|n| n.split_once('.')) else {
                    continue;
                };
                let location = match ext {
                    "zst" => BlobLocation::Zstd,
                    "raw" => BlobLocation::Raw,
                    _ => continue,
                };
                let Ok(sha) = hash::from_hex(stem) else {
                    continue;
                };
                out.push((sha, location, entry.metadata()?.modified()?));
            }
        }
        Ok(out)
    }

    /// A temporary file in `tmp/` for an upload that is not a blob (a
    /// package being received); removed when dropped, or at the next start
    /// after a crash.
    pub fn spool_file(&self) -> io::Result<tempfile::NamedTempFile> {
        tempfile::Builder::new()
            .prefix("spool-")
            .tempfile_in(&self.tmp)
    }

    /// Starts a new blob in `tmp/`.
    pub fn writer(&self) -> io::Result<BlobWriter> {
        let n = self.next_tmp.fetch_add(1, Ordering::Relaxed);
        let path = self.tmp.join(format!("{}-{n}", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(BlobWriter {
            guard: TempGuard(Some(path)),
            sink: Sink::Undecided(Some(file)),
            hasher: Sha256::new(),
            size: 0,
            level: self.level,
        })
    }

    /// Opens a stored blob for reading its plain content.
    pub fn reader(
        &self,
        sha256: &Hash,
        location: BlobLocation,
    ) -> io::Result<Box<dyn Read + Send>> {
        let file = File::open(self.path(sha256, location))?;
        Ok(match location {
            BlobLocation::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
            _ => Box::new(io::BufReader::with_capacity(WRITE_BUFFER, file)),
        })
    }

    /// Removes a blob this process just placed, when its record could not be
    /// committed: a refused ingest stores nothing.
    pub fn discard(&self, sha256: &Hash, location: BlobLocation) {
        let _ = fs::remove_file(self.path(sha256, location));
    }
}

impl crate::sequencer::ContentFiles for BlobStore {
    fn exists(&self, sha256: &Hash, location: BlobLocation) -> bool {
        self.path(sha256, location).is_file()
    }

    fn remove(&self, sha256: &Hash, location: BlobLocation) -> io::Result<()> {
        let path = self.path(sha256, location);
        fs::remove_file(&path)?;
        sync_dir(path.parent().expect("blob paths have a directory"))
    }
}

enum Sink {
    /// Nothing written yet: the first chunk decides the codec.
    Undecided(Option<File>),
    Raw(BufWriter<File>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<File>>),
}

/// A blob being written. Dropping it removes its temporary file.
pub struct BlobWriter {
    guard: TempGuard,
    sink: Sink,
    hasher: Sha256,
    size: u64,
    level: i32,
}

impl BlobWriter {
    /// Appends content. Give the first call a representative sample (tens of
    /// KiB): it decides whether compression pays for this blob.
    pub fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        if let Sink::Undecided(file) = &mut self.sink {
            let file = BufWriter::with_capacity(
                WRITE_BUFFER,
                file.take().expect("undecided sink holds its file"),
            );
            self.sink = if compression_pays(chunk) {
                Sink::Zstd(zstd::stream::write::Encoder::new(file, self.level)?)
            } else {
                Sink::Raw(file)
            };
        }
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        match &mut self.sink {
            Sink::Raw(w) => w.write_all(chunk),
            Sink::Zstd(w) => w.write_all(chunk),
            Sink::Undecided(_) => unreachable!("decided above"),
        }
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Flushes and fsyncs the temporary file; the blob is not placed yet.
    pub fn finish(self) -> io::Result<StagedBlob> {
        let BlobWriter {
            guard,
            sink,
            hasher,
            size,
            ..
        } = self;
        let (file, location) = match sink {
            Sink::Raw(w) => (
                w.into_inner().map_err(|e| e.into_error())?,
                BlobLocation::Raw,
            ),
            Sink::Zstd(w) => (
                w.finish()?.into_inner().map_err(|e| e.into_error())?,
                BlobLocation::Zstd,
            ),
            Sink::Undecided(f) => (f.expect("undecided sink holds its file"), BlobLocation::Raw),
        };
        file.sync_all()?;
        let stored_size = file.metadata()?.len();
        Ok(StagedBlob {
            guard,
            sha256: hasher.finalize().into(),
            size,
            stored_size,
            location,
        })
    }
}

/// A durable temporary blob whose digest is known, waiting to be placed.
pub struct StagedBlob {
    guard: TempGuard,
    pub sha256: Hash,
    pub size: u64,
    pub stored_size: u64,
    pub location: BlobLocation,
}

/// Where a placed blob ended up.
#[derive(Debug, Clone, Copy)]
pub struct PlacedBlob {
    pub location: BlobLocation,
    pub stored_size: u64,
    /// The same content was already stored; the new copy was dropped.
    pub deduplicated: bool,
}

impl StagedBlob {
    /// Moves the blob to its content address (or drops it when that content
    /// is already there), and makes the rename durable.
    pub fn place(mut self, store: &BlobStore) -> io::Result<PlacedBlob> {
        if let Some(location) = store.find(&self.sha256) {
            let stored_size = fs::metadata(store.path(&self.sha256, location))?.len();
            return Ok(PlacedBlob {
                location,
                stored_size,
                deduplicated: true,
            });
        }
        let tmp = self.guard.0.take().expect("staged blob holds its file");
        let dest = store.path(&self.sha256, self.location);
        if let Err(e) = fs::rename(&tmp, &dest) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        sync_dir(dest.parent().expect("blob paths have a parent"))?;
        Ok(PlacedBlob {
            location: self.location,
            stored_size: self.stored_size,
            deduplicated: false,
        })
    }
}

impl StagedBlob {
    /// Moves the blob to its content address over whatever is there (a
    /// corrupt copy being repaired), atomically, and removes a copy kept
    /// under the other codec.
    pub fn replace(mut self, store: &BlobStore) -> io::Result<PlacedBlob> {
        let tmp = self.guard.0.take().expect("staged blob holds its file");
        let dest = store.path(&self.sha256, self.location);
        if let Err(e) = fs::rename(&tmp, &dest) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        for other in [BlobLocation::Zstd, BlobLocation::Raw] {
            if other != self.location {
                let _ = fs::remove_file(store.path(&self.sha256, other));
            }
        }
        sync_dir(dest.parent().expect("blob paths have a parent"))?;
        Ok(PlacedBlob {
            location: self.location,
            stored_size: self.stored_size,
            deduplicated: false,
        })
    }
}

struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = fs::remove_file(path);
        }
    }
}

fn compression_pays(sample: &[u8]) -> bool {
    if sample.len() < 512 {
        return true;
    }
    match zstd::bulk::compress(sample, 1) {
        Ok(c) => (c.len() as f64) < sample.len() as f64 * (1.0 - MIN_SAVING),
        Err(_) => false,
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_blob(store: &BlobStore, content: &[u8]) -> (StagedBlob, Vec<u8>) {
        let mut w = store.writer().unwrap();
        for chunk in content.chunks(70_000) {
            w.write(chunk).unwrap();
        }
        (w.finish().unwrap(), content.to_vec())
    }

    fn read_back(store: &BlobStore, sha: &Hash, loc: BlobLocation) -> Vec<u8> {
        let mut out = Vec::new();
        store
            .reader(sha, loc)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn text_is_compressed_random_is_not_and_both_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), 3).unwrap();
        let text = "Délibération du conseil municipal. "
            .repeat(20_000)
            .into_bytes();
        let (staged, content) = write_blob(&store, &text);
        assert_eq!(staged.sha256, hash::sha256(&content));
        let placed = staged.place(&store).unwrap();
        assert_eq!(placed.location, BlobLocation::Zstd);
        assert!(placed.stored_size < content.len() as u64 / 10);
        assert_eq!(
            read_back(&store, &hash::sha256(&content), BlobLocation::Zstd),
            content
        );

        // xorshift64: incompressible enough, and reproducible.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let (staged, content) = write_blob(&store, &noise);
        let placed = staged.place(&store).unwrap();
        assert_eq!(placed.location, BlobLocation::Raw);
        assert_eq!(
            read_back(&store, &hash::sha256(&content), BlobLocation::Raw),
            content
        );
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn identical_content_is_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), 3).unwrap();
        let content = vec![42u8; 200_000];
        let first = write_blob(&store, &content).0.place(&store).unwrap();
        let second = write_blob(&store, &content).0.place(&store).unwrap();
        assert!(!first.deduplicated);
        assert!(second.deduplicated);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn dropped_writers_leave_nothing_and_stale_temps_are_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), 3).unwrap();
        let mut w = store.writer().unwrap();
        w.write(&[1u8; 100_000]).unwrap();
        drop(w);
        let staged = write_blob(&store, &[2u8; 100_000]).0;
        drop(staged);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);

        fs::write(dir.path().join("tmp/leftover"), b"x").unwrap();
        BlobStore::open(dir.path(), 3).unwrap();
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
