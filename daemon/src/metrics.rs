//! Prometheus metrics (text exposition format 0.0.4) on their own port,
//! plain HTTP (`GET /metrics`), meant for loopback or a management network:
//! they carry counts and states, never a document or a name.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::archive::ArchiveService;
use crate::health::Snapshot;

/// Longest request head read.
const MAX_REQUEST: usize = 8 << 10;

/// Serves until the task is dropped.
pub async fn serve(listener: TcpListener, service: Arc<ArchiveService>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let service = service.clone();
        tokio::spawn(async move {
            let mut head = Vec::with_capacity(512);
            let mut buf = [0u8; 1024];
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
            })
            .await;
            let line = String::from_utf8_lossy(&head);
            let line = line.lines().next().unwrap_or_default();
            let (status, body, kind) = if read.is_err() {
                return;
            } else if line.starts_with("GET /metrics ") || line == "GET /metrics" {
                let body = tokio::task::spawn_blocking(move || render(&service))
                    .await
                    .unwrap_or_default();
                ("200 OK", body, "text/plain; version=0.0.4; charset=utf-8")
            } else {
                (
                    "404 Not Found",
                    "only GET /metrics is served here\n".to_owned(),
                    "text/plain; charset=utf-8",
                )
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

/// Appends one metric with its help and type.
fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

fn label(name: &str, value: &str) -> String {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("{{{name}=\"{escaped}\"}}")
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// The metrics, now.
pub fn render(service: &ArchiveService) -> String {
    let mut out = String::new();
    let one = |v: f64| vec![(String::new(), v)];
    metric(
        &mut out,
        "minutier_build_info",
        "gauge",
        "Version of minutierd.",
        &[(label("version", env!("CARGO_PKG_VERSION")), 1.0)],
    );
    if let Ok(c) = service.latest_checkpoint() {
        metric(
            &mut out,
            "minutier_log_size",
            "gauge",
            "Records in the log (size of the latest signed checkpoint).",
            &one(c.size as f64),
        );
    }
    if let Some(health) = service.health() {
        health_metrics(&mut out, &health.snapshot());
    }
    if let Ok(r) = service.replication_status(None) {
        metric(
            &mut out,
            "minutier_replication_queued",
            "gauge",
            "Items waiting in the replication queue.",
            &one(r.queued as f64),
        );
        metric(
            &mut out,
            "minutier_replication_lag_records",
            "gauge",
            "Log records not yet replicated.",
            &one(r.log_size.saturating_sub(r.replicated_log_size) as f64),
        );
        metric(
            &mut out,
            "minutier_replication_error",
            "gauge",
            "1 while the latest replication attempt failed.",
            &one(flag(r.last_error.is_some())),
        );
    }
    if let Some(t) = service.timestamping() {
        let s = t.status();
        if let Some(at) = s.last_success_at {
            metric(
                &mut out,
                "minutier_timestamp_last_success_seconds",
                "gauge",
                "Unix time of the latest RFC 3161 time-stamp recorded.",
                &one(at as f64 / 1000.0),
            );
        }
        metric(
            &mut out,
            "minutier_timestamp_consecutive_failures",
            "gauge",
            "Failed time-stamp attempts since the last success.",
            &one(s.consecutive_failures as f64),
        );
    }
    out
}

fn health_metrics(out: &mut String, h: &Snapshot) {
    let one = |v: f64| vec![(String::new(), v)];
    if let Ok(space) = &h.space {
        metric(
            out,
            "minutier_volume_free_bytes",
            "gauge",
            "Free bytes on the archive volume.",
            &one(space.free_bytes as f64),
        );
        metric(
            out,
            "minutier_volume_size_bytes",
            "gauge",
            "Size of the archive volume.",
            &one(space.total_bytes as f64),
        );
        metric(
            out,
            "minutier_volume_free_inodes",
            "gauge",
            "Free inodes on the archive volume.",
            &one(space.free_inodes as f64),
        );
    }
    metric(
        out,
        "minutier_ingest_allowed",
        "gauge",
        "1 when new archives are accepted, 0 below the space watermarks.",
        &one(flag(h.space.is_ok() && h.ingest_refusal.is_none())),
    );
    metric(
        out,
        "minutier_ingest_refused_total",
        "counter",
        "Ingests refused for lack of space since start.",
        &one(h.ingest_refusals as f64),
    );
    let disks: Vec<_> = h.disks.iter().filter_map(|d| d.as_ref().ok()).collect();
    metric(
        out,
        "minutier_disk_healthy",
        "gauge",
        "1 when the disk passes SMART and nothing needs attention.",
        &disks
            .iter()
            .map(|d| (label("device", &d.device), flag(d.ok())))
            .collect::<Vec<_>>(),
    );
    metric(
        out,
        "minutier_disk_temperature_celsius",
        "gauge",
        "Disk temperature.",
        &disks
            .iter()
            .filter_map(|d| Some((label("device", &d.device), d.temperature_celsius? as f64)))
            .collect::<Vec<_>>(),
    );
    metric(
        out,
        "minutier_disk_reallocated_sectors",
        "gauge",
        "Reallocated sectors (SMART attribute 5).",
        &disks
            .iter()
            .filter_map(|d| Some((label("device", &d.device), d.reallocated_sectors? as f64)))
            .collect::<Vec<_>>(),
    );
    if let Some(raid) = &h.raid {
        metric(
            out,
            "minutier_raid_degraded",
            "gauge",
            "1 when the md array is degraded.",
            &raid
                .iter()
                .map(|a| (label("array", &a.name), flag(a.degraded())))
                .collect::<Vec<_>>(),
        );
    }
    if let Some(Ok(t)) = &h.clock.chrony {
        metric(
            out,
            "minutier_clock_synchronised",
            "gauge",
            "1 when chrony says the clock is synchronised.",
            &one(flag(t.synchronised())),
        );
        metric(
            out,
            "minutier_clock_offset_seconds",
            "gauge",
            "System time minus true time, by chrony.",
            &one(t.offset_seconds),
        );
    }
    metric(
        out,
        "minutier_clock_backwards_refusals_total",
        "counter",
        "Batches refused because the clock read before the last signed time.",
        &one(h.clock.backwards_refusals as f64),
    );
    metric(
        out,
        "minutier_last_signed_seconds",
        "gauge",
        "Unix time of the newest signed record.",
        &one(h.clock.last_signed_ms as f64 / 1000.0),
    );
}
