//! GS1 symbol helpers of label templates: any text is refused or becomes symbol commands for
//! both printer languages, never a panic; nothing written can end its field or start a
//! printer command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracegate::labels::symbols::{self, Placement, SymbolSettings};
use tracegate::labels::templates::TemplateLanguage;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(ais) = symbols::parse(text) else {
        return;
    };
    let at = Placement {
        x: 10,
        y: 10,
        module: 2,
        height: 80,
    };
    let settings = SymbolSettings::default();
    for language in [TemplateLanguage::Zpl, TemplateLanguage::Tspl] {
        let written = [
            symbols::gs1_128(&ais, language, at),
            symbols::gs1_datamatrix(&ais, language, at),
            symbols::gs1_qr(&ais, language, at, &settings),
            Ok(symbols::gs1_text(&ais, language)),
        ];
        for out in written.into_iter().flatten() {
            assert!(!out.chars().any(char::is_control), "{out:?}");
            if language == TemplateLanguage::Zpl {
                // Every ^ and ~ is one of the helper's own commands, none from the data.
                assert!(!out.contains('~'), "{out:?}");
                let fields = out.matches("^FD").count();
                assert_eq!(fields, out.matches("^FS").count(), "{out:?}");
            } else {
                // A quote from the data is written `\["]`; every other quote opens or closes
                // one of the helper's own strings.
                let own = out.replace("\\[\"]", "");
                assert_eq!(own.matches('"').count() % 2, 0, "{out:?}");
            }
        }
    }
    let _ = symbols::zpl_rfid(&ais, None, &settings.gcp);
});
