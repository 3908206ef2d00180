//! Free space and inodes of the archive volume, and the watermarks below
//! which new archives are refused (reads and proofs keep being served).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// What `statvfs` says of a file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Space {
    pub total_bytes: u64,
    /// Available to unprivileged writers (`f_bavail`).
    pub free_bytes: u64,
    pub total_inodes: u64,
    pub free_inodes: u64,
}

impl Space {
    /// Reads the file system holding `path`.
    pub fn of(path: &Path) -> io::Result<Space> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))?;
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is a valid NUL-terminated path and `s` a writable
        // statvfs; the call writes nothing else.
        if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let unit = s.f_frsize as u64;
        Ok(Space {
            total_bytes: (s.f_blocks as u64).saturating_mul(unit),
            free_bytes: (s.f_bavail as u64).saturating_mul(unit),
            total_inodes: s.f_files as u64,
            free_inodes: s.f_favail as u64,
        })
    }
}

/// Below any of these, ingests are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Watermarks {
    /// Free bytes that must remain after an ingest.
    pub min_free_bytes: u64,
    /// Free space that must remain, in percent of the volume.
    pub min_free_percent: u8,
    /// Free inodes that must remain, in percent (file systems without inode
    /// counts, reporting 0 inodes, are not checked).
    pub min_free_inodes_percent: u8,
}

impl Default for Watermarks {
    fn default() -> Self {
        Watermarks {
            min_free_bytes: 1 << 30,
            min_free_percent: 2,
            min_free_inodes_percent: 2,
        }
    }
}

impl Watermarks {
    /// Why `incoming` more bytes may not be written now, if so.
    pub fn refusal(&self, space: &Space, incoming: u64) -> Option<String> {
        let percent_floor = space.total_bytes / 100 * self.min_free_percent as u64;
        let floor = self.min_free_bytes.max(percent_floor);
        if space.free_bytes < incoming.saturating_add(floor) {
            return Some(format!(
                "the archive volume is nearly full: {} free of {}{}, and at least {} must stay free; \
                 new archives are refused until space is freed or added (reads and proofs are still served)",
                human(space.free_bytes),
                human(space.total_bytes),
                if incoming > 0 {
                    format!(" ({} incoming)", human(incoming))
                } else {
                    String::new()
                },
                human(floor)
            ));
        }
        if space.total_inodes > 0 {
            let inode_floor = space.total_inodes / 100 * self.min_free_inodes_percent as u64;
            if space.free_inodes < inode_floor.max(1) {
                return Some(format!(
                    "the archive volume is out of inodes: {} free of {}, and at least {} must stay free; \
                     new archives are refused (reads and proofs are still served)",
                    space.free_inodes, space.total_inodes, inode_floor
                ));
            }
        }
        None
    }
}

/// "1.5 GiB".
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(total: u64, free: u64, inodes: u64, free_inodes: u64) -> Space {
        Space {
            total_bytes: total,
            free_bytes: free,
            total_inodes: inodes,
            free_inodes,
        }
    }

    #[test]
    fn reads_the_real_file_system() {
        let s = Space::of(Path::new("/")).unwrap();
        assert!(s.total_bytes > 0 && s.free_bytes <= s.total_bytes);
        assert!(Space::of(Path::new("/no/such/dir")).is_err());
    }

    #[test]
    fn every_watermark_refuses_on_its_own() {
        let w = Watermarks {
            min_free_bytes: 100,
            min_free_percent: 10,
            min_free_inodes_percent: 5,
        };
        assert_eq!(w.refusal(&space(10_000, 5_000, 1000, 500), 0), None);
        // The percentage floor (1,000) is above the byte floor.
        assert!(w
            .refusal(&space(10_000, 999, 1000, 500), 0)
            .unwrap()
            .contains("nearly full"));
        // Incoming bytes count.
        assert!(w.refusal(&space(10_000, 1_500, 1000, 500), 600).is_some());
        assert!(w
            .refusal(&space(10_000, 5_000, 1000, 49), 0)
            .unwrap()
            .contains("inodes"));
        // No inode accounting (e.g. btrfs): not checked.
        assert_eq!(w.refusal(&space(10_000, 5_000, 0, 0), 0), None);
        // Without any floor, what does not fit is still refused.
        let none = Watermarks {
            min_free_bytes: 0,
            min_free_percent: 0,
            min_free_inodes_percent: 0,
        };
        assert!(none.refusal(&space(10_000, 3_000, 0, 0), 4_000).is_some());
        assert_eq!(none.refusal(&space(10_000, 3_000, 0, 0), 3_000), None);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }
}
