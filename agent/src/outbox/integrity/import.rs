//! `tracegate import DIR` at the office: an export from another gateway, verified, read for
//! publishing through this gateway's outbox under the originating gateway's id.
//!
//! ```text
//!  verify (signatures, chain, eventIDs; the pinned key) ── any problem ──▶ refused, nothing stored
//!   ▼
//!  events in chain order ──▶ outbox (op Import): a known eventID is skipped, a new one stored
//!  with its origin, published on {prefix}/{origin}/events
//! ```

use std::path::Path;

use super::export;
use crate::config::GatewayId;
use crate::outbox::store::ImportedEvent;

/// An export ready to import.
#[derive(Debug, Clone)]
pub struct Export {
    /// The gateway that captured it.
    pub origin: String,
    /// Its events, in chain order.
    pub events: Vec<ImportedEvent>,
}

/// Verifies the export in `dir` (signed with `pinned` when given) and reads its events;
/// refused when anything is wrong, or when it is `own` gateway's export.
pub fn read(dir: &Path, pinned: Option<&str>, own: &str) -> Result<Export, String> {
    let report = export::verify(dir, pinned);
    if !report.problems.is_empty() {
        let list: Vec<String> = report
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.place, p.what))
            .collect();
        return Err(format!(
            "the export in {} does not verify, nothing was imported:\n  {}",
            dir.display(),
            list.join("\n  ")
        ));
    }
    let manifest = export::read_manifest(dir).map_err(|p| p.what)?;
    GatewayId::try_from(manifest.gateway.clone()).map_err(|e| {
        format!(
            "the export's gateway id {:?} cannot name a topic: {e}",
            manifest.gateway
        )
    })?;
    if manifest.gateway == own {
        return Err(format!(
            "this is {own}'s own export: its events are in this outbox already"
        ));
    }
    let mut events = Vec::with_capacity(manifest.events as usize);
    for file in &manifest.files {
        let bytes =
            std::fs::read(dir.join(&file.name)).map_err(|e| format!("{}: {e}", file.name))?;
        for raw in export::document_events(&bytes)? {
            let value: serde_json::Value =
                serde_json::from_str(raw).map_err(|e| format!("{}: {e}", file.name))?;
            let event_id = value["eventID"].as_str().unwrap_or_default().to_string();
            let captured_at_ms = value["eventTime"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .map_or_else(
                    || jiff::Timestamp::now().as_millisecond(),
                    |t| t.as_millisecond(),
                );
            events.push(ImportedEvent {
                event_id,
                captured_at_ms,
                body: raw.to_string(),
            });
        }
    }
    Ok(Export {
        origin: manifest.gateway,
        events,
    })
}
