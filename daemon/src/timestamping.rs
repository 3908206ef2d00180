//! RFC 3161 time-stamps of checkpoints (docs/timestamps.md).
//!
//! With a `[timestamping]` section, a background task asks the configured
//! time-stamping authority (TSA), at start and then every interval, to
//! time-stamp the latest signed checkpoint, if the log grew since the last
//! time-stamp. The token is recorded in the log as a `timestamp` record of
//! the appliance's chain, committing to a timestamp document (canonical
//! JSON: the checkpoint's size, exact text and SHA-256, the TSA's URL, the
//! token in base64, its genTime and serial). That record is covered by the
//! next checkpoint, which the next time-stamp covers: the time-stamps chain
//! through the log. Like every record and the document it commits to, the
//! timestamp records go into the replicated log segments.
//!
//! The token's signature is not verified here (`minutier-timestamp` says
//! why); what is checked before recording it is that the authority granted
//! it and that it answers this request (digest and nonce). Failures are
//! logged and kept for the status, and retried with backoff; the daemon
//! keeps working without the TSA.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use minutier_seal::record::{Record, RecordKind, Timestamp, APPLIANCE_ID};
use minutier_seal::{hash, Hash};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sequencer::{Clock, Published, Sequencer};
use crate::store::{self, Store};

/// Who timestamp records are recorded as.
pub const ACTOR: &str = "minutierd (timestamping)";
/// Largest reply read from a TSA; a token with its certificates is a few
/// KiB.
const MAX_REPLY: usize = 1 << 20;
/// First wait after a failure; it doubles with each failure, up to
/// [`MAX_BACKOFF`] (and never beyond the interval).
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// The `[timestamping]` section of minutierd's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampingConfig {
    /// The TSA's URL (`http://` or `https://`), to which RFC 3161 requests
    /// are posted. It is written in every timestamp record's document, so
    /// it must hold no credentials.
    pub tsa_url: String,
    /// Hours between time-stamps (default 24): at start and then at this
    /// interval, the latest checkpoint is time-stamped if the log grew.
    #[serde(default)]
    pub interval_hours: Option<u64>,
    /// The interval in seconds instead, for tests and special setups.
    #[serde(default)]
    pub interval_seconds: Option<u64>,
    /// PEM certificates of the CA(s) to trust for an `https://` TSA,
    /// instead of the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Seconds one request may take, connection included (default 30).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    30
}

/// Longest interval: a week.
const MAX_INTERVAL_HOURS: u64 = 7 * 24;

impl TimestampingConfig {
    /// Checks the section; messages name the key.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self
            .tsa_url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "timestamping.tsa_url {:?} contains spaces or control characters",
                self.tsa_url
            ));
        }
        let url = reqwest::Url::parse(&self.tsa_url).map_err(|e| {
            format!(
                "timestamping.tsa_url {:?} is not a URL ({e}); give the TSA's http:// or \
                 https:// address",
                self.tsa_url
            )
        })?;
        let lower = self.tsa_url.to_ascii_lowercase();
        let spelled = lower.starts_with("http://") || lower.starts_with("https://");
        if !spelled
            || !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none_or(str::is_empty)
        {
            return Err(format!(
                "timestamping.tsa_url {:?} must be an http:// or https:// URL with a host",
                self.tsa_url
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "timestamping.tsa_url must not contain credentials: the URL is written in the \
                 log, in every timestamp record"
                    .into(),
            );
        }
        match (self.interval_hours, self.interval_seconds) {
            (Some(_), Some(_)) => {
                return Err(
                    "give timestamping.interval_hours or timestamping.interval_seconds, not both"
                        .into(),
                )
            }
            (Some(h), None) if !(1..=MAX_INTERVAL_HOURS).contains(&h) => {
                return Err(format!(
                    "timestamping.interval_hours must be 1 to {MAX_INTERVAL_HOURS}, not {h}"
                ))
            }
            (None, Some(s)) if !(1..=MAX_INTERVAL_HOURS * 3600).contains(&s) => {
                return Err(format!(
                    "timestamping.interval_seconds must be 1 to {}, not {s}",
                    MAX_INTERVAL_HOURS * 3600
                ))
            }
            _ => {}
        }
        if !(1..=300).contains(&self.timeout_seconds) {
            return Err(format!(
                "timestamping.timeout_seconds must be 1 to 300, not {}",
                self.timeout_seconds
            ));
        }
        if self.ca_file.is_some() && url.scheme() != "https" {
            return Err(
                "timestamping.ca_file is for an https:// TSA; this tsa_url is plain http".into(),
            );
        }
        Ok(())
    }

    /// Time between time-stamps.
    pub fn interval(&self) -> Duration {
        match (self.interval_seconds, self.interval_hours) {
            (Some(s), _) => Duration::from_secs(s),
            (None, h) => Duration::from_secs(h.unwrap_or(24) * 3600),
        }
    }

    /// Time one request may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds)
    }
}

/// What a timestamp record commits to, as canonical JSON
/// (docs/seal-format.md §2.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimestampDocument {
    /// The signed checkpoint, exactly the text time-stamped.
    pub checkpoint: String,
    /// SHA-256 of `checkpoint`, hex: the token's message imprint.
    pub checkpoint_sha256: String,
    pub checkpoint_size: u64,
    /// The token's genTime, RFC 3339 to the millisecond.
    pub gen_time: String,
    /// The token's serial number, hex.
    pub serial: String,
    /// The RFC 3161 token (CMS ContentInfo, DER), base64.
    pub token: String,
    /// The URL of the TSA that issued it.
    pub tsa: String,
}

impl TimestampDocument {
    /// Its canonical JSON, the bytes the record commits to.
    pub fn canonical_json(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).expect("documents serialise");
        minutier_seal::metadata::canonical_json(&value)
    }

    /// The token's DER.
    pub fn token_der(&self) -> Result<Vec<u8>> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.token)
            .map_err(|e| Error::Storage(format!("a timestamp document's token is not base64: {e}")))
    }
}

/// One timestamp record of the log, with its document.
#[derive(Debug, Clone)]
pub struct TimestampEntry {
    pub log_index: u64,
    /// The record's exact bytes.
    pub record: Vec<u8>,
    pub recorded_at: Timestamp,
    /// The canonical JSON the record commits to.
    pub document_json: Vec<u8>,
    pub document: TimestampDocument,
    pub token: Vec<u8>,
}

/// Reads the record at `index` if it is a timestamp record.
fn entry_at(store: &dyn Store, index: u64) -> Result<Option<TimestampEntry>> {
    let bytes = store::record(store, index)?;
    let record = Record::decode(&bytes)?;
    if record.kind != RecordKind::Timestamp {
        return Ok(None);
    }
    let json = store.document(&record.metadata_sha256)?.ok_or_else(|| {
        Error::Storage(format!(
            "the document of timestamp record {index} is missing from the index"
        ))
    })?;
    let document: TimestampDocument = serde_json::from_slice(&json).map_err(|e| {
        Error::Storage(format!(
            "the document of timestamp record {index} is not a timestamp document: {e}"
        ))
    })?;
    let token = document.token_der()?;
    Ok(Some(TimestampEntry {
        log_index: index,
        record: bytes,
        recorded_at: record.time,
        document_json: json,
        document,
        token,
    }))
}

/// The timestamp records at index `from` or later and below `below` (the
/// latest checkpoint's size), oldest first, at most `limit`; and the index
/// of the next one, if there are more.
pub fn list(
    store: &dyn Store,
    from: u64,
    below: u64,
    limit: usize,
) -> Result<(Vec<TimestampEntry>, Option<u64>)> {
    let mut out = Vec::new();
    for index in store.history(APPLIANCE_ID)? {
        if index < from || index >= below {
            continue;
        }
        if let Some(entry) = entry_at(store, index)? {
            if out.len() == limit {
                return Ok((out, Some(index)));
            }
            out.push(entry);
        }
    }
    Ok((out, None))
}

/// The latest timestamp record, if any.
fn latest(store: &dyn Store) -> Result<Option<TimestampEntry>> {
    for index in store.history(APPLIANCE_ID)?.into_iter().rev() {
        if let Some(entry) = entry_at(store, index)? {
            return Ok(Some(entry));
        }
    }
    Ok(None)
}

/// Where timestamping stands.
#[derive(Debug, Clone, Default)]
pub struct TimestampingStatus {
    pub tsa_url: String,
    pub interval: Duration,
    /// Milliseconds since the epoch, like every time below.
    pub last_attempt_at: Option<u64>,
    /// When the latest timestamp record was recorded.
    pub last_success_at: Option<u64>,
    /// Size of the latest time-stamped checkpoint.
    pub last_timestamped_size: Option<u64>,
    /// The latest failure, if the latest attempt failed.
    pub last_error: Option<(u64, String)>,
    pub consecutive_failures: u32,
    pub next_attempt_at: Option<u64>,
}

/// What one attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The checkpoint of this size was time-stamped; its record is at
    /// `index`.
    Timestamped { size: u64, index: u64 },
    /// Nothing new since the latest time-stamp.
    UpToDate,
}

/// The time-stamping service: configuration, HTTP client, status.
pub struct Timestamping {
    config: TimestampingConfig,
    client: reqwest::Client,
    published: Published,
    sequencer: Sequencer,
    clock: Arc<dyn Clock>,
    status: Mutex<TimestampingStatus>,
    /// (checkpoint size, record index) of the latest timestamp record.
    last: Mutex<Option<(u64, u64)>>,
}

impl Timestamping {
    /// Prepares the client (reading `ca_file`) and finds the latest
    /// timestamp record in the log.
    pub fn open(
        config: &TimestampingConfig,
        store: Arc<dyn Store>,
        published: Published,
        sequencer: Sequencer,
        clock: Arc<dyn Clock>,
    ) -> std::result::Result<Arc<Timestamping>, String> {
        config.validate()?;
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout())
            .connect_timeout(config.timeout().min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("minutierd/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read timestamping.ca_file {}: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                format!(
                    "timestamping.ca_file {} holds no usable PEM certificate: {e}",
                    path.display()
                )
            })?;
            if certs.is_empty() {
                return Err(format!(
                    "timestamping.ca_file {} holds no PEM certificate",
                    path.display()
                ));
            }
            builder = builder.tls_built_in_root_certs(false);
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot prepare the TSA client: {e}"))?;
        let latest = latest(store.as_ref()).map_err(|e| e.to_string())?;
        let status = TimestampingStatus {
            tsa_url: config.tsa_url.clone(),
            interval: config.interval(),
            last_success_at: latest.as_ref().map(|e| e.recorded_at.0),
            last_timestamped_size: latest.as_ref().map(|e| e.document.checkpoint_size),
            ..Default::default()
        };
        Ok(Arc::new(Timestamping {
            config: config.clone(),
            client,
            published,
            sequencer,
            clock,
            status: Mutex::new(status),
            last: Mutex::new(latest.map(|e| (e.document.checkpoint_size, e.log_index))),
        }))
    }

    pub fn status(&self) -> TimestampingStatus {
        self.status.lock().unwrap().clone()
    }

    pub fn tsa_url(&self) -> &str {
        &self.config.tsa_url
    }

    /// Time-stamps at start and then every interval, for ever; after a
    /// failure, retries sooner, with backoff.
    pub async fn run(self: Arc<Self>) {
        let interval = self.config.interval();
        loop {
            let now = self.clock.now_millis();
            self.status.lock().unwrap().last_attempt_at = Some(now);
            let wait = match self.once().await {
                Ok(outcome) => {
                    let mut status = self.status.lock().unwrap();
                    if let Outcome::Timestamped { size, .. } = outcome {
                        status.last_success_at = Some(self.clock.now_millis());
                        status.last_timestamped_size = Some(size);
                    }
                    status.last_error = None;
                    status.consecutive_failures = 0;
                    interval
                }
                Err(e) => {
                    let mut status = self.status.lock().unwrap();
                    status.consecutive_failures += 1;
                    let failures = status.consecutive_failures;
                    let wait = backoff(failures, interval);
                    status.last_error = Some((self.clock.now_millis(), e.clone()));
                    tracing::error!(
                        tsa = %self.config.tsa_url,
                        error = %e,
                        failures,
                        retry_in_seconds = wait.as_secs(),
                        "could not time-stamp the latest checkpoint; the archive keeps working, \
                         timestamping will be retried"
                    );
                    wait
                }
            };
            self.status.lock().unwrap().next_attempt_at =
                Some(self.clock.now_millis() + wait.as_millis() as u64);
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt: time-stamps the latest checkpoint if the log grew
    /// since the latest time-stamp (other than by that time-stamp's own
    /// record), and records the token.
    pub async fn once(&self) -> std::result::Result<Outcome, String> {
        let Some(checkpoint) = self.published.read().unwrap().clone() else {
            return Ok(Outcome::UpToDate);
        };
        let last = *self.last.lock().unwrap();
        let due = match last {
            // A time-stamp of an empty log proves nothing.
            None => checkpoint.size > 0,
            // The timestamp record itself is at `index`: a checkpoint that
            // adds only it is not worth a token of its own. This also
            // means a size is never time-stamped twice.
            Some((_, index)) => checkpoint.size > index + 1,
        };
        if !due {
            return Ok(Outcome::UpToDate);
        }
        let digest: Hash = hash::sha256(checkpoint.text.as_bytes());
        let nonce: u64 = rand::random();
        let request = minutier_timestamp::request(&digest, nonce);
        let reply = self.post(request).await?;
        let granted = minutier_timestamp::accept(&reply, &digest, nonce)
            .map_err(|e| format!("the TSA's answer was refused: {e}"))?;
        let document = TimestampDocument {
            checkpoint: checkpoint.text.to_string(),
            checkpoint_sha256: hash::to_hex(&digest),
            checkpoint_size: checkpoint.size,
            gen_time: granted.info.gen_time.to_string(),
            serial: granted.info.serial_hex(),
            token: base64::engine::general_purpose::STANDARD.encode(&granted.token),
            tsa: self.config.tsa_url.clone(),
        };
        let done = self
            .sequencer
            .appliance(
                RecordKind::Timestamp,
                document.canonical_json(),
                ACTOR.to_owned(),
            )
            .await
            .map_err(|e| format!("the token could not be recorded: {e}"))?;
        let index = done.log_index();
        *self.last.lock().unwrap() = Some((checkpoint.size, index));
        tracing::info!(
            size = checkpoint.size,
            index,
            gen_time = %document.gen_time,
            serial = %document.serial,
            tsa = %self.config.tsa_url,
            "checkpoint time-stamped"
        );
        Ok(Outcome::Timestamped {
            size: checkpoint.size,
            index,
        })
    }

    /// Posts a request; returns the reply's body.
    async fn post(&self, request: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
        let url = &self.config.tsa_url;
        let mut response = self
            .client
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                minutier_timestamp::QUERY_MEDIA_TYPE,
            )
            .header(
                reqwest::header::ACCEPT,
                minutier_timestamp::REPLY_MEDIA_TYPE,
            )
            .body(request)
            .send()
            .await
            .map_err(|e| format!("cannot reach the TSA at {url}: {}", chain(&e)))?;
        let status = response.status();
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or("?")
                .to_owned();
            return Err(format!(
                "the TSA at {url} redirects (HTTP {status}) to {to}: configure that URL as \
                 timestamping.tsa_url"
            ));
        }
        let media_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("the TSA's answer was cut: {}", chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_REPLY {
                return Err(format!(
                    "the TSA's answer is larger than {MAX_REPLY} bytes; a time-stamp reply is a \
                     few KiB"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(format!(
                "the TSA at {url} answered HTTP {status}{}",
                excerpt(&media_type, &body)
            ));
        }
        let essence = media_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        // Some older TSAs say timestamp-response.
        if essence != minutier_timestamp::REPLY_MEDIA_TYPE
            && essence != "application/timestamp-response"
        {
            return Err(format!(
                "the TSA at {url} answered {:?}, not {}{}: is this the TSA's RFC 3161 address?",
                media_type,
                minutier_timestamp::REPLY_MEDIA_TYPE,
                excerpt(&media_type, &body)
            ));
        }
        Ok(body)
    }
}

/// The wait after `failures` consecutive failures.
fn backoff(failures: u32, interval: Duration) -> Duration {
    let cap = interval.min(MAX_BACKOFF);
    FIRST_BACKOFF
        .min(cap)
        .saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(cap)
}

/// An error with its sources, which carry the useful part (connection
/// refused, timed out…).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// The start of a textual body, to show in an error.
fn excerpt(media_type: &str, body: &[u8]) -> String {
    if !media_type.starts_with("text/") || body.is_empty() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    format!(
        " ({:?})",
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_interval_and_an_hour() {
        let day = Duration::from_secs(86_400);
        assert_eq!(backoff(1, day), Duration::from_secs(30));
        assert_eq!(backoff(2, day), Duration::from_secs(60));
        assert_eq!(backoff(3, day), Duration::from_secs(120));
        assert_eq!(backoff(10, day), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX, day), MAX_BACKOFF);
        let short = Duration::from_secs(2);
        assert_eq!(backoff(1, short), short);
        assert_eq!(backoff(5, short), short);
    }

    #[test]
    fn documents_are_canonical_json_with_sorted_keys() {
        let d = TimestampDocument {
            checkpoint: "o\n1\nAA==\n".into(),
            checkpoint_sha256: "ab".into(),
            checkpoint_size: 1,
            gen_time: "2026-11-29T14:14:28.736Z".into(),
            serial: "1001".into(),
            token: "MA==".into(),
            tsa: "http://127.0.0.1:1/tsa".into(),
        };
        let json = String::from_utf8(d.canonical_json()).unwrap();
        assert_eq!(
            json,
            "{\"checkpoint\":\"o\\n1\\nAA==\\n\",\"checkpoint_sha256\":\"ab\",\"checkpoint_size\":1,\
             \"gen_time\":\"2026-11-29T14:14:28.736Z\",\"serial\":\"1001\",\"token\":\"MA==\",\
             \"tsa\":\"http://127.0.0.1:1/tsa\"}"
        );
        assert_eq!(serde_json::from_str::<TimestampDocument>(&json).unwrap(), d);
        assert_eq!(d.token_der().unwrap(), [0x30]);
    }

    #[test]
    fn excerpts_only_of_text() {
        assert_eq!(excerpt("application/octet-stream", b"abc"), "");
        assert_eq!(
            excerpt("text/html", b"<h1>Bad\n  gateway</h1>"),
            " (\"<h1>Bad gateway</h1>\")"
        );
    }
}
