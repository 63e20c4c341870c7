//! What an EPCIS 2.0 repository's REST capture interface answers, read from status, headers
//! and body alone (pure, tested on bytes): `OPTIONS /capture`, `POST /capture`, and `GET` on
//! a capture job (GS1 EPCIS 2.0 REST bindings, openapi.json `/capture` and
//! `/capture/{captureID}`).

use reqwest::Url;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

/// `GS1-EPCIS-Capture-Limit`: most events per capture call.
pub const CAPTURE_LIMIT: &str = "GS1-EPCIS-Capture-Limit";
/// `GS1-EPCIS-Capture-File-Size-Limit`: most octets per capture call.
pub const FILE_SIZE_LIMIT: &str = "GS1-EPCIS-Capture-File-Size-Limit";

/// The limits a repository announced (either may be absent: then ours apply).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnnouncedLimits {
    /// `GS1-EPCIS-Capture-Limit`.
    pub events: Option<usize>,
    /// `GS1-EPCIS-Capture-File-Size-Limit`.
    pub bytes: Option<usize>,
}

impl AnnouncedLimits {
    /// The limits in `headers` (a value that is not a positive integer is ignored).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|n| *n > 0)
        };
        AnnouncedLimits {
            events: number(CAPTURE_LIMIT),
            bytes: number(FILE_SIZE_LIMIT),
        }
    }
}

/// An RFC 7807 problem, as the REST bindings answer every error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problem {
    /// `type` (e.g. `epcisException:ValidationException`).
    pub kind: String,
    /// `title`.
    pub title: String,
    /// `detail`, when given.
    pub detail: Option<String>,
}

impl Problem {
    /// The problem in `body`, or a stand-in naming the HTTP status when the body is not one.
    pub fn from_body(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<Value>(body) {
            Ok(value) => Problem::from_value(&value),
            Err(_) => Problem {
                kind: String::new(),
                title: format!("HTTP {status}"),
                detail: Some(String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned())
                    .filter(|d| !d.trim().is_empty()),
            },
        }
    }

    /// A problem object (or, as some repositories write, a plain string).
    pub fn from_value(value: &Value) -> Self {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
        match value {
            Value::String(s) => Problem {
                title: s.clone(),
                ..Problem::default()
            },
            _ => Problem {
                kind: text("type").unwrap_or_default(),
                title: text("title").unwrap_or_default(),
                detail: text("detail"),
            },
        }
    }

    /// The problem in words: `title: detail (type)`, trimmed to what a log line holds.
    pub fn words(&self) -> String {
        let mut out = self.title.clone();
        if let Some(detail) = &self.detail {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(detail);
        }
        if !self.kind.is_empty() {
            out.push_str(&format!(" ({})", self.kind));
        }
        if out.len() > 500 {
            let mut end = 500;
            while !out.is_char_boundary(end) {
                end -= 1;
            }
            out.truncate(end);
            out.push('…');
        }
        out
    }

    /// Does it say the event was captured before (a repository that refuses an eventID it
    /// already holds)? Such an answer to a resend means the event is there: delivered.
    pub fn says_already_captured(&self) -> bool {
        let text = format!(
            "{} {} {}",
            self.kind,
            self.title,
            self.detail.as_deref().unwrap_or("")
        )
        .to_ascii_lowercase();
        text.contains("duplicate")
            || text.contains("already captured")
            || text.contains("already exist")
    }
}

/// The answer to `POST /capture`.
#[derive(Debug, Clone, PartialEq)]
pub enum PostAnswer {
    /// 202 Accepted: a capture job runs at `Location`.
    Accepted(Url),
    /// 400: the repository refused the document (a `ValidationException`, say).
    Rejected(Problem),
    /// 401 or 403: the credential was refused.
    Refused(u16, Problem),
    /// 413: too large; the limits it sent back, if any.
    TooLarge(AnnouncedLimits, Problem),
    /// 415: not this content type.
    UnsupportedType(Problem),
    /// 5xx (and 408, 429): try again later.
    ServerError(u16, Problem),
    /// Anything else (a 202 without a usable `Location`, a 3xx, a 404 …).
    Unexpected(String),
}

/// Reads the answer to `POST /capture` sent to `capture_url`.
pub fn post_answer(capture_url: &Url, status: u16, headers: &HeaderMap, body: &[u8]) -> PostAnswer {
    match status {
        200..=202 => match headers.get(reqwest::header::LOCATION).map(|l| l.to_str()) {
            Some(Ok(location)) => match capture_url.join(location.trim()) {
                // The job is asked for with the same client: http(s) only.
                Ok(url) if matches!(url.scheme(), "http" | "https") => PostAnswer::Accepted(url),
                Ok(url) => PostAnswer::Unexpected(format!(
                    "HTTP {status} with a capture job at {url}, not an http(s) URL"
                )),
                Err(e) => PostAnswer::Unexpected(format!(
                    "HTTP {status} with a Location that is not a URL ({location:?}: {e})"
                )),
            },
            _ => PostAnswer::Unexpected(format!(
                "HTTP {status} without the Location of a capture job (the REST bindings answer \
                 202 Accepted with one)"
            )),
        },
        400 => PostAnswer::Rejected(Problem::from_body(status, body)),
        401 | 403 => PostAnswer::Refused(status, Problem::from_body(status, body)),
        413 => PostAnswer::TooLarge(
            AnnouncedLimits::from_headers(headers),
            Problem::from_body(status, body),
        ),
        415 => PostAnswer::UnsupportedType(Problem::from_body(status, body)),
        408 | 429 | 500..=599 => PostAnswer::ServerError(status, Problem::from_body(status, body)),
        _ => PostAnswer::Unexpected(format!(
            "HTTP {status}: {}",
            Problem::from_body(status, body).words()
        )),
    }
}

/// A capture job's document (openapi.json `CaptureJob`).
#[derive(Debug, Deserialize)]
struct CaptureJob {
    #[serde(default)]
    running: bool,
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    errors: Option<Value>,
    #[serde(default, rename = "errorFile")]
    error_file: Option<Value>,
}

/// The answer to `GET` on a capture job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobAnswer {
    /// Still capturing.
    Running,
    /// Every event captured.
    Success,
    /// Finished with errors (under `rollback`, nothing was captured): the problems given.
    Errors(Vec<Problem>),
    /// 404: the repository does not know the job (it forgot it, or restarted).
    Lost,
    /// 401 or 403.
    Refused(u16, Problem),
    /// 5xx (and 408, 429).
    ServerError(u16, Problem),
    /// Anything else.
    Unexpected(String),
}

/// Reads the answer to `GET {Location}`.
pub fn job_answer(status: u16, body: &[u8]) -> JobAnswer {
    match status {
        200 => match serde_json::from_slice::<CaptureJob>(body) {
            Ok(job) if job.running => JobAnswer::Running,
            Ok(job) => {
                let mut problems: Vec<Problem> = match &job.errors {
                    Some(Value::Array(items)) => items.iter().map(Problem::from_value).collect(),
                    Some(Value::Null) | None => Vec::new(),
                    Some(other) => vec![Problem::from_value(other)],
                };
                let failed = job.success == Some(false) || !problems.is_empty();
                if !failed {
                    return JobAnswer::Success;
                }
                if problems.is_empty() {
                    problems.push(Problem {
                        title: match &job.error_file {
                            Some(file) => {
                                format!("the capture job failed; its errors are in {file}")
                            }
                            None => "the capture job failed and named no error".into(),
                        },
                        ..Problem::default()
                    });
                }
                JobAnswer::Errors(problems)
            }
            Err(e) => JobAnswer::Unexpected(format!("a capture job that is not one: {e}")),
        },
        404 | 410 => JobAnswer::Lost,
        401 | 403 => JobAnswer::Refused(status, Problem::from_body(status, body)),
        408 | 429 | 500..=599 => JobAnswer::ServerError(status, Problem::from_body(status, body)),
        _ => JobAnswer::Unexpected(format!(
            "HTTP {status}: {}",
            Problem::from_body(status, body).words()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn url() -> Url {
        Url::parse("https://epcis.example.com/api/capture").unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_202_location_is_read_relative_or_absolute() {
        let relative = headers(&[("location", "capture/id261378658356")]);
        assert_eq!(
            post_answer(&url(), 202, &relative, b""),
            PostAnswer::Accepted(
                Url::parse("https://epcis.example.com/api/capture/id261378658356").unwrap()
            )
        );
        let rooted = headers(&[("location", "/api/capture/7")]);
        assert_eq!(
            post_answer(&url(), 202, &rooted, b""),
            PostAnswer::Accepted(Url::parse("https://epcis.example.com/api/capture/7").unwrap())
        );
        let absolute = headers(&[("location", "https://jobs.example.com/capture/8")]);
        assert_eq!(
            post_answer(&url(), 202, &absolute, b""),
            PostAnswer::Accepted(Url::parse("https://jobs.example.com/capture/8").unwrap())
        );
        assert!(matches!(
            post_answer(&url(), 202, &HeaderMap::new(), b""),
            PostAnswer::Unexpected(_)
        ));
    }

    #[test]
    fn errors_carry_the_problem_and_a_413_its_limits() {
        let body = br#"{"type":"epcisException:ValidationException","title":"Invalid event","detail":"eventTime missing","status":400}"#;
        let PostAnswer::Rejected(problem) = post_answer(&url(), 400, &HeaderMap::new(), body)
        else {
            panic!()
        };
        assert_eq!(
            problem.words(),
            "Invalid event: eventTime missing (epcisException:ValidationException)"
        );
        let limits = headers(&[(CAPTURE_LIMIT, "100"), (FILE_SIZE_LIMIT, "65536")]);
        assert_eq!(
            post_answer(&url(), 413, &limits, b"not json"),
            PostAnswer::TooLarge(
                AnnouncedLimits {
                    events: Some(100),
                    bytes: Some(65536)
                },
                Problem {
                    kind: String::new(),
                    title: "HTTP 413".into(),
                    detail: Some("not json".into())
                }
            )
        );
        assert!(matches!(
            post_answer(&url(), 401, &HeaderMap::new(), b""),
            PostAnswer::Refused(401, _)
        ));
        assert!(matches!(
            post_answer(&url(), 403, &HeaderMap::new(), b""),
            PostAnswer::Refused(403, _)
        ));
        assert!(matches!(
            post_answer(&url(), 415, &HeaderMap::new(), b""),
            PostAnswer::UnsupportedType(_)
        ));
        assert!(matches!(
            post_answer(&url(), 503, &HeaderMap::new(), b""),
            PostAnswer::ServerError(503, _)
        ));
        assert!(matches!(
            post_answer(&url(), 404, &HeaderMap::new(), b""),
            PostAnswer::Unexpected(_)
        ));
    }

    #[test]
    fn a_job_reads_as_running_success_or_its_errors() {
        assert_eq!(
            job_answer(200, br#"{"running":true,"success":true}"#),
            JobAnswer::Running
        );
        assert_eq!(
            job_answer(200, br#"{"captureID":"1","running":false,"success":true,"captureErrorBehaviour":"rollback","errors":[]}"#),
            JobAnswer::Success
        );
        let JobAnswer::Errors(problems) = job_answer(
            200,
            br#"{"running":false,"success":false,"errors":[{"type":"epcisException:CaptureLimitExceededException","title":"Duplicate eventID"}]}"#,
        ) else {
            panic!()
        };
        assert!(problems[0].says_already_captured());
        let JobAnswer::Errors(problems) = job_answer(200, br#"{"running":false,"success":false}"#)
        else {
            panic!()
        };
        assert!(problems[0].title.contains("named no error"));
        assert_eq!(job_answer(404, b""), JobAnswer::Lost);
        assert!(matches!(
            job_answer(200, b"<xml/>"),
            JobAnswer::Unexpected(_)
        ));
    }

    proptest::proptest! {
        /// Whatever a repository (or something posing as one) answers: never a panic, the
        /// words bounded for a log line, and a 202's job always under an http(s) URL.
        #[test]
        fn any_answer_is_read_without_a_panic(
            status in 100u16..600,
            location in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
            limit in proptest::collection::vec(proptest::num::u8::ANY, 0..12),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
        ) {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_bytes(&location) {
                headers.insert("location", value);
            }
            if let Ok(value) = HeaderValue::from_bytes(&limit) {
                headers.insert(CAPTURE_LIMIT, value.clone());
                headers.insert(FILE_SIZE_LIMIT, value);
            }
            match post_answer(&url(), status, &headers, &body) {
                PostAnswer::Accepted(job) => {
                    proptest::prop_assert!(matches!(job.scheme(), "http" | "https"));
                }
                PostAnswer::Rejected(p) | PostAnswer::Refused(_, p) | PostAnswer::TooLarge(_, p)
                | PostAnswer::UnsupportedType(p) | PostAnswer::ServerError(_, p) => {
                    proptest::prop_assert!(p.words().len() <= 504);
                }
                PostAnswer::Unexpected(_) => {}
            }
            if let JobAnswer::Errors(problems) = job_answer(status, &body) {
                proptest::prop_assert!(!problems.is_empty());
                for p in problems {
                    proptest::prop_assert!(p.words().len() <= 504);
                }
            }
        }
    }

    /// Found by fuzzing (`epcis_answer`): backslashes make a relative `Location` a
    /// host-relative one whose host holds uppercase letters and percent escapes; with
    /// `idna_adapter` 1.0 (no IDNA mapping) `url` asserted on it in debug builds.
    #[test]
    fn a_location_with_backslashes_and_escapes_is_read_not_panicked_on() {
        let mut headers = HeaderMap::new();
        headers.insert("location", HeaderValue::from_static("P\\\\%60PPPP%8E+P"));
        let _ = post_answer(&url(), 201, &headers, b"");
        let mut headers = HeaderMap::new();
        headers.insert("location", HeaderValue::from_static("\\\\%60PPPP%8E+P"));
        let _ = post_answer(&url(), 202, &headers, b"");
    }

    #[test]
    fn limits_ignore_what_is_not_a_positive_number() {
        let h = headers(&[(CAPTURE_LIMIT, "0"), (FILE_SIZE_LIMIT, "lots")]);
        assert_eq!(
            AnnouncedLimits::from_headers(&h),
            AnnouncedLimits::default()
        );
    }
}
