//! Label previews: a rendered job drawn as a PNG without a printer (`tracegate print
//! --preview`), so an integrator sees a template before a roll is wasted.
//!
//! Drawing ZPL and TSPL is labelize's job (a Labelary-compatible renderer); this module only
//! chooses the language and the label size. A build without the `preview` feature (a slim
//! gateway image) says so instead of drawing.

use super::templates::Rendered;
#[cfg(feature = "preview")]
use super::templates::TemplateLanguage;

/// Label size and resolution of a preview.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreviewSize {
    /// Width in mm; `None`: the label's own (TSPL `SIZE`), else 102 mm.
    pub width_mm: Option<f64>,
    /// Height in mm; `None`: the label's own, else 152 mm.
    pub height_mm: Option<f64>,
    /// Dots per mm: 8 (203 dpi), 12 (300 dpi) or 24 (600 dpi).
    pub dpmm: i32,
}

impl Default for PreviewSize {
    fn default() -> Self {
        PreviewSize {
            width_mm: None,
            height_mm: None,
            dpmm: 8,
        }
    }
}

/// The first label of `rendered` as PNG bytes.
#[cfg(feature = "preview")]
pub fn png(rendered: &Rendered, size: PreviewSize) -> Result<Vec<u8>, String> {
    if ![6, 8, 12, 24].contains(&size.dpmm) {
        return Err(format!(
            "dpmm {} is not a printer resolution: use 6, 8 (203 dpi), 12 (300 dpi) or 24 (600 dpi)",
            size.dpmm
        ));
    }
    let language = match rendered.language {
        TemplateLanguage::Zpl => labelize::Language::Zpl,
        TemplateLanguage::Tspl => labelize::Language::Tspl,
    };
    // A ZPL label declares its size in dots (^PW width, ^LL length); TSPL's SIZE is read by
    // the renderer itself.
    let dots = |command: &str| match rendered.language {
        TemplateLanguage::Zpl => {
            zpl_dots(&rendered.data, command).map(|d| d / f64::from(size.dpmm))
        }
        TemplateLanguage::Tspl => None,
    };
    let options = labelize::RenderOptions {
        language: Some(language),
        width_mm: size.width_mm.or_else(|| dots("^PW")),
        height_mm: size.height_mm.or_else(|| dots("^LL")),
        dpmm: size.dpmm,
        antialias: false,
    };
    labelize::render_png(&rendered.data, options)
        .map(|out| out.bytes)
        .map_err(|e| format!("the label could not be drawn: {e}"))
}

/// The number after the last `command` (`^PW`, `^LL`) in a ZPL job, in dots.
#[cfg(feature = "preview")]
fn zpl_dots(data: &[u8], command: &str) -> Option<f64> {
    let text = std::str::from_utf8(data).ok()?;
    let at = text.rfind(command)? + command.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse::<u32>().ok().filter(|&d| d > 0).map(f64::from)
}

/// Without the renderer: says so.
#[cfg(not(feature = "preview"))]
pub fn png(_rendered: &Rendered, _size: PreviewSize) -> Result<Vec<u8>, String> {
    Err(
        "this build of tracegate has no label renderer (built without the `preview` feature); \
         preview on a workstation build of the same version"
            .into(),
    )
}

#[cfg(all(test, feature = "preview"))]
mod tests {
    use super::*;

    #[test]
    fn a_zpl_label_is_drawn_at_its_declared_size() {
        assert_eq!(zpl_dots(b"^XA^PW812^LL609^XZ", "^PW"), Some(812.0));
        assert_eq!(zpl_dots(b"^XA^XZ", "^LL"), None);
        let rendered = Rendered {
            data: b"^XA^PW400^LL240^FO20,20^A0N,30,30^FDX^FS^XZ".to_vec(),
            language: TemplateLanguage::Zpl,
            gs1: Vec::new(),
        };
        let png = png(&rendered, PreviewSize::default()).unwrap();
        let image = image::load_from_memory(&png).unwrap();
        assert_eq!((image.width(), image.height()), (400, 240));
    }

    #[test]
    fn a_zpl_and_a_tspl_label_are_drawn() {
        for (language, data) in [
            (
                TemplateLanguage::Zpl,
                &b"^XA^FO50,50^A0N,40,40^FDLOT A17^FS^XZ"[..],
            ),
            (
                TemplateLanguage::Tspl,
                &b"SIZE 60 mm,40 mm\r\nCLS\r\nTEXT 10,10,\"3\",0,1,1,\"A17\"\r\nPRINT 1\r\n"[..],
            ),
        ] {
            let rendered = Rendered {
                data: data.to_vec(),
                language,
                gs1: Vec::new(),
            };
            let png = png(&rendered, PreviewSize::default()).unwrap();
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{language:?}");
        }
        let rendered = Rendered {
            data: b"^XA^XZ".to_vec(),
            language: TemplateLanguage::Zpl,
            gs1: Vec::new(),
        };
        let e = png(
            &rendered,
            PreviewSize {
                dpmm: 7,
                ..PreviewSize::default()
            },
        )
        .unwrap_err();
        assert!(e.contains("dpmm 7"), "{e}");
    }
}

#[cfg(all(test, not(feature = "preview")))]
mod tests {
    use super::*;
    use crate::labels::templates::TemplateLanguage;

    #[test]
    fn a_build_without_the_renderer_says_so() {
        let rendered = Rendered {
            data: b"^XA^XZ".to_vec(),
            language: TemplateLanguage::Zpl,
            gs1: Vec::new(),
        };
        let e = png(&rendered, PreviewSize::default()).unwrap_err();
        assert!(e.contains("without the `preview` feature"), "{e}");
    }
}
