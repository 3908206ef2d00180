//! Starts the real binaries (`target/release/minutierd`, `minutier`) for
//! end-to-end tests. Build them first: `cargo build --release --locked`.

#![allow(dead_code)]

pub mod faulty_s3;
pub mod garage;
pub mod tsa;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Directory holding the built binaries (next to this test executable).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_owned();
    for bin in ["minutierd", "minutier"] {
        assert!(
            dir.join(bin).is_file(),
            "{} is missing: build the binaries first (cargo build --release --locked)",
            dir.join(bin).display()
        );
    }
    dir
}

/// A running `minutierd` on a free loopback port.
pub struct Daemon {
    child: Child,
    pub addr: SocketAddr,
    /// The URL clients use (https).
    pub url: String,
    pub data_dir: PathBuf,
    pub verifier_key: String,
    /// An archivist's credential bundle, used by [`Daemon::cli`].
    pub archivist: PathBuf,
    /// The Pastell endpoint's URL (base URL included, no trailing slash),
    /// when the configuration has a `[pastell]` section.
    pub pastell_url: Option<String>,
    /// `http://ADDR/metrics`, when the configuration sets `metrics_listen`.
    pub metrics_url: Option<String>,
    /// The web console's URL (`https://localhost:PORT`, no trailing slash).
    pub console_url: Option<String>,
}

impl Daemon {
    /// Starts the daemon on `data_dir` with embedded defaults.
    pub fn start(data_dir: &Path) -> Daemon {
        Self::start_with(data_dir, None)
    }

    /// Starts the daemon with `toml` as its configuration (for instance a
    /// `[pastell]` section), written next to the data directory.
    pub fn start_with_toml(data_dir: &Path, toml: &str) -> Daemon {
        let config = data_dir.with_file_name(format!(
            "{}-minutierd.toml",
            data_dir.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&config, toml).unwrap();
        Self::start_with(data_dir, Some(&config))
    }

    /// Starts the daemon with a TOML configuration file.
    pub fn start_with(data_dir: &Path, config: Option<&Path>) -> Daemon {
        Self::start_with_env(data_dir, config, &[])
    }

    /// Starts the daemon with extra environment variables (for instance
    /// libfaketime's, to move its clock).
    pub fn start_with_env(data_dir: &Path, config: Option<&Path>, env: &[(&str, &str)]) -> Daemon {
        let mut cmd = Command::new(bin_dir().join("minutierd"));
        cmd.envs(env.iter().copied());
        cmd.arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--console-listen")
            .arg("127.0.0.1:0");
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        let mut child = cmd
            .env(
                "RUST_LOG",
                std::env::var("MINUTIERD_LOG").unwrap_or_else(|_| "error".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start minutierd");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut key, mut addr, mut url, mut pastell_url) = (None, None, None, None);
        let (mut metrics_url, mut console_url) = (None, None);
        while url.is_none() {
            assert!(Instant::now() < deadline, "minutierd did not start in 30 s");
            let line = match lines.next() {
                Some(l) => l.unwrap(),
                None => panic!("minutierd exited before listening: {:?}", child.wait()),
            };
            if let Some(k) = line.strip_prefix("verifier key: ") {
                key = Some(k.to_owned());
            }
            if let Some(rest) = line.strip_prefix("minutierd listening on ") {
                addr = Some(rest.split_whitespace().next().unwrap().parse().unwrap());
            }
            if let Some(rest) = line.strip_prefix("pastell: ") {
                let u = rest.split_whitespace().next().unwrap();
                pastell_url = Some(u.trim_end_matches('/').to_owned());
            }
            if let Some(rest) = line.strip_prefix("console: ") {
                let u = rest.split_whitespace().next().unwrap();
                console_url = Some(u.trim_end_matches('/').to_owned());
            }
            if let Some(rest) = line.strip_prefix("metrics: ") {
                metrics_url = Some(rest.trim().to_owned());
            }
            if let Some(rest) = line.strip_prefix("clients: ") {
                url = Some(rest.trim().to_owned());
            }
        }
        // Keep draining stdout so the daemon never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let mut daemon = Daemon {
            child,
            addr: addr.expect("minutierd printed its address"),
            url: url.unwrap(),
            data_dir: data_dir.to_owned(),
            verifier_key: key.expect("minutierd printed its verifier key"),
            archivist: PathBuf::new(),
            pastell_url,
            metrics_url,
            console_url,
        };
        let archivist = data_dir.with_file_name(format!(
            "{}-archivist.pem",
            data_dir.file_name().unwrap().to_string_lossy()
        ));
        if !archivist.exists() {
            daemon.issue("Test Archivist", "archivist", None, &archivist);
        }
        daemon.archivist = archivist;
        daemon
    }

    /// Issues a credential with the daemon's admin credential, found
    /// through its data directory as an administrator on the box would.
    pub fn issue(&self, name: &str, role: &str, agency: Option<&str>, out: &Path) {
        let mut args = vec![
            "admin",
            "issue",
            "--name",
            name,
            "--role",
            role,
            "-o",
            out.to_str().unwrap(),
        ];
        if let Some(a) = agency {
            args.extend(["--agency", a]);
        }
        let output = self.cli_admin(&args);
        assert!(
            output.status.success(),
            "minutier admin issue failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Runs the CLI as the administrator on the box (`--data-dir`).
    pub fn cli_admin(&self, args: &[&str]) -> Output {
        let mut all = vec!["--data-dir", self.data_dir.to_str().unwrap()];
        all.extend_from_slice(args);
        cli_env(&all, &[])
    }

    /// Runs the CLI with the given credential bundle.
    pub fn cli_as(&self, credentials: &Path, args: &[&str]) -> Output {
        cli_env(
            args,
            &[
                ("MINUTIER_SERVER", &self.url),
                ("MINUTIER_CREDENTIALS", credentials.to_str().unwrap()),
            ],
        )
    }

    /// Peak resident memory of the daemon so far, in KiB (VmHWM).
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status")
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A figure of `/proc/<pid>/status` in KiB, for instance `VmRSS` (resident
    /// memory now) or `VmHWM` (peak).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc/<pid>/status"))
    }

    /// Kills the daemon with SIGKILL, as a power cut would from its point of
    /// view (nothing flushed, no shutdown code run), and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops gracefully (SIGTERM) and waits.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "minutierd exited uncleanly on SIGTERM: {status}"
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("minutierd did not stop within 20 s of SIGTERM");
    }

    /// Runs the CLI against this daemon, as an archivist.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_as(&self.archivist, args)
    }

    /// Runs the CLI against this daemon and parses its `--json` output,
    /// failing the test if the command failed.
    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.cli(&all);
        assert!(
            out.status.success(),
            "minutier {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "minutier {args:?} printed invalid JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the CLI with no server configured (offline commands).
pub fn cli(args: &[&str]) -> Output {
    cli_env(args, &[])
}

fn cli_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin_dir().join("minutier"));
    cmd.args(args)
        .env_remove("MINUTIER_SERVER")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run minutier")
}

/// Files under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Deterministic pseudo-random bytes (xorshift), incompressible.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// The PEM blocks of a credential bundle: (certificate, key, CA).
pub fn bundle_parts(bundle: &Path) -> (String, String, String) {
    let text = std::fs::read_to_string(bundle).unwrap();
    let mut blocks = Vec::new();
    let mut current = String::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        current.push_str(line);
        current.push('\n');
        if line.starts_with("-----END ") {
            blocks.push(std::mem::take(&mut current));
        }
    }
    assert_eq!(blocks.len(), 3, "a bundle holds certificate, key and CA");
    (blocks[0].clone(), blocks[1].clone(), blocks[2].clone())
}

/// A gRPC channel to the daemon over mutual TLS with `identity` (a
/// certificate and key in PEM), trusting `ca_pem`; without identity the
/// client presents no certificate.
pub async fn channel(
    daemon: &Daemon,
    ca_pem: &str,
    identity: Option<(&str, &str)>,
) -> tonic::transport::Channel {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("127.0.0.1");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Endpoint::from_shared(daemon.url.clone())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .expect("TLS connection to minutierd")
}

/// A channel authenticated with a credential bundle.
pub async fn channel_as(daemon: &Daemon, bundle: &Path) -> tonic::transport::Channel {
    let (cert, key, ca) = bundle_parts(bundle);
    channel(daemon, &ca, Some((&cert, &key))).await
}

/// A command's stdout and stderr, for messages and searches.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The command succeeded; its output.
#[track_caller]
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "expected success, got:\n{}",
        text(&out)
    );
    text(&out)
}

/// Every archive the daemon lists, following the pages.
pub async fn list_archives(
    archive: &mut minutier_proto::v1::archive_client::ArchiveClient<tonic::transport::Channel>,
) -> Vec<minutier_proto::v1::ArchiveInfo> {
    let (mut all, mut token) = (Vec::new(), String::new());
    loop {
        let page = archive
            .list(minutier_proto::v1::ListRequest {
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("List")
            .into_inner();
        all.extend(page.archives);
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}
