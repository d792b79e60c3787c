//! Structured logs with `tracing`.
//!
//! Untrusted text (a query string, a path segment, a name from a public form)
//! can reach a field or an error message. In the JSON format the encoder
//! escapes it; in the pretty format every field value and message goes
//! through [`escape`], so a value holding a newline or a terminal escape can
//! never start a line of its own (log forging) or rewrite the terminal.

use crate::config::{LogFormat, LogSettings};
use std::fmt::Write as _;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{FormatFields, Writer};
use tracing_subscriber::{EnvFilter, fmt};

pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.filter.as_str()));
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second init (tests, or `serve` after `migrate`) keeps the first subscriber.
    let _ = match settings.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.fmt_fields(escaping_fields()).try_init(),
    };
}

/// The pretty format's field formatter: `name=value`, space-separated, the
/// message bare, every value escaped.
pub fn escaping_fields() -> impl for<'w> FormatFields<'w> + Send + Sync + 'static {
    tracing_subscriber::fmt::format::debug_fn(
        |w: &mut Writer<'_>, field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
            let text = escape(&format!("{value:?}"));
            if field.name() == "message" {
                w.write_str(&text)
            } else {
                write!(w, "{}={text}", field.name())
            }
        },
    )
    .delimited(" ")
}

/// Control characters (newlines, carriage returns, ESC, C1 codes, the Unicode
/// line and paragraph separators) written as visible escapes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_value_with_a_newline_stays_on_its_line() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(escaping_fields())
            .finish();
        let forged = "x\n2026-12-01T00:00:00Z  INFO fake: admin signed in\u{1b}[2J";
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("http request", route = %forged);
            let _entered = span.enter();
            tracing::warn!(value = %forged, debug = ?forged, "refused {forged}");
        });
        let logged = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(logged.lines().count(), 1, "{logged}");
        assert!(!logged.contains('\u{1b}'), "{logged}");
        assert!(logged.contains("value=x\\n2026"), "{logged}");
    }
}
