//! `tracegate export --to DIR` (the backlog for a USB stick, signed), `tracegate verify
//! DIR|FILE` (an export or an outbox, checked anywhere, without the gateway's config) and
//! `tracegate import DIR` (another gateway's export, through the running daemon).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Config;
use crate::outbox::integrity::export::{self, Range};
use crate::outbox::integrity::verify::Problem;
use crate::outbox::signing::key::GatewayKey;

/// `tracegate export` arguments.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The config file: the outbox and the gateway key.
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// The directory to write the export to (a USB stick's; created when absent, must hold
    /// no earlier export).
    #[arg(long)]
    pub to: PathBuf,
    /// Every event still in the outbox, delivered or not (default: the undelivered backlog).
    #[arg(long, conflicts_with_all = ["from_seq", "to_seq"])]
    pub all: bool,
    /// From this seq (with --to-seq).
    #[arg(long, requires = "to_seq")]
    pub from_seq: Option<i64>,
    /// To this seq.
    #[arg(long, requires = "from_seq")]
    pub to_seq: Option<i64>,
}

/// `tracegate verify` arguments.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// An export directory (or its manifest.json), or an outbox file.
    pub path: PathBuf,
    /// The gateway's public key (hex, or `ed25519:HEX`, as `tracegate status` shows it): the
    /// export or outbox must be signed with it. Without it, the key the data carries is used,
    /// which proves integrity but not origin.
    #[arg(long)]
    pub key: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `tracegate import` arguments.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The config file of the gateway that imports (its control socket).
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// The export directory (the stick).
    pub dir: PathBuf,
    /// The originating gateway's public key (hex or `ed25519:HEX`): the export must be
    /// signed with it.
    #[arg(long)]
    pub key: Option<String>,
}

/// The import request for the daemon (the directory made absolute: the daemon's working
/// directory is not the caller's).
pub fn import_request(args: &ImportArgs) -> anyhow::Result<serde_json::Value> {
    let dir = std::path::absolute(&args.dir).with_context(|| format!("{}", args.dir.display()))?;
    Ok(serde_json::json!({"cmd": "import", "dir": dir, "key": args.key}))
}

/// Writes the export; a line saying what was written.
pub fn export(args: &ExportArgs) -> anyhow::Result<String> {
    let config = Config::load_for_tools(&args.config.config, &crate::capture::devices::builtin())?;
    let (key, _) = GatewayKey::load_or_create_for(
        &config.integrity.key_file,
        &config.integrity.algorithm,
    )
    .with_context(|| {
        "the export is signed with the gateway's key (integrity.key_file); run as a user who can read it"
    })?;
    let range = match (args.all, args.from_seq, args.to_seq) {
        (true, _, _) => Range::All,
        (false, Some(first), Some(last)) => Range::Seqs(first, last),
        _ => Range::Backlog,
    };
    let written = export::write(
        &config.store.path,
        &args.to,
        range,
        &key,
        &config.gateway.id.to_string(),
    )
    .map_err(anyhow::Error::msg)?;
    let m = &written.manifest;
    let marked = mark_exported(&config, &key, m.first_seq, m.last_seq)?;
    let mut line = format!(
        "exported {} events (seq {}..={}) in {} files to {}, signed by {}:{}",
        m.events,
        m.first_seq,
        m.last_seq,
        m.files.len(),
        written.dir.display(),
        m.algorithm,
        m.public_key
    );
    line.push_str(&format!(
        "\n{marked} events marked exported; {}",
        if config.integrity.deliver_exported {
            "they still go out over MQTT when the link returns (integrity.deliver_exported)"
        } else {
            "they will not go out over MQTT (integrity.deliver_exported = false)"
        }
    ));
    for p in &m.problems {
        line.push_str(&format!("\nWARNING {}: {}", p.place, p.what));
    }
    Ok(line)
}

/// Marks `first..=last` exported through the running daemon's outbox writer, or — no daemon
/// running — through a writer of our own (the outbox lock says which).
fn mark_exported(config: &Config, key: &GatewayKey, first: i64, last: i64) -> anyhow::Result<u64> {
    let delivered = !config.integrity.deliver_exported;
    let request = serde_json::json!({
        "cmd": "mark-exported", "first": first, "last": last, "delivered": delivered,
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let socket = config.control_socket();
    if let Ok(reply) = runtime.block_on(crate::commands::control::request(&socket, &request)) {
        return Ok(reply["marked"].as_u64().unwrap_or(0));
    }
    let signer = std::sync::Arc::new(crate::outbox::store::ChainSigner {
        key: key.clone(),
        gateway: config.gateway.id.to_string(),
    });
    let (store, thread) = crate::outbox::store::Store::open_signed(&config.store, Some(signer))
        .context(
            "no daemon answered and the outbox cannot be opened to mark the exported events",
        )?;
    let marked = runtime.block_on(async {
        let n = store.mark_exported(first, last, delivered).await;
        store.close().await;
        n
    });
    drop(store);
    thread.join();
    Ok(marked)
}

/// What was checked and what was found.
#[derive(Debug, serde::Serialize)]
pub struct Verdict {
    /// `export` or `outbox`.
    pub kind: &'static str,
    /// Events checked.
    pub events: u64,
    /// Good signatures.
    pub signatures: u64,
    /// The gateway.
    pub gateway: Option<String>,
    /// The key that signed.
    pub key: Option<String>,
    /// Whether the key was given by the caller.
    pub key_pinned: bool,
    /// What is wrong (empty: nothing).
    pub problems: Vec<Problem>,
}

/// Checks `args.path`.
pub fn verify(args: &VerifyArgs) -> anyhow::Result<Verdict> {
    let path = &args.path;
    let dir: Option<&Path> = if path.is_dir() {
        Some(path)
    } else if path.file_name().is_some_and(|n| n == export::MANIFEST) {
        path.parent()
    } else {
        None
    };
    Ok(match dir {
        Some(dir) => {
            let r = export::verify(dir, args.key.as_deref());
            Verdict {
                kind: "export",
                events: r.events,
                signatures: r.signatures,
                gateway: Some(r.gateway).filter(|g| !g.is_empty()),
                key: Some(r.key).filter(|k| k.contains(':') && k.len() > 8),
                key_pinned: args.key.is_some(),
                problems: r.problems,
            }
        }
        None => {
            anyhow::ensure!(path.exists(), "{} does not exist", path.display());
            let r = crate::outbox::integrity::outbox::verify(path, args.key.as_deref())
                .map_err(anyhow::Error::msg)?;
            Verdict {
                kind: "outbox",
                events: r.events,
                signatures: r.signatures,
                gateway: r.gateway,
                key: r.key,
                key_pinned: args.key.is_some(),
                problems: r.problems,
            }
        }
    })
}

/// The verdict in words.
pub fn render(v: &Verdict) -> String {
    let mut out = String::new();
    let who = match (&v.gateway, &v.key) {
        (Some(g), Some(k)) => format!(
            "gateway {g}, key {k}{}",
            if v.key_pinned {
                ""
            } else {
                " (taken from the data itself: pass --key with the gateway's published key to prove origin)"
            }
        ),
        _ => "unsigned".into(),
    };
    if v.problems.is_empty() {
        out.push_str(&format!(
            "OK: {} {} events, chain and {} signatures hold; {who}\n",
            v.kind, v.events, v.signatures
        ));
    } else {
        out.push_str(&format!(
            "FAILED: {} problem(s) in this {} ({} events read; {who})\n",
            v.problems.len(),
            v.kind,
            v.events
        ));
        for p in &v.problems {
            out.push_str(&format!("  {}: {}\n", p.place, p.what));
        }
    }
    out
}
