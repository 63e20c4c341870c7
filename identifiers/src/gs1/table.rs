//! The GS1 Application Identifier table, read from GS1's own Barcode Syntax Dictionary
//! (`gs1-syntax-dictionary.txt`, shipped beside this file under its Apache-2.0 licence).
//!
//! Each dictionary line gives an AI (or a range), flags (`*` predefined length: no FNC1 needed
//! after it; `?` allowed as a Digital Link data attribute), the format as components
//! (`N14,csum,keyoff1`, `X..20`, `[N..12]` …) each with its linters, and attributes: `req=`
//! (requisite AIs), `ex=` (mutually exclusive AIs) and `dlpkey` (Digital Link primary key with
//! its ordered qualifiers). Keeping GS1's file as the source means the table is exactly the
//! current AI table of the GS1 General Specifications (§3.2) and updating it is a file swap.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use super::linters::Linter;

/// The shipped dictionary text.
pub const DICTIONARY: &str = include_str!("gs1-syntax-dictionary.txt");

/// The table built from [`DICTIONARY`] on first use.
pub static TABLE: LazyLock<AiTable> =
    LazyLock::new(|| AiTable::parse(DICTIONARY).expect("the shipped GS1 Syntax Dictionary parses"));

/// Character sets of AI data (GS1 General Specifications §7.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cset {
    /// Digits only.
    N,
    /// GS1 AI encodable character set 82 (Figure 7.11-1).
    X,
    /// GS1 AI encodable character set 39 (Figure 7.11-2).
    Y,
    /// File-safe / URI-safe base64 (Figure 7.11-3), "CSET 64".
    Z,
}

/// One component of an AI's data field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Allowed characters.
    pub cset: Cset,
    /// Shortest length.
    pub min: usize,
    /// Longest length.
    pub max: usize,
    /// May be absent when the data ends before it.
    pub optional: bool,
    /// Content checks after the character set.
    pub linters: Vec<Linter>,
}

/// One AI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiEntry {
    /// The AI digits.
    pub ai: String,
    /// Variable length (or not predefined): an FNC1 separator must follow unless last.
    pub fnc1: bool,
    /// Allowed as a GS1 Digital Link data attribute (query parameter).
    pub dl_attribute: bool,
    /// The data field's components, in order.
    pub components: Vec<Component>,
    /// `req=` attributes: each must be satisfied by one of its groups, a group being AI
    /// patterns that must all be present (`01+21`). Patterns may end in `n` wildcards.
    pub req: Vec<Vec<Vec<String>>>,
    /// `ex=` patterns: none may be present together with this AI.
    pub ex: Vec<String>,
    /// A GS1 Digital Link primary key.
    pub dl_primary_key: bool,
    /// Its ordered qualifier sequences (alternatives), e.g. `[["22","10","21"], ["235"]]`.
    pub dl_qualifiers: Vec<Vec<String>>,
    /// Data title (the dictionary's, as in the General Specifications).
    pub title: String,
}

impl AiEntry {
    /// Sum of the mandatory components' minimum lengths.
    pub fn min_len(&self) -> usize {
        self.components
            .iter()
            .filter(|c| !c.optional)
            .map(|c| c.min)
            .sum()
    }

    /// Sum of the components' maximum lengths.
    pub fn max_len(&self) -> usize {
        self.components.iter().map(|c| c.max).sum()
    }

    /// The format in General Specifications notation, e.g. `N13+X..17`.
    pub fn format(&self) -> String {
        self.components
            .iter()
            .map(|c| {
                let t = match c.cset {
                    Cset::N => "N",
                    Cset::X => "X",
                    Cset::Y => "Y",
                    Cset::Z => "Z",
                };
                let len = if c.min == c.max {
                    c.max.to_string()
                } else {
                    format!("..{}", c.max)
                };
                if c.optional {
                    format!("[{t}{len}]")
                } else {
                    format!("{t}{len}")
                }
            })
            .collect::<Vec<_>>()
            .join("+")
    }
}

/// The whole table.
#[derive(Debug)]
pub struct AiTable {
    entries: Vec<AiEntry>,
    index: HashMap<String, usize>,
    /// AI length by its first two digits (0: no AI starts with them). The General
    /// Specifications keep this invariant so an AI can be found in unbracketed data.
    len_by_prefix: [u8; 100],
    /// Every valid Digital Link path sequence: key, then an ordered subset of one of its
    /// qualifier sequences.
    dl_paths: HashSet<Vec<String>>,
}

/// A dictionary line that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("GS1 Syntax Dictionary line {line}: {message}")]
pub struct TableError {
    line: usize,
    message: String,
}

impl AiTable {
    /// Parses dictionary text.
    pub fn parse(text: &str) -> Result<AiTable, TableError> {
        let mut entries = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let err = |message: String| TableError {
                line: n + 1,
                message,
            };
            let (spec, title) = match raw.split_once('#') {
                Some((s, t)) => (s, t.trim()),
                None => (raw, ""),
            };
            let mut tokens = spec.split_whitespace().peekable();
            let Some(ais) = tokens.next() else { continue };
            let mut fnc1 = true;
            let mut dl_attribute = false;
            if let Some(flags) = tokens.next_if(|t| !t.starts_with(['N', 'X', 'Y', 'Z', '['])) {
                for f in flags.chars() {
                    match f {
                        '*' => fnc1 = false,
                        '?' => dl_attribute = true,
                        other => return Err(err(format!("unknown flag {other:?}"))),
                    }
                }
            }
            let mut components = Vec::new();
            let mut req = Vec::new();
            let mut ex = Vec::new();
            let mut dl_primary_key = false;
            let mut dl_qualifiers = Vec::new();
            for token in tokens {
                if let Some(list) = token.strip_prefix("req=") {
                    req.push(
                        list.split(',')
                            .map(|g| g.split('+').map(str::to_string).collect())
                            .collect(),
                    );
                } else if let Some(list) = token.strip_prefix("ex=") {
                    ex.extend(list.split(',').map(str::to_string));
                } else if token == "dlpkey" {
                    dl_primary_key = true;
                } else if let Some(seqs) = token.strip_prefix("dlpkey=") {
                    dl_primary_key = true;
                    dl_qualifiers.extend(
                        seqs.split('|')
                            .map(|s| s.split(',').map(str::to_string).collect()),
                    );
                } else {
                    components.push(parse_component(token).map_err(err)?);
                }
            }
            if components.is_empty() {
                return Err(err("no format components".into()));
            }
            let (first, last) = match ais.split_once('-') {
                Some((a, b)) => (a, b),
                None => (ais, ais),
            };
            let (lo, hi): (u32, u32) = match (first.parse(), last.parse()) {
                (Ok(a), Ok(b)) if first.len() == last.len() && a <= b => (a, b),
                _ => return Err(err(format!("bad AI or range {ais:?}"))),
            };
            for ai in lo..=hi {
                entries.push(AiEntry {
                    ai: format!("{ai:0width$}", width = first.len()),
                    fnc1,
                    dl_attribute,
                    components: components.clone(),
                    req: req.clone(),
                    ex: ex.clone(),
                    dl_primary_key,
                    dl_qualifiers: dl_qualifiers.clone(),
                    title: title.to_string(),
                });
            }
        }
        entries.sort_by(|a, b| a.ai.cmp(&b.ai));
        let mut len_by_prefix = [0u8; 100];
        let mut index = HashMap::new();
        let mut dl_paths = HashSet::new();
        for (i, e) in entries.iter().enumerate() {
            let prefix: usize = e.ai[..2].parse().expect("digits");
            let len = e.ai.len() as u8;
            if len_by_prefix[prefix] != 0 && len_by_prefix[prefix] != len {
                return Err(TableError {
                    line: 0,
                    message: format!("AIs starting {:02} have different lengths", prefix),
                });
            }
            len_by_prefix[prefix] = len;
            if index.insert(e.ai.clone(), i).is_some() {
                return Err(TableError {
                    line: 0,
                    message: format!("AI ({}) defined twice", e.ai),
                });
            }
            if e.dl_primary_key {
                dl_paths.insert(vec![e.ai.clone()]);
                for seq in &e.dl_qualifiers {
                    // Every ordered subset of the qualifier sequence (GS1 Digital Link 1.x §4.7).
                    for mask in 1u32..(1 << seq.len()) {
                        let mut path = vec![e.ai.clone()];
                        path.extend(
                            seq.iter()
                                .enumerate()
                                .filter(|(j, _)| mask & (1 << j) != 0)
                                .map(|(_, q)| q.clone()),
                        );
                        dl_paths.insert(path);
                    }
                }
            }
        }
        Ok(AiTable {
            entries,
            index,
            len_by_prefix,
            dl_paths,
        })
    }

    /// The entry for exactly `ai`.
    pub fn get(&self, ai: &str) -> Option<&AiEntry> {
        self.index.get(ai).map(|&i| &self.entries[i])
    }

    /// The AI length implied by the first two digits of `data`, if any AI starts with them.
    pub fn ai_len_for(&self, data: &[u8]) -> Option<usize> {
        match data {
            [a, b, ..] if a.is_ascii_digit() && b.is_ascii_digit() => {
                let len = self.len_by_prefix[usize::from(a - b'0') * 10 + usize::from(b - b'0')];
                (len > 0).then_some(len as usize)
            }
            _ => None,
        }
    }

    /// The entry whose AI is a prefix of `data` (unbracketed element string).
    pub fn lookup_prefix(&self, data: &[u8]) -> Option<&AiEntry> {
        let len = self.ai_len_for(data)?;
        let ai = std::str::from_utf8(data.get(..len)?).ok()?;
        self.get(ai)
    }

    /// Every entry, in AI order.
    pub fn entries(&self) -> &[AiEntry] {
        &self.entries
    }

    /// Is `path` (AIs in path order) a valid Digital Link key/qualifier sequence?
    pub fn is_dl_path(&self, path: &[String]) -> bool {
        self.dl_paths.contains(path)
    }
}

fn parse_component(token: &str) -> Result<Component, String> {
    let (core, linters) = match token.strip_prefix('[') {
        Some(rest) => {
            let (inside, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("unclosed '[' in {token:?}"))?;
            let linters = after.strip_prefix(',').unwrap_or(after);
            (inside, linters)
        }
        None => match token.split_once(',') {
            Some((c, l)) => (c, l),
            None => (token, ""),
        },
    };
    let optional = token.starts_with('[');
    let cset = match core.as_bytes().first() {
        Some(b'N') => Cset::N,
        Some(b'X') => Cset::X,
        Some(b'Y') => Cset::Y,
        Some(b'Z') => Cset::Z,
        _ => return Err(format!("bad component type in {token:?}")),
    };
    let len = &core[1..];
    let (min, max) = match len.strip_prefix("..") {
        Some(max) => (
            1,
            max.parse()
                .map_err(|_| format!("bad length in {token:?}"))?,
        ),
        None => {
            let n = len
                .parse()
                .map_err(|_| format!("bad length in {token:?}"))?;
            (n, n)
        }
    };
    let linters = linters
        .split(',')
        .filter(|l| !l.is_empty())
        .map(|name| Linter::from_name(name).ok_or_else(|| format!("unknown linter {name:?}")))
        .collect::<Result<_, _>>()?;
    Ok(Component {
        cset,
        min,
        max,
        optional,
        linters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_dictionary_is_the_whole_current_table() {
        let t = &*TABLE;
        // 219 dictionary lines, ranges expanded.
        assert!(t.entries().len() > 500, "{}", t.entries().len());
        let gtin = t.get("01").unwrap();
        assert!(!gtin.fnc1 && gtin.dl_primary_key);
        assert_eq!(gtin.format(), "N14");
        assert_eq!(gtin.title, "GTIN");
        assert_eq!(gtin.ex, vec!["255", "37"]);
        let lot = t.get("10").unwrap();
        assert!(lot.fnc1);
        assert_eq!(lot.format(), "X..20");
        let gdti = t.get("253").unwrap();
        assert_eq!(gdti.format(), "N13+[X..17]");
        assert_eq!((gdti.min_len(), gdti.max_len()), (13, 30));
        assert_eq!(t.get("3103").unwrap().title, "NET WEIGHT (kg)");
        assert!(t.get("3106").is_none());
        assert_eq!(t.get("95").unwrap().format(), "X..90");
        assert_eq!(t.get("8030").unwrap().req[0][1], vec!["01", "21"]);
        assert_eq!(t.get("7258").unwrap().req[0][0], vec!["8018", "7259"]);
    }

    #[test]
    fn prefix_lengths_follow_the_general_specifications() {
        let t = &*TABLE;
        assert_eq!(t.ai_len_for(b"01"), Some(2));
        assert_eq!(t.ai_len_for(b"31"), Some(4));
        assert_eq!(t.ai_len_for(b"41"), Some(3));
        assert_eq!(t.ai_len_for(b"80"), Some(4));
        assert_eq!(t.lookup_prefix(b"0109506000134352").unwrap().ai, "01");
        assert_eq!(t.lookup_prefix(b"3103000500").unwrap().ai, "3103");
        assert!(t.lookup_prefix(b"2345").is_none());
    }

    #[test]
    fn digital_link_paths_are_ordered_subsets_of_the_qualifiers() {
        let t = &*TABLE;
        let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(t.is_dl_path(&p(&["01"])));
        assert!(t.is_dl_path(&p(&["01", "22", "10", "21"])));
        assert!(t.is_dl_path(&p(&["01", "10", "21"])));
        assert!(t.is_dl_path(&p(&["01", "235"])));
        assert!(!t.is_dl_path(&p(&["01", "10", "22"])));
        assert!(!t.is_dl_path(&p(&["01", "22", "235"])));
        assert!(t.is_dl_path(&p(&["414", "254"])));
        assert!(!t.is_dl_path(&p(&["10"])));
    }

    #[test]
    fn malformed_dictionaries_are_rejected_with_the_line() {
        let e = AiTable::parse("01 * N14,nosuchlinter # X\n").unwrap_err();
        assert!(e.to_string().contains("line 1") && e.to_string().contains("nosuchlinter"));
        assert!(AiTable::parse("01 * Q14 # X\n").is_err());
        assert!(AiTable::parse("01 * N14 # X\n011 * N14 # Y\n").is_err());
    }
}
