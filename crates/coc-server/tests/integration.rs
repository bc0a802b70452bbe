//! End-to-end tests of the server over HTTP with real agents running real
//! scripts, on a temporary SQLite store. (The PostgreSQL behaviour of the
//! same store code is covered by coc-store's suite.)

mod harness;

mod access;
mod agents;
mod api;
mod applications;
mod browser;
mod catalog;
mod closed_loop;
mod cloud;
mod console;
mod discovery;
mod drift;
mod egress;
mod execution;
mod health;
mod jobs;
mod login;
mod metrics;
mod notify;
mod oncall;
mod openapi;
mod patch;
mod people;
mod resource_op;
mod silences;
