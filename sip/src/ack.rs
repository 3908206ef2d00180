//! `Acknowledgement`: the receipt of a message, sent before the message is
//! processed, in the SEDA version of the message received.

use crate::atr::escape;
use crate::manifest::{SedaVersion, TransferInfo};

/// Builds the acknowledgement of a transfer: `MessageReceivedIdentifier` is
/// the transfer's `MessageIdentifier`, the sender is the archival agency
/// (which received it) and the receiver the transferring agency. `date`
/// is an xsd:dateTime; `comment` may be empty.
pub fn acknowledgement(
    version: SedaVersion,
    transfer: &TransferInfo,
    identifier: &str,
    date: &str,
    comment: &str,
) -> String {
    let token = |s: &str, fallback: &str| {
        let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
        escape(if t.is_empty() { fallback } else { &t })
    };
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<Acknowledgement xmlns=\"{}\">\n",
        version.namespace()
    ));
    if !comment.trim().is_empty() {
        x.push_str(&format!("  <Comment>{}</Comment>\n", escape(comment)));
    }
    x.push_str(&format!("  <Date>{}</Date>\n", escape(date)));
    x.push_str(&format!(
        "  <MessageIdentifier>{}</MessageIdentifier>\n",
        token(identifier, "ACK")
    ));
    x.push_str(&format!(
        "  <MessageReceivedIdentifier>{}</MessageReceivedIdentifier>\n",
        token(&transfer.message_identifier, "unknown")
    ));
    x.push_str(&format!(
        "  <Sender>\n    <Identifier>{}</Identifier>\n  </Sender>\n",
        token(&transfer.archival_agency, "unknown")
    ));
    x.push_str(&format!(
        "  <Receiver>\n    <Identifier>{}</Identifier>\n  </Receiver>\n",
        token(&transfer.transferring_agency, "unknown")
    ));
    x.push_str("</Acknowledgement>\n");
    x
}
