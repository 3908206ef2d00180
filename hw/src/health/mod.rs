//! The appliance's health: space on the archive volume, disks (SMART),
//! software RAID, and the clock. Each part parses what the system reports
//! (`statvfs`, `smartctl --json`, `/proc/mdstat`, `chronyc -c tracking`)
//! into plain values; the daemon samples them, refuses ingests below the
//! space watermarks, and reports them (health service, metrics, status).

pub mod chrony;
pub mod mdstat;
pub mod smart;
pub mod space;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A system tool's recorded output, from `tests/fixtures/health/`.
#[cfg(test)]
fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/health")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// Runs a system tool with a deadline; its stdout, or why not.
pub fn run_tool(program: &Path, args: &[&str], timeout: Duration) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.by_ref().take(16 << 20).read_to_end(&mut out);
        out
    });
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not answer within {} s",
                    program.display(),
                    timeout.as_secs()
                ));
            }
            Err(e) => return Err(format!("{}: {e}", program.display())),
        }
    }
    reader
        .join()
        .map_err(|_| format!("reading {} failed", program.display()))
}
