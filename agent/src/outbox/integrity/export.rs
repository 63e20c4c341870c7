//! Exports for the road (`tracegate export --to DIR`) and their check (`tracegate verify DIR`).
//!
//! An export is a directory: EPCIS 2.0 documents holding the events exactly as stored (each
//! file one unbroken stretch of the chain, at most [`EVENTS_PER_FILE`] events), and
//! `manifest.json`, signed by the gateway: who, with which public key, which seqs, the link
//! the first event chains from and the last link, each file's SHA-256, count and last link,
//! the signed gaps and chain starts in between.
//!
//! ```text
//!  write each file as NAME.tmp ─▶ fsync ─▶ rename to NAME ─▶ … ─▶ manifest.json.tmp ─▶ fsync
//!  ─▶ rename to manifest.json ─▶ fsync the directory
//! ```
//!
//! The manifest comes last: a stick pulled mid-export leaves `.tmp` files and no manifest,
//! and `verify` says the export is incomplete rather than finding a file that looks whole.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::verify::{Problem, Signer, Walker};
use crate::outbox::signing::chain::{self, Link};
use crate::outbox::signing::key::GatewayKey;
use crate::outbox::store::chain::{self as stored, ChainRecords, GapRow};

/// The export format this tracegate writes and reads.
pub const FORMAT: &str = "tracegate-export-v1";
/// Most events in one file.
#[cfg(not(test))]
pub const EVENTS_PER_FILE: usize = 10_000;
/// Most events in one file (small in tests, so that they see several files).
#[cfg(test)]
pub const EVENTS_PER_FILE: usize = 8;
/// The manifest's name.
pub const MANIFEST: &str = "manifest.json";
/// Largest manifest read (a hostile stick cannot make verify allocate without bound).
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;
/// Largest events file read.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024 * 1024;

/// A chain start inside an export's range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartEntry {
    /// The chain starts after this seq.
    pub after_seq: i64,
    /// Its genesis link (hex).
    pub link: String,
    /// Why it starts.
    pub note: String,
    /// The gateway's signature (hex).
    pub signature: Option<String>,
}

/// One events file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// File name in the export directory.
    pub name: String,
    /// SHA-256 of its bytes (hex).
    pub sha256: String,
    /// Events in it.
    pub events: u64,
    /// The seq of its first event; the others follow one by one.
    pub first_seq: i64,
    /// The link after its last event (hex).
    pub last_link: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The gateway that captured the events.
    pub gateway: String,
    /// Signature algorithm (`ed25519`).
    pub algorithm: String,
    /// The gateway's public key (hex).
    pub public_key: String,
    /// When the export was written (RFC 3339).
    pub created_at: String,
    /// First seq of the range.
    pub first_seq: i64,
    /// Last seq of the range.
    pub last_seq: i64,
    /// The link the first event chains from (hex).
    pub previous_link: String,
    /// The link after the last event (hex).
    pub last_link: String,
    /// Events in all files.
    pub events: u64,
    /// Chain starts in the range.
    pub starts: Vec<StartEntry>,
    /// Stretches deleted from the outbox (pruned once delivered) in the range.
    pub gaps: Vec<GapRow>,
    /// The files, in chain order.
    pub files: Vec<FileEntry>,
    /// Problems the gateway found in its own chain while exporting (none normally).
    pub problems: Vec<Problem>,
    /// The gateway's signature over the manifest with this field `null` (hex).
    pub signature: Option<String>,
}

impl Manifest {
    /// The bytes the signature covers: the manifest as JSON with `signature` null.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut unsigned = self.clone();
        unsigned.signature = None;
        serde_json::to_vec(&unsigned).expect("manifests serialise")
    }
}

/// Which events to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// From the oldest undelivered event to the newest.
    Backlog,
    /// Every event still stored.
    All,
    /// `first..=last` (seqs).
    Seqs(i64, i64),
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// The manifest.
    pub manifest: Manifest,
    /// The directory.
    pub dir: PathBuf,
}

fn hex_link(text: &str) -> Option<Link> {
    hex::decode(text).ok().and_then(|b| chain::link_from(&b))
}

/// Writes `bytes` to `dir/name` safely for a removable stick: a temporary name, fsync, then
/// the rename that makes it appear whole.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, dir.join(name))?;
    Ok(())
}

/// Exports `range` of the outbox at `outbox` to `dir` (created if absent; must hold no
/// earlier export), signed by `key` for `gateway`.
pub fn write(
    outbox: &Path,
    dir: &Path,
    range: Range,
    key: &GatewayKey,
    gateway: &str,
) -> Result<Written, String> {
    let conn = crate::outbox::store::open_for_reading(outbox)
        .map_err(|e| format!("cannot open the outbox {}: {e}", outbox.display()))?;
    // One read transaction: the daemon may commit meanwhile; the export is one snapshot.
    let conn = conn
        .unchecked_transaction()
        .map_err(|e| format!("cannot read the outbox: {e}"))?;
    let records = stored::records(&conn).map_err(|e| format!("reading the chain: {e}"))?;
    let head = records
        .head
        .clone()
        .ok_or("the outbox has no hash chain yet: run the daemon once (schema 6)")?;
    let (first, last) = match range {
        Range::Seqs(first, last) => (first, last.min(head.seq)),
        Range::All | Range::Backlog => {
            let first = stored::first_seq(&conn, range == Range::Backlog)
                .map_err(|e| format!("reading the outbox: {e}"))?
                .unwrap_or(head.seq + 1);
            (first, head.seq)
        }
    };
    if first > last {
        return Err("nothing to export: no events in that range (is the backlog empty?)".into());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if dir.join(MANIFEST).exists() {
        return Err(format!(
            "{} already holds an export (manifest.json): export to an empty directory",
            dir.display()
        ));
    }
    let previous = previous_link(&conn, &records, first)?;
    let starts: Vec<StartEntry> = records
        .starts
        .iter()
        .filter(|s| s.after_seq >= first && s.after_seq < last)
        .map(|s| StartEntry {
            after_seq: s.after_seq,
            link: hex::encode(s.link),
            note: s.note.clone(),
            signature: s.signature.as_ref().map(hex::encode),
        })
        .collect();
    let gaps: Vec<GapRow> = records
        .gaps
        .iter()
        .filter(|g| g.last >= first && g.first <= last)
        .cloned()
        .collect();
    let mut files: Vec<FileEntry> = Vec::new();
    let mut problems = Vec::new();
    let mut link = previous;
    let mut pending: Vec<String> = Vec::new();
    let mut pending_first = first;
    let mut expected = first;
    let created = jiff::Timestamp::now();
    stored::each_event(&conn, first, last, |e| {
        let restart = records
            .starts
            .iter()
            .find(|s| s.after_seq + 1 == e.seq && e.seq > first);
        // A chain start, a gap or a full file ends the file: each is one unbroken stretch.
        if (e.seq != expected || restart.is_some() || pending.len() >= EVENTS_PER_FILE)
            && !pending.is_empty()
        {
            close_file(dir, created, &mut files, &mut pending, pending_first, link)?;
        }
        if pending.is_empty() {
            pending_first = e.seq;
        }
        if let Some(start) = restart {
            link = start.link;
        } else if e.seq != expected {
            match records.gaps.iter().find(|g| g.last + 1 == e.seq) {
                Some(gap) => link = gap.end,
                None => problems.push(Problem {
                    place: format!("outbox seq {}", e.seq),
                    what: format!(
                        "events {expected}..={} are missing from the outbox and no signed gap says they were deleted",
                        e.seq - 1
                    ),
                }),
            }
        }
        link = chain::next(&link, e.body.as_bytes());
        if e.link.is_some_and(|stored| stored != link) {
            problems.push(Problem {
                place: format!("outbox seq {}", e.seq),
                what: "the stored link does not follow from the one before: the outbox was changed before this export".into(),
            });
        }
        pending.push(e.body);
        expected = e.seq + 1;
        Ok(())
    })?;
    close_file(dir, created, &mut files, &mut pending, pending_first, link)?;
    let events = files.iter().map(|f| f.events).sum();
    let mut manifest = Manifest {
        format: FORMAT.into(),
        gateway: gateway.into(),
        algorithm: key.algorithm().into(),
        public_key: key.public_hex(),
        created_at: format!("{created:.3}"),
        first_seq: first,
        last_seq: last,
        previous_link: hex::encode(previous),
        last_link: hex::encode(link),
        events,
        starts,
        gaps,
        files,
        problems,
        signature: None,
    };
    manifest.signature = Some(hex::encode(key.sign(&manifest.signed_bytes())));
    let text = serde_json::to_vec_pretty(&manifest).expect("manifests serialise");
    write_atomically(dir, MANIFEST, &text)
        .map_err(|e| format!("writing {}: {e}", dir.join(MANIFEST).display()))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(Written {
        manifest,
        dir: dir.to_path_buf(),
    })
}

/// Writes `pending` as the next events file (one unbroken stretch from `first_seq`, ending
/// on `link`).
fn close_file(
    dir: &Path,
    created: jiff::Timestamp,
    files: &mut Vec<FileEntry>,
    pending: &mut Vec<String>,
    first_seq: i64,
    link: Link,
) -> Result<(), String> {
    if pending.is_empty() {
        return Ok(());
    }
    let name = format!("events-{:06}.json", files.len() + 1);
    let events = pending.len() as u64;
    let mut bytes = Vec::new();
    tracegate_epcis::document::write_document(&mut bytes, created, pending.drain(..).map(Ok))
        .map_err(|e| e.to_string())?;
    write_atomically(dir, &name, &bytes)
        .map_err(|e| format!("writing {}: {e}", dir.join(&name).display()))?;
    files.push(FileEntry {
        name,
        sha256: hex::encode(Sha256::digest(&bytes)),
        events,
        first_seq,
        last_link: hex::encode(link),
    });
    Ok(())
}

/// The link event `first` chains from: the stored event before it, the gap that ends just
/// before it, or the chain start just before it.
fn previous_link(
    conn: &rusqlite::Connection,
    records: &ChainRecords,
    first: i64,
) -> Result<Link, String> {
    if let Some(start) = records.starts.iter().find(|s| s.after_seq == first - 1) {
        return Ok(start.link);
    }
    if let Some(gap) = records.gaps.iter().find(|g| g.last == first - 1) {
        return Ok(gap.end);
    }
    let mut found = None;
    stored::each_event(conn, first - 1, first - 1, |e| {
        found = e.link;
        Ok(())
    })?;
    found.ok_or_else(|| {
        format!("cannot export from seq {first}: the link of the event before it is not known (it was stored before the chain started)")
    })
}

/// What a check of an export found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Problems, in chain order (none: the export is whole and unchanged).
    pub problems: Vec<Problem>,
    /// Events checked.
    pub events: u64,
    /// Good signatures.
    pub signatures: u64,
    /// The gateway and key that signed.
    pub gateway: String,
    /// `ed25519:HEX`.
    pub key: String,
}

/// Reads and checks the manifest of the export in `dir`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, Problem> {
    let path = dir.join(MANIFEST);
    let problem = |what: String| Problem {
        place: MANIFEST.into(),
        what,
    };
    let size = std::fs::metadata(&path)
        .map_err(|_| {
            let partial = std::fs::read_dir(dir)
                .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".tmp")))
                .unwrap_or(false);
            problem(if partial {
                "no manifest.json, only partly written files (.tmp): the export was interrupted (a stick pulled mid-write?); export again".into()
            } else {
                format!("no manifest.json in {}: not a tracegate export", dir.display())
            })
        })?
        .len();
    if size > MAX_MANIFEST_BYTES {
        return Err(problem(format!(
            "{size} bytes: larger than any manifest ({MAX_MANIFEST_BYTES})"
        )));
    }
    let text = std::fs::read(&path).map_err(|e| problem(e.to_string()))?;
    parse_manifest(&text).map_err(problem)
}

/// A manifest from its bytes; the error says what is wrong with it.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, String> {
    let manifest: Manifest = serde_json::from_slice(bytes)
        .map_err(|e| format!("not a manifest: {e} (truncated or edited?)"))?;
    if manifest.format != FORMAT {
        return Err(format!(
            "format {:?}; this tracegate reads {FORMAT}",
            manifest.format
        ));
    }
    Ok(manifest)
}

/// The events of an EPCIS document, each as its exact text (what the chain links).
pub fn document_events(bytes: &[u8]) -> Result<Vec<&str>, String> {
    let document: RawDocument<'_> = serde_json::from_slice(bytes)
        .map_err(|e| format!("not an EPCIS document: {e} (truncated?)"))?;
    Ok(document.body.events.iter().map(|raw| raw.get()).collect())
}

/// Checks the export in `dir`; `pinned` is the public key it must be signed with.
pub fn verify(dir: &Path, pinned: Option<&str>) -> Report {
    let manifest = match read_manifest(dir) {
        Ok(m) => m,
        Err(problem) => {
            return Report {
                problems: vec![problem],
                events: 0,
                signatures: 0,
                gateway: String::new(),
                key: String::new(),
            };
        }
    };
    let mut problems = Vec::new();
    let push = |problems: &mut Vec<Problem>, place: &str, what: String| {
        problems.push(Problem {
            place: place.into(),
            what,
        })
    };
    if let Some(pinned) = pinned {
        let (_, pinned) = crate::outbox::signing::key::split_public(pinned);
        if !pinned.eq_ignore_ascii_case(&manifest.public_key) {
            push(
                &mut problems,
                MANIFEST,
                format!(
                    "signed with key {} but the gateway's key is {pinned}: not this gateway's export (or a forged one)",
                    manifest.public_key
                ),
            );
        }
    }
    let mut signatures = 0;
    match manifest
        .signature
        .as_deref()
        .and_then(|s| hex::decode(s).ok())
    {
        None => push(&mut problems, MANIFEST, "not signed".into()),
        Some(sig) => match crate::outbox::signing::key::verify(
            &manifest.algorithm,
            &manifest.public_key,
            &manifest.signed_bytes(),
            &sig,
        ) {
            Ok(()) => signatures += 1,
            Err(e) => push(
                &mut problems,
                MANIFEST,
                format!("bad signature: {e} (the manifest was edited or forged)"),
            ),
        },
    }
    let signer = Signer {
        gateway: manifest.gateway.clone(),
        algorithm: manifest.algorithm.clone(),
        public_key: manifest.public_key.clone(),
    };
    let mut walker = Walker::new(Some(signer));
    match hex_link(&manifest.previous_link) {
        Some(link) => walker.resume(manifest.first_seq - 1, link),
        None => push(
            &mut problems,
            MANIFEST,
            "previous_link is not a link".into(),
        ),
    }
    let listed: std::collections::HashSet<&str> =
        manifest.files.iter().map(|f| f.name.as_str()).collect();
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut extra: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != MANIFEST && !listed.contains(n.as_str()))
            .collect();
        extra.sort();
        for name in extra {
            push(
                &mut problems,
                &name,
                "not listed in the manifest: added or renamed".into(),
            );
        }
    }
    let mut starts = manifest.starts.iter().peekable();
    let mut gaps = manifest.gaps.iter().peekable();
    let mut events = 0;
    for file in &manifest.files {
        // Starts and gaps before this file's first event.
        loop {
            let start_due = starts.peek().is_some_and(|s| s.after_seq < file.first_seq);
            let gap_due = gaps
                .peek()
                .is_some_and(|g| g.first <= file.first_seq && g.last < file.first_seq);
            if start_due {
                let s = starts.next().expect("due");
                match hex_link(&s.link) {
                    Some(link) => walker.start(
                        &format!("{MANIFEST} chain start after seq {}", s.after_seq),
                        s.after_seq,
                        link,
                        &s.note,
                        s.signature
                            .as_deref()
                            .and_then(|h| hex::decode(h).ok())
                            .as_deref(),
                    ),
                    None => push(
                        &mut problems,
                        MANIFEST,
                        "a chain start's link is not a link".into(),
                    ),
                }
            } else if gap_due {
                let g = gaps.next().expect("due");
                if g.first < manifest.first_seq {
                    // The gap began before the export: the manifest's previous link is its end.
                    continue;
                }
                walker.gap_record(&format!("{MANIFEST} "), g);
            } else {
                break;
            }
        }
        check_file(dir, file, &mut walker, &mut problems);
        events += file.events;
    }
    match hex_link(&manifest.last_link) {
        Some(link) => walker.end(MANIFEST, manifest.last_seq, link),
        None => problems.push(Problem {
            place: MANIFEST.into(),
            what: "last_link is not a link".into(),
        }),
    }
    problems.append(&mut walker.problems);
    problems.extend(manifest.problems.iter().map(|p| Problem {
        place: p.place.clone(),
        what: format!("reported by the gateway at export: {}", p.what),
    }));
    Report {
        problems,
        events,
        signatures: signatures + walker.signatures,
        gateway: manifest.gateway.clone(),
        key: format!("{}:{}", manifest.algorithm, manifest.public_key),
    }
}

/// The `eventList` of an EPCIS document, each event as its exact text.
#[derive(Deserialize)]
struct RawDocument<'a> {
    #[serde(rename = "epcisBody", borrow)]
    body: RawBody<'a>,
}

#[derive(Deserialize)]
struct RawBody<'a> {
    #[serde(rename = "eventList", borrow)]
    events: Vec<&'a serde_json::value::RawValue>,
}

fn check_file(dir: &Path, file: &FileEntry, walker: &mut Walker, problems: &mut Vec<Problem>) {
    let mut push = |what: String| {
        problems.push(Problem {
            place: file.name.clone(),
            what,
        })
    };
    if file.name.contains('/') || file.name.starts_with('.') {
        push("a file name outside the export directory".into());
        return;
    }
    let path = dir.join(&file.name);
    let size = match std::fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(_) => {
            push("missing: deleted or never written".into());
            return;
        }
    };
    if size > MAX_FILE_BYTES {
        push(format!("{size} bytes: larger than any export file"));
        return;
    }
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            push(format!("cannot read: {e}"));
            return;
        }
    };
    if hex::encode(Sha256::digest(&bytes)) != file.sha256 {
        push("its SHA-256 is not the one signed in the manifest: the file was changed, truncated or replaced".into());
    }
    let events = match document_events(&bytes) {
        Ok(events) => events,
        Err(e) => {
            push(e);
            return;
        }
    };
    if events.len() as u64 != file.events {
        push(format!(
            "holds {} events, the manifest says {}: events were removed or added",
            events.len(),
            file.events
        ));
    }
    for (i, raw) in events.iter().enumerate() {
        let seq = file.first_seq + i as i64;
        let id = serde_json::from_str::<serde_json::Value>(raw)
            .ok()
            .and_then(|v| v["eventID"].as_str().map(String::from))
            .unwrap_or_default();
        walker.event(
            &format!("{} event {} (seq {seq}, {id})", file.name, i + 1),
            seq,
            raw.as_bytes(),
            None,
        );
    }
    let (_, reached) = walker.position();
    if reached.map(hex::encode).as_deref() != Some(file.last_link.as_str()) {
        push("the chain through this file does not end on the signed link: an event in it was edited, removed or reordered".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::integrity::test_support::*;
    use crate::outbox::store::Store;

    /// An outbox with 25 events: 1..=5 delivered and deleted (a gap), the rest undelivered,
    /// 12 set aside; exported with at most 8 events per file.
    async fn outbox(dir: &Path) -> PathBuf {
        let cfg = config(dir, 0, 1000);
        let (store, thread) = Store::open_signed(&cfg, Some(gateway_signer())).unwrap();
        append(&store, 0..25).await;
        store.mark_delivered(1, 5).await;
        store.set_aside(12, "too large".into()).await;
        store.flush().await;
        shutdown(store, thread).await;
        cfg.path
    }

    fn export(outbox: &Path, to: &Path, range: Range) -> Manifest {
        write(outbox, to, range, &gateway_signer().key, "gw-field-1")
            .unwrap()
            .manifest
    }

    fn found(report: &Report) -> Vec<String> {
        report
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.place, p.what))
            .collect()
    }

    /// Asserts that a problem at `place` says `what`.
    fn assert_found(problems: &[String], place: &str, what: &str) {
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with(place) && p.contains(what)),
            "no problem at {place} saying {what:?}: {problems:?}"
        );
    }

    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }

    #[tokio::test]
    async fn an_export_verifies_and_each_kind_of_tamper_is_found_where_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let db = outbox(dir.path()).await;
        let good = dir.path().join("stick");
        let manifest = export(&db, &good, Range::Backlog);
        assert_eq!(
            (manifest.first_seq, manifest.last_seq, manifest.events),
            (6, 25, 20)
        );
        assert!(manifest.problems.is_empty(), "{:?}", manifest.problems);
        let key = gateway_signer().key.public_hex();
        let report = verify(&good, Some(&key));
        assert!(report.problems.is_empty(), "{:?}", found(&report));
        assert_eq!(report.events, 20);
        // Every event still stored, from the start of the chain: the gap is in the manifest.
        let all = dir.path().join("all");
        let manifest = export(&db, &all, Range::All);
        assert_eq!(manifest.first_seq, 6, "events 1..=5 are deleted");
        let report = verify(&all, Some(&key));
        assert!(report.problems.is_empty(), "{:?}", found(&report));
        let file = manifest.files[0].name.clone();
        let text = std::fs::read_to_string(good.join(&file)).unwrap();

        let tampered = |name: &str, change: &dyn Fn(&Path)| {
            let t = dir.path().join(name);
            copy(&good, &t);
            change(&t);
            found(&verify(&t, Some(&key)))
        };
        // An edited event: its eventID no longer matches, found at its file and place.
        let problems = tampered("edited", &|t| {
            std::fs::write(t.join(&file), text.replacen("inspecting", "shipping", 1)).unwrap()
        });
        assert_found(
            &problems,
            &format!("{file} event 1 (seq 6, ni:///"),
            "eventID",
        );
        // The file's events, as text: HEAD[E1},{E2},{…EN]}} (the test events hold no
        // objects inside arrays).
        let (head, rest) = text.split_once("\"eventList\":[").unwrap();
        let head = format!("{head}\"eventList\":[");
        let (list, tail) = rest.rsplit_once("]}}").unwrap();
        let events: Vec<String> = list.split("},{").map(String::from).collect();
        let rebuild = |events: &[String]| {
            let n = events.len();
            let body: Vec<String> = events
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let open = if i == 0 { "" } else { "{" };
                    let close = if i + 1 == n { "" } else { "}" };
                    format!("{open}{e}{close}")
                })
                .collect();
            format!("{head}{}]}}}}{tail}", body.join(","))
        };
        assert_eq!(rebuild(&events), text, "the split is exact");
        // A deleted event: the count and the chain through the file.
        let problems = tampered("deleted", &|t| {
            let mut fewer = events.clone();
            fewer.remove(3);
            std::fs::write(t.join(&file), rebuild(&fewer)).unwrap()
        });
        assert_found(&problems, &file, "events were removed");
        // Two events swapped: every eventID holds, the chain through the file does not.
        let problems = tampered("reordered", &|t| {
            let mut swapped = events.clone();
            swapped.swap(2, 3);
            std::fs::write(t.join(&file), rebuild(&swapped)).unwrap()
        });
        assert_found(&problems, &file, "does not end on the signed link");
        // A file replaced by another valid file (from the second export).
        let problems = tampered("replaced", &|t| {
            std::fs::copy(all.join(&manifest.files[1].name), t.join(&file)).unwrap();
        });
        assert_found(&problems, &file, "SHA-256");
        // A truncated file (a stick pulled while copying it).
        let problems = tampered("truncated", &|t| {
            std::fs::write(t.join(&file), &text[..text.len() / 2]).unwrap()
        });
        assert_found(&problems, &file, "truncated");
        // A forged manifest: one that drops the last file, re-signed with another key.
        let problems = tampered("forged", &|t| {
            let mut m = read_manifest(t).unwrap();
            m.files.pop();
            m.signature = Some(hex::encode(
                GatewayKey::from_seed([1; 32]).sign(&m.signed_bytes()),
            ));
            std::fs::write(t.join(MANIFEST), serde_json::to_vec(&m).unwrap()).unwrap();
        });
        assert_found(&problems, MANIFEST, "bad signature");
        // An edited manifest (a count changed, signature kept).
        let problems = tampered("manifest-edited", &|t| {
            let mut m = read_manifest(t).unwrap();
            m.events += 1;
            std::fs::write(t.join(MANIFEST), serde_json::to_vec(&m).unwrap()).unwrap();
        });
        assert_found(&problems, MANIFEST, "bad signature");
        // Signed by this export's own key but not the gateway's: caught by pinning.
        let report = verify(&good, Some(&GatewayKey::from_seed([1; 32]).public_hex()));
        assert!(
            found(&report)[0].contains("not this gateway's export"),
            "{:?}",
            found(&report)
        );
        // A stick pulled mid-export: files, a half manifest under its temporary name, none whole.
        let problems = tampered("pulled", &|t| {
            let m = std::fs::read(t.join(MANIFEST)).unwrap();
            std::fs::write(t.join("manifest.json.tmp"), &m[..m.len() / 3]).unwrap();
            std::fs::remove_file(t.join(MANIFEST)).unwrap();
        });
        assert!(problems[0].contains("interrupted"), "{problems:?}");
        // An export never overwrites one.
        let e = write(
            &db,
            &good,
            Range::Backlog,
            &gateway_signer().key,
            "gw-field-1",
        )
        .unwrap_err();
        assert!(e.contains("already holds an export"), "{e}");
    }

    #[tokio::test]
    async fn an_sm2_signed_outbox_exports_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 0, 1000);
        let key = GatewayKey::load_or_create_for(
            &dir.path().join("sm2.key"),
            crate::outbox::signing::key::SM2,
        )
        .unwrap()
        .0;
        let signer = std::sync::Arc::new(crate::outbox::store::ChainSigner {
            key: key.clone(),
            gateway: "gw-cn-1".into(),
        });
        let (store, thread) = Store::open_signed(&cfg, Some(signer)).unwrap();
        append(&store, 0..12).await;
        store.mark_delivered(1, 3).await;
        store.flush().await;
        shutdown(store, thread).await;
        let report =
            crate::outbox::integrity::outbox::verify(&cfg.path, Some(&key.public_hex())).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(
            report.key.as_deref().map(|k| k.starts_with("sm2:04")),
            Some(true)
        );
        let stick = dir.path().join("stick");
        let manifest = write(&cfg.path, &stick, Range::All, &key, "gw-cn-1")
            .unwrap()
            .manifest;
        assert_eq!(manifest.algorithm, "sm2");
        let report = verify(&stick, Some(&key.public_hex()));
        assert!(report.problems.is_empty(), "{:?}", found(&report));
        let mut m = read_manifest(&stick).unwrap();
        m.last_seq -= 1;
        std::fs::write(stick.join(MANIFEST), serde_json::to_vec(&m).unwrap()).unwrap();
        let report = verify(&stick, Some(&key.public_hex()));
        assert!(
            found(&report)[0].contains("bad signature"),
            "{:?}",
            found(&report)
        );
    }

    proptest::proptest! {
        /// Whatever a stick holds as a manifest, reading it never panics.
        #[test]
        fn any_manifest_bytes_are_read_or_refused(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(MANIFEST), &bytes).unwrap();
            let report = verify(dir.path(), None);
            proptest::prop_assert!(!report.problems.is_empty());
        }
    }
}
