//! The appliance's health against real conditions: a small tmpfs volume
//! filled up (ingests refused cleanly with RESOURCE_EXHAUSTED, first by the
//! watermark, then by the volume itself; reads keep being served; nothing
//! corrupted; ingests resume when space returns), the status, the metrics
//! endpoint, and a clock set back with libfaketime (the sequencer refuses
//! to sign before the last signed time).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{noise, ok, text, Daemon};
use serde_json::Value;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Volume(PathBuf);

impl Volume {
    fn mount(at: &Path, size_mib: u64) -> Volume {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size_mib}m"))
            .arg("tmpfs")
            .arg(at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs to fill it up, which needs root \
             (CAP_SYS_ADMIN); run the suite as root: {}",
            text(&out)
        );
        Volume(at.to_owned())
    }

    fn free_bytes(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.0)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Fills the volume until `leave` bytes are free.
    fn fill(&self, leave: u64) -> PathBuf {
        let path = self.0.join("filler");
        let free = self.free_bytes();
        let size = free.saturating_sub(leave);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let chunk = vec![0x5au8; 1 << 20];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            f.write_all(&chunk[..n]).unwrap();
            left -= n as u64;
        }
        f.sync_all().unwrap();
        path
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn metrics(daemon: &Daemon) -> String {
    let url = daemon.metrics_url.as_ref().expect("metrics_listen is set");
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

fn metric(all: &str, name: &str) -> f64 {
    all.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .unwrap_or_else(|| panic!("no {name} in:\n{all}"))
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn status(daemon: &Daemon) -> (Output, Value) {
    let out = daemon.cli(&["--json", "status"]);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status is not JSON ({e}): {}", text(&out)));
    (out, v)
}

fn log_size(daemon: &Daemon) -> u64 {
    daemon.cli_json(&["checkpoint"])["size"].as_u64().unwrap()
}

fn config(dir: &Path, min_free_mib: u64) -> PathBuf {
    let path = dir.join(format!("minutierd-{min_free_mib}.toml"));
    std::fs::write(
        &path,
        format!(
            "metrics_listen = \"127.0.0.1:0\"\n\n[health]\nmin_free_bytes = {}\nmin_free_percent = 0\nmin_free_inodes_percent = 0\n",
            min_free_mib << 20
        ),
    )
    .unwrap();
    path
}

fn leftovers(data: &Path) -> Vec<PathBuf> {
    common::files_under(&data.join("blobs/tmp"))
}

/// An ingest that does not announce its size, so that only the volume
/// itself can stop it.
async fn ingest_unannounced(daemon: &Daemon, content: Vec<u8>) -> tonic::Status {
    use minutier_proto::v1 as pb;
    use minutier_proto::v1::ingest_request::Part;
    let channel = common::channel_as(daemon, &daemon.archivist).await;
    let mut client = pb::archive_client::ArchiveClient::new(channel);
    let mut messages = vec![pb::IngestRequest {
        part: Some(Part::Header(pb::IngestHeader {
            metadata: Some(pb::DocumentMetadata {
                title: "unannounced".into(),
                ..Default::default()
            }),
            declared_sha256: String::new(),
            size: 0,
        })),
    }];
    messages.extend(content.chunks(256 << 10).map(|c| pb::IngestRequest {
        part: Some(Part::Chunk(c.to_vec())),
    }));
    client
        .ingest(tokio_stream::iter(messages))
        .await
        .expect_err("the volume cannot hold it")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_volume_refuses_ingests_cleanly_and_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let vol = Volume::mount(&tmp.path().join("vol"), 96);
    let data = vol.0.join("data");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let mut daemon = Daemon::start_with(&data, Some(&config(tmp.path(), 16)));

    let first = work.join("deliberation.txt");
    std::fs::write(&first, "Délibération n° 1").unwrap();
    let a = daemon.cli_json(&[
        "ingest",
        first.to_str().unwrap(),
        "--seal-dir",
        work.to_str().unwrap(),
    ]);
    let a_id = a["documents"][0]["archive_id"].as_str().unwrap().to_owned();
    let (out, s) = status(&daemon);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(s["ingest_allowed"], true);
    assert_eq!(metric(&metrics(&daemon), "minutier_ingest_allowed"), 1.0);

    // Below the watermark: refused before anything is written.
    let filler = vol.fill(10 << 20);
    let size = log_size(&daemon);
    let doc = work.join("plan.bin");
    std::fs::write(&doc, noise(0x0bad_5eed, 200_000)).unwrap();
    let out = daemon.cli(&["ingest", doc.to_str().unwrap()]);
    assert!(!out.status.success());
    let all = text(&out);
    assert!(
        all.contains("nearly full") && all.contains("reads and proofs are still served"),
        "{all}"
    );
    assert_eq!(log_size(&daemon), size);
    assert!(leftovers(&data).is_empty());
    let (out, s) = status(&daemon);
    assert_eq!(
        out.status.code(),
        Some(1),
        "status reports the problem: {}",
        text(&out)
    );
    assert_eq!(s["ingest_allowed"], false);
    assert!(
        s["problems"][0].as_str().unwrap().contains("nearly full"),
        "{s}"
    );
    let m = metrics(&daemon);
    assert_eq!(metric(&m, "minutier_ingest_allowed"), 0.0);
    assert!(metric(&m, "minutier_ingest_refused_total") >= 1.0);
    // Reads and proofs are still served.
    let got = work.join("got.txt");
    ok(daemon.cli(&["get", &a_id, "-o", got.to_str().unwrap()]));
    assert_eq!(std::fs::read(&got).unwrap(), std::fs::read(&first).unwrap());
    ok(daemon.cli(&["seal", &a_id]));

    // Space returns: ingests resume at once.
    std::fs::remove_file(&filler).unwrap();
    let b = daemon.cli_json(&[
        "ingest",
        doc.to_str().unwrap(),
        "--seal-dir",
        work.to_str().unwrap(),
    ]);
    let (_, s) = status(&daemon);
    assert_eq!(s["ingest_allowed"], true, "{s}");
    daemon.stop();

    // No watermark: the volume itself runs out in the middle of a
    // document. Refused with RESOURCE_EXHAUSTED, no file left behind.
    daemon = Daemon::start_with(&data, Some(&config(tmp.path(), 0)));
    let filler = vol.fill(3 << 20);
    let big = work.join("big.bin");
    std::fs::write(&big, noise(0x00b1_6b16, 8 << 20)).unwrap();
    let size = log_size(&daemon);
    // Announced: refused before it is sent.
    let out = daemon.cli(&["ingest", big.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("nearly full"), "{}", text(&out));
    // Unannounced: the volume fills up under it.
    let status = ingest_unannounced(&daemon, std::fs::read(&big).unwrap()).await;
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("volume is full")
            && status.message().contains("nothing was stored"),
        "{status:?}"
    );
    assert_eq!(log_size(&daemon), size);
    assert!(leftovers(&data).is_empty(), "{:?}", leftovers(&data));
    std::fs::remove_file(&filler).unwrap();
    let c = daemon.cli_json(&[
        "ingest",
        big.to_str().unwrap(),
        "--seal-dir",
        work.to_str().unwrap(),
    ]);
    daemon.stop();

    // Nothing corrupted: the index opens, every seal verifies.
    let daemon = Daemon::start_with(&data, Some(&config(tmp.path(), 0)));
    for (doc, receipt) in [(&first, &a), (&doc, &b), (&big, &c)] {
        let seal = receipt["documents"][0]["seal_file"].as_str().unwrap();
        ok(daemon.cli(&[
            "verify",
            doc.to_str().unwrap(),
            "--seal",
            seal,
            "--key",
            &daemon.verifier_key,
        ]));
    }
    daemon.stop();
}

#[test]
fn the_clock_guard_refuses_to_sign_back_in_time() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let doc = tmp.path().join("arrete.txt");
    std::fs::write(&doc, "Arrêté municipal").unwrap();
    let daemon = Daemon::start(&data);
    daemon.cli_json(&["ingest", doc.to_str().unwrap()]);
    let size = log_size(&daemon);
    daemon.stop();

    // The same appliance, its clock three minutes behind the log (within
    // the five minutes its certificates are back-dated by).
    let lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
    assert!(
        Path::new(lib).is_file(),
        "{lib} is missing: install Debian's faketime (scripts/setup test)"
    );
    let daemon = Daemon::start_with_env(
        &data,
        Some(&config(tmp.path(), 0)),
        &[
            ("LD_PRELOAD", lib),
            ("FAKETIME", "-3m"),
            ("DONT_FAKE_MONOTONIC", "1"),
        ],
    );
    let out = daemon.cli(&["ingest", doc.to_str().unwrap(), "--title", "second"]);
    assert!(!out.status.success());
    let all = text(&out);
    assert!(
        all.contains("refuses to sign a checkpoint that goes back in time"),
        "{all}"
    );
    assert_eq!(log_size(&daemon), size, "nothing recorded");
    let (out, s) = status(&daemon);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        s["clock"]["backwards"]
            .as_str()
            .unwrap()
            .contains("goes back"),
        "{s}"
    );
    assert_eq!(s["ingest_allowed"], false);
    assert!(metric(&metrics(&daemon), "minutier_clock_backwards_refusals_total") >= 1.0);
    daemon.stop();

    // The clock is right again: signing resumes.
    let daemon = Daemon::start(&data);
    daemon.cli_json(&["ingest", doc.to_str().unwrap(), "--title", "second"]);
    assert_eq!(log_size(&daemon), size + 1);
    daemon.stop();
}
