//! Integration tests: a real server on a random port, a real database (SQLite by
//! default, PostgreSQL when PREGON_TEST_DATABASE_URL is set), real HTTP.

mod helpers;
mod mail;
mod smtp_server;

mod activities;
mod email_transport;
mod health;
mod newsletter;
mod organisations;
