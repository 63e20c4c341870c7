//! An EPCIS repository's answers (`POST /capture`, `GET` on a capture job) read from
//! fuzzer-chosen status, `Location`, limit headers and body: never a panic, the repository's
//! words bounded for a log line, a job's URL always http(s).
#![no_main]

use libfuzzer_sys::fuzz_target;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderValue};
use tracegate::uplink::epcis::{JobAnswer, PostAnswer, job_answer, post_answer};

fuzz_target!(|data: &[u8]| {
    let [a, b, cut1, cut2, rest @ ..] = data else { return };
    let status = 100 + u16::from_be_bytes([*a, *b]) % 500;
    let cut1 = usize::from(*cut1).min(rest.len());
    let (location, rest) = rest.split_at(cut1);
    let cut2 = usize::from(*cut2 % 16).min(rest.len());
    let (limit, body) = rest.split_at(cut2);
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(location) {
        headers.insert("location", value);
    }
    if let Ok(value) = HeaderValue::from_bytes(limit) {
        headers.insert("gs1-epcis-capture-limit", value.clone());
        headers.insert("gs1-epcis-capture-file-size-limit", value);
    }
    let capture = Url::parse("https://epcis.example.com/api/capture").unwrap();
    match post_answer(&capture, status, &headers, body) {
        PostAnswer::Accepted(job) => assert!(matches!(job.scheme(), "http" | "https")),
        PostAnswer::Rejected(p)
        | PostAnswer::Refused(_, p)
        | PostAnswer::TooLarge(_, p)
        | PostAnswer::UnsupportedType(p)
        | PostAnswer::ServerError(_, p) => assert!(p.words().len() <= 504),
        PostAnswer::Unexpected(_) => {}
    }
    if let JobAnswer::Errors(problems) = job_answer(status, body) {
        assert!(!problems.is_empty());
        for p in problems {
            assert!(p.words().len() <= 504);
        }
    }
});
