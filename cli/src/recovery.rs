//! Disaster recovery: `minutier admin escrow-key` (an escrow identity,
//! generated here and never sent anywhere) and `minutier restore` (a new
//! data directory from the bucket alone). See docs/disaster-recovery.md.

use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use age::secrecy::ExposeSecret;
use age::x25519;
use anyhow::anyhow;
use indicatif::{ProgressBar, ProgressStyle};
use minutier_daemon::config::Config;
use minutier_daemon::replication::read_identity;
use minutier_daemon::replication::restore::{restore as restore_bucket, RestoreReport};
use minutier_seal::record::Timestamp;
use serde::Serialize;

use crate::error::usage;
use crate::output::{human_bytes, print_json, table};

/// The identity file, as `age-keygen` writes it (`# created:`, `# public
/// key:`, the secret), with instructions in comment lines, which age and
/// minutierd both skip.
pub fn escrow_key_text(identity: &x25519::Identity, created: &str) -> String {
    format!(
        "# created: {created}\n\
         # public key: {recipient}\n\
         #\n\
         # Minutier escrow key. It decrypts every replica that minutierd uploads\n\
         # while the public key above is listed in escrow_recipients, in the\n\
         # [replication] section of minutierd's configuration; with the bucket\n\
         # alone, it rebuilds the appliance: keys, log and documents.\n\
         #\n\
         # Keep it OFF the box: print this page and keep it in a safe (for example\n\
         # at the departmental archives), or copy this file to an offline USB key;\n\
         # then delete it from the machine. Whoever holds it reads every replica.\n\
         # Only the last line is needed: from paper, type it back into a file.\n\
         #\n\
         # After a disaster, on a new machine:\n\
         #   minutier restore --config minutierd.toml --identity THIS_FILE --data-dir NEW_DIR\n\
         # One replica by hand, with the stock age tool:\n\
         #   age -d -i THIS_FILE OBJECT > plain\n\
         {secret}\n",
        recipient = identity.to_public(),
        secret = identity.to_string().expose_secret(),
    )
}

/// Now, as RFC 3339 in UTC to the second, as `age-keygen` writes it.
fn created_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let text = Timestamp(secs * 1000).to_string();
    text.strip_suffix(".000Z")
        .map_or(text.clone(), |t| format!("{t}Z"))
}

/// `minutier admin escrow-key -o FILE`.
pub fn escrow_key(json: bool, output: &Path) -> anyhow::Result<ExitCode> {
    let recipient = write_escrow_key(output)?;
    if json {
        #[derive(Serialize)]
        struct EscrowJson {
            recipient: String,
            identity_file: String,
        }
        print_json(&EscrowJson {
            recipient,
            identity_file: output.display().to_string(),
        });
    } else {
        print!(
            "{}",
            escrow_instructions(&recipient, &output.display().to_string())
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Generates an identity and writes it to a new file `output` (0600);
/// returns its recipient.
fn write_escrow_key(output: &Path) -> anyhow::Result<String> {
    if output == Path::new("-") {
        return Err(usage(
            "write the escrow identity to a file (-o FILE): it is printed or copied from there",
        ));
    }
    let identity = x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let text = escrow_key_text(&identity, &created_now());
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(output)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(anyhow!(
                "{} already exists: an escrow key is never overwritten; choose another file",
                output.display()
            ))
        }
        Err(e) => return Err(anyhow!("cannot create {}: {e}", output.display())),
    };
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| anyhow!("cannot write {}: {e}", output.display()))?;
    Ok(recipient)
}

fn escrow_instructions(recipient: &str, file: &str) -> String {
    format!(
        "escrow identity written to {file} (mode 0600); it was generated on this machine and \
         sent nowhere.\n\
         \n\
         Its recipient (public):\n\
         \n    {recipient}\n\n\
         1. Put the recipient in the [replication] section of minutierd's configuration, then \
         restart minutierd:\n\
         \n    escrow_recipients = [\"{recipient}\"]\n\n   \
         Replicas are encrypted to the recipients listed when they are uploaded: list it before \
         replication starts.\n\
         2. Store the identity OFF the box:\n   \
         - print {file} on paper and keep the page in a safe (for example at the departmental \
         archives);\n   \
         - or copy it to an offline USB key, kept away from the box.\n\
         3. Then delete {file} from this machine (e.g. `shred -u {file}`).\n\
         \n\
         Without this identity and without the box, the replicas cannot be read by anyone: keep \
         it safe.\n"
    )
}

/// Progress of a restore on stderr: a spinner on a terminal (each new step
/// also printed as a line), else one line per step and at most one every
/// few seconds within a step.
struct Steps {
    bar: Option<ProgressBar>,
    state: Mutex<(String, Instant)>,
}

impl Steps {
    fn new() -> Steps {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Steps {
            bar,
            state: Mutex::new((String::new(), Instant::now())),
        }
    }

    fn step(&self, message: &str) {
        let kind = message.split(':').next().unwrap_or(message).to_owned();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let new_kind = state.0 != kind;
        match &self.bar {
            Some(bar) => {
                if new_kind {
                    bar.println(format!("restore: {kind}"));
                }
                bar.set_message(message.to_owned());
            }
            None => {
                if new_kind || state.1.elapsed() >= Duration::from_secs(5) {
                    eprintln!("restore: {message}");
                    state.1 = Instant::now();
                }
            }
        }
        state.0 = kind;
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn is_empty_or_absent(dir: &Path) -> anyhow::Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(usage(format!("cannot read {}: {e}", dir.display()))),
    }
}

/// `minutier restore --config FILE --identity ESCROW_KEY --data-dir NEW_DIR`.
pub async fn restore(
    json: bool,
    config_path: &Path,
    identity_path: &Path,
    data_dir: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let data_dir = data_dir.ok_or_else(|| {
        usage(
            "restore needs --data-dir NEW_DIR: the new, empty directory where the appliance is \
             rebuilt",
        )
    })?;
    let config = Config::from_file(config_path).map_err(usage)?;
    let Some(replication) = &config.replication else {
        return Err(usage(format!(
            "{} has no [replication] section: restore needs the bucket's settings (endpoint, \
             bucket, access key, escrow_recipients) from minutierd's configuration",
            config_path.display()
        )));
    };
    config
        .validate()
        .map_err(|e| usage(format!("{}: {e}", config_path.display())))?;
    let text = std::fs::read_to_string(identity_path).map_err(|e| {
        usage(format!(
            "cannot read the escrow identity {}: {e}",
            identity_path.display()
        ))
    })?;
    let escrow =
        read_identity(&text).map_err(|e| usage(format!("{}: {e}", identity_path.display())))?;
    let recipient = escrow.to_public().to_string();
    if !replication
        .escrow_recipients
        .iter()
        .any(|r| r.trim() == recipient)
    {
        eprintln!(
            "warning: {recipient} (the recipient of {}) is not in escrow_recipients of {}: \
             the restored appliance will not encrypt new replicas to this identity",
            identity_path.display(),
            config_path.display()
        );
    }
    if !is_empty_or_absent(data_dir)? {
        return Err(usage(format!(
            "{} is not empty: restore into a new, empty directory",
            data_dir.display()
        )));
    }

    let steps = Steps::new();
    let progress = |message: &str| steps.step(message);
    let result = restore_bucket(replication, &escrow, data_dir, &progress).await;
    steps.finish();
    let report = result.map_err(|e| match is_empty_or_absent(data_dir) {
        Ok(true) => anyhow!("restore failed: {e}"),
        _ => anyhow!(
            "restore failed: {e} ({} holds a partial restore: remove it before trying again)",
            data_dir.display()
        ),
    })?;
    if json {
        print_json(&report);
    } else {
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
        print!(
            "{}",
            restore_text(
                &report,
                &absolute(config_path),
                &absolute(data_dir),
                absolute(&config.data_dir) == absolute(data_dir),
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The human rendering of a restore's report and the next step.
fn restore_text(
    r: &RestoreReport,
    config: &Path,
    data_dir: &Path,
    config_names_data_dir: bool,
) -> String {
    let rows = [
        ("origin:", r.origin.clone()),
        ("verifier key:", r.verifier_key.clone()),
        (
            "records:",
            format!("{} (from {} log segments)", r.records, r.segments),
        ),
        (
            "archives:",
            format!(
                "{} ({} live, {} eliminated)",
                r.archives,
                r.archives.saturating_sub(r.eliminated),
                r.eliminated
            ),
        ),
        (
            "contents:",
            format!(
                "{} ({}), each checked against its digest",
                r.contents,
                human_bytes(r.content_bytes)
            ),
        ),
        (
            "checkpoints checked:",
            format!(
                "{} (the bucket's, against the rebuilt log)",
                r.checkpoints_checked
            ),
        ),
        (
            "seals verified:",
            format!(
                "{} (against the checkpoint of size {})",
                r.seals_verified, r.checkpoint_size
            ),
        ),
        (
            "objects read:",
            format!(
                "{} (secrets generation {})",
                r.objects, r.secrets_generation
            ),
        ),
    ];
    let rows = rows.map(|(k, v)| [k.to_owned(), v]);
    let command = if config_names_data_dir {
        format!("minutierd --config {}", config.display())
    } else {
        format!(
            "minutierd --config {} --data-dir {}",
            config.display(),
            data_dir.display()
        )
    };
    let alternative = if config_names_data_dir {
        String::new()
    } else {
        format!(
            "(or set data_dir = \"{}\" in the configuration and drop --data-dir)\n",
            data_dir.display()
        )
    };
    format!(
        "restored the appliance into {dir}\n{table}\n\
         Check that the verifier key above is the one that was published.\n\
         \n\
         Next, start the restored daemon:\n\
         \n    {command}\n\n\
         {alternative}\
         It continues the same log (same origin and key, from record {next}) and replicates to the \
         same bucket from where the old box stopped. Never start the old box against this bucket \
         again.\n",
        dir = data_dir.display(),
        table = table(None, &rows, &[], "  "),
        next = r.records,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::str::FromStr;

    #[test]
    fn escrow_key_files_read_back_with_age_and_minutierd() {
        let identity = x25519::Identity::generate();
        let recipient = identity.to_public();
        let text = escrow_key_text(&identity, "2026-11-29T08:52:46Z");
        let lines: Vec<&str> = text.lines().collect();
        // age-keygen's layout: created, public key, ..., the secret last.
        assert_eq!(lines[0], "# created: 2026-11-29T08:52:46Z");
        assert_eq!(lines[1], format!("# public key: {recipient}"));
        assert!(lines.last().unwrap().starts_with("AGE-SECRET-KEY-1"));
        assert!(lines[..lines.len() - 1].iter().all(|l| l.starts_with('#')));
        assert!(text.ends_with('\n'));

        // age's own identity-file parser.
        let parsed = age::IdentityFile::from_buffer(text.as_bytes())
            .unwrap()
            .into_identities()
            .unwrap();
        assert_eq!(parsed.len(), 1);
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .unwrap();
        let mut sealed = Vec::new();
        let mut writer = encryptor.wrap_output(&mut sealed).unwrap();
        writer.write_all(b"acte de naissance").unwrap();
        writer.finish().unwrap();
        let decryptor = age::Decryptor::new(&sealed[..]).unwrap();
        let mut plain = Vec::new();
        decryptor
            .decrypt(parsed.iter().map(|i| i.as_ref()))
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, b"acte de naissance");

        // minutierd's reader, as `restore` uses it.
        let read = read_identity(&text).unwrap();
        assert_eq!(read.to_public().to_string(), recipient.to_string());
        // The public key line is the recipient, as age-keygen writes it.
        let public = lines[1].strip_prefix("# public key: ").unwrap();
        assert!(x25519::Recipient::from_str(public).is_ok());
    }

    #[test]
    fn created_dates_are_rfc3339_to_the_second() {
        let created = created_now();
        assert_eq!(created.len(), 20, "{created}");
        assert!(created.ends_with('Z') && created.as_bytes()[10] == b'T');
    }

    #[test]
    fn escrow_keys_are_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("escrow.key");
        let recipient = write_escrow_key(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let first = std::fs::read_to_string(&path).unwrap();
        let read = read_identity(&first).unwrap();
        assert_eq!(read.to_public().to_string(), recipient);
        let err = write_escrow_key(&path).unwrap_err();
        assert!(err.to_string().contains("never overwritten"), "{err}");
        assert_eq!(crate::error::exit_code(&err), ExitCode::from(1));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
        let err = write_escrow_key(Path::new("-")).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), ExitCode::from(2));
    }

    #[test]
    fn instructions_name_the_recipient_and_the_file() {
        let text = escrow_instructions("age1xyz", "escrow.key");
        assert!(text.contains("escrow_recipients = [\"age1xyz\"]"));
        assert!(text.contains("print escrow.key on paper"));
        assert!(text.contains("offline USB key"));
        assert!(text.contains("shred -u escrow.key"));
    }

    #[test]
    fn restore_reports_and_names_the_next_step() {
        let report = RestoreReport {
            origin: "archives.example/minutier".into(),
            verifier_key: "archives.example/minutier+abcd+key".into(),
            objects: 9,
            records: 120,
            segments: 2,
            archives: 10,
            eliminated: 3,
            contents: 6,
            content_bytes: 1500,
            checkpoints_checked: 4,
            checkpoint_size: 120,
            seals_verified: 10,
            secrets_generation: 2,
        };
        let text = restore_text(
            &report,
            Path::new("/etc/minutierd.toml"),
            Path::new("/srv/new"),
            false,
        );
        assert!(text.contains("archives:             10 (7 live, 3 eliminated)"));
        assert!(text.contains("contents:             6 (1.5 kB)"));
        assert!(text.contains("minutierd --config /etc/minutierd.toml --data-dir /srv/new\n"));
        assert!(text.contains("set data_dir = \"/srv/new\""));
        assert!(text.contains("continues the same log"));
        let text = restore_text(
            &report,
            Path::new("/etc/m.toml"),
            Path::new("/srv/new"),
            true,
        );
        assert!(text.contains("    minutierd --config /etc/m.toml\n"));
    }

    #[tokio::test]
    async fn restore_checks_its_inputs_before_touching_anything() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("minutierd.toml");
        let key = dir.path().join("escrow.key");
        let new = dir.path().join("new");
        let code = |r: anyhow::Result<ExitCode>| crate::error::exit_code(&r.unwrap_err());

        // No destination.
        assert_eq!(
            code(restore(false, &config, &key, None).await),
            ExitCode::from(2)
        );
        // No configuration file.
        assert_eq!(
            code(restore(false, &config, &key, Some(&new)).await),
            ExitCode::from(2)
        );
        // A configuration without [replication].
        std::fs::write(&config, "listen = \"127.0.0.1:7370\"\n").unwrap();
        let err = restore(false, &config, &key, Some(&new)).await.unwrap_err();
        assert!(
            err.to_string().contains("no [replication] section"),
            "{err}"
        );
        assert_eq!(crate::error::exit_code(&err), ExitCode::from(2));
        // With the section, but no identity file.
        let escrow = x25519::Identity::generate();
        std::fs::write(
            &config,
            format!(
                "[replication]\nendpoint = \"http://127.0.0.1:1\"\nbucket = \"b\"\n\
                 access_key_id = \"GK1\"\nsecret_access_key = \"s\"\n\
                 escrow_recipients = [\"{}\"]\n",
                escrow.to_public()
            ),
        )
        .unwrap();
        let err = restore(false, &config, &key, Some(&new)).await.unwrap_err();
        assert!(err.to_string().contains("escrow identity"), "{err}");
        assert_eq!(crate::error::exit_code(&err), ExitCode::from(2));
        // A destination that is not empty.
        std::fs::write(&key, escrow_key_text(&escrow, "2026-11-29T08:52:46Z")).unwrap();
        std::fs::create_dir(&new).unwrap();
        std::fs::write(new.join("x"), "").unwrap();
        let err = restore(false, &config, &key, Some(&new)).await.unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
        assert_eq!(crate::error::exit_code(&err), ExitCode::from(2));
    }
}
