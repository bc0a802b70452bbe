//! Background workers: the ticket executor, the job executor, the notification dispatcher
//! (incident events and escalations) and the notifier (deliveries).

pub mod dispatcher;
pub mod executor;
pub mod jobs;
pub mod notifier;
