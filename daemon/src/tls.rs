//! TLS for the gRPC port (and the Pastell endpoint's HTTPS): rustls, TLS
//! 1.2+ with the ring provider.
//!
//! The handshake asks every client for a certificate and checks that the
//! client holds its private key, but accepts any certificate (or none):
//! whether the certificate is from this appliance's CA, still valid, not
//! revoked and allowed to act is decided per request by
//! [`crate::auth::Authenticator`], which can answer with a precise gRPC
//! status instead of a bare TLS alert.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; more wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 64;
/// Handshakes in progress from one address.
const MAX_HANDSHAKES_PER_PEER: usize = 16;
/// Connections open from one address (a client uses a few, each carrying
/// up to 128 concurrent calls).
const MAX_CONNECTIONS_PER_PEER: usize = 64;

/// Builds the verifier that checks client chains against the CA.
pub fn chain_verifier(ca_pem: &str) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| format!("invalid CA certificate: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("invalid CA certificate: {e}"))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| format!("cannot build the client verifier: {e}"))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server's TLS configuration.
pub fn server_config(
    cert_pem: &str,
    key_pem: &str,
    chain: Arc<dyn ClientCertVerifier>,
) -> Result<ServerConfig, String> {
    let (certs, key) = server_identity(cert_pem, key_pem)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(Arc::new(ProofOfPossession(chain)))
        .with_single_cert(certs, key)
        .map_err(|e| format!("server certificate and key do not match: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// TLS for the console: the server certificate, HTTP/1.1, and a client
/// certificate asked for but not required (a browser holding one may sign
/// in with it; others sign in with a password). As on the gRPC port, the
/// chain is checked per request by [`crate::auth::Authenticator`].
pub fn console_config(
    cert_pem: &str,
    key_pem: &str,
    chain: Arc<dyn ClientCertVerifier>,
) -> Result<ServerConfig, String> {
    let mut config = server_config(cert_pem, key_pem, chain)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// TLS for an HTTPS port whose clients authenticate inside HTTP (the
/// Pastell endpoint): the server certificate, no client certificate
/// asked, HTTP/1.1.
pub fn https_config(cert_pem: &str, key_pem: &str) -> Result<ServerConfig, String> {
    let (certs, key) = server_identity(cert_pem, key_pem)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("server certificate and key do not match: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The server's certificate chain and private key, from PEM.
fn server_identity(
    cert_pem: &str,
    key_pem: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("invalid server certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| format!("invalid server key: {e}"))?;
    Ok((certs, key))
}

/// Asks for a client certificate and checks the handshake signature made
/// with its key; leaves chain and identity checks to the request layer.
#[derive(Debug)]
struct ProofOfPossession(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for ProofOfPossession {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        // Without a certificate the client still gets a gRPC answer:
        // UNAUTHENTICATED, with what to do, rather than a TLS alert.
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Accepts TCP connections and completes TLS handshakes off the accept
/// loop (a slow client delays no one), yielding finished TLS streams.
///
/// One peer address may hold at most [`MAX_CONNECTIONS_PER_PEER`]
/// connections, [`MAX_HANDSHAKES_PER_PEER`] of them in their handshake;
/// past that its new connections are closed at once. So a host that opens
/// connections and says nothing can neither take every handshake slot nor
/// every file descriptor, and the others keep being served.
pub fn incoming(
    listener: TcpListener,
    config: ServerConfig,
) -> ReceiverStream<std::io::Result<Connection>> {
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (tx, rx) = mpsc::channel(MAX_HANDSHAKES);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    let peers = Peers::default();
    tokio::spawn(async move {
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let (tcp, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: pause, go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if tx.is_closed() {
                return;
            }
            let Some(admitted) = peers.admit(peer.ip()) else {
                tracing::info!(%peer, "too many connections from this address; closed");
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let _slot = slot;
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        admitted.handshake_done();
                        let _ = tx
                            .send(Ok(Connection {
                                stream,
                                _peer: admitted,
                            }))
                            .await;
                    }
                    Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

/// A served TLS connection; while it lives it counts against its peer's
/// share.
pub struct Connection {
    stream: TlsStream<TcpStream>,
    _peer: PeerShare,
}

impl Connection {
    /// The client's certificate chain, if it presented one.
    pub fn peer_certificates(&self) -> Option<Vec<CertificateDer<'static>>> {
        self.stream
            .get_ref()
            .1
            .peer_certificates()
            .filter(|c| !c.is_empty())
            .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
    }

    pub fn remote_addr(&self) -> Option<std::net::SocketAddr> {
        self.stream.get_ref().0.peer_addr().ok()
    }
}

impl tonic::transport::server::Connected for Connection {
    type ConnectInfo = <TlsStream<TcpStream> as tonic::transport::server::Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Connections open per peer address.
#[derive(Clone, Default)]
struct Peers(Arc<Mutex<HashMap<IpAddr, PeerCount>>>);

#[derive(Default)]
struct PeerCount {
    open: usize,
    handshaking: usize,
}

impl Peers {
    /// Counts a new connection from `ip`, or `None` if `ip` holds its share.
    fn admit(&self, ip: IpAddr) -> Option<PeerShare> {
        let mut peers = self.0.lock().expect("peer counts");
        let count = peers.entry(ip).or_default();
        if count.open >= MAX_CONNECTIONS_PER_PEER || count.handshaking >= MAX_HANDSHAKES_PER_PEER {
            return None;
        }
        count.open += 1;
        count.handshaking += 1;
        Some(PeerShare {
            peers: self.clone(),
            ip,
            handshaking: AtomicBool::new(true),
        })
    }
}

/// One connection's place in its peer's count, given back on drop.
struct PeerShare {
    peers: Peers,
    ip: IpAddr,
    handshaking: AtomicBool,
}

impl PeerShare {
    fn handshake_done(&self) {
        if self.handshaking.swap(false, Ordering::Relaxed) {
            let mut peers = self.peers.0.lock().expect("peer counts");
            if let Some(count) = peers.get_mut(&self.ip) {
                count.handshaking -= 1;
            }
        }
    }
}

impl Drop for PeerShare {
    fn drop(&mut self) {
        self.handshake_done();
        let mut peers = self.peers.0.lock().expect("peer counts");
        if let Some(count) = peers.get_mut(&self.ip) {
            count.open -= 1;
            if count.open == 0 {
                peers.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_gets_its_share_and_no_more() {
        let peers = Peers::default();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let handshaking: Vec<_> = (0..MAX_HANDSHAKES_PER_PEER)
            .map(|_| peers.admit(a).unwrap())
            .collect();
        assert!(peers.admit(a).is_none(), "handshakes per peer are capped");
        assert!(peers.admit(b).is_some(), "another peer is not affected");
        for share in &handshaking {
            share.handshake_done();
        }
        let mut open = handshaking;
        while open.len() < MAX_CONNECTIONS_PER_PEER {
            let share = peers.admit(a).unwrap();
            share.handshake_done();
            open.push(share);
        }
        assert!(peers.admit(a).is_none(), "connections per peer are capped");
        open.pop();
        assert!(
            peers.admit(a).is_some(),
            "a closed connection frees its place"
        );
        drop(open);
        assert!(
            peers.0.lock().unwrap().get(&a).is_none(),
            "nothing left behind"
        );
    }
}
