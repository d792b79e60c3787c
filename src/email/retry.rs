//! When to try a delivery again, and when to stop: the retry budget.
//!
//! Mail servers keep retrying a temporary failure for days (Postfix: five),
//! with waits that grow to an hour or so; a handful of attempts in half an
//! hour gives up on a recipient whose relay greylists or is briefly full.
//! So the budget is time: `retry_for` from the first attempt (3 days by
//! default), with `max_attempts` only as a safety cap. Outcomes that may
//! have reached the recipient (the connection broke after the content was
//! sent) are resent at most `max_unknown` times in all, each after a wait,
//! and then held for a person.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Deserializer};

use crate::config::{EmailSettings, OutcomeUnknownPolicy};

/// A length of time written as a number and a unit: `90s`, `30m`, `12h`,
/// `3d` (a bare number is seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(TimeDelta);

impl Span {
    pub fn as_delta(self) -> TimeDelta {
        self.0
    }

    pub fn seconds(secs: i64) -> Span {
        Span(TimeDelta::seconds(secs))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a length of time; write e.g. 90s, 30m, 12h or 3d")]
pub struct SpanError(String);

impl FromStr for Span {
    type Err = SpanError;

    fn from_str(text: &str) -> Result<Span, SpanError> {
        let bad = || SpanError(text.to_owned());
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let number: i64 = number.parse().map_err(|_| bad())?;
        let unit_secs = match unit.trim() {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        number
            .checked_mul(unit_secs)
            .filter(|secs| *secs > 0 && *secs <= 366 * 86_400)
            .map(Span::seconds)
            .ok_or_else(bad)
    }
}

impl fmt::Display for Span {
    /// The largest whole unit: `3 days`, `2 hours`, `90 minutes`, `45 seconds`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.num_seconds();
        let (n, unit) = [(86_400, "day"), (3600, "hour"), (60, "minute")]
            .into_iter()
            .find(|(size, _)| secs >= *size && secs % size == 0)
            .map_or((secs, "second"), |(size, unit)| (secs / size, unit));
        write!(f, "{n} {unit}{}", if n == 1 { "" } else { "s" })
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Span, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(i64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Secs(secs) => secs.to_string().parse(),
            Raw::Text(text) => text.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Try again at this time.
    At(DateTime<Utc>),
    /// Stop; the reason says after how much trying.
    GiveUp(String),
}

/// The retry rules, from the email settings.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub retry_for: Span,
    /// Cap on attempts of any kind; 0 for none.
    pub max_attempts: u32,
    pub max_unknown: u32,
    pub base_secs: u64,
    pub max_secs: u64,
    pub outcome_unknown: OutcomeUnknownPolicy,
}

impl RetryPolicy {
    pub fn from_settings(email: &EmailSettings) -> RetryPolicy {
        RetryPolicy {
            retry_for: email.retry_for,
            max_attempts: email.max_attempts,
            max_unknown: email.max_unknown.max(1),
            base_secs: email.retry_base_secs,
            max_secs: email.retry_max_secs,
            outcome_unknown: email.outcome_unknown,
        }
    }

    /// After a temporary failure (a 4xx, a connection dropped at RCPT) that
    /// was attempt number `attempts` of a delivery first attempted at
    /// `first_attempt_at`.
    pub fn after_temporary(
        &self,
        attempts: i32,
        first_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Next {
        let spent = now - first_attempt_at;
        let capped = self.max_attempts > 0 && attempts >= self.max_attempts as i32;
        if spent >= self.retry_for.as_delta() || capped {
            let over = if capped {
                format!("{} (max_attempts)", Span(spent.max(TimeDelta::seconds(1))))
            } else {
                self.retry_for.to_string()
            };
            return Next::GiveUp(format!("gave up after {attempts} attempts over {over}"));
        }
        Next::At(now + backoff(attempts, self.base_secs, self.max_secs))
    }

    /// After an outcome-unknown attempt, the `unknown`-th of the delivery:
    /// when to resend, or `None` to hold it for a person (policy "hold", or
    /// `max_unknown` reached, or the budget spent).
    pub fn after_unknown(
        &self,
        attempts: i32,
        unknown: i32,
        first_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        if self.outcome_unknown == OutcomeUnknownPolicy::Hold || unknown >= self.max_unknown as i32
        {
            return None;
        }
        match self.after_temporary(attempts, first_attempt_at, now) {
            Next::At(_) => Some(now + backoff(unknown, self.base_secs, self.max_secs)),
            Next::GiveUp(_) => None,
        }
    }
}

/// Backoff with "equal jitter": between half and all of
/// `base · 2^(attempt-1)`, capped; spreads retries so a relay that throttled a
/// batch is not hit by all of it again at the same second.
pub fn backoff(attempt: i32, base_secs: u64, max_secs: u64) -> TimeDelta {
    let exponent = attempt.clamp(1, 30) as u32 - 1;
    let full = base_secs
        .saturating_mul(1u64 << exponent.min(40))
        .min(max_secs)
        .max(1);
    let half = full / 2;
    let jitter = if full - half > 0 {
        rand::random_range(0..=(full - half))
    } else {
        0
    };
    TimeDelta::seconds((half + jitter) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        for attempt in 1..10 {
            let full = (60u64 << (attempt - 1)).min(3600) as i64;
            for _ in 0..50 {
                let d = backoff(attempt, 60, 3600).num_seconds();
                assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d}");
            }
        }
    }

    #[test]
    fn spans_parse_and_print() {
        for (text, secs, shown) in [
            ("3d", 259_200, "3 days"),
            ("72h", 259_200, "3 days"),
            ("90m", 5400, "90 minutes"),
            ("1h", 3600, "1 hour"),
            ("45", 45, "45 seconds"),
            (" 2h ", 7200, "2 hours"),
        ] {
            let span: Span = text.parse().unwrap();
            assert_eq!(span.as_delta().num_seconds(), secs, "{text}");
            assert_eq!(span.to_string(), shown, "{text}");
        }
        for bad in ["", "d", "3w", "-1h", "0", "1.5h", "999d"] {
            assert!(bad.parse::<Span>().is_err(), "{bad:?}");
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            retry_for: "3d".parse().unwrap(),
            max_attempts: 100,
            max_unknown: 3,
            base_secs: 60,
            max_secs: 3600,
            outcome_unknown: OutcomeUnknownPolicy::Resend,
        }
    }

    #[test]
    fn the_budget_is_time_with_attempts_as_a_cap() {
        let first = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let p = policy();
        let day2 = first + TimeDelta::days(2);
        assert!(
            matches!(p.after_temporary(40, first, day2), Next::At(at) if at > day2 && at <= day2 + TimeDelta::hours(1))
        );
        assert_eq!(
            p.after_temporary(75, first, first + TimeDelta::days(3)),
            Next::GiveUp("gave up after 75 attempts over 3 days".into())
        );
        assert!(matches!(
            p.after_temporary(100, first, first + TimeDelta::hours(5)),
            Next::GiveUp(reason) if reason == "gave up after 100 attempts over 5 hours (max_attempts)"
        ));
    }

    #[test]
    fn unknown_outcomes_wait_and_are_held_after_max_unknown() {
        let first = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let now = first + TimeDelta::minutes(5);
        let p = policy();
        let at = p.after_unknown(1, 1, first, now).unwrap();
        assert!(at >= now + TimeDelta::seconds(30), "{at}");
        assert!(p.after_unknown(2, 2, first, now).is_some());
        assert_eq!(p.after_unknown(3, 3, first, now), None);
        assert_eq!(
            p.after_unknown(9, 1, first, first + TimeDelta::days(4)),
            None
        );
        let hold = RetryPolicy {
            outcome_unknown: OutcomeUnknownPolicy::Hold,
            ..policy()
        };
        assert_eq!(hold.after_unknown(1, 1, first, now), None);
    }
}
