//! `minutier admin …` (credentials, status) and `minutier whoami`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use minutier_proto::v1::{
    CreateAccountRequest, Credential, IssueCredentialRequest, ListCredentialsRequest,
    RevokeCredentialRequest, StatusRequest, WhoAmIRequest,
};
use serde::Serialize;

use crate::client::{connect_admin, Target};
use crate::error::{rpc, usage};
use crate::output::print_json;

#[derive(Serialize)]
struct CredentialJson {
    serial: String,
    name: String,
    role: String,
    agency: Option<String>,
    issued_at: String,
    not_after: String,
    issued_by: String,
    revoked_at: Option<String>,
    revoked_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    login: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    totp: bool,
}

fn credential_json(c: &Credential) -> CredentialJson {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    CredentialJson {
        serial: c.serial.clone(),
        name: c.name.clone(),
        role: c.role.clone(),
        agency: opt(&c.agency),
        issued_at: c.issued_at.clone(),
        not_after: c.not_after.clone(),
        issued_by: c.issued_by.clone(),
        revoked_at: opt(&c.revoked_at),
        revoked_by: opt(&c.revoked_by),
        login: opt(&c.login),
        totp: c.totp,
    }
}

/// Issues a credential and writes its bundle to `output` (0600, never over
/// an existing file: it may be someone's identity).
pub async fn issue(
    target: &Target,
    json: bool,
    name: &str,
    role: &str,
    agency: Option<&str>,
    validity_days: u32,
    output: &Path,
) -> anyhow::Result<ExitCode> {
    if output.exists() {
        return Err(usage(format!(
            "{} already exists; choose another file (a credential is never overwritten)",
            output.display()
        )));
    }
    let mut client = connect_admin(target).await?;
    let issued = rpc(client
        .issue_credential(IssueCredentialRequest {
            name: name.to_owned(),
            role: role.to_owned(),
            agency: agency.unwrap_or_default().to_owned(),
            validity_days,
            validity_seconds: 0,
        })
        .await)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    file.write_all(issued.bundle.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", output.display()))?;
    let credential = issued.credential.unwrap_or_default();
    if json {
        #[derive(Serialize)]
        struct IssuedJson {
            file: String,
            credential: CredentialJson,
        }
        print_json(&IssuedJson {
            file: output.display().to_string(),
            credential: credential_json(&credential),
        });
    } else {
        println!(
            "issued {} a credential with role {} (serial {}, valid until {}) -> {}",
            credential.name,
            credential.role,
            credential.serial,
            credential.not_after,
            output.display()
        );
        println!("hand it over privately; the holder uses it with --credentials {} (or MINUTIER_CREDENTIALS)", output.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// What `minutier admin account` asks for.
pub struct AccountArgs<'a> {
    pub login: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub agency: Option<&'a str>,
    pub validity_days: u32,
    pub totp: bool,
    pub password_stdin: bool,
}

/// Creates a console account; prints the generated password and the
/// TOTP secret, which the daemon never shows again.
pub async fn account(
    target: &Target,
    json: bool,
    args: AccountArgs<'_>,
) -> anyhow::Result<ExitCode> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let password = line.strip_suffix('\n').unwrap_or(&line);
        let password = password.strip_suffix('\r').unwrap_or(password);
        if password.is_empty() {
            return Err(usage(
                "--password-stdin: standard input gave an empty line; give the password on its first line",
            ));
        }
        password.to_owned()
    } else {
        String::new()
    };
    let mut client = connect_admin(target).await?;
    let created = rpc(client
        .create_account(CreateAccountRequest {
            login: args.login.to_owned(),
            name: args.name.to_owned(),
            role: args.role.to_owned(),
            agency: args.agency.unwrap_or_default().to_owned(),
            validity_days: args.validity_days,
            password,
            totp: args.totp,
        })
        .await)?;
    let credential = created.credential.unwrap_or_default();
    let opt = |s: String| (!s.is_empty()).then_some(s);
    if json {
        #[derive(Serialize)]
        struct AccountJson {
            login: String,
            name: String,
            role: String,
            serial: String,
            not_after: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            password: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            totp_secret: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            totp_uri: Option<String>,
        }
        print_json(&AccountJson {
            login: credential.login,
            name: credential.name,
            role: credential.role,
            serial: credential.serial,
            not_after: credential.not_after,
            password: opt(created.password),
            totp_secret: opt(created.totp_secret),
            totp_uri: opt(created.totp_uri),
        });
    } else {
        println!(
            "created console account {} for {} (role {}, serial {}, valid until {})",
            credential.login,
            credential.name,
            credential.role,
            credential.serial,
            credential.not_after
        );
        if let Some(password) = opt(created.password) {
            println!("password (shown once): {password}");
        }
        if let Some(secret) = opt(created.totp_secret) {
            println!("TOTP secret: {secret}");
            println!("otpauth URI: {}", created.totp_uri);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn revoke(
    target: &Target,
    json: bool,
    name: &str,
    serial: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let mut client = connect_admin(target).await?;
    let revoked = rpc(client
        .revoke_credential(RevokeCredentialRequest {
            name: name.to_owned(),
            serial: serial.unwrap_or_default().to_owned(),
        })
        .await)?
    .revoked;
    if json {
        #[derive(Serialize)]
        struct RevokedJson {
            revoked: Vec<CredentialJson>,
        }
        print_json(&RevokedJson {
            revoked: revoked.iter().map(credential_json).collect(),
        });
    } else {
        for c in &revoked {
            println!(
                "revoked {} credential of {} (serial {})",
                c.role, c.name, c.serial
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn list(target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let mut client = connect_admin(target).await?;
    let credentials = rpc(client.list_credentials(ListCredentialsRequest {}).await)?.credentials;
    if json {
        #[derive(Serialize)]
        struct ListJson {
            credentials: Vec<CredentialJson>,
        }
        print_json(&ListJson {
            credentials: credentials.iter().map(credential_json).collect(),
        });
    } else {
        println!(
            "{:<32}  {:<10}  {:<16}  {:<24}  {:<8}  {:<16}  NAME",
            "SERIAL", "ROLE", "AGENCY", "VALID UNTIL", "STATE", "LOGIN"
        );
        for c in &credentials {
            let state = if c.revoked_at.is_empty() {
                "live"
            } else {
                "revoked"
            };
            // Certificates have no login; a TOTP account is marked with +totp.
            let login = match (c.login.as_str(), c.totp) {
                ("", _) => "-".to_owned(),
                (l, true) => format!("{l} +totp"),
                (l, false) => l.to_owned(),
            };
            println!(
                "{:<32}  {:<10}  {:<16}  {:<24}  {:<8}  {:<16}  {}",
                c.serial, c.role, c.agency, c.not_after, state, login, c.name
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn status(target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let mut client = connect_admin(target).await?;
    let s = rpc(client.status(StatusRequest {}).await)?;
    if json {
        #[derive(Serialize)]
        struct RefusalJson {
            role: String,
            action: String,
            reason: String,
            count: u64,
        }
        #[derive(Serialize)]
        struct StatusJson {
            version: String,
            origin: String,
            verifier_key: String,
            tree_size: u64,
            credentials_live: u64,
            credentials_revoked: u64,
            refusals: Vec<RefusalJson>,
        }
        print_json(&StatusJson {
            version: s.version,
            origin: s.origin,
            verifier_key: s.verifier_key,
            tree_size: s.tree_size,
            credentials_live: s.credentials_live,
            credentials_revoked: s.credentials_revoked,
            refusals: s
                .refusals
                .into_iter()
                .map(|r| RefusalJson {
                    role: r.role,
                    action: r.action,
                    reason: r.reason,
                    count: r.count,
                })
                .collect(),
        });
    } else {
        println!("minutierd {}", s.version);
        println!("log:          {} ({} records)", s.origin, s.tree_size);
        println!("verifier key: {}", s.verifier_key);
        println!(
            "credentials:  {} live, {} revoked",
            s.credentials_live, s.credentials_revoked
        );
        if s.refusals.is_empty() {
            println!("refusals:     none");
        } else {
            println!("refusals:");
            for r in s.refusals {
                println!(
                    "  {:>6}  role {:<10} {:<16} ({})",
                    r.count, r.role, r.action, r.reason
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn whoami(target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let mut client = connect_admin(target).await?;
    let me = rpc(client.who_am_i(WhoAmIRequest {}).await)?;
    if json {
        #[derive(Serialize)]
        struct WhoAmIJson {
            name: String,
            role: String,
            agency: Option<String>,
            serial: String,
            actor: String,
        }
        print_json(&WhoAmIJson {
            agency: (!me.agency.is_empty()).then_some(me.agency),
            name: me.name,
            role: me.role,
            serial: me.serial,
            actor: me.actor,
        });
    } else {
        let agency = if me.agency.is_empty() {
            String::new()
        } else {
            format!(", agency {}", me.agency)
        };
        println!(
            "{} (role {}{agency}); recorded as {:?}",
            me.name, me.role, me.actor
        );
    }
    Ok(ExitCode::SUCCESS)
}
