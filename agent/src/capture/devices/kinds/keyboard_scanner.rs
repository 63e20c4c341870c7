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

use tracegate_drivers::scanner::{KeyboardScanner, KeyboardScannerSettings};

use crate::capture::devices::{DeviceKind, DeviceSettings, KindOf, Roles, Start};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

/// The kind.
pub static KIND: KindOf<KeyboardScannerConfig> = KindOf::new();

impl DeviceKind for KeyboardScannerConfig {
    const NAME: &'static str = "keyboard-scanner";

    const ROLES: Roles = Roles::INPUT;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![field_names::<KeyboardScannerSettings>()]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let mut kbd: KeyboardScannerSettings = keys.section()?;
        keys.check_max_len(kbd.max_frame_len)?;
        kbd.path = keys.config_dir().join(&kbd.path);
        Ok(KeyboardScannerConfig(kbd))
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
