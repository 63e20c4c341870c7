//! Starting the configured devices: one driver task per device, and for simulated devices the
//! simulator on the far side of a pseudo-terminal.

pub mod sim_codes;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::DeviceEvent;
use tracegate_drivers::scanner::{FrameSettings, SerialScanner, SerialScannerSettings};
use tracegate_drivers::serial::SerialSettings;
use tracegate_drivers::sim::{ScannerSim, VirtualSerialPort};

use crate::config::{DeviceConfig, DeviceSettings};

/// Starts `device`'s tasks in `tasks`. They report into `events` and stop on `cancel`.
pub fn spawn(
    device: &DeviceConfig,
    events: mpsc::Sender<DeviceEvent>,
    cancel: CancellationToken,
    tasks: &mut JoinSet<()>,
) -> std::io::Result<()> {
    match &device.settings {
        DeviceSettings::SerialScanner(settings) => {
            tasks
                .spawn(SerialScanner::new(device.id.clone(), settings.clone()).run(events, cancel));
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
    }
    Ok(())
}
