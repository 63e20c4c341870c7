//! The commissioning page's checks on arbitrary request headers and passwords: never a panic,
//! never a session or an action granted without the password and the session's own token.
#![no_main]

use hyper::HeaderMap;
use hyper::header::{HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use tracegate::config::Secret;
use tracegate::web::auth::Auth;
use tracegate::web::page::language;

fuzz_target!(|data: &[u8]| {
    let (password, headers_text) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let mut headers = HeaderMap::new();
    for line in headers_text.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(&line[colon + 1..]),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let _ = language(
        headers
            .get("accept-language")
            .and_then(|v| v.to_str().ok()),
    );
    let auth = Auth::new(Some(&Secret::new("right-password".into())), 8080, false);
    assert!(auth.may_read(&headers).is_err(), "no session was opened");
    assert!(auth.may_act(&headers).is_err(), "no session was opened");
    assert_eq!(auth.session(&headers), (None, None));
    let password = String::from_utf8_lossy(password);
    let peer = std::net::IpAddr::from([127, 0, 0, 1]);
    if let Ok((cookie, csrf)) = auth.sign_in(&headers, peer, &password) {
        assert_eq!(password, "right-password");
        assert!(cookie.starts_with("tracegate_8080=") && csrf.len() == 64);
    }
    let open = Auth::new(None, 1, true);
    let _ = open.may_act(&headers);
    let _ = open.session(&headers);
});
