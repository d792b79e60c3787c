//! Progress of long CLI work on a terminal (indicatif): a bar with the count,
//! the rate and the time left, on stderr. Nothing is drawn when stderr is not
//! a terminal (a pipe, a log file, cron) or with `--quiet`, so the output
//! that scripts read stays the same.

use crate::app::progress::Progress;
use crate::clock::SharedClock;
use crate::db::{Db, metrics};
use crate::domain::newsletter::DeliveryState;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Whether progress is drawn: on a terminal, unless `--quiet`.
pub fn shown(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

pub struct Bar(ProgressBar);

impl Bar {
    /// A bar labelled `what`, counting `unit`s; a spinner until its total is known.
    pub fn new(what: &str, unit: &'static str, quiet: bool) -> Bar {
        let target = if shown(quiet) {
            ProgressDrawTarget::stderr_with_hz(8)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{spinner}} {{msg}} {{human_pos}} {unit} ({{per_sec}}, {{elapsed}})"
            ))
            .expect("a valid template"),
        );
        bar.set_message(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(125));
        // Drawn at once, so even work that ends before the first tick is shown.
        bar.tick();
        Bar(bar)
    }

    pub fn message(&self, text: String) {
        self.0.set_message(text);
    }

    /// Removes the bar; what the command prints next stands alone.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bar {
    fn total(&self, n: u64) {
        let first = self.0.length().is_none();
        self.0.set_length(n);
        if !first {
            return;
        }
        self.0.set_style(
            ProgressStyle::with_template(
                "{msg} [{wide_bar}] {human_pos}/{human_len} ({per_sec}, {eta} left)",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
    }

    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// Follows a dispatcher's work from the delivery ledger until dropped: done
/// (sent, failed or unknown since it started) out of done plus still waiting.
pub fn follow_deliveries(
    db: Db,
    clock: SharedClock,
    quiet: bool,
) -> Option<tokio::task::JoinHandle<()>> {
    if !shown(quiet) {
        return None;
    }
    Some(tokio::spawn(async move {
        let bar = Bar::new("sending", "messages", quiet);
        let mut first_done = None;
        loop {
            let (db, clock) = (db.clone(), clock.clone());
            let figures = tokio::task::spawn_blocking(move || {
                let mut conn = db.get().ok()?;
                metrics::deliveries(&mut conn, clock.now()).ok()
            })
            .await
            .ok()
            .flatten();
            if let Some((by_state, _)) = figures {
                let count = |states: &[DeliveryState]| -> u64 {
                    states
                        .iter()
                        .map(|s| by_state.get(s.as_str()).copied().unwrap_or(0).max(0) as u64)
                        .sum()
                };
                let done = count(&[
                    DeliveryState::Sent,
                    DeliveryState::Failed,
                    DeliveryState::Unknown,
                ]);
                let waiting = count(&[
                    DeliveryState::Queued,
                    DeliveryState::Retry,
                    DeliveryState::Sending,
                ]);
                let start = *first_done.get_or_insert(done);
                let so_far = done.saturating_sub(start);
                bar.total(so_far + waiting);
                bar.0.set_position(so_far);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }))
}
