//! Slow and abusive clients: while one host floods the port with silent
//! connections and an authenticated client holds hundreds of uploads
//! stalled mid-document and hundreds of downloads it never reads, another
//! client ingests, reads back and gets seals as usual. Once the abusers go
//! away nothing of theirs is left half-stored. An upload whose stream ends
//! before the size it announced is refused, not stored cut off.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{channel_as, noise, Daemon};
use minutier_proto::v1 as pb;
use minutier_proto::v1::archive_client::ArchiveClient;
use minutier_proto::v1::ingest_request::Part;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

/// Silent connections opened by the flooding host.
const SILENT: usize = 200;
/// What the daemon lets one address keep in its TLS handshake
/// (`MAX_HANDSHAKES_PER_PEER` in daemon/src/tls.rs).
const HANDSHAKES_PER_PEER: usize = 16;
/// Stalled uploads: connections × streams on each.
const STALLED_UPLOADS: (usize, usize) = (6, 100);
/// Downloads never read: connections × streams on each.
const UNREAD_DOWNLOADS: (usize, usize) = (4, 100);
/// A call of the well-behaved client normally takes milliseconds; this
/// bound only tells "served" from "starved".
const PATIENCE: Duration = Duration::from_secs(30);

fn header(title: &str, size: usize) -> pb::IngestRequest {
    pb::IngestRequest {
        part: Some(Part::Header(pb::IngestHeader {
            metadata: Some(pb::DocumentMetadata {
                title: title.to_owned(),
                ..Default::default()
            }),
            declared_sha256: String::new(),
            size: size as u64,
        })),
    }
}

fn chunk(bytes: &[u8]) -> pb::IngestRequest {
    pb::IngestRequest {
        part: Some(Part::Chunk(bytes.to_vec())),
    }
}

async fn ingest(archive: &mut ArchiveClient<Channel>, title: &str, content: &[u8]) -> String {
    let mut messages = vec![header(title, content.len())];
    messages.extend(content.chunks(256 * 1024).map(chunk));
    let reply = tokio::time::timeout(PATIENCE, archive.ingest(tokio_stream::iter(messages)))
        .await
        .unwrap_or_else(|_| panic!("ingest of {title} starved for {PATIENCE:?}"))
        .unwrap_or_else(|e| panic!("ingest of {title}: {e}"))
        .into_inner();
    assert_eq!(reply.content_sha256, hex::encode(Sha256::digest(content)));
    reply.archive_id
}

async fn read_back(archive: &mut ArchiveClient<Channel>, id: &str) -> Vec<u8> {
    tokio::time::timeout(PATIENCE, async {
        let mut stream = archive
            .get(pb::GetRequest {
                archive_id: id.to_owned(),
            })
            .await
            .unwrap_or_else(|e| panic!("get {id}: {e}"))
            .into_inner();
        let mut content = Vec::new();
        while let Some(part) = stream.next().await {
            content.extend(part.unwrap_or_else(|e| panic!("get {id}: {e}")).chunk);
        }
        content
    })
    .await
    .unwrap_or_else(|_| panic!("reading {id} back starved for {PATIENCE:?}"))
}

/// Connects from a given loopback address (all of 127/8 is local).
async fn connect_from(source: &str, to: std::net::SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

fn temporary_blobs(data: &Path) -> usize {
    std::fs::read_dir(data.join("blobs/tmp")).map_or(0, |d| d.count())
}

async fn archives(archive: &mut ArchiveClient<Channel>) -> usize {
    common::list_archives(archive).await.len()
}

#[test]
fn abusive_clients_do_not_stop_others_from_being_served() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let daemon = Daemon::start(&data);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut archive = ArchiveClient::new(channel_as(&daemon, &daemon.archivist).await);
        let large = noise(1, 4 << 20);
        let large_id = ingest(&mut archive, "registre.pdf", &large).await;

        // A host floods the port with connections that never say a word:
        // past its share of handshakes they are closed at once.
        let mut silent = Vec::new();
        for _ in 0..SILENT {
            silent.push(connect_from("127.0.0.2", daemon.addr).await);
        }
        let waits: Vec<_> = silent
            .into_iter()
            .map(|mut connection| {
                tokio::spawn(async move {
                    let mut byte = [0u8; 1];
                    let read =
                        tokio::time::timeout(Duration::from_secs(1), connection.read(&mut byte));
                    // Still open after a second: waiting for its handshake.
                    read.await.is_err().then_some(connection)
                })
            })
            .collect();
        let mut silent = Vec::new();
        for wait in waits {
            silent.extend(wait.await.unwrap());
        }
        let kept = silent.len();
        assert!(
            (1..=HANDSHAKES_PER_PEER).contains(&kept),
            "{kept} of {SILENT} silent connections from one address are held open"
        );

        // An authenticated client starts hundreds of uploads, each past the
        // size kept in memory (so the daemon is writing a blob file), and
        // then sends nothing more.
        let mut stalled = Vec::new();
        for c in 0..STALLED_UPLOADS.0 {
            let client = ArchiveClient::new(channel_as(&daemon, &daemon.archivist).await);
            for s in 0..STALLED_UPLOADS.1 {
                let (tx, rx) = tokio::sync::mpsc::channel(4);
                let title = format!("bloqué-{c}-{s}.bin");
                tx.send(header(&title, 1 << 20)).await.unwrap();
                tx.send(chunk(&noise((c * 1000 + s) as u64, 100_000)))
                    .await
                    .unwrap();
                let mut client = client.clone();
                let call = tokio::spawn(async move {
                    client
                        .ingest(tokio_stream::wrappers::ReceiverStream::new(rx))
                        .await
                });
                stalled.push((tx, call));
            }
        }
        let uploads = STALLED_UPLOADS.0 * STALLED_UPLOADS.1;
        let deadline = Instant::now() + PATIENCE;
        while temporary_blobs(&data) < uploads {
            assert!(
                Instant::now() < deadline,
                "only {} of {uploads} stalled uploads reached the blob writer",
                temporary_blobs(&data)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // It also asks for a large document hundreds of times and never
        // reads the answers.
        let mut unread = Vec::new();
        for _ in 0..UNREAD_DOWNLOADS.0 {
            let mut client = ArchiveClient::new(channel_as(&daemon, &daemon.archivist).await);
            for _ in 0..UNREAD_DOWNLOADS.1 {
                let response = client
                    .get(pb::GetRequest {
                        archive_id: large_id.clone(),
                    })
                    .await
                    .expect("a download starts");
                unread.push(response);
            }
        }

        // Meanwhile a well-behaved client, on its own connection, is served:
        // documents kept in the index and in blob files, read back, sealed.
        let mut honest = ArchiveClient::new(channel_as(&daemon, &daemon.archivist).await);
        let started = Instant::now();
        let mut mine = Vec::new();
        for n in 0..8 {
            let content = if n % 2 == 0 {
                format!("Arrêté du maire n° {n}").into_bytes()
            } else {
                noise(100 + n, 300_000)
            };
            let id = ingest(&mut honest, &format!("honnête-{n}"), &content).await;
            assert_eq!(read_back(&mut honest, &id).await, content, "{id}");
            let seal = honest
                .get_seal(pb::GetSealRequest {
                    archive_id: id.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            assert!(!seal.seal.is_empty());
            mine.push(id);
        }
        assert_eq!(read_back(&mut honest, &large_id).await, large);
        eprintln!(
            "served 8 ingests, 9 reads and 8 seals in {:.2} s beside {kept} silent \
             connections, {uploads} stalled uploads and {} unread downloads",
            started.elapsed().as_secs_f64(),
            unread.len()
        );

        // The abusers go away: their uploads are refused and nothing of
        // them stays, neither a temporary file nor an archive.
        drop(silent);
        drop(unread);
        for (tx, call) in stalled {
            call.abort();
            drop(tx);
        }
        let deadline = Instant::now() + PATIENCE;
        while temporary_blobs(&data) > 0 {
            assert!(
                Instant::now() < deadline,
                "{} temporary blob files left behind",
                temporary_blobs(&data)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(archives(&mut honest).await, 1 + mine.len());

        // A stream that ends cleanly but short of the size announced is a
        // cut-off upload: refused, nothing stored.
        let cut = vec![header("coupé.bin", 200_000), chunk(&noise(7, 150_000))];
        let refused = honest.ingest(tokio_stream::iter(cut)).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused}");
        assert!(
            refused
                .message()
                .contains("announced 200000 bytes but 150000 arrived"),
            "{refused}"
        );
        assert_eq!(archives(&mut honest).await, 1 + mine.len());
        assert_eq!(temporary_blobs(&data), 0);
    });
    daemon.stop();
}
