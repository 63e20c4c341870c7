//! `tracegate print`: print a label through the running daemon's durable queue, or draw it
//! to a PNG without a printer (`--preview`).
//!
//! ```text
//! tracegate print --device line-printer --template case --key order-881-1 \
//!     --var gtin=09506000134352 --var lot=A17 --var expiry=271231 --var serial=1001
//! tracegate print --preview case.png --template case --var gtin=09506000134352 …
//! ```
//!
//! Printing goes through the control socket to the same router as the platform's `print`
//! command; a preview renders here, with the config's templates and identifier settings, so
//! the image shows exactly the symbols a job would carry.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Map, Value, json};

use crate::capture::event::ids::IdMapper;
use crate::config::Config;
use crate::labels::preview::{self, PreviewSize};
use crate::labels::symbols::SymbolSettings;
use crate::labels::templates::TemplateLanguage;

/// `tracegate print` arguments.
#[derive(Debug, clap::Args)]
pub struct PrintArgs {
    /// The config file: its templates, printers and control socket.
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// The template: a file stem in `[printing] templates` (`case` for `case.zpl`).
    #[arg(long, short)]
    pub template: String,
    /// A template variable, `NAME=VALUE` (repeat for each; a value that parses as JSON is
    /// taken as JSON, anything else as text).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// The printer (device id). Needed to print; for a preview it picks the language when
    /// the template's own is not wanted.
    #[arg(long)]
    pub device: Option<String>,
    /// The idempotency key: the same on every retry, so a label is never printed twice.
    /// Needed to print.
    #[arg(long)]
    pub key: Option<String>,
    /// Copies of the label.
    #[arg(long, default_value_t = 1)]
    pub copies: u32,
    /// Draw the label to this PNG file instead of printing it.
    #[arg(long, value_name = "PNG")]
    pub preview: Option<PathBuf>,
    /// Preview: render as a reprint (`reprint = true`).
    #[arg(long)]
    pub reprint: bool,
    /// Preview: dots per mm (8 = 203 dpi, 12 = 300 dpi, 24 = 600 dpi).
    #[arg(long, default_value_t = 8)]
    pub dpmm: i32,
    /// Preview: label width in mm (default: the label's own, else 102).
    #[arg(long)]
    pub width_mm: Option<f64>,
    /// Preview: label height in mm (default: the label's own, else 152).
    #[arg(long)]
    pub height_mm: Option<f64>,
}

/// The `--var` arguments as the job's variables.
pub fn variables(vars: &[String]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for var in vars {
        let Some((name, value)) = var.split_once('=').filter(|(n, _)| !n.is_empty()) else {
            return Err(format!("--var {var:?}: write NAME=VALUE"));
        };
        let value = serde_json::from_str(value).unwrap_or(Value::String(value.into()));
        out.insert(name.to_string(), value);
    }
    Ok(out)
}

/// The `print` command for the daemon.
pub fn command(args: &PrintArgs) -> Result<Value, String> {
    let device = args
        .device
        .as_ref()
        .ok_or("--device: which printer? (or --preview FILE to draw the label instead)")?;
    let key = args.key.as_ref().ok_or(
        "--key: the job's idempotency key (the same on every retry, so the label is printed once)",
    )?;
    Ok(json!({
        "cmd": "command",
        "name": "print",
        "args": {
            "device": device,
            "template": args.template,
            "key": key,
            "copies": args.copies,
            "vars": variables(&args.vars)?,
        }
    }))
}

/// Renders the label as `args` says and writes the PNG; returns a line saying what was drawn.
pub fn write_preview(config_path: &Path, args: &PrintArgs, out: &Path) -> anyhow::Result<String> {
    let config = Config::load_for_tools(config_path, &crate::capture::devices::builtin())?;
    let templates = &config.printing.templates;
    let language = match &args.device {
        Some(device) => config
            .devices
            .iter()
            .find(|d| d.id.as_ref() == device.as_str())
            .and_then(|d| d.capabilities.printing)
            .with_context(|| {
                format!(
                    "--device {device:?} is not a label printer of {}",
                    config_path.display()
                )
            })?,
        None => templates
            .get(&args.template)
            .map(|t| t.language)
            .unwrap_or(TemplateLanguage::Zpl),
    };
    let mapper = IdMapper::from_config(&config.identifiers)
        .context("cannot load the GCP length table (identifiers.gcp_length_table)")?;
    let symbols = SymbolSettings {
        gcp: mapper.gcp().clone(),
        digital_link_stem: config.printing.digital_link_stem.clone(),
    };
    let vars = variables(&args.vars).map_err(anyhow::Error::msg)?;
    let rendered = templates
        .render(
            &args.template,
            &vars,
            args.copies,
            args.reprint,
            language,
            &symbols,
        )
        .map_err(anyhow::Error::msg)?;
    let png = preview::png(
        &rendered,
        PreviewSize {
            width_mm: args.width_mm,
            height_mm: args.height_mm,
            dpmm: args.dpmm,
        },
    )
    .map_err(anyhow::Error::msg)?;
    std::fs::write(out, &png).with_context(|| format!("cannot write {}", out.display()))?;
    let gs1 = if rendered.gs1.is_empty() {
        "no GS1 symbols".to_string()
    } else {
        format!("GS1 data {}", rendered.gs1.join(" "))
    };
    Ok(format!(
        "{}: template {:?} ({}), {} bytes rendered, {gs1}",
        out.display(),
        args.template,
        language.as_str(),
        rendered.data.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_take_json_or_text() {
        let vars = variables(&[
            "lot=A17".into(),
            "serial=1001".into(),
            "gtin=09506000134352".into(),
        ])
        .unwrap();
        assert_eq!(vars["lot"], "A17");
        assert_eq!(vars["serial"], 1001);
        assert_eq!(vars["gtin"], "09506000134352");
        assert!(variables(&["=x".into()]).is_err());
    }
}
