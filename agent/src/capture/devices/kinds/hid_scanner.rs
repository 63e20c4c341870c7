//! `hid-scanner`: a USB HID POS scanner (HID usage page 0x8C), read through hidraw.
//!
//! ```toml
//! [[devices]]
//! id = "scanner-2"
//! kind = "hid-scanner"
//! vendor_id = 0x0c2e
//! product_id = 0x0b61
//! ```

use tracegate_drivers::scanner::{HidScanner, HidScannerSettings};

use crate::capture::devices::{DeviceKind, DeviceSettings, KindOf, Roles, Start};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

/// The kind.
pub static KIND: KindOf<HidScannerConfig> = KindOf::new();

impl DeviceKind for HidScannerConfig {
    const NAME: &'static str = "hid-scanner";

    const ROLES: Roles = Roles::INPUT;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![field_names::<HidScannerSettings>()]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let hid: HidScannerSettings = keys.section()?;
        keys.check_max_len(hid.max_frame_len)?;
        Ok(HidScannerConfig(hid))
    }
}

/// A HID POS scanner's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HidScannerConfig(pub HidScannerSettings);

impl DeviceSettings for HidScannerConfig {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let driver = HidScanner::new(start.id, &self.0);
        start
            .tasks
            .spawn(driver.run(start.events, start.commands, start.cancel));
        Ok(())
    }
}
