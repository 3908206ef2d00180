//! What the daemon's web ports share: the HTTPS connection loop (the
//! Pastell endpoint, the console): TLS handshakes through
//! [`crate::tls::incoming`], connections bounded, request headers timed
//! out, requests in progress drained on stop.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls_pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::StreamExt as _;

/// Connections served at once; more wait in the kernel's backlog. Four
/// times what one address may hold (`crate::tls`), so that one host
/// cannot take them all.
const MAX_CONNECTIONS: usize = 256;
/// A client must send its request headers within this time.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes read and dropped after a refusal, so that the client, still
/// sending, reads the answer...
pub const MAX_DRAIN: u64 = 64 << 20;
/// ...for at most this long; then the connection is closed.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);

/// What the TLS layer knows of a connection, handed to each of its
/// requests.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: Option<SocketAddr>,
    /// The client's certificate chain, when it presented one (its key is
    /// proven; the chain is not checked yet).
    pub certificates: Option<Arc<Vec<CertificateDer<'static>>>>,
}

/// Serves HTTP/1.1 over TLS on `listener` until `stop` turns true; then
/// stops accepting, lets requests in progress finish and returns.
pub async fn serve<H, F>(
    name: &'static str,
    listener: TcpListener,
    tls: rustls::ServerConfig,
    mut stop: watch::Receiver<bool>,
    handle: H,
) where
    H: Fn(Peer, Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response, Infallible>> + Send + 'static,
{
    let mut incoming = crate::tls::incoming(listener, tls);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
            _ = stopped(&mut stop) => break,
        };
        let stream = tokio::select! {
            next = incoming.next() => match next {
                Some(Ok(stream)) => stream,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "{name}: accept failed");
                    continue;
                }
                None => break,
            },
            _ = stopped(&mut stop) => break,
        };
        let peer = Peer {
            addr: stream.remote_addr(),
            certificates: stream.peer_certificates().map(Arc::new),
        };
        let (handle, mut stop) = (handle.clone(), stop.clone());
        connections.spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| handle(peer.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "{name}: connection ended");
                    }
                }
                _ = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    drop(incoming);
    while connections.join_next().await.is_some() {}
}

/// Resolves once `stop` turns true (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Percent-encodes everything but RFC 3986's unreserved characters: for a
/// query value, a path segment or an `otpauth://` label.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads what the client still sends of a refused request, within bounds,
/// so that it reads the answer instead of a broken connection.
pub async fn drain(body: axum::body::Body) {
    let mut stream = body.into_data_stream();
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut left = MAX_DRAIN;
        while let Some(Ok(bytes)) = stream.next().await {
            left = left.saturating_sub(bytes.len() as u64);
            if left == 0 {
                return;
            }
        }
    })
    .await;
}
