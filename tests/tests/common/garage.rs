//! Real Garage (S3-compatible object store) on loopback for tests: one
//! node or a small cluster in a temporary directory, with a bucket and an
//! access key, plus a tiny S3 client (AWS SigV4 over plain HTTP) to inspect
//! and tamper with the bucket.
//!
//! Garage is found through `GARAGE_BIN`, `/opt/garage/bin/garage` or
//! `$HOME/.local/garage/bin/garage`; `scripts/setup test` installs it.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// How long a node may take to answer S3 calls after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one S3 call or CLI command may take.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// The Garage binary: `GARAGE_BIN`, then the places `scripts/setup`
/// installs it. Panics with what to do when there is none.
pub fn garage_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("GARAGE_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "GARAGE_BIN={} does not exist: run scripts/setup test",
            p.display()
        );
        return p;
    }
    let mut candidates = vec![PathBuf::from("/opt/garage/bin/garage")];
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".local/garage/bin/garage"));
    }
    for c in &candidates {
        if c.is_file() {
            return c.clone();
        }
    }
    panic!(
        "Garage is not installed (looked for GARAGE_BIN, {}): run scripts/setup test, \
         which installs it with `cargo install garage --version 2.5.0 --locked --root /opt/garage`",
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

struct Node {
    dir: PathBuf,
    config: PathBuf,
    log: PathBuf,
    rpc_port: u16,
    s3_port: u16,
    id: String,
    child: Option<Child>,
}

/// A running Garage cluster (one node or several) with one bucket and one
/// key that may read, write and own it.
pub struct Garage {
    bin: PathBuf,
    nodes: Vec<Node>,
    bucket: String,
    key_name: String,
    access_key_id: String,
    secret_access_key: String,
}

impl Garage {
    /// One node, replication factor 1.
    pub fn single(dir: &Path) -> Garage {
        Self::start(dir, 1, 1)
    }

    /// `nodes` nodes (3 for a real quorum), replication factor 3 (or
    /// `nodes` if fewer), each in its own zone (dc1, dc2, ...).
    pub fn cluster(dir: &Path, nodes: usize) -> Garage {
        assert!(nodes >= 1, "a cluster has at least one node");
        Self::start(dir, nodes, nodes.min(3))
    }

    fn start(dir: &Path, n: usize, replication_factor: usize) -> Garage {
        let bin = garage_bin();
        let rpc_secret = random_hex(32);
        // Hold every listener until all ports are chosen, so that no two
        // nodes get the same one.
        let listeners: Vec<TcpListener> = (0..2 * n)
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
            .collect();
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        drop(listeners);

        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let node_dir = dir.join(format!("garage-{i}"));
            fs::create_dir_all(node_dir.join("meta")).unwrap();
            fs::create_dir_all(node_dir.join("data")).unwrap();
            let (rpc_port, s3_port) = (ports[2 * i], ports[2 * i + 1]);
            let config = node_dir.join("garage.toml");
            fs::write(
                &config,
                format!(
                    "metadata_dir = \"{meta}\"\n\
                     data_dir = \"{data}\"\n\
                     db_engine = \"sqlite\"\n\
                     replication_factor = {replication_factor}\n\
                     rpc_bind_addr = \"127.0.0.1:{rpc_port}\"\n\
                     rpc_public_addr = \"127.0.0.1:{rpc_port}\"\n\
                     rpc_secret = \"{rpc_secret}\"\n\
                     \n\
                     [s3_api]\n\
                     api_bind_addr = \"127.0.0.1:{s3_port}\"\n\
                     s3_region = \"garage\"\n",
                    meta = node_dir.join("meta").display(),
                    data = node_dir.join("data").display(),
                ),
            )
            .unwrap();
            set_private(&config);
            nodes.push(Node {
                log: node_dir.join("garage.log"),
                dir: node_dir,
                config,
                rpc_port,
                s3_port,
                id: String::new(),
                child: None,
            });
        }

        let mut garage = Garage {
            bin,
            nodes,
            bucket: format!("minutier-{}", random_hex(4)),
            key_name: "minutier-test".to_owned(),
            access_key_id: format!("GK{}", random_hex(12)),
            secret_access_key: random_hex(32),
        };
        for i in 0..n {
            garage.spawn(i);
        }
        for i in 0..n {
            garage.wait_port(i, garage.nodes[i].rpc_port);
            let out = garage.cli_retry(i, &["node", "id", "-q"]);
            let id = out.trim().split('@').next().unwrap().to_owned();
            assert_eq!(id.len(), 64, "garage node id -q printed {out:?}");
            garage.nodes[i].id = id;
        }
        garage.connect_all();
        for i in 0..n {
            let zone = format!("dc{}", i + 1);
            let id = garage.nodes[i].id.clone();
            garage.cli_retry(0, &["layout", "assign", "-z", &zone, "-c", "1G", &id]);
        }
        garage.cli_retry(0, &["layout", "apply", "--version", "1"]);
        let bucket = garage.bucket.clone();
        garage.cli_retry(0, &["bucket", "create", &bucket]);
        let (key_id, secret, name) = (
            garage.access_key_id.clone(),
            garage.secret_access_key.clone(),
            garage.key_name.clone(),
        );
        garage.cli_retry(
            0,
            &["key", "import", &key_id, &secret, "-n", &name, "--yes"],
        );
        garage.cli_retry(
            0,
            &[
                "bucket", "allow", "--read", "--write", "--owner", &bucket, "--key", &name,
            ],
        );
        for i in 0..n {
            garage.wait_s3(i);
        }
        garage
    }

    /// Node 0's S3 endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.node_endpoint(0)
    }

    /// Every node's S3 endpoint, in node order.
    pub fn endpoints(&self) -> Vec<String> {
        (0..self.nodes.len())
            .map(|i| self.node_endpoint(i))
            .collect()
    }

    fn node_endpoint(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].s3_port)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    pub fn region(&self) -> &str {
        "garage"
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Node `i`'s directory (configuration, metadata, data, `garage.log`).
    pub fn node_dir(&self, i: usize) -> &Path {
        &self.nodes[i].dir
    }

    /// The `[replication]` section of minutierd's TOML configuration,
    /// pointing at this cluster's node 0.
    pub fn replication_toml(&self, escrow_recipients: &[String]) -> String {
        let recipients = escrow_recipients
            .iter()
            .map(|r| toml_str(r))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "[replication]\n\
             endpoint = {}\n\
             bucket = {}\n\
             region = {}\n\
             access_key_id = {}\n\
             secret_access_key = {}\n\
             escrow_recipients = [{recipients}]\n",
            toml_str(&self.endpoint()),
            toml_str(&self.bucket),
            toml_str(self.region()),
            toml_str(&self.access_key_id),
            toml_str(&self.secret_access_key),
        )
    }

    /// Stops node `i` gracefully (SIGTERM; SIGKILL if it is still running
    /// after 20 s) and waits for it. A node of a cluster may take 8 s or
    /// more to exit; [`Garage::kill_node`] is immediate.
    pub fn stop_node(&mut self, i: usize) {
        terminate(self.nodes[i].child.take().into_iter().collect());
    }

    /// Kills node `i` at once (SIGKILL), as a crash or a power cut would.
    /// The surviving nodes notice only when they next send to it: the
    /// first requests that involve the dead node may take about 10 s.
    pub fn kill_node(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restarts node `i` with its configuration and data, and waits until
    /// it answers S3 calls again.
    pub fn start_node(&mut self, i: usize) {
        if self.is_running(i) {
            return;
        }
        self.spawn(i);
        self.wait_port(i, self.nodes[i].rpc_port);
        // Left alone, the nodes would find each other again at their next
        // reconnection round (up to about 30 s); connect them now.
        self.connect_all();
        for j in 0..self.nodes.len() {
            if self.nodes[j].child.is_some() {
                self.wait_s3(j);
            }
        }
    }

    /// Connects every running node to every other one, both ways: a node
    /// sends its requests over the connections it opened itself.
    fn connect_all(&mut self) {
        for i in 0..self.nodes.len() {
            for j in 0..self.nodes.len() {
                if i != j && self.nodes[i].child.is_some() && self.nodes[j].child.is_some() {
                    let peer = format!("{}@127.0.0.1:{}", self.nodes[j].id, self.nodes[j].rpc_port);
                    self.cli_retry(i, &["node", "connect", &peer]);
                }
            }
        }
    }

    /// Whether node `i`'s process is running.
    pub fn is_running(&mut self, i: usize) -> bool {
        match self.nodes[i].child.as_mut() {
            Some(c) => c.try_wait().unwrap().is_none(),
            None => false,
        }
    }

    /// Stops every node gracefully, all at once (as [`Garage::stop_node`]).
    pub fn stop(mut self) {
        terminate(
            self.nodes
                .iter_mut()
                .filter_map(|n| n.child.take())
                .collect(),
        );
    }

    /// Runs `garage -c <node i's config> ARGS` and returns its output.
    pub fn cli(&self, i: usize, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .arg("-c")
            .arg(&self.nodes[i].config)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .expect("run garage")
    }

    /// The last `lines` lines of node `i`'s log.
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let text = fs::read_to_string(&self.nodes[i].log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    // ---- S3 helpers, through the first running node ----

    /// Every object in the bucket as (key, size), sorted by key.
    pub fn list_objects(&self) -> Vec<(String, u64)> {
        self.list_objects_prefix("")
    }

    /// The objects whose key starts with `prefix`, as (key, size).
    pub fn list_objects_prefix(&self, prefix: &str) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2".to_owned())];
            if !prefix.is_empty() {
                query.push(("prefix", prefix.to_owned()));
            }
            if let Some(t) = &token {
                query.push(("continuation-token", t.clone()));
            }
            let resp = self.s3("GET", "", &query, &[]);
            self.expect_status(&resp, 200, "ListObjectsV2");
            let xml = String::from_utf8_lossy(&resp.body).into_owned();
            for item in xml_all(&xml, "Contents") {
                let key = xml_unescape(xml_first(item, "Key").expect("Key in Contents"));
                let size = xml_first(item, "Size")
                    .and_then(|s| s.parse().ok())
                    .expect("Size in Contents");
                out.push((key, size));
            }
            let truncated = xml_first(&xml, "IsTruncated") == Some("true");
            token = xml_first(&xml, "NextContinuationToken").map(xml_unescape);
            if !truncated || token.is_none() {
                break;
            }
        }
        out.sort();
        out
    }

    /// The object's content; panics if it cannot be read.
    pub fn get_object(&self, key: &str) -> Vec<u8> {
        self.try_get_object(key)
            .unwrap_or_else(|| panic!("object {key:?} is not in bucket {}", self.bucket))
    }

    /// The object's content, or `None` if there is no such object.
    pub fn try_get_object(&self, key: &str) -> Option<Vec<u8>> {
        let resp = self.s3("GET", key, &[], &[]);
        if resp.status == 404 {
            return None;
        }
        self.expect_status(&resp, 200, &format!("GET {key}"));
        Some(resp.body)
    }

    /// Writes (or overwrites) an object.
    pub fn put_object(&self, key: &str, data: &[u8]) {
        let resp = self.s3("PUT", key, &[], data);
        self.expect_status(&resp, 200, &format!("PUT {key}"));
    }

    /// Deletes an object (no error if it does not exist).
    pub fn delete_object(&self, key: &str) {
        let resp = self.s3("DELETE", key, &[], &[]);
        if resp.status != 204 && resp.status != 200 {
            self.expect_status(&resp, 204, &format!("DELETE {key}"));
        }
    }

    /// One signed S3 request to the first running node; `key` empty
    /// addresses the bucket itself.
    fn s3(&self, method: &str, key: &str, query: &[(&str, String)], body: &[u8]) -> S3Response {
        let i = (0..self.nodes.len())
            .find(|&i| self.nodes[i].child.is_some())
            .expect("no Garage node is running");
        s3_request(
            self.nodes[i].s3_port,
            &self.access_key_id,
            &self.secret_access_key,
            method,
            &self.bucket,
            key,
            query,
            body,
        )
        .unwrap_or_else(|e| {
            panic!(
                "S3 {method} {key:?} to Garage node {i} failed: {e}\n{}",
                self.logs_report()
            )
        })
    }

    fn expect_status(&self, resp: &S3Response, want: u16, what: &str) {
        assert!(
            resp.status == want,
            "S3 {what} answered {} (expected {want}): {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
    }

    fn spawn(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .expect("open the Garage log");
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&node.config)
            .arg("server")
            .env("RUST_LOG", "garage=info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.bin.display()));
        node.child = Some(child);
    }

    fn wait_port(&mut self, i: usize, port: u16) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            self.check_alive(i);
            if Instant::now() > deadline {
                self.fail(&format!(
                    "Garage node {i} did not listen on port {port} within {START_TIMEOUT:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until node `i` answers a signed ListObjectsV2 with 200.
    fn wait_s3(&mut self, i: usize) {
        let deadline = Instant::now() + START_TIMEOUT;
        let query = [("list-type", "2".to_owned()), ("max-keys", "1".to_owned())];
        loop {
            self.check_alive(i);
            let last = match s3_request(
                self.nodes[i].s3_port,
                &self.access_key_id,
                &self.secret_access_key,
                "GET",
                &self.bucket,
                "",
                &query,
                &[],
            ) {
                Ok(r) if r.status == 200 => return,
                Ok(r) => format!("HTTP {}: {}", r.status, String::from_utf8_lossy(&r.body)),
                Err(e) => e,
            };
            if Instant::now() > deadline {
                self.fail(&format!(
                    "Garage node {i}'s S3 API did not answer within {START_TIMEOUT:?} (last: {last})"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs a CLI command through node `i`, retrying while the cluster
    /// settles (quorums, layout propagation); returns its stdout.
    fn cli_retry(&mut self, i: usize, args: &[&str]) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let out = self.cli(i, args);
            if out.status.success() {
                return String::from_utf8_lossy(&out.stdout).into_owned();
            }
            self.check_alive(i);
            if Instant::now() > deadline {
                self.fail(&format!(
                    "garage {} failed for {START_TIMEOUT:?}: {}{}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn check_alive(&mut self, i: usize) {
        let status = match self.nodes[i].child.as_mut() {
            Some(c) => c.try_wait().unwrap(),
            None => return,
        };
        if let Some(status) = status {
            self.nodes[i].child = None;
            self.fail(&format!("Garage node {i} exited: {status}"));
        }
    }

    fn logs_report(&self) -> String {
        let mut s = String::new();
        for i in 0..self.nodes.len() {
            let _ = write!(
                s,
                "--- tail of {} ---\n{}\n",
                self.nodes[i].log.display(),
                self.log_tail(i, 40)
            );
        }
        s
    }

    fn fail(&self, what: &str) -> ! {
        panic!("{what}\n{}", self.logs_report());
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        if std::thread::panicking() && self.nodes.iter().any(|n| n.child.is_some()) {
            eprintln!("{}", self.logs_report());
        }
        for node in &mut self.nodes {
            if let Some(mut c) = node.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// SIGTERM to every process, then waits for them; SIGKILL for those still
/// running after 20 s.
fn terminate(mut children: Vec<Child>) {
    for child in &children {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        children.retain_mut(|c| c.try_wait().unwrap().is_none());
        if children.is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
}

fn random_hex(bytes: usize) -> String {
    let v: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(v)
}

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---- a minimal S3 client: path-style URLs, AWS SigV4, HTTP/1.1 ----

struct S3Response {
    status: u16,
    body: Vec<u8>,
}

#[allow(clippy::too_many_arguments)]
fn s3_request(
    port: u16,
    access_key_id: &str,
    secret_access_key: &str,
    method: &str,
    bucket: &str,
    key: &str,
    query: &[(&str, String)],
    body: &[u8],
) -> Result<S3Response, String> {
    let host = format!("127.0.0.1:{port}");
    let mut path = format!("/{}", uri_encode(bucket, false));
    if !key.is_empty() {
        path.push('/');
        path.push_str(&uri_encode(key, false));
    }
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    pairs.sort();
    let query_string = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");

    let (date, datetime) = amz_dates(SystemTime::now());
    let payload_hash = hex::encode(Sha256::digest(body));
    let signed_headers = "host;x-amz-content-sha256;x-amz-date";
    let canonical_request = format!(
        "{method}\n{path}\n{query_string}\nhost:{host}\nx-amz-content-sha256:{payload_hash}\n\
         x-amz-date:{datetime}\n\n{signed_headers}\n{payload_hash}"
    );
    let scope = format!("{date}/garage/s3/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{datetime}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut signing_key = hmac_sha256(
        format!("AWS4{secret_access_key}").as_bytes(),
        date.as_bytes(),
    );
    for part in ["garage", "s3", "aws4_request"] {
        signing_key = hmac_sha256(&signing_key, part.as_bytes());
    }
    let signature = hex::encode(hmac_sha256(&signing_key, string_to_sign.as_bytes()));

    let target = if query_string.is_empty() {
        path
    } else {
        format!("{path}?{query_string}")
    };
    let head = format!(
        "{method} {target} HTTP/1.1\r\n\
         Host: {host}\r\n\
         x-amz-date: {datetime}\r\n\
         x-amz-content-sha256: {payload_hash}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, \
         SignedHeaders={signed_headers}, Signature={signature}\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );

    let mut stream = TcpStream::connect(&host).map_err(|e| format!("connect {host}: {e}"))?;
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(body))
        .map_err(|e| format!("send to {host}: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("read from {host}: {e}"))?;
    parse_response(&raw, method == "HEAD")
}

fn parse_response(raw: &[u8], head_only: bool) -> Result<S3Response, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("incomplete HTTP response ({} bytes)", raw.len()))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut chunked = false;
    let mut length: Option<usize> = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok();
        }
    }
    let rest = &raw[end + 4..];
    let body = if head_only {
        Vec::new()
    } else if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        if rest.len() < n {
            return Err(format!("short body: {} of {n} bytes", rest.len()));
        }
        rest[..n].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(S3Response { status, body })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk header")?;
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// URI encoding as SigV4 wants it: unreserved characters stay, `/` too in
/// paths, everything else is `%XX`.
fn uri_encode(s: &str, encode_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// (`YYYYMMDD`, `YYYYMMDDTHHMMSSZ`) in UTC.
fn amz_dates(t: SystemTime) -> (String, String) {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let date = format!("{year:04}{month:02}{day:02}");
    let datetime = format!(
        "{date}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    (date, datetime)
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The text of every `<tag>...</tag>` in `xml`.
fn xml_all<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    out
}

fn xml_first<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    xml_all(xml, tag).into_iter().next()
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Checks the S3 client's building blocks against known answers (HMAC
/// from RFC 4231, the SigV4 date format, chunked bodies); panics on a
/// mismatch. Needs no Garage.
pub fn check_s3_client_building_blocks() {
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    assert_eq!(
        hex::encode(mac),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let long_key = [0xaau8; 131];
    assert_eq!(
        hex::encode(hmac_sha256(
            &long_key,
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        )),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
    let t = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
    assert_eq!(
        amz_dates(t),
        ("20150830".to_owned(), "20150830T123600Z".to_owned())
    );
    let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
    assert_eq!(amz_dates(t).0, "20000229");
    let raw =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    let r = parse_response(raw, false).unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"abcde"[..]));
    assert_eq!(uri_encode("a b/é~", false), "a%20b/%C3%A9~");
    assert_eq!(uri_encode("a/b=", true), "a%2Fb%3D");
    assert_eq!(xml_unescape("a&amp;lt;b&lt;"), "a&lt;b<");
}

/// A new escrow key pair (`minutier admin escrow-key`) under `work`: the
/// identity file and the recipient for `[replication] escrow_recipients`.
pub fn escrow_key(work: &Path) -> (PathBuf, String) {
    let path = work.join("escrow.key");
    let out = super::cli(&[
        "--json",
        "admin",
        "escrow-key",
        "-o",
        path.to_str().unwrap(),
    ]);
    let all = super::ok(out.clone());
    let made: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {all}"));
    (path, made["recipient"].as_str().unwrap().to_owned())
}

/// Waits until everything committed is in the bucket; the last status and
/// the time it took.
pub fn drained(daemon: &super::Daemon, timeout: Duration) -> (serde_json::Value, Duration) {
    let start = Instant::now();
    loop {
        let status = daemon.cli_json(&["replication", "status"]);
        if status["enabled"] == true && status["queued"] == 0 && status["lag_records"] == 0 {
            return (status, start.elapsed());
        }
        assert!(
            start.elapsed() < timeout,
            "replication did not drain in {timeout:?}: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Decrypts a replica with the stock `age` CLI and the escrow identity.
pub fn age_decrypt(identity: &Path, ciphertext: &[u8], work: &Path) -> Vec<u8> {
    let file = work.join("replica.age");
    fs::write(&file, ciphertext).unwrap();
    let out = Command::new("age")
        .args(["-d", "-i"])
        .arg(identity)
        .arg(&file)
        .output()
        .expect("the age CLI (Debian package age, installed by scripts/setup test)");
    assert!(out.status.success(), "age -d failed: {}", super::text(&out));
    out.stdout
}
