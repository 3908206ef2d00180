//! Transfer replies validate against the SEDA 2.3 schema.

mod common;

use common::xmllint;

use minutier_sip::atr::{self, AcceptedUnit};
use minutier_sip::{code, Limits, Package, Rejection, SedaVersion, TransferInfo};

fn transfer() -> TransferInfo {
    TransferInfo {
        message_identifier: "MSG <1> & co".into(),
        date: "2024-01-02T03:04:05".into(),
        comment: String::new(),
        archival_agreement: "AGR-1".into(),
        archival_agency: "FRAD001".into(),
        transferring_agency: "MAIRIE-42".into(),
    }
}

#[test]
fn ok_reply_validates() {
    let units = [
        AcceptedUnit {
            unit_id: "ID3".into(),
            archive_id: "arch-0001".into(),
        },
        AcceptedUnit {
            unit_id: "ID4".into(),
            archive_id: "arch-0002".into(),
        },
    ];
    let xml = atr::reply(SedaVersion::V2_3, &transfer(), Ok(&units));
    assert!(xml.contains("<ReplyCode>OK</ReplyCode>"));
    assert!(xml.contains("MSG &lt;1&gt; &amp; co"));
    assert!(xml.contains("arch-0002"));
    xmllint(&xml);
    // No unit at all (a transfer of descriptions only is still a reply).
    xmllint(&atr::reply(SedaVersion::V2_3, &transfer(), Ok(&[])));
}

#[test]
fn ko_reply_validates() {
    let r = Rejection::new(
        code::BAD_DIGEST,
        "BinaryDataObject ID7: Content/a.txt <mismatch>\n",
    );
    let xml = atr::reply(SedaVersion::V2_3, &transfer(), Err(&r));
    assert!(xml.contains("<ReplyCode>KO</ReplyCode>"));
    assert!(xml.contains("<OutcomeDetail>BAD_DIGEST</OutcomeDetail>"));
    xmllint(&xml);
    // Nothing known of the transfer (unreadable manifest).
    xmllint(&atr::reply(
        SedaVersion::V2_3,
        &TransferInfo::default(),
        Err(&r),
    ));
}

#[test]
fn replies_for_reference_packages_validate_as_2_3() {
    let dir = common::seda_dir().join("sips");
    for (rel, ok) in [
        ("ok/OK_SIP_2_GO.zip", true),
        ("ko/KO_MANIFESTE-URI.zip", false),
    ] {
        let out = minutier_sip::check_file(dir.join(rel), Limits::default());
        let t = out.transfer.clone().unwrap();
        let xml = match &out.result {
            Ok(plan) => {
                assert!(ok);
                let units: Vec<AcceptedUnit> = plan
                    .units
                    .iter()
                    .map(|u| AcceptedUnit {
                        unit_id: u.id.clone(),
                        archive_id: format!("a-{}", u.id),
                    })
                    .collect();
                atr::reply(SedaVersion::V2_3, &t, Ok(&units))
            }
            Err(r) => {
                assert!(!ok);
                atr::reply(SedaVersion::V2_3, &t, Err(r))
            }
        };
        xmllint(&xml);
    }
    // The reply follows the package's namespace.
    let pkg = Package::open(dir.join("ok/OK_RATP.zip"), Limits::default()).unwrap();
    let plan = pkg.plan().unwrap();
    let xml = atr::reply(plan.version, &plan.transfer, Ok(&[]));
    assert!(xml.contains("xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\""));
}

#[test]
fn dates() {
    assert_eq!(atr::format_utc(0), "1970-01-01T00:00:00Z");
    assert_eq!(atr::format_utc(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(atr::format_utc(1_704_164_645), "2024-01-02T03:04:05Z");
}
