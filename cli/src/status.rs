//! `minutier status`: the appliance at a glance — archive volume and
//! whether new archives are accepted, disks, RAID, clock, the log, and
//! where replication and time-stamping stand. Exit 1 when something needs
//! attention.

use std::process::ExitCode;

use minutier_proto::v1::{GetHealthRequest, HealthResponse, ReplicationStatusRequest};
use serde::Serialize;

use crate::client::{self, connect, connect_admin, connect_replication, Target};
use crate::error::rpc;
use crate::output::{human_bytes, print_json, table};

#[derive(Serialize)]
struct StatusJson {
    log_size: u64,
    ingest_allowed: bool,
    ingest_refusal: Option<String>,
    volume: Option<VolumeJson>,
    disks: Vec<serde_json::Value>,
    raid: Option<Vec<serde_json::Value>>,
    clock: serde_json::Value,
    replication: Option<serde_json::Value>,
    timestamping: Option<serde_json::Value>,
    problems: Vec<String>,
}

#[derive(Serialize)]
struct VolumeJson {
    data_dir: String,
    total_bytes: u64,
    free_bytes: u64,
    total_inodes: u64,
    free_inodes: u64,
    min_free_bytes: u64,
    min_free_percent: u32,
}

pub async fn run(target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let mut archive = connect(target).await?;
    let log_size = client::latest_checkpoint(&mut archive).await?.size;
    let h: HealthResponse = rpc(connect_admin(target)
        .await?
        .get_health(GetHealthRequest {})
        .await)?;
    let mut replication = connect_replication(target).await?;
    let r = rpc(replication
        .get_replication_status(ReplicationStatusRequest::default())
        .await)?;
    let (_, ts) = crate::timestamps::fetch_all(&mut replication).await?;

    let mut problems = h.problems.clone();
    if r.enabled && !r.last_error.is_empty() {
        problems.push(format!("replication: {}", r.last_error));
    }
    if let Some(t) = ts
        .as_ref()
        .filter(|t| t.enabled && !t.last_error.is_empty())
    {
        problems.push(format!("time-stamping: {}", t.last_error));
    }
    let clock = h.clock.clone().unwrap_or_default();
    let out = StatusJson {
        log_size,
        ingest_allowed: h.ingest_allowed,
        ingest_refusal: (!h.ingest_refusal.is_empty()).then(|| h.ingest_refusal.clone()),
        volume: h.space.as_ref().map(|s| VolumeJson {
            data_dir: h.data_dir.clone(),
            total_bytes: s.total_bytes,
            free_bytes: s.free_bytes,
            total_inodes: s.total_inodes,
            free_inodes: s.free_inodes,
            min_free_bytes: h.min_free_bytes,
            min_free_percent: h.min_free_percent,
        }),
        disks: h
            .disks
            .iter()
            .map(|d| {
                serde_json::json!({
                    "device": d.device, "model": d.model, "serial": d.serial,
                    "passed": d.passed, "temperature_celsius": d.temperature_celsius,
                    "power_on_hours": d.power_on_hours,
                    "reallocated_sectors": d.reallocated_sectors,
                    "pending_sectors": d.pending_sectors, "media_errors": d.media_errors,
                    "warnings": d.warnings, "error": d.error,
                })
            })
            .collect(),
        raid: h.raid_present.then(|| {
            h.raid
                .iter()
                .map(|a| {
                    serde_json::json!({
                        "name": a.name, "state": a.state, "level": a.level,
                        "devices": a.devices, "expected": a.expected, "present": a.present,
                        "sync": a.sync, "degraded": a.degraded,
                    })
                })
                .collect()
        }),
        clock: serde_json::json!({
            "chrony_present": clock.chrony_present, "chrony_error": clock.chrony_error,
            "synchronised": clock.synchronised, "reference": clock.reference,
            "stratum": clock.stratum, "offset_seconds": clock.offset_seconds,
            "leap_status": clock.leap_status, "last_signed_at": clock.last_signed_at,
            "backwards_refusals": clock.backwards_refusals, "backwards": clock.backwards,
        }),
        replication: r.enabled.then(|| {
            serde_json::json!({
                "endpoint": r.endpoint, "bucket": r.bucket, "queued": r.queued,
                "lag_records": r.lag_records, "last_success_at": r.last_success_at,
                "last_error": r.last_error,
            })
        }),
        timestamping: ts.as_ref().filter(|t| t.enabled).map(|t| {
            serde_json::json!({
                "tsa_url": t.tsa_url, "last_success_at": t.last_success_at,
                "last_timestamped_size": t.last_timestamped_size,
                "last_error": t.last_error, "next_attempt_at": t.next_attempt_at,
            })
        }),
        problems,
    };
    if json {
        print_json(&out);
    } else {
        print!("{}", text(&out, &h));
    }
    Ok(if out.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn text(s: &StatusJson, h: &HealthResponse) -> String {
    let mut rows: Vec<[String; 2]> = Vec::new();
    let mut row = |k: &str, v: String| rows.push([k.to_owned(), v]);
    row("log", format!("{} records", s.log_size));
    row(
        "new archives",
        match &s.ingest_refusal {
            None => "accepted".into(),
            Some(why) => format!("REFUSED: {why}"),
        },
    );
    match &s.volume {
        Some(v) => row(
            "archive volume",
            format!(
                "{} free of {} ({} free inodes of {}); at least {} kept free — {}",
                human_bytes(v.free_bytes),
                human_bytes(v.total_bytes),
                v.free_inodes,
                v.total_inodes,
                human_bytes(
                    v.min_free_bytes
                        .max(v.total_bytes / 100 * v.min_free_percent as u64)
                ),
                v.data_dir
            ),
        ),
        None => row("archive volume", format!("unreadable: {}", h.space_error)),
    }
    if h.disks.is_empty() {
        row(
            "disks",
            "not watched (health.smart_devices is empty)".into(),
        );
    }
    for d in &h.disks {
        let state = if !d.error.is_empty() {
            format!("UNKNOWN: {}", d.error)
        } else if d.passed == Some(true) && d.warnings.is_empty() {
            "healthy".into()
        } else {
            format!("ATTENTION: {}", d.warnings.join("; "))
        };
        row(
            &format!("disk {}", d.device),
            format!(
                "{state}{}{}",
                d.temperature_celsius
                    .map(|t| format!(", {t} °C"))
                    .unwrap_or_default(),
                if d.model.is_empty() {
                    String::new()
                } else {
                    format!(" ({} {})", d.model, d.serial)
                }
            ),
        );
    }
    if !h.raid_present {
        row("RAID", "no software RAID".into());
    }
    for a in &h.raid {
        row(
            &format!("RAID {}", a.name),
            format!(
                "{} {} [{}/{}] {}{}",
                a.level,
                if a.degraded { "DEGRADED" } else { "clean" },
                a.expected,
                a.present,
                a.devices.join(" "),
                if a.sync.is_empty() {
                    String::new()
                } else {
                    format!(", {}", a.sync)
                }
            ),
        );
    }
    let c = h.clock.clone().unwrap_or_default();
    row(
        "clock",
        if !c.backwards.is_empty() {
            format!("BEHIND THE LOG: {}", c.backwards)
        } else if !c.chrony_present {
            format!(
                "chrony not installed; last signed record at {}",
                c.last_signed_at
            )
        } else if !c.chrony_error.is_empty() {
            format!("chrony: {}", c.chrony_error)
        } else {
            format!(
                "{} (stratum {}, offset {:+.6} s, {}); last signed record at {}",
                if c.synchronised {
                    "synchronised"
                } else {
                    "NOT synchronised"
                },
                c.stratum,
                c.offset_seconds,
                c.reference,
                c.last_signed_at
            )
        },
    );
    row(
        "replication",
        match &s.replication {
            None => "off".into(),
            Some(r) => format!(
                "{} queued, {} records behind; last success {}{}",
                r["queued"],
                r["lag_records"],
                r["last_success_at"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .unwrap_or("never"),
                r["last_error"]
                    .as_str()
                    .filter(|e| !e.is_empty())
                    .map(|e| format!("; ERROR: {e}"))
                    .unwrap_or_default()
            ),
        },
    );
    row(
        "time-stamping",
        match &s.timestamping {
            None => "off".into(),
            Some(t) => format!(
                "{}: last success {} (log size {}){}",
                t["tsa_url"].as_str().unwrap_or_default(),
                t["last_success_at"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .unwrap_or("never"),
                t["last_timestamped_size"],
                t["last_error"]
                    .as_str()
                    .filter(|e| !e.is_empty())
                    .map(|e| format!("; ERROR: {e}"))
                    .unwrap_or_default()
            ),
        },
    );
    let mut out = table(None, &rows, &[], "");
    if s.problems.is_empty() {
        out.push_str("\nall is well\n");
    } else {
        out.push_str(&format!("\n{} problem(s):\n", s.problems.len()));
        for p in &s.problems {
            out.push_str(&format!("  - {p}\n"));
        }
    }
    out
}
