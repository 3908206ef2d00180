//! The appliance's health, sampled: space on the archive volume (with the
//! watermarks that refuse new archives before the disk is full), disks
//! (SMART), software RAID, and the clock (chrony, and the sequencer's guard
//! against signing back in time). Read by the health service, the metrics
//! endpoint and `minutier status`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use minutier_hw::health::chrony::{self, Tracking};
use minutier_hw::health::mdstat::{self, Array};
use minutier_hw::health::smart::{self, DiskHealth};
use minutier_hw::health::space::{Space, Watermarks};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sequencer::ClockWatch;

/// `[health]` in minutierd.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Free bytes that must remain on the archive volume.
    pub min_free_bytes: u64,
    /// Free space that must remain, in percent of the volume.
    pub min_free_percent: u8,
    /// Free inodes that must remain, in percent.
    pub min_free_inodes_percent: u8,
    /// Disks to watch with `smartctl --json -a` (e.g. ["/dev/sda"]).
    pub smart_devices: Vec<String>,
    pub smartctl: PathBuf,
    /// Software RAID state; absent on machines without md.
    pub mdstat: PathBuf,
    pub chronyc: PathBuf,
    /// How often disks, RAID and clock are sampled (space is checked live
    /// on every ingest).
    pub interval_seconds: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        let w = Watermarks::default();
        HealthConfig {
            min_free_bytes: w.min_free_bytes,
            min_free_percent: w.min_free_percent,
            min_free_inodes_percent: w.min_free_inodes_percent,
            smart_devices: Vec::new(),
            smartctl: "/usr/sbin/smartctl".into(),
            mdstat: "/proc/mdstat".into(),
            chronyc: "/usr/bin/chronyc".into(),
            interval_seconds: 300,
        }
    }
}

impl HealthConfig {
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.min_free_percent > 50 || self.min_free_inodes_percent > 50 {
            return Err("health: the free space and inode percentages must be at most 50".into());
        }
        if self.interval_seconds == 0 {
            return Err("health: interval_seconds must be at least 1".into());
        }
        Ok(())
    }

    fn watermarks(&self) -> Watermarks {
        Watermarks {
            min_free_bytes: self.min_free_bytes,
            min_free_percent: self.min_free_percent,
            min_free_inodes_percent: self.min_free_inodes_percent,
        }
    }
}

/// The clock, as far as the appliance can tell.
#[derive(Debug, Clone, Serialize)]
pub struct ClockState {
    /// chrony's view; None when chronyc is not installed.
    pub chrony: Option<std::result::Result<Tracking, String>>,
    /// Time of the newest signed record (ms since the epoch).
    pub last_signed_ms: u64,
    /// Batches refused because the clock read before the last signed time.
    pub backwards_refusals: u64,
    pub last_backwards: Option<String>,
}

/// One sample of everything.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub sampled_at_ms: u64,
    pub data_dir: PathBuf,
    pub space: std::result::Result<Space, String>,
    pub watermarks: Watermarks,
    /// Why new archives are refused now, if they are.
    pub ingest_refusal: Option<String>,
    pub ingest_refusals: u64,
    pub disks: Vec<std::result::Result<DiskHealth, String>>,
    /// None when the machine has no software RAID.
    pub raid: Option<Vec<Array>>,
    pub clock: ClockState,
}

impl Snapshot {
    /// Everything that needs an operator's attention, in words.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.space {
            Err(e) => out.push(format!("archive volume: {e}")),
            Ok(_) => out.extend(self.ingest_refusal.clone()),
        }
        for d in &self.disks {
            match d {
                Err(e) => out.push(format!("disk: {e}")),
                Ok(d) if !d.ok() => {
                    out.push(format!("disk {}: {}", d.device, d.warnings.join("; ")))
                }
                Ok(_) => {}
            }
        }
        for a in self.raid.iter().flatten().filter(|a| a.degraded()) {
            out.push(format!(
                "RAID {} ({}) is degraded: {}{}",
                a.name,
                a.level,
                a.devices.join(" "),
                a.sync
                    .as_ref()
                    .map(|s| format!(", {s}"))
                    .unwrap_or_default()
            ));
        }
        match &self.clock.chrony {
            Some(Ok(t)) if !t.synchronised() => {
                out.push("the clock is not synchronised (chrony)".into())
            }
            Some(Err(e)) => out.push(format!("clock: {e}")),
            _ => {}
        }
        out.extend(self.clock.last_backwards.clone());
        out
    }
}

/// Samples and answers; shared by the services.
pub struct Health {
    config: HealthConfig,
    data_dir: PathBuf,
    clock: Arc<ClockWatch>,
    refusals: AtomicU64,
    sampled: RwLock<Option<Sampled>>,
}

/// What is sampled on schedule (the slow tools).
#[derive(Clone)]
struct Sampled {
    disks: Vec<std::result::Result<DiskHealth, String>>,
    raid: Option<Vec<Array>>,
    chrony: Option<std::result::Result<Tracking, String>>,
}

impl Health {
    pub fn new(config: HealthConfig, data_dir: &Path, clock: Arc<ClockWatch>) -> Health {
        Health {
            config,
            data_dir: data_dir.to_owned(),
            clock,
            refusals: AtomicU64::new(0),
            sampled: RwLock::new(None),
        }
    }

    /// Refuses new content when `incoming` more bytes would leave the
    /// archive volume below its watermarks. Checked live (one statvfs), so
    /// ingests resume as soon as space returns.
    pub fn admit(&self, incoming: u64) -> Result<()> {
        let space = Space::of(&self.data_dir).map_err(|e| {
            Error::Storage(format!("cannot read the archive volume's free space: {e}"))
        })?;
        match self.config.watermarks().refusal(&space, incoming) {
            None => Ok(()),
            Some(why) => {
                self.refusals.fetch_add(1, Ordering::Relaxed);
                Err(Error::ResourceExhausted(why))
            }
        }
    }

    /// Runs the slow probes (smartctl, mdstat, chronyc); blocking.
    fn probe(&self) -> Sampled {
        let c = &self.config;
        let disks = c
            .smart_devices
            .iter()
            .map(|d| smart::read(&c.smartctl, d))
            .collect();
        let raid = std::fs::read_to_string(&c.mdstat)
            .ok()
            .map(|text| mdstat::parse(&text));
        let chrony = c.chronyc.is_file().then(|| chrony::read(&c.chronyc));
        Sampled {
            disks,
            raid,
            chrony,
        }
    }

    /// Samples now (blocking).
    pub fn refresh(&self) {
        let sampled = self.probe();
        for problem in Snapshot::problems(&self.assemble(Some(&sampled))) {
            tracing::warn!("health: {problem}");
        }
        *self.sampled.write().unwrap() = Some(sampled);
    }

    /// The current state: space read now, the rest from the last sample.
    pub fn snapshot(&self) -> Snapshot {
        let sampled = self.sampled.read().unwrap().clone();
        self.assemble(sampled.as_ref())
    }

    fn assemble(&self, sampled: Option<&Sampled>) -> Snapshot {
        let space = Space::of(&self.data_dir).map_err(|e| e.to_string());
        let watermarks = self.config.watermarks();
        let ingest_refusal = space.as_ref().ok().and_then(|s| watermarks.refusal(s, 0));
        Snapshot {
            sampled_at_ms: now_millis(),
            data_dir: self.data_dir.clone(),
            space,
            watermarks,
            ingest_refusal,
            ingest_refusals: self.refusals.load(Ordering::Relaxed),
            disks: sampled.map(|s| s.disks.clone()).unwrap_or_default(),
            raid: sampled.and_then(|s| s.raid.clone()),
            clock: ClockState {
                chrony: sampled.and_then(|s| s.chrony.clone()),
                last_signed_ms: self.clock.last_signed_ms(),
                backwards_refusals: self.clock.refusals(),
                last_backwards: self.clock.last_refusal(),
            },
        }
    }

    /// Samples at start, then every interval, until the daemon stops.
    pub fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let health = self.clone();
        tokio::spawn(async move {
            let interval = Duration::from_secs(health.config.interval_seconds);
            loop {
                let h = health.clone();
                let _ = tokio::task::spawn_blocking(move || h.refresh()).await;
                tokio::time::sleep(interval).await;
            }
        })
    }
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
