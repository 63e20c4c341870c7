//! Label printing: the durable print queue.
//!
//! [`queue`]: one worker per printer that takes the oldest submitted job from the outbox
//! database, marks it sent (committed) before a byte is written, has the printer driver print
//! it and settles it from the driver's answer. Labels themselves (templates, GS1 symbols,
//! previews) are made in [`crate::labels`].
//!
//! The queue's states and moves are drawn in `outbox::store::print_jobs`.

pub mod queue;
