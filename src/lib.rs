//! Pregón runs an institution's communication plan: it holds the plan (campaigns,
//! channels, activities), publishes it, sends its emails and reports progress.
//!
//! The folders say where things live: `domain` (validated types and rules),
//! `db` (persistence on SQLite or PostgreSQL), `http` (the thin API layer),
//! `cli` (the `pregon` subcommands), `seed` (the default 2020 plan).

pub mod app;
pub mod calendar;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod dispatch;
pub mod domain;
pub mod email;
pub mod error;
pub mod http;
pub mod inbound;
pub mod jobs;
pub mod reminders;
pub mod report;
pub mod seed;
pub mod social;
pub mod telemetry;
pub mod web;

pub use error::{Error, Result};
