//! `minutierd`: runs the archive daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use minutier_daemon::config::Config;
use minutier_daemon::{pastell, server};

mod notify;

/// Minutier's archive daemon: ingests documents over gRPC, stores them and
/// seals each one into a signed, append-only Merkle log.
#[derive(Parser)]
#[command(name = "minutierd", version)]
struct Args {
    /// TOML configuration file (every key optional).
    #[arg(long, short, env = "MINUTIERD_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory [default: /var/lib/minutier as root, else ~/.local/share/minutier].
    #[arg(long, env = "MINUTIER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// gRPC listen address [default: 127.0.0.1:7370].
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Web console listen address [default: 127.0.0.1:7372]; `off` turns
    /// the console off.
    #[arg(long)]
    console_listen: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Replace the log's checkpoint signing key with the one the
    /// configuration's [key] section names (created if absent), recording
    /// the change in the log. Run it while minutierd is stopped.
    RotateKey {
        /// A configuration file whose [key] section names the current key
        /// (the one minutierd ran with until now) [default: the key file
        /// in the data directory].
        #[arg(long)]
        previous_config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    raise_open_files_limit();
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("minutierd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Raises the soft limit on open files to the hard limit: RocksDB keeps
/// its table files open and every client holds a socket, and the usual soft
/// limit of 1,024 would let a crowd of clients starve the index of files.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            let soft = limit.rlim_cur;
            limit.rlim_cur = limit.rlim_max.min(1 << 20);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                tracing::warn!("cannot raise the open files limit; it stays at {soft}");
            }
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path).map_err(anyhow::Error::msg)?,
        None => Config::default(),
    };
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    match args.console_listen.as_deref() {
        None => {}
        Some("off") => config.console.enabled = false,
        Some(addr) => {
            config.console.enabled = true;
            config.console.listen = addr.parse().map_err(|e| {
                anyhow::anyhow!("--console-listen {addr:?}: not an address and port ({e})")
            })?;
        }
    }
    config.validate().map_err(anyhow::Error::msg)?;
    if let Some(Command::RotateKey { previous_config }) = args.command {
        return rotate_key(&config, previous_config);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let sequencer = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let addr = listener.local_addr()?;
        let opened = server::open(&config, addr)?;
        let key = opened.service.verifier_key().to_string();
        if opened.key_created {
            println!("Created a new signing key ({}).", opened.key_location);
            println!("Publish this verifier key; auditors need it to check seals:");
        }
        println!("verifier key: {key}");
        println!(
            "administrator credential: {} (issue others with `minutier admin issue`)",
            opened.admin_credential.display()
        );
        // The Pastell endpoint stops when the gRPC server begins to stop.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let pastell = match &config.pastell {
            Some(p) => {
                let listener = tokio::net::TcpListener::bind(p.listen)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen on {} (pastell.listen): {e}", p.listen))?;
                let endpoint = pastell::Pastell::open(
                    p,
                    &config.data_dir,
                    opened.service.clone(),
                    opened.auth.clone(),
                )
                .map_err(anyhow::Error::msg)?;
                println!(
                    "pastell: {}{} (As@lae-compatible REST, {} account(s))",
                    server::client_url(listener.local_addr()?, &config.server_names),
                    endpoint.base_url(),
                    p.accounts.len()
                );
                Some(tokio::spawn(endpoint.serve(
                    listener,
                    opened.https.clone(),
                    stop_rx.clone(),
                )))
            }
            None => None,
        };
        let console = if config.console.enabled {
            let listener = tokio::net::TcpListener::bind(config.console.listen)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot listen on {} (console.listen; --console-listen off turns the console off): {e}",
                        config.console.listen
                    )
                })?;
            let console = minutier_daemon::console::Console::open(
                &config.console,
                opened.service.clone(),
                opened.auth.clone(),
            )
            .map_err(anyhow::Error::msg)?;
            println!(
                "console: {}/ (web console{})",
                server::client_url(listener.local_addr()?, &config.server_names),
                if console.has_verifier() {
                    ""
                } else {
                    "; seal verifier not found"
                }
            );
            Some(tokio::spawn(console.serve(
                listener,
                opened.console_tls.clone(),
                stop_rx.clone(),
            )))
        } else {
            None
        };
        if let Some(addr) = config.metrics_listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (metrics_listen): {e}"))?;
            println!("metrics: http://{}/metrics", listener.local_addr()?);
            tokio::spawn(minutier_daemon::metrics::serve(
                listener,
                opened.service.clone(),
            ));
        }
        println!(
            "minutierd listening on {addr} (TLS, data in {})",
            config.data_dir.display()
        );
        println!("clients: {}", opened.url);
        if let Some(replication) = opened.service.replication() {
            println!(
                "replicating to {} (bucket {})",
                replication.status(None)?.endpoint,
                replication.status(None)?.bucket
            );
            tokio::spawn(replication.clone().run());
            tokio::spawn(opened.service.clone().run_scheduled_scrubs());
        }
        if let Some(timestamping) = opened.service.timestamping() {
            println!(
                "time-stamping checkpoints with {} every {} s",
                timestamping.tsa_url(),
                timestamping.status().interval.as_secs()
            );
            tokio::spawn(timestamping.clone().run());
        }
        if let Some(health) = opened.service.health() {
            health.spawn();
        }
        let served = opened.served();
        let sequencer = opened.sequencer;
        drop(opened.service);

        // Under systemd (Type=notify): ready, and the watchdog fed.
        notify::ready(&format!("serving on {addr}"));

        // Graceful, but bounded: requests in flight get SHUTDOWN_GRACE to
        // finish; connections still open after that are cut.
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel();
        let serve = server::serve(served, listener, async {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
            let _ = stopping_tx.send(());
        });
        tokio::pin!(serve);
        tokio::select! {
            result = &mut serve => result?,
            _ = async {
                let _ = stopping_rx.await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => tracing::warn!("cutting connections still open {} s after shutdown began", SHUTDOWN_GRACE.as_secs()),
        }
        if let Some(pastell) = pastell {
            if tokio::time::timeout(SHUTDOWN_GRACE, pastell).await.is_err() {
                tracing::warn!("cutting Pastell uploads still in progress after shutdown");
            }
        }
        if let Some(console) = console {
            if tokio::time::timeout(SHUTDOWN_GRACE, console).await.is_err() {
                tracing::warn!("cutting console requests still in progress after shutdown");
            }
        }
        anyhow::Ok(sequencer)
    })?;
    // Dropping the runtime ends every connection task, and with them the
    // last handles on the sequencer: it seals what is queued and closes the
    // index. Exiting before that would tear RocksDB down under its own
    // background threads.
    drop(runtime);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !sequencer.is_finished() {
        if std::time::Instant::now() > deadline {
            anyhow::bail!("the sequencer did not stop within 30 s of shutdown");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    tracing::info!("stopped");
    Ok(())
}

/// `minutierd rotate-key`.
fn rotate_key(config: &Config, previous_config: Option<PathBuf>) -> anyhow::Result<()> {
    let previous = match previous_config {
        Some(path) => {
            let previous = Config::from_file(&path).map_err(anyhow::Error::msg)?;
            previous.validate().map_err(anyhow::Error::msg)?;
            previous.key
        }
        None => Default::default(),
    };
    let done = minutier_daemon::keys::rotate(config, &previous)?;
    println!("Rotated the checkpoint signing key of log {}.", done.origin);
    println!("old verifier key: {}", done.old_key);
    println!("new verifier key: {}", done.new_key);
    println!(
        "new key: {} ({})",
        done.new_location,
        if done.created { "created" } else { "existing" }
    );
    println!(
        "recorded: key-rotation record {}, in the checkpoint of size {} signed by both keys",
        done.index, done.checkpoint_size
    );
    if let Some(retired) = &done.retired {
        println!(
            "the old key file is now {} (unused; destroy it when the rotation is checked)",
            retired.display()
        );
    }
    println!(
        "Publish every verifier key; auditors need the old ones for older seals: {}",
        config.data_dir.join("verifier.key").display()
    );
    Ok(())
}

/// How long requests in flight may take to finish once shutdown begins.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down: finishing the documents in flight");
    let _ = notify::notify("STOPPING=1");
}
