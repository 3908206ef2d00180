//! The messages Pastell fetches for a transfer, made from its kept outcome:
//! the `Acknowledgement` (available once the transfer was received,
//! accepted or not) and the `ArchiveTransferReply` worded as As@lae does.

use minutier_sip::atr::{self, AcceptedUnit, ArchivedTransfer, Refusal};
use minutier_sip::{ack, TransferInfo};

use crate::archive::TransferOutcome;
use crate::error::{Error, Result};

/// What the kept reply says of the transfer.
fn header(outcome: &TransferOutcome) -> Result<(atr::ReplyHeader, TransferInfo)> {
    let header = atr::read_header(&outcome.reply).map_err(|r| {
        Error::Storage(format!(
            "the kept reply of transfer {:?} cannot be read: {r}",
            outcome.message_identifier
        ))
    })?;
    let transfer = TransferInfo {
        message_identifier: outcome.message_identifier.clone(),
        transferring_agency: outcome.transferring_agency.clone(),
        ..header.transfer()
    };
    Ok((header, transfer))
}

/// The acknowledgement of a received transfer.
pub fn acknowledgement(outcome: &TransferOutcome) -> Result<String> {
    let (header, transfer) = header(outcome)?;
    let version = header.version.expect("read_header requires a version");
    Ok(ack::acknowledgement(
        version,
        &transfer,
        &format!("ACK-{}", outcome.message_identifier),
        &outcome.decided_at,
        &format!("Transfer {} received", outcome.message_identifier),
    ))
}

/// The reply to a transfer, for As@lae clients.
pub fn transfer_reply(outcome: &TransferOutcome) -> Result<String> {
    let (header, transfer) = header(outcome)?;
    let version = header.version.expect("read_header requires a version");
    let units: Vec<AcceptedUnit> = outcome
        .archives
        .iter()
        .filter(|a| !a.unit_id.is_empty())
        .map(|a| AcceptedUnit {
            unit_id: a.unit_id.clone(),
            archive_id: a.archive_id.clone(),
        })
        .collect();
    let manifest = outcome.archives.iter().find(|a| a.unit_id.is_empty());
    let (verdict, comment) = match (outcome.accepted, manifest) {
        (true, Some(m)) => (
            Ok(ArchivedTransfer {
                archive_id: &m.archive_id,
                title: &m.title,
                units: &units,
            }),
            outcome.message.clone(),
        ),
        (true, None) => {
            return Err(Error::Storage(format!(
                "the kept outcome of transfer {:?} names no manifest archive",
                outcome.message_identifier
            )))
        }
        (false, _) => (
            Err(Refusal {
                code: &outcome.code,
                message: &outcome.message,
            }),
            format!("{}: {}", outcome.code, outcome.message),
        ),
    };
    Ok(atr::reply_asalae_at(
        version,
        &transfer,
        verdict,
        &comment,
        &header.message_identifier,
        &header.date,
    ))
}
