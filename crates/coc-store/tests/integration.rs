//! The store suite: every test runs against SQLite (a temp file) and
//! PostgreSQL. PostgreSQL comes from `COC_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each run creates and
//! drops its own database. Without a reachable server the PostgreSQL half
//! is skipped with a notice — except when `CI=true`, where it fails.

mod support;

mod access;
mod agent_install;
mod agent_upgrade;
mod agents;
mod alarms;
mod applications;
mod cloud;
mod drift;
mod incidents;
mod jobs;
mod oncall;
mod parameters;
mod patch;
mod people;
mod replicas;
mod resources;
mod schedules;
mod scripts;
mod tickets;
