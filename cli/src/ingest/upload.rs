//! Uploading one file: stream it in chunks while hashing it, then check the
//! seal the server returns against what was actually sent.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context};
use futures::Stream;
use indicatif::ProgressBar;
use minutier_proto::v1::ingest_request::Part;
use minutier_proto::v1::{DocumentMetadata, IngestHeader, IngestRequest, IngestResponse};
use minutier_seal::verify::SealVerifier;
use minutier_seal::Hash;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;

use crate::client::Client;
use crate::error::Rpc;

/// Chunk size on the wire. Memory per upload stays a few chunks whatever
/// the file size (HTTP/2 flow control bounds what is in flight).
pub const CHUNK_SIZE: usize = 256 * 1024;

/// A document the server archived and whose seal checked out.
#[derive(Debug)]
pub struct Uploaded {
    pub archive_id: String,
    pub content_sha256: Hash,
    pub size: u64,
    pub log_index: u64,
    pub deduplicated: bool,
    pub seal: String,
}

/// What the client itself read and hashed.
struct Digest256 {
    sha256: Hash,
    size: u64,
}

/// Uploads `path` and verifies the returned seal end to end: the seal must
/// be signed by the log's key and cover a record of exactly the bytes this
/// function read. `size_hint` is the size seen when walking.
pub async fn upload(
    mut client: Client,
    path: &Path,
    size_hint: u64,
    mut metadata: DocumentMetadata,
    verifier: Arc<Mutex<SealVerifier>>,
    progress: Option<ProgressBar>,
) -> anyhow::Result<Uploaded> {
    if size_hint <= CHUNK_SIZE as u64 {
        // Small documents (most of an archive) are read in one call and
        // sent as one message with their digest declared, so the server
        // checks it too. Read right here: handing a read of at most
        // 256 KiB to another thread and back cost more than the read.
        let content = std::fs::read(path).context("cannot read")?;
        if content.len() <= CHUNK_SIZE {
            let digest = Digest256 {
                sha256: Sha256::digest(&content).into(),
                size: content.len() as u64,
            };
            let header = IngestRequest {
                part: Some(Part::Header(IngestHeader {
                    metadata: Some(std::mem::take(&mut metadata)),
                    declared_sha256: hex::encode(digest.sha256),
                    size: digest.size,
                })),
            };
            let mut messages = vec![header];
            if !content.is_empty() {
                messages.push(IngestRequest {
                    part: Some(Part::Chunk(content)),
                });
            }
            let response = client
                .ingest(futures::stream::iter(messages))
                .await
                .map_err(Rpc)?
                .into_inner();
            if let Some(bar) = &progress {
                bar.inc(digest.size);
            }
            return check_receipt(response, digest, &verifier);
        }
        // The file grew since it was walked: stream it like a large one.
    }

    let file = tokio::fs::File::open(path).await.context("cannot open")?;
    let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let header = IngestRequest {
        part: Some(Part::Header(IngestHeader {
            metadata: Some(metadata),
            declared_sha256: String::new(),
            size,
        })),
    };
    let (digest_tx, mut digest_rx) = oneshot::channel();
    let requests = request_stream(file, header, digest_tx, progress);

    let call = client.ingest(requests);
    tokio::pin!(call);
    let (response, digest) = tokio::select! {
        // Read outcome first: a read error must win over anything else.
        biased;
        read = &mut digest_rx => match read {
            Ok(Ok(digest)) => (call.await, Some(digest)),
            // Returning drops `call`, which cancels the RPC: the server sees
            // a reset stream, never a clean end of a truncated document.
            Ok(Err(e)) => return Err(anyhow!(e).context("cannot read")),
            // The stream was dropped unfinished: the call itself failed.
            Err(_) => (call.await, None),
        },
        response = &mut call => (response, digest_rx.try_recv().ok().and_then(Result::ok)),
    };
    let response = response.map_err(Rpc)?.into_inner();
    let Some(digest) = digest else {
        bail!("the server answered before the whole file was sent");
    };
    check_receipt(response, digest, &verifier)
}

/// Checks the server's receipt against what this client sent: the seal
/// verifies under the log's key and covers exactly these bytes.
fn check_receipt(
    response: IngestResponse,
    digest: Digest256,
    verifier: &Mutex<SealVerifier>,
) -> anyhow::Result<Uploaded> {
    let verified = verifier
        .lock()
        .map_err(|_| anyhow!("seal verifier unusable after a panic"))?
        .verify_document(&response.seal, &digest.sha256, digest.size)
        .map_err(|e| anyhow!("the seal returned by the server does not verify: {e}"))?;
    let own_hex = hex::encode(digest.sha256);
    if !response.content_sha256.eq_ignore_ascii_case(&own_hex) || response.size != digest.size {
        bail!(
            "the server reports {} bytes with SHA-256 {}, but {} bytes with SHA-256 {} were sent",
            response.size,
            response.content_sha256,
            digest.size,
            own_hex
        );
    }
    if verified.index != response.log_index {
        bail!(
            "the server reports log index {}, but the seal is for record {}",
            response.log_index,
            verified.index
        );
    }
    Ok(Uploaded {
        archive_id: response.archive_id,
        content_sha256: digest.sha256,
        size: digest.size,
        log_index: response.log_index,
        deduplicated: response.deduplicated,
        seal: response.seal,
    })
}

/// Reader state, advanced each time tonic asks for the next message: the
/// file is read only as fast as the network drains it (pull, no buffering).
struct FileReader {
    file: tokio::fs::File,
    header: Option<IngestRequest>,
    hasher: Sha256,
    size: u64,
    /// Where the read outcome goes; `None` once sent.
    outcome: Option<oneshot::Sender<std::io::Result<Digest256>>>,
    progress: Option<ProgressBar>,
}

/// The header, then the file in `CHUNK_SIZE` chunks. On a read error the
/// stream reports the error and then never ends: ending it would tell the
/// server the (truncated) document is complete. The caller drops the call,
/// which resets the HTTP/2 stream.
fn request_stream(
    file: tokio::fs::File,
    header: IngestRequest,
    outcome: oneshot::Sender<std::io::Result<Digest256>>,
    progress: Option<ProgressBar>,
) -> impl Stream<Item = IngestRequest> + Send + 'static {
    let state = FileReader {
        file,
        header: Some(header),
        hasher: Sha256::new(),
        size: 0,
        outcome: Some(outcome),
        progress,
    };
    futures::stream::unfold(state, |mut state| async move {
        if let Some(header) = state.header.take() {
            return Some((header, state));
        }
        let outcome = state.outcome.take()?;
        match read_chunk(&mut state.file).await {
            Ok(chunk) if chunk.is_empty() => {
                let sha256: Hash = std::mem::take(&mut state.hasher).finalize().into();
                let _ = outcome.send(Ok(Digest256 {
                    sha256,
                    size: state.size,
                }));
                None
            }
            Ok(chunk) => {
                state.hasher.update(&chunk);
                state.size += chunk.len() as u64;
                if let Some(bar) = &state.progress {
                    bar.inc(chunk.len() as u64);
                }
                state.outcome = Some(outcome);
                Some((
                    IngestRequest {
                        part: Some(Part::Chunk(chunk)),
                    },
                    state,
                ))
            }
            Err(e) => {
                let _ = outcome.send(Err(e));
                futures::future::pending().await
            }
        }
    })
}

/// Reads up to `CHUNK_SIZE` bytes, fewer only at end of file; empty at end.
async fn read_chunk(file: &mut tokio::fs::File) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; CHUNK_SIZE];
    let mut filled = 0;
    while filled < CHUNK_SIZE {
        match file.read(&mut buf[filled..]).await {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn stream_is_header_then_full_chunks() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("doc.bin");
        let content: Vec<u8> = (0..CHUNK_SIZE * 2 + 123).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();

        let file = tokio::fs::File::open(&path).await.unwrap();
        let header = IngestRequest {
            part: Some(Part::Header(IngestHeader::default())),
        };
        let (tx, rx) = oneshot::channel();
        let messages: Vec<IngestRequest> = request_stream(file, header, tx, None).collect().await;

        assert!(matches!(messages[0].part, Some(Part::Header(_))));
        let sizes: Vec<usize> = messages[1..]
            .iter()
            .map(|m| match &m.part {
                Some(Part::Chunk(c)) => c.len(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(sizes, [CHUNK_SIZE, CHUNK_SIZE, 123]);
        let digest = rx.await.unwrap().unwrap();
        assert_eq!(digest.size, content.len() as u64);
        assert_eq!(digest.sha256, <[u8; 32]>::from(Sha256::digest(&content)));
    }

    #[tokio::test]
    async fn empty_file_is_header_only() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("empty");
        std::fs::write(&path, b"").unwrap();
        let file = tokio::fs::File::open(&path).await.unwrap();
        let (tx, rx) = oneshot::channel();
        let messages: Vec<IngestRequest> = request_stream(file, IngestRequest::default(), tx, None)
            .collect()
            .await;
        assert_eq!(messages.len(), 1);
        assert_eq!(rx.await.unwrap().unwrap().size, 0);
    }

    #[tokio::test]
    async fn read_error_never_ends_the_stream_cleanly() {
        // Reading a directory handle fails with EISDIR: a stand-in for a
        // disk error in the middle of a file.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tokio::fs::File::open(tmp.path()).await.unwrap();
        let (tx, rx) = oneshot::channel();
        let mut stream = Box::pin(request_stream(dir, IngestRequest::default(), tx, None));

        assert!(stream.next().await.is_some(), "the header comes first");
        let next = tokio::time::timeout(std::time::Duration::from_millis(200), stream.next()).await;
        assert!(
            next.is_err(),
            "the stream must stay open, not end: {next:?}"
        );
        assert!(rx.await.unwrap().is_err(), "the read error is reported");
    }
}
