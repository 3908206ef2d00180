//! The reference packages: every OK package yields a plan, every KO
//! package is refused for the defect it carries.

mod common;

use minutier_sip::{code, FinalAction, Limits, Package};

fn open_plan(rel: &str) -> Result<minutier_sip::TransferPlan, minutier_sip::Rejection> {
    let path = common::seda_dir().join("sips").join(rel);
    assert!(path.exists(), "missing test package {}", path.display());
    Package::open(&path, Limits::default())?.plan()
}

#[test]
fn ok_packages_validate() {
    // (package, documents, units)
    let cases = [
        ("ok/1_UNIT_1_GOTS_1MB.zip", 1, 1),
        ("ok/OK_ARBO_rateau.zip", 10, 17),
        ("ok/OK_EMPRT_SHA256_2.zip", 1, 2),
        ("ok/OK_RATP.zip", 4, 28),
        ("ok/OK_RULES_COMPLEXE_COMPLETE.zip", 4, 28),
        ("ok/OK_SIP_2_GO.zip", 4, 7),
        ("ok/OK_Test_Agencies.zip", 1, 1),
        ("ok/SIP_OK_HoldRules_ManagementMetadata.zip", 0, 8),
    ];
    for (pkg, docs, units) in cases {
        let plan = open_plan(pkg).unwrap_or_else(|r| panic!("{pkg}: {r}"));
        assert_eq!(plan.documents.len(), docs, "{pkg}: documents");
        assert_eq!(plan.units.len(), units, "{pkg}: units");
        assert_eq!(plan.manifest.path, "manifest.xml", "{pkg}");
        assert!(!plan.manifest.bytes.is_empty());
        assert_eq!(plan.version, minutier_sip::SedaVersion::V2_1);
        for d in &plan.documents {
            assert!(!d.metadata.file_name.is_empty(), "{pkg}: {}", d.object_id);
        }
        // Each content read once, in the plan's order, with its SHA-256.
        let path = common::seda_dir().join("sips").join(pkg);
        let package = Package::open(&path, Limits::default()).unwrap();
        let contents = package
            .read_contents(&plan, |_, r| {
                let mut bytes = Vec::new();
                r.read_to_end(&mut bytes).map(|_| bytes).map_err(|e| {
                    minutier_sip::Rejection::new(code::UNREADABLE_PACKAGE, e.to_string())
                })
            })
            .unwrap_or_else(|r| panic!("{pkg}: {r}"));
        assert_eq!(contents.len(), docs, "{pkg}");
        for (c, d) in contents.iter().zip(&plan.documents) {
            assert_eq!(c.size, d.size, "{pkg}: {}", d.object_id);
            assert_eq!(c.staged.len() as u64, d.size, "{pkg}: {}", d.object_id);
            assert_eq!(hex::encode(c.sha256), common::sha256_hex(&c.staged));
        }
    }
}

#[test]
fn metadata_mapping() {
    let plan = open_plan("ok/OK_Test_Agencies.zip").unwrap();
    let d = &plan.documents[0];
    assert_eq!(d.object_id, "ID009");
    assert_eq!(d.unit_id, "ID026");
    assert_eq!(d.path, "Content/5zC1uD6CvaYDipUhETOyUWVEbxHmE1.pdf");
    assert_eq!(d.size, 29403);
    assert_eq!(d.metadata.title, "Sed blandit mi dolor");
    assert_eq!(d.metadata.originating_agency, "VitamTNR");
    assert_eq!(d.metadata.submission_agency, "VitamTNR");
    assert_eq!(d.metadata.media_type, "application/pdf");
    assert_eq!(d.metadata.file_name, "Filename0");
    assert_eq!(plan.transfer.archival_agency, "Identifier2");
    assert_eq!(plan.transfer.transferring_agency, "Identifier3");

    let plan = open_plan("ok/SIP_OK_HoldRules_ManagementMetadata.zip").unwrap();
    let unit = |id: &str| plan.units.iter().find(|u| u.id == id).unwrap();
    let u2 = unit("ID02");
    let a = u2.metadata.rules.primary_appraisal().unwrap();
    assert_eq!(a.rule_id, "APP-00002");
    assert_eq!(a.start_date.as_deref(), Some("2000-01-01"));
    assert_eq!(a.final_action, Some(FinalAction::Keep));
    assert_eq!(a.duration_years, None);
    let holds: Vec<&str> = u2
        .metadata
        .rules
        .holds
        .iter()
        .map(|h| h.hold_id.as_str())
        .collect();
    // HOL-00003 inherited from ManagementMetadata, HOL-00001 its own.
    assert_eq!(holds, ["HOL-00003", "HOL-00001"]);
    assert_eq!(u2.metadata.rules.holds[1].reason, "Motif du gel");
    // ID04 redeclares HOL-00002 with an end date.
    let h = unit("ID04")
        .metadata
        .rules
        .holds
        .iter()
        .find(|h| h.hold_id == "HOL-00002")
        .unwrap();
    assert_eq!(h.end_date.as_deref(), Some("2010-01-01"));
    // ID06 excludes HOL-00001 (inherited from ID03) by RefNonRuleId.
    assert!(!unit("ID06")
        .metadata
        .rules
        .holds
        .iter()
        .any(|h| h.hold_id == "HOL-00001"));
    // ID07 blocks inheritance of holds.
    assert!(unit("ID07").metadata.rules.holds.is_empty());
    assert_eq!(unit("ID05").parent_ids, ["ID02"]);

    let plan = open_plan("ok/OK_RULES_COMPLEXE_COMPLETE.zip").unwrap();
    let unit = |id: &str| plan.units.iter().find(|u| u.id == id).unwrap();
    let acc = |id: &str| -> Vec<(String, Option<String>)> {
        unit(id)
            .metadata
            .rules
            .access
            .iter()
            .map(|a| (a.rule_id.clone(), a.start_date.clone()))
            .collect()
    };
    let d2000 = Some("2000-01-01".to_string());
    // Inherits ACC-00002 from ManagementMetadata.
    assert_eq!(acc("ID4"), [("ACC-00002".to_string(), d2000.clone())]);
    // Blocks inheritance of access rules.
    assert!(acc("ID6").is_empty());
    // Own ACC-00003 on top of the inherited ACC-00002.
    assert_eq!(
        acc("ID16"),
        [
            ("ACC-00002".to_string(), d2000.clone()),
            ("ACC-00003".to_string(), d2000.clone())
        ]
    );
    // Redeclares ACC-00002 with another start date.
    assert!(acc("ID18").contains(&("ACC-00002".to_string(), Some("2002-01-01".to_string()))));
    assert!(!acc("ID18").contains(&("ACC-00002".to_string(), d2000)));
}

fn ko(rel: &str, expected: &str, culprit: &str) {
    let err = open_plan(rel).expect_err(rel);
    assert_eq!(err.code, expected, "{rel}: {err}");
    assert!(
        err.message.contains(culprit),
        "{rel}: {err} does not name {culprit}"
    );
}

#[test]
fn ko_packages_are_rejected() {
    ko("ko/DIGEST_VIDE.zip", code::EMPTY_DIGEST, "ID7");
    ko(
        "ko/KO_BORD_empreinte_KO.zip",
        code::SIZE_MISMATCH,
        "content/8vE3zlF1OVVSaJxIIHyGgnt3jqaxIL.pdf",
    );
    ko(
        "ko/KO_BORD_xmlKO_sansobjet.zip",
        code::MALFORMED_MANIFEST,
        "manifest",
    );
    ko(
        "ko/KO_DEUX-Manifest.zip",
        code::MULTIPLE_MANIFESTS,
        "manifest-copy.xml",
    );
    ko(
        "ko/KO_MANIFESTE-URI.zip",
        code::MISSING_FILE,
        "Toto/ID5.pdf",
    );
}

#[test]
fn check_file_reports_transfer_for_replies() {
    let out = minutier_sip::check_file(
        common::seda_dir().join("sips/ko/KO_MANIFESTE-URI.zip"),
        Limits::default(),
    );
    assert!(out.result.is_err());
    assert_eq!(out.version, Some(minutier_sip::SedaVersion::V2_1));
    assert!(!out.transfer.unwrap().message_identifier.is_empty());
}
