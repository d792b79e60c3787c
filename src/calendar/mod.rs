//! Calendars: the iCalendar import of partners' calendars (`import`).

pub mod import;
