//! Label templates: files in the config directory, one label per file, named by their file
//! stem and written in the printer's language by their extension (`case.zpl`, `pallet.tspl`).
//! They are rendered by minijinja with named variables.
//!
//! Everything that can be wrong with a label is an error before a byte reaches a printer:
//! a syntax error when the templates are loaded (naming the file and line); at submit, a
//! variable the template uses but the job does not give (strict undefined), a function or
//! filter the template names that does not exist, a value that would break out of its field
//! (ZPL `^` and `~` start commands; a TSPL string ends at `"`), and a template in another
//! language than the printer's. Rendering is bounded (minijinja's fuel), so a template with
//! a runaway loop fails instead of hanging the queue.
//!
//! The variables `copies` (1 to [`MAX_COPIES`]) and `reprint` (true when an operator decided
//! to reprint a job whose outcome was unknown) are always set; a template prints
//! `{{ copies }}` in its `^PQ` / `PRINT` and marks a reprint where it wants, so the label
//! itself says it is one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};

/// Most copies of one job.
pub const MAX_COPIES: u32 = 1000;
/// Largest template file read.
pub const MAX_TEMPLATE_BYTES: u64 = 256 * 1024;
/// Largest rendered job.
pub const MAX_JOB_BYTES: usize = 1024 * 1024;
/// Instructions a render may take (minijinja fuel): far above any label, far below a hang.
const FUEL: u64 = 200_000;

/// The language a template is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplateLanguage {
    /// ZPL II (`.zpl`).
    Zpl,
    /// TSPL / TSPL2 (`.tspl`).
    Tspl,
}

impl TemplateLanguage {
    /// The language's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateLanguage::Zpl => "zpl",
            TemplateLanguage::Tspl => "tspl",
        }
    }
}

/// A template file, read and syntax-checked.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its language, by extension.
    pub language: TemplateLanguage,
    /// The text.
    pub source: String,
}

/// The templates of a config: name → file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Templates {
    files: BTreeMap<String, TemplateFile>,
}

/// A rendered job, ready for the printer.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The bytes as the printer takes them.
    pub data: Vec<u8>,
    /// The template's language.
    pub language: TemplateLanguage,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_fuel(Some(FUEL));
    env
}

impl Templates {
    /// Reads every `*.zpl` and `*.tspl` file of `dir` and checks its syntax; the error names
    /// the file and line.
    pub fn load(dir: &Path) -> Result<Templates, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            format!(
                "printing.templates: cannot read the directory {}: {e}",
                dir.display()
            )
        })?;
        let mut files = BTreeMap::new();
        for entry in entries {
            let path = entry
                .map_err(|e| format!("printing.templates: reading {}: {e}", dir.display()))?
                .path();
            let language = match path.extension().and_then(|e| e.to_str()) {
                Some("zpl") => TemplateLanguage::Zpl,
                Some("tspl") => TemplateLanguage::Tspl,
                _ => continue,
            };
            let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(String::from) else {
                continue;
            };
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if size > MAX_TEMPLATE_BYTES {
                return Err(format!(
                    "template {}: {size} bytes; templates are limited to {MAX_TEMPLATE_BYTES}",
                    path.display()
                ));
            }
            let source = std::fs::read_to_string(&path)
                .map_err(|e| format!("template {}: {e}", path.display()))?;
            if files.contains_key(&name) {
                return Err(format!(
                    "template {name:?} exists as both {name}.zpl and {name}.tspl; rename one"
                ));
            }
            let file = TemplateFile {
                path,
                language,
                source,
            };
            file.check()?;
            files.insert(name, file);
        }
        Ok(Templates { files })
    }

    /// A set from files already read (tests, tools).
    pub fn from_files(files: impl IntoIterator<Item = (String, TemplateFile)>) -> Templates {
        Templates {
            files: files.into_iter().collect(),
        }
    }

    /// The template names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.files.keys().map(String::as_str).collect()
    }

    /// The template called `name`.
    pub fn get(&self, name: &str) -> Option<&TemplateFile> {
        self.files.get(name)
    }

    /// Renders template `name` with `vars`, `copies` and `reprint` for a printer speaking
    /// `language`; every problem is an error saying which variable or value, and what to do.
    pub fn render(
        &self,
        name: &str,
        vars: &Map<String, Value>,
        copies: u32,
        reprint: bool,
        language: TemplateLanguage,
    ) -> Result<Rendered, String> {
        let file = self.files.get(name).ok_or_else(|| {
            format!(
                "no template {name:?}; the templates are: {}",
                if self.files.is_empty() {
                    "(none)".to_string()
                } else {
                    self.names().join(", ")
                }
            )
        })?;
        if file.language != language {
            return Err(format!(
                "template {name:?} is {} ({}) but the printer speaks {}",
                file.language.as_str(),
                file.path.display(),
                language.as_str()
            ));
        }
        if !(1..=MAX_COPIES).contains(&copies) {
            return Err(format!("copies must be 1 to {MAX_COPIES}, not {copies}"));
        }
        for (key, value) in vars {
            if key == "copies" || key == "reprint" {
                return Err(format!(
                    "variable {key:?} is set by the queue; give copies as the command's own key"
                ));
            }
            check_value(key, value, language)?;
        }
        let mut context = vars.clone();
        context.insert("copies".into(), Value::from(copies));
        context.insert("reprint".into(), Value::Bool(reprint));
        let env = environment();
        let template = env
            .template_from_str(&file.source)
            .map_err(|e| describe(&file.path, &e))?;
        let text = template
            .render(Value::Object(context))
            .map_err(|e| describe(&file.path, &e))?;
        if text.len() > MAX_JOB_BYTES {
            return Err(format!(
                "template {name:?} rendered {} bytes; a job is limited to {MAX_JOB_BYTES}",
                text.len()
            ));
        }
        Ok(Rendered {
            data: text.into_bytes(),
            language,
        })
    }
}

impl TemplateFile {
    /// Checks the syntax.
    fn check(&self) -> Result<(), String> {
        environment()
            .template_from_str(&self.source)
            .map(|_| ())
            .map_err(|e| describe(&self.path, &e))
    }
}

/// A minijinja error as a user reads it: file, line, what.
fn describe(path: &Path, e: &minijinja::Error) -> String {
    let line = e.line().map(|l| format!(" line {l}")).unwrap_or_default();
    let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
    let what = match e.kind() {
        minijinja::ErrorKind::UndefinedError => {
            "a variable the template uses was not given (give it in vars)".to_string()
        }
        kind => kind.to_string(),
    };
    format!("template {}{line}: {what}{detail}", path.display())
}

/// Refuses a value that would break out of its field in `language`.
fn check_value(key: &str, value: &Value, language: TemplateLanguage) -> Result<(), String> {
    match value {
        Value::String(text) => {
            let bad = text.chars().find(|&c| {
                c.is_control()
                    || match language {
                        TemplateLanguage::Zpl => c == '^' || c == '~',
                        TemplateLanguage::Tspl => c == '"',
                    }
            });
            match bad {
                Some(c) => Err(format!(
                    "variable {key:?}: {c:?} cannot be printed in a {} field (it would end the field or start a command)",
                    language.as_str()
                )),
                None => Ok(()),
            }
        }
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| check_value(key, item, language)),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| check_value(&format!("{key}.{k}"), v, language)),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn templates(name: &str, language: TemplateLanguage, source: &str) -> Templates {
        Templates::from_files([(
            name.to_string(),
            TemplateFile {
                path: PathBuf::from(format!("labels/{name}.{}", language.as_str())),
                language,
                source: source.to_string(),
            },
        )])
    }

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_zpl_template_renders_to_the_exact_bytes() {
        let t = templates(
            "case",
            TemplateLanguage::Zpl,
            "^XA\n^FO50,50^A0N,40,40^FDLOT {{ lot }}{% if reprint %} REPRINT{% endif %}^FS\n^PQ{{ copies }}\n^XZ\n",
        );
        let r = t
            .render(
                "case",
                &vars(json!({"lot": "A17"})),
                2,
                false,
                TemplateLanguage::Zpl,
            )
            .unwrap();
        assert_eq!(
            r.data,
            b"^XA\n^FO50,50^A0N,40,40^FDLOT A17^FS\n^PQ2\n^XZ\n".to_vec()
        );
        let r = t
            .render(
                "case",
                &vars(json!({"lot": "A17"})),
                1,
                true,
                TemplateLanguage::Zpl,
            )
            .unwrap();
        assert!(
            String::from_utf8(r.data)
                .unwrap()
                .contains("LOT A17 REPRINT^FS")
        );
    }

    #[test]
    fn a_tspl_template_keeps_its_line_endings() {
        let t = templates(
            "box",
            TemplateLanguage::Tspl,
            "SIZE 60 mm,40 mm\r\nCLS\r\nTEXT 10,10,\"3\",0,1,1,\"{{ lot }}\"\r\nPRINT {{ copies }}\r\n",
        );
        let r = t
            .render(
                "box",
                &vars(json!({"lot": "B2"})),
                3,
                false,
                TemplateLanguage::Tspl,
            )
            .unwrap();
        assert_eq!(
            r.data,
            b"SIZE 60 mm,40 mm\r\nCLS\r\nTEXT 10,10,\"3\",0,1,1,\"B2\"\r\nPRINT 3\r\n".to_vec()
        );
    }

    #[test]
    fn every_problem_is_refused_before_a_byte_is_printed() {
        let t = templates(
            "case",
            TemplateLanguage::Zpl,
            "^XA^FD{{ lot }}^FS^PQ{{ copies }}^XZ",
        );
        let refused = |vars_: Value, copies: u32, language: TemplateLanguage, name: &str| {
            t.render(name, &vars(vars_), copies, false, language)
                .unwrap_err()
        };
        let e = refused(json!({}), 1, TemplateLanguage::Zpl, "case");
        assert!(
            e.contains("not given") && e.contains("labels/case.zpl line 1"),
            "{e}"
        );
        let e = refused(json!({"lot": "A^XZ"}), 1, TemplateLanguage::Zpl, "case");
        assert!(e.contains("\"lot\"") && e.contains("'^'"), "{e}");
        let e = refused(json!({"lot": "A\nB"}), 1, TemplateLanguage::Zpl, "case");
        assert!(e.contains("\"lot\""), "{e}");
        let e = refused(json!({"lot": "A"}), 0, TemplateLanguage::Zpl, "case");
        assert!(e.contains("copies must be 1 to 1000"), "{e}");
        let e = refused(json!({"lot": "A"}), 1, TemplateLanguage::Tspl, "case");
        assert!(e.contains("printer speaks tspl"), "{e}");
        let e = refused(json!({"lot": "A"}), 1, TemplateLanguage::Zpl, "pallet");
        assert!(
            e.contains("no template \"pallet\"") && e.contains("case"),
            "{e}"
        );
        let e = refused(
            json!({"lot": "A", "copies": 5}),
            1,
            TemplateLanguage::Zpl,
            "case",
        );
        assert!(e.contains("set by the queue"), "{e}");

        let t = templates("f", TemplateLanguage::Zpl, "{{ gs1_nonexistent(lot) }}");
        let e = t
            .render(
                "f",
                &vars(json!({"lot": "A"})),
                1,
                false,
                TemplateLanguage::Zpl,
            )
            .unwrap_err();
        assert!(e.contains("labels/f.zpl"), "{e}");
        let t = templates(
            "loop",
            TemplateLanguage::Zpl,
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        );
        let e = t
            .render("loop", &Map::new(), 1, false, TemplateLanguage::Zpl)
            .unwrap_err();
        assert!(e.contains("fuel"), "{e}");
    }

    #[test]
    fn the_shipped_example_templates_render() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/labels");
        let t = Templates::load(&dir).unwrap();
        let v = vars(
            json!({"gtin": "09506000134352", "lot": "A17", "expiry": "271231", "serial": "1001"}),
        );
        let zpl = t
            .render("case", &v, 2, true, TemplateLanguage::Zpl)
            .unwrap();
        let zpl = String::from_utf8(zpl.data).unwrap();
        assert!(
            zpl.starts_with("^XA\n") && zpl.ends_with("^PQ2\n^XZ\n"),
            "{zpl}"
        );
        assert!(
            zpl.contains("^FDREPRINT^FS") && zpl.contains("^FDLOT A17  EXP 271231^FS"),
            "{zpl}"
        );
        let tspl = t
            .render("box", &v, 1, false, TemplateLanguage::Tspl)
            .unwrap();
        let tspl = String::from_utf8(tspl.data).unwrap();
        assert!(
            tspl.starts_with("SIZE 60 mm,40 mm\n") && tspl.ends_with("PRINT 1\n"),
            "{tspl}"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_variables_render_or_are_refused_without_panicking(
            lot in ".{0,40}",
            copies in 0u32..2000,
        ) {
            let t = templates("case", TemplateLanguage::Zpl, "^XA^FD{{ lot }}^FS^PQ{{ copies }}^XZ");
            match t.render("case", &vars(json!({"lot": lot.clone()})), copies, false, TemplateLanguage::Zpl) {
                Ok(r) => {
                    let text = String::from_utf8(r.data).unwrap();
                    proptest::prop_assert!(!lot.contains('^') && !lot.contains('~'));
                    proptest::prop_assert_eq!(text.matches("^XZ").count(), 1);
                }
                Err(e) => proptest::prop_assert!(!e.is_empty()),
            }
        }
    }

    #[test]
    fn loading_checks_syntax_and_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("case.zpl"), "^XA^FD{{ lot }}^FS^XZ").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a template").unwrap();
        let t = Templates::load(dir.path()).unwrap();
        assert_eq!(t.names(), ["case"]);
        std::fs::write(dir.path().join("bad.tspl"), "CLS\r\n{% if %}\r\n").unwrap();
        let e = Templates::load(dir.path()).unwrap_err();
        assert!(e.contains("bad.tspl line 2"), "{e}");
        let e = Templates::load(&dir.path().join("missing")).unwrap_err();
        assert!(e.contains("printing.templates"), "{e}");
    }
}
