//! systemd's service notification protocol (`sd_notify(3)`), without
//! libsystemd: `READY=1` once the daemon serves, `WATCHDOG=1` while it is
//! alive, `STOPPING=1` when it begins to stop. Nothing is sent when the
//! daemon was not started by a service manager (`NOTIFY_SOCKET` unset).

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

/// Sends `state` (newline-separated `KEY=VALUE` assignments, e.g.
/// `READY=1`) to the service manager. Returns whether there was one.
pub fn notify(state: &str) -> io::Result<bool> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(socket) if !socket.is_empty() => send(&socket, state).map(|()| true),
        _ => Ok(false),
    }
}

/// Sends one datagram to the notification socket `socket`: a path, or an
/// abstract socket name when it starts with `@`.
fn send(socket: &OsStr, state: &str) -> io::Result<()> {
    let sender = UnixDatagram::unbound()?;
    let sent = match socket.as_bytes().strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            sender.send_to_addr(state.as_bytes(), &addr)?
        }
        None => sender.send_to(state.as_bytes(), Path::new(socket))?,
    };
    if sent != state.len() {
        return Err(io::Error::other("short write to the notification socket"));
    }
    Ok(())
}

/// How often to send `WATCHDOG=1`: half the service manager's watchdog
/// timeout, when it asks this process for keep-alives.
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    interval_from(usec.as_deref(), pid.as_deref(), std::process::id())
}

fn interval_from(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok()? != me {
            return None;
        }
    }
    let usec: u64 = usec?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Tells the service manager that the daemon serves, and keeps its
/// watchdog fed from the runtime's timer while the runtime runs.
pub fn ready(status: &str) {
    match notify(&format!("READY=1\nSTATUS={status}")) {
        Ok(true) => tracing::info!("told the service manager that the daemon is ready"),
        Ok(false) => {}
        Err(e) => tracing::warn!("cannot notify the service manager: {e}"),
    }
    if let Some(every) = watchdog_interval() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = notify("WATCHDOG=1") {
                    tracing::warn!("cannot feed the service manager's watchdog: {e}");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_a_socket_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let receiver = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), "READY=1\nSTATUS=serving").unwrap();
        let mut buf = [0u8; 64];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=serving");
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("minutierd-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let receiver = UnixDatagram::bind_addr(&addr).unwrap();
        send(OsStr::new(&format!("@{name}")), "WATCHDOG=1").unwrap();
        let mut buf = [0u8; 64];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
    }

    #[test]
    fn a_missing_socket_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(send(dir.path().join("absent").as_os_str(), "READY=1").is_err());
    }

    #[test]
    fn watchdog_interval_is_half_the_timeout_for_this_process_only() {
        let half = Some(Duration::from_secs(15));
        assert_eq!(interval_from(Some("30000000"), None, 42), half);
        assert_eq!(interval_from(Some("30000000"), Some("42"), 42), half);
        assert_eq!(interval_from(Some("30000000"), Some("43"), 42), None);
        assert_eq!(interval_from(None, Some("42"), 42), None);
        assert_eq!(interval_from(Some("0"), None, 42), None);
        assert_eq!(interval_from(Some("soon"), None, 42), None);
    }
}
