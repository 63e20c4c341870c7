//! Starting the configured devices: one driver task per device, and for simulated devices the
//! simulator on the far side of the device's transport (a pseudo-terminal for serial scanners,
//! the HID report interface for HID POS scanners).

pub mod sim_codes;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::DeviceEvent;
use tracegate_drivers::scanner::{
    FrameSettings, HidScanner, KeyboardScanner, SerialScanner, SerialScannerSettings,
};
use tracegate_drivers::serial::SerialSettings;
use tracegate_drivers::sim::{ScannerSim, SimHidScanner, VirtualSerialPort};

use crate::config::{DeviceConfig, DeviceSettings};

/// Starts `device`'s tasks in `tasks`. They report into `events` and stop on `cancel`; a
/// serial scanner writes what arrives on `host_commands` to the scanner.
pub fn spawn(
    device: &DeviceConfig,
    host_commands: Option<mpsc::Receiver<bytes::Bytes>>,
    events: mpsc::Sender<DeviceEvent>,
    cancel: CancellationToken,
    tasks: &mut JoinSet<()>,
) -> std::io::Result<()> {
    match &device.settings {
        DeviceSettings::SerialScanner(settings) => {
            let mut driver = SerialScanner::new(device.id.clone(), settings.clone());
            if let Some(commands) = host_commands {
                driver = driver.with_host_commands(commands);
            }
            tasks.spawn(driver.run(events, cancel));
        }
        DeviceSettings::SimScanner(sim) => {
            let mut port = VirtualSerialPort::new()?;
            let settings = SerialScannerSettings {
                serial: SerialSettings::new(port.path().to_string_lossy()),
                frame: FrameSettings::default(),
            };
            tracing::info!(device = %device.id, pty = %port.path().display(), "simulated scanner on a pseudo-terminal");
            let writer = ScannerSim {
                terminator: sim.terminator.bytes().to_vec(),
                ..ScannerSim::default()
            }
            .with_rate(sim.rate_per_s);
            let frames = sim_codes::frames(sim);
            let sim_cancel = cancel.clone();
            let id = device.id.clone();
            tasks.spawn(async move {
                match writer.run(port.master(), frames, &sim_cancel).await {
                    Ok(sent) => tracing::debug!(device = %id, sent, "simulated scanner finished"),
                    Err(e) => tracing::warn!(device = %id, "simulated scanner stopped: {e}"),
                }
                // Keep the pty open (the scanner "plugged in") until shutdown.
                sim_cancel.cancelled().await;
                drop(port);
            });
            tasks.spawn(SerialScanner::new(device.id.clone(), settings).run(events, cancel));
        }
        DeviceSettings::HidScanner(settings) => {
            tasks.spawn(HidScanner::new(device.id.clone(), settings).run(events, cancel));
        }
        DeviceSettings::KeyboardScanner(settings) => {
            tasks.spawn(KeyboardScanner::new(device.id.clone(), settings).run(events, cancel));
        }
        DeviceSettings::SimHidScanner(sim) => {
            let scanner = SimHidScanner::new(device.id.to_string());
            tracing::info!(device = %device.id, "simulated HID POS scanner");
            let driver = HidScanner::with_opener(device.id.clone(), scanner.opener(), 4096);
            let frames = sim_codes::frames(&sim.as_serial());
            let every = (sim.rate_per_s > 0.0)
                .then(|| std::time::Duration::from_secs_f64(1.0 / sim.rate_per_s));
            let sim_cancel = cancel.clone();
            tasks.spawn(async move {
                let mut ticker = tokio::time::interval(
                    every
                        .unwrap_or_default()
                        .max(std::time::Duration::from_micros(100)),
                );
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                for frame in frames {
                    tokio::select! {
                        _ = sim_cancel.cancelled() => return,
                        _ = ticker.tick() => {}
                    }
                    // A real HID POS scanner sends the AIM identifier in its own report field.
                    let (symbology, data) = match frame.0.as_slice() {
                        [b']', a, b, rest @ ..] => (
                            Some(String::from_utf8_lossy(&[b']', *a, *b]).into_owned()),
                            rest.to_vec(),
                        ),
                        data => (None, data.to_vec()),
                    };
                    while !scanner.is_open() {
                        tokio::select! {
                            _ = sim_cancel.cancelled() => return,
                            _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
                        }
                    }
                    scanner.scan(symbology.as_deref(), &data);
                }
            });
            tasks.spawn(driver.run(events, cancel));
        }
    }
    Ok(())
}
