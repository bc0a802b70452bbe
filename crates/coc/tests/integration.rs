//! The `coc` binary end to end: real `coc server` and `coc agent`
//! processes — durable execution across crashes, and the agent link over
//! TLS.

mod support;

mod cli;
mod durable;
mod limits;
mod pagerduty;
mod replicas;
mod secrets;
mod tls;
