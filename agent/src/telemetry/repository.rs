//! The EPCIS repository uplink's live figures: reachable or not, what it captured, the jobs
//! it runs, each kind of failure, the limits it announced.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::broker::BrokerStatus;
use super::rate::ms_to_rfc3339;

/// Why a request to the repository did not capture events, as counted in status and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Failure {
    /// No answer: connection refused or reset, DNS, TLS, a timeout.
    Unreachable,
    /// 5xx.
    ServerError,
    /// 401 or 403: the credential was refused.
    CredentialsRefused,
    /// 413: the document was larger than the repository takes.
    TooLarge,
    /// 415: the content type was not taken.
    UnsupportedType,
    /// 400 at receipt: the repository refused the document.
    Rejected,
    /// The capture job ended in errors.
    JobFailed,
    /// The capture job was still running after `epcis.job_timeout_s`.
    JobTimedOut,
    /// The job's `Location` answered 404 (the repository forgot it).
    JobLost,
    /// An answer the REST bindings do not define.
    Unexpected,
}

impl Failure {
    /// Its name in status and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Unreachable => "unreachable",
            Failure::ServerError => "server_error",
            Failure::CredentialsRefused => "credentials_refused",
            Failure::TooLarge => "too_large",
            Failure::UnsupportedType => "unsupported_type",
            Failure::Rejected => "rejected",
            Failure::JobFailed => "job_failed",
            Failure::JobTimedOut => "job_timed_out",
            Failure::JobLost => "job_lost",
            Failure::Unexpected => "unexpected",
        }
    }
}

/// The repository uplink's figures, written by the uplink task.
#[derive(Debug, Default)]
pub struct RepositoryStatus {
    /// Reachable or not, since when, acknowledged counts: the same figures as a broker's,
    /// so `offline-too-long` feedback rules and the status line read either alike.
    pub link: Arc<BrokerStatus>,
    url: Mutex<String>,
    last_success_ms: AtomicU64,
    events_posted_total: AtomicU64,
    events_captured_total: AtomicU64,
    already_captured_total: AtomicU64,
    set_aside_total: AtomicU64,
    jobs_total: AtomicU64,
    jobs_running: AtomicU64,
    failures: Mutex<BTreeMap<Failure, u64>>,
    limits: Mutex<Option<LimitsReport>>,
    last_refusal: Mutex<Option<String>>,
}

impl RepositoryStatus {
    /// Figures for the capture endpoint at `url` (never with credentials).
    pub fn new(url: &str) -> Self {
        let status = RepositoryStatus::default();
        *status.url.lock().unwrap_or_else(|p| p.into_inner()) = url.to_string();
        status
    }

    /// A request reached the repository and was answered (whatever the answer).
    pub fn reached(&self) {
        if !self.link.is_connected() {
            self.link.connected();
        }
    }

    /// `events` were posted in one document.
    pub fn posted(&self, events: usize) {
        self.link.published(events);
        self.events_posted_total
            .fetch_add(events as u64, Ordering::Relaxed);
    }

    /// A capture job started (202 Accepted) or was taken up again after a restart.
    pub fn job_started(&self) {
        self.jobs_total.fetch_add(1, Ordering::Relaxed);
        self.jobs_running.fetch_add(1, Ordering::Relaxed);
    }

    /// The job being watched ended (in success, errors, a timeout or being forgotten).
    pub fn job_ended(&self) {
        let _ = self
            .jobs_running
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// The repository captured `events` (a job's success); `already` of them it had before.
    pub fn captured(&self, events: usize, already: usize) {
        self.link.acked(events);
        self.last_success_ms
            .store(Timestamp::now().as_millisecond() as u64, Ordering::Relaxed);
        self.events_captured_total
            .fetch_add(events as u64, Ordering::Relaxed);
        self.already_captured_total
            .fetch_add(already as u64, Ordering::Relaxed);
    }

    /// An event was set aside with the repository's words.
    pub fn set_aside(&self) {
        self.set_aside_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A request failed for `why`; `error` says it in words. Unreachable and server errors
    /// also mark the link down (status shows since when).
    pub fn failed(&self, why: Failure, error: String) {
        *self
            .failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(why)
            .or_default() += 1;
        match why {
            Failure::Unreachable | Failure::ServerError => self.link.failed(error),
            Failure::CredentialsRefused => {
                *self.last_refusal.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.clone());
                self.link.refused(
                    "credentials_refused",
                    "the repository answered 401/403: check epcis.username and \
                     epcis.password_file, epcis.token_file or epcis.header",
                    error,
                );
            }
            _ => {}
        }
    }

    /// The limits in force (from `OPTIONS /capture`, lowered by a 413).
    pub fn limits(&self, limits: LimitsReport) {
        *self.limits.lock().unwrap_or_else(|p| p.into_inner()) = Some(limits);
    }

    /// Requests that failed for `why` since start.
    pub fn failures(&self, why: Failure) -> u64 {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&why)
            .copied()
            .unwrap_or(0)
    }

    /// The report of these figures.
    pub fn report(&self) -> RepositoryReport {
        let url = self.url.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let link = self.link.report(&url, 0);
        let refused = self.link.report(&url, 0).refused.is_some();
        RepositoryReport {
            url,
            connected: link.connected,
            last_success_at: ms_to_rfc3339(self.last_success_ms.load(Ordering::Relaxed) as i64),
            offline_since: link.offline_since,
            offline_s: link.offline_s,
            events_posted_total: self.events_posted_total.load(Ordering::Relaxed),
            events_captured_total: self.events_captured_total.load(Ordering::Relaxed),
            already_captured_total: self.already_captured_total.load(Ordering::Relaxed),
            set_aside_total: self.set_aside_total.load(Ordering::Relaxed),
            jobs_total: self.jobs_total.load(Ordering::Relaxed),
            jobs_running: self.jobs_running.load(Ordering::Relaxed),
            failures: self
                .failures
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|(k, v)| (k.name().to_string(), *v))
                .collect(),
            credentials_refused: refused
                .then(|| {
                    self.last_refusal
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone()
                })
                .flatten(),
            last_error: link.last_error,
            limits: self
                .limits
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

/// The capture limits in force.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LimitsReport {
    /// Most events per request (`GS1-EPCIS-Capture-Limit`, or `epcis.batch_max_events`).
    pub events: usize,
    /// Most octets per request (`GS1-EPCIS-Capture-File-Size-Limit`, or
    /// `epcis.batch_max_bytes`).
    pub bytes: usize,
    /// The content type documents are posted with.
    pub content_type: String,
}

/// The EPCIS repository uplink in the status report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RepositoryReport {
    /// The capture endpoint (no credentials).
    pub url: String,
    /// The latest request was answered.
    pub connected: bool,
    /// The latest capture job that succeeded.
    pub last_success_at: Option<String>,
    /// Since when the repository has been unreachable.
    pub offline_since: Option<String>,
    /// For how long, seconds.
    pub offline_s: Option<u64>,
    /// Events posted since start (resends included).
    pub events_posted_total: u64,
    /// Events the repository captured since start.
    pub events_captured_total: u64,
    /// Of those, events it said it already had (a resend after a lost answer).
    pub already_captured_total: u64,
    /// Events set aside with the repository's reason since start.
    pub set_aside_total: u64,
    /// Capture jobs since start.
    pub jobs_total: u64,
    /// Capture jobs being watched now (0 or 1).
    pub jobs_running: u64,
    /// Failed requests by kind (`unreachable`, `server_error`, `credentials_refused`,
    /// `too_large`, `unsupported_type`, `rejected`, `job_failed`, `job_timed_out`,
    /// `job_lost`, `unexpected`).
    pub failures: BTreeMap<String, u64>,
    /// The repository refuses this gateway's credential (absent unless the latest answer
    /// was 401/403): what it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_refused: Option<String>,
    /// The latest error.
    pub last_error: Option<String>,
    /// The limits in force.
    pub limits: Option<LimitsReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_by_kind_and_a_refusal_reads_as_one() {
        let status = RepositoryStatus::new("https://epcis.example.com/capture");
        status.failed(Failure::Unreachable, "connection refused".into());
        status.failed(Failure::Unreachable, "connection refused".into());
        status.failed(Failure::CredentialsRefused, "401 Unauthorized".into());
        let report = status.report();
        assert_eq!(report.failures["unreachable"], 2);
        assert_eq!(report.failures["credentials_refused"], 1);
        assert_eq!(
            report.credentials_refused.as_deref(),
            Some("401 Unauthorized")
        );
        assert!(!report.connected);
        status.reached();
        status.captured(10, 2);
        let report = status.report();
        assert!(report.connected);
        assert!(report.credentials_refused.is_none());
        assert_eq!(report.events_captured_total, 10);
        assert_eq!(report.already_captured_total, 2);
        assert!(report.last_success_at.is_some());
    }
}
