//! SEDA transfers: an `ArchiveTransfer` package in, every unit sealed or
//! none, an `ArchiveTransferReply` out.
//!
//! First `minutier-sip` checks the package's structure (manifest, paths,
//! declared and present files, sizes from the container's listing,
//! undeclared files, bombs, unit graph) and the metadata is mapped and
//! checked (agency, model), all before any byte is written. Then each file
//! is read once: streamed into a temporary blob (or memory, when small)
//! while `minutier-sip` computes its declared digest and SHA-256. Only when
//! every size and digest matched are the blobs placed at their content
//! address; a refusal drops the temporary files, so nothing is left. The
//! manifest, every document and every unit without an object then go to
//! the sequencer as one deposit: they are recorded in one batch, or not at
//! all (and the blobs placed for it are removed). A unit without an object
//! is an archive whose content is the manifest that describes it (stored
//! once, by its digest).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::ScopedJoinHandle;

use minutier_seal::record::Timestamp;
use minutier_seal::{hash, Hash};
use minutier_sip::manifest::{self, SedaVersion, TransferInfo};
use minutier_sip::{code, AcceptedUnit, Package, Rejection, TransferPlan, UnitMetadata};
use serde::{Deserialize, Serialize};

use super::ArchiveService;
use crate::blobs::{BlobStore, PlacedBlob, StagedBlob};
use crate::error::{Error, Result};
use crate::metadata::{
    AccessRule, AppraisalRule, Date, FinalAction, Hold, ManagementRules, Metadata, TransferLink,
};
use crate::model::{new_archive_id, BlobLocation};
use crate::sequencer::NewArchive;

/// Where a transfer's package is.
#[derive(Debug, Clone)]
pub enum SipSource {
    /// A zip, tar or tar.gz holding the manifest and the files.
    Package(PathBuf),
    /// A manifest received apart from an archive (zip, tar or tar.gz) of
    /// the files it declares, as As@lae clients (Pastell) send them.
    Split { manifest: Vec<u8>, files: PathBuf },
}

/// A unit (or the manifest) of an accepted transfer, as archived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedArchive {
    pub archive_id: String,
    /// `ArchiveUnit@id`; empty for the manifest.
    pub unit_id: String,
    /// `BinaryDataObject@id`; empty for the manifest and object-less units.
    pub object_id: String,
    pub title: String,
    pub content_sha256: String,
    pub size: u64,
    pub log_index: u64,
}

/// What became of a transfer; kept by agency and message identifier (the
/// latest transfer under them), so a transferring system can ask again
/// later, and by manifest digest too, to recognise a package sent again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferOutcome {
    pub message_identifier: String,
    pub transferring_agency: String,
    /// "2.1", "2.2" or "2.3"; empty when the manifest could not be read.
    pub seda_version: String,
    pub accepted: bool,
    /// "OK", or the rejection's code (see `minutier_sip::code`).
    pub code: String,
    pub message: String,
    /// The manifest's archive, then one per document and object-less unit.
    pub archives: Vec<ImportedArchive>,
    /// The `ArchiveTransferReply`, XML.
    pub reply: String,
    /// RFC 3339 time of the decision.
    pub decided_at: String,
    pub actor: String,
}

impl TransferOutcome {
    /// The key transfers are kept under.
    pub fn key(transferring_agency: &str, message_identifier: &str) -> String {
        format!("{transferring_agency}\n{message_identifier}")
    }
}

/// The answer to an import: the outcome, and for a transfer accepted now,
/// each archive's seal (in the order of `outcome.archives`).
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub outcome: TransferOutcome,
    pub seals: Vec<String>,
    /// The same transfer had already been accepted: nothing new was stored.
    pub replayed: bool,
}

/// Checks every unit's originating agency (a DMS deposits only for its
/// own); may fill an empty one.
pub type AgencyCheck<'a> = &'a (dyn Fn(&mut String) -> Result<()> + Sync);

/// Content of one archive of the deposit, staged.
enum Staged {
    Inline(Vec<u8>),
    File(PlacedBlob),
}

impl ArchiveService {
    /// Imports a SEDA transfer. A package the SEDA rules refuse is not an
    /// error: the report says why, with a KO reply, and nothing is stored.
    /// Errors are for what is not the package's fault (storage, shutdown,
    /// an agency the caller may not deposit for).
    pub async fn import_sip(
        &self,
        actor: &str,
        source: SipSource,
        check_agency: AgencyCheck<'_>,
    ) -> Result<ImportReport> {
        minutier_seal::record::validate_actor(actor).map_err(|e| {
            Error::InvalidArgument(format!("the caller's identity cannot be recorded: {e}"))
        })?;
        let limits = minutier_sip::Limits {
            max_total_size: self.limits.max_document_size,
            ..Default::default()
        };
        let durations = self.rule_durations.clone();
        let opened = tokio::task::spawn_blocking(move || open_package(source, limits, &durations))
            .await
            .map_err(|e| Error::Storage(format!("the package check failed: {e}")))?;
        let (version, transfer, checked) = opened;
        let now = self.clock.now_millis();
        let (package, plan) = match checked {
            Ok(ok) => ok,
            Err(rejection) => {
                return self.refuse(actor, version, transfer, &rejection, now);
            }
        };
        // The same package sent again (a retry) is answered with its first
        // outcome. Producers do reuse message identifiers for different
        // packages, so the manifest's digest decides what "the same" is.
        let key = TransferOutcome::key(
            &plan.transfer.transferring_agency,
            &plan.transfer.message_identifier,
        );
        let same_package = format!("{key}\n{}", plan.manifest.sha256);
        if let Some(previous) = self.transfer_outcome(&same_package)? {
            if previous.accepted {
                // Only if its files match the manifest, as they did then:
                // read once, nothing stored.
                let (plan, verified) = tokio::task::spawn_blocking(move || {
                    let verified = package.verify_contents(&plan);
                    (plan, verified)
                })
                .await
                .map_err(|e| Error::Storage(format!("the package check failed: {e}")))?;
                if let Err(rejection) = verified {
                    let (version, transfer) = (Some(plan.version), Some(plan.transfer));
                    return self.refuse(actor, version, transfer, &rejection, now);
                }
                return Ok(ImportReport {
                    outcome: previous,
                    seals: Vec::new(),
                    replayed: true,
                });
            }
        }

        // Metadata first: a unit the model refuses rejects the transfer
        // before any byte is stored.
        let manifest_id = new_archive_id(now);
        let mut planned = match archives_of(&plan, &manifest_id, now, check_agency) {
            Ok(p) => p,
            Err(refusal) => return self.refuse_planned(actor, &plan, refusal, now),
        };

        // Not the package's fault: answered as an error to retry later.
        let incoming =
            plan.manifest.bytes.len() as u64 + plan.documents.iter().map(|d| d.size).sum::<u64>();
        self.admit(incoming)?;
        // The files read once, their digests checked as they are staged.
        let blobs = self.blobs.clone();
        let inline_threshold = self.limits.inline_threshold;
        let (plan, staged) = tokio::task::spawn_blocking(move || {
            let staged = stage(&package, &plan, &blobs, inline_threshold);
            (plan, staged)
        })
        .await
        .map_err(|e| Error::Storage(format!("staging the package failed: {e}")))?;
        let (manifest_content, documents) = match staged {
            Ok(s) => s,
            Err(refusal) => return self.refuse_planned(actor, &plan, refusal, now),
        };

        let manifest_sha = hash::sha256(&plan.manifest.bytes);
        let manifest_size = plan.manifest.bytes.len() as u64;
        let mut deposit = Vec::with_capacity(planned.len());
        let mut placed = Vec::new();
        for p in planned.iter_mut() {
            let (sha, size, staged) = match p.content {
                Content::Manifest => (manifest_sha, manifest_size, &manifest_content),
                Content::Document(i) => {
                    let (sha, size, staged) = &documents[i];
                    (*sha, *size, staged)
                }
            };
            let (blob, stored_size, inline) = match staged {
                Staged::Inline(bytes) => (BlobLocation::Inline, size, Some(bytes.clone())),
                Staged::File(f) => {
                    if !f.deduplicated {
                        placed.push((sha, f.location));
                    }
                    (f.location, f.stored_size, None)
                }
            };
            p.sha = sha;
            p.size = size;
            deposit.push(NewArchive {
                archive_id: p.archive_id.clone(),
                metadata: std::mem::take(&mut p.metadata),
                content_sha256: sha,
                size,
                stored_size,
                blob,
                inline,
                actor: actor.to_owned(),
            });
        }
        let sequenced = match self.sequencer.deposit(deposit).await {
            Ok(s) => s,
            Err(e) => {
                placed.sort_by_key(|(sha, _)| *sha);
                placed.dedup_by_key(|(sha, _)| *sha);
                for (sha, location) in placed {
                    self.blobs.discard(&sha, location);
                }
                return Err(e);
            }
        };

        let mut archives = Vec::with_capacity(planned.len());
        let mut seals = Vec::with_capacity(planned.len());
        for (p, (index, record)) in planned.iter().zip(sequenced.records) {
            seals.push(self.seal_at(index, record, &sequenced.checkpoint)?);
            archives.push(ImportedArchive {
                archive_id: p.archive_id.clone(),
                unit_id: p.unit_id.clone(),
                object_id: p.object_id.clone(),
                title: p.title.clone(),
                content_sha256: hash::to_hex(&p.sha),
                size: p.size,
                log_index: index,
            });
        }
        let accepted: Vec<AcceptedUnit> = archives
            .iter()
            .filter(|a| !a.unit_id.is_empty())
            .map(|a| AcceptedUnit {
                unit_id: a.unit_id.clone(),
                archive_id: a.archive_id.clone(),
            })
            .collect();
        let reply = minutier_sip::atr::reply_at(
            plan.version,
            &plan.transfer,
            Ok(&accepted),
            &format!("ATR-{}", plan.transfer.message_identifier),
            &minutier_sip::atr::format_utc((now / 1000) as i64),
        );
        let outcome = TransferOutcome {
            message_identifier: plan.transfer.message_identifier.clone(),
            transferring_agency: plan.transfer.transferring_agency.clone(),
            seda_version: plan.version.as_str().to_owned(),
            accepted: true,
            code: "OK".into(),
            message: format!(
                "{} units and the manifest were archived and sealed",
                archives.len() - 1
            ),
            archives,
            reply,
            decided_at: Timestamp(now).to_string(),
            actor: actor.to_owned(),
        };
        self.keep_outcome(&same_package, &outcome)?;
        self.keep_outcome(&key, &outcome)?;
        Ok(ImportReport {
            outcome,
            seals,
            replayed: false,
        })
    }

    /// A temporary file to receive a package into, and the largest package
    /// accepted.
    pub fn spool_file(&self) -> Result<(tempfile::NamedTempFile, u64)> {
        let file = self
            .blobs
            .spool_file()
            .map_err(|e| Error::Storage(format!("cannot create a spool file: {e}")))?;
        Ok((file, self.limits.max_document_size))
    }

    /// The outcome of a transfer, by its agency and message identifier.
    pub fn transfer(
        &self,
        transferring_agency: &str,
        message_identifier: &str,
    ) -> Result<TransferOutcome> {
        let key = TransferOutcome::key(transferring_agency, message_identifier);
        self.transfer_outcome(&key)?.ok_or_else(|| {
            Error::NotFound(format!(
                "no transfer {message_identifier:?} from agency {transferring_agency:?} was received"
            ))
        })
    }

    fn transfer_outcome(&self, key: &str) -> Result<Option<TransferOutcome>> {
        self.store
            .transfer(key)?
            .map(|bytes| {
                serde_json::from_slice(&bytes)
                    .map_err(|e| Error::Storage(format!("corrupt transfer outcome: {e}")))
            })
            .transpose()
    }

    fn keep_outcome(&self, key: &str, outcome: &TransferOutcome) -> Result<()> {
        let json = serde_json::to_vec(outcome).expect("outcomes always serialise");
        self.store.put_transfer(key, &json)
    }

    /// A refusal met once the plan is known: the package's fault gets a KO
    /// reply, anything else is an error.
    fn refuse_planned(
        &self,
        actor: &str,
        plan: &TransferPlan,
        refusal: Refusal,
        now: u64,
    ) -> Result<ImportReport> {
        match refusal {
            Refusal::Transfer(rejection) => self.refuse(
                actor,
                Some(plan.version),
                Some(plan.transfer.clone()),
                &rejection,
                now,
            ),
            Refusal::Caller(e) => Err(e),
        }
    }

    /// Answers a refused transfer: a KO reply, kept unless it would replace
    /// an accepted transfer's outcome.
    fn refuse(
        &self,
        actor: &str,
        version: Option<SedaVersion>,
        transfer: Option<TransferInfo>,
        rejection: &Rejection,
        now: u64,
    ) -> Result<ImportReport> {
        let transfer = transfer.unwrap_or_default();
        let version = version.unwrap_or(SedaVersion::V2_1);
        let reply = minutier_sip::atr::reply_at(
            version,
            &transfer,
            Err(rejection),
            &format!("ATR-{}", transfer.message_identifier),
            &minutier_sip::atr::format_utc((now / 1000) as i64),
        );
        let outcome = TransferOutcome {
            message_identifier: transfer.message_identifier.clone(),
            transferring_agency: transfer.transferring_agency.clone(),
            seda_version: version.as_str().to_owned(),
            accepted: false,
            code: rejection.code.to_owned(),
            message: rejection.message.clone(),
            archives: Vec::new(),
            reply,
            decided_at: Timestamp(now).to_string(),
            actor: actor.to_owned(),
        };
        if !transfer.message_identifier.is_empty() {
            let key =
                TransferOutcome::key(&transfer.transferring_agency, &transfer.message_identifier);
            let accepted_before = self.transfer_outcome(&key)?.is_some_and(|o| o.accepted);
            if !accepted_before {
                self.keep_outcome(&key, &outcome)?;
            }
        }
        tracing::info!(
            transfer = %transfer.message_identifier,
            code = rejection.code,
            "SEDA transfer refused: {}",
            rejection.message
        );
        Ok(ImportReport {
            outcome,
            seals: Vec::new(),
            replayed: false,
        })
    }
}

enum Refusal {
    /// The package's fault: a KO reply.
    Transfer(Rejection),
    /// Not the package's fault.
    Caller(Error),
}

impl From<Rejection> for Refusal {
    fn from(r: Rejection) -> Self {
        Refusal::Transfer(r)
    }
}

type Opened = (
    Option<SedaVersion>,
    Option<TransferInfo>,
    std::result::Result<(Package, TransferPlan), Rejection>,
);

/// Opens a package and checks everything but its files' contents (which
/// [`stage`] verifies as it reads them); blocking.
fn open_package(
    source: SipSource,
    limits: minutier_sip::Limits,
    durations: &BTreeMap<String, u32>,
) -> Opened {
    let (package, parsed) = match source {
        SipSource::Package(path) => {
            let package = match Package::open(&path, limits) {
                Ok(p) => p,
                Err(r) => return (None, None, Err(r)),
            };
            match manifest::parse(package.manifest_bytes()) {
                Ok(m) => (package, m),
                Err(r) => return (None, None, Err(r)),
            }
        }
        // The manifest is read first: a refusal of the files is then
        // answered for the transfer it names.
        SipSource::Split { manifest, files } => {
            if manifest.len() as u64 > limits.max_manifest_size {
                let r = Rejection::new(
                    code::ARCHIVE_BOMB,
                    format!(
                        "the manifest is {} bytes, more than {}",
                        manifest.len(),
                        limits.max_manifest_size
                    ),
                );
                return (None, None, Err(r));
            }
            let parsed = match manifest::parse(&manifest) {
                Ok(m) => m,
                Err(r) => return (None, None, Err(r)),
            };
            match Package::open_split(&files, manifest, limits) {
                Ok(package) => (package, parsed),
                Err(r) => return (Some(parsed.version), Some(parsed.transfer), Err(r)),
            }
        }
    };
    let (version, transfer) = (parsed.version, parsed.transfer.clone());
    let result = package.check().map(|mut plan| {
        plan.resolve_durations(|rule| durations.get(rule).copied());
        (package, plan)
    });
    (Some(version), Some(transfer), result)
}

enum Content {
    Manifest,
    /// Index into the plan's documents.
    Document(usize),
}

/// One archive of the deposit, before its content is staged.
struct Planned {
    archive_id: String,
    unit_id: String,
    object_id: String,
    title: String,
    metadata: Metadata,
    content: Content,
    sha: Hash,
    size: u64,
}

/// The archives a plan makes: the manifest, each document, each unit
/// without an object.
fn archives_of(
    plan: &TransferPlan,
    manifest_id: &str,
    now: u64,
    check_agency: AgencyCheck<'_>,
) -> std::result::Result<Vec<Planned>, Refusal> {
    let t = &plan.transfer;
    let today = Date::from_unix_millis(now);
    let parents: HashMap<&str, &[String]> = plan
        .units
        .iter()
        .map(|u| (u.id.as_str(), u.parent_ids.as_slice()))
        .collect();
    let link = |unit_id: &str, object_id: &str| TransferLink {
        message_identifier: t.message_identifier.clone(),
        transferring_agency: t.transferring_agency.clone(),
        unit_id: unit_id.to_owned(),
        parent_unit_ids: parents.get(unit_id).map(|p| p.to_vec()).unwrap_or_default(),
        object_id: object_id.to_owned(),
        manifest_archive_id: if unit_id.is_empty() {
            String::new()
        } else {
            manifest_id.to_owned()
        },
    };
    let finish = |mut metadata: Metadata, what: &str| -> std::result::Result<Metadata, Refusal> {
        if metadata.originating_agency.is_empty() {
            metadata.originating_agency = t.transferring_agency.clone();
        }
        check_agency(&mut metadata.originating_agency).map_err(Refusal::Caller)?;
        metadata.validate().map_err(|e| {
            Refusal::Transfer(Rejection::new(
                code::INVALID_MANIFEST,
                format!("{what}: {e}"),
            ))
        })?;
        metadata.settle(today);
        Ok(metadata)
    };

    let mut out = Vec::with_capacity(plan.documents.len() + 1);
    let manifest_title = format!("Bordereau de transfert {}", t.message_identifier);
    let manifest_meta = Metadata {
        title: manifest_title.clone(),
        originating_agency: t.transferring_agency.clone(),
        submission_agency: t.transferring_agency.clone(),
        archival_agreement: t.archival_agreement.clone(),
        description: t.comment.clone(),
        document_type: "ArchiveTransfer".into(),
        file_name: plan
            .manifest
            .path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned(),
        media_type: "application/xml".into(),
        transfer: Some(link("", "")),
        ..Default::default()
    };
    out.push(Planned {
        archive_id: manifest_id.to_owned(),
        unit_id: String::new(),
        object_id: String::new(),
        title: manifest_title,
        metadata: finish(manifest_meta, "the manifest")?,
        content: Content::Manifest,
        sha: [0; 32],
        size: 0,
    });
    let mut ids = std::iter::repeat_with(|| new_archive_id(now));
    for (i, d) in plan.documents.iter().enumerate() {
        let mut metadata = metadata_of(&d.metadata, t, &d.object_id);
        if metadata.file_name.is_empty() {
            metadata.file_name = d.path.rsplit('/').next().unwrap_or_default().to_owned();
        }
        metadata.transfer = Some(link(&d.unit_id, &d.object_id));
        let metadata = finish(
            metadata,
            &format!("unit {} (object {})", d.unit_id, d.object_id),
        )?;
        out.push(Planned {
            archive_id: ids.next().expect("endless"),
            unit_id: d.unit_id.clone(),
            object_id: d.object_id.clone(),
            title: metadata.title.clone(),
            metadata,
            content: Content::Document(i),
            sha: [0; 32],
            size: 0,
        });
    }
    for u in plan.units.iter().filter(|u| u.object_ids.is_empty()) {
        let mut metadata = metadata_of(&u.metadata, t, &u.id);
        metadata.media_type = "application/xml".into();
        metadata.transfer = Some(link(&u.id, ""));
        let metadata = finish(metadata, &format!("unit {}", u.id))?;
        out.push(Planned {
            archive_id: ids.next().expect("endless"),
            unit_id: u.id.clone(),
            object_id: String::new(),
            title: metadata.title.clone(),
            metadata,
            content: Content::Manifest,
            sha: [0; 32],
            size: 0,
        });
    }
    Ok(out)
}

/// The archive's metadata for a unit of the manifest.
fn metadata_of(m: &UnitMetadata, t: &TransferInfo, fallback_title: &str) -> Metadata {
    let date = |d: &Option<String>| d.as_deref().and_then(|d| d.parse::<Date>().ok());
    let title = [m.title.as_str(), m.file_name.as_str(), fallback_title]
        .into_iter()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or("Unité sans titre");
    Metadata {
        title: title.chars().take(1024).collect(),
        originating_agency: m.originating_agency.clone(),
        submission_agency: if m.submission_agency.is_empty() {
            t.transferring_agency.clone()
        } else {
            m.submission_agency.clone()
        },
        archival_agreement: if m.archival_agreement.is_empty() {
            t.archival_agreement.clone()
        } else {
            m.archival_agreement.clone()
        },
        description: m.description.clone(),
        start_date: date(&m.start_date),
        end_date: date(&m.end_date),
        keywords: m
            .keywords
            .iter()
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect(),
        document_type: m.document_type.clone(),
        language: m.language.clone(),
        custodial_history: m.custodial_history.clone(),
        file_name: m.file_name.clone(),
        media_type: m.media_type.clone(),
        rules: rules_of(m, t),
        transfer: None,
    }
}

fn rules_of(m: &UnitMetadata, t: &TransferInfo) -> ManagementRules {
    let date = |d: &Option<String>| d.as_deref().and_then(|d| d.parse::<Date>().ok());
    // A rule without a final action cannot say whether the archive is
    // definitive; it is left out (kept until a rule is set) rather than
    // guessed, since "keep" can never be undone.
    let appraisal = m.rules.primary_appraisal().and_then(|a| {
        let final_action = match a.final_action? {
            minutier_sip::FinalAction::Keep => FinalAction::Keep,
            minutier_sip::FinalAction::Destroy => FinalAction::Destroy,
        };
        Some(AppraisalRule {
            rule_id: a.rule_id.clone(),
            duration_years: a.duration_years,
            start_date: date(&a.start_date),
            final_action,
        })
    });
    let access = m.rules.primary_access().map(|a| AccessRule {
        rule_id: a.rule_id.clone(),
        delay_years: a.delay_years,
        start_date: date(&a.start_date),
    });
    let holds = m
        .rules
        .holds
        .iter()
        .map(|h| Hold {
            hold_id: h.hold_id.clone(),
            reason: if h.reason.trim().is_empty() {
                format!("gel {} déclaré par le service versant", h.hold_id)
            } else {
                h.reason.clone()
            },
            end_date: date(&h.end_date),
            placed_by: if h.owner.is_empty() {
                t.transferring_agency.clone()
            } else {
                h.owner.clone()
            },
            placed_at: h
                .start_date
                .as_deref()
                .and_then(|d| d.parse::<Date>().ok())
                .map(|d| format!("{d}T00:00:00.000Z"))
                .unwrap_or_default(),
        })
        .collect();
    ManagementRules {
        appraisal,
        access,
        holds,
    }
}

type StagedDocuments = (Staged, Vec<(Hash, u64, Staged)>);

/// A content received, verified or not yet: small ones in memory, others
/// in a temporary blob file, removed if dropped before it is placed.
enum Received {
    Inline(Vec<u8>),
    Blob(StagedBlob),
}

/// Stores the manifest and every document's content. Blocking.
///
/// Each file of the package is read once: `read_contents` streams it into
/// [`receive`] through its digests, and judges its size and declared digest
/// when it ends. Nothing is placed until every file matched: a refusal (or
/// a storage error) drops what was received, temporary files included.
/// Then the blobs are placed at their content address; if placing one
/// fails, those placed here are removed again.
fn stage(
    package: &Package,
    plan: &TransferPlan,
    blobs: &Arc<BlobStore>,
    inline_threshold: usize,
) -> std::result::Result<StagedDocuments, Refusal> {
    let storage = |e: std::io::Error| Refusal::Caller(Error::from(e));
    let contents =
        package.read_contents(plan, |_, reader| receive(blobs, inline_threshold, reader))?;
    let manifest = &plan.manifest.bytes;
    let manifest_received = if manifest.len() <= inline_threshold {
        Received::Inline(manifest.clone())
    } else {
        let mut w = blobs.writer().map_err(storage)?;
        w.write(manifest).map_err(storage)?;
        Received::Blob(w.finish().map_err(storage)?)
    };

    // Every digest matched: the contents go to their addresses.
    let mut placed: Vec<(Hash, BlobLocation)> = Vec::new();
    let mut place = |sha: Hash, size: u64, received: Received| {
        let blob = match received {
            Received::Inline(bytes) => return Ok(Staged::Inline(bytes)),
            Received::Blob(blob) => blob,
        };
        // The blob writer hashed the bytes it was given on its own.
        if blob.sha256 != sha || blob.size != size {
            return Err(Refusal::Caller(Error::Storage(format!(
                "a staged blob of {size} bytes does not hold the content read ({} bytes)",
                blob.size
            ))));
        }
        let p = blob.place(blobs).map_err(storage)?;
        if !p.deduplicated {
            placed.push((sha, p.location));
        }
        Ok(Staged::File(p))
    };
    let result = (|| {
        let manifest_content = place(
            hash::sha256(manifest),
            manifest.len() as u64,
            manifest_received,
        )?;
        let mut documents = Vec::with_capacity(contents.len());
        for c in contents {
            documents.push((c.sha256, c.size, place(c.sha256, c.size, c.staged)?));
        }
        Ok((manifest_content, documents))
    })();
    if result.is_err() {
        for (sha, location) in placed {
            blobs.discard(&sha, location);
        }
    }
    result
}

/// Receives one file as `read_contents` streams it: in memory up to
/// `inline_threshold` bytes, else into a temporary blob file (fsynced, not
/// placed). Its size and digests are judged by the caller.
///
/// A file past the threshold goes to a blob writer on a thread of its own,
/// so that unpacking and the package's digests (this thread) overlap
/// hashing, compressing and writing (that one): on two cores, nearly twice
/// as fast as one thread doing both.
fn receive(
    blobs: &BlobStore,
    inline_threshold: usize,
    reader: &mut dyn Read,
) -> std::result::Result<Received, Refusal> {
    let storage = |e: std::io::Error| Refusal::Caller(Error::from(e));
    std::thread::scope(|scope| {
        let mut small = Vec::new();
        let mut pipe: Option<(SyncSender<Vec<u8>>, ScopedJoinHandle<'_, _>)> = None;
        let read: std::result::Result<(), Refusal> = loop {
            let mut chunk = vec![0u8; 256 << 10];
            let n = match reader.read(&mut chunk) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // Reported by `read_contents` as the package's fault.
                Err(e) => {
                    break Err(Refusal::Transfer(Rejection::new(
                        code::UNREADABLE_PACKAGE,
                        e.to_string(),
                    )))
                }
            };
            chunk.truncate(n);
            match &pipe {
                Some((tx, _)) => {
                    if tx.send(chunk).is_err() {
                        // The writer failed; its error is collected below.
                        break Ok(());
                    }
                }
                None => {
                    small.extend_from_slice(&chunk);
                    if small.len() > inline_threshold {
                        let (tx, rx) = sync_channel::<Vec<u8>>(4);
                        let writer = scope.spawn(move || {
                            let mut w = blobs.writer()?;
                            for chunk in rx {
                                w.write(&chunk)?;
                            }
                            w.finish()
                        });
                        let _ = tx.send(std::mem::take(&mut small));
                        pipe = Some((tx, writer));
                    }
                }
            }
        };
        match pipe {
            None => read.map(|()| Received::Inline(small)),
            Some((tx, writer)) => {
                drop(tx);
                // Always wait for the writer: a refused file's temporary
                // blob is removed when its staged value is dropped.
                let written = writer.join().map_err(|_| {
                    Refusal::Caller(Error::Storage("the blob writer thread panicked".into()))
                })?;
                read?;
                Ok(Received::Blob(written.map_err(storage)?))
            }
        }
    })
}
