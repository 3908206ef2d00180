//! Scale: a log of many records built through the real daemon (tiny
//! documents, many in flight over several mutual-TLS connections), with
//! the append rate measured per 10,000-record window, the index's bytes per
//! record, the daemon's resident memory, and its start-up time on that log
//! after a clean stop and after a SIGKILL. The default suite builds 20,000
//! records; `scripts/torture scale` the long version (MINUTIER_SCALE_RECORDS,
//! default 1,000,000). Figures: docs/performance.md, "Scale".

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{channel_as, files_under, Daemon};
use minutier_proto::v1 as pb;
use minutier_proto::v1::archive_client::ArchiveClient;
use minutier_proto::v1::ingest_request::Part;

const WINDOW: u64 = 10_000;
const CONNECTIONS: usize = 4;
const IN_FLIGHT: usize = 128;

/// The index directory's size, and the part of it in tables (`*.sst`).
fn index_bytes(data: &Path) -> (u64, u64) {
    let files = files_under(&data.join("index"));
    let size = |p: &std::path::PathBuf| p.metadata().map_or(0, |m| m.len());
    let tables = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "sst"))
        .map(size)
        .sum();
    (files.iter().map(size).sum(), tables)
}

fn content(i: u64) -> Vec<u8> {
    format!("acte {i:08}\n").into_bytes()
}

/// Ingests `count` tiny documents; returns the time at which each multiple
/// of WINDOW acknowledged documents was reached.
fn fill(daemon: &Daemon, count: u64) -> Vec<Duration> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..CONNECTIONS {
            clients.push(ArchiveClient::new(
                channel_as(daemon, &daemon.archivist).await,
            ));
        }
        let next = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicU64::new(0));
        let marks = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..IN_FLIGHT {
            let mut client = clients[t % CONNECTIONS].clone();
            let (next, done, marks) = (next.clone(), done.clone(), marks.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return;
                    }
                    let body = content(i);
                    let messages = vec![
                        pb::IngestRequest {
                            part: Some(Part::Header(pb::IngestHeader {
                                metadata: Some(pb::DocumentMetadata {
                                    title: format!("acte {i}"),
                                    ..Default::default()
                                }),
                                declared_sha256: String::new(),
                                size: body.len() as u64,
                            })),
                        },
                        pb::IngestRequest {
                            part: Some(Part::Chunk(body)),
                        },
                    ];
                    client
                        .ingest(tokio_stream::iter(messages))
                        .await
                        .unwrap_or_else(|s| panic!("ingest {i} failed: {s}"));
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if n % WINDOW == 0 {
                        marks.lock().unwrap().push((n, started.elapsed()));
                        if n % (10 * WINDOW) == 0 {
                            eprintln!(
                                "scale: {n} documents in {:.1} s",
                                started.elapsed().as_secs_f64()
                            );
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut marks = marks.lock().unwrap().clone();
        marks.sort();
        marks.into_iter().map(|(_, t)| t).collect()
    })
}

fn tree_size(daemon: &Daemon) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        ArchiveClient::new(channel_as(daemon, &daemon.archivist).await)
            .get_checkpoint(pb::GetCheckpointRequest { size: 0 })
            .await
            .unwrap()
            .into_inner()
            .size
    })
}

fn scale(documents: u64) {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let daemon = Daemon::start(&data);
    let started = Instant::now();
    let marks = fill(&daemon, documents);
    let elapsed = started.elapsed().as_secs_f64();
    let records = tree_size(&daemon);
    let (rss, hwm) = (daemon.status_kib("VmRSS"), daemon.status_kib("VmHWM"));
    // Right after the ingest most of the index is still in RocksDB's
    // write-ahead log (uncompressed); the next start flushes it to tables.
    let (index_wal, _) = index_bytes(&data);
    let content_bytes: u64 = (0..documents).map(|i| content(i).len() as u64).sum();

    // Start-up on the full log after a SIGKILL (the write-ahead log of the
    // ingest replayed)...
    daemon.kill();
    let t = Instant::now();
    let daemon = Daemon::start(&data);
    let crash_startup = t.elapsed().as_secs_f64();
    assert_eq!(tree_size(&daemon), records);
    let rss_started = daemon.status_kib("VmRSS");
    // ...and after a clean stop.
    daemon.stop();
    let t = Instant::now();
    let daemon = Daemon::start(&data);
    let startup = t.elapsed().as_secs_f64();
    assert_eq!(tree_size(&daemon), records);
    daemon.stop();
    let (index, tables) = index_bytes(&data);

    // Append rate per window, from the second window on (the first one
    // includes connection set-up).
    let rates: Vec<f64> = marks
        .windows(2)
        .map(|w| WINDOW as f64 / (w[1] - w[0]).as_secs_f64())
        .collect();
    let tenth = rates.len().div_ceil(10).max(1);
    let mean = |r: &[f64]| r.iter().sum::<f64>() / r.len() as f64;
    let (early, late) = (mean(&rates[..tenth]), mean(&rates[rates.len() - tenth..]));
    let mut sorted = rates.clone();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    eprintln!(
        "scale: {documents} documents, {records} records in {elapsed:.1} s ({:.0} records/s)",
        documents as f64 / elapsed
    );
    eprintln!(
        "scale: append rate per {WINDOW}-record window from {WINDOW} to {}: \
         first tenth {early:.0}/s, last tenth {late:.0}/s (ratio {:.2}), \
         min {:.0}/s, median {:.0}/s, max {:.0}/s",
        marks.len() as u64 * WINDOW,
        late / early,
        sorted[0],
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1]
    );
    let deciles: Vec<String> = rates
        .chunks(tenth)
        .map(|c| format!("{:.0}", mean(c)))
        .collect();
    eprintln!(
        "scale: rate by tenth of the run (records/s): {}",
        deciles.join(" ")
    );
    eprintln!(
        "scale: index {index} bytes ({tables} in tables), {:.0} bytes per record \
         ({:.0} without the {content_bytes} bytes of content kept inline); \
         {:.0} bytes per record right after the ingest, write-ahead log included",
        index as f64 / records as f64,
        (index - content_bytes) as f64 / records as f64,
        index_wal as f64 / records as f64
    );
    eprintln!(
        "scale: minutierd resident memory after ingest {} MiB (peak {} MiB), \
         after start-up {} MiB",
        rss / 1024,
        hwm / 1024,
        rss_started / 1024
    );
    eprintln!(
        "scale: start-up with {records} records: {startup:.3} s after a clean stop, \
         {crash_startup:.3} s after SIGKILL"
    );
    if let Ok(report) = std::env::var("MINUTIER_SCALE_REPORT") {
        // For scripts/plots (scale-append-rate.png).
        let figures = serde_json::json!({
            "documents": documents,
            "records": records,
            "seconds": elapsed,
            "window": WINDOW,
            "rates": rates,
            "index_bytes_per_record": index as f64 / records as f64,
            "rss_after_ingest_kib": rss,
            "peak_rss_kib": hwm,
            "startup_s": startup,
            "crash_startup_s": crash_startup,
        });
        std::fs::write(&report, serde_json::to_vec_pretty(&figures).unwrap()).unwrap();
        eprintln!("scale: figures written to {report}");
    }
    assert!(
        startup < 2.0 && crash_startup < 2.0,
        "start-up took over 2 s"
    );
}

/// The short version, in the default suite.
#[test]
fn twenty_thousand_records_start_fast_and_cost_little_index() {
    scale(20_000);
}

/// The long version: `scripts/torture scale [RECORDS]`.
#[test]
#[ignore = "long: run with scripts/torture scale"]
fn scale_torture() {
    let records = std::env::var("MINUTIER_SCALE_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    scale(records);
}
