//! The Pastell / As@lae-compatible REST endpoint, driven with curl exactly
//! as Pastell's `as@lae-rest` connector drives it (libcurl: Basic login
//! and the hex SHA-256 of the password, `Expect:` emptied, `Accept`, the
//! multipart fields in Pastell's order and names): ping, versions, a
//! transfer sent whole, another sent in chunks, then the acknowledgement
//! and the reply polled until ready. Refusals: wrong password, another
//! agency's transfer, chunks out of order or with a wrong security
//! identifier, oversized uploads, malformed requests. Accepted archives
//! are then listed and shown by the CLI and their seals verified offline.
//!
//! The transfers are the reference SEDA packages (sip/tests/seda), split as
//! Pastell sends them: the manifest, and a tar.gz of the files made by
//! `tar -czf archive.tar.gz -- *`.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{cli, text, Daemon};
use sha2::{Digest, Sha256};

/// The agency of the Pastell account in these tests.
const AGENCY: &str = "MAIRIE-42";
const LOGIN: &str = "pastell-mairie";
const PASSWORD: &str = "mot de passe du connecteur";
/// Small enough that a random upload of a megabyte is refused.
const MAX_PACKAGE: u64 = 600_000;

fn seda_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("sip/tests/seda")
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn config(base_url: &str, extra: &str) -> String {
    format!(
        "[pastell]\nlisten = \"127.0.0.1:0\"\nbase_url = \"{base_url}\"\nmax_package_size = {MAX_PACKAGE}\n{extra}\
         [[pastell.accounts]]\nlogin = \"{LOGIN}\"\npassword_sha256 = \"{}\"\nagency = \"{AGENCY}\"\n",
        sha256_hex(PASSWORD)
    )
}

/// PHP's `urlencode`, which Pastell applies to the agency and the
/// transfer identifier.
fn php_urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A multipart field as Pastell's CurlWrapper adds it.
enum Form<'a> {
    /// `addPostData(name, value)`.
    Text(&'a str, String),
    /// `addPostFile(field, path, filename)`, type application/octet-stream.
    File(&'a str, &'a Path, &'a str),
}

/// An answer: status and body.
struct Answer {
    status: u16,
    body: String,
    headers: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    #[track_caller]
    fn expect(&self, status: u16) -> &Answer {
        assert_eq!(
            self.status, status,
            "expected HTTP {status}, got {}: {}",
            self.status, self.body
        );
        assert!(!self.body.is_empty(), "an answer always has a body");
        self
    }
}

/// Pastell's connector: `url`, `login`, `password` as typed in Pastell.
struct Connector {
    url: String,
    login: String,
    password: String,
    ca: PathBuf,
    work: PathBuf,
}

impl Connector {
    fn new(daemon: &Daemon, work: &Path) -> Connector {
        Connector {
            url: daemon
                .pastell_url
                .clone()
                .expect("the daemon serves Pastell"),
            login: LOGIN.into(),
            password: PASSWORD.into(),
            ca: daemon.data_dir.join("tls/ca.pem"),
            work: work.to_owned(),
        }
    }

    /// `AsalaeREST::getWS`: one curl call.
    fn call(&self, route: &str, accept: &str, form: &[Form<'_>]) -> Answer {
        let body = self.work.join("curl-body");
        let headers = self.work.join("curl-headers");
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--cacert"])
            .arg(&self.ca)
            .arg("-u")
            .arg(format!("{}:{}", self.login, sha256_hex(&self.password)))
            .args(["-H", "Expect:", "-H"])
            .arg(format!("Accept: {accept}"))
            .arg("-o")
            .arg(&body)
            .arg("-D")
            .arg(&headers)
            .args(["-w", "%{http_code}"]);
        // CurlWrapper: the post data first, then the files.
        for f in form {
            if let Form::Text(name, value) = f {
                cmd.arg("--form-string").arg(format!("{name}={value}"));
            }
        }
        for f in form {
            if let Form::File(name, path, file_name) = f {
                cmd.arg("-F").arg(format!(
                    "{name}=@{};filename={file_name};type=application/octet-stream",
                    path.display()
                ));
            }
        }
        cmd.arg(format!("{}{route}", self.url));
        let out = cmd.output().expect("run curl");
        assert!(out.status.success(), "curl failed: {}", text(&out));
        Answer {
            status: String::from_utf8_lossy(&out.stdout).trim().parse().unwrap(),
            body: std::fs::read_to_string(&body).unwrap_or_default(),
            headers: std::fs::read_to_string(&headers).unwrap_or_default(),
        }
    }

    fn get(&self, route: &str, accept: &str) -> Answer {
        self.call(route, accept, &[])
    }

    /// `callSedaMessage`: the manifest and the archive.
    fn send_whole(&self, t: &Transfer) -> Answer {
        self.call(
            "/sedaMessages",
            "application/json",
            &[
                Form::File("seda_message", &t.manifest, "bordereau.xml"),
                Form::File("attachments", &t.archive, "archive.tar.gz"),
            ],
        )
    }

    /// `callSedaMessage($bordereau, false, true)`: opens a chunked upload.
    fn open_chunks(&self, t: &Transfer) -> Answer {
        self.call(
            "/sedaMessages",
            "application/json",
            &[
                Form::File("seda_message", &t.manifest, "bordereau.xml"),
                Form::Text("send_chunked_attachments", "true".into()),
            ],
        )
    }

    /// `sedaAttachmentsChunkFiles`: chunk `index` (from 0, sent from 1).
    fn send_chunk(
        &self,
        session: &str,
        security: &str,
        count: usize,
        index: usize,
        chunk: &Path,
    ) -> Answer {
        self.call(
            "/sedaAttachmentsChunkFiles",
            "application/json",
            &[
                Form::Text("session_identifier", session.into()),
                Form::Text("security_identifier", security.into()),
                Form::Text("number_of_files", "1".into()),
                Form::Text("file_index", "1".into()),
                Form::Text("file_name", "archive.tar.gz".into()),
                Form::Text("compression_algorithm", "TARGZ".into()),
                Form::Text("number_of_chunks", count.to_string()),
                Form::Text("chunk_index", (index + 1).to_string()),
                Form::File(
                    "chunk_content",
                    chunk,
                    &chunk.file_name().unwrap().to_string_lossy(),
                ),
            ],
        )
    }

    /// `sendArchiveByChunk`, every chunk in order; the last answer.
    fn send_chunked(&self, t: &Transfer, chunks: &[PathBuf]) -> Answer {
        let opened = self.open_chunks(t);
        opened.expect(200);
        let j = opened.json();
        let (session, security) = (
            j["chunk_session_identifier"].as_str().unwrap().to_owned(),
            j["chunk_security_identifier"].as_str().unwrap().to_owned(),
        );
        let mut last = None;
        for (i, c) in chunks.iter().enumerate() {
            let a = self.send_chunk(&session, &security, chunks.len(), i, c);
            a.expect(200);
            last = Some(a);
        }
        last.unwrap()
    }

    fn message_route(&self, message: &str, t: &Transfer) -> String {
        format!(
            "/sedaMessages/sequence:ArchiveTransfer/message:{message}/originOrganizationIdentification:{}/originMessageIdentifier:{}",
            php_urlencode(&t.agency),
            php_urlencode(&t.id)
        )
    }

    /// `getAck` / `getAtr`, polled as Pastell's daemon does until 200.
    fn poll(&self, message: &str, t: &Transfer) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let a = self.get(&self.message_route(message, t), "application/xml");
            if a.status == 200 {
                assert!(!a.body.is_empty());
                return a.body;
            }
            assert!(
                Instant::now() < deadline,
                "{message} of {:?} not ready after 30 s: {} {}",
                t.id,
                a.status,
                a.body
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A transfer as Pastell sends it.
struct Transfer {
    /// What Pastell reads as the transfer id (`MessageIdentifier`).
    id: String,
    /// `TransferringAgency/Identifier`, sent as originOrganizationIdentification.
    agency: String,
    manifest: PathBuf,
    archive: PathBuf,
}

/// The text of the first element `name` after the first `<start>` (with or
/// without attributes), or the first in the document.
fn element(xml: &str, start: &str, name: &str) -> String {
    let from = if start.is_empty() {
        0
    } else {
        [format!("<{start}>"), format!("<{start} ")]
            .iter()
            .filter_map(|p| xml.find(p.as_str()))
            .min()
            .unwrap()
    };
    let open = format!("<{name}>");
    let a = from + xml[from..].find(&open).unwrap() + open.len();
    let b = a + xml[a..].find(&format!("</{name}>")).unwrap();
    xml[a..b].to_owned()
}

/// A reference package split as Pastell sends it; with `own_agency`, its
/// transferring and originating agencies become the account's.
fn transfer(rel: &str, own_agency: bool, dir: &Path) -> Transfer {
    let dir = dir.join(rel.replace('/', "_"));
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    let path = seda_dir().join("sips").join(rel);
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut manifest = String::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        if f.is_dir() {
            continue;
        }
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        if f.name() == "manifest.xml" {
            manifest = String::from_utf8(bytes).unwrap();
        } else {
            let to = files.join(f.name());
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(to, bytes).unwrap();
        }
    }
    if own_agency {
        for name in ["TransferringAgency", "OriginatingAgencyIdentifier"] {
            let old = if name == "TransferringAgency" {
                element(&manifest, "TransferringAgency", "Identifier")
            } else {
                element(&manifest, "", name)
            };
            manifest = manifest.replace(&format!(">{old}<"), &format!(">{AGENCY}<"));
        }
    }
    let manifest_path = dir.join("bordereau.xml");
    std::fs::write(&manifest_path, &manifest).unwrap();
    // SEDAConnecteur::generateArchiveThrow (an empty archive for a
    // package without files, which Pastell would not send).
    let archive = dir.join("archive.tar.gz");
    let out = Command::new("bash")
        .arg("-c")
        .arg("cd \"$1\" && shopt -s nullglob dotglob && f=(*) && if [ ${#f[@]} -eq 0 ]; then tar -czf \"$2\" -T /dev/null; else tar -czf \"$2\" -- *; fi")
        .arg("bash")
        .arg(&files)
        .arg(&archive)
        .output()
        .unwrap();
    assert!(out.status.success(), "tar: {}", text(&out));
    Transfer {
        id: element(&manifest, "", "MessageIdentifier"),
        agency: element(&manifest, "TransferringAgency", "Identifier"),
        manifest: manifest_path,
        archive,
    }
}

/// `SplitFile::split`: the archive in chunks of `size` bytes.
fn split(archive: &Path, size: usize) -> Vec<PathBuf> {
    let bytes = std::fs::read(archive).unwrap();
    let dir = archive.parent().unwrap().join("chunks");
    std::fs::create_dir_all(&dir).unwrap();
    bytes
        .chunks(size)
        .enumerate()
        .map(|(i, c)| {
            let p = dir.join(format!(
                "archive_part{}{}",
                (b'a' + (i / 26) as u8) as char,
                (b'a' + (i % 26) as u8) as char
            ));
            std::fs::write(&p, c).unwrap();
            p
        })
        .collect()
}

/// Validates a message of the SEDA 2.1 namespace against the 2.3 schema
/// (the same structure), with xmllint.
#[track_caller]
fn xmllint(xml: &str, work: &Path) {
    let file = work.join("message-2.3.xml");
    std::fs::write(
        &file,
        xml.replace(
            "fr:gouv:culture:archivesdefrance:seda:v2.1",
            "fr:gouv:culture:archivesdefrance:seda:v2.3",
        ),
    )
    .unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(seda_dir().join("schema/seda-2.3-main.xsd"))
        .arg(&file)
        .output()
        .expect("run xmllint (Debian libxml2-utils)");
    assert!(out.status.success(), "xmllint: {}\n{xml}", text(&out));
}

fn log_size(daemon: &Daemon) -> u64 {
    daemon.cli_json(&["checkpoint"])["size"].as_u64().unwrap()
}

fn spool_files(daemon: &Daemon) -> Vec<(PathBuf, u64)> {
    common::files_under(&daemon.data_dir.join("spool/pastell"))
        .into_iter()
        .map(|p| {
            let len = std::fs::metadata(&p).unwrap().len();
            (p, len)
        })
        .collect()
}

/// Bytes in the chunked sessions' files (the manifests apart).
fn chunk_bytes(daemon: &Daemon) -> u64 {
    spool_files(daemon)
        .iter()
        .filter(|(p, _)| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("chunks-")
        })
        .map(|(_, l)| l)
        .sum()
}

/// The accepted transfer's archives: listed, shown with their transfer,
/// their content sealed and verified offline.
fn check_archived(daemon: &Daemon, deposit: &serde_json::Value, t: &Transfer, work: &Path) {
    let listed = daemon.cli_json(&["list", "--limit", "100000"]);
    let listed: Vec<&str> = listed["archives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["archive_id"].as_str().unwrap())
        .collect();
    let archives = deposit["archives"].as_array().unwrap();
    assert!(archives.len() > 1, "{deposit}");
    for a in archives {
        let id = a["archive_id"].as_str().unwrap();
        assert!(listed.contains(&id), "{id} is not listed");
        let shown = daemon.cli_json(&["show", id]);
        assert_eq!(
            shown["transfer"]["message_identifier"],
            t.id.as_str(),
            "{shown}"
        );
        let content = work.join("content");
        let seal = work.join("content.seal");
        common::ok(daemon.cli(&["get", id, "-o", content.to_str().unwrap()]));
        assert_eq!(
            hex::encode(Sha256::digest(std::fs::read(&content).unwrap())),
            a["content_sha256"].as_str().unwrap()
        );
        common::ok(daemon.cli(&["seal", id, "-o", seal.to_str().unwrap()]));
        // Offline: no server, the published verifier key.
        common::ok(cli(&[
            "verify",
            content.to_str().unwrap(),
            "--seal",
            seal.to_str().unwrap(),
            "--key",
            &daemon.verifier_key,
        ]));
    }
    // The manifest first: the very bytes Pastell sent as seda_message.
    let manifest = std::fs::read(&t.manifest).unwrap();
    assert_eq!(archives[0]["unit_id"], "");
    assert_eq!(
        archives[0]["content_sha256"].as_str().unwrap(),
        hex::encode(Sha256::digest(&manifest))
    );
}

#[test]
fn pastell_deposits_whole_and_in_chunks_and_fetches_replies() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    // Under a base URL, as behind a reverse proxy.
    let daemon = Daemon::start_with_toml(&tmp.path().join("data"), &config("/asalae", ""));
    let pastell = Connector::new(&daemon, &work);
    assert!(pastell.url.ends_with("/asalae"), "{}", pastell.url);

    // The connector's "test" actions.
    let ping = pastell.get("/ping", "application/json");
    ping.expect(200);
    assert!(
        ping.json().as_str().is_some_and(|s| !s.is_empty()),
        "{}",
        ping.body
    );
    let versions = pastell.get("/versions", "application/json");
    versions.expect(200);
    assert_eq!(versions.json()["version"], env!("CARGO_PKG_VERSION"));
    // A trailing slash in the connector's URL still reaches the routes.
    let slash = pastell.get("//ping", "application/json");
    slash.expect(200);

    // 1. A transfer sent whole.
    let whole = transfer("ok/OK_ARBO_rateau.zip", true, &work);
    assert_eq!(whole.agency, AGENCY);
    let a = pastell.send_whole(&whole);
    a.expect(200);
    let deposit = a.json();
    assert_eq!(deposit["accepted"], true, "{deposit}");
    assert_eq!(deposit["code"], "OK");
    assert_eq!(deposit["message_identifier"], whole.id.as_str());
    let ack = pastell.poll("Acknowledgement", &whole);
    assert!(ack.contains(&format!(
        "<MessageReceivedIdentifier>{}</MessageReceivedIdentifier>",
        whole.id
    )));
    xmllint(&ack, &work);
    let atr = pastell.poll("ArchiveTransferReply", &whole);
    // What Pastell's AsalaeSedaHelper reads: ReplyCode 000, the transfer's
    // id, the archive's id in the one top-level unit.
    assert!(atr.contains("<ReplyCode>000</ReplyCode>"), "{atr}");
    assert!(atr.contains(&format!(
        "<MessageIdentifier>{}</MessageIdentifier>",
        whole.id
    )));
    let manifest_archive = deposit["archives"][0]["archive_id"].as_str().unwrap();
    assert!(atr.contains(&format!(
        "<ArchivalAgencyArchiveUnitIdentifier>{manifest_archive}</ArchivalAgencyArchiveUnitIdentifier>"
    )));
    assert_eq!(
        atr.matches("<ArchivalAgencyArchiveUnitIdentifier>").count(),
        1
    );
    xmllint(&atr, &work);
    check_archived(&daemon, &deposit, &whole, &work);

    // Sent again (Pastell retrying): the same outcome, nothing stored.
    let size = log_size(&daemon);
    let again = pastell.send_whole(&whole);
    again.expect(200);
    assert_eq!(again.json()["replayed"], true);
    assert_eq!(log_size(&daemon), size);

    // 2. A transfer sent in chunks, with mistakes on the way.
    let chunked = transfer("ok/OK_EMPRT_SHA256_2.zip", true, &work);
    let chunks = split(&chunked.archive, 64 << 10);
    assert!(chunks.len() >= 3, "{} chunks", chunks.len());
    let opened = pastell.open_chunks(&chunked);
    opened.expect(200);
    let j = opened.json();
    let session = j["chunk_session_identifier"].as_str().unwrap().to_owned();
    let security = j["chunk_security_identifier"].as_str().unwrap().to_owned();
    assert!(!session.is_empty() && !security.is_empty());
    // Not received yet: Pastell retries later.
    let early = pastell.get(
        &pastell.message_route("Acknowledgement", &chunked),
        "application/xml",
    );
    assert_eq!(early.status, 404, "{}", early.body);
    let n = chunks.len();
    // Out of order.
    let e = pastell.send_chunk(&session, &security, n, 1, &chunks[1]);
    e.expect(409);
    assert_eq!(e.json()["error"], "chunk_out_of_order");
    // Wrong security identifier.
    let e = pastell.send_chunk(&session, "0123", n, 0, &chunks[0]);
    e.expect(403);
    assert_eq!(e.json()["error"], "wrong_security_identifier");
    // Unknown session.
    let e = pastell.send_chunk("nope", &security, n, 0, &chunks[0]);
    e.expect(404);
    let first = pastell.send_chunk(&session, &security, n, 0, &chunks[0]);
    first.expect(200);
    assert_eq!(first.json()["chunk_index"], 1);
    // The first chunk again: a duplicate.
    let e = pastell.send_chunk(&session, &security, n, 0, &chunks[0]);
    e.expect(409);
    // The refused chunks left nothing in the session's file.
    assert_eq!(
        chunk_bytes(&daemon),
        std::fs::metadata(&chunks[0]).unwrap().len()
    );
    let mut last = None;
    for (i, c) in chunks.iter().enumerate().skip(1) {
        let a = pastell.send_chunk(&session, &security, n, i, c);
        a.expect(200);
        last = Some(a.json());
    }
    let done = last.unwrap();
    assert_eq!(done["accepted"], true, "{done}");
    assert_eq!(done["chunk_index"], n);
    assert_eq!(
        done["received_bytes"],
        std::fs::metadata(&chunked.archive).unwrap().len()
    );
    let ack = pastell.poll("Acknowledgement", &chunked);
    assert!(ack.contains(&chunked.id));
    let atr = pastell.poll("ArchiveTransferReply", &chunked);
    assert!(atr.contains("<ReplyCode>000</ReplyCode>"), "{atr}");
    check_archived(&daemon, &done, &chunked, &work);
    // The session is over: a late chunk finds nothing, the spool is empty.
    let e = pastell.send_chunk(&session, &security, n, n - 1, &chunks[n - 1]);
    e.expect(404);
    assert!(
        spool_files(&daemon).is_empty(),
        "{:?}",
        spool_files(&daemon)
    );

    // 3. Refused transfers: a KO reply with the reason, nothing stored.
    let size = log_size(&daemon);
    let ko = transfer("ko/KO_BORD_empreinte_KO.zip", false, &work);
    let a = pastell.send_whole(&ko);
    a.expect(200);
    let refused = a.json();
    assert_eq!(refused["accepted"], false);
    assert_eq!(refused["code"], "SIZE_MISMATCH");
    let ack = pastell.poll("Acknowledgement", &ko);
    xmllint(&ack, &work);
    let atr = pastell.poll("ArchiveTransferReply", &ko);
    assert!(atr.contains("<ReplyCode>KO</ReplyCode>"), "{atr}");
    assert!(
        atr.contains("<OutcomeDetail>SIZE_MISMATCH</OutcomeDetail>"),
        "{atr}"
    );
    // The reason, where Pastell shows it.
    assert!(atr.contains("<Comment>SIZE_MISMATCH: "), "{atr}");
    assert!(!atr.contains("ArchivalAgencyArchiveUnitIdentifier"));
    xmllint(&atr, &work);
    let ko_chunked = transfer("ko/DIGEST_VIDE.zip", false, &work);
    let last = pastell.send_chunked(&ko_chunked, &split(&ko_chunked.archive, 1000));
    assert_eq!(last.json()["code"], "EMPTY_DIGEST", "{}", last.body);
    let atr = pastell.poll("ArchiveTransferReply", &ko_chunked);
    assert!(
        atr.contains("<OutcomeDetail>EMPTY_DIGEST</OutcomeDetail>"),
        "{atr}"
    );
    assert_eq!(log_size(&daemon), size, "refused transfers store nothing");

    // The replies outlive a restart: Pastell may poll days later.
    let atr_before = pastell.poll("ArchiveTransferReply", &whole);
    daemon.stop();
    let daemon = Daemon::start_with_toml(&tmp.path().join("data"), &config("/asalae", ""));
    let pastell = Connector::new(&daemon, &work);
    assert_eq!(pastell.poll("ArchiveTransferReply", &whole), atr_before);
    daemon.stop();
}

#[test]
fn pastell_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    // The spool holds little more than one package; idle chunked uploads
    // expire after 3 s.
    let daemon = Daemon::start_with_toml(
        &tmp.path().join("data"),
        &config(
            "/",
            &format!(
                "max_spool_size = {}\nchunk_session_timeout_seconds = 3\n",
                MAX_PACKAGE + 100_000
            ),
        ),
    );
    let pastell = Connector::new(&daemon, &work);
    let size = log_size(&daemon);

    // Wrong password, unknown login, no credentials: 401, with a Basic
    // challenge; counted with the daemon's other refusals. Pastell's
    // network test (ping) passes without credentials, its authentication
    // test (versions) does not.
    let wrong = Connector {
        password: "not the password".into(),
        ..Connector::new(&daemon, &work)
    };
    wrong.get("/ping", "application/json").expect(200);
    let a = wrong.get("/versions", "application/json");
    a.expect(401);
    assert!(
        a.headers
            .to_ascii_lowercase()
            .contains("www-authenticate: basic"),
        "{}",
        a.headers
    );
    assert_eq!(a.json()["error"], "unauthorized");
    // The clear password is not the password Pastell sends.
    let clear = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(daemon.data_dir.join("tls/ca.pem"))
        .arg("-u")
        .arg(format!("{LOGIN}:{PASSWORD}"))
        .arg(format!("{}/versions", pastell.url))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&clear.stdout), "401");
    let stranger = Connector {
        login: "someone-else".into(),
        ..Connector::new(&daemon, &work)
    };
    stranger.get("/versions", "application/json").expect(401);
    let t = transfer("ok/OK_SIP_2_GO.zip", true, &work);
    wrong.send_whole(&t).expect(401);
    let status = daemon.cli_admin(&["--json", "admin", "status"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let refusals = status["refusals"].as_array().unwrap();
    let counted: u64 = refusals
        .iter()
        .filter(|r| r["role"] == "pastell")
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert!(counted >= 3, "{status}");

    // Another agency's transfer: 403, nothing stored, no reply to fetch.
    let foreign = transfer("ok/OK_SIP_2_GO.zip", false, &work);
    let a = pastell.send_whole(&foreign);
    a.expect(403);
    assert_eq!(a.json()["error"], "agency");
    assert!(a.json()["message"].as_str().unwrap().contains(AGENCY));
    let e = pastell.get(
        &pastell.message_route("Acknowledgement", &foreign),
        "application/xml",
    );
    assert_eq!(e.status, 404, "{}", e.body);
    // In chunks: refused at the last chunk, the session gone.
    let chunks = split(&foreign.archive, 50_000);
    let opened = pastell.open_chunks(&foreign);
    let j = opened.expect(200).json();
    let (s, k) = (
        j["chunk_session_identifier"].as_str().unwrap(),
        j["chunk_security_identifier"].as_str().unwrap(),
    );
    for (i, c) in chunks.iter().enumerate() {
        let a = pastell.send_chunk(s, k, chunks.len(), i, c);
        if i + 1 < chunks.len() {
            a.expect(200);
        } else {
            a.expect(403);
        }
    }
    assert!(
        spool_files(&daemon).is_empty(),
        "{:?}",
        spool_files(&daemon)
    );

    // Too large, whole or in chunks: 413, nothing kept.
    let big = work.join("big.tar.gz");
    std::fs::write(&big, common::noise(7, 1 << 20)).unwrap();
    let oversized = Transfer {
        archive: big.clone(),
        ..transfer("ok/OK_SIP_2_GO.zip", true, &work)
    };
    let a = pastell.send_whole(&oversized);
    a.expect(413);
    assert_eq!(a.json()["error"], "package_too_large");
    let chunks = split(&big, 400_000);
    let opened = pastell.open_chunks(&oversized);
    let j = opened.expect(200).json();
    let (s, k) = (
        j["chunk_session_identifier"].as_str().unwrap().to_owned(),
        j["chunk_security_identifier"].as_str().unwrap().to_owned(),
    );
    pastell
        .send_chunk(&s, &k, chunks.len(), 0, &chunks[0])
        .expect(200);
    pastell
        .send_chunk(&s, &k, chunks.len(), 1, &chunks[1])
        .expect(413);
    // The session keeps its first chunk only.
    assert_eq!(chunk_bytes(&daemon), 400_000, "{:?}", spool_files(&daemon));
    // Uploads in progress fill the spool: another one waits its turn.
    let filler = work.join("filler.tar.gz");
    std::fs::write(&filler, common::noise(8, 350_000)).unwrap();
    let a = pastell.send_whole(&Transfer {
        archive: filler,
        ..transfer("ok/OK_SIP_2_GO.zip", true, &work)
    });
    a.expect(503);
    assert_eq!(a.json()["error"], "spool_full");

    // Malformed requests: 400 with a JSON reason.
    let a = pastell.call(
        "/sedaMessages",
        "application/json",
        &[Form::File("attachments", &t.archive, "archive.tar.gz")],
    );
    a.expect(400);
    assert_eq!(a.json()["error"], "missing_seda_message");
    let a = pastell.call(
        "/sedaMessages",
        "application/json",
        &[Form::File("seda_message", &t.manifest, "bordereau.xml")],
    );
    a.expect(400);
    assert_eq!(a.json()["error"], "missing_attachments");
    let unreadable = transfer("ko/KO_BORD_xmlKO_sansobjet.zip", false, &work);
    let a = pastell.send_whole(&unreadable);
    a.expect(400);
    assert_eq!(a.json()["error"], "invalid_seda_message");
    let a = pastell.open_chunks(&unreadable);
    a.expect(400);
    let a = pastell.call(
        "/sedaAttachmentsChunkFiles",
        "application/json",
        &[
            Form::File("chunk_content", &t.archive, "archive_partaa"),
            Form::Text("session_identifier", "x".into()),
        ],
    );
    a.expect(400);
    assert_eq!(a.json()["error"], "missing_field");
    let raw = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}", "--cacert"])
        .arg(daemon.data_dir.join("tls/ca.pem"))
        .arg("-u")
        .arg(format!("{LOGIN}:{}", sha256_hex(PASSWORD)))
        .args([
            "-H",
            "Content-Type: multipart/form-data; boundary=XYZ",
            "--data-binary",
            "--XYZ\r\nnot a part",
        ])
        .arg(format!("{}/sedaMessages", pastell.url))
        .output()
        .unwrap();
    let raw = String::from_utf8_lossy(&raw.stdout).into_owned();
    assert!(raw.ends_with("\n400"), "{raw}");
    assert!(raw.contains("malformed_multipart"), "{raw}");

    // Unknown routes and transfers: 404.
    let a = pastell.get("/nothing-here", "application/json");
    a.expect(404);
    let nobody = Transfer {
        id: "never sent".into(),
        agency: AGENCY.into(),
        manifest: PathBuf::new(),
        archive: PathBuf::new(),
    };
    let a = pastell.get(
        &pastell.message_route("ArchiveTransferReply", &nobody),
        "application/xml",
    );
    a.expect(404);
    assert_eq!(a.json()["error"], "not_received");

    // An idle chunked upload expires, and its file goes with it.
    std::thread::sleep(Duration::from_millis(3500));
    let fresh = pastell.open_chunks(&t);
    fresh.expect(200);
    // Left: the new session's manifest and its empty file.
    assert_eq!(spool_files(&daemon).len(), 2, "{:?}", spool_files(&daemon));
    assert_eq!(chunk_bytes(&daemon), 0);
    pastell
        .send_chunk(&s, &k, chunks.len(), 1, &chunks[1])
        .expect(404);

    assert_eq!(log_size(&daemon), size, "nothing was stored");
    daemon.stop();
}
