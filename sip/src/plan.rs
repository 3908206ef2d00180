//! Validation of an opened package against its manifest, producing the
//! [`TransferPlan`] the archive ingests, or a [`Rejection`].
//!
//! [`Package::check`] judges everything but the files' contents: the
//! manifest, identifiers, units and their graph, paths, presence, sizes
//! (from the container's listing), undeclared files, digest algorithms and
//! the metadata. The contents (declared digests, the SHA-256 the archive
//! needs) are checked by [`Package::read_contents`] (`contents.rs`), in one
//! pass that hands each file to its destination as it is hashed.
//! [`Package::plan`] does both, storing nothing.

use std::collections::{HashMap, HashSet};

use sha2::{Digest as _, Sha256};

use crate::error::{code, Rejection};
use crate::manifest::{self, Manifest, ObjectRef, RuleBlock, RuleRef, SedaVersion, TransferInfo};
use crate::package::{check_path, Package};

/// Digest algorithms accepted in `MessageDigest@algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Sha256,
    Sha512,
}

impl DigestAlgorithm {
    pub fn parse(s: &str) -> Option<DigestAlgorithm> {
        match s.trim().to_ascii_uppercase().replace('_', "-").as_str() {
            "SHA-256" | "SHA256" => Some(DigestAlgorithm::Sha256),
            "SHA-512" | "SHA512" => Some(DigestAlgorithm::Sha512),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Sha512 => "SHA-512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 64,
            DigestAlgorithm::Sha512 => 128,
        }
    }
}

/// What happens when the retention period ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalAction {
    Keep,
    Destroy,
}

/// An appraisal rule in force on a unit. The duration comes from the rules
/// repository, not from the manifest: unknown until resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppraisalRule {
    pub rule_id: String,
    pub duration_years: Option<u32>,
    /// `YYYY-MM-DD`.
    pub start_date: Option<String>,
    /// None when the manifest states none.
    pub final_action: Option<FinalAction>,
}

/// An access (communicability) rule in force on a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    pub rule_id: String,
    pub delay_years: Option<u32>,
    /// `YYYY-MM-DD`.
    pub start_date: Option<String>,
}

/// A hold (`HoldRule`) in force on a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub hold_id: String,
    pub reason: String,
    pub owner: String,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

/// Rules in force on a unit after inheritance: inherited first, own last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub appraisal: Vec<AppraisalRule>,
    pub access: Vec<AccessRule>,
    pub holds: Vec<Hold>,
}

impl Rules {
    /// The unit's own rule if it has one, else the nearest inherited one.
    pub fn primary_appraisal(&self) -> Option<&AppraisalRule> {
        self.appraisal.last()
    }

    /// The unit's own rule if it has one, else the nearest inherited one.
    pub fn primary_access(&self) -> Option<&AccessRule> {
        self.access.last()
    }
}

/// Metadata of a unit or a document, mirroring the archive's metadata model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitMetadata {
    pub title: String,
    pub originating_agency: String,
    pub submission_agency: String,
    pub archival_agreement: String,
    pub description: String,
    /// `YYYY-MM-DD`.
    pub start_date: Option<String>,
    /// `YYYY-MM-DD`.
    pub end_date: Option<String>,
    pub keywords: Vec<String>,
    pub document_type: String,
    pub language: String,
    pub custodial_history: String,
    pub file_name: String,
    pub media_type: String,
    pub rules: Rules,
}

/// A file to ingest, checked against the manifest: present, declared,
/// sized. Its content is checked against `digest` as it is read
/// ([`Package::read_contents`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDocument {
    pub object_id: String,
    pub group_id: Option<String>,
    /// Entry name in the package.
    pub path: String,
    /// Size in the container's listing (and the declared `Size`, if any).
    pub size: u64,
    pub digest_algorithm: DigestAlgorithm,
    /// Declared digest, lowercase hex of the algorithm's length.
    pub digest: String,
    /// The first unit referencing this object (document order).
    pub unit_id: String,
    pub metadata: UnitMetadata,
}

/// An archive unit, after resolution of `ArchiveUnitRefId` pointers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUnit {
    pub id: String,
    pub parent_ids: Vec<String>,
    pub child_ids: Vec<String>,
    /// Binary objects attached to this unit.
    pub object_ids: Vec<String>,
    pub metadata: UnitMetadata,
}

/// The manifest itself, to be sealed along with the documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestDocument {
    pub path: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// A validated transfer, ready to ingest: from [`Package::check`], every
/// document's content is still to be read and verified; from
/// [`Package::plan`], it has been.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferPlan {
    pub version: SedaVersion,
    pub transfer: TransferInfo,
    pub manifest: ManifestDocument,
    pub documents: Vec<PlannedDocument>,
    pub units: Vec<PlannedUnit>,
}

impl TransferPlan {
    /// Fills rule durations from a rules repository (`rule id → years`).
    pub fn resolve_durations(&mut self, lookup: impl Fn(&str) -> Option<u32>) {
        let fill = |r: &mut Rules| {
            for a in &mut r.appraisal {
                a.duration_years = a.duration_years.or_else(|| lookup(&a.rule_id));
            }
            for a in &mut r.access {
                a.delay_years = a.delay_years.or_else(|| lookup(&a.rule_id));
            }
        };
        for d in &mut self.documents {
            fill(&mut d.metadata.rules);
        }
        for u in &mut self.units {
            fill(&mut u.metadata.rules);
        }
    }
}

/// The result of checking one package file: what is known of the transfer
/// (for the reply) and the plan or the rejection.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub version: Option<SedaVersion>,
    pub transfer: Option<TransferInfo>,
    pub result: Result<TransferPlan, Rejection>,
}

/// Opens and validates `path`.
pub fn check_file(path: impl AsRef<std::path::Path>, limits: crate::Limits) -> Outcome {
    let pkg = match Package::open(path, limits) {
        Ok(p) => p,
        Err(r) => {
            return Outcome {
                version: None,
                transfer: None,
                result: Err(r),
            }
        }
    };
    match manifest::parse(pkg.manifest_bytes()) {
        Err(r) => Outcome {
            version: None,
            transfer: None,
            result: Err(r),
        },
        Ok(m) => Outcome {
            version: Some(m.version),
            transfer: Some(m.transfer.clone()),
            result: validate(&pkg, &m).and_then(|plan| pkg.verify_contents(&plan).map(|_| plan)),
        },
    }
}

impl Package {
    /// Parses the manifest and checks the package against it, reading no
    /// file but the manifest: everything is judged but the contents, which
    /// [`Package::read_contents`] verifies as it hands them over.
    pub fn check(&self) -> Result<TransferPlan, Rejection> {
        let m = manifest::parse(self.manifest_bytes())?;
        validate(self, &m)
    }

    /// Checks the package whole, contents included (read and dropped).
    pub fn plan(&self) -> Result<TransferPlan, Rejection> {
        let plan = self.check()?;
        self.verify_contents(&plan)?;
        Ok(plan)
    }
}

fn invalid(msg: impl Into<String>) -> Rejection {
    Rejection::new(code::INVALID_MANIFEST, msg)
}

/// `YYYY-MM-DD` from an xsd:date or xsd:dateTime, else None.
fn day(s: &Option<String>) -> Option<String> {
    let s = s.as_deref()?.trim();
    let b = s.as_bytes();
    let ok = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && (b.len() == 10 || matches!(b[10], b'T' | b'Z' | b'+' | b'-'));
    ok.then(|| s[..10].to_string())
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Effective rule list for one category: inherited (minus RefNonRuleId,
/// minus rules redeclared), then own.
fn inherit(
    parent: &[(RuleRef, Option<String>)],
    own: Option<&RuleBlock>,
) -> Vec<(RuleRef, Option<String>)> {
    let Some(own) = own else {
        return parent.to_vec();
    };
    let mut out: Vec<(RuleRef, Option<String>)> = if own.prevent_inheritance {
        Vec::new()
    } else {
        parent
            .iter()
            .filter(|(r, _)| {
                !own.ref_non_rule_ids.contains(&r.rule_id)
                    && !own.rules.iter().any(|o| o.rule_id == r.rule_id)
            })
            .cloned()
            .collect()
    };
    out.extend(
        own.rules
            .iter()
            .filter(|r| !r.rule_id.is_empty())
            .map(|r| (r.clone(), own.final_action.clone())),
    );
    out
}

#[derive(Clone, Default)]
struct Inherited {
    appraisal: Vec<(RuleRef, Option<String>)>,
    access: Vec<(RuleRef, Option<String>)>,
    hold: Vec<(RuleRef, Option<String>)>,
    originating_agency: String,
    submission_agency: String,
}

fn validate(pkg: &Package, m: &Manifest) -> Result<TransferPlan, Rejection> {
    let limits = pkg.limits();
    if m.transfer.message_identifier.is_empty() {
        return Err(invalid("manifest has no MessageIdentifier"));
    }

    // Identifiers.
    let mut ids: HashSet<&str> = HashSet::new();
    for (kind, id) in m
        .objects
        .iter()
        .map(|o| ("BinaryDataObject", o.id.as_str()))
        .chain(m.units.iter().map(|u| ("ArchiveUnit", u.id.as_str())))
        .chain(m.groups.iter().map(|g| ("DataObjectGroup", g.as_str())))
    {
        if id.is_empty() {
            return Err(invalid(format!("a {kind} has no id")));
        }
        if !ids.insert(id) {
            return Err(invalid(format!(
                "identifier {id} is declared twice ({kind})"
            )));
        }
    }

    // Binary objects: digest, Uri, size.
    struct Checked<'a> {
        /// None: unsupported, reported once the files are matched.
        alg: Option<DigestAlgorithm>,
        digest: String,
        path: String,
        size: Option<u64>,
        obj: &'a manifest::BinaryObject,
    }
    let files: HashMap<&str, u64> = pkg
        .entries()
        .iter()
        .filter(|e| !e.is_dir)
        .map(|e| (e.name.as_str(), e.size))
        .collect();
    let mut checked: Vec<Checked> = Vec::new();
    let mut by_path: HashMap<String, usize> = HashMap::new();
    for o in &m.objects {
        let digest = o
            .digest
            .as_deref()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if digest.is_empty() {
            return Err(Rejection::new(
                code::EMPTY_DIGEST,
                format!("BinaryDataObject {} has an empty MessageDigest", o.id),
            ));
        }
        let uri = o.uri.as_deref().unwrap_or("").trim();
        if uri.is_empty() {
            return Err(Rejection::new(
                code::EMPTY_URI,
                format!("BinaryDataObject {} has no Uri", o.id),
            ));
        }
        let path = if files.contains_key(uri) {
            uri.to_string()
        } else {
            percent_decode(uri)
                .filter(|d| files.contains_key(d.as_str()))
                .unwrap_or_else(|| uri.to_string())
        };
        check_path(&path, limits.max_path_len).map_err(|r| {
            Rejection::new(r.code, format!("BinaryDataObject {}: {}", o.id, r.message))
        })?;
        let size = match o.size.as_deref() {
            None | Some("") => None,
            Some(s) => Some(s.parse::<u64>().map_err(|_| {
                invalid(format!(
                    "BinaryDataObject {}: Size {s:?} is not a number",
                    o.id
                ))
            })?),
        };
        if let Some(prev) = by_path.insert(path.clone(), checked.len()) {
            return Err(invalid(format!(
                "BinaryDataObjects {} and {} both point to {path}",
                checked[prev].obj.id, o.id
            )));
        }
        checked.push(Checked {
            alg: DigestAlgorithm::parse(&o.digest_algorithm),
            digest,
            path,
            size,
            obj: o,
        });
    }

    // Units: references and graph.
    let real: Vec<usize> = (0..m.units.len())
        .filter(|&i| m.units[i].ref_id.is_none())
        .collect();
    let unit_index: HashMap<&str, usize> =
        real.iter().map(|&i| (m.units[i].id.as_str(), i)).collect();
    let group_ids: HashSet<&str> = m
        .objects
        .iter()
        .filter_map(|o| o.group_id.as_deref())
        .chain(m.groups.iter().map(String::as_str))
        .chain(m.physical_groups.iter().map(String::as_str))
        .collect();
    let object_ids: HashSet<&str> = m.objects.iter().map(|o| o.id.as_str()).collect();
    let mut parents: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, u) in m.units.iter().enumerate() {
        let target = match &u.ref_id {
            Some(r) => *unit_index.get(r.as_str()).ok_or_else(|| {
                invalid(format!(
                    "ArchiveUnit {}: ArchiveUnitRefId {r} names no archive unit",
                    u.id
                ))
            })?,
            None => i,
        };
        if let Some(p) = u.parent {
            let p = match &m.units[p].ref_id {
                Some(_) => {
                    return Err(invalid(format!(
                        "ArchiveUnit {} is nested in a reference",
                        u.id
                    )))
                }
                None => p,
            };
            children.entry(p).or_default().push(target);
            parents.entry(target).or_default().push(p);
        }
        for r in &u.object_refs {
            let ok = match r {
                ObjectRef::Group(g) => group_ids.contains(g.as_str()),
                ObjectRef::Object(o) => object_ids.contains(o.as_str()),
            };
            if !ok {
                let (ObjectRef::Group(x) | ObjectRef::Object(x)) = r;
                return Err(invalid(format!(
                    "ArchiveUnit {} references unknown data object {x}",
                    u.id
                )));
            }
        }
    }
    if let Some(cycle) = find_cycle(&real, &children) {
        let names: Vec<&str> = cycle.iter().map(|&i| m.units[i].id.as_str()).collect();
        return Err(Rejection::new(
            code::UNIT_CYCLE,
            format!("archive units form a cycle: {}", names.join(" -> ")),
        ));
    }

    // Files: present, declared, sized.
    for c in &checked {
        if !files.contains_key(c.path.as_str()) {
            return Err(Rejection::new(
                code::MISSING_FILE,
                format!(
                    "BinaryDataObject {}: file {} is not in the package",
                    c.obj.id, c.path
                ),
            ));
        }
    }
    for other in pkg.other_manifest_candidates() {
        if !by_path.contains_key(other) {
            return Err(Rejection::new(
                code::MULTIPLE_MANIFESTS,
                format!(
                    "a second manifest candidate {other} sits next to {}",
                    pkg.manifest_name()
                ),
            ));
        }
    }
    for e in pkg.entries() {
        if !e.is_dir && !pkg.is_manifest_entry(&e.name) && !by_path.contains_key(&e.name) {
            return Err(Rejection::new(
                code::UNDECLARED_FILE,
                format!(
                    "file {} is in the package but not declared by the manifest",
                    e.name
                ),
            ));
        }
    }
    for c in &checked {
        let actual = files[c.path.as_str()];
        if let Some(size) = c.size {
            if size != actual {
                return Err(Rejection::new(
                    code::SIZE_MISMATCH,
                    format!(
                        "BinaryDataObject {}: {} is {actual} bytes, Size declares {size}",
                        c.obj.id, c.path
                    ),
                ));
            }
        }
    }

    // Digest algorithms and the form of the declared values (after presence
    // and size, which say more about a broken package). The values are
    // compared as the contents are read.
    for c in &checked {
        let Some(alg) = c.alg else {
            return Err(Rejection::new(
                code::UNSUPPORTED_DIGEST,
                format!(
                    "BinaryDataObject {}: digest algorithm {:?} is not SHA-256 or SHA-512",
                    c.obj.id, c.obj.digest_algorithm
                ),
            ));
        };
        if c.digest.len() != alg.hex_len() || !c.digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(format!(
                "BinaryDataObject {}: MessageDigest is not a {} hex value",
                c.obj.id,
                alg.as_str()
            )));
        }
    }

    // Metadata, with inheritance from parents and ManagementMetadata.
    let mm = &m.management;
    let root = Inherited {
        appraisal: inherit(&[], mm.appraisal.as_ref()),
        access: inherit(&[], mm.access.as_ref()),
        hold: inherit(&[], mm.hold.as_ref()),
        originating_agency: mm.originating_agency.clone(),
        submission_agency: mm.submission_agency.clone(),
    };
    let mut memo: HashMap<usize, Inherited> = HashMap::new();
    fn effective(
        u: usize,
        m: &Manifest,
        parents: &HashMap<usize, Vec<usize>>,
        root: &Inherited,
        memo: &mut HashMap<usize, Inherited>,
    ) -> Inherited {
        if let Some(e) = memo.get(&u) {
            return e.clone();
        }
        let from = match parents.get(&u).and_then(|p| p.first()) {
            Some(&p) => effective(p, m, parents, root, memo),
            None => root.clone(),
        };
        let d = &m.units[u];
        let c = &d.content;
        let e = Inherited {
            appraisal: inherit(&from.appraisal, d.management.appraisal.as_ref()),
            access: inherit(&from.access, d.management.access.as_ref()),
            hold: inherit(&from.hold, d.management.hold.as_ref()),
            originating_agency: if c.originating_agency.is_empty() {
                from.originating_agency
            } else {
                c.originating_agency.clone()
            },
            submission_agency: if c.submission_agency.is_empty() {
                from.submission_agency
            } else {
                c.submission_agency.clone()
            },
        };
        memo.insert(u, e.clone());
        e
    }

    let mut units = Vec::with_capacity(real.len());
    for &i in &real {
        let d = &m.units[i];
        let e = effective(i, m, &parents, &root, &mut memo);
        let c = &d.content;
        let meta = UnitMetadata {
            title: c.title.clone(),
            originating_agency: e.originating_agency.clone(),
            submission_agency: e.submission_agency.clone(),
            archival_agreement: m.transfer.archival_agreement.clone(),
            description: c.description.clone(),
            start_date: day(&c.start_date),
            end_date: day(&c.end_date),
            keywords: c.keywords.clone(),
            document_type: c.document_type.clone(),
            language: c.language.clone(),
            custodial_history: c.custodial_history.join("\n"),
            file_name: String::new(),
            media_type: String::new(),
            rules: Rules {
                appraisal: e
                    .appraisal
                    .iter()
                    .map(|(r, fa)| AppraisalRule {
                        rule_id: r.rule_id.clone(),
                        duration_years: None,
                        start_date: day(&r.start_date),
                        final_action: match fa.as_deref() {
                            Some("Keep") => Some(FinalAction::Keep),
                            Some("Destroy") => Some(FinalAction::Destroy),
                            _ => None,
                        },
                    })
                    .collect(),
                access: e
                    .access
                    .iter()
                    .map(|(r, _)| AccessRule {
                        rule_id: r.rule_id.clone(),
                        delay_years: None,
                        start_date: day(&r.start_date),
                    })
                    .collect(),
                holds: e
                    .hold
                    .iter()
                    .map(|(r, _)| Hold {
                        hold_id: r.rule_id.clone(),
                        reason: r.reason.clone(),
                        owner: r.owner.clone(),
                        start_date: day(&r.start_date),
                        end_date: day(&r.end_date),
                    })
                    .collect(),
            },
        };
        if let Some(bad) = d
            .management
            .appraisal
            .as_ref()
            .and_then(|b| b.final_action.as_deref())
        {
            if bad != "Keep" && bad != "Destroy" {
                return Err(invalid(format!(
                    "ArchiveUnit {}: AppraisalRule FinalAction {bad:?} is neither Keep nor Destroy",
                    d.id
                )));
            }
        }
        let object_ids: Vec<String> = m
            .objects
            .iter()
            .filter(|o| {
                d.object_refs.iter().any(|r| match r {
                    ObjectRef::Group(g) => o.group_id.as_deref() == Some(g.as_str()),
                    ObjectRef::Object(x) => *x == o.id,
                })
            })
            .map(|o| o.id.clone())
            .collect();
        units.push(PlannedUnit {
            id: d.id.clone(),
            parent_ids: parents
                .get(&i)
                .map(|v| v.iter().map(|&p| m.units[p].id.clone()).collect())
                .unwrap_or_default(),
            child_ids: children
                .get(&i)
                .map(|v| v.iter().map(|&p| m.units[p].id.clone()).collect())
                .unwrap_or_default(),
            object_ids,
            metadata: meta,
        });
    }

    let mut documents = Vec::with_capacity(checked.len());
    for c in &checked {
        let Some(unit) = units.iter().find(|u| u.object_ids.contains(&c.obj.id)) else {
            return Err(invalid(format!(
                "BinaryDataObject {} is attached to no archive unit",
                c.obj.id
            )));
        };
        let mut meta = unit.metadata.clone();
        meta.file_name = if c.obj.file_name.is_empty() {
            c.path.rsplit('/').next().unwrap_or(&c.path).to_string()
        } else {
            c.obj.file_name.clone()
        };
        meta.media_type = c.obj.mime_type.clone();
        documents.push(PlannedDocument {
            object_id: c.obj.id.clone(),
            group_id: c.obj.group_id.clone(),
            path: c.path.clone(),
            size: files[c.path.as_str()],
            digest_algorithm: c.alg.expect("checked above"),
            digest: c.digest.clone(),
            unit_id: unit.id.clone(),
            metadata: meta,
        });
    }

    Ok(TransferPlan {
        version: m.version,
        transfer: m.transfer.clone(),
        manifest: ManifestDocument {
            path: pkg.manifest_name().to_string(),
            bytes: pkg.manifest_bytes().to_vec(),
            sha256: hex::encode(Sha256::digest(pkg.manifest_bytes())),
        },
        documents,
        units,
    })
}

/// Iterative DFS over the unit graph; returns one cycle if any.
fn find_cycle(nodes: &[usize], children: &HashMap<usize, Vec<usize>>) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Open,
        Done,
    }
    let mut state: HashMap<usize, State> = nodes.iter().map(|&n| (n, State::New)).collect();
    for &start in nodes {
        if state[&start] != State::New {
            continue;
        }
        let mut path: Vec<usize> = vec![start];
        let mut iters: Vec<usize> = vec![0];
        state.insert(start, State::Open);
        while let Some(&node) = path.last() {
            let i = iters.last_mut().expect("same length as path");
            let next = children.get(&node).and_then(|c| c.get(*i)).copied();
            *i += 1;
            match next {
                None => {
                    state.insert(node, State::Done);
                    path.pop();
                    iters.pop();
                }
                Some(c) => match state.get(&c).copied().unwrap_or(State::Done) {
                    State::Open => {
                        let from = path.iter().position(|&p| p == c).unwrap_or(0);
                        let mut cycle = path[from..].to_vec();
                        cycle.push(c);
                        return Some(cycle);
                    }
                    State::New => {
                        state.insert(c, State::Open);
                        path.push(c);
                        iters.push(0);
                    }
                    State::Done => {}
                },
            }
        }
    }
    None
}
