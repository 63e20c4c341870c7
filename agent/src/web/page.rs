//! The page's files, compiled into the binary (no build step, nothing fetched at run time),
//! and the language it opens in.

use hyper::header::{self, HeaderValue};
use hyper::{HeaderMap, Response, StatusCode};

use super::routes::{Body, full};

const INDEX: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const APP_CSS: &str = include_str!("page/app.css");
const FAVICON: &str = include_str!("page/favicon.svg");

/// The languages the page speaks, as `<html lang>` values.
pub const LANGUAGES: [&str; 2] = ["en", "zh-CN"];

/// The language to open in: the browser's first preference the page speaks (by q-value),
/// else English.
pub fn language(accept_language: Option<&str>) -> &'static str {
    let Some(header) = accept_language else {
        return "en";
    };
    let mut best: Option<(f32, &'static str)> = None;
    for (order, item) in header.split(',').enumerate().take(32) {
        let mut parts = item.trim().split(';');
        let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let lang = if tag == "zh" || tag.starts_with("zh-") {
            "zh-CN"
        } else if tag == "en" || tag.starts_with("en-") {
            "en"
        } else {
            continue;
        };
        // Earlier entries win ties, as the header's order is the user's.
        let q = q - order as f32 * 1e-4;
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, lang));
        }
    }
    best.map_or("en", |(_, lang)| lang)
}

/// `/`: the page, in the browser's language.
pub fn index(headers: &HeaderMap) -> Response<Body> {
    let lang = language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    file(INDEX.replace("{{LANG}}", lang), "text/html; charset=utf-8")
}

/// A static file of the page.
pub fn asset(path: &str) -> Response<Body> {
    match path {
        "/app.js" => file(APP_JS.to_string(), "text/javascript; charset=utf-8"),
        "/app.css" => file(APP_CSS.to_string(), "text/css; charset=utf-8"),
        "/favicon.svg" => file(FAVICON.to_string(), "image/svg+xml"),
        _ => {
            let mut response = Response::new(full("not found"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    }
}

fn file(body: String, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(full(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_chooses_the_language() {
        assert_eq!(language(None), "en");
        assert_eq!(language(Some("zh-CN,zh;q=0.9,en;q=0.8")), "zh-CN");
        assert_eq!(language(Some("en-US,en;q=0.9,zh-CN;q=0.8")), "en");
        assert_eq!(language(Some("de-DE,zh;q=0.5,en;q=0.4")), "zh-CN");
        assert_eq!(language(Some("fr")), "en");
        assert_eq!(language(Some("zh-TW;q=0.2,en;q=0.9")), "en");
        assert_eq!(language(Some(";;;,,q=,zh;q=abc")), "zh-CN");
    }

    /// The keys of one language's table in app.js (`key: "text",`).
    fn keys(block: &str) -> std::collections::BTreeSet<&str> {
        block
            .split([',', '\n', '{'])
            .filter_map(|item| item.trim().split_once(": \""))
            .map(|(key, _)| key)
            .collect()
    }

    #[test]
    fn both_languages_have_every_text() {
        let en = &APP_JS[APP_JS.find("\"en\": {").unwrap()..APP_JS.find("\"zh-CN\": {").unwrap()];
        let rest = &APP_JS[APP_JS.find("\"zh-CN\": {").unwrap()..];
        let zh = &rest[..rest.find("\n  },").unwrap()];
        assert!(keys(en).len() > 50, "{:?}", keys(en));
        assert_eq!(keys(en), keys(zh));
    }

    #[test]
    fn the_page_names_its_files_and_has_both_languages() {
        assert!(INDEX.contains("{{LANG}}"));
        assert!(INDEX.contains("/app.js") && INDEX.contains("/app.css"));
        for lang in LANGUAGES {
            assert!(APP_JS.contains(&format!("\"{lang}\"")), "{lang}");
        }
    }
}
