//! The console's pages with a layout of their own, one module per feature;
//! lists, records and forms declared generically live in
//! [`super::modules`].

pub mod action_link;
pub mod alarm;
pub mod health;
pub mod incident;
pub mod integration;
pub mod oncall;
pub mod overview;
pub mod script;
pub mod session;
pub mod ticket;
