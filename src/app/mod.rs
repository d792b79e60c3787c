//! The use-case layer: one function per operation (edit an activity, approve an
//! issue, import a calendar, sign in). Each takes who acts, the clock's `now` and
//! a connection inside a write transaction; it checks the rules, writes through
//! `db`, records the change in the history and queues its effects, all in that
//! one transaction. `http`, `cli`, the `.ics` import and the seed call these
//! functions; they never write through `db` themselves.

pub mod accounts;
pub mod actor;
pub mod history;
pub mod sessions;
pub mod tokens;

pub use actor::Actor;
