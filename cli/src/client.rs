//! Connection to minutierd.

use std::time::Duration;

use anyhow::anyhow;
use minutier_proto::v1::archive_client::ArchiveClient;
use minutier_proto::v1::GetCheckpointRequest;
use tonic::transport::{Channel, Endpoint};

use crate::error::{rpc, usage};

/// Where minutierd listens by default (see the daemon's configuration).
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7370";

/// Seals, record pages and proofs can be large; documents arrive in chunks,
/// but keep a wide margin so no legitimate message is ever refused.
const MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;

pub type Client = ArchiveClient<Channel>;

/// Connects eagerly, so that an unreachable daemon is reported once, clearly,
/// before any work starts.
pub async fn connect(server: &str) -> anyhow::Result<Client> {
    // Accept "host:port" as well as a full URL: operators type both.
    let url = if server.contains("://") {
        server.to_owned()
    } else {
        format!("http://{server}")
    };
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|e| usage(format!("invalid server address {server:?}: {e}")))?
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        // Larger HTTP/2 windows than the 64 KiB default keep bulk downloads
        // from stalling on window updates.
        .initial_stream_window_size(Some(8 * 1024 * 1024))
        .initial_connection_window_size(Some(32 * 1024 * 1024));
    let channel = endpoint.connect().await.map_err(|e| {
        anyhow!(
            "cannot connect to {url}: {}; check that minutierd is running and listening there \
             (--server or MINUTIER_SERVER)",
            error_chain(&e)
        )
    })?;
    Ok(ArchiveClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE))
}

/// The log's latest checkpoint and its verifier key, as the server states them.
pub struct ServerCheckpoint {
    pub checkpoint: String,
    pub size: u64,
    pub verifier_key: String,
}

pub async fn latest_checkpoint(client: &mut Client) -> anyhow::Result<ServerCheckpoint> {
    let resp = rpc(client
        .get_checkpoint(GetCheckpointRequest { size: 0 })
        .await)?;
    Ok(ServerCheckpoint {
        checkpoint: resp.checkpoint,
        size: resp.size,
        verifier_key: resp.verifier_key,
    })
}

/// tonic's transport errors say only "transport error" at the top; the
/// cause (connection refused, DNS failure...) is further down the chain.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}
