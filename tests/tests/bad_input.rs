//! Hostile and malformed requests get a precise gRPC status, store
//! nothing, leave no temporary file, and the daemon keeps serving.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{channel_as, files_under, noise, Daemon};
use minutier_proto::v1 as pb;
use minutier_proto::v1::archive_client::ArchiveClient;
use minutier_proto::v1::ingest_request::Part;
use sha2::{Digest, Sha256};
use tonic::transport::Channel;
use tonic::Code;

fn header(title: &str, declared: &str) -> pb::IngestRequest {
    pb::IngestRequest {
        part: Some(Part::Header(pb::IngestHeader {
            metadata: Some(pb::DocumentMetadata {
                title: title.into(),
                ..Default::default()
            }),
            declared_sha256: declared.into(),
            size: 0,
        })),
    }
}

fn chunk(bytes: &[u8]) -> pb::IngestRequest {
    pb::IngestRequest {
        part: Some(Part::Chunk(bytes.to_vec())),
    }
}

async fn ingest(
    client: &mut ArchiveClient<Channel>,
    messages: Vec<pb::IngestRequest>,
) -> Result<pb::IngestResponse, tonic::Status> {
    client
        .ingest(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}

async fn tree_size(client: &mut ArchiveClient<Channel>) -> u64 {
    client
        .get_checkpoint(pb::GetCheckpointRequest { size: 0 })
        .await
        .unwrap()
        .into_inner()
        .size
}

/// Blob files and temporary files under the data directory.
fn stored_files(data: &Path) -> Vec<std::path::PathBuf> {
    files_under(&data.join("blobs"))
}

fn expect(result: Result<pb::IngestResponse, tonic::Status>, code: Code, needle: &str) {
    match result {
        Ok(r) => panic!("expected {code:?}, the ingest succeeded: {r:?}"),
        Err(s) => {
            assert_eq!(s.code(), code, "{}", s.message());
            assert!(
                s.message().contains(needle),
                "message {:?} should mention {needle:?}",
                s.message()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ingests_are_refused_precisely_and_store_nothing() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let config = work.path().join("minutierd.toml");
    std::fs::write(&config, "max_document_size = 1048576\n").unwrap();
    let daemon = Daemon::start_with(&data, Some(&config));
    let mut client = ArchiveClient::new(channel_as(&daemon, &daemon.archivist).await);
    let before = tree_size(&mut client).await;
    let big = noise(3, 300_000);
    let big_sha = hex::encode(Sha256::digest(&big));
    let small_sha = hex::encode(Sha256::digest(b"hello"));

    expect(
        ingest(&mut client, vec![]).await,
        Code::InvalidArgument,
        "header",
    );
    expect(
        ingest(&mut client, vec![chunk(b"hello"), header("t", "")]).await,
        Code::InvalidArgument,
        "before the header",
    );
    expect(
        ingest(
            &mut client,
            vec![pb::IngestRequest {
                part: Some(Part::Header(pb::IngestHeader::default())),
            }],
        )
        .await,
        Code::InvalidArgument,
        "metadata",
    );
    expect(
        ingest(&mut client, vec![header("  ", ""), chunk(b"x")]).await,
        Code::InvalidArgument,
        "title",
    );
    expect(
        ingest(
            &mut client,
            vec![header("t", "not-a-digest"), chunk(b"hello")],
        )
        .await,
        Code::InvalidArgument,
        "declared_sha256",
    );
    expect(
        ingest(
            &mut client,
            vec![header("t", ""), chunk(b"a"), header("t", ""), chunk(b"b")],
        )
        .await,
        Code::InvalidArgument,
        "second header",
    );
    let mut bad_date = header("t", "");
    if let Some(Part::Header(h)) = &mut bad_date.part {
        h.metadata.as_mut().unwrap().start_date = "2024-02-30".into();
    }
    expect(
        ingest(&mut client, vec![bad_date, chunk(b"x")]).await,
        Code::InvalidArgument,
        "start_date",
    );
    // Declared digest does not match: small (in memory) and large (blob file).
    expect(
        ingest(&mut client, vec![header("t", &big_sha), chunk(b"hello")]).await,
        Code::DataLoss,
        "declared",
    );
    expect(
        ingest(
            &mut client,
            vec![
                header("t", &small_sha),
                chunk(&big[..150_000]),
                chunk(&big[150_000..]),
            ],
        )
        .await,
        Code::DataLoss,
        "declared",
    );
    // Over the configured limit, in chunks.
    let chunks: Vec<_> = std::iter::once(header("too big", ""))
        .chain((0..6).map(|_| chunk(&big)))
        .collect();
    expect(
        ingest(&mut client, chunks).await,
        Code::ResourceExhausted,
        "size limit",
    );

    // Reads of what does not exist.
    let status = client
        .get_metadata(pb::GetMetadataRequest {
            archive_id: "01jdxxxxxxxxxxxxxxxxxxxxxx".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .get_seal(pb::GetSealRequest {
            archive_id: "../../etc/passwd".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut stream = client
        .get(pb::GetRequest {
            archive_id: "nothing-here".into(),
        })
        .await;
    if let Ok(s) = &mut stream {
        let first = s.get_mut().message().await;
        assert_eq!(first.unwrap_err().code(), Code::NotFound);
    } else {
        assert_eq!(stream.unwrap_err().code(), Code::NotFound);
    }
    let status = client
        .get_consistency_proof(pb::GetConsistencyProofRequest {
            old_size: 0,
            new_size: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = client
        .get_checkpoint(pb::GetCheckpointRequest { size: 999 })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .get_records(pb::GetRecordsRequest {
            start: 0,
            end: 5000,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = client
        .list(pb::ListRequest {
            page_size: 5000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    // An upload abandoned half-way leaves nothing either.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(header("abandoned", "")).await.unwrap();
    tx.send(chunk(&big)).await.unwrap();
    let mut abandoning = client.clone();
    let call = tokio::spawn(async move {
        abandoning
            .ingest(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    call.abort();
    drop(tx);

    let deadline = Instant::now() + Duration::from_secs(10);
    while !stored_files(&data).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stored_files(&data),
        Vec::<std::path::PathBuf>::new(),
        "refused ingests left files behind"
    );
    assert_eq!(
        tree_size(&mut client).await,
        before,
        "refused ingests added records"
    );

    // And the daemon still serves.
    let ok = ingest(&mut client, vec![header("fine", &big_sha), chunk(&big)])
        .await
        .unwrap();
    assert_eq!(ok.content_sha256, big_sha);
    assert_eq!(tree_size(&mut client).await, before + 1);
    assert_eq!(stored_files(&data).len(), 1);
    daemon.stop();
}
