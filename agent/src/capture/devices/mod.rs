//! The device model: what a device kind is, the registry of kinds, and the running devices.
//!
//! A kind is one module under [`kinds`]: its config struct (serde, unknown keys are errors),
//! its name, roles and how it is parsed ([`DeviceKind`], which [`KindOf`] turns into the
//! registry's [`KindSpec`]), and how it starts — its driver and, for a simulated kind,
//! the simulator beside it ([`DeviceSettings::start`]). The [`Registry`] lists the kinds;
//! adding a kind is its module plus one line there.
//!
//! ```text
//!                 commands (typed, per kind)                    DeviceEvent
//!  router ─────────────────────────────────▶ device task ─────────────────────▶ pipeline
//!  (MQTT cmd topic,  Routes: id → inbox         │  ▲        reads, link up/down,  / status
//!   control socket,                             ▼  │ bytes  output levels
//!   operator feedback)                        codec ◀── transport (pty, hidraw, TCP, lines)
//! ```
//!
//! Roles decide which keys a device takes: an *input* (scanner, reader, GPIO input) has
//! capture settings and a business context; an *output* (printer, light, buzzer) has neither;
//! a device with both roles has what each needs. Every device, input or output, has the same
//! life cycle (`tracegate_drivers::lifecycle`): connecting, up, down with a reason, reconnect
//! with backoff, stopped.

pub mod kinds;
pub mod running;
#[cfg(feature = "sim")]
pub mod sim_codes;

pub use crate::config::{
    Capabilities, DeviceKind, DeviceSettings, KindOf, KindSpec, Registry, Roles, SafeState, Start,
};

pub use running::{Devices, Routes};

/// Every kind tracegate ships — one line per kind.
pub fn builtin() -> Registry {
    let registry = Registry::new(vec![
        &kinds::serial_scanner::KIND,
        &kinds::hid_scanner::KIND,
        &kinds::keyboard_scanner::KIND,
        &kinds::llrp_reader::KIND,
        &kinds::uhf_module::KIND,
        &kinds::lf_reader::KIND,
        &kinds::gpio_input::KIND,
        &kinds::gpio_output::KIND,
        &kinds::label_printer::KIND,
    ]);
    with_simulators(registry)
}

/// The simulated kinds, in a build with them (feature `sim`).
#[cfg(feature = "sim")]
fn with_simulators(registry: Registry) -> Registry {
    registry
        .with(&kinds::sim_scanner::KIND)
        .with(&kinds::sim_hid_scanner::KIND)
        .with(&kinds::sim_llrp_reader::KIND)
        .with(&kinds::sim_uhf_module::KIND)
        .with(&kinds::sim_lf_reader::KIND)
        .with(&kinds::sim_output::KIND)
        .with(&kinds::sim_gpio_input::KIND)
        .with(&kinds::sim_label_printer::KIND)
}

/// A build without simulators (the gateway packages) names them, so that a config that asks
/// for one is told why it is not there rather than that the kind is unknown.
#[cfg(not(feature = "sim"))]
fn with_simulators(registry: Registry) -> Registry {
    registry.without_simulators(&[
        "sim-scanner",
        "sim-hid-scanner",
        "sim-llrp-reader",
        "sim-uhf-module",
        "sim-lf-reader",
        "sim-output",
        "sim-gpio-input",
        "sim-label-printer",
    ])
}

#[cfg(test)]
mod tests;
