//! Streaming parser of a SEDA 2.1/2.2/2.3 `ArchiveTransfer` manifest.
//!
//! The parser reads events one at a time (quick-xml), keeps only what the
//! validation and the metadata mapping need, and refuses any DTD: no
//! entity is ever declared, so none can be expanded.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::error::{code, Rejection};

/// SEDA versions understood, by namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SedaVersion {
    V2_1,
    V2_2,
    V2_3,
}

impl SedaVersion {
    pub fn namespace(self) -> &'static str {
        match self {
            SedaVersion::V2_1 => "fr:gouv:culture:archivesdefrance:seda:v2.1",
            SedaVersion::V2_2 => "fr:gouv:culture:archivesdefrance:seda:v2.2",
            SedaVersion::V2_3 => "fr:gouv:culture:archivesdefrance:seda:v2.3",
        }
    }

    pub fn from_namespace(ns: &str) -> Option<SedaVersion> {
        [SedaVersion::V2_1, SedaVersion::V2_2, SedaVersion::V2_3]
            .into_iter()
            .find(|v| v.namespace() == ns)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SedaVersion::V2_1 => "2.1",
            SedaVersion::V2_2 => "2.2",
            SedaVersion::V2_3 => "2.3",
        }
    }
}

/// The message header of a transfer: what a reply must echo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferInfo {
    pub message_identifier: String,
    pub date: String,
    pub comment: String,
    pub archival_agreement: String,
    pub archival_agency: String,
    pub transferring_agency: String,
}

/// A `BinaryDataObject` as declared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinaryObject {
    pub id: String,
    /// `DataObjectGroupId`/`DataObjectGroupReferenceId`, or the enclosing
    /// `DataObjectGroup@id`.
    pub group_id: Option<String>,
    pub version: String,
    pub uri: Option<String>,
    pub digest_algorithm: String,
    pub digest: Option<String>,
    pub size: Option<String>,
    pub file_name: String,
    pub mime_type: String,
}

/// One rule of a rule category, with the fields that follow it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleRef {
    pub rule_id: String,
    pub start_date: Option<String>,
    /// `HoldEndDate` (holds only).
    pub end_date: Option<String>,
    /// `HoldOwner` (holds only).
    pub owner: String,
    /// `HoldReason` (holds only).
    pub reason: String,
}

/// A rule category block (`AppraisalRule`, `AccessRule`, `HoldRule`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleBlock {
    pub rules: Vec<RuleRef>,
    pub final_action: Option<String>,
    pub prevent_inheritance: bool,
    pub ref_non_rule_ids: Vec<String>,
}

/// Management rules of a unit or of the whole package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Management {
    pub appraisal: Option<RuleBlock>,
    pub access: Option<RuleBlock>,
    pub hold: Option<RuleBlock>,
    /// `ManagementMetadata` only.
    pub originating_agency: String,
    /// `ManagementMetadata` only.
    pub submission_agency: String,
}

/// The descriptive part of a unit (`Content`), first values kept where
/// SEDA allows repetition (Title, Description, Language).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Content {
    pub title: String,
    pub description: String,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub keywords: Vec<String>,
    pub document_type: String,
    pub language: String,
    pub custodial_history: Vec<String>,
    pub originating_agency: String,
    pub submission_agency: String,
}

/// A reference from a unit to data objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectRef {
    Group(String),
    Object(String),
}

/// An `ArchiveUnit` element as declared. A unit holding only an
/// `ArchiveUnitRefId` is a pointer: it makes its parent the parent of the
/// referenced unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitDecl {
    pub id: String,
    /// Index of the enclosing `ArchiveUnit` element in [`Manifest::units`].
    pub parent: Option<usize>,
    pub ref_id: Option<String>,
    pub content: Content,
    pub management: Management,
    pub object_refs: Vec<ObjectRef>,
}

/// Everything kept from a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub version: SedaVersion,
    pub transfer: TransferInfo,
    pub objects: Vec<BinaryObject>,
    /// Group ids of physical objects (no file behind them).
    pub physical_groups: Vec<String>,
    /// `DataObjectGroup@id` values.
    pub groups: Vec<String>,
    pub units: Vec<UnitDecl>,
    pub management: Management,
}

fn malformed(msg: impl std::fmt::Display) -> Rejection {
    Rejection::new(code::MALFORMED_MANIFEST, format!("manifest: {msg}"))
}

#[derive(Clone, Copy)]
enum Ctx {
    Object(usize, usize),
    Physical(usize),
    Group(usize, usize),
    Unit(usize, usize),
    Mgmt(usize),
}

fn id_attr(e: &BytesStart<'_>) -> Result<Option<String>, Rejection> {
    for a in e.attributes() {
        let a = a.map_err(malformed)?;
        if a.key.as_ref() == b"id" {
            return Ok(Some(
                a.unescape_value().map_err(malformed)?.trim().to_string(),
            ));
        }
    }
    Ok(None)
}

fn attr(e: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, Rejection> {
    for a in e.attributes() {
        let a = a.map_err(malformed)?;
        if a.key.as_ref() == name {
            return Ok(Some(
                a.unescape_value().map_err(malformed)?.trim().to_string(),
            ));
        }
    }
    Ok(None)
}

fn set_first(slot: &mut String, v: String) {
    if slot.is_empty() {
        *slot = v;
    }
}

fn rule_field(block: &mut RuleBlock, field: &str, text: String) {
    match field {
        "Rule" => block.rules.push(RuleRef {
            rule_id: text,
            ..RuleRef::default()
        }),
        "FinalAction" => block.final_action = Some(text),
        "PreventInheritance" => block.prevent_inheritance = text == "true" || text == "1",
        "RefNonRuleId" => block.ref_non_rule_ids.push(text),
        _ => {
            if let Some(last) = block.rules.last_mut() {
                match field {
                    "StartDate" => last.start_date = Some(text),
                    "HoldEndDate" => last.end_date = Some(text),
                    "HoldOwner" => last.owner = text,
                    "HoldReason" => last.reason = text,
                    _ => {}
                }
            }
        }
    }
}

fn management_field(m: &mut Management, rel: &[&str], text: String) {
    let block = match rel.first().copied() {
        Some("AppraisalRule") => &mut m.appraisal,
        Some("AccessRule") => &mut m.access,
        Some("HoldRule") => &mut m.hold,
        Some("OriginatingAgencyIdentifier") if rel.len() == 1 => {
            m.originating_agency = text;
            return;
        }
        Some("SubmissionAgencyIdentifier") if rel.len() == 1 => {
            m.submission_agency = text;
            return;
        }
        _ => return,
    };
    if rel.len() == 2 {
        rule_field(block.get_or_insert_with(RuleBlock::default), rel[1], text);
    }
}

fn rule_block_start(m: &mut Management, rel: &[&str]) {
    if rel.len() == 1 {
        match rel[0] {
            "AppraisalRule" => m.appraisal.get_or_insert_with(RuleBlock::default),
            "AccessRule" => m.access.get_or_insert_with(RuleBlock::default),
            "HoldRule" => m.hold.get_or_insert_with(RuleBlock::default),
            _ => return,
        };
    }
}

/// Parses a manifest. Refuses DTDs and entity references other than the
/// five predefined ones and character references.
pub fn parse(bytes: &[u8]) -> Result<Manifest, Rejection> {
    let mut reader = NsReader::from_reader(bytes);
    reader.config_mut().expand_empty_elements = true;
    reader.config_mut().check_end_names = true;

    let mut version: Option<SedaVersion> = None;
    let mut stack: Vec<String> = Vec::new();
    let mut ctx: Vec<Ctx> = Vec::new();
    let mut text = String::new();
    let mut m = Manifest {
        version: SedaVersion::V2_1,
        transfer: TransferInfo::default(),
        objects: Vec::new(),
        physical_groups: Vec::new(),
        groups: Vec::new(),
        units: Vec::new(),
        management: Management::default(),
    };
    let mut buf = Vec::new();
    let mut done = false;
    loop {
        let pos = reader.buffer_position();
        let (ns, ev) = reader
            .read_resolved_event_into(&mut buf)
            .map_err(|e| malformed(format!("{e} (after byte {pos})")))?;
        match ev {
            Event::DocType(_) => {
                return Err(Rejection::new(
                    code::FORBIDDEN_DTD,
                    "manifest: a DOCTYPE (DTD or entity declaration) is not allowed",
                ))
            }
            Event::Start(e) => {
                if done {
                    return Err(malformed("content after the root element"));
                }
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let ns_str = match &ns {
                    ResolveResult::Bound(n) => {
                        Some(String::from_utf8_lossy(n.as_ref()).into_owned())
                    }
                    ResolveResult::Unbound => None,
                    ResolveResult::Unknown(p) => {
                        return Err(malformed(format!(
                            "unknown namespace prefix {}",
                            String::from_utf8_lossy(p)
                        )))
                    }
                };
                if stack.is_empty() {
                    let v = ns_str.as_deref().and_then(SedaVersion::from_namespace).ok_or_else(|| {
                        Rejection::new(
                            code::UNSUPPORTED_VERSION,
                            format!(
                                "manifest root element is in namespace {:?}, not SEDA 2.1, 2.2 or 2.3",
                                ns_str.clone().unwrap_or_default()
                            ),
                        )
                    })?;
                    if local != "ArchiveTransfer" {
                        return Err(Rejection::new(
                            code::INVALID_MANIFEST,
                            format!("manifest root element is {local}, not ArchiveTransfer"),
                        ));
                    }
                    version = Some(v);
                    m.version = v;
                }
                let in_seda = ns_str.as_deref() == version.map(|v| v.namespace());
                let name = if in_seda { local } else { String::new() };
                stack.push(name.clone());
                text.clear();
                let depth = stack.len() - 1;
                let parent_is = |n: &str| depth >= 1 && stack[depth - 1] == n;
                match name.as_str() {
                    "BinaryDataObject" | "PhysicalDataObject"
                        if parent_is("DataObjectPackage") || parent_is("DataObjectGroup") =>
                    {
                        let group = match ctx.last() {
                            Some(Ctx::Group(g, _)) => Some(m.groups[*g].clone()),
                            _ => None,
                        };
                        if name == "BinaryDataObject" {
                            m.objects.push(BinaryObject {
                                id: id_attr(&e)?.unwrap_or_default(),
                                group_id: group,
                                ..BinaryObject::default()
                            });
                            ctx.push(Ctx::Object(m.objects.len() - 1, depth));
                        } else {
                            if let Some(g) = group {
                                m.physical_groups.push(g);
                            }
                            ctx.push(Ctx::Physical(depth));
                        }
                    }
                    "DataObjectGroup" if parent_is("DataObjectPackage") => {
                        m.groups.push(id_attr(&e)?.unwrap_or_default());
                        ctx.push(Ctx::Group(m.groups.len() - 1, depth));
                    }
                    "ArchiveUnit"
                        if parent_is("DescriptiveMetadata") || parent_is("ArchiveUnit") =>
                    {
                        let parent = match ctx.last() {
                            Some(Ctx::Unit(u, _)) => Some(*u),
                            _ => None,
                        };
                        m.units.push(UnitDecl {
                            id: id_attr(&e)?.unwrap_or_default(),
                            parent,
                            ..UnitDecl::default()
                        });
                        ctx.push(Ctx::Unit(m.units.len() - 1, depth));
                    }
                    "ManagementMetadata" if parent_is("DataObjectPackage") => {
                        ctx.push(Ctx::Mgmt(depth))
                    }
                    "MessageDigest" => {
                        if let Some(Ctx::Object(o, base)) = ctx.last() {
                            if depth == base + 1 {
                                m.objects[*o].digest_algorithm =
                                    attr(&e, b"algorithm")?.unwrap_or_default();
                            }
                        }
                    }
                    _ => {}
                }
                // Rule blocks exist even when empty (they may only block inheritance).
                match ctx.last().copied() {
                    Some(Ctx::Unit(u, base))
                        if depth >= base + 2 && stack[base + 1] == "Management" =>
                    {
                        let rel: Vec<&str> = stack[base + 2..].iter().map(String::as_str).collect();
                        rule_block_start(&mut m.units[u].management, &rel);
                    }
                    Some(Ctx::Mgmt(base)) if depth > base => {
                        let rel: Vec<&str> = stack[base + 1..].iter().map(String::as_str).collect();
                        rule_block_start(&mut m.management, &rel);
                    }
                    _ => {}
                }
            }
            Event::Text(t) => {
                text.push_str(&t.decode().map_err(malformed)?);
            }
            Event::CData(t) => {
                text.push_str(&t.decode().map_err(malformed)?);
            }
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().map_err(malformed)? {
                    text.push(c);
                } else {
                    let name = r.decode().map_err(malformed)?;
                    let c = match name.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => {
                            return Err(Rejection::new(
                                code::FORBIDDEN_DTD,
                                format!("manifest: reference to undeclared entity &{other};"),
                            ))
                        }
                    };
                    text.push(c);
                }
            }
            Event::End(_) => {
                let value = text.trim().to_string();
                text.clear();
                let depth = stack.len() - 1;
                on_end(&mut m, &stack, &ctx, depth, value);
                if let Some(c) = ctx.last() {
                    let base = match *c {
                        Ctx::Object(_, b)
                        | Ctx::Unit(_, b)
                        | Ctx::Mgmt(b)
                        | Ctx::Physical(b)
                        | Ctx::Group(_, b) => b,
                    };
                    if base == depth {
                        ctx.pop();
                    }
                }
                stack.pop();
                if stack.is_empty() {
                    done = true;
                }
            }
            Event::Eof => break,
            Event::Empty(_) => unreachable!("empty elements are expanded"),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
        buf.clear();
    }
    if !done {
        return Err(malformed("no root element, or the document ends early"));
    }
    Ok(m)
}

fn on_end(m: &mut Manifest, stack: &[String], ctx: &[Ctx], depth: usize, value: String) {
    let top = ctx.last().copied();
    match top {
        Some(Ctx::Object(o, base)) if depth > base => {
            let rel: Vec<&str> = stack[base + 1..=depth].iter().map(String::as_str).collect();
            let obj = &mut m.objects[o];
            match rel.as_slice() {
                ["DataObjectGroupId"] | ["DataObjectGroupReferenceId"] => {
                    obj.group_id = Some(value)
                }
                ["DataObjectVersion"] => obj.version = value,
                ["Uri"] => obj.uri = Some(value),
                ["MessageDigest"] => obj.digest = Some(value),
                ["Size"] => obj.size = Some(value),
                ["FileInfo", "Filename"] => obj.file_name = value,
                ["FormatIdentification", "MimeType"] => obj.mime_type = value,
                _ => {}
            }
        }
        Some(Ctx::Physical(base)) if depth == base + 1 => {
            if stack[depth] == "DataObjectGroupId" || stack[depth] == "DataObjectGroupReferenceId" {
                m.physical_groups.push(value);
            }
        }
        Some(Ctx::Unit(u, base)) if depth > base => {
            let rel: Vec<&str> = stack[base + 1..=depth].iter().map(String::as_str).collect();
            let unit = &mut m.units[u];
            let c = &mut unit.content;
            match rel.as_slice() {
                ["ArchiveUnitRefId"] => unit.ref_id = Some(value),
                ["DataObjectReference", "DataObjectGroupReferenceId"] => {
                    unit.object_refs.push(ObjectRef::Group(value))
                }
                ["DataObjectReference", "DataObjectReferenceId"] => {
                    unit.object_refs.push(ObjectRef::Object(value))
                }
                ["Content", "Title"] => set_first(&mut c.title, value),
                ["Content", "Description"] => set_first(&mut c.description, value),
                ["Content", "StartDate"] => c.start_date = Some(value),
                ["Content", "EndDate"] => c.end_date = Some(value),
                ["Content", "Keyword", "KeywordContent"] => c.keywords.push(value),
                ["Content", "DocumentType"] => c.document_type = value,
                ["Content", "Language"] => set_first(&mut c.language, value),
                ["Content", "CustodialHistory", "CustodialHistoryItem"] => {
                    c.custodial_history.push(value)
                }
                ["Content", "OriginatingAgency", "Identifier"] => c.originating_agency = value,
                ["Content", "SubmissionAgency", "Identifier"] => c.submission_agency = value,
                ["Management", rest @ ..] => management_field(&mut unit.management, rest, value),
                _ => {}
            }
        }
        Some(Ctx::Mgmt(base)) if depth > base => {
            let rel: Vec<&str> = stack[base + 1..=depth].iter().map(String::as_str).collect();
            management_field(&mut m.management, &rel, value);
        }
        _ => {
            if ctx.is_empty() {
                let path: Vec<&str> = stack[..=depth].iter().map(String::as_str).collect();
                let t = &mut m.transfer;
                match path.as_slice() {
                    [_, "MessageIdentifier"] => t.message_identifier = value,
                    [_, "Date"] => t.date = value,
                    [_, "Comment"] => set_first(&mut t.comment, value),
                    [_, "ArchivalAgreement"] => t.archival_agreement = value,
                    [_, "ArchivalAgency", "Identifier"] => t.archival_agency = value,
                    [_, "TransferringAgency", "Identifier"] => t.transferring_agency = value,
                    _ => {}
                }
            }
        }
    }
}
