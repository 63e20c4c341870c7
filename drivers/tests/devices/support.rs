//! What every driver test waits on: the next event a driver reports, and a state it reaches.

use std::time::Duration;

use tokio::sync::mpsc;
use tracegate_drivers::{DeviceEvent, DeviceState};

/// The driver's next event; fails the test after 10 s.
pub async fn next_event(rx: &mut mpsc::Receiver<DeviceEvent>) -> DeviceEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("driver event within 10 s")
        .expect("driver channel open")
}

/// Waits until the driver reports `want`, and returns the detail it gave.
pub async fn wait_state(rx: &mut mpsc::Receiver<DeviceEvent>, want: DeviceState) -> Option<String> {
    loop {
        if let DeviceEvent::State { state, detail, .. } = next_event(rx).await
            && state == want
        {
            return detail;
        }
    }
}
