//! `keyboard-scanner`: a keyboard-emulation (wedge) scanner, read through evdev with an
//! exclusive grab so its keystrokes reach no console or desktop.
//!
//! ```toml
//! [[devices]]
//! id = "scanner-3"
//! kind = "keyboard-scanner"
//! path = "/dev/input/by-id/usb-…-event-kbd"
//! layout = "de"
//! ```

use std::sync::Arc;

use tracegate_drivers::scanner::{KeyboardScanner, KeyboardScannerSettings};

use crate::capture::devices::{DeviceSettings, KindSpec, Roles, Start};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

/// The kind.
pub static KIND: KeyboardScannerKind = KeyboardScannerKind;

/// `keyboard-scanner`.
#[derive(Debug)]
pub struct KeyboardScannerKind;

impl KindSpec for KeyboardScannerKind {
    fn name(&self) -> &'static str {
        "keyboard-scanner"
    }

    fn roles(&self) -> Roles {
        Roles::INPUT
    }

    fn sections(&self) -> Vec<&'static [&'static str]> {
        vec![field_names::<KeyboardScannerSettings>()]
    }

    fn parse(&self, keys: &mut KindKeys<'_>) -> Result<Arc<dyn DeviceSettings>, ConfigError> {
        let mut kbd: KeyboardScannerSettings = keys.section()?;
        keys.check_max_len(kbd.max_frame_len)?;
        kbd.path = keys.config_dir().join(&kbd.path);
        Ok(Arc::new(KeyboardScannerConfig(kbd)))
    }
}

/// A keyboard scanner's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyboardScannerConfig(pub KeyboardScannerSettings);

impl DeviceSettings for KeyboardScannerConfig {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let driver = KeyboardScanner::new(start.id, &self.0);
        start
            .tasks
            .spawn(driver.run(start.events, start.commands, start.cancel));
        Ok(())
    }
}
