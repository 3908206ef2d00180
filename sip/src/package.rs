//! Opening a transfer package (zip, tar or tar.gz) safely: limits against
//! archive bombs, path checks, and locating the manifest.

use std::cell::Cell;
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::error::{code, Rejection};

/// Bounds applied while opening and reading a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most entries (files and directories) a package may hold.
    pub max_entries: usize,
    /// Most uncompressed bytes, all entries together.
    pub max_total_size: u64,
    /// Highest uncompressed/compressed ratio of an entry (zip) or of the
    /// whole stream (tar.gz)...
    pub max_ratio: u64,
    /// ...checked only for entries (or streams) larger than this.
    pub ratio_min_size: u64,
    /// Longest entry name, in bytes.
    pub max_path_len: usize,
    /// Largest manifest, in bytes (it is held in memory).
    pub max_manifest_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 100_000,
            max_total_size: 64 << 30,
            max_ratio: 250,
            ratio_min_size: 1 << 20,
            max_path_len: 1024,
            max_manifest_size: 64 << 20,
        }
    }
}

/// Container format, detected from the first bytes of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Zip,
    Tar,
    TarGz,
}

/// One entry of the package listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Normalised name: no leading `./`, no trailing `/`.
    pub name: String,
    /// Uncompressed size as declared by the container.
    pub size: u64,
    pub is_dir: bool,
}

/// An opened package: its listing and its manifest, checked against
/// [`Limits`]. File contents are read on demand, streamed.
#[derive(Debug)]
pub struct Package {
    path: PathBuf,
    format: Format,
    limits: Limits,
    entries: Vec<Entry>,
    manifest_name: String,
    /// The manifest is the entry `manifest_name` of the package (always,
    /// unless the package was opened with [`Package::open_split`] and holds
    /// no copy of it).
    manifest_in_package: bool,
    manifest: Vec<u8>,
    other_candidates: Vec<String>,
}

/// Name given to a manifest received apart from its files.
pub const SPLIT_MANIFEST_NAME: &str = "manifest.xml";

fn unreadable(path: &Path, e: impl std::fmt::Display) -> Rejection {
    Rejection::new(
        code::UNREADABLE_PACKAGE,
        format!("cannot read package {}: {e}", path.display()),
    )
}

fn bomb(msg: impl Into<String>) -> Rejection {
    Rejection::new(code::ARCHIVE_BOMB, msg)
}

/// Checks one path (an entry name or a declared Uri): relative, inside the
/// package, forward slashes only, bounded length.
pub fn check_path(name: &str, max_len: usize) -> Result<(), Rejection> {
    let unsafe_path = |why: &str| {
        Err(Rejection::new(
            code::UNSAFE_PATH,
            format!("path {name:?} {why}"),
        ))
    };
    if name.is_empty() {
        return unsafe_path("is empty");
    }
    if name.len() > max_len {
        return unsafe_path(&format!("is longer than {max_len} bytes"));
    }
    if name.starts_with('/') {
        return unsafe_path("is absolute");
    }
    if name.contains('\\') {
        return unsafe_path("contains a backslash");
    }
    if name.contains('\0') || name.chars().any(char::is_control) {
        return unsafe_path("contains a control character");
    }
    for part in name.split('/') {
        match part {
            ".." => return unsafe_path("escapes the package (`..`)"),
            "." | "" => return unsafe_path("has an empty or `.` component"),
            p if p.contains(':') && name.split('/').next() == Some(p) => {
                return unsafe_path("starts with a drive or scheme prefix")
            }
            _ => {}
        }
    }
    Ok(())
}

/// Counts bytes going through a reader and fails once `limit` is passed.
struct Guard<R> {
    inner: R,
    count: u64,
    limit: u64,
    tripped: Rc<Cell<bool>>,
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if self.count > self.limit {
            self.tripped.set(true);
            return Err(io::Error::other("size limit exceeded"));
        }
        Ok(n)
    }
}

fn detect(path: &Path) -> Result<Format, Rejection> {
    let mut f = File::open(path).map_err(|e| unreadable(path, e))?;
    let mut head = [0u8; 512];
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(unreadable(path, e)),
        }
    }
    let head = &head[..got];
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Ok(Format::Zip)
    } else if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Format::TarGz)
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        Ok(Format::Tar)
    } else {
        Err(Rejection::new(
            code::UNSUPPORTED_PACKAGE,
            format!(
                "{} is neither a zip, a tar nor a tar.gz package",
                path.display()
            ),
        ))
    }
}

/// Strips what tar writers commonly prepend/append; everything else is
/// left for [`check_path`] to judge.
fn normalise(raw: &str) -> (String, bool) {
    let is_dir = raw.ends_with('/');
    let mut name = raw.trim_end_matches('/');
    while let Some(rest) = name.strip_prefix("./") {
        name = rest;
    }
    // `tar -C dir .` lists the root itself as "./".
    if name == "." {
        name = "";
    }
    (name.to_string(), is_dir)
}

/// Detects the format and lists the entries under `limits`, refusing
/// duplicate names.
fn list(path: &Path, limits: &Limits) -> Result<(Format, Vec<Entry>), Rejection> {
    let format = detect(path)?;
    let entries = match format {
        Format::Zip => list_zip(path, limits)?,
        Format::Tar | Format::TarGz => list_tar(path, format, limits)?,
    };
    let mut seen = HashSet::new();
    for e in &entries {
        if !seen.insert(e.name.as_str()) {
            return Err(Rejection::new(
                code::DUPLICATE_ENTRY,
                format!("entry {:?} appears more than once", e.name),
            ));
        }
    }
    Ok((format, entries))
}

/// Files at the root whose name ends in `.xml`, by name: the candidate
/// manifests.
fn root_xml(entries: &[Entry]) -> Vec<&Entry> {
    let mut candidates: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            !e.is_dir && !e.name.contains('/') && e.name.to_ascii_lowercase().ends_with(".xml")
        })
        .collect();
    candidates.sort_by(|a, b| a.name.cmp(&b.name));
    candidates
}

impl Package {
    /// Opens `path`, lists it under `limits`, and reads its manifest.
    pub fn open(path: impl AsRef<Path>, limits: Limits) -> Result<Package, Rejection> {
        let path = path.as_ref();
        let (format, entries) = list(path, &limits)?;
        let candidates = root_xml(&entries);
        let manifest_entry = match candidates.as_slice() {
            [] => {
                return Err(Rejection::new(
                    code::MISSING_MANIFEST,
                    format!("no manifest (*.xml) at the root of {}", path.display()),
                ))
            }
            [one] => *one,
            many => match many.iter().find(|e| e.name == "manifest.xml") {
                Some(m) => *m,
                None => {
                    let names: Vec<&str> = many.iter().map(|e| e.name.as_str()).collect();
                    return Err(Rejection::new(
                        code::MULTIPLE_MANIFESTS,
                        format!(
                            "several candidate manifests at the root: {}",
                            names.join(", ")
                        ),
                    ));
                }
            },
        };
        if manifest_entry.size > limits.max_manifest_size {
            return Err(bomb(format!(
                "manifest {} is {} bytes, more than {}",
                manifest_entry.name, manifest_entry.size, limits.max_manifest_size
            )));
        }
        let manifest_name = manifest_entry.name.clone();
        let other_candidates = candidates
            .iter()
            .filter(|e| e.name != manifest_name)
            .map(|e| e.name.clone())
            .collect();
        let mut pkg = Package {
            path: path.to_path_buf(),
            format,
            limits,
            entries,
            manifest_name,
            manifest_in_package: true,
            manifest: Vec::new(),
            other_candidates,
        };
        let name = pkg.manifest_name.clone();
        let mut bytes = Vec::new();
        pkg.read_entry(&name, |r| r.read_to_end(&mut bytes).map(|_| ()))?;
        pkg.manifest = bytes;
        Ok(pkg)
    }

    /// Opens a package whose manifest came apart from its files (As@lae
    /// and Pastell send the manifest, then an archive of the files):
    /// `path` (zip, tar or tar.gz) is listed and checked under `limits`
    /// exactly as by [`Package::open`], and `manifest` is the manifest.
    ///
    /// The archive need not hold the manifest. A copy of it at the root
    /// (same bytes) is accepted and treated as the manifest entry; any
    /// other file must be declared by the manifest, as in a whole package.
    pub fn open_split(
        path: impl AsRef<Path>,
        manifest: Vec<u8>,
        limits: Limits,
    ) -> Result<Package, Rejection> {
        let path = path.as_ref();
        if manifest.len() as u64 > limits.max_manifest_size {
            return Err(bomb(format!(
                "the manifest is {} bytes, more than {}",
                manifest.len(),
                limits.max_manifest_size
            )));
        }
        let (format, entries) = list(path, &limits)?;
        let mut pkg = Package {
            path: path.to_path_buf(),
            format,
            limits,
            manifest_name: SPLIT_MANIFEST_NAME.to_owned(),
            manifest_in_package: false,
            manifest,
            other_candidates: Vec::new(),
            entries: Vec::new(),
        };
        let candidates: Vec<String> = root_xml(&entries)
            .into_iter()
            .map(|e| e.name.clone())
            .collect();
        pkg.entries = entries;
        // A copy of the manifest among the candidates, read only when its
        // size matches.
        let size_of = |name: &str| pkg.entries.iter().find(|e| e.name == name).map(|e| e.size);
        let mut copy = None;
        for name in &candidates {
            if size_of(name) != Some(pkg.manifest.len() as u64) {
                continue;
            }
            let mut bytes = Vec::with_capacity(pkg.manifest.len());
            pkg.read_entry(name, |r| r.read_to_end(&mut bytes).map(|_| ()))?;
            if bytes == pkg.manifest {
                copy = Some(name.clone());
                break;
            }
        }
        // Any other XML file at the root is an ordinary file: declared, or
        // refused as undeclared.
        if let Some(name) = copy {
            pkg.manifest_name = name;
            pkg.manifest_in_package = true;
        }
        Ok(pkg)
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Every entry, directories included, in container order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Name of the manifest entry (e.g. `manifest.xml`); for a manifest
    /// received apart from its files and not found in the archive,
    /// [`SPLIT_MANIFEST_NAME`].
    pub fn manifest_name(&self) -> &str {
        &self.manifest_name
    }

    /// Whether the entry `name` of the package is the manifest itself
    /// (then it is neither a candidate manifest nor an undeclared file).
    pub fn is_manifest_entry(&self, name: &str) -> bool {
        self.manifest_in_package && name == self.manifest_name
    }

    /// The manifest, as found in the package.
    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest
    }

    /// Other root-level `*.xml` files besides the manifest: accepted only
    /// if the manifest declares them as data objects.
    pub fn other_manifest_candidates(&self) -> &[String] {
        &self.other_candidates
    }

    /// Streams one file entry through `f`. The reader fails if the entry
    /// yields more bytes than the container declared.
    pub fn read_entry<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut dyn Read) -> io::Result<T>,
    ) -> Result<T, Rejection> {
        let mut f = Some(f);
        let mut out = None;
        self.scan::<Rejection>(Some(name), &mut |_, r| {
            if let Some(f) = f.take() {
                out = Some(f(r));
            }
            Ok(())
        })?;
        match out {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(unreadable(&self.path, format!("{name}: {e}"))),
            None => Err(Rejection::new(
                code::MISSING_FILE,
                format!("{name} is not in the package"),
            )),
        }
    }

    /// Streams every file entry (directories skipped), in container order,
    /// through `f`. Each reader is bounded by the entry's declared size: an
    /// entry yielding more ends the scan as an archive bomb, whatever `f`
    /// returned.
    pub(crate) fn scan<E: From<Rejection>>(
        &self,
        only: Option<&str>,
        f: &mut dyn FnMut(&Entry, &mut dyn Read) -> Result<(), E>,
    ) -> Result<(), E> {
        let tripped = Rc::new(Cell::new(false));
        let result = match self.format {
            Format::Zip => self.scan_zip(only, f, &tripped),
            Format::Tar | Format::TarGz => self.scan_tar(only, f, &tripped),
        };
        match result {
            Err(_) if tripped.get() => Err(bomb(format!(
                "{}: an entry yields more bytes than declared",
                self.path.display()
            ))
            .into()),
            r => r,
        }
    }

    fn scan_zip<E: From<Rejection>>(
        &self,
        only: Option<&str>,
        f: &mut dyn FnMut(&Entry, &mut dyn Read) -> Result<(), E>,
        tripped: &Rc<Cell<bool>>,
    ) -> Result<(), E> {
        let file = File::open(&self.path).map_err(|e| unreadable(&self.path, e))?;
        let mut zip =
            zip::ZipArchive::new(BufReader::new(file)).map_err(|e| unreadable(&self.path, e))?;
        for (i, entry) in self.entries.iter().enumerate() {
            if entry.is_dir || only.is_some_and(|n| n != entry.name) {
                continue;
            }
            let zf = zip.by_index(i).map_err(|e| unreadable(&self.path, e))?;
            let mut guarded = Guard {
                inner: zf,
                count: 0,
                limit: entry.size,
                tripped: tripped.clone(),
            };
            f(entry, &mut guarded)?;
            if tripped.get() {
                return Err(bomb(format!(
                    "entry {} yields more bytes than declared",
                    entry.name
                ))
                .into());
            }
        }
        Ok(())
    }

    fn scan_tar<E: From<Rejection>>(
        &self,
        only: Option<&str>,
        f: &mut dyn FnMut(&Entry, &mut dyn Read) -> Result<(), E>,
        tripped: &Rc<Cell<bool>>,
    ) -> Result<(), E> {
        let file = File::open(&self.path).map_err(|e| unreadable(&self.path, e))?;
        let reader = tar_stream(file, self.format, &self.limits, tripped.clone());
        let mut archive = tar::Archive::new(reader);
        let iter = archive.entries().map_err(|e| unreadable(&self.path, e))?;
        let mut files = self.entries.iter();
        for te in iter {
            let mut te = te.map_err(|e| unreadable(&self.path, e))?;
            if te.header().entry_type().is_dir() {
                continue;
            }
            let Some(entry) = files.by_ref().find(|e| !e.is_dir) else {
                break;
            };
            if only.is_some_and(|n| n != entry.name) {
                continue;
            }
            let mut guarded = Guard {
                inner: &mut te,
                count: 0,
                limit: entry.size,
                tripped: tripped.clone(),
            };
            f(entry, &mut guarded)?;
            if only.is_some() {
                break;
            }
        }
        Ok(())
    }
}

fn tar_stream(
    file: File,
    format: Format,
    limits: &Limits,
    tripped: Rc<Cell<bool>>,
) -> Box<dyn Read> {
    // Headers and padding come on top of the content.
    let overhead = (limits.max_entries as u64 + 4) * 1536;
    let inner: Box<dyn Read> = match format {
        Format::TarGz => Box::new(flate2::read::GzDecoder::new(BufReader::new(file))),
        _ => Box::new(BufReader::new(file)),
    };
    Box::new(Guard {
        inner,
        count: 0,
        limit: limits.max_total_size.saturating_add(overhead),
        tripped,
    })
}

fn list_zip(path: &Path, limits: &Limits) -> Result<Vec<Entry>, Rejection> {
    let file = File::open(path).map_err(|e| unreadable(path, e))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| unreadable(path, e))?;
    if zip.len() > limits.max_entries {
        return Err(bomb(format!(
            "{} entries, more than {}",
            zip.len(),
            limits.max_entries
        )));
    }
    // The zip reader keeps one entry per name: a name listed twice in the
    // central directory would hide one of them. Count the raw records.
    if let Some(names) = central_directory_names(path)? {
        if names.len() != zip.len() {
            let mut seen = HashSet::new();
            let dup = names
                .iter()
                .find(|n| !seen.insert(n.as_str()))
                .cloned()
                .unwrap_or_default();
            return Err(Rejection::new(
                code::DUPLICATE_ENTRY,
                format!("entry {dup:?} appears more than once"),
            ));
        }
    }
    let mut entries = Vec::with_capacity(zip.len());
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let zf = zip.by_index_raw(i).map_err(|e| unreadable(path, e))?;
        let raw = String::from_utf8_lossy(zf.name_raw()).into_owned();
        let (name, slash) = normalise(&raw);
        check_path(&name, limits.max_path_len).map_err(|r| {
            if name.is_empty() {
                Rejection::new(
                    code::UNSAFE_PATH,
                    format!("entry {raw:?} has an empty name"),
                )
            } else {
                r
            }
        })?;
        if raw.starts_with('/') || raw.contains("\\") {
            check_path(&raw, limits.max_path_len)?;
        }
        let is_dir = slash || zf.is_dir();
        let mode = zf.unix_mode().unwrap_or(0);
        if mode & 0o170000 == 0o120000 {
            return Err(Rejection::new(
                code::UNSAFE_PATH,
                format!("entry {name:?} is a symbolic link"),
            ));
        }
        let size = zf.size();
        let compressed = zf.compressed_size();
        if !is_dir
            && size > limits.ratio_min_size
            && size > compressed.saturating_mul(limits.max_ratio)
        {
            return Err(bomb(format!(
                "entry {name} expands {size} bytes from {compressed}: ratio above {}",
                limits.max_ratio
            )));
        }
        total = total.saturating_add(size);
        if total > limits.max_total_size {
            return Err(bomb(format!(
                "more than {} uncompressed bytes (at entry {name})",
                limits.max_total_size
            )));
        }
        entries.push(Entry { name, size, is_dir });
    }
    Ok(entries)
}

fn list_tar(path: &Path, format: Format, limits: &Limits) -> Result<Vec<Entry>, Rejection> {
    let tripped = Rc::new(Cell::new(false));
    let mut file = File::open(path).map_err(|e| unreadable(path, e))?;
    let compressed_len = file
        .seek(SeekFrom::End(0))
        .map_err(|e| unreadable(path, e))?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| unreadable(path, e))?;
    let counted = Rc::new(Cell::new(0u64));
    let reader = CountingReader {
        inner: tar_stream(file, format, limits, tripped.clone()),
        count: counted.clone(),
    };
    let mut archive = tar::Archive::new(reader);
    let mut entries = Vec::new();
    let mut total: u64 = 0;
    let res: Result<(), Rejection> = (|| {
        for te in archive.entries().map_err(|e| unreadable(path, e))? {
            let te = te.map_err(|e| unreadable(path, e))?;
            if entries.len() >= limits.max_entries {
                return Err(bomb(format!("more than {} entries", limits.max_entries)));
            }
            let raw = String::from_utf8_lossy(&te.path_bytes()).into_owned();
            let kind = te.header().entry_type();
            let (name, slash) = normalise(&raw);
            if name.is_empty() && kind.is_dir() {
                continue; // the "./" root itself
            }
            if raw.starts_with('/') {
                check_path(&raw, limits.max_path_len)?;
            }
            check_path(&name, limits.max_path_len)?;
            let is_dir = kind.is_dir() || slash;
            if !is_dir && !kind.is_file() {
                return Err(Rejection::new(
                    code::UNSAFE_PATH,
                    format!("entry {name:?} is not a regular file or directory"),
                ));
            }
            let size = if is_dir { 0 } else { te.size() };
            total = total.saturating_add(size);
            if total > limits.max_total_size {
                return Err(bomb(format!(
                    "more than {} uncompressed bytes (at entry {name})",
                    limits.max_total_size
                )));
            }
            entries.push(Entry { name, size, is_dir });
        }
        Ok(())
    })();
    if tripped.get() {
        return Err(bomb(format!(
            "{} expands beyond {} bytes",
            path.display(),
            limits.max_total_size
        )));
    }
    res?;
    let expanded = counted.get();
    if format == Format::TarGz
        && expanded > limits.ratio_min_size
        && expanded > compressed_len.saturating_mul(limits.max_ratio)
    {
        return Err(bomb(format!(
            "{} expands {expanded} bytes from {compressed_len}: ratio above {}",
            path.display(),
            limits.max_ratio
        )));
    }
    Ok(entries)
}

struct CountingReader<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Names in the central directory, read raw; None for zip64 archives
/// (whose counts this reader does not decode).
fn central_directory_names(path: &Path) -> Result<Option<Vec<String>>, Rejection> {
    let mut f = File::open(path).map_err(|e| unreadable(path, e))?;
    let len = f.seek(SeekFrom::End(0)).map_err(|e| unreadable(path, e))?;
    let tail_len = len.min(65_557);
    f.seek(SeekFrom::Start(len - tail_len))
        .map_err(|e| unreadable(path, e))?;
    let mut tail = vec![0u8; tail_len as usize];
    f.read_exact(&mut tail).map_err(|e| unreadable(path, e))?;
    let Some(eocd) = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..].starts_with(b"PK\x05\x06"))
    else {
        return Err(unreadable(path, "no end of central directory"));
    };
    let u16_at = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let count = u16_at(&tail, eocd + 10);
    let cd_size = u32_at(&tail, eocd + 12);
    let cd_offset = u32_at(&tail, eocd + 16);
    if count == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF {
        return Ok(None);
    }
    if u64::from(cd_offset) + u64::from(cd_size) > len {
        return Err(unreadable(path, "central directory out of bounds"));
    }
    f.seek(SeekFrom::Start(u64::from(cd_offset)))
        .map_err(|e| unreadable(path, e))?;
    let mut cd = vec![0u8; cd_size as usize];
    f.read_exact(&mut cd).map_err(|e| unreadable(path, e))?;
    let mut names = Vec::with_capacity(usize::from(count));
    let mut i = 0usize;
    while i + 46 <= cd.len() && cd[i..].starts_with(b"PK\x01\x02") {
        let n = usize::from(u16_at(&cd, i + 28));
        let extra = usize::from(u16_at(&cd, i + 30));
        let comment = usize::from(u16_at(&cd, i + 32));
        let Some(name) = cd.get(i + 46..i + 46 + n) else {
            return Err(unreadable(path, "truncated central directory"));
        };
        names.push(normalise(&String::from_utf8_lossy(name)).0);
        i += 46 + n + extra + comment;
    }
    Ok(Some(names))
}
