//! Disk health from `smartctl --json -a DEVICE` (smartmontools 7), ATA and
//! NVMe, parsed with serde into what an operator needs to know: does the
//! disk say it is failing, and is it wearing out (sectors reallocated or
//! pending, media errors, spare used up).

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One disk's health, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskHealth {
    pub device: String,
    pub model: String,
    pub serial: String,
    /// The disk's own overall assessment; None when it could not be read.
    pub passed: Option<bool>,
    pub temperature_celsius: Option<i64>,
    pub power_on_hours: Option<u64>,
    /// ATA 5.
    pub reallocated_sectors: Option<u64>,
    /// ATA 197.
    pub pending_sectors: Option<u64>,
    /// ATA 198.
    pub offline_uncorrectable: Option<u64>,
    /// NVMe media and data integrity errors.
    pub media_errors: Option<u64>,
    /// NVMe percentage of endurance used.
    pub percentage_used: Option<u64>,
    /// What needs attention, in words; empty when nothing does.
    pub warnings: Vec<String>,
}

impl DiskHealth {
    /// Healthy: the disk passes and nothing needs attention.
    pub fn ok(&self) -> bool {
        self.passed == Some(true) && self.warnings.is_empty()
    }
}

#[derive(Deserialize)]
struct Report {
    #[serde(default)]
    smartctl: Smartctl,
    #[serde(default)]
    device: Device,
    #[serde(default)]
    model_name: String,
    #[serde(default)]
    serial_number: String,
    smart_status: Option<Status>,
    temperature: Option<Temperature>,
    power_on_time: Option<PowerOn>,
    ata_smart_attributes: Option<Attributes>,
    nvme_smart_health_information_log: Option<NvmeLog>,
}

#[derive(Deserialize, Default)]
struct Smartctl {
    #[serde(default)]
    exit_status: u32,
    #[serde(default)]
    messages: Vec<Message>,
}

#[derive(Deserialize)]
struct Message {
    string: String,
    #[serde(default)]
    severity: String,
}

#[derive(Deserialize, Default)]
struct Device {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Status {
    passed: bool,
}

#[derive(Deserialize)]
struct Temperature {
    current: Option<i64>,
}

#[derive(Deserialize)]
struct PowerOn {
    hours: Option<u64>,
}

#[derive(Deserialize)]
struct Attributes {
    #[serde(default)]
    table: Vec<Attribute>,
}

#[derive(Deserialize)]
struct Attribute {
    id: u32,
    #[serde(default)]
    when_failed: String,
    #[serde(default)]
    name: String,
    raw: Raw,
}

#[derive(Deserialize)]
struct Raw {
    value: u64,
}

#[derive(Deserialize)]
struct NvmeLog {
    #[serde(default)]
    critical_warning: u64,
    percentage_used: Option<u64>,
    media_errors: Option<u64>,
    available_spare: Option<u64>,
    available_spare_threshold: Option<u64>,
}

/// Parses `smartctl --json` output.
pub fn parse(json: &[u8]) -> Result<DiskHealth, String> {
    let r: Report = serde_json::from_slice(json)
        .map_err(|e| format!("smartctl's JSON output is not understood: {e}"))?;
    let mut warnings = Vec::new();
    // Exit status bits (smartctl(8)): 0-2 command or device problems,
    // 3 "DISK FAILING", 4 prefail attributes at threshold, 5 attributes
    // at threshold in the past, 6 errors in the error log, 7 self-test
    // errors.
    let exit = r.smartctl.exit_status;
    if exit & 0b111 != 0 {
        let why = r
            .smartctl
            .messages
            .iter()
            .filter(|m| m.severity == "error")
            .map(|m| m.string.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        warnings.push(format!(
            "smartctl could not read the disk (exit status {exit}){}",
            if why.is_empty() {
                String::new()
            } else {
                format!(": {why}")
            }
        ));
    }
    let bits = [
        (3, "the disk reports itself FAILING"),
        (4, "pre-failure attributes are at or below their threshold"),
        (6, "the disk's error log has entries"),
        (7, "a self-test reported errors"),
    ];
    for (bit, what) in bits {
        if exit & (1 << bit) != 0 {
            warnings.push(what.to_owned());
        }
    }
    let attribute = |id: u32| {
        r.ata_smart_attributes
            .as_ref()
            .and_then(|a| a.table.iter().find(|t| t.id == id))
    };
    let raw = |id: u32| attribute(id).map(|a| a.raw.value);
    if let Some(a) = &r.ata_smart_attributes {
        for t in a.table.iter().filter(|t| t.when_failed == "now") {
            warnings.push(format!("attribute {} {} has failed", t.id, t.name));
        }
    }
    let mut count = |value: Option<u64>, what: &str| {
        if let Some(n) = value.filter(|n| *n > 0) {
            warnings.push(format!("{n} {what}"));
        }
    };
    count(raw(5), "reallocated sectors");
    count(raw(197), "sectors pending reallocation");
    count(raw(198), "offline uncorrectable sectors");
    let nvme = r.nvme_smart_health_information_log.as_ref();
    count(nvme.and_then(|n| n.media_errors), "media errors");
    if let Some(n) = nvme {
        if n.critical_warning != 0 {
            warnings.push(format!(
                "NVMe critical warning 0x{:02x}",
                n.critical_warning
            ));
        }
        if let Some(used) = n.percentage_used.filter(|u| *u >= 90) {
            warnings.push(format!("{used}% of its rated endurance is used"));
        }
        if let (Some(spare), Some(threshold)) = (n.available_spare, n.available_spare_threshold) {
            if spare <= threshold {
                warnings.push(format!(
                    "available spare {spare}% at threshold {threshold}%"
                ));
            }
        }
    }
    let passed = r.smart_status.as_ref().map(|s| s.passed);
    if passed == Some(false) && !warnings.iter().any(|w| w.contains("FAILING")) {
        warnings.push("the disk reports itself FAILING".into());
    }
    Ok(DiskHealth {
        device: r.device.name,
        model: r.model_name,
        serial: r.serial_number,
        passed,
        temperature_celsius: r.temperature.and_then(|t| t.current),
        power_on_hours: r.power_on_time.and_then(|p| p.hours),
        reallocated_sectors: raw(5),
        pending_sectors: raw(197),
        offline_uncorrectable: raw(198),
        media_errors: nvme.and_then(|n| n.media_errors),
        percentage_used: nvme.and_then(|n| n.percentage_used),
        warnings,
    })
}

/// Runs `smartctl --json -a DEVICE`.
pub fn read(smartctl: &Path, device: &str) -> Result<DiskHealth, String> {
    let out = super::run_tool(smartctl, &["--json", "-a", device], Duration::from_secs(30))?;
    let mut health = parse(&out)?;
    if health.device.is_empty() {
        health.device = device.to_owned();
    }
    Ok(health)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> DiskHealth {
        parse(crate::health::fixture(name).as_bytes()).unwrap()
    }

    #[test]
    fn a_healthy_ata_disk() {
        let d = fixture("smart-ata-healthy.json");
        assert_eq!(d.device, "/dev/sda");
        assert_eq!(d.model, "WDC WD40EFRX-68N32N0");
        assert_eq!(d.passed, Some(true));
        assert_eq!(d.temperature_celsius, Some(34));
        assert_eq!(d.power_on_hours, Some(21342));
        assert_eq!(d.reallocated_sectors, Some(0));
        assert!(d.ok(), "{:?}", d.warnings);
    }

    #[test]
    fn an_ata_disk_wearing_out_still_passing() {
        let d = fixture("smart-ata-failing.json");
        assert_eq!(d.passed, Some(true));
        assert!(!d.ok());
        let all = d.warnings.join("; ");
        assert!(all.contains("152 reallocated sectors"), "{all}");
        assert!(all.contains("8 sectors pending"), "{all}");
        assert!(all.contains("error log"), "{all}");
        // Exit status 192 = bits 6 and 7; the overall assessment passes.
        assert!(
            !all.contains("FAILING") && all.contains("self-test"),
            "{all}"
        );
        assert_eq!(d.temperature_celsius, Some(39));
    }

    #[test]
    fn nvme_disks() {
        let d = fixture("smart-nvme.json");
        assert!(d.ok(), "{:?}", d.warnings);
        assert_eq!((d.media_errors, d.percentage_used), (Some(0), Some(3)));
        let f = fixture("smart-nvme-failed.json");
        assert_eq!(f.passed, Some(false));
        let all = f.warnings.join("; ");
        assert!(
            all.contains("312 media errors") && all.contains("critical warning 0x04"),
            "{all}"
        );
        assert!(all.contains("100% of its rated endurance"), "{all}");
    }

    #[test]
    fn a_device_that_cannot_be_opened() {
        let d = fixture("smart-open-failed.json");
        assert_eq!(d.passed, None);
        assert!(d.warnings[0].contains("No such device"), "{:?}", d.warnings);
        assert!(parse(b"not json").unwrap_err().contains("not understood"));
    }
}
