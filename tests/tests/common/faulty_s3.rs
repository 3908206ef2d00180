//! A fault-injecting HTTP/1.1 reverse proxy in front of a real S3 server
//! (Garage), for tests of an S3 service that is up but answers errors.
//!
//! It listens on loopback and forwards each request byte for byte (request
//! line, headers, body: the client's SigV4 signature stays valid), parsing
//! only enough HTTP to find where each request and response ends
//! (`Content-Length` or chunked). A [`Mode`], switched by the test while
//! the proxy runs, decides per request whether it is forwarded or faulted.
//! A fault is one of:
//!
//! - a real S3 XML error, `500 InternalError` or `503 SlowDown`, without
//!   forwarding the request;
//! - the request forwarded (the server may well have done what was asked)
//!   and its answer cut: part of it, then a TCP reset;
//! - the request forwarded and its answer truncated: part of it, then a
//!   clean close.
//!
//! Counters tell the test how many requests were forwarded and faulted.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does with each request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Fault every request.
    Errors,
    /// Fault each request with this probability, forward the others.
    Flaky(f64),
}

/// Requests forwarded and faulted so far, by kind of fault.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Forwarded and answered in full.
    pub forwarded: u64,
    /// Answered `500 InternalError` (not forwarded).
    pub internal_errors: u64,
    /// Answered `503 SlowDown` (not forwarded).
    pub slow_downs: u64,
    /// Forwarded, then part of the answer and a TCP reset.
    pub resets: u64,
    /// Forwarded, then part of the answer and a clean close.
    pub truncations: u64,
}

impl Counts {
    /// Every faulted request.
    pub fn faulted(&self) -> u64 {
        self.internal_errors + self.slow_downs + self.resets + self.truncations
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} forwarded, {} faulted ({} InternalError, {} SlowDown, {} reset, {} truncated)",
            self.forwarded,
            self.faulted(),
            self.internal_errors,
            self.slow_downs,
            self.resets,
            self.truncations
        )
    }
}

#[derive(Default)]
struct Counters {
    forwarded: AtomicU64,
    internal_errors: AtomicU64,
    slow_downs: AtomicU64,
    resets: AtomicU64,
    truncations: AtomicU64,
}

struct Shared {
    upstream: SocketAddr,
    mode: Mutex<Mode>,
    counters: Counters,
    stop: AtomicBool,
}

/// The proxy; stops accepting when dropped.
pub struct FaultyS3 {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FaultyS3 {
    /// Starts a proxy on `127.0.0.1:0` forwarding to `upstream`
    /// (`http://HOST:PORT`, as [`super::garage::Garage::endpoint`]), in
    /// [`Mode::Pass`].
    pub fn start(upstream: &str) -> FaultyS3 {
        let upstream: SocketAddr = upstream
            .strip_prefix("http://")
            .unwrap_or(upstream)
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("upstream {upstream:?} is not http://IP:PORT: {e}"));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream,
            mode: Mutex::new(Mode::Pass),
            counters: Counters::default(),
            stop: AtomicBool::new(false),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let shared = accepting.clone();
                std::thread::spawn(move || serve(client, &shared));
            }
        });
        FaultyS3 { addr, shared }
    }

    /// The endpoint clients use, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches the mode; applies from the next request.
    pub fn set_mode(&self, mode: Mode) {
        if let Mode::Flaky(p) = mode {
            assert!((0.0..=1.0).contains(&p), "a probability, not {p}");
        }
        *self.shared.mode.lock().unwrap() = mode;
    }

    pub fn mode(&self) -> Mode {
        *self.shared.mode.lock().unwrap()
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        let c = &self.shared.counters;
        Counts {
            forwarded: c.forwarded.load(Ordering::SeqCst),
            internal_errors: c.internal_errors.load(Ordering::SeqCst),
            slow_downs: c.slow_downs.load(Ordering::SeqCst),
            resets: c.resets.load(Ordering::SeqCst),
            truncations: c.truncations.load(Ordering::SeqCst),
        }
    }
}

impl Drop for FaultyS3 {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    InternalError,
    SlowDown,
    Reset,
    Truncate,
}

fn draw_fault() -> Fault {
    match rand::random::<u8>() % 8 {
        0..=2 => Fault::InternalError,
        3..=4 => Fault::SlowDown,
        5..=6 => Fault::Reset,
        _ => Fault::Truncate,
    }
}

/// One client connection: request after request (keep-alive), each
/// forwarded over one upstream connection or faulted.
fn serve(client: TcpStream, shared: &Shared) {
    let _ = client.set_nodelay(true);
    let Ok(mut to_client) = client.try_clone() else {
        return;
    };
    let mut from_client = Framed::new(client);
    let mut upstream: Option<(TcpStream, Framed)> = None;
    loop {
        let request = match read_request(&mut from_client) {
            Ok(Some(r)) => r,
            Ok(None) | Err(_) => return,
        };
        let mode = *shared.mode.lock().unwrap();
        let fault = match mode {
            Mode::Pass => None,
            Mode::Errors => Some(draw_fault()),
            Mode::Flaky(p) => (rand::random::<f64>() < p).then(draw_fault),
        };
        let counters = &shared.counters;
        match fault {
            Some(fault @ (Fault::InternalError | Fault::SlowDown)) => {
                let (status, code, message, counter) = match fault {
                    Fault::InternalError => (
                        "500 Internal Server Error",
                        "InternalError",
                        "We encountered an internal error. Please try again.",
                        &counters.internal_errors,
                    ),
                    _ => (
                        "503 Slow Down",
                        "SlowDown",
                        "Please reduce your request rate.",
                        &counters.slow_downs,
                    ),
                };
                let body = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                     <Message>{message}</Message><Resource>{}</Resource>\
                     <RequestId>{:016x}</RequestId></Error>",
                    xml_escape(&request.target),
                    rand::random::<u64>()
                );
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\n\
                     Content-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                counter.fetch_add(1, Ordering::SeqCst);
                if to_client.write_all(response.as_bytes()).is_err() {
                    return;
                }
                if request.close {
                    return;
                }
            }
            _ => {
                let response = match exchange(&mut upstream, shared.upstream, &request) {
                    Ok(r) => r,
                    // The server is down or hung up: so does the proxy.
                    Err(_) => return,
                };
                match fault {
                    Some(kind) => {
                        // Part of the answer, never all of it.
                        let cut = 1 + rand::random::<usize>() % (response.bytes.len() - 1).max(1);
                        let _ = to_client.write_all(&response.bytes[..cut]);
                        let _ = to_client.flush();
                        if matches!(kind, Fault::Reset) {
                            counters.resets.fetch_add(1, Ordering::SeqCst);
                            reset(to_client);
                        } else {
                            counters.truncations.fetch_add(1, Ordering::SeqCst);
                            let _ = to_client.shutdown(Shutdown::Both);
                        }
                        return;
                    }
                    None => {
                        counters.forwarded.fetch_add(1, Ordering::SeqCst);
                        if to_client.write_all(&response.bytes).is_err() {
                            return;
                        }
                        if request.close || response.close {
                            let _ = to_client.shutdown(Shutdown::Both);
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Closes with a TCP reset (SO_LINGER 0) rather than a clean FIN.
fn reset(stream: TcpStream) {
    let socket = tokio::net::TcpSocket::from_std_stream(stream);
    let _ = socket.set_zero_linger();
    drop(socket);
}

/// Sends a request upstream (over the connection kept for this client, or
/// a new one) and reads its whole answer.
fn exchange(
    upstream: &mut Option<(TcpStream, Framed)>,
    addr: SocketAddr,
    request: &Request,
) -> io::Result<Response> {
    if upstream.is_none() {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        let reader = Framed::new(stream.try_clone()?);
        *upstream = Some((stream, reader));
    }
    let (stream, reader) = upstream.as_mut().expect("connected");
    let outcome = stream
        .write_all(&request.bytes)
        .and_then(|_| read_response(reader, &request.method));
    match outcome {
        Ok(response) => {
            if response.close {
                *upstream = None;
            }
            Ok(response)
        }
        Err(e) => {
            *upstream = None;
            Err(e)
        }
    }
}

struct Request {
    method: String,
    target: String,
    /// The request exactly as received.
    bytes: Vec<u8>,
    /// The client asked to close after it.
    close: bool,
}

struct Response {
    bytes: Vec<u8>,
    close: bool,
}

/// A buffered reader that hands out raw bytes: heads up to their blank
/// line, bodies by length or chunk.
struct Framed {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Framed {
    fn new(stream: TcpStream) -> Framed {
        Framed {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads more; false at end of stream.
    fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 64 << 10];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Bytes up to and including the first `needle`; None if the stream
    /// ends first with nothing buffered.
    fn take_through(&mut self, needle: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let mut searched = 0;
        loop {
            if let Some(at) = self.buf[searched..]
                .windows(needle.len())
                .position(|w| w == needle)
            {
                let end = searched + at + needle.len();
                return Ok(Some(self.buf.drain(..end).collect()));
            }
            searched = self.buf.len().saturating_sub(needle.len() - 1);
            if !self.fill()? {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Exactly `n` more bytes, appended to `out`.
    fn take_exact(&mut self, mut n: usize, out: &mut Vec<u8>) -> io::Result<()> {
        while n > 0 {
            if self.buf.is_empty() && !self.fill()? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let k = n.min(self.buf.len());
            out.extend(self.buf.drain(..k));
            n -= k;
        }
        Ok(())
    }

    /// Everything until the peer closes, appended to `out`.
    fn take_to_end(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        out.append(&mut self.buf);
        while self.fill()? {
            out.append(&mut self.buf);
        }
        Ok(())
    }

    /// A chunked body (chunks, last chunk, trailers), appended raw.
    fn take_chunked(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        loop {
            let line = self
                .take_through(b"\r\n")?
                .ok_or(io::ErrorKind::UnexpectedEof)?;
            let text = String::from_utf8_lossy(&line);
            let size_text = text.trim_end().split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, format!("chunk size {text:?}"))
            })?;
            out.extend_from_slice(&line);
            if size == 0 {
                // Trailers, each a line, until a blank one.
                loop {
                    let trailer = self
                        .take_through(b"\r\n")?
                        .ok_or(io::ErrorKind::UnexpectedEof)?;
                    out.extend_from_slice(&trailer);
                    if trailer == b"\r\n" {
                        return Ok(());
                    }
                }
            }
            self.take_exact(size + 2, out)?;
        }
    }
}

/// The head's start line and its headers (lower-case names).
fn parse_head(head: &[u8]) -> io::Result<(String, Vec<(String, String)>)> {
    let text = std::str::from_utf8(head)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a head that is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let start = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok((start, headers))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    header(headers, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

fn content_length(headers: &[(String, String)]) -> io::Result<Option<usize>> {
    header(headers, "content-length")
        .map(|v| {
            v.parse()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length"))
        })
        .transpose()
}

fn wants_close(headers: &[(String, String)]) -> bool {
    header(headers, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
}

/// The next request on a client connection; None when the client closed.
fn read_request(from: &mut Framed) -> io::Result<Option<Request>> {
    let Some(mut bytes) = from.take_through(b"\r\n\r\n")? else {
        return Ok(None);
    };
    let (start, headers) = parse_head(&bytes)?;
    let mut parts = start.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    if is_chunked(&headers) {
        from.take_chunked(&mut bytes)?;
    } else if let Some(n) = content_length(&headers)? {
        from.take_exact(n, &mut bytes)?;
    }
    Ok(Some(Request {
        method,
        target,
        close: wants_close(&headers),
        bytes,
    }))
}

/// The whole answer to a request made with `method`.
fn read_response(from: &mut Framed, method: &str) -> io::Result<Response> {
    let mut bytes = from
        .take_through(b"\r\n\r\n")?
        .ok_or(io::ErrorKind::UnexpectedEof)?;
    let (start, headers) = parse_head(&bytes)?;
    let status: u16 = start
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let mut close = wants_close(&headers);
    if method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304 {
        // No body.
    } else if is_chunked(&headers) {
        from.take_chunked(&mut bytes)?;
    } else if let Some(n) = content_length(&headers)? {
        from.take_exact(n, &mut bytes)?;
    } else {
        from.take_to_end(&mut bytes)?;
        close = true;
    }
    Ok(Response { bytes, close })
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
