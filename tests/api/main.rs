//! Integration tests: a real server on a random port, a real database (SQLite by
//! default, PostgreSQL when PREGON_TEST_DATABASE_URL is set), real HTTP.

mod helpers;
mod imap_server;
mod mail;
mod receiver;
mod smtp_server;

mod accounts;
mod activities;
mod activity_ranges;
mod approval_matrix;
mod backups;
mod bluesky;
mod browser;
mod browser_newsletter;
mod channel_accounts;
mod cli;
mod contract;
mod contract_reach;
mod csv_injection;
mod dispatch_process;
mod edge;
mod email_transport;
mod feeds;
mod hardening;
mod health;
mod history;
mod import_cancellations;
mod imports;
mod inbound;
mod invitation_replies;
mod invitations;
mod jobs;
mod logs;
mod manual_posts;
mod mastodon;
mod media;
mod media_upload;
mod migrations;
mod newsletter;
mod occurrence_overrides;
mod openapi;
mod organisations;
mod post_process;
mod posts;
mod rate_limits;
mod rdates;
mod reminders;
mod reports;
mod reviews;
mod roles;
mod round_trip;
mod seed;
mod sign_in;
mod slow_clients;
mod subscriber_view;
mod threads;
mod web;
mod web_compression;
mod web_newsletter;
mod web_zone;
mod webdriver;
mod webhooks;

// The web interface, issue #9: week view, new activity, account and tokens, issue controls, CSV file.
mod browser_week;
mod web_account;
mod web_issue_controls;
mod web_upload;
mod web_week;

// Issue #9 leftovers: the .ics import page, back to draft.
mod browser_posts;
mod web_ics_import;
mod web_social;
mod web_variant_form;

// Issue #11: the networks' public counts of published posts.
mod engagement;
