//! `hid-scanner`: a USB HID POS scanner (HID usage page 0x8C), read through hidraw.
//!
//! ```toml
//! [[devices]]
//! id = "scanner-2"
//! kind = "hid-scanner"
//! vendor_id = 0x0c2e
//! product_id = 0x0b61
//! ```

use std::sync::Arc;

use tracegate_drivers::scanner::{HidScanner, HidScannerSettings};

use crate::capture::devices::{DeviceSettings, KindSpec, Roles, Start};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

/// The kind.
pub static KIND: HidScannerKind = HidScannerKind;

/// `hid-scanner`.
#[derive(Debug)]
pub struct HidScannerKind;

impl KindSpec for HidScannerKind {
    fn name(&self) -> &'static str {
        "hid-scanner"
    }

    fn roles(&self) -> Roles {
        Roles::INPUT
    }

    fn sections(&self) -> Vec<&'static [&'static str]> {
        vec![field_names::<HidScannerSettings>()]
    }

    fn parse(&self, keys: &mut KindKeys<'_>) -> Result<Arc<dyn DeviceSettings>, ConfigError> {
        let hid: HidScannerSettings = keys.section()?;
        keys.check_max_len(hid.max_frame_len)?;
        Ok(Arc::new(HidScannerConfig(hid)))
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
