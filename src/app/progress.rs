//! How a long operation says how far it has got. The use cases report to a
//! `Progress`; the CLI shows it as a bar on a terminal (`cli::progress`), and
//! every other caller (the API, the web pages) passes `Silent`.

/// Receives a long operation's progress: how much there is, and each step done.
pub trait Progress: Send + Sync {
    /// The amount of work there is (rows, events, recipients).
    fn total(&self, n: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
}

/// Progress nobody watches.
pub struct Silent;

impl Progress for Silent {
    fn total(&self, _: u64) {}
    fn advance(&self, _: u64) {}
}
