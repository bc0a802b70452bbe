//! Background workers: the ticket executor, the notification dispatcher
//! (incident events and escalations) and the notifier (deliveries).

pub mod dispatcher;
pub mod executor;
pub mod notifier;
