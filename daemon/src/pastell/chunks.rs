//! Uploads of the Pastell endpoint: the spool directory, its bounded
//! budget, and chunked sessions.
//!
//! A package comes whole (`attachments`) or in chunks: `POST
//! /sedaMessages` with `send_chunked_attachments=true` opens a session
//! (identifier and security identifier), then each `POST
//! /sedaAttachmentsChunkFiles` appends chunk `chunk_index` (from 1) of
//! `number_of_chunks` to the session's file, strictly in order; the last
//! one closes the session and the package is imported.
//!
//! Everything spooled counts against one budget (`max_spool_size`); a
//! session holds at most `max_package_size` bytes and expires when no chunk
//! came for `chunk_session_timeout_seconds`. A refused chunk is removed
//! from the session's file: the session is left as it was before the
//! chunk; a client gone in the middle of a chunk ends its session. Files
//! (each session's manifest too) live in `<data dir>/spool/pastell/`,
//! emptied at each start.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::multipart::Field;
use axum::http::StatusCode;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::auth::Account;
use super::http::{multipart_error, ApiError};

/// Sessions open at once.
const MAX_SESSIONS: usize = 64;

/// The bytes the spool may hold, all uploads together.
struct Budget {
    limit: u64,
    used: Mutex<u64>,
}

/// Bytes taken from the budget, given back when dropped.
pub struct Reservation {
    budget: Arc<Budget>,
    bytes: u64,
}

impl Reservation {
    fn grow(&mut self, n: u64) -> Result<(), ApiError> {
        let mut used = self.budget.used.lock().unwrap();
        if *used + n > self.budget.limit {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "spool_full",
                format!(
                    "the uploads in progress already fill the spool ({} bytes, max_spool_size): retry later",
                    self.budget.limit
                ),
            ));
        }
        *used += n;
        self.bytes += n;
        Ok(())
    }

    fn absorb(&mut self, mut other: Reservation) {
        self.bytes += std::mem::take(&mut other.bytes);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        *self.budget.used.lock().unwrap() -= self.bytes;
    }
}

/// A received package file, removed when dropped.
pub struct Spooled {
    file: tempfile::TempPath,
    _reservation: Reservation,
}

impl Spooled {
    pub fn path(&self) -> &Path {
        &self.file
    }
}

/// The spool and the chunked sessions.
pub struct Chunks {
    dir: PathBuf,
    budget: Arc<Budget>,
    max_package_size: u64,
    timeout: Duration,
    sessions: Mutex<HashMap<String, Session>>,
}

/// A chunked upload in progress.
struct Session {
    actor: String,
    security: String,
    /// The manifest, spooled too (it may be large, and sessions many).
    manifest: tempfile::TempPath,
    message_identifier: String,
    file: tempfile::TempPath,
    reservation: Reservation,
    received: u64,
    /// The chunk expected next, from 1.
    next: u64,
    number_of_chunks: Option<u64>,
    /// A chunk is being written.
    busy: bool,
    last_seen: Instant,
}

/// What a session was opened for.
pub struct Opened {
    pub session_identifier: String,
    pub security_identifier: String,
}

/// The fields of a chunk, as sent before its content.
#[derive(Debug, Default)]
pub struct ChunkFields {
    pub session_identifier: Option<String>,
    pub security_identifier: Option<String>,
    pub number_of_files: Option<String>,
    pub file_index: Option<String>,
    pub file_name: Option<String>,
    pub compression_algorithm: Option<String>,
    pub number_of_chunks: Option<String>,
    pub chunk_index: Option<String>,
}

/// A chunk checked against its session, ready to receive.
struct Checked {
    session: String,
    security: String,
    index: u64,
    count: u64,
}

/// After a chunk: the session goes on, or it is complete.
pub enum Progress {
    Partial {
        chunk_index: u64,
        number_of_chunks: u64,
        received: u64,
    },
    Complete(Complete),
}

/// A complete package: its manifest and the file of its attachments
/// (removed when dropped).
pub struct Complete {
    pub manifest: tempfile::TempPath,
    pub files: Spooled,
    pub number_of_chunks: u64,
    pub received: u64,
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "package_too_large",
        format!("the package is larger than {limit} bytes (max_package_size)"),
    )
}

fn storage(e: io::Error) -> ApiError {
    ApiError::from(crate::error::Error::Storage(format!(
        "cannot spool the upload: {e}"
    )))
}

/// Compares two identifiers without an early exit on the first
/// difference.
fn same(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    let diff = x
        .iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q));
    std::hint::black_box(diff) == 0
}

fn number(field: &'static str, value: &Option<String>) -> Result<Option<u64>, ApiError> {
    value
        .as_deref()
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| bad("invalid_field", format!("{field} {v:?} is not a number")))
        })
        .transpose()
}

impl ChunkFields {
    /// Records one text field; false if it is not a chunk field.
    pub fn set(&mut self, name: &str, value: String) -> Result<bool, ApiError> {
        let slot = match name {
            "session_identifier" => &mut self.session_identifier,
            "security_identifier" => &mut self.security_identifier,
            "number_of_files" => &mut self.number_of_files,
            "file_index" => &mut self.file_index,
            "file_name" => &mut self.file_name,
            "compression_algorithm" => &mut self.compression_algorithm,
            "number_of_chunks" => &mut self.number_of_chunks,
            "chunk_index" => &mut self.chunk_index,
            _ => return Ok(false),
        };
        if slot.is_some() {
            return Err(bad(
                "duplicate_field",
                format!("field {name} is sent twice"),
            ));
        }
        *slot = Some(value);
        Ok(true)
    }

    fn check(&self) -> Result<Checked, ApiError> {
        let missing = |f: &str| {
            bad(
                "missing_field",
                format!("field {f} is missing: send every field before chunk_content"),
            )
        };
        let session = self
            .session_identifier
            .clone()
            .ok_or_else(|| missing("session_identifier"))?;
        let security = self
            .security_identifier
            .clone()
            .ok_or_else(|| missing("security_identifier"))?;
        let index =
            number("chunk_index", &self.chunk_index)?.ok_or_else(|| missing("chunk_index"))?;
        let count = number("number_of_chunks", &self.number_of_chunks)?
            .ok_or_else(|| missing("number_of_chunks"))?;
        if count == 0 || index == 0 || index > count {
            return Err(bad(
                "invalid_field",
                format!("chunk_index {index} of number_of_chunks {count}: chunks count from 1"),
            ));
        }
        for (f, v) in [
            (
                "number_of_files",
                number("number_of_files", &self.number_of_files)?,
            ),
            ("file_index", number("file_index", &self.file_index)?),
        ] {
            if v.is_some_and(|v| v != 1) {
                return Err(bad(
                    "invalid_field",
                    format!("{f} must be 1: a transfer's attachments are one archive"),
                ));
            }
        }
        if let Some(c) = &self.compression_algorithm {
            if !c.trim().eq_ignore_ascii_case("TARGZ") {
                return Err(bad(
                    "unsupported_compression",
                    format!("compression_algorithm {c:?} is not supported: the chunks make one TARGZ archive"),
                ));
            }
        }
        Ok(Checked {
            session,
            security,
            index,
            count,
        })
    }
}

impl Chunks {
    /// Prepares `dir` (created, emptied of what a previous run left).
    pub fn open(
        dir: PathBuf,
        max_package_size: u64,
        max_spool_size: u64,
        timeout: Duration,
    ) -> io::Result<Chunks> {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        Ok(Chunks {
            dir,
            budget: Arc::new(Budget {
                limit: max_spool_size,
                used: Mutex::new(0),
            }),
            max_package_size,
            timeout,
            sessions: Mutex::new(HashMap::new()),
        })
    }

    fn reservation(&self) -> Reservation {
        Reservation {
            budget: self.budget.clone(),
            bytes: 0,
        }
    }

    fn temp(&self, prefix: &str) -> Result<tempfile::TempPath, ApiError> {
        Ok(tempfile::Builder::new()
            .prefix(prefix)
            .tempfile_in(&self.dir)
            .map_err(storage)?
            .into_temp_path())
    }

    /// Receives a whole package (the `attachments` field).
    pub async fn receive(&self, mut field: Field<'_>) -> Result<Spooled, ApiError> {
        let path = self.temp("upload-")?;
        let mut reservation = self.reservation();
        let mut file = tokio::fs::File::create(&path).await.map_err(storage)?;
        let mut size: u64 = 0;
        while let Some(bytes) = field.chunk().await.map_err(multipart_error)? {
            size += bytes.len() as u64;
            if size > self.max_package_size {
                return Err(too_large(self.max_package_size));
            }
            reservation.grow(bytes.len() as u64)?;
            file.write_all(&bytes).await.map_err(storage)?;
        }
        file.flush().await.map_err(storage)?;
        if size == 0 {
            return Err(bad("empty_attachments", "attachments is empty"));
        }
        Ok(Spooled {
            file: path,
            _reservation: reservation,
        })
    }

    /// Opens a session for a package whose attachments come in chunks.
    pub async fn open_session(
        &self,
        account: &Account,
        manifest: Vec<u8>,
        message_identifier: &str,
    ) -> Result<Opened, ApiError> {
        self.expire();
        let too_many = || {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_sessions",
                format!("{MAX_SESSIONS} chunked uploads are in progress: retry later"),
            )
        };
        if self.sessions.lock().unwrap().len() >= MAX_SESSIONS {
            return Err(too_many());
        }
        let mut reservation = self.reservation();
        reservation.grow(manifest.len() as u64)?;
        let manifest_path = self.temp("manifest-")?;
        tokio::fs::write(&manifest_path, &manifest)
            .await
            .map_err(storage)?;
        let file = self.temp("chunks-")?;
        let session_identifier = hex::encode(rand::random::<[u8; 16]>());
        let security_identifier = hex::encode(rand::random::<[u8; 16]>());
        let mut sessions = self.sessions.lock().unwrap();
        if sessions.len() >= MAX_SESSIONS {
            return Err(too_many());
        }
        sessions.insert(
            session_identifier.clone(),
            Session {
                actor: account.actor.clone(),
                security: security_identifier.clone(),
                manifest: manifest_path,
                message_identifier: message_identifier.to_owned(),
                file,
                reservation,
                received: 0,
                next: 1,
                number_of_chunks: None,
                busy: false,
                last_seen: Instant::now(),
            },
        );
        Ok(Opened {
            session_identifier,
            security_identifier,
        })
    }

    /// Receives one chunk (`chunk_content`) described by `fields`.
    pub async fn receive_chunk(
        &self,
        account: &Account,
        fields: &ChunkFields,
        mut field: Field<'_>,
    ) -> Result<Progress, ApiError> {
        let c = fields.check()?;
        self.expire();
        let (path, start) = self.begin(account, &c)?;
        // From here the session is busy: freed when `writing` is committed
        // or dropped, whatever happens to the chunk.
        let mut writing = Writing {
            chunks: self,
            session: c.session.clone(),
            path: path.clone(),
            start,
            reservation: Some(self.reservation()),
            committed: false,
            settled: true,
        };
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .await
            .map_err(storage)?;
        let result: Result<(), ApiError> = async {
            file.seek(io::SeekFrom::Start(start))
                .await
                .map_err(storage)?;
            writing.settled = false;
            let mut size = start;
            while let Some(bytes) = field.chunk().await.map_err(multipart_error)? {
                size += bytes.len() as u64;
                if size > self.max_package_size {
                    return Err(too_large(self.max_package_size));
                }
                let r = writing.reservation.as_mut().expect("until committed");
                r.grow(bytes.len() as u64)?;
                file.write_all(&bytes).await.map_err(storage)?;
            }
            file.flush().await.map_err(storage)?;
            if size == start {
                return Err(bad("empty_chunk", "chunk_content is empty"));
            }
            Ok(())
        }
        .await;
        // A write still in flight lands before the file is cut back.
        let flushed = file.flush().await;
        drop(file);
        writing.settled = flushed.is_ok();
        result?;
        flushed.map_err(storage)?;
        writing.commit(&c)
    }

    /// Checks a chunk against its session and marks the session busy;
    /// the session file's path and the chunk's offset.
    fn begin(&self, account: &Account, c: &Checked) -> Result<(PathBuf, u64), ApiError> {
        let mut sessions = self.sessions.lock().unwrap();
        let unknown = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_session",
                format!(
                    "no chunked upload {} is open (finished, expired or never opened): send the package again",
                    c.session
                ),
            )
        };
        let s = sessions.get_mut(&c.session).ok_or_else(unknown)?;
        if s.actor != account.actor {
            return Err(unknown());
        }
        if !same(&s.security, &c.security) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_security_identifier",
                "security_identifier does not match the session's chunk_security_identifier",
            ));
        }
        if s.busy {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "chunk_in_progress",
                "another chunk of this session is being received: send the chunks one after the other",
            ));
        }
        if let Some(n) = s.number_of_chunks {
            if n != c.count {
                return Err(bad(
                    "invalid_field",
                    format!(
                        "number_of_chunks is {}, it was {n} for the first chunk",
                        c.count
                    ),
                ));
            }
        }
        if c.index != s.next {
            let why = if c.index < s.next {
                "was already received"
            } else {
                "comes out of order"
            };
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "chunk_out_of_order",
                format!(
                    "chunk {} {why}: chunk {} of {} is expected",
                    c.index, s.next, c.count
                ),
            ));
        }
        s.busy = true;
        s.last_seen = Instant::now();
        Ok((s.file.to_path_buf(), s.received))
    }

    /// Removes the sessions idle for longer than the timeout.
    pub fn expire(&self) {
        let now = Instant::now();
        let mut sessions = self.sessions.lock().unwrap();
        sessions.retain(|id, s| {
            let keep = s.busy || now.duration_since(s.last_seen) < self.timeout;
            if !keep {
                tracing::info!(
                    session = %id,
                    transfer = %s.message_identifier,
                    actor = %s.actor,
                    "chunked upload expired after {} s without a chunk",
                    self.timeout.as_secs()
                );
            }
            keep
        });
    }
}

/// A chunk being written: on drop without commit, the session's file is
/// cut back to where the chunk began and the session freed; if the chunk
/// was abandoned mid-write (the client went away), with a write perhaps
/// still in flight, the session ends instead.
struct Writing<'a> {
    chunks: &'a Chunks,
    session: String,
    path: PathBuf,
    start: u64,
    reservation: Option<Reservation>,
    committed: bool,
    /// Every write of the chunk has landed.
    settled: bool,
}

impl Writing<'_> {
    fn commit(mut self, c: &Checked) -> Result<Progress, ApiError> {
        let mut sessions = self.chunks.sessions.lock().unwrap();
        let s = sessions
            .get_mut(&self.session)
            .expect("a busy session is never removed");
        let written = self.reservation.as_ref().map_or(0, |r| r.bytes);
        s.reservation
            .absorb(self.reservation.take().expect("committed once"));
        s.received += written;
        s.next = c.index + 1;
        s.number_of_chunks = Some(c.count);
        s.busy = false;
        s.last_seen = Instant::now();
        self.committed = true;
        if c.index < c.count {
            return Ok(Progress::Partial {
                chunk_index: c.index,
                number_of_chunks: c.count,
                received: s.received,
            });
        }
        let s = sessions.remove(&self.session).expect("present");
        Ok(Progress::Complete(Complete {
            manifest: s.manifest,
            files: Spooled {
                file: s.file,
                _reservation: s.reservation,
            },
            number_of_chunks: c.count,
            received: s.received,
        }))
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let cut = if self.settled {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&self.path)
                .and_then(|f| f.set_len(self.start))
        } else {
            Err(io::Error::other(
                "the chunk was abandoned while being written",
            ))
        };
        let mut sessions = self.chunks.sessions.lock().unwrap();
        match cut {
            Ok(()) => {
                if let Some(s) = sessions.get_mut(&self.session) {
                    s.busy = false;
                    s.last_seen = Instant::now();
                }
            }
            Err(e) => {
                tracing::warn!(session = %self.session, error = %e, "chunked upload abandoned");
                sessions.remove(&self.session);
            }
        }
    }
}
