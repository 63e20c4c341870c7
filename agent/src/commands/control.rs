//! The control socket: a Unix socket on which the daemon answers local tools
//! (`tracegate status`, `tracegate cmd`). One JSON request per line, one JSON answer per line.
//!
//! Requests: `{"cmd":"status"}` (answer: the status report) and
//! `{"cmd":"command","name":"output","args":{…}}` (answer: the command's final reply, from the
//! same router the platform's commands go through); `{"cmd":"import","dir":"…","key":"…"}`
//! (answer: how many events of another gateway's export were queued and skipped, or the
//! export's problems); `{"cmd":"mark-exported","first":…,"last":…,"delivered":…}` (after
//! `tracegate export`: answer how many were marked); `{"error":"…"}` for a bad request.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use crate::commands::Router;
use crate::ops::status::StatusCollector;

/// A bound control socket.
#[derive(Debug)]
pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
enum Request {
    Status,
    Import {
        dir: PathBuf,
        #[serde(default)]
        key: Option<String>,
    },
    MarkExported {
        first: i64,
        last: i64,
        delivered: bool,
    },
    Command {
        name: String,
        #[serde(default)]
        args: serde_json::Map<String, serde_json::Value>,
    },
}

/// Request id of commands from the control socket (their replies stay on the socket).
const LOCAL_ID: &str = "local";

impl ControlServer {
    /// Binds `path`, replacing a stale socket left by a crashed daemon.
    pub fn bind(path: &Path) -> std::io::Result<ControlServer> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        if path.exists() {
            // The outbox lock already guarantees no other daemon runs on this config, so
            // whatever is here is left over from a crash.
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        // Owner and group only: the socket reveals queue and device details.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
        Ok(ControlServer {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// Answers requests until `cancel`, then removes the socket file.
    pub async fn serve(
        self,
        status: Arc<StatusCollector>,
        router: Router,
        cancel: CancellationToken,
    ) {
        loop {
            let accepted = tokio::select! {
                _ = cancel.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(answer(stream, status.clone(), router.clone()));
                }
                Err(e) => {
                    tracing::warn!(socket = %self.path.display(), "control socket accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn answer(stream: UnixStream, status: Arc<StatusCollector>, router: Router) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read.take(64 * 1024)).lines();
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await
    {
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(Request::Status) => {
                let status = status.clone();
                match tokio::task::spawn_blocking(move || status.report()).await {
                    Ok(report) => serde_json::to_vec(&report).unwrap_or_default(),
                    Err(e) => error_json(&format!("status failed: {e}")),
                }
            }
            Ok(Request::Import { dir, key }) => import(&status, dir, key).await,
            Ok(Request::MarkExported {
                first,
                last,
                delivered,
            }) => {
                let marked = status.store().mark_exported(first, last, delivered).await;
                serde_json::to_vec(&serde_json::json!({ "ok": true, "marked": marked }))
                    .unwrap_or_default()
            }
            Ok(Request::Command { name, mut args }) => {
                args.insert("id".into(), LOCAL_ID.into());
                let payload = serde_json::to_vec(&args).unwrap_or_default();
                router.final_reply(&name, &payload).await
            }
            Err(e) => error_json(&format!("bad request: {e}")),
        };
        if write.write_all(&reply).await.is_err() || write.write_all(b"\n").await.is_err() {
            break;
        }
    }
}

/// Verifies and imports another gateway's export through this gateway's outbox.
async fn import(status: &Arc<StatusCollector>, dir: PathBuf, key: Option<String>) -> Vec<u8> {
    let own = status.gateway().to_string();
    let read = tokio::task::spawn_blocking(move || {
        crate::outbox::integrity::import::read(&dir, key.as_deref(), &own)
    })
    .await;
    let export = match read {
        Ok(Ok(export)) => export,
        Ok(Err(e)) => return error_json(&e),
        Err(e) => return error_json(&format!("import failed: {e}")),
    };
    let total = export.events.len();
    let origin = export.origin.clone();
    match status.store().import(export.origin, export.events).await {
        Ok(counts) => {
            tracing::info!(
                origin = %origin,
                new = counts.new,
                skipped = counts.skipped,
                refused = counts.refused,
                "imported {origin}'s export: {} new events queued for {origin}'s topic, {} imported before",
                counts.new,
                counts.skipped
            );
            status.imported(&origin, counts);
            let refused = (counts.refused > 0).then(|| {
                format!(
                    "{} events were refused: the outbox is full (store.max_events / store.max_bytes); free room and import again (the rest is skipped)",
                    counts.refused
                )
            });
            serde_json::to_vec(&serde_json::json!({
                "ok": refused.is_none(),
                "error": refused,
                "origin": origin,
                "events": total,
                "new": counts.new,
                "skipped": counts.skipped,
                "refused": counts.refused,
            }))
            .unwrap_or_default()
        }
        Err(e) => error_json(&format!("import failed: {e}")),
    }
}

fn error_json(message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "error": message })).unwrap_or_default()
}

/// Sends one request to the daemon at `path` and returns its answer (within 30 s).
pub async fn request(
    path: &Path,
    request: &serde_json::Value,
) -> std::io::Result<serde_json::Value> {
    request_within(path, request, Duration::from_secs(30)).await
}

/// Sends one request to the daemon at `path` and returns its answer, waiting `wait` for it
/// (an import verifies and stores a whole export before it answers).
pub async fn request_within(
    path: &Path,
    request: &serde_json::Value,
    wait: Duration,
) -> std::io::Result<serde_json::Value> {
    let stream = tokio::time::timeout(Duration::from_secs(2), UnixStream::connect(path))
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "control socket connect timed out",
            )
        })??;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    let mut answer = String::new();
    tokio::time::timeout(wait, BufReader::new(read).read_line(&mut answer))
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer from the daemon")
        })??;
    serde_json::from_str(&answer).map_err(std::io::Error::other)
}
