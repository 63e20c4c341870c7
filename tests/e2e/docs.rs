//! The documentation a newcomer walks: every relative link in README.md and docs/ (and the
//! library crates' READMEs) reaches a file that exists, and every `#anchor` a heading there
//! (GitHub's anchors: lower case, punctuation dropped, spaces as hyphens, `-1` … for repeats).
//! That every config key is documented is a unit test beside the config
//! (`config::tests::every_config_key_is_documented`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pages() -> Vec<PathBuf> {
    let root = root();
    let mut pages = vec![
        root.join("README.md"),
        root.join("identifiers/README.md"),
        root.join("epcis/README.md"),
    ];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The lines of `text` outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// GitHub's anchor for a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(path: &Path) -> HashSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    let mut out = HashSet::new();
    for line in prose(&text) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            let s = slug(&line[hashes + 1..]);
            let n = seen.entry(s.clone()).or_default();
            out.insert(if *n == 0 {
                s.clone()
            } else {
                format!("{s}-{n}")
            });
            *n += 1;
        }
    }
    out
}

/// The targets of the inline links `[text](target)` in `line`.
fn links(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            let target = &rest[..end];
            if !target.contains(' ') {
                out.push(target);
            }
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let dir = page.parent().unwrap();
        for (n, line) in prose(&text).into_iter().enumerate() {
            for target in links(line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                checked += 1;
                let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
                let dest = if path.is_empty() {
                    page.clone()
                } else {
                    dir.join(path)
                };
                let shown = page.strip_prefix(root()).unwrap_or(&page).display();
                if !dest.exists() {
                    problems.push(format!("{shown} (prose line {}): no file {target}", n + 1));
                    continue;
                }
                if !fragment.is_empty()
                    && dest.extension().is_some_and(|x| x == "md")
                    && !anchors(&dest).contains(fragment)
                {
                    problems.push(format!(
                        "{shown} (prose line {}): no heading for #{fragment} in {}",
                        n + 1,
                        dest.display()
                    ));
                }
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} links found: is the parser right?"
    );
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_readme_is_a_short_front_door() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 500,
        "README.md has {lines} lines: keep it the front door, move topics to docs/"
    );
    for page in [
        "docs/configuration.md",
        "docs/mqtt.md",
        "docs/reliability.md",
        "docs/ARCHITECTURE.md",
    ] {
        assert!(readme.contains(page), "README.md links {page}");
    }
}

#[test]
fn the_anchor_rule_is_githubs() {
    assert_eq!(slug("`[mqtt.tls]`"), "mqtttls");
    assert_eq!(
        slug("GPIO: photo-eyes, buttons, stack lights, buzzers"),
        "gpio-photo-eyes-buttons-stack-lights-buzzers"
    );
    assert_eq!(links("see [a](b.md#c) and [d](#e)."), vec!["b.md#c", "#e"]);
}
