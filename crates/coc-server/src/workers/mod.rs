//! Background workers: the ticket executor.

pub mod executor;
