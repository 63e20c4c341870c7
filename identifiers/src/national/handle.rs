//! Handle identifiers, the syntax of China's industrial-internet Identifier Resolution System
//! (IDIS, 工业互联网标识解析体系), whose national top-level node allocates prefixes under `88`.
//!
//! What is checked, and where each rule comes from:
//!
//! - **The syntax** (RFC 3650 §3, "Handle System Namespace"): a handle is a naming authority
//!   (the *prefix*), `/`, and a local name (the *suffix*); the prefix is one or more segments
//!   separated by `.`, none empty. The suffix may hold any character (a `/` included) but is
//!   not empty. Neither may hold a space or a control character here, which cannot be told
//!   apart from the scanner's own framing.
//! - **An IDIS prefix**: the first segment `88` (the national top-level node; the issue's
//!   `88.1000.2/mm` and the operator's published identifiers `88.608.8889/87654321` and
//!   `88.608.8899/META_zj02`, Teleinfo's id-guide, docs/dev-tools/standard/api/handle.md),
//!   then the industry and enterprise segments, all digits in every published prefix. `auto`
//!   takes a bare handle only in this form; `decode_as = "cn_handle"` takes any handle and
//!   says whether it is under `88`.
//! - **A resolution URL**: `https://hdl.handle.net/<handle>` (the Handle.Net proxy, which
//!   resolves every handle) is decoded to the handle it carries.
//!
//! Not checked: whether the prefix is allocated (only a resolver knows), the suffix's
//! industry-specific coding (each industry's coding rules are their own standards).

use serde::Serialize;

use crate::DecodeError;
use crate::digital_link::unescape;

/// The Handle.Net proxy's host.
pub const PROXY_HOST: &str = "hdl.handle.net";

/// The top-level segment of China's IDIS prefixes.
pub const IDIS_ROOT: &str = "88";

/// A decoded handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handle {
    /// The naming authority (`88.608.8889`).
    pub prefix: String,
    /// The local name (`87654321`).
    pub suffix: String,
    /// Whether the prefix is under China's IDIS national top-level node (`88.…`).
    pub idis: bool,
}

impl Handle {
    /// `prefix/suffix`.
    pub fn handle(&self) -> String {
        format!("{}/{}", self.prefix, self.suffix)
    }
}

/// Is `s` an IDIS handle in its allocated form, or a Handle.Net proxy URL (for `auto`)?
pub fn looks_like(s: &str) -> bool {
    // Cheap signs first: auto asks this of every read without a symbology identifier (every
    // RFID tag's hex among them), and a full parse allocates.
    proxy_handle(s).is_some()
        || s.starts_with("88.")
            && s.contains('/')
            && cn_handle(s).is_ok_and(|h| {
                h.idis
                    && h.prefix.split('.').count() >= 2
                    && h.prefix.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            })
}

/// The handle a proxy URL carries, and its byte offset.
fn proxy_handle(s: &str) -> Option<(&str, usize)> {
    let handle = super::strip_resolver(s, PROXY_HOST)?.strip_prefix('/')?;
    Some((handle, s.len() - handle.len()))
}

/// Decodes a handle, or a Handle.Net proxy URL carrying one.
pub fn cn_handle(input: &str) -> Result<Handle, DecodeError> {
    if let Some((handle, at)) = proxy_handle(input) {
        // A query or fragment is the proxy's, not the handle's.
        let handle = handle.split(['?', '#']).next().unwrap_or_default();
        let handle = unescape(handle, false, at)?;
        return handle_at(&handle, at);
    }
    handle_at(input, 0)
}

fn handle_at(s: &str, at: usize) -> Result<Handle, DecodeError> {
    if let Some(i) = s.bytes().position(|b| b.is_ascii_control() || b == b' ') {
        return Err(DecodeError::at(
            "invalid_character",
            at + i,
            "a handle holds no space or control character",
        ));
    }
    let Some((prefix, suffix)) = s.split_once('/') else {
        return Err(DecodeError::whole(
            "not_handle",
            "a handle is prefix/suffix (RFC 3650 §3); there is no \"/\"",
        ));
    };
    if prefix.is_empty() {
        return Err(DecodeError::at(
            "invalid_value",
            at,
            "the handle's prefix is empty",
        ));
    }
    let mut i = 0;
    for segment in prefix.split('.') {
        if segment.is_empty() {
            return Err(DecodeError::at(
                "invalid_value",
                at + i,
                "an empty segment in the handle's prefix",
            ));
        }
        i += segment.len() + 1;
    }
    if suffix.is_empty() {
        return Err(DecodeError::at(
            "invalid_value",
            at + prefix.len() + 1,
            "the handle's suffix is empty",
        ));
    }
    Ok(Handle {
        prefix: prefix.to_string(),
        suffix: suffix.to_string(),
        idis: prefix == IDIS_ROOT || prefix.starts_with("88."),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_idis_handles_decode() {
        for (s, prefix, suffix) in [
            ("88.1000.2/mm", "88.1000.2", "mm"),
            ("88.608.8889/87654321", "88.608.8889", "87654321"),
            ("88.608.8899/META_zj02", "88.608.8899", "META_zj02"),
        ] {
            let h = cn_handle(s).unwrap();
            assert_eq!(
                (h.prefix.as_str(), h.suffix.as_str(), h.idis),
                (prefix, suffix, true)
            );
            assert_eq!(h.handle(), s);
            assert!(looks_like(s), "{s}");
        }
        // A suffix may hold "/" (RFC 3650: the first "/" ends the prefix).
        assert_eq!(cn_handle("88.608.8889/a/b").unwrap().suffix, "a/b");
    }

    #[test]
    fn other_handles_decode_but_auto_takes_only_the_idis_form() {
        let h = cn_handle("20.500.12345/abc").unwrap();
        assert!(!h.idis);
        assert!(!looks_like("20.500.12345/abc"));
        assert!(
            !looks_like("88/abc"),
            "a bare top-level prefix is not an allocated one"
        );
        assert!(!looks_like("88.abc.1/x"));
        assert!(!looks_like("1/2"), "a fraction is not a handle");
    }

    #[test]
    fn a_proxy_url_decodes_to_its_handle() {
        let h = cn_handle("https://hdl.handle.net/88.608.8889/a%2Fb?noredirect").unwrap();
        assert_eq!(h.handle(), "88.608.8889/a/b");
        assert!(looks_like("http://HDL.handle.net/88.1000.2/mm"));
    }

    #[test]
    fn malformed_handles_are_refused_with_the_reason() {
        assert_eq!(cn_handle("88.608.8889").unwrap_err().kind, "not_handle");
        assert_eq!(cn_handle("/x").unwrap_err().position, Some(0));
        assert_eq!(cn_handle("88..1/x").unwrap_err().position, Some(3));
        assert_eq!(cn_handle("88.1/").unwrap_err().position, Some(5));
        assert_eq!(cn_handle("88.1/a b").unwrap_err().kind, "invalid_character");
    }
}
