//! Background workers: the ticket executor and the notifier.

pub mod executor;
pub mod notifier;
