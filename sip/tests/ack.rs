//! Acknowledgements, and replies worded for As@lae clients, validate
//! against the SEDA 2.3 schema.

mod common;

use minutier_sip::atr::{self, AcceptedUnit, ArchivedTransfer, Refusal};
use minutier_sip::{ack, SedaVersion, TransferInfo};

fn transfer() -> TransferInfo {
    TransferInfo {
        message_identifier: "2024-05-12-ACTES-18 & <co>".into(),
        date: "2024-01-02T03:04:05".into(),
        comment: String::new(),
        archival_agreement: "AGR-1".into(),
        archival_agency: "FRAD001".into(),
        transferring_agency: "MAIRIE-42".into(),
    }
}

#[test]
fn acknowledgement_validates() {
    let xml = ack::acknowledgement(
        SedaVersion::V2_3,
        &transfer(),
        "ACK-1",
        "2024-01-02T03:04:05.678Z",
        "Transfert reçu",
    );
    assert!(xml.contains(
        "<MessageReceivedIdentifier>2024-05-12-ACTES-18 &amp; &lt;co&gt;</MessageReceivedIdentifier>"
    ));
    assert!(xml.contains("<Sender>\n    <Identifier>FRAD001</Identifier>"));
    assert!(xml.contains("<Receiver>\n    <Identifier>MAIRIE-42</Identifier>"));
    common::xmllint(&xml);
    // Nothing known but the identifier; no comment.
    let bare = TransferInfo {
        message_identifier: "T".into(),
        ..TransferInfo::default()
    };
    common::xmllint(&ack::acknowledgement(
        SedaVersion::V2_3,
        &bare,
        "",
        "2024-01-02T03:04:05Z",
        "",
    ));
    // The acknowledgement follows the transfer's namespace.
    let v21 = ack::acknowledgement(SedaVersion::V2_1, &bare, "A", "2024-01-02T03:04:05Z", "");
    assert!(v21.contains("xmlns=\"fr:gouv:culture:archivesdefrance:seda:v2.1\""));
}

#[test]
fn asalae_replies_validate() {
    let units = [AcceptedUnit {
        unit_id: "ID3".into(),
        archive_id: "arch-0002".into(),
    }];
    let ok = atr::reply_asalae_at(
        SedaVersion::V2_3,
        &transfer(),
        Ok(ArchivedTransfer {
            archive_id: "arch-0001",
            title: "Bordereau de transfert <1>",
            units: &units,
        }),
        "1 unit archived",
        "ATR-1",
        "2024-01-02T03:04:05Z",
    );
    assert!(ok.contains("<ReplyCode>000</ReplyCode>"));
    assert!(ok.contains("<Comment>1 unit archived</Comment>"));
    // As@lae's clients read the transfer's identifier here...
    assert!(
        ok.contains("<MessageIdentifier>2024-05-12-ACTES-18 &amp; &lt;co&gt;</MessageIdentifier>")
    );
    assert!(ok.contains("<MessageRequestIdentifier>ATR-1</MessageRequestIdentifier>"));
    // ...and the archive's identifier in the one top-level unit.
    assert_eq!(
        ok.matches("<ArchivalAgencyArchiveUnitIdentifier>").count(),
        1
    );
    assert!(ok.contains(
        "<ArchivalAgencyArchiveUnitIdentifier>arch-0001</ArchivalAgencyArchiveUnitIdentifier>"
    ));
    common::xmllint(&ok);

    let ko = atr::reply_asalae_at(
        SedaVersion::V2_3,
        &transfer(),
        Err(Refusal {
            code: "BAD_DIGEST",
            message: "Content/a.pdf: digest <mismatch>",
        }),
        "BAD_DIGEST: Content/a.pdf: digest <mismatch>",
        "ATR-1",
        "2024-01-02T03:04:05Z",
    );
    assert!(ko.contains("<ReplyCode>KO</ReplyCode>"));
    assert!(ko.contains("<OutcomeDetail>BAD_DIGEST</OutcomeDetail>"));
    assert!(ko.contains("<Comment>BAD_DIGEST: Content/a.pdf: digest &lt;mismatch&gt;</Comment>"));
    assert!(!ko.contains("DataObjectPackage"));
    common::xmllint(&ko);
}

#[test]
fn reply_headers_read_back() {
    let t = transfer();
    let xml = atr::reply_at(
        SedaVersion::V2_2,
        &t,
        Ok(&[]),
        "ATR-x",
        "2024-01-02T03:04:05Z",
    );
    let h = atr::read_header(&xml).unwrap();
    assert_eq!(h.version, Some(SedaVersion::V2_2));
    assert_eq!(h.date, "2024-01-02T03:04:05Z");
    assert_eq!(h.message_identifier, "ATR-x");
    assert_eq!(h.reply_code, "OK");
    let back = h.transfer();
    assert_eq!(back.message_identifier, t.message_identifier);
    assert_eq!(back.archival_agreement, t.archival_agreement);
    assert_eq!(back.archival_agency, t.archival_agency);
    assert_eq!(back.transferring_agency, t.transferring_agency);

    assert!(atr::read_header("<ArchiveTransferReply/>").is_err());
    assert!(atr::read_header("<!DOCTYPE x [<!ENTITY a \"b\">]><x/>").is_err());
    assert!(atr::read_header("not xml <").is_err());
}
