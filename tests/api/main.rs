//! Integration tests: a real server on a random port, a real database (SQLite by
//! default, PostgreSQL when PREGON_TEST_DATABASE_URL is set), real HTTP.

mod helpers;
mod mail;
mod receiver;
mod smtp_server;

mod accounts;
mod activities;
mod cli;
mod csv_injection;
mod dispatch_process;
mod email_transport;
mod feeds;
mod hardening;
mod health;
mod history;
mod imports;
mod invitations;
mod jobs;
mod logs;
mod mastodon;
mod migrations;
mod newsletter;
mod openapi;
mod organisations;
mod rate_limits;
mod reviews;
mod roles;
mod seed;
mod sign_in;
mod slow_clients;
mod webhooks;
