//! The durable print queue's rows (`print_jobs`, schema versions 4 and 5), written only by
//! the outbox writer, in its transactions — so a job's state and the event it causes (the
//! commissioning of a confirmed label, the decommissioning of a voided one) are committed
//! together: no crash can leave a printed label without its event, or an event without its
//! label's state.
//!
//! ```text
//!  submit (new key) ──▶ submitted ──claim──▶ sent ──printer's status shows it──▶ confirmed
//!  submit (known key): the existing job, unchanged (never printed twice)
//!                          ▲                  │ not sent after all (printer faulted, down,
//!                          └──────────────────┘ not answering yet): back, retried later
//!                                             │ link lost or daemon killed after sending,
//!                                             ▼ or found `sent` at start (a crash)
//!                                          unknown ──decide reprint──▶ submitted (reprint + 1)
//!                                             └────decide void────▶ voided
//!  a template or printer that refuses the job outright ─▶ failed
//! ```

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for its printer.
    Submitted,
    /// Being written to the printer, or printing; not yet confirmed.
    Sent,
    /// The printer's status showed it printed.
    Confirmed,
    /// Refused outright (the printer cannot take it); not printed.
    Failed,
    /// Sent, but whether it printed is not known: held for an operator's decision.
    Unknown,
    /// An operator decided it is void (not to be printed again).
    Voided,
}

impl JobState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Submitted => "submitted",
            JobState::Sent => "sent",
            JobState::Confirmed => "confirmed",
            JobState::Failed => "failed",
            JobState::Unknown => "unknown",
            JobState::Voided => "voided",
        }
    }

    fn parse(text: &str) -> JobState {
        match text {
            "submitted" => JobState::Submitted,
            "sent" => JobState::Sent,
            "confirmed" => JobState::Confirmed,
            "failed" => JobState::Failed,
            "voided" => JobState::Voided,
            _ => JobState::Unknown,
        }
    }

    /// Whether nothing more happens to the job by itself.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            JobState::Confirmed | JobState::Failed | JobState::Voided | JobState::Unknown
        )
    }
}

/// A job to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// The requester's idempotency key.
    pub key: String,
    /// The printer.
    pub device: String,
    /// The template's name.
    pub template: String,
    /// The variables, as JSON.
    pub vars: String,
    /// Copies.
    pub copies: u32,
    /// The rendered bytes.
    pub data: Vec<u8>,
    /// The GS1 data its symbols carry (bracketed element strings).
    pub gs1: Vec<String>,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrintJob {
    /// Its number.
    pub id: i64,
    /// The requester's idempotency key.
    pub key: String,
    /// The printer.
    pub device: String,
    /// The template.
    pub template: String,
    /// The variables (JSON text).
    #[serde(skip)]
    pub vars: String,
    /// Copies.
    pub copies: u32,
    /// The bytes sent (or to send).
    #[serde(skip)]
    pub data: Vec<u8>,
    /// Where it is.
    pub state: JobState,
    /// Why it is where it is (the printer's fault, the lost link), if anything.
    pub reason: Option<String>,
    /// Times an operator decided to reprint it.
    pub reprints: u32,
    /// Unix ms of the submission.
    pub submitted_at_ms: i64,
    /// Unix ms of the last change.
    pub updated_at_ms: i64,
    /// The GS1 data its symbols carry (bracketed element strings).
    pub gs1: Vec<String>,
}

/// What the queue asks of the store.
#[derive(Debug, Clone, PartialEq)]
pub enum PrintOp {
    /// Queues a job, or returns the job already queued under its key (`fresh` false).
    Submit(NewJob),
    /// The oldest job of `device` that is `submitted`, and whether a job of the device
    /// waits for a decision (`unknown`), which holds the device's queue.
    Next {
        /// The printer.
        device: String,
    },
    /// Moves job `id` from one of `from` to `to` (with `reason`, and new bytes for a reprint);
    /// refused when the job is not in one of `from`.
    Move {
        /// The job.
        id: i64,
        /// The states it may be in.
        from: Vec<JobState>,
        /// Where it goes.
        to: JobState,
        /// Why.
        reason: Option<String>,
        /// Bytes to send instead (a reprint, rendered with `reprint = true`).
        data: Option<Vec<u8>>,
        /// The event the move causes (a commissioning or decommissioning), stored in the same
        /// transaction. Never refused for a full outbox: the label exists either way, and
        /// room is made by the configured policy as for any event.
        event: Option<super::NewEvent>,
    },
    /// Every `sent` job becomes `unknown`: run once at start, before any job is sent (they
    /// were sent by a daemon that died before learning whether they printed).
    RecoverSent,
    /// The job with `key`.
    Get {
        /// The idempotency key.
        key: String,
    },
    /// Counts by state, and the jobs waiting for a decision.
    Summary,
}

/// What a [`PrintOp`] gave.
#[derive(Debug, Clone, PartialEq)]
pub enum PrintAnswer {
    /// The job (Submit: `fresh` when new; Move, Get).
    Job {
        /// The job.
        job: Box<PrintJob>,
        /// Submit: newly queued.
        fresh: bool,
    },
    /// Next: the job to print, if any, and whether the device is held by an undecided job.
    Next {
        /// The oldest submitted job.
        job: Option<Box<PrintJob>>,
        /// The key of a job of the device waiting for a decision.
        undecided: Option<String>,
    },
    /// RecoverSent: how many.
    Recovered(usize),
    /// Summary.
    Summary(PrintSummary),
    /// Get: none with that key; Move: refused (the text says why).
    Refused(String),
}

/// Counts of the queue's jobs, for status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct PrintSummary {
    /// Waiting for their printer.
    pub submitted: u64,
    /// Being printed.
    pub sent: u64,
    /// Printed.
    pub confirmed: u64,
    /// Refused.
    pub failed: u64,
    /// Waiting for a decision.
    pub unknown: u64,
    /// Voided.
    pub voided: u64,
    /// The keys of the jobs waiting for a decision (at most 20).
    pub undecided: Vec<String>,
}

const COLUMNS: &str = "id, key, device, template, vars, copies, data, state, reason, reprints, submitted_at, updated_at, gs1";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PrintJob> {
    Ok(PrintJob {
        id: r.get(0)?,
        key: r.get(1)?,
        device: r.get(2)?,
        template: r.get(3)?,
        vars: r.get(4)?,
        copies: r.get(5)?,
        data: r.get(6)?,
        state: JobState::parse(&r.get::<_, String>(7)?),
        reason: r.get(8)?,
        reprints: r.get(9)?,
        submitted_at_ms: r.get(10)?,
        updated_at_ms: r.get(11)?,
        gs1: serde_json::from_str(&r.get::<_, String>(12)?).unwrap_or_default(),
    })
}

fn by_id(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<Option<PrintJob>> {
    tx.prepare_cached(&format!("SELECT {COLUMNS} FROM print_jobs WHERE id = ?1"))?
        .query_row(params![id], row)
        .optional()
}

fn by_key(tx: &Transaction<'_>, key: &str) -> rusqlite::Result<Option<PrintJob>> {
    tx.prepare_cached(&format!("SELECT {COLUMNS} FROM print_jobs WHERE key = ?1"))?
        .query_row(params![key], row)
        .optional()
}

fn job(job: PrintJob, fresh: bool) -> PrintAnswer {
    PrintAnswer::Job {
        job: Box::new(job),
        fresh,
    }
}

/// Carries out `op` in the writer's transaction; a move's event is handed to `store_event`
/// (the writer's insert, with its bounds and counters) only when the move is made.
pub(super) fn apply(
    tx: &Transaction<'_>,
    op: PrintOp,
    now_ms: i64,
    store_event: &mut dyn FnMut(&super::NewEvent) -> rusqlite::Result<()>,
) -> rusqlite::Result<PrintAnswer> {
    match op {
        PrintOp::Submit(new) => {
            if let Some(existing) = by_key(tx, &new.key)? {
                return Ok(job(existing, false));
            }
            tx.prepare_cached(
                "INSERT INTO print_jobs (key, device, template, vars, copies, data, state, reprints, submitted_at, updated_at, gs1) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'submitted', 0, ?7, ?7, ?8)",
            )?
            .execute(params![
                new.key,
                new.device,
                new.template,
                new.vars,
                new.copies,
                new.data,
                now_ms,
                serde_json::to_string(&new.gs1).expect("strings serialise")
            ])?;
            let id = tx.last_insert_rowid();
            Ok(job(by_id(tx, id)?.expect("just inserted"), true))
        }
        PrintOp::Next { device } => {
            let undecided: Option<String> = tx
                .prepare_cached(
                    "SELECT key FROM print_jobs WHERE device = ?1 AND state = 'unknown' ORDER BY id LIMIT 1",
                )?
                .query_row(params![device], |r| r.get(0))
                .optional()?;
            let next = tx
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM print_jobs WHERE device = ?1 AND state = 'submitted' ORDER BY id LIMIT 1"
                ))?
                .query_row(params![device], row)
                .optional()?;
            Ok(PrintAnswer::Next {
                job: next.map(Box::new),
                undecided,
            })
        }
        PrintOp::Move {
            id,
            from,
            to,
            reason,
            data,
            event,
        } => {
            let Some(current) = by_id(tx, id)? else {
                return Ok(PrintAnswer::Refused(format!("no print job {id}")));
            };
            if !from.contains(&current.state) {
                return Ok(PrintAnswer::Refused(format!(
                    "job {:?} is {}, not {}",
                    current.key,
                    current.state.as_str(),
                    from.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" or ")
                )));
            }
            let reprint =
                u32::from(current.state == JobState::Unknown && to == JobState::Submitted);
            tx.prepare_cached(
                "UPDATE print_jobs SET state = ?2, reason = ?3, reprints = reprints + ?4, \
                 data = coalesce(?5, data), updated_at = ?6 WHERE id = ?1",
            )?
            .execute(params![id, to.as_str(), reason, reprint, data, now_ms])?;
            if let Some(event) = &event {
                store_event(event)?;
            }
            Ok(job(by_id(tx, id)?.expect("exists"), false))
        }
        PrintOp::RecoverSent => {
            let n = tx
                .prepare_cached(
                    "UPDATE print_jobs SET state = 'unknown', updated_at = ?1, reason = \
                     'the daemon stopped (crash, power cut or kill) after sending the job: whether it printed is unknown; decide reprint, printed or void' \
                     WHERE state = 'sent'",
                )?
                .execute(params![now_ms])?;
            Ok(PrintAnswer::Recovered(n))
        }
        PrintOp::Get { key } => Ok(match by_key(tx, &key)? {
            Some(found) => job(found, false),
            None => PrintAnswer::Refused(format!("no print job with key {key:?}")),
        }),
        PrintOp::Summary => {
            let mut summary = PrintSummary::default();
            let mut stmt =
                tx.prepare_cached("SELECT state, count(*) FROM print_jobs GROUP BY state")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let n: i64 = r.get(1)?;
                let n = n as u64;
                match JobState::parse(&r.get::<_, String>(0)?) {
                    JobState::Submitted => summary.submitted = n,
                    JobState::Sent => summary.sent = n,
                    JobState::Confirmed => summary.confirmed = n,
                    JobState::Failed => summary.failed = n,
                    JobState::Unknown => summary.unknown = n,
                    JobState::Voided => summary.voided = n,
                }
            }
            summary.undecided = tx
                .prepare_cached(
                    "SELECT key FROM print_jobs WHERE state = 'unknown' ORDER BY id LIMIT 20",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(PrintAnswer::Summary(summary))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        conn
    }

    fn run(conn: &mut Connection, op: PrintOp) -> PrintAnswer {
        let tx = conn.transaction().unwrap();
        let answer = apply(&tx, op, 1000, &mut |_| Ok(())).unwrap();
        tx.commit().unwrap();
        answer
    }

    fn new(key: &str) -> NewJob {
        NewJob {
            key: key.into(),
            device: "p".into(),
            template: "case".into(),
            vars: "{}".into(),
            copies: 1,
            data: b"^XA^XZ".to_vec(),
            gs1: vec!["(01)09506000134352(21)1".into()],
        }
    }

    fn the_job(answer: PrintAnswer) -> (PrintJob, bool) {
        match answer {
            PrintAnswer::Job { job, fresh } => (*job, fresh),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_key_is_queued_once() {
        let mut conn = db();
        let (first, fresh) = the_job(run(&mut conn, PrintOp::Submit(new("k1"))));
        assert!(fresh);
        assert_eq!(first.state, JobState::Submitted);
        let mut again = new("k1");
        again.data = b"other".to_vec();
        let (second, fresh) = the_job(run(&mut conn, PrintOp::Submit(again)));
        assert!(!fresh);
        assert_eq!(second.id, first.id);
        assert_eq!(second.data, b"^XA^XZ");
    }

    #[test]
    fn a_move_stores_its_event_and_a_refused_move_stores_none() {
        let mut conn = db();
        let (a, _) = the_job(run(&mut conn, PrintOp::Submit(new("a"))));
        let event = super::super::NewEvent {
            event_id: "ni:///sha-256;x?ver=CBV2.0".into(),
            captured_at_ms: 1,
            device: std::sync::Arc::from("p"),
            body: "{}".into(),
        };
        let mut stored = Vec::new();
        let mut apply_op = |conn: &mut Connection, op: PrintOp| {
            let tx = conn.transaction().unwrap();
            let answer = apply(&tx, op, 1000, &mut |e| {
                stored.push(e.event_id.clone());
                Ok(())
            })
            .unwrap();
            tx.commit().unwrap();
            answer
        };
        let confirm = |from: JobState| PrintOp::Move {
            id: a.id,
            from: vec![from],
            to: JobState::Confirmed,
            reason: None,
            data: None,
            event: Some(event.clone()),
        };
        // Not sent yet: the move is refused, and its event is not stored.
        let refused = apply_op(&mut conn, confirm(JobState::Sent));
        assert!(matches!(refused, PrintAnswer::Refused(_)));
        let moved = apply_op(&mut conn, confirm(JobState::Submitted));
        assert_eq!(the_job(moved).0.state, JobState::Confirmed);
        assert_eq!(stored, ["ni:///sha-256;x?ver=CBV2.0"]);
    }

    #[test]
    fn a_sent_job_found_at_start_is_held_for_a_decision_and_holds_its_printer() {
        let mut conn = db();
        let (a, _) = the_job(run(&mut conn, PrintOp::Submit(new("a"))));
        run(&mut conn, PrintOp::Submit(new("b")));
        let moved = run(
            &mut conn,
            PrintOp::Move {
                id: a.id,
                from: vec![JobState::Submitted],
                to: JobState::Sent,
                reason: None,
                data: None,
                event: None,
            },
        );
        assert_eq!(the_job(moved).0.state, JobState::Sent);
        assert_eq!(
            run(&mut conn, PrintOp::RecoverSent),
            PrintAnswer::Recovered(1)
        );
        let PrintAnswer::Next { job, undecided } =
            run(&mut conn, PrintOp::Next { device: "p".into() })
        else {
            panic!()
        };
        assert_eq!(job.unwrap().key, "b");
        assert_eq!(undecided.as_deref(), Some("a"));
        // A move from a state the job is not in is refused, saying so.
        let refused = run(
            &mut conn,
            PrintOp::Move {
                id: a.id,
                from: vec![JobState::Sent],
                to: JobState::Confirmed,
                reason: None,
                data: None,
                event: None,
            },
        );
        assert!(
            matches!(refused, PrintAnswer::Refused(ref m) if m.contains("is unknown, not sent"))
        );
        // Reprint: back to submitted with the new bytes, counted.
        let (reprinted, _) = the_job(run(
            &mut conn,
            PrintOp::Move {
                id: a.id,
                from: vec![JobState::Unknown],
                to: JobState::Submitted,
                reason: Some("reprint decided".into()),
                data: Some(b"REPRINT".to_vec()),
                event: None,
            },
        ));
        assert_eq!(reprinted.reprints, 1);
        assert_eq!(reprinted.gs1, ["(01)09506000134352(21)1"]);
        assert_eq!(reprinted.data, b"REPRINT");
        let PrintAnswer::Summary(s) = run(&mut conn, PrintOp::Summary) else {
            panic!()
        };
        assert_eq!((s.submitted, s.unknown), (2, 0));
    }
}
