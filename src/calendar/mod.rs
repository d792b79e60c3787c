//! Calendars: the RFC 5545 writer (`ics`), what the plan publishes (`feed`),
//! serving feeds from memory (`cache`, `publish`), and partners' calendars in
//! (`import` parses, `app::imports` stores).

pub mod cache;
pub mod feed;
pub mod ics;
pub mod import;
pub mod publish;
