//! Who may act on the page: the operator's sign-in, sessions, and the checks that stop another
//! site from acting through a signed-in browser.
//!
//! ```text
//!  no password_file (loopback only) ─▶ GET /api/session hands any caller a session: local
//!                                      users may act (the listener is not reachable from
//!                                      the network: the config refuses that)
//!  password_file ─▶ POST /api/sign-in {password} ──right──▶ session (cookie) + CSRF token
//!                        │ wrong: counted per address;  MAX_FAILURES in FAILURE_WINDOW
//!                        ▼ then 429 until the window has passed
//!  a state-changing request ─▶ session cookie ∧ X-CSRF-Token = the session's token
//!                              ∧ not cross-site (Origin = the page's, Sec-Fetch-Site)
//! ```
//!
//! The session cookie is `HttpOnly; SameSite=Strict` (and `Secure` over HTTPS); its name
//! carries the listener's port, since browsers share cookies between ports of one host and two
//! gateways' pages on one laptop must not sign each other out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::HeaderMap;
use hyper::header::{COOKIE, HOST, ORIGIN};
use sha2::{Digest, Sha256};

use crate::config::Secret;

/// Wrong passwords allowed from one address per window.
pub const MAX_FAILURES: u32 = 5;

/// The window over which wrong passwords are counted.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// A session unused this long is forgotten (the operator signs in again).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);

/// Sessions kept at once; the one used longest ago makes room for a new one.
pub const MAX_SESSIONS: usize = 64;

/// Addresses whose failures are remembered at once (a bound on what a scan can fill).
const MAX_TRACKED: usize = 1024;

/// The header that carries the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in browser.
#[derive(Debug, Clone)]
struct Session {
    csrf: String,
    used: Instant,
}

/// Why a request may not do what it asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not signed in (or the session expired).
    SignIn,
    /// Another site's page sent it, or the CSRF token is missing or wrong.
    CrossSite(&'static str),
    /// Too many wrong passwords from this address: wait.
    TooMany(Duration),
    /// The password is wrong.
    WrongPassword,
}

impl Refusal {
    /// The words the page shows.
    pub fn message(&self) -> String {
        match self {
            Refusal::SignIn => "sign in first: this page's actions need the operator's password (web.password_file)".into(),
            Refusal::CrossSite(why) => format!("refused: {why}"),
            Refusal::TooMany(wait) => format!(
                "too many wrong passwords from this address: try again in {} s",
                wait.as_secs().max(1)
            ),
            Refusal::WrongPassword => "wrong password".into(),
        }
    }
}

/// Sign-in, sessions and CSRF checks for one listener.
#[derive(Debug)]
pub struct Auth {
    password: Option<[u8; 32]>,
    cookie: String,
    secure: bool,
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// A new random token (hex of 32 bytes from the OS).
fn token() -> String {
    let mut bytes = [0u8; 32];
    // The OS random source failing is not something a page can work around.
    getrandom::fill(&mut bytes).expect("the OS random source works");
    hex::encode(bytes)
}

impl Auth {
    /// Checks for `password` (none: local users may act) on the listener's `port`.
    pub fn new(password: Option<&Secret>, port: u16, secure: bool) -> Auth {
        Auth {
            // Only its digest is kept: comparing digests leaks nothing about the password
            // through timing, and the password itself is not in memory to be dumped.
            password: password.map(|p| digest(p.expose())),
            cookie: format!("tracegate_{port}"),
            secure,
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Whether signing in is needed at all.
    pub fn password_required(&self) -> bool {
        self.password.is_some()
    }

    /// The request's live session, touched: its id and CSRF token (one lookup; an expired
    /// session is forgotten here).
    fn session_of(&self, headers: &HeaderMap) -> Option<(String, String)> {
        let id = cookie(headers, &self.cookie)?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let session = sessions.get_mut(id)?;
        if session.used.elapsed() > IDLE_TIMEOUT {
            sessions.remove(id);
            return None;
        }
        session.used = Instant::now();
        Some((id.to_string(), session.csrf.clone()))
    }

    /// The CSRF token of the request's session, if it has one.
    pub fn csrf(&self, headers: &HeaderMap) -> Option<String> {
        self.session_of(headers).map(|(_, csrf)| csrf)
    }

    /// May the request read the page's data?
    pub fn may_read(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if self.password.is_none() || self.session_of(headers).is_some() {
            Ok(())
        } else {
            Err(Refusal::SignIn)
        }
    }

    /// May the request change something? A session, its CSRF token, and not cross-site.
    pub fn may_act(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        same_origin(headers)?;
        let expected = self.csrf(headers).ok_or(Refusal::SignIn)?;
        let given = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(Refusal::CrossSite("no CSRF token (header X-CSRF-Token)"))?;
        if digest(given) != digest(&expected) {
            return Err(Refusal::CrossSite("the CSRF token is not this session's"));
        }
        Ok(())
    }

    /// A new session: its cookie header value and CSRF token.
    fn open(&self) -> (String, String) {
        let id = token();
        let csrf = token();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, s| s.used.elapsed() <= IDLE_TIMEOUT);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                used: Instant::now(),
            },
        );
        (self.set_cookie(&id, IDLE_TIMEOUT.as_secs()), csrf)
    }

    fn set_cookie(&self, value: &str, max_age: u64) -> String {
        format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
            self.cookie,
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// Without a password: the caller's session, opened if it has none (the cookie to set,
    /// if new, and the CSRF token). With one: the session if signed in.
    pub fn session(&self, headers: &HeaderMap) -> (Option<String>, Option<String>) {
        if let Some(csrf) = self.csrf(headers) {
            return (None, Some(csrf));
        }
        if self.password.is_some() {
            return (None, None);
        }
        let (cookie, csrf) = self.open();
        (Some(cookie), Some(csrf))
    }

    /// Signs in from `peer` with `password`: the cookie to set and the CSRF token.
    pub fn sign_in(
        &self,
        headers: &HeaderMap,
        peer: IpAddr,
        password: &str,
    ) -> Result<(String, String), Refusal> {
        same_origin(headers)?;
        let Some(expected) = self.password else {
            return Ok(self.open());
        };
        let now = Instant::now();
        {
            let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((count, since)) = failures.get(&peer)
                && *count >= MAX_FAILURES
                && now.duration_since(*since) < FAILURE_WINDOW
            {
                return Err(Refusal::TooMany(
                    FAILURE_WINDOW - now.duration_since(*since),
                ));
            }
        }
        if digest(password) == expected {
            self.failures
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&peer);
            return Ok(self.open());
        }
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_TRACKED && !failures.contains_key(&peer) {
            failures.retain(|_, (_, since)| now.duration_since(*since) < FAILURE_WINDOW);
            if failures.len() >= MAX_TRACKED {
                // A scan from many addresses: count it on one shared slot, not unboundedly.
                failures.clear();
            }
        }
        let entry = failures.entry(peer).or_insert((0, now));
        if now.duration_since(entry.1) >= FAILURE_WINDOW {
            *entry = (0, now);
        }
        entry.0 += 1;
        Err(Refusal::WrongPassword)
    }

    /// Ends the request's session: the cookie header that clears it.
    pub fn sign_out(&self, headers: &HeaderMap) -> String {
        if let Some((id, _)) = self.session_of(headers) {
            self.sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        }
        self.set_cookie("", 0)
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Refuses a request another site's page sent: by `Sec-Fetch-Site` where the browser sends
/// it, and by `Origin` against `Host` (older browsers).
fn same_origin(headers: &HeaderMap) -> Result<(), Refusal> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && site != "same-origin"
        && site != "none"
    {
        return Err(Refusal::CrossSite("sent by another site's page"));
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        if host.is_empty() || authority != Some(host) {
            return Err(Refusal::CrossSite(
                "its Origin is not this page's (a cross-site request)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn cookie_pair(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap().to_string()
    }

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn with_a_password_nothing_is_allowed_until_signed_in() {
        let auth = Auth::new(Some(&Secret::new("s3cret".into())), 8080, false);
        let none = headers(&[]);
        assert_eq!(auth.may_read(&none), Err(Refusal::SignIn));
        assert_eq!(auth.may_act(&none), Err(Refusal::SignIn));
        assert_eq!(auth.session(&none), (None, None));
        assert_eq!(
            auth.sign_in(&none, PEER, "wrong"),
            Err(Refusal::WrongPassword)
        );
        let (set, csrf) = auth.sign_in(&none, PEER, "s3cret").unwrap();
        assert!(set.starts_with("tracegate_8080="), "{set}");
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        let signed = headers(&[("cookie", &cookie_pair(&set))]);
        assert_eq!(auth.may_read(&signed), Ok(()));
        assert!(matches!(auth.may_act(&signed), Err(Refusal::CrossSite(_))));
        let acting = headers(&[("cookie", &cookie_pair(&set)), (CSRF_HEADER, &csrf)]);
        assert_eq!(auth.may_act(&acting), Ok(()));
        let forged = headers(&[("cookie", &cookie_pair(&set)), (CSRF_HEADER, "00")]);
        assert!(matches!(auth.may_act(&forged), Err(Refusal::CrossSite(_))));
        auth.sign_out(&signed);
        assert_eq!(auth.may_act(&acting), Err(Refusal::SignIn));
    }

    #[test]
    fn wrong_passwords_are_limited_per_address() {
        let auth = Auth::new(Some(&Secret::new("right".into())), 1, false);
        let none = headers(&[]);
        for _ in 0..MAX_FAILURES {
            assert_eq!(
                auth.sign_in(&none, PEER, "guess"),
                Err(Refusal::WrongPassword)
            );
        }
        assert!(matches!(
            auth.sign_in(&none, PEER, "right"),
            Err(Refusal::TooMany(_))
        ));
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(auth.sign_in(&none, other, "right").is_ok());
    }

    #[test]
    fn without_a_password_any_local_caller_gets_a_session_but_still_needs_its_token() {
        let auth = Auth::new(None, 9, false);
        let none = headers(&[]);
        assert_eq!(auth.may_read(&none), Ok(()));
        let (set, csrf) = auth.session(&none);
        let (set, csrf) = (set.unwrap(), csrf.unwrap());
        let with = headers(&[("cookie", &cookie_pair(&set))]);
        assert_eq!(auth.session(&with), (None, Some(csrf.clone())));
        assert!(auth.may_act(&with).is_err(), "a cookie alone is not enough");
        let acting = headers(&[("cookie", &cookie_pair(&set)), (CSRF_HEADER, &csrf)]);
        assert_eq!(auth.may_act(&acting), Ok(()));
    }

    #[test]
    fn cross_site_requests_are_refused_even_with_the_token() {
        let auth = Auth::new(None, 9, false);
        let (set, csrf) = auth.session(&headers(&[]));
        let base = [
            ("cookie", cookie_pair(&set.unwrap())),
            (CSRF_HEADER, csrf.unwrap()),
            ("host", "127.0.0.1:9".to_string()),
        ];
        let with = |extra: &[(&'static str, &str)]| {
            let mut pairs: Vec<(&'static str, &str)> =
                base.iter().map(|(k, v)| (*k, v.as_str())).collect();
            pairs.extend_from_slice(extra);
            headers(&pairs)
        };
        assert_eq!(auth.may_act(&with(&[])), Ok(()));
        assert_eq!(
            auth.may_act(&with(&[("origin", "http://127.0.0.1:9")])),
            Ok(())
        );
        assert!(
            auth.may_act(&with(&[("origin", "https://evil.example")]))
                .is_err()
        );
        assert!(
            auth.may_act(&with(&[("sec-fetch-site", "cross-site")]))
                .is_err()
        );
        assert_eq!(
            auth.may_act(&with(&[("sec-fetch-site", "same-origin")])),
            Ok(())
        );
    }

    #[test]
    fn sessions_are_bounded() {
        let auth = Auth::new(None, 9, true);
        let mut first = None;
        for _ in 0..(MAX_SESSIONS + 5) {
            let (set, _) = auth.session(&headers(&[]));
            let set = set.unwrap();
            assert!(set.ends_with("; Secure"));
            first.get_or_insert(set);
        }
        assert!(auth.sessions.lock().unwrap().len() <= MAX_SESSIONS);
        let first = headers(&[("cookie", &cookie_pair(&first.unwrap()))]);
        assert_eq!(auth.csrf(&first), None, "the oldest made room");
    }
}
