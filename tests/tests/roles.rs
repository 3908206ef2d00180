//! Every RPC × every role, allowed or refused as docs/security.md says;
//! plus no certificate, a certificate from another CA, a revoked one and
//! an expired one. Refusals are precise, and counted.

mod common;

use std::path::{Path, PathBuf};

use common::{bundle_parts, channel, channel_as, Daemon};
use minutier_proto::v1 as pb;
use minutier_proto::v1::admin_client::AdminClient;
use minutier_proto::v1::archive_client::ArchiveClient;
use minutier_proto::v1::ingest_request::Part;
use minutier_proto::v1::replication_client::ReplicationClient;
use minutier_proto::v1::transfer_client::TransferClient;
use tonic::transport::Channel;
use tonic::Code;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rpc {
    Ingest,
    Get,
    GetMetadata,
    List,
    GetSeal,
    GetCheckpoint,
    GetConsistencyProof,
    GetRecords,
    IssueCredential,
    RevokeCredential,
    ListCredentials,
    Status,
    WhoAmI,
    GetTimestamps,
    ImportSip,
    GetTransfer,
    GetHealth,
}

use Rpc::*;

/// The role table, written out independently of the daemon's code:
/// (rpc, archivist, dms, auditor, controller, admin).
const TABLE: &[(Rpc, [bool; 5])] = &[
    (Ingest, [true, true, false, false, false]),
    (Get, [true, true, true, true, false]),
    (GetMetadata, [true, true, true, true, false]),
    (List, [true, true, true, true, false]),
    (GetSeal, [true, true, true, true, false]),
    (GetCheckpoint, [true, true, true, true, true]),
    (GetConsistencyProof, [true, true, true, true, true]),
    (GetRecords, [true, false, true, true, false]),
    (IssueCredential, [false, false, false, false, true]),
    (RevokeCredential, [false, false, false, false, true]),
    (ListCredentials, [false, false, false, false, true]),
    (Status, [false, false, false, false, true]),
    (WhoAmI, [true, true, true, true, true]),
    (GetTimestamps, [true, true, true, true, true]),
    (ImportSip, [true, true, false, false, false]),
    (GetTransfer, [true, true, true, true, false]),
    (GetHealth, [true, false, true, true, true]),
];
const ROLES: [&str; 5] = ["archivist", "dms", "auditor", "controller", "admin"];

fn ingest_messages(title: &str, agency: &str, content: &[u8]) -> Vec<pb::IngestRequest> {
    vec![
        pb::IngestRequest {
            part: Some(Part::Header(pb::IngestHeader {
                metadata: Some(pb::DocumentMetadata {
                    title: title.into(),
                    originating_agency: agency.into(),
                    ..Default::default()
                }),
                declared_sha256: String::new(),
                size: 0,
            })),
        },
        pb::IngestRequest {
            part: Some(Part::Chunk(content.to_vec())),
        },
    ]
}

/// Calls `rpc` on `channel`; Ok or the refusal status.
async fn call(
    rpc: Rpc,
    channel: Channel,
    archive_id: &str,
    throwaway: &str,
) -> Result<(), tonic::Status> {
    let mut archive = ArchiveClient::new(channel.clone());
    let mut replication = ReplicationClient::new(channel.clone());
    let mut transfer = TransferClient::new(channel.clone());
    let mut admin = AdminClient::new(channel);
    let id = archive_id.to_owned();
    match rpc {
        Ingest => archive
            .ingest(tokio_stream::iter(ingest_messages(
                "table",
                "MAIRIE-A",
                b"role table",
            )))
            .await
            .map(drop),
        Get => {
            let mut stream = archive
                .get(pb::GetRequest { archive_id: id })
                .await?
                .into_inner();
            while stream.message().await?.is_some() {}
            Ok(())
        }
        GetMetadata => archive
            .get_metadata(pb::GetMetadataRequest { archive_id: id })
            .await
            .map(drop),
        List => archive.list(pb::ListRequest::default()).await.map(drop),
        GetSeal => archive
            .get_seal(pb::GetSealRequest { archive_id: id })
            .await
            .map(drop),
        GetCheckpoint => archive
            .get_checkpoint(pb::GetCheckpointRequest { size: 0 })
            .await
            .map(drop),
        GetConsistencyProof => archive
            .get_consistency_proof(pb::GetConsistencyProofRequest {
                old_size: 1,
                new_size: 0,
            })
            .await
            .map(drop),
        GetRecords => archive
            .get_records(pb::GetRecordsRequest { start: 0, end: 1 })
            .await
            .map(drop),
        IssueCredential => admin
            .issue_credential(pb::IssueCredentialRequest {
                name: "Issued In Table".into(),
                role: "auditor".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        RevokeCredential => admin
            .revoke_credential(pb::RevokeCredentialRequest {
                name: throwaway.into(),
                serial: String::new(),
            })
            .await
            .map(drop),
        ListCredentials => admin
            .list_credentials(pb::ListCredentialsRequest {})
            .await
            .map(drop),
        Status => admin.status(pb::StatusRequest {}).await.map(drop),
        WhoAmI => admin.who_am_i(pb::WhoAmIRequest {}).await.map(drop),
        GetHealth => admin.get_health(pb::GetHealthRequest {}).await.map(drop),
        GetTimestamps => replication
            .get_timestamps(pb::GetTimestampsRequest::default())
            .await
            .map(drop),
        // Not a package: answered with a refused transfer, once allowed.
        ImportSip => transfer
            .import_sip(tokio_stream::iter([
                pb::ImportSipRequest {
                    part: Some(pb::import_sip_request::Part::Header(pb::ImportSipHeader {
                        file_name: "table.zip".into(),
                        size: 4,
                    })),
                },
                pb::ImportSipRequest {
                    part: Some(pb::import_sip_request::Part::Chunk(b"junk".to_vec())),
                },
            ]))
            .await
            .map(drop),
        // No such transfer: NOT_FOUND, once allowed.
        GetTransfer => match transfer
            .get_transfer(pb::GetTransferRequest {
                transferring_agency: "MAIRIE-A".into(),
                message_identifier: "MSG-TABLE".into(),
            })
            .await
        {
            Err(s) if s.code() == Code::NotFound => Ok(()),
            other => other.map(drop),
        },
    }
}

struct Setup {
    _work: tempfile::TempDir,
    daemon: Daemon,
    bundles: Vec<PathBuf>,
    archive_id: String,
}

fn issue(daemon: &Daemon, dir: &Path, name: &str, role: &str, agency: Option<&str>) -> PathBuf {
    let out = dir.join(format!("{}.pem", name.replace(' ', "-")));
    daemon.issue(name, role, agency, &out);
    out
}

fn setup() -> Setup {
    let work = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&work.path().join("data"));
    let w = work.path();
    let bundles = vec![
        daemon.archivist.clone(),
        issue(&daemon, w, "GED Mairie A", "dms", Some("MAIRIE-A")),
        issue(&daemon, w, "Auditrice", "auditor", None),
        issue(&daemon, w, "Contrôle scientifique", "controller", None),
        daemon.data_dir.join("credentials/admin.pem"),
    ];
    let doc = w.join("deliberation.txt");
    std::fs::write(&doc, "Délibération du conseil municipal").unwrap();
    let out = daemon.cli_json(&["ingest", doc.to_str().unwrap(), "--agency", "MAIRIE-A"]);
    let archive_id = out["documents"][0]["archive_id"]
        .as_str()
        .unwrap()
        .to_owned();
    Setup {
        _work: work,
        daemon,
        bundles,
        archive_id,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_for_every_role_is_allowed_or_refused_as_documented() {
    let s = setup();
    for (rpc, allowed) in TABLE {
        for (i, role) in ROLES.iter().enumerate() {
            // Something to revoke, for the one role allowed to.
            let throwaway = format!("Throwaway {rpc:?} {role}");
            issue(&s.daemon, s._work.path(), &throwaway, "auditor", None);
            let channel = channel_as(&s.daemon, &s.bundles[i]).await;
            let outcome = call(*rpc, channel, &s.archive_id, &throwaway).await;
            match (allowed[i], outcome) {
                (true, Ok(())) => {}
                (false, Err(status)) if status.code() == Code::PermissionDenied => {
                    assert!(
                        status.message().contains(&format!("role {role}")),
                        "{rpc:?} as {role}: the refusal should name the role: {}",
                        status.message()
                    );
                    assert!(status.message().contains("may"), "{}", status.message());
                }
                (expected, outcome) => {
                    panic!("{rpc:?} as {role}: expected allowed={expected}, got {outcome:?}")
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dms_acts_only_for_its_own_agency() {
    let s = setup();
    let other = issue(
        &s.daemon,
        s._work.path(),
        "GED Mairie B",
        "dms",
        Some("MAIRIE-B"),
    );
    let mut b = ArchiveClient::new(channel_as(&s.daemon, &other).await);

    let status = b
        .get_metadata(pb::GetMetadataRequest {
            archive_id: s.archive_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("MAIRIE-B"),
        "{}",
        status.message()
    );
    let status = b
        .ingest(tokio_stream::iter(ingest_messages("x", "MAIRIE-A", b"x")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // Its own deposits (agency filled in from the certificate) it sees;
    // the other agency's it does not.
    let own = b
        .ingest(tokio_stream::iter(ingest_messages(
            "own",
            "",
            b"own document",
        )))
        .await
        .unwrap()
        .into_inner();
    let listed = b
        .list(pb::ListRequest::default())
        .await
        .unwrap()
        .into_inner()
        .archives;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].archive_id, own.archive_id);
    assert_eq!(
        listed[0].metadata.as_ref().unwrap().originating_agency,
        "MAIRIE-B"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_foreign_revoked_or_expired_certificate_gets_through() {
    let s = setup();
    let (_, _, ca) = bundle_parts(&s.daemon.archivist);

    // No certificate at all.
    let anonymous = channel(&s.daemon, &ca, None).await;
    let status = ArchiveClient::new(anonymous.clone())
        .get_checkpoint(pb::GetCheckpointRequest { size: 0 })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{}", status.message());
    assert!(
        status.message().contains("credential"),
        "{}",
        status.message()
    );

    // A certificate from another CA, claiming to be an archivist.
    let foreign_key = rcgen::KeyPair::generate().unwrap();
    let mut foreign_ca = rcgen::CertificateParams::default();
    foreign_ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let foreign_ca_cert = foreign_ca.self_signed(&foreign_key).unwrap();
    let issuer = rcgen::Issuer::new(foreign_ca, foreign_key);
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Intrus");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationalUnitName, "archivist");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let _ = foreign_ca_cert;
    let intruder = channel(&s.daemon, &ca, Some((&cert.pem(), &key.serialize_pem()))).await;
    let status = ArchiveClient::new(intruder)
        .get_metadata(pb::GetMetadataRequest {
            archive_id: s.archive_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{}", status.message());
    assert!(
        status.message().contains("not issued by this appliance"),
        "{}",
        status.message()
    );

    // Revoked, on a connection opened before the revocation: effective at
    // once, without restart.
    let leaving = issue(&s.daemon, s._work.path(), "Agent Parti", "archivist", None);
    let mut client = ArchiveClient::new(channel_as(&s.daemon, &leaving).await);
    client.list(pb::ListRequest::default()).await.unwrap();
    let out = s.daemon.cli_admin(&["admin", "revoke", "Agent Parti"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = client.list(pb::ListRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("revoked"), "{}", status.message());
    assert!(
        status.message().contains("archivist"),
        "{}",
        status.message()
    );

    // Expired: a one-second credential, used two seconds later.
    let admin_bundle = s.daemon.data_dir.join("credentials/admin.pem");
    let mut admin = AdminClient::new(channel_as(&s.daemon, &admin_bundle).await);
    let issued = admin
        .issue_credential(pb::IssueCredentialRequest {
            name: "Visite Courte".into(),
            role: "auditor".into(),
            validity_seconds: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let short = s._work.path().join("short.pem");
    std::fs::write(&short, issued.bundle).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let status = ArchiveClient::new(channel_as(&s.daemon, &short).await)
        .get_checkpoint(pb::GetCheckpointRequest { size: 0 })
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::PermissionDenied,
        "{}",
        status.message()
    );
    assert!(status.message().contains("expired"), "{}", status.message());
    assert!(status.message().contains("auditor"), "{}", status.message());

    // Every refusal was counted.
    let status = admin
        .status(pb::StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let reasons: Vec<&str> = status.refusals.iter().map(|r| r.reason.as_str()).collect();
    for reason in ["no-certificate", "unknown-issuer", "revoked", "expired"] {
        assert!(
            reasons.contains(&reason),
            "{reason} not counted: {reasons:?}"
        );
    }
}

#[test]
fn records_name_the_certificate_identity() {
    let s = setup();
    let out = s.daemon.cli_json(&["show", &s.archive_id]);
    let actor = out["actor"].as_str().unwrap();
    assert!(actor.starts_with("Test Archivist [archivist "), "{actor}");
}

/// The lifecycle service's part of the role table:
/// (rpc, archivist, dms, auditor, controller, admin).
#[derive(Debug, Clone, Copy, PartialEq)]
enum LifecycleRpc {
    CorrectMetadata,
    ChangeRules,
    PlaceHold,
    LiftHold,
    GetHistory,
    RetentionDue,
    ProposeElimination,
    DecideElimination,
    ExecuteElimination,
    GetElimination,
    ListEliminations,
    GetJournal,
}

const LIFECYCLE_TABLE: &[(LifecycleRpc, [bool; 5])] = &[
    (
        LifecycleRpc::CorrectMetadata,
        [true, false, false, false, false],
    ),
    (
        LifecycleRpc::ChangeRules,
        [true, false, false, false, false],
    ),
    (LifecycleRpc::PlaceHold, [true, false, false, true, false]),
    (LifecycleRpc::LiftHold, [true, false, false, true, false]),
    (LifecycleRpc::GetHistory, [true, false, true, true, false]),
    (LifecycleRpc::RetentionDue, [true, false, true, true, false]),
    (
        LifecycleRpc::ProposeElimination,
        [true, false, false, false, false],
    ),
    (
        LifecycleRpc::DecideElimination,
        [false, false, false, true, false],
    ),
    (
        LifecycleRpc::ExecuteElimination,
        [true, false, false, false, false],
    ),
    (
        LifecycleRpc::GetElimination,
        [true, false, true, true, false],
    ),
    (
        LifecycleRpc::ListEliminations,
        [true, false, true, true, false],
    ),
    (LifecycleRpc::GetJournal, [false, false, true, true, false]),
];

/// Calls a lifecycle RPC about things that do not exist: allowed callers
/// get past the role check (and then NOT_FOUND or an answer).
async fn call_lifecycle(rpc: LifecycleRpc, channel: Channel) -> Result<(), tonic::Status> {
    use minutier_proto::v1::lifecycle_client::LifecycleClient;
    let mut c = LifecycleClient::new(channel);
    let nope = || "nope".to_owned();
    match rpc {
        LifecycleRpc::CorrectMetadata => c
            .correct_metadata(pb::CorrectMetadataRequest {
                archive_id: nope(),
                metadata: Some(pb::DocumentMetadata {
                    title: "t".into(),
                    ..Default::default()
                }),
            })
            .await
            .map(drop),
        LifecycleRpc::ChangeRules => c
            .change_rules(pb::ChangeRulesRequest {
                archive_id: nope(),
                rules: None,
            })
            .await
            .map(drop),
        LifecycleRpc::PlaceHold => c
            .place_hold(pb::PlaceHoldRequest {
                archive_id: nope(),
                reason: "r".into(),
                end_date: String::new(),
            })
            .await
            .map(drop),
        LifecycleRpc::LiftHold => c
            .lift_hold(pb::LiftHoldRequest {
                archive_id: nope(),
                hold_id: nope(),
            })
            .await
            .map(drop),
        LifecycleRpc::GetHistory => c
            .get_history(pb::GetHistoryRequest { archive_id: nope() })
            .await
            .map(drop),
        LifecycleRpc::RetentionDue => c
            .retention_due(pb::RetentionDueRequest::default())
            .await
            .map(drop),
        LifecycleRpc::ProposeElimination => c
            .propose_elimination(pb::ProposeEliminationRequest {
                archive_ids: vec![nope()],
                reason: "r".into(),
            })
            .await
            .map(drop),
        LifecycleRpc::DecideElimination => c
            .decide_elimination(pb::DecideEliminationRequest {
                elimination_id: nope(),
                approve: true,
                reason: String::new(),
            })
            .await
            .map(drop),
        LifecycleRpc::ExecuteElimination => c
            .execute_elimination(pb::ExecuteEliminationRequest {
                elimination_id: nope(),
            })
            .await
            .map(drop),
        LifecycleRpc::GetElimination => c
            .get_elimination(pb::GetEliminationRequest {
                elimination_id: nope(),
            })
            .await
            .map(drop),
        LifecycleRpc::ListEliminations => c
            .list_eliminations(pb::ListEliminationsRequest {})
            .await
            .map(drop),
        LifecycleRpc::GetJournal => c
            .get_journal(pb::GetJournalRequest::default())
            .await
            .map(drop),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lifecycle_rpc_for_every_role_is_allowed_or_refused_as_documented() {
    let s = setup();
    for (rpc, allowed) in LIFECYCLE_TABLE {
        for (i, role) in ROLES.iter().enumerate() {
            let channel = channel_as(&s.daemon, &s.bundles[i]).await;
            let outcome = call_lifecycle(*rpc, channel).await;
            let refused_for_role = matches!(&outcome, Err(status)
                if status.code() == Code::PermissionDenied
                    && status.message().contains(&format!("role {role}")));
            match (allowed[i], &outcome) {
                (true, Ok(())) => {}
                // Past the role check, the lifecycle finds nothing to act on.
                (true, Err(status))
                    if matches!(status.code(), Code::NotFound | Code::FailedPrecondition) => {}
                (false, _) if refused_for_role => {}
                (expected, outcome) => {
                    panic!("{rpc:?} as {role}: expected allowed={expected}, got {outcome:?}")
                }
            }
        }
    }
}
