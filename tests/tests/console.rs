//! The web console, in Debian's Chromium driven by Playwright
//! (`tests/browser/console.mjs`), against the real daemon: accounts made by
//! `minutier admin account`; sign-in (password, password and TOTP);
//! deposit of files, of a folder and of a SEDA package with their seals;
//! search; the archive's page, a legal hold placed and lifted, corrections
//! of the description and rules (a definitive archive's final action
//! refused);
//! verification in the browser (a tampered
//! file fails);
//! an elimination proposed by an archivist, approved by a controller,
//! executed, its certificate downloaded; an auditor's journal and
//! consistency check, in English; refusals (wrong role, expired session,
//! no CSRF token). Every page is screenshotted and checked with axe-core.
//!
//! Then, from outside the browser: the console's reads are in the same
//! access journal as the gRPC API's, failed sign-ins in the same refusal
//! counters, and curl signs in with a client certificate.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Daemon;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// `minutier admin account LOGIN ...` as the administrator on the box;
/// its JSON answer (with the generated password, and the TOTP secret).
fn account(
    daemon: &Daemon,
    login: &str,
    name: &str,
    role: &str,
    extra: &[&str],
) -> serde_json::Value {
    let mut args = vec![
        "--json", "admin", "account", login, "--name", name, "--role", role,
    ];
    args.extend_from_slice(extra);
    let out = daemon.cli_admin(&args);
    assert!(
        out.status.success(),
        "minutier admin account {login} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run curl ({e}): scripts/setup test installs it"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_console_serves_archivists_controllers_and_auditors_in_a_real_browser() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let idle = 10;
    let daemon = Daemon::start_with_toml(
        &w.join("data"),
        &format!("[console]\nsession_idle_seconds = {idle}\nmax_failed_sign_ins = 4\n"),
    );
    let url = daemon
        .console_url
        .clone()
        .expect("the console is on by default");

    let marie = account(&daemon, "marie", "Marie Dupont", "archivist", &[]);
    let paul = account(&daemon, "paul", "Paul Martin", "controller", &["--totp"]);
    let alice = account(&daemon, "alice", "Alice Bernard", "auditor", &[]);
    // A second account with the same login is refused.
    let again = daemon.cli_admin(&[
        "admin",
        "account",
        "marie",
        "--name",
        "Marie Autre",
        "--role",
        "archivist",
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let docs = w.join("docs");
    fs::create_dir_all(&docs).unwrap();
    let deliberation = docs.join("deliberation-2026-11.pdf");
    let content = common::noise(3, 200_000);
    fs::write(&deliberation, &content).unwrap();
    let draft = docs.join("brouillon.txt");
    fs::write(&draft, "brouillon de travail, à éliminer\n").unwrap();
    let mut tampered = content.clone();
    tampered[100_000] ^= 0x20;
    let tampered_path = w.join("deliberation-modifiee.pdf");
    fs::write(&tampered_path, &tampered).unwrap();
    let package = root().join("sip/tests/seda/sips/ok/OK_RATP.zip");
    let folder = w.join("dossier-conseil");
    fs::create_dir_all(folder.join("annexes")).unwrap();
    fs::write(folder.join("ordre-du-jour.txt"), "1. budget\n2. voirie\n").unwrap();
    fs::write(folder.join("annexes/plan.txt"), "plan du quartier\n").unwrap();

    let shots = root().join("target/browser-screenshots/console");
    let config = serde_json::json!({
        "url": url,
        "shots": shots,
        "idle_seconds": idle,
        "archivist": { "login": "marie", "password": marie["password"] },
        "controller": { "login": "paul", "password": paul["password"], "totp_secret": paul["totp_secret"] },
        "auditor": { "login": "alice", "password": alice["password"] },
        "document": deliberation,
        "draft": draft,
        "tampered": tampered_path,
        "package": package,
        "folder": folder,
        "downloads": w.join("downloads"),
    });
    let config_path = w.join("console-test.json");
    fs::write(&config_path, config.to_string()).unwrap();
    let run = Command::new("node")
        .arg(root().join("tests/browser/console.mjs"))
        .arg(&config_path)
        .output()
        .expect("node is missing: scripts/setup test installs it");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the console failed in Chromium (playwright-core and axe-core: npm ci in tests/browser, \
         as scripts/setup test does):\n{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let result: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("the browser script printed its result as JSON");
    for shot in [
        "signin",
        "dashboard",
        "deposit",
        "search",
        "archive",
        "verify-valid",
        "verify-tampered",
        "elimination-proposed",
        "elimination-approved",
        "elimination-executed",
        "journal",
        "consistency",
        "refused-role",
        "expired",
    ] {
        assert!(shots.join(format!("{shot}.png")).is_file(), "{shot}.png");
    }

    // The seal downloaded from the console verifies with the offline CLI.
    let archive_id = result["archive_id"].as_str().unwrap();
    let seal = w.join("downloads").join(format!("{archive_id}.tlog-proof"));
    let key = w.join("verifier.key");
    fs::write(&key, format!("{}\n", daemon.verifier_key)).unwrap();
    let verified = common::cli(&[
        "verify",
        deliberation.to_str().unwrap(),
        "--seal",
        seal.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );

    // The console's reads are in the access journal, under Marie's name.
    let auditor = w.join("auditor.pem");
    daemon.issue("Alice Bernard", "auditor", None, &auditor);
    let journal = daemon.cli_as(&auditor, &["--json", "journal", "--archive", archive_id]);
    let journal = String::from_utf8_lossy(&journal.stdout);
    assert!(journal.contains("Marie Dupont [archivist"), "{journal}");
    assert!(journal.contains("read-content"), "{journal}");

    // Failed sign-ins and refusals are counted with the gRPC API's.
    let status = daemon.cli_admin(&["--json", "admin", "status"]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("sign-in"), "{status}");
    assert!(status.contains("csrf"), "{status}");

    // curl, with a client certificate, signs in without a password.
    let archivist = &daemon.archivist;
    let jar = w.join("cookies");
    let form = curl(&["-k", "-c", jar.to_str().unwrap(), &format!("{url}/signin")]);
    let token = form
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the sign-in form carries a token");
    let signed = curl(&[
        "-k",
        "--cert",
        archivist.to_str().unwrap(),
        "--key",
        archivist.to_str().unwrap(),
        "-b",
        jar.to_str().unwrap(),
        "-c",
        jar.to_str().unwrap(),
        "-L",
        "-d",
        &format!("csrf={token}&next=/"),
        &format!("{url}/signin/certificate"),
    ]);
    assert!(signed.contains("Connexion par certificat"), "{signed}");
    // Without the certificate, the same request is refused.
    let refused = curl(&[
        "-k",
        "-b",
        jar.to_str().unwrap(),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-d",
        "next=/",
        &format!("{url}/signin/certificate"),
    ]);
    assert_eq!(refused, "403", "a form without its token is refused");

    // Revoking the credential ends its console session at once.
    let home = |jar: &Path| {
        curl(&[
            "-k",
            "-b",
            jar.to_str().unwrap(),
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            &format!("{url}/"),
        ])
    };
    assert!(home(&jar).starts_with("200"), "{}", home(&jar));
    let revoked = daemon.cli_admin(&["admin", "revoke", "Test Archivist"]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let after = home(&jar);
    assert!(
        after.starts_with("303") && after.contains("reason=expired"),
        "{after}"
    );
    daemon.stop();
}

/// A curl session signed in with a password: the cookie jar and the
/// session's CSRF token (read from the deposit page).
fn signed_in(url: &str, jar: &Path, login: &str, password: &str) -> String {
    let jar = jar.to_str().unwrap();
    let form = curl(&["-k", "-c", jar, &format!("{url}/signin")]);
    let token = between(&form, "name=\"csrf\" value=\"", "\"");
    let page = curl(&[
        "-k",
        "-b",
        jar,
        "-c",
        jar,
        "-L",
        "--data-urlencode",
        &format!("csrf={token}"),
        "--data-urlencode",
        &format!("login={login}"),
        "--data-urlencode",
        &format!("password={password}"),
        &format!("{url}/signin"),
    ]);
    assert!(page.contains("Tableau de bord"), "{page}");
    let deposit = curl(&["-k", "-b", jar, &format!("{url}/deposit")]);
    between(&deposit, "data-csrf=\"", "\"")
}

fn between(text: &str, start: &str, end: &str) -> String {
    text.split(start)
        .nth(1)
        .and_then(|r| r.split(end).next())
        .unwrap_or_else(|| panic!("{start:?} not found in {text}"))
        .to_owned()
}

/// `curl` writing the status code after the body.
fn curl_status(args: &[&str]) -> (String, String) {
    let mut all = vec!["-k", "-w", "\n%{http_code}"];
    all.extend_from_slice(args);
    let out = curl(&all);
    let (body, code) = out.rsplit_once('\n').unwrap();
    (code.to_owned(), body.to_owned())
}

#[test]
fn the_console_refuses_bad_input_precisely_and_stores_nothing_half_way() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let daemon = Daemon::start_with_toml(&w.join("data"), "max_document_size = 4096\n");
    let url = daemon.console_url.clone().unwrap();
    let marie = account(&daemon, "marie", "Marie Dupont", "archivist", &[]);
    let jar = w.join("jar");
    let csrf = signed_in(&url, &jar, "marie", marie["password"].as_str().unwrap());
    let jar = jar.to_str().unwrap();
    let token = format!("X-CSRF-Token: {csrf}");
    let upload = |query: &str, body: &Path| {
        curl_status(&[
            "-b",
            jar,
            "-H",
            &token,
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            &format!("@{}", body.display()),
            &format!("{url}{query}"),
        ])
    };
    let small = w.join("small.txt");
    fs::write(&small, "une délibération\n").unwrap();
    let big = w.join("big.bin");
    fs::write(&big, common::noise(1, 10_000)).unwrap();
    let huge_form = w.join("form.txt");
    fs::write(
        &huge_form,
        format!("csrf={csrf}&reason={}", "x".repeat(2 << 20)),
    )
    .unwrap();
    let garbage = w.join("garbage.zip");
    fs::write(&garbage, common::noise(2, 3_000)).unwrap();

    let cases: Vec<(&str, (String, String), &str)> = vec![
        (
            "a date that is not one",
            upload("/api/deposit?file_name=a.txt&start=31/12/2026", &small),
            "is not a date",
        ),
        (
            "no file name",
            upload("/api/deposit?title=x", &small),
            "description is incomplete",
        ),
        (
            "a final action that does not exist",
            upload("/api/deposit?file_name=a.txt&years=3&final=burn", &small),
            "keep or destroy",
        ),
        (
            "a document over the size limit",
            upload("/api/deposit?file_name=big.bin", &big),
            "size limit",
        ),
        (
            "a package that is not one",
            upload("/api/transfer?file_name=garbage.zip", &garbage),
            "",
        ),
        (
            "a search date that is not one",
            curl_status(&["-b", jar, &format!("{url}/archives?from=hier")]),
            "n'est pas une date",
        ),
        (
            "an unknown archive",
            curl_status(&["-b", jar, &format!("{url}/archives/..%2F..%2Fetc")]),
            "Introuvable",
        ),
        (
            "a page the archivist's role may not see",
            curl_status(&["-b", jar, &format!("{url}/audit/journal")]),
            "Accès refusé",
        ),
        (
            "a form far too large",
            curl_status(&[
                "-b",
                jar,
                "--data-binary",
                &format!("@{}", huge_form.display()),
                "-H",
                "Content-Type: application/x-www-form-urlencoded",
                &format!("{url}/eliminations"),
            ]),
            "too large",
        ),
    ];
    for (what, (code, body), says) in &cases {
        assert!(
            code.starts_with('4') || code.starts_with('5'),
            "{what}: {code} {body}"
        );
        assert!(body.contains(says), "{what}: {code} {body}");
    }
    // Nothing was stored, and the console still serves.
    let listed = daemon.cli_json(&["list"]).to_string();
    assert!(!listed.contains("archive_id"), "{listed}");
    let (code, body) = upload("/api/deposit?file_name=a.txt&title=Registre", &small);
    assert_eq!(code, "200", "{body}");
    assert!(body.contains("\"seal\""), "{body}");
    daemon.stop();
}
