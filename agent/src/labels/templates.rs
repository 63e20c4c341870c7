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
//! GS1 symbols are written by helper functions, never by hand (see [`super::symbols`] for the
//! encodings and the manuals they follow). Each takes the AIs in the bracketed form and checks
//! them as a scan would be checked, so a wrong check digit or date is refused at submit:
//!
//! | function | writes |
//! | --- | --- |
//! | `gs1_128(ais, height=100, module=2)` | a GS1-128 bar code |
//! | `gs1_datamatrix(ais, module=6)` | a GS1 DataMatrix |
//! | `gs1_qr(ais, module=4)` | a QR Code with the GS1 Digital Link URI of the AIs |
//! | `gs1_text(ais)` | the human-readable text, AIs in brackets |
//! | `digital_link(ais)` | the Digital Link URI as text |
//! | `rfid_epc(ais, filter=…)` | ZPL only: `^RS8^RFW,H` writing the SGTIN-96 / SSCC-96 |
//!
//! In TSPL the symbol commands carry their position: `x=` and `y=` (dots, default 0). Every
//! symbol's AIs are recorded with the job: a confirmed label's commissioning event names the
//! very identifiers its symbols carry.
//!
//! The variables `copies` (1 to [`MAX_COPIES`]) and `reprint` (true when an operator decided
//! to reprint a job whose outcome was unknown) are always set; a template prints
//! `{{ copies }}` in its `^PQ` / `PRINT` and marks a reprint where it wants, so the label
//! itself says it is one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use minijinja::value::Kwargs;
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::{Map, Value};

use super::symbols::{self, Placement, SymbolSettings};

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
    /// The GS1 data of every symbol on the label (bracketed, first use order, no repeats).
    pub gs1: Vec<String>,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_fuel(Some(FUEL));
    env
}

/// A helper's problem as a template error (its message names the AI and what is wrong).
fn refused(message: String) -> minijinja::Error {
    minijinja::Error::new(ErrorKind::InvalidOperation, message)
}

/// The GS1 symbol helpers for `language`; each records the AIs it encodes in `encoded`.
fn add_symbol_helpers(
    env: &mut Environment<'static>,
    language: TemplateLanguage,
    settings: &SymbolSettings,
    encoded: &Arc<Mutex<Vec<String>>>,
) {
    type Helper = fn(
        &[tracegate_identifiers::AiValue],
        TemplateLanguage,
        Placement,
        &SymbolSettings,
    ) -> Result<String, String>;
    let symbol_helpers: [(&str, u32, u32, Helper); 3] = [
        ("gs1_128", 2, 100, |ais, l, at, _| {
            symbols::gs1_128(ais, l, at)
        }),
        ("gs1_datamatrix", 6, 0, |ais, l, at, _| {
            symbols::gs1_datamatrix(ais, l, at)
        }),
        ("gs1_qr", 4, 0, symbols::gs1_qr),
    ];
    for (name, module, height, helper) in symbol_helpers {
        let settings = settings.clone();
        let encoded = encoded.clone();
        env.add_function(
            name,
            move |data: String, kwargs: Kwargs| -> Result<String, minijinja::Error> {
                let at = Placement {
                    x: kwargs.get::<Option<u32>>("x")?.unwrap_or(0),
                    y: kwargs.get::<Option<u32>>("y")?.unwrap_or(0),
                    module: kwargs.get::<Option<u32>>("module")?.unwrap_or(module),
                    height: kwargs.get::<Option<u32>>("height")?.unwrap_or(height),
                };
                kwargs.assert_all_used()?;
                let ais = symbols::parse(&data).map_err(refused)?;
                let out = helper(&ais, language, at, &settings)
                    .map_err(|e| refused(format!("{name}: {e}")))?;
                remember(&encoded, symbols::record(&ais));
                Ok(out)
            },
        );
    }
    env.add_function(
        "gs1_text",
        move |data: String| -> Result<String, minijinja::Error> {
            let ais = symbols::parse(&data).map_err(refused)?;
            Ok(symbols::gs1_text(&ais, language))
        },
    );
    let dl_settings = settings.clone();
    env.add_function(
        "digital_link",
        move |data: String| -> Result<String, minijinja::Error> {
            let ais = symbols::parse(&data).map_err(refused)?;
            symbols::digital_link_uri(&ais, &dl_settings).map_err(refused)
        },
    );
    let gcp = settings.gcp.clone();
    let encoded = encoded.clone();
    env.add_function(
        "rfid_epc",
        move |data: String, kwargs: Kwargs| -> Result<String, minijinja::Error> {
            let filter = kwargs.get::<Option<u8>>("filter")?;
            kwargs.assert_all_used()?;
            if language != TemplateLanguage::Zpl {
                return Err(refused(
                    "rfid_epc: RFID encoding is written in ZPL (^RS, ^RFW); this template is TSPL"
                        .into(),
                ));
            }
            let ais = symbols::parse(&data).map_err(refused)?;
            let out = symbols::zpl_rfid(&ais, filter, &gcp)
                .map_err(|e| refused(format!("rfid_epc: {e}")))?;
            remember(&encoded, symbols::record(&ais));
            Ok(out)
        },
    );
}

fn remember(encoded: &Mutex<Vec<String>>, data: String) {
    let mut encoded = encoded.lock().unwrap_or_else(|p| p.into_inner());
    if !encoded.contains(&data) {
        encoded.push(data);
    }
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
    /// `language`, its GS1 symbols as `symbols` says; every problem is an error saying which
    /// variable or value, and what to do.
    pub fn render(
        &self,
        name: &str,
        vars: &Map<String, Value>,
        copies: u32,
        reprint: bool,
        language: TemplateLanguage,
        symbols: &SymbolSettings,
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
        let mut env = environment();
        let encoded = Arc::new(Mutex::new(Vec::new()));
        add_symbol_helpers(&mut env, language, symbols, &encoded);
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
        let gs1 = std::mem::take(&mut *encoded.lock().unwrap_or_else(|p| p.into_inner()));
        Ok(Rendered {
            data: text.into_bytes(),
            language,
            gs1,
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

    /// Renders with the default symbol settings (the built-in GCP table, GS1's domain).
    fn render(
        t: &Templates,
        name: &str,
        vars: &Map<String, Value>,
        copies: u32,
        reprint: bool,
        language: TemplateLanguage,
    ) -> Result<Rendered, String> {
        t.render(
            name,
            vars,
            copies,
            reprint,
            language,
            &SymbolSettings::default(),
        )
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
        let r = render(
            &t,
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
        let r = render(
            &t,
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
        let r = render(
            &t,
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
            render(&t, name, &vars(vars_), copies, false, language).unwrap_err()
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
        let e = render(
            &t,
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
        let e = render(&t, "loop", &Map::new(), 1, false, TemplateLanguage::Zpl).unwrap_err();
        assert!(e.contains("fuel"), "{e}");
    }

    #[test]
    fn the_shipped_example_templates_render_to_the_exact_bytes() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/labels");
        let t = Templates::load(&dir).unwrap();
        let symbols = SymbolSettings::default();
        let v = vars(
            json!({"gtin": "09506000134352", "lot": "A17", "expiry": "271231", "serial": "1001"}),
        );
        let case = t
            .render("case", &v, 2, true, TemplateLanguage::Zpl, &symbols)
            .unwrap();
        assert_eq!(
            String::from_utf8(case.data).unwrap(),
            "^XA\n^CI28\n^PW812\n^LL609\n\
             ^FO40,30^A0N,30,30^FD(01)09506000134352(17)271231(10)A17(21)1001^FS\n\
             ^FO600,70^A0N,40,40^FR^FDREPRINT^FS\n\
             ^FO40,80^BY2^BCN,140,N,N,N,N^FD>;>801095060001343521727123110>6A17>8>5211001^FS\n\
             ^FO40,300^BXN,8,200,0,0,6,_^FD_101095060001343521727123110A17_1211001^FS\n\
             ^FO330,300^BQN,2,4^FDQA,https://id.gs1.org/01/09506000134352/10/A17/21/1001?17=271231^FS\n\
             ^PQ2\n^XZ\n"
        );
        // Each symbol's AIs once: what the commissioning event will name.
        assert_eq!(case.gs1, ["(01)09506000134352(17)271231(10)A17(21)1001"]);

        let tspl = t
            .render("box", &v, 1, false, TemplateLanguage::Tspl, &symbols)
            .unwrap();
        assert_eq!(
            String::from_utf8(tspl.data).unwrap(),
            "SIZE 60 mm,40 mm\r\nGAP 2 mm,0 mm\r\nCLS\r\n\
             TEXT 20,16,\"2\",0,1,1,\"(01)09506000134352(10)A17\"\r\n\
             DMATRIX 20,60,400,400,c126,x6,\"~1010950600013435210A17\"\r\n\
             QRCODE 230,60,Q,4,A,0,\"https://id.gs1.org/01/09506000134352/10/A17\"\r\n\
             PRINT 1\r\n"
        );

        let mut gcp = tracegate_identifiers::gcp::GcpTable::default();
        gcp.set("9506000", 7).unwrap();
        let with_prefix = SymbolSettings {
            gcp: std::sync::Arc::new(gcp),
            ..SymbolSettings::default()
        };
        let pallet = t
            .render(
                "pallet",
                &vars(json!({"sscc": "095060001343528402"})),
                1,
                false,
                TemplateLanguage::Zpl,
                &with_prefix,
            )
            .unwrap();
        let pallet = String::from_utf8(pallet.data).unwrap();
        let hex = pallet
            .split("^RS8^RFW,H^FD")
            .nth(1)
            .and_then(|rest| rest.split("^FS").next())
            .unwrap();
        assert_eq!(
            tracegate_identifiers::Epc::from_hex(hex)
                .unwrap()
                .pure_uri(),
            "urn:epc:id:sscc:9506000.0134352840"
        );
        // Without the company prefix's length the tag cannot be encoded: refused, saying how.
        let e = t
            .render(
                "pallet",
                &vars(json!({"sscc": "095060001343528402"})),
                1,
                false,
                TemplateLanguage::Zpl,
                &SymbolSettings {
                    gcp: std::sync::Arc::new(tracegate_identifiers::gcp::GcpTable::default()),
                    ..SymbolSettings::default()
                },
            )
            .unwrap_err();
        assert!(e.contains("gcp_lengths"), "{e}");
    }

    #[test]
    fn a_bad_check_digit_is_refused_at_submit_naming_the_template_line() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/labels");
        let t = Templates::load(&dir).unwrap();
        let v = vars(
            json!({"gtin": "09506000134353", "lot": "A17", "expiry": "271231", "serial": "1001"}),
        );
        let e = render(&t, "case", &v, 1, false, TemplateLanguage::Zpl).unwrap_err();
        assert!(
            e.contains("case.zpl line") && e.contains("check digit"),
            "{e}"
        );
        let v = vars(
            json!({"gtin": "09506000134352", "lot": "A17", "expiry": "271341", "serial": "1"}),
        );
        let e = render(&t, "case", &v, 1, false, TemplateLanguage::Zpl).unwrap_err();
        assert!(e.contains("(17)"), "{e}");
        let t = templates(
            "f",
            TemplateLanguage::Tspl,
            "{{ rfid_epc('(01)09506000134352(21)1') }}",
        );
        let e = render(&t, "f", &Map::new(), 1, false, TemplateLanguage::Tspl).unwrap_err();
        assert!(e.contains("RFID encoding is written in ZPL"), "{e}");
        let t = templates(
            "f",
            TemplateLanguage::Zpl,
            "{{ gs1_128('(01)09506000134352', colour=2) }}",
        );
        let e = render(&t, "f", &Map::new(), 1, false, TemplateLanguage::Zpl).unwrap_err();
        assert!(e.contains("colour"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn any_variables_render_or_are_refused_without_panicking(
            lot in ".{0,40}",
            copies in 0u32..2000,
        ) {
            let t = templates("case", TemplateLanguage::Zpl, "^XA^FD{{ lot }}^FS^PQ{{ copies }}^XZ");
            match t.render("case", &vars(json!({"lot": lot.clone()})), copies, false, TemplateLanguage::Zpl, &SymbolSettings::default()) {
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
