//! BagIt (RFC 8493) dissemination packages: `export --bag` writes one,
//! `verify-bag` checks one offline.
//!
//! Layout of a bag:
//!
//! ```text
//! DIR/bagit.txt
//! DIR/bag-info.txt
//! DIR/manifest-sha256.txt, manifest-sha512.txt
//! DIR/tagmanifest-sha256.txt
//! DIR/data/README.txt
//! DIR/data/checkpoint.txt
//! DIR/data/verifier.key
//! DIR/data/<archive-id>/content/<file name>
//! DIR/data/<archive-id>/metadata.json
//! DIR/data/<archive-id>/metadata-seda.xml
//! DIR/data/<archive-id>/seal.tlog-proof
//! DIR/timestamps/checkpoint-<size>.txt, checkpoint-<size>.tsr, README.txt
//! ```
//!
//! `timestamps/` is a tag directory (RFC 8493 §2.2.4), listed in the tag
//! manifest, present when the log has RFC 3161 time-stamps: for each
//! archive, the first time-stamp whose checkpoint covers its ingest record,
//! and the latest one.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Component, Path};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context};
use minutier_proto::v1::{
    ArchiveInfo, DocumentMetadata, FinalAction, GetMetadataRequest, GetRequest, GetSealRequest,
};
use minutier_seal::hash::to_hex;
use minutier_seal::note::VerifierKey;
use minutier_seal::record::{validate_archive_id, Timestamp};
use minutier_seal::verify::SealVerifier;
use minutier_seal::Hash;
use serde::Serialize;
use sha2::{Digest, Sha256, Sha512};

use crate::audit::load_key;
use crate::client::{self, connect, connect_replication, Target};
use crate::error::{rpc, usage};
use crate::output::{human_bytes, print_json};
use crate::retrieve::{one_line, ArchiveJson};
use crate::timestamps::{self, Checked};

/// Read size when hashing a file; memory stays constant.
const READ_SIZE: usize = 256 * 1024;

const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
const SEDA_NS: &str = "fr:gouv:culture:archivesdefrance:seda:v2.3";
const SEAL_FILE: &str = "seal.tlog-proof";
const CONTENT_DIR: &str = "content";
/// The tag directory of the time-stamps.
const TIMESTAMPS_DIR: &str = "timestamps";
/// The payload manifests written, and the algorithms `verify-bag` knows.
const ALGORITHMS: [&str; 2] = ["sha256", "sha512"];

// ---------------------------------------------------------------- encoding

/// A path as manifests write it (RFC 8493 §2.1.3): `/` separators, and
/// CR, LF and `%` percent-encoded.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// The inverse of [`encode_path`]; other `%` sequences stay as they are.
pub fn decode_path(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let code = tail.get(..3).map(str::to_ascii_uppercase);
        match code.as_deref() {
            Some("%25") => out.push('%'),
            Some("%0D") => out.push('\r'),
            Some("%0A") => out.push('\n'),
            _ => {
                out.push('%');
                rest = &tail[1..];
                continue;
            }
        }
        rest = &tail[3..];
    }
    out.push_str(rest);
    out
}

/// The content file's name in the bag: the producer's base name when it
/// is a usable single path component, else `content`.
fn content_name(file_name: &str) -> String {
    let base = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim();
    let unusable = base.is_empty()
        || base == "."
        || base == ".."
        || base.contains('\0')
        || base.ends_with(".partial")
        || base.len() > 255;
    if unusable {
        "content".to_owned()
    } else {
        base.to_owned()
    }
}

/// Text safe inside an XML 1.0 element or attribute.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            '\r' => out.push_str("&#13;"),
            // Not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A SEDA 2.3 `ArchiveUnit` describing one archive: management rules,
/// then the descriptive content in the schema's element order.
pub fn seda_xml(info: &ArchiveInfo) -> String {
    let m: DocumentMetadata = info.metadata.clone().unwrap_or_default();
    let rules = m.rules.clone().unwrap_or_default();
    let mut x = String::new();
    let el = |x: &mut String, indent: usize, name: &str, value: &str| {
        if !value.is_empty() {
            x.push_str(&format!(
                "{}<{name}>{}</{name}>\n",
                "  ".repeat(indent),
                xml_escape(value)
            ));
        }
    };
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<ArchiveUnit xmlns=\"{SEDA_NS}\" id=\"{}\">\n",
        xml_escape(&format!("AU-{}", info.archive_id))
    ));
    x.push_str("  <Management>\n");
    if let Some(a) = &rules.appraisal {
        x.push_str("    <AppraisalRule>\n");
        let rule = if a.rule_id.is_empty() {
            format!("P{}Y", a.duration_years.unwrap_or_default())
        } else {
            a.rule_id.clone()
        };
        el(&mut x, 3, "Rule", &rule);
        el(&mut x, 3, "StartDate", &a.start_date);
        let action = match FinalAction::try_from(a.final_action) {
            Ok(FinalAction::Destroy) => "Destroy",
            _ => "Keep",
        };
        el(&mut x, 3, "FinalAction", action);
        x.push_str("    </AppraisalRule>\n");
    }
    if let Some(a) = &rules.access {
        x.push_str("    <AccessRule>\n");
        let rule = if a.rule_id.is_empty() {
            format!("P{}Y", a.delay_years.unwrap_or_default())
        } else {
            a.rule_id.clone()
        };
        el(&mut x, 3, "Rule", &rule);
        el(&mut x, 3, "StartDate", &a.start_date);
        x.push_str("    </AccessRule>\n");
    }
    if !rules.holds.is_empty() {
        x.push_str("    <HoldRule>\n");
        for h in &rules.holds {
            el(&mut x, 3, "Rule", &h.hold_id);
            el(&mut x, 3, "HoldEndDate", &h.end_date);
            el(&mut x, 3, "HoldOwner", &h.placed_by);
            el(&mut x, 3, "HoldReason", &h.reason);
        }
        x.push_str("    </HoldRule>\n");
    }
    x.push_str("  </Management>\n");
    x.push_str("  <Content>\n");
    el(&mut x, 2, "DescriptionLevel", "Item");
    el(&mut x, 2, "Title", &m.title);
    el(
        &mut x,
        2,
        "ArchivalAgencyArchiveUnitIdentifier",
        &info.archive_id,
    );
    el(&mut x, 2, "Description", &m.description);
    if !m.custodial_history.is_empty() {
        x.push_str("    <CustodialHistory>\n");
        el(&mut x, 3, "CustodialHistoryItem", &m.custodial_history);
        x.push_str("    </CustodialHistory>\n");
    }
    el(&mut x, 2, "DocumentType", &m.document_type);
    el(&mut x, 2, "Language", &m.language);
    for k in m.keywords.iter().filter(|k| !k.is_empty()) {
        x.push_str("    <Keyword>\n");
        el(&mut x, 3, "KeywordContent", k);
        x.push_str("    </Keyword>\n");
    }
    for (element, agency) in [
        ("OriginatingAgency", &m.originating_agency),
        ("SubmissionAgency", &m.submission_agency),
    ] {
        if !agency.is_empty() {
            x.push_str(&format!("    <{element}>\n"));
            el(&mut x, 3, "Identifier", agency);
            x.push_str(&format!("    </{element}>\n"));
        }
    }
    el(&mut x, 2, "StartDate", &m.start_date);
    el(&mut x, 2, "EndDate", &m.end_date);
    x.push_str("  </Content>\n");
    x.push_str("</ArchiveUnit>\n");
    x
}

fn readme(ids: &[String]) -> String {
    let list: String = ids.iter().map(|id| format!("  - {id}\n")).collect();
    format!(
        "\
Paquet d'archives Minutier (BagIt, RFC 8493)
============================================

Ce paquet contient {n} archive(s) extraite(s) d'un serveur d'archivage
Minutier, avec de quoi prouver, sans contacter le serveur, que chaque
document est bien celui qui a été archivé :

{list}
Pour chaque archive, data/<identifiant>/ contient :
  - content/ : le document lui-même ;
  - metadata.json : ses métadonnées et ses règles de gestion ;
  - metadata-seda.xml : les mêmes, en unité d'archives SEDA 2.3 ;
  - seal.tlog-proof : son sceau.
data/checkpoint.txt est le dernier point de contrôle signé du journal, et
data/verifier.key la clé publique de vérification du journal. S'il existe,
le répertoire timestamps/ contient des horodatages RFC 3161 de points de
contrôle (checkpoint-<taille>.txt et .tsr), à vérifier avec le certificat
de l'autorité d'horodatage (voir timestamps/README.txt) :
  openssl ts -verify -data checkpoint-<taille>.txt -in checkpoint-<taille>.tsr -CAfile tsa-ca.pem

Vérifier le paquet
------------------
1. Avec l'outil Minutier, hors ligne :
     minutier verify-bag <répertoire> --key <clé de confiance>
   Sans --key, la clé du paquet (data/verifier.key) est utilisée : elle
   ne prouve rien par elle-même, puisqu'elle voyage avec le paquet.
2. À la main : tout validateur BagIt vérifie l'intégrité du paquet
   (manifest-sha256.txt, manifest-sha512.txt). Un sceau est une preuve
   d'inclusion au format C2SP tlog-proof (https://c2sp.org/tlog-proof) ;
   le point de contrôle est une note signée C2SP
   (https://c2sp.org/signed-note). L'enregistrement scellé porte
   l'empreinte SHA-256 et la taille du document.
3. Dans tous les cas, comparez data/verifier.key avec la clé que le
   serveur d'archivage publie (commande `minutier key`, ou par l'archiviste
   responsable) : c'est elle qui fonde la confiance.

Minutier archive package (BagIt, RFC 8493)
==========================================

This package holds {n} archive(s) exported from a Minutier archive
appliance, with what is needed to prove, without contacting the appliance,
that each document is the one that was archived (list above).

For each archive, data/<identifier>/ holds:
  - content/: the document itself;
  - metadata.json: its metadata and management rules;
  - metadata-seda.xml: the same, as a SEDA 2.3 archive unit;
  - seal.tlog-proof: its seal.
data/checkpoint.txt is the log's latest signed checkpoint, and
data/verifier.key the log's public verifier key. When present, the
timestamps/ directory holds RFC 3161 time-stamps of checkpoints
(checkpoint-<size>.txt and .tsr), checked with the certificate of the
time-stamping authority's CA (see timestamps/README.txt):
  openssl ts -verify -data checkpoint-<size>.txt -in checkpoint-<size>.tsr -CAfile tsa-ca.pem

Verifying the package
---------------------
1. With the Minutier tool, offline:
     minutier verify-bag <directory> --key <trusted key>
   Without --key the bag's own key (data/verifier.key) is used: it proves
   nothing by itself, since it travels with the package.
2. By hand: any BagIt validator checks the package's integrity
   (manifest-sha256.txt, manifest-sha512.txt). A seal is a C2SP tlog-proof
   inclusion proof (https://c2sp.org/tlog-proof); the checkpoint is a C2SP
   signed note (https://c2sp.org/signed-note). The sealed record carries
   the document's SHA-256 digest and size.
3. In every case, compare data/verifier.key with the key the archive
   appliance publishes (`minutier key`, or ask the archivist in charge):
   that key is what the trust rests on.
",
        n = ids.len()
    )
}

/// Today's date in UTC, YYYY-MM-DD.
fn today() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Timestamp(millis).to_string()[..10].to_owned()
}

/// Both digests of some bytes, in memory.
#[derive(Clone)]
struct Digests {
    sha256: String,
    sha512: String,
}

impl Digests {
    fn of(bytes: &[u8]) -> Digests {
        Digests {
            sha256: hex::encode(Sha256::digest(bytes)),
            sha512: hex::encode(Sha512::digest(bytes)),
        }
    }

    fn get(&self, algorithm: &str) -> Option<&str> {
        match algorithm {
            "sha256" => Some(&self.sha256),
            "sha512" => Some(&self.sha512),
            _ => None,
        }
    }
}

/// Both digests and the size of a file, streamed.
fn hash_file(path: &Path, buf: &mut [u8]) -> std::io::Result<(Digests, u64)> {
    let mut file = std::fs::File::open(path)?;
    let (mut s256, mut s512, mut size) = (Sha256::new(), Sha512::new(), 0u64);
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        s256.update(&buf[..n]);
        s512.update(&buf[..n]);
        size += n as u64;
    }
    Ok((
        Digests {
            sha256: hex::encode(s256.finalize()),
            sha512: hex::encode(s512.finalize()),
        },
        size,
    ))
}

fn manifest_text(entries: &BTreeMap<String, (Digests, u64)>, algorithm: &str) -> String {
    entries
        .iter()
        .map(|(path, (d, _))| {
            format!(
                "{}  {}\n",
                d.get(algorithm).unwrap_or_default(),
                encode_path(path)
            )
        })
        .collect()
}

// ---------------------------------------------------------------- export

#[derive(Serialize)]
struct ExportJson {
    bag: String,
    archives: usize,
    archive_ids: Vec<String>,
    files: usize,
    bytes: u64,
}

/// Writes the bag; `dir` must not exist. On any failure, or Ctrl-C, the
/// directory is removed: a bag is either complete or absent.
pub async fn export(
    server: &Target,
    json: bool,
    dir: &Path,
    ids: &[String],
) -> anyhow::Result<ExitCode> {
    let mut seen = BTreeSet::new();
    for id in ids {
        if validate_archive_id(id).is_err() || id == "." || id == ".." {
            return Err(usage(format!("{id:?} is not an archive identifier")));
        }
        if !seen.insert(id.as_str()) {
            return Err(usage(format!("archive {id} is given twice")));
        }
    }
    if std::fs::symlink_metadata(dir).is_ok() {
        return Err(usage(format!(
            "{} already exists; a bag is written into a new directory",
            dir.display()
        )));
    }
    let mut client = connect(server).await?;
    // Every archive is looked up before anything is written, so that an
    // unknown identifier leaves nothing behind.
    let mut infos = Vec::with_capacity(ids.len());
    for id in ids {
        infos.push(rpc(client
            .get_metadata(GetMetadataRequest {
                archive_id: id.clone(),
            })
            .await)?);
    }
    let stamps = bag_timestamps(server, &mut client, &infos).await?;
    std::fs::create_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let work = write_bag(&mut client, json, dir, &infos, &stamps);
    let result = tokio::select! {
        r = work => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    let (files, bytes) = match result {
        Ok(totals) => totals,
        Err(e) => {
            let _ = std::fs::remove_dir_all(dir);
            return Err(e.context(format!("bag {} not written", dir.display())));
        }
    };
    if json {
        print_json(&ExportJson {
            bag: dir.display().to_string(),
            archives: ids.len(),
            archive_ids: ids.to_vec(),
            files,
            bytes,
        });
    } else {
        eprintln!(
            "bag {} written: {} archives, {files} files, {}",
            dir.display(),
            ids.len(),
            human_bytes(bytes)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a file of the bag, returning its digests and size.
fn write_small(root: &Path, rel: &str, bytes: &[u8]) -> anyhow::Result<(Digests, u64)> {
    let path = root.join(rel);
    std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok((Digests::of(bytes), bytes.len() as u64))
}

/// The time-stamps a bag carries, checked like `minutier timestamps` checks
/// them: for each archive the first whose checkpoint covers its ingest
/// record (it proves the document existed at that time), and the latest.
async fn bag_timestamps(
    server: &Target,
    client: &mut client::Client,
    infos: &[ArchiveInfo],
) -> anyhow::Result<Vec<Checked>> {
    let keys = client::latest_checkpoint(client).await?.parsed_keys()?;
    let mut replication = connect_replication(server).await?;
    let (all, _) = timestamps::fetch_all(&mut replication).await?;
    let checked = timestamps::check_all(&all, &keys)
        .map_err(|e| anyhow!("the log's time-stamps do not verify: {e}"))?;
    Ok(select_timestamps(&checked, infos))
}

fn select_timestamps(checked: &[Checked], infos: &[ArchiveInfo]) -> Vec<Checked> {
    let mut sizes: BTreeSet<u64> = infos
        .iter()
        .filter_map(|i| {
            checked
                .iter()
                .find(|c| c.checkpoint_size > i.log_index)
                .map(|c| c.checkpoint_size)
        })
        .collect();
    sizes.extend(checked.last().map(|c| c.checkpoint_size));
    checked
        .iter()
        .filter(|c| sizes.contains(&c.checkpoint_size))
        .cloned()
        .collect()
}

async fn write_bag(
    client: &mut client::Client,
    json: bool,
    root: &Path,
    infos: &[ArchiveInfo],
    stamps: &[Checked],
) -> anyhow::Result<(usize, u64)> {
    let data = root.join("data");
    std::fs::create_dir(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let mut payload: BTreeMap<String, (Digests, u64)> = BTreeMap::new();
    let mut agencies: Vec<String> = Vec::new();

    for info in infos {
        let id = &info.archive_id;
        let meta = info.metadata.clone().unwrap_or_default();
        let agency = one_line(&meta.originating_agency).trim().to_owned();
        if !agency.is_empty() && !agencies.contains(&agency) {
            agencies.push(agency);
        }
        let content_dir = data.join(id).join(CONTENT_DIR);
        std::fs::create_dir_all(&content_dir)
            .with_context(|| format!("cannot create {}", content_dir.display()))?;

        let name = content_name(&meta.file_name);
        let rel = format!("data/{id}/{CONTENT_DIR}/{name}");
        let stream = rpc(client
            .get(GetRequest {
                archive_id: id.clone(),
            })
            .await)?;
        let got = copy_content(stream, &root.join(&rel)).await?;
        if got.1 != info.size || !got.0.sha256.eq_ignore_ascii_case(&info.content_sha256) {
            bail!(
                "content of {id} does not match its record: got {} bytes with SHA-256 {}, \
                 record says {} bytes with SHA-256 {}",
                got.1,
                got.0.sha256,
                info.size,
                info.content_sha256
            );
        }
        payload.insert(rel, got);

        let mut meta_json = serde_json::to_string_pretty(&ArchiveJson::from(info.clone()))
            .context("cannot serialise the metadata")?;
        meta_json.push('\n');
        let rel = format!("data/{id}/metadata.json");
        payload.insert(rel.clone(), write_small(root, &rel, meta_json.as_bytes())?);

        let rel = format!("data/{id}/metadata-seda.xml");
        payload.insert(
            rel.clone(),
            write_small(root, &rel, seda_xml(info).as_bytes())?,
        );

        let seal = rpc(client
            .get_seal(GetSealRequest {
                archive_id: id.clone(),
            })
            .await)?;
        let rel = format!("data/{id}/{SEAL_FILE}");
        payload.insert(rel.clone(), write_small(root, &rel, seal.seal.as_bytes())?);

        if !json {
            eprintln!(
                "{id}  {name} ({}), record {}",
                human_bytes(info.size),
                seal.log_index
            );
        }
    }

    // The checkpoint after every seal: each seal's own checkpoint is older
    // or the same.
    let latest = client::latest_checkpoint(client).await?;
    for (rel, text) in [
        ("data/checkpoint.txt", latest.checkpoint.clone()),
        ("data/verifier.key", format!("{}\n", latest.verifier_key)),
        ("data/README.txt", readme(&ids_of(infos))),
    ] {
        payload.insert(rel.to_owned(), write_small(root, rel, text.as_bytes())?);
    }

    let bytes: u64 = payload.values().map(|(_, size)| size).sum();
    let files = payload.len();
    let mut tags: BTreeMap<String, (Digests, u64)> = BTreeMap::new();
    tags.insert(
        "bagit.txt".into(),
        write_small(root, "bagit.txt", BAGIT_TXT.as_bytes())?,
    );
    for algorithm in ALGORITHMS {
        let rel = format!("manifest-{algorithm}.txt");
        let text = manifest_text(&payload, algorithm);
        tags.insert(rel.clone(), write_small(root, &rel, text.as_bytes())?);
    }
    let mut info_txt = String::new();
    for agency in &agencies {
        info_txt.push_str(&format!("Source-Organization: {agency}\n"));
    }
    info_txt.push_str(&format!("Bagging-Date: {}\n", today()));
    info_txt.push_str(&format!("Payload-Oxum: {bytes}.{files}\n"));
    info_txt.push_str("Bag-Count: 1 of 1\n");
    info_txt.push_str(&format!(
        "External-Description: Minutier archive export: {}\n",
        ids_of(infos).join(", ")
    ));
    info_txt.push_str(&format!(
        "Bag-Software-Agent: minutier {}\n",
        env!("CARGO_PKG_VERSION")
    ));
    tags.insert(
        "bag-info.txt".into(),
        write_small(root, "bag-info.txt", info_txt.as_bytes())?,
    );
    if !stamps.is_empty() {
        let dir = root.join(TIMESTAMPS_DIR);
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for c in stamps {
            let (txt, tsr) = timestamps::export_names(c.checkpoint_size);
            for (name, bytes) in [
                (txt, c.checkpoint.as_bytes().to_vec()),
                (tsr, timestamps::tsr(c)),
            ] {
                let rel = format!("{TIMESTAMPS_DIR}/{name}");
                tags.insert(rel.clone(), write_small(root, &rel, &bytes)?);
            }
        }
        let rel = format!("{TIMESTAMPS_DIR}/README.txt");
        let text = timestamps::readme(stamps);
        tags.insert(rel.clone(), write_small(root, &rel, text.as_bytes())?);
    }
    let text = manifest_text(&tags, "sha256");
    write_small(root, "tagmanifest-sha256.txt", text.as_bytes())?;
    sync_tree(root)?;
    Ok((files, bytes))
}

fn ids_of(infos: &[ArchiveInfo]) -> Vec<String> {
    infos.iter().map(|i| i.archive_id.clone()).collect()
}

/// Streams a document into `path`, hashing as it goes.
async fn copy_content(
    mut stream: tonic::Streaming<minutier_proto::v1::GetResponse>,
    path: &Path,
) -> anyhow::Result<(Digests, u64)> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::File::create(path)
        .await
        .with_context(|| format!("cannot create {}", path.display()))?;
    let (mut s256, mut s512, mut size) = (Sha256::new(), Sha512::new(), 0u64);
    while let Some(msg) = stream.message().await.map_err(crate::error::Rpc)? {
        s256.update(&msg.chunk);
        s512.update(&msg.chunk);
        size += msg.chunk.len() as u64;
        file.write_all(&msg.chunk)
            .await
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    file.flush()
        .await
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok((
        Digests {
            sha256: hex::encode(s256.finalize()),
            sha512: hex::encode(s512.finalize()),
        },
        size,
    ))
}

/// Flushes every file of the bag to disk.
fn sync_tree(dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .with_context(|| format!("cannot sync {}", path.display()))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- verify-bag

/// Why a bag does not verify: the file concerned and the reason.
#[derive(Debug, Serialize)]
struct Failure {
    file: String,
    reason: String,
}

fn fail(file: impl Into<String>, reason: impl Into<String>) -> Failure {
    Failure {
        file: file.into(),
        reason: reason.into(),
    }
}

#[derive(Serialize)]
struct VerifyBagJson {
    ok: bool,
    bag: String,
    /// "argument" (the --key given) or "bag" (data/verifier.key).
    key_source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<Failure>,
    files: usize,
    manifests: Vec<String>,
    tag_manifests: Vec<String>,
    archives: Vec<ArchiveCheck>,
    /// The time-stamps of timestamps/, if any.
    timestamps: Vec<TimestampCheck>,
}

#[derive(Serialize)]
struct TimestampCheck {
    file: String,
    checkpoint_size: u64,
    gen_time: String,
    serial: String,
    tsa_name: Option<String>,
}

#[derive(Serialize)]
struct ArchiveCheck {
    archive_id: String,
    content: String,
    content_sha256: String,
    size: u64,
    log_index: u64,
    sealed_at: String,
    actor: String,
    origin: String,
    checkpoint_size: u64,
}

/// Checks a bag offline: its structure and manifests (RFC 8493), then
/// every archive's content against its seal.
pub fn verify(json: bool, dir: &Path, key: Option<&str>) -> anyhow::Result<ExitCode> {
    if !dir.is_dir() {
        return Err(usage(format!("{} is not a directory", dir.display())));
    }
    let trusted = key.map(load_key).transpose()?;
    let key_source = if trusted.is_some() { "argument" } else { "bag" };
    let mut report = VerifyBagJson {
        ok: false,
        bag: dir.display().to_string(),
        key_source,
        failure: None,
        files: 0,
        manifests: Vec::new(),
        tag_manifests: Vec::new(),
        archives: Vec::new(),
        timestamps: Vec::new(),
    };
    if trusted.is_none() {
        eprintln!(
            "warning: no --key given: using data/verifier.key, which comes from the bag itself; \
             compare it with the key the appliance publishes"
        );
    }
    let outcome = check_bag(dir, trusted, &mut report);
    match outcome {
        Ok(()) => {
            report.ok = true;
            if json {
                print_json(&report);
            } else {
                for a in &report.archives {
                    println!(
                        "OK  {} is archive {}, record {} of log {} (size {}), sealed {} by {}",
                        a.content,
                        a.archive_id,
                        a.log_index,
                        a.origin,
                        a.checkpoint_size,
                        a.sealed_at,
                        a.actor
                    );
                }
                for t in &report.timestamps {
                    println!(
                        "OK  {} time-stamps checkpoint {} (genTime {}, serial {}); check the \
                         TSA's signature with openssl ts -verify (timestamps/README.txt)",
                        t.file, t.checkpoint_size, t.gen_time, t.serial
                    );
                }
                println!(
                    "bag verifies: {} archives, {} files, {} time-stamps",
                    report.archives.len(),
                    report.files,
                    report.timestamps.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            if json {
                report.failure = Some(failure);
                print_json(&report);
            } else {
                println!("FAILED  {}: {}", failure.file, failure.reason);
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// A manifest's entries: decoded path to digest, in file order.
fn read_manifest(root: &Path, name: &str) -> Result<Vec<(String, String)>, Failure> {
    let text = std::fs::read_to_string(root.join(name))
        .map_err(|e| fail(name, format!("cannot read: {e}")))?;
    let mut entries = Vec::new();
    let mut seen = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let (digest, path) = line
            .split_once([' ', '\t'])
            .map(|(d, p)| (d, p.trim_start_matches([' ', '\t'])))
            .filter(|(_, p)| !p.is_empty())
            .ok_or_else(|| fail(name, format!("line {}: not \"digest path\"", n + 1)))?;
        let path = decode_path(path);
        if !safe_relative(&path) {
            return Err(fail(
                name,
                format!("line {}: {path:?} points outside the bag", n + 1),
            ));
        }
        if !seen.insert(path.clone()) {
            return Err(fail(name, format!("line {}: {path:?} listed twice", n + 1)));
        }
        entries.push((path, digest.to_ascii_lowercase()));
    }
    Ok(entries)
}

/// A relative path of normal components only.
fn safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\\')
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Every file under `dir`, as bag-relative paths with `/`.
fn payload_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), Failure> {
    let rel = |p: &Path| {
        p.strip_prefix(root)
            .unwrap_or(p)
            .to_string_lossy()
            .replace(std::path::MAIN_SEPARATOR, "/")
    };
    let entries =
        std::fs::read_dir(dir).map_err(|e| fail(rel(dir), format!("cannot read: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| fail(rel(dir), format!("cannot read: {e}")))?;
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| fail(rel(&path), format!("cannot read: {e}")))?;
        if meta.is_dir() {
            payload_files(root, &path, out)?;
        } else if meta.is_file() {
            if path.to_str().is_none() {
                return Err(fail(rel(&path), "file name is not UTF-8"));
            }
            out.push(rel(&path));
        } else {
            return Err(fail(rel(&path), "not a regular file (a link or device)"));
        }
    }
    Ok(())
}

fn check_bag(
    root: &Path,
    trusted: Option<VerifierKey>,
    report: &mut VerifyBagJson,
) -> Result<(), Failure> {
    // bagit.txt
    let declaration = std::fs::read_to_string(root.join("bagit.txt"))
        .map_err(|e| fail("bagit.txt", format!("cannot read: {e}")))?;
    let mut lines = declaration.lines();
    let version = lines.next().unwrap_or_default();
    let encoding = lines.next().unwrap_or_default();
    if !matches!(
        version.trim_start_matches('\u{FEFF}'),
        "BagIt-Version: 1.0" | "BagIt-Version: 0.97"
    ) {
        return Err(fail(
            "bagit.txt",
            format!("first line is {version:?}, not \"BagIt-Version: 1.0\""),
        ));
    }
    if encoding != "Tag-File-Character-Encoding: UTF-8" {
        return Err(fail(
            "bagit.txt",
            format!("second line is {encoding:?}, not \"Tag-File-Character-Encoding: UTF-8\""),
        ));
    }
    if lines.any(|l| !l.trim().is_empty()) {
        return Err(fail(
            "bagit.txt",
            "unexpected lines after the two declarations",
        ));
    }

    // Manifests present, by algorithm.
    let mut manifests = Vec::new();
    let mut tag_manifests = Vec::new();
    let top = std::fs::read_dir(root).map_err(|e| fail(".", format!("cannot read: {e}")))?;
    for entry in top.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(alg) = name
            .strip_prefix("manifest-")
            .and_then(|n| n.strip_suffix(".txt"))
        {
            manifests.push(alg.to_owned());
        } else if let Some(alg) = name
            .strip_prefix("tagmanifest-")
            .and_then(|n| n.strip_suffix(".txt"))
        {
            tag_manifests.push(alg.to_owned());
        }
    }
    manifests.sort();
    tag_manifests.sort();
    for alg in manifests.iter().chain(&tag_manifests) {
        if !ALGORITHMS.contains(&alg.as_str()) {
            return Err(fail(
                format!("manifest-{alg}.txt"),
                format!("unsupported algorithm {alg:?} (this tool checks sha256 and sha512)"),
            ));
        }
    }
    if manifests.is_empty() {
        return Err(fail(
            "manifest-sha512.txt",
            "the bag has no payload manifest",
        ));
    }
    report.manifests = manifests
        .iter()
        .map(|a| format!("manifest-{a}.txt"))
        .collect();
    report.tag_manifests = tag_manifests
        .iter()
        .map(|a| format!("tagmanifest-{a}.txt"))
        .collect();

    // The payload: every file under data/, hashed once with both algorithms.
    let data = root.join("data");
    if !data.is_dir() {
        return Err(fail("data", "the payload directory is missing"));
    }
    let mut files = Vec::new();
    payload_files(root, &data, &mut files)?;
    files.sort();
    let mut buf = vec![0u8; READ_SIZE];
    let mut hashed: BTreeMap<String, (Digests, u64)> = BTreeMap::new();
    for file in &files {
        let got = hash_file(&root.join(file), &mut buf)
            .map_err(|e| fail(file.as_str(), format!("cannot read: {e}")))?;
        hashed.insert(file.clone(), got);
    }
    report.files = files.len();

    for alg in &manifests {
        let name = format!("manifest-{alg}.txt");
        let entries = read_manifest(root, &name)?;
        let mut listed = BTreeSet::new();
        for (path, digest) in &entries {
            if !path.starts_with("data/") {
                return Err(fail(
                    name.as_str(),
                    format!("{path:?} is not a payload file (outside data/)"),
                ));
            }
            let Some((actual, _)) = hashed.get(path) else {
                return Err(fail(
                    path.as_str(),
                    format!("listed in {name} but missing from the bag"),
                ));
            };
            let actual = actual.get(alg).unwrap_or_default();
            if actual != digest {
                return Err(fail(
                    path.as_str(),
                    format!("{alg} mismatch: {name} says {digest}, the file has {actual}"),
                ));
            }
            listed.insert(path.as_str());
        }
        if let Some(extra) = files.iter().find(|f| !listed.contains(f.as_str())) {
            return Err(fail(
                extra.as_str(),
                format!("payload file not listed in {name}"),
            ));
        }
    }

    for alg in &tag_manifests {
        let name = format!("tagmanifest-{alg}.txt");
        for (path, digest) in read_manifest(root, &name)? {
            if path.starts_with("data/") || path.starts_with("tagmanifest-") {
                return Err(fail(name.as_str(), format!("{path:?} is not a tag file")));
            }
            let (actual, _) = hash_file(&root.join(&path), &mut buf)
                .map_err(|e| fail(path.as_str(), format!("listed in {name}: {e}")))?;
            let actual = actual.get(alg).unwrap_or_default();
            if actual != digest {
                return Err(fail(
                    path.as_str(),
                    format!("{alg} mismatch: {name} says {digest}, the file has {actual}"),
                ));
            }
        }
    }

    check_oxum(root, &hashed)?;

    // The seals.
    let key = match trusted {
        Some(key) => key,
        None => {
            let text = std::fs::read_to_string(data.join("verifier.key"))
                .map_err(|e| fail("data/verifier.key", format!("cannot read: {e}")))?;
            VerifierKey::parse(text.trim())
                .map_err(|e| fail("data/verifier.key", format!("not a verifier key: {e}")))?
        }
    };
    report.timestamps = check_timestamps(root, &key)?;
    let mut verifier = SealVerifier::new(key);
    if let Ok(checkpoint) = std::fs::read_to_string(data.join("checkpoint.txt")) {
        verifier
            .open_checkpoint(&checkpoint)
            .map_err(|e| fail("data/checkpoint.txt", e.to_string()))?;
    }
    let seals: Vec<&String> = files
        .iter()
        .filter(|f| {
            let parts: Vec<&str> = f.split('/').collect();
            parts.len() == 3 && parts[2] == SEAL_FILE
        })
        .collect();
    if seals.is_empty() {
        return Err(fail(
            "data",
            "no archive in the bag (no data/<id>/seal.tlog-proof)",
        ));
    }
    for seal_rel in seals {
        let id = seal_rel.split('/').nth(1).unwrap_or_default().to_owned();
        let prefix = format!("data/{id}/{CONTENT_DIR}/");
        let contents: Vec<&String> = files.iter().filter(|f| f.starts_with(&prefix)).collect();
        let content = match contents.as_slice() {
            [one] if !one[prefix.len()..].contains('/') => (*one).clone(),
            [] => return Err(fail(prefix, "no content file for this seal")),
            _ => return Err(fail(prefix, "expected exactly one content file")),
        };
        let seal_text = std::fs::read_to_string(root.join(seal_rel))
            .map_err(|e| fail(seal_rel.as_str(), format!("cannot read as text: {e}")))?;
        let (digests, size) = &hashed[&content];
        let sha256: Hash = hex::decode(&digests.sha256)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| fail(content.as_str(), "cannot hash"))?;
        let verified = verifier
            .verify(&seal_text)
            .map_err(|e| fail(seal_rel.as_str(), format!("the seal does not verify: {e}")))?;
        if verified.record.archive_id != id {
            return Err(fail(
                seal_rel.as_str(),
                format!(
                    "the seal is archive {}'s, not {id}'s",
                    verified.record.archive_id
                ),
            ));
        }
        if verified.record.content_sha256 != sha256 || verified.record.size != *size {
            return Err(fail(
                content.as_str(),
                format!(
                    "does not match its seal {seal_rel}: the file has {size} bytes with SHA-256 \
                     {}, the sealed record says {} bytes with SHA-256 {}",
                    digests.sha256,
                    verified.record.size,
                    to_hex(&verified.record.content_sha256)
                ),
            ));
        }
        report.archives.push(ArchiveCheck {
            archive_id: id,
            content: content.clone(),
            content_sha256: digests.sha256.clone(),
            size: *size,
            log_index: verified.index,
            sealed_at: verified.record.time.to_string(),
            actor: verified.record.actor.to_string(),
            origin: verified.checkpoint.origin.to_string(),
            checkpoint_size: verified.checkpoint.size,
        });
    }
    Ok(())
}

/// The time-stamps of timestamps/: each `.tsr` is a granted response whose
/// token time-stamps the SHA-256 of its `.txt`, a checkpoint of this log of
/// the size in the file name. (Their signatures are for openssl.)
fn check_timestamps(root: &Path, key: &VerifierKey) -> Result<Vec<TimestampCheck>, Failure> {
    let dir = root.join(TIMESTAMPS_DIR);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| fail(TIMESTAMPS_DIR, format!("cannot read: {e}")))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in &names {
        let rel = format!("{TIMESTAMPS_DIR}/{name}");
        let size = name
            .strip_prefix("checkpoint-")
            .and_then(|n| n.strip_suffix(".txt").or_else(|| n.strip_suffix(".tsr")))
            .and_then(|n| n.parse::<u64>().ok());
        let Some(size) = size else {
            if name == "README.txt" {
                continue;
            }
            return Err(fail(rel, "unexpected file among the time-stamps"));
        };
        let (txt, tsr) = timestamps::export_names(size);
        if *name == txt {
            if !names.contains(&tsr) {
                return Err(fail(
                    rel,
                    format!("no time-stamp ({tsr}) for this checkpoint"),
                ));
            }
            continue;
        }
        let txt_rel = format!("{TIMESTAMPS_DIR}/{txt}");
        let checkpoint = std::fs::read_to_string(dir.join(&txt))
            .map_err(|e| fail(txt_rel.as_str(), format!("cannot read: {e}")))?;
        let response = std::fs::read(dir.join(name))
            .map_err(|e| fail(rel.as_str(), format!("cannot read: {e}")))?;
        let granted = minutier_timestamp::parse_response(&response)
            .map_err(|e| fail(rel.as_str(), e.to_string()))?;
        let digest = Sha256::digest(checkpoint.as_bytes());
        if granted.info.hash_algorithm != minutier_timestamp::SHA256_OID
            || granted.info.message_imprint != digest.as_slice()
        {
            return Err(fail(
                rel.as_str(),
                format!(
                    "the token time-stamps {}, not {txt} (SHA-256 {})",
                    hex::encode(&granted.info.message_imprint),
                    hex::encode(digest)
                ),
            ));
        }
        let opened =
            minutier_seal::checkpoint::Checkpoint::open(&checkpoint, key).map_err(|e| {
                fail(
                    txt_rel.as_str(),
                    format!("not a checkpoint of this log: {e}"),
                )
            })?;
        if opened.size != size {
            return Err(fail(
                txt_rel.as_str(),
                format!("is the checkpoint of size {}, not {size}", opened.size),
            ));
        }
        out.push(TimestampCheck {
            file: rel,
            checkpoint_size: size,
            gen_time: granted.info.gen_time.to_string(),
            serial: granted.info.serial_hex(),
            tsa_name: granted.info.tsa,
        });
    }
    Ok(out)
}

/// bag-info.txt's Payload-Oxum, when there is one, must match the payload.
fn check_oxum(root: &Path, hashed: &BTreeMap<String, (Digests, u64)>) -> Result<(), Failure> {
    let Ok(info) = std::fs::read_to_string(root.join("bag-info.txt")) else {
        return Ok(());
    };
    let Some(oxum) = info
        .lines()
        .find_map(|l| l.strip_prefix("Payload-Oxum:"))
        .map(str::trim)
    else {
        return Ok(());
    };
    let bytes: u64 = hashed.values().map(|(_, s)| s).sum();
    let actual = format!("{bytes}.{}", hashed.len());
    if oxum != actual {
        return Err(fail(
            "bag-info.txt",
            format!("Payload-Oxum is {oxum}, the payload is {actual} (bytes.files)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_percent_encoded_as_rfc_8493_says() {
        let name = "data/a b/100%\r\nété.pdf";
        let encoded = encode_path(name);
        assert_eq!(encoded, "data/a b/100%25%0D%0Aété.pdf");
        assert_eq!(decode_path(&encoded), name);
        assert_eq!(decode_path("a%0d%0a%2"), "a\r\n%2");
        assert_eq!(decode_path("%20"), "%20");
    }

    #[test]
    fn content_names_are_single_components() {
        assert_eq!(content_name("Procès verbal.pdf"), "Procès verbal.pdf");
        assert_eq!(content_name("../../etc/passwd"), "passwd");
        assert_eq!(content_name(".."), "content");
        assert_eq!(content_name(""), "content");
        assert_eq!(content_name("C:\\dir\\a.txt"), "a.txt");
    }

    #[test]
    fn unsafe_manifest_paths_are_refused() {
        assert!(safe_relative("data/a/b"));
        assert!(!safe_relative("data/../x"));
        assert!(!safe_relative("/etc/passwd"));
        assert!(!safe_relative("./data"));
        assert!(!safe_relative(""));
    }

    #[test]
    fn seda_is_escaped_and_in_the_namespace() {
        let info = ArchiveInfo {
            archive_id: "A1".into(),
            metadata: Some(DocumentMetadata {
                title: "R&D <secret> \"x\"\u{1}".into(),
                keywords: vec!["budget".into()],
                originating_agency: "MAIRIE".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let xml = seda_xml(&info);
        assert!(xml.contains(&format!("xmlns=\"{SEDA_NS}\"")));
        assert!(xml.contains("<Title>R&amp;D &lt;secret&gt; &quot;x&quot;</Title>"));
        assert!(xml.contains("<KeywordContent>budget</KeywordContent>"));
        assert!(xml.contains("<OriginatingAgency>\n      <Identifier>MAIRIE</Identifier>"));
    }
}
