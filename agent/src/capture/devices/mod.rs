//! The device model: what a device kind is, the registry of kinds, and the running devices.
//!
//! A kind is one module under [`kinds`]: its config struct (serde, unknown keys are errors),
//! how it is parsed ([`KindSpec`]), and how it starts — its driver and, for a simulated kind,
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
pub mod sim_codes;

pub use crate::config::{
    Capabilities, DeviceSettings, KindSpec, Registry, Roles, SafeState, Start,
};

pub use running::{Devices, Routes};

/// Every kind tracegate ships — one line per kind.
pub fn builtin() -> Registry {
    Registry::new(vec![
        &kinds::serial_scanner::KIND,
        &kinds::hid_scanner::KIND,
        &kinds::keyboard_scanner::KIND,
        &kinds::llrp_reader::KIND,
        &kinds::uhf_module::KIND,
        &kinds::lf_reader::KIND,
        &kinds::gpio_input::KIND,
        &kinds::gpio_output::KIND,
        &kinds::label_printer::KIND,
        &kinds::sim_scanner::KIND,
        &kinds::sim_hid_scanner::KIND,
        &kinds::sim_llrp_reader::KIND,
        &kinds::sim_uhf_module::KIND,
        &kinds::sim_lf_reader::KIND,
        &kinds::sim_output::KIND,
        &kinds::sim_gpio_input::KIND,
        &kinds::sim_label_printer::KIND,
    ])
}

#[cfg(test)]
mod tests;
