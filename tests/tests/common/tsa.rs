//! A local RFC 3161 time-stamping authority for tests: a throwaway CA and
//! TSA certificate made with `openssl` (extended key usage timeStamping,
//! critical), and a small HTTP server on a free loopback port that answers
//! each POSTed request with `openssl ts -reply`. It can be taken down
//! (connections are closed unanswered) or made to refuse every request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How the TSA answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// With a granted time-stamp from `openssl ts -reply`.
    Up = 0,
    /// Not at all: the connection is closed unanswered.
    Down = 1,
    /// With a refusal (status rejection, failInfo systemFailure).
    Refusing = 2,
}

pub struct Tsa {
    pub url: String,
    /// The TSA's CA certificate, for `openssl ts -verify -CAfile`.
    pub ca_pem: PathBuf,
    /// The TSA's own certificate.
    pub tsa_pem: PathBuf,
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    granted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Runs openssl, failing the test with its output if it fails.
pub fn openssl(args: &[&str]) -> std::process::Output {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl (install it: scripts/setup test)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Tsa {
    /// Creates the authority's keys and certificates in `dir` and starts
    /// serving.
    pub fn start(dir: &Path) -> Tsa {
        std::fs::create_dir_all(dir).unwrap();
        let p = |name: &str| dir.join(name).to_str().unwrap().to_owned();
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &p("ca.key"),
            "-out",
            &p("tsa-ca.pem"),
            "-days",
            "30",
            "-subj",
            "/O=Minutier tests/CN=Test TSA CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &p("tsa.key"),
            "-out",
            &p("tsa.csr"),
            "-subj",
            "/O=Minutier tests/CN=Test TSA",
        ]);
        std::fs::write(
            dir.join("ext.cnf"),
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=critical,timeStamping\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            &p("tsa.csr"),
            "-CA",
            &p("tsa-ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-CAserial",
            &p("ca.srl"),
            "-out",
            &p("tsa.pem"),
            "-days",
            "30",
            "-extfile",
            &p("ext.cnf"),
        ]);
        std::fs::write(dir.join("serial"), "01\n").unwrap();
        std::fs::write(
            dir.join("ts.cnf"),
            format!(
                "[ tsa ]\ndefault_tsa = tsa_config\n[ tsa_config ]\nserial = {}\n\
                 crypto_device = builtin\nsigner_cert = {}\ncerts = {}\nsigner_key = {}\n\
                 signer_digest = sha256\ndefault_policy = 1.3.6.1.4.1.99999.3161.1\n\
                 digests = sha256, sha384, sha512\naccuracy = secs:1\n\
                 clock_precision_digits = 3\nordering = no\ntsa_name = yes\n\
                 ess_cert_id_chain = no\ness_cert_id_alg = sha256\n",
                p("serial"),
                p("tsa.pem"),
                p("tsa-ca.pem"),
                p("tsa.key"),
            ),
        )
        .unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(Mode::Up as u8));
        let granted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (mode, granted, stop, dir) =
                (mode.clone(), granted.clone(), stop.clone(), dir.to_owned());
            std::thread::spawn(move || {
                for (n, conn) in listener.incoming().enumerate() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(conn) = conn else { continue };
                    serve(conn, &dir, n, mode.load(Ordering::SeqCst), &granted);
                }
            })
        };
        Tsa {
            url: format!("http://{addr}/tsa"),
            ca_pem: dir.join("tsa-ca.pem"),
            tsa_pem: dir.join("tsa.pem"),
            addr,
            mode,
            granted,
            stop,
            thread: Some(thread),
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// How many time-stamps were granted so far.
    pub fn granted(&self) -> usize {
        self.granted.load(Ordering::SeqCst)
    }
}

impl Drop for Tsa {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One DER element (short lengths only).
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    assert!(content.len() < 128);
    [&[tag, content.len() as u8][..], content].concat()
}

/// A refusal: status rejection, "TSA maintenance", failInfo systemFailure.
fn refusal() -> Vec<u8> {
    let status = [
        der(0x02, &[2]),
        der(0x30, &der(0x0c, b"TSA maintenance")),
        // Bit 25 (systemFailure): 4 bytes of bits, 6 unused.
        der(0x03, &[6, 0, 0, 0, 0x40]),
    ]
    .concat();
    der(0x30, &der(0x30, &status))
}

fn respond(conn: &mut TcpStream, status: &str, media_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {media_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body);
    let _ = conn.flush();
}

fn serve(mut conn: TcpStream, dir: &Path, n: usize, mode: u8, granted: &AtomicUsize) {
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() || request_line.is_empty() {
        return;
    }
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    if mode == Mode::Down as u8 {
        let _ = conn.shutdown(std::net::Shutdown::Both);
        return;
    }
    if mode == Mode::Refusing as u8 {
        respond(
            &mut conn,
            "200 OK",
            "application/timestamp-reply",
            &refusal(),
        );
        return;
    }
    if !request_line.starts_with("POST ") {
        respond(
            &mut conn,
            "405 Method Not Allowed",
            "text/plain",
            b"POST only\n",
        );
        return;
    }
    let query = dir.join(format!("query-{n}.tsq"));
    let reply = dir.join(format!("reply-{n}.tsr"));
    std::fs::write(&query, &body).unwrap();
    let out = Command::new("openssl")
        .args(["ts", "-reply", "-config"])
        .arg(dir.join("ts.cnf"))
        .arg("-queryfile")
        .arg(&query)
        .arg("-out")
        .arg(&reply)
        .output()
        .expect("run openssl ts -reply");
    match std::fs::read(&reply) {
        Ok(bytes) if out.status.success() => {
            granted.fetch_add(1, Ordering::SeqCst);
            respond(&mut conn, "200 OK", "application/timestamp-reply", &bytes);
        }
        _ => respond(
            &mut conn,
            "500 Internal Server Error",
            "text/plain",
            &out.stderr,
        ),
    }
}
