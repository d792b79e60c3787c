//! Subscribers in and out as CSV. An import is checked whole before anything
//! is written: one bad row (with its line number) and nothing is imported.
//! Imports never re-subscribe someone who unsubscribed or whose address is
//! suppressed: consent withdrawn stays withdrawn.

use super::schema::{mailing_lists, subscribers, subscriptions};
use super::{DbConnection, on_backend, utc};
use crate::domain::language::Language;
use crate::domain::newsletter::{Subscriber, SubscriberStatus, SubscriptionStatus};
use crate::domain::text::{EmailAddress, Name};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use utoipa::ToSchema;

/// One row of an import that passed every check.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line: u64,
    pub email: String,
    pub name: Option<String>,
    pub language: Language,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    /// Line in the file, counting the header as line 1.
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ImportReport {
    pub rows: usize,
    /// New addresses.
    pub created: usize,
    /// Now subscribed to the list (new addresses included).
    pub subscribed: usize,
    pub already_subscribed: usize,
    /// Unsubscribed from this list before: left unsubscribed.
    pub skipped_unsubscribed: usize,
    /// Bounced or complained: left out.
    pub skipped_suppressed: usize,
    /// Pending subscriptions that now wait for their confirmation email.
    #[serde(skip)]
    pub needs_confirmation: Vec<i64>,
    /// Subscribers created or given a new subscription (for the history).
    #[serde(skip)]
    pub changed: Vec<i64>,
}

impl ImportReport {
    /// Adds the counts of a later part of the same import.
    pub fn absorb(&mut self, part: ImportReport) {
        self.rows += part.rows;
        self.created += part.created;
        self.subscribed += part.subscribed;
        self.already_subscribed += part.already_subscribed;
        self.skipped_unsubscribed += part.skipped_unsubscribed;
        self.skipped_suppressed += part.skipped_suppressed;
        self.needs_confirmation.extend(part.needs_confirmation);
        self.changed.extend(part.changed);
    }
}

/// Parses an import file: a header with `email` and optionally `name` and
/// `language` (other columns, such as those of an export, are ignored).
pub fn parse(
    data: &[u8],
    default_language: Language,
) -> std::result::Result<Vec<ImportRow>, Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(data);
    let header_error = |message: String| vec![RowError { line: 1, message }];
    let headers = reader
        .headers()
        .map_err(|e| header_error(format!("unreadable header: {e}")))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    };
    let Some(email_at) = column("email") else {
        return Err(header_error(
            "the header needs an \"email\" column (and optionally \"name\", \"language\")".into(),
        ));
    };
    let (name_at, language_at) = (column("name"), column("language"));
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    // The csv crate's line numbers do not count blank lines before a record,
    // so lines are counted here from byte offsets (incrementally).
    let mut counted = (0usize, 1u64);
    let mut line_at = |byte: u64| -> u64 {
        let mut at = (byte as usize).min(data.len());
        while at < data.len() && (data[at] == b'\n' || data[at] == b'\r') {
            at += 1;
        }
        let (from, line) = counted;
        let start = from.min(at);
        let newlines = data[start..at].iter().filter(|b| **b == b'\n').count() as u64;
        counted = (at, line + newlines);
        counted.1
    };
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| line_at(p.byte())).unwrap_or(0);
                errors.push(RowError {
                    line,
                    message: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map(|p| line_at(p.byte())).unwrap_or(0);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let field = |at: Option<usize>| at.and_then(|i| record.get(i)).filter(|v| !v.is_empty());
        let email = match field(Some(email_at)).map(EmailAddress::parse) {
            None => {
                errors.push(RowError {
                    line,
                    message: "email is empty".into(),
                });
                continue;
            }
            Some(Err(e)) => {
                errors.push(RowError { line, message: e });
                continue;
            }
            Some(Ok(email)) => email.as_str().to_lowercase(),
        };
        if let Some(first) = seen.insert(email.clone(), line) {
            errors.push(RowError {
                line,
                message: format!("{email} is already on line {first}"),
            });
            continue;
        }
        let name = match field(name_at).map(Name::parse) {
            None => None,
            Some(Ok(n)) => Some(n.into_string()),
            Some(Err(e)) => {
                errors.push(RowError {
                    line,
                    message: format!("name {e}"),
                });
                continue;
            }
        };
        let language = match field(language_at).map(|l| l.to_lowercase().parse::<Language>()) {
            None => default_language,
            Some(Ok(l)) => l,
            Some(Err(e)) => {
                errors.push(RowError {
                    line,
                    message: format!("language: {e}"),
                });
                continue;
            }
        };
        rows.push(ImportRow {
            line,
            email,
            name,
            language,
        });
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Writes parsed rows to `list_id` (inside the caller's transaction), with a
/// handful of statements whatever the number of rows: the new addresses
/// inserted at once, then the list's subscriptions likewise. `known` holds
/// the subscribers the rows name that exist already, by address (the caller
/// reads them for the history). The caller passes a few hundred rows at a
/// time (`app::subscribers`).
pub fn import(
    conn: &mut DbConnection,
    list_id: i64,
    rows: &[ImportRow],
    known: &HashMap<String, Subscriber>,
    confirmed: bool,
    source: &str,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let mut report = ImportReport {
        rows: rows.len(),
        ..ImportReport::default()
    };
    let status = if confirmed {
        SubscriptionStatus::Confirmed
    } else {
        SubscriptionStatus::Pending
    };
    let now_naive = now.naive_utc();
    let mut known: HashMap<String, (i64, SubscriberStatus)> = known
        .iter()
        .map(|(email, s)| (email.clone(), (s.id, s.status)))
        .collect();
    let mut fresh = HashSet::new();
    let new_subscribers: Vec<_> = rows
        .iter()
        .filter(|r| !known.contains_key(&r.email) && fresh.insert(r.email.as_str()))
        .map(|r| {
            (
                subscribers::email.eq(&r.email),
                subscribers::name.eq(r.name.as_deref()),
                subscribers::language.eq(r.language.as_str()),
                subscribers::status.eq(SubscriberStatus::Active.as_str()),
                subscribers::created_at.eq(now_naive),
                subscribers::updated_at.eq(now_naive),
            )
        })
        .collect();
    report.created = new_subscribers.len();
    if !new_subscribers.is_empty() {
        let created: Vec<(String, i64)> =
            on_backend!(conn, |c| diesel::insert_into(subscribers::table)
                .values(&new_subscribers)
                .returning((subscribers::email, subscribers::id))
                .get_results(c))?;
        for (email, id) in created {
            known.insert(email, (id, SubscriberStatus::Active));
        }
    }

    let mut targets = Vec::with_capacity(rows.len());
    for row in rows {
        match known.get(&row.email) {
            Some(&(id, SubscriberStatus::Active)) => targets.push(id),
            _ => report.skipped_suppressed += 1,
        }
    }
    let current: HashMap<i64, SubscriptionStatus> = subscriptions::table
        .filter(subscriptions::list_id.eq(list_id))
        .filter(subscriptions::subscriber_id.eq_any(&targets))
        .select((subscriptions::subscriber_id, subscriptions::status))
        .load(conn)?
        .into_iter()
        .collect();
    let mut subscribing = Vec::new();
    let mut seen = HashSet::new();
    for id in targets {
        match current.get(&id) {
            Some(SubscriptionStatus::Unsubscribed) => report.skipped_unsubscribed += 1,
            Some(_) => report.already_subscribed += 1,
            None if !seen.insert(id) => report.already_subscribed += 1,
            None => subscribing.push(id),
        }
    }
    if subscribing.is_empty() {
        return Ok(report);
    }
    let new_subscriptions: Vec<_> = subscribing
        .iter()
        .map(|&subscriber_id| {
            (
                subscriptions::list_id.eq(list_id),
                subscriptions::subscriber_id.eq(subscriber_id),
                subscriptions::status.eq(status.as_str()),
                subscriptions::source.eq(source),
                subscriptions::requested_at.eq(now_naive),
                subscriptions::confirmed_at.eq(confirmed.then_some(now_naive)),
                subscriptions::created_at.eq(now_naive),
                subscriptions::updated_at.eq(now_naive),
            )
        })
        .collect();
    let created: HashMap<i64, i64> =
        on_backend!(conn, |c| diesel::insert_into(subscriptions::table)
            .values(&new_subscriptions)
            .returning((subscriptions::subscriber_id, subscriptions::id))
            .get_results::<(i64, i64)>(c))?
        .into_iter()
        .collect();
    report.subscribed = subscribing.len();
    if !confirmed {
        report.needs_confirmation = subscribing
            .iter()
            .filter_map(|id| created.get(id).copied())
            .collect();
    }
    report.changed = subscribing;
    Ok(report)
}

/// A text cell a spreadsheet will not run: OWASP's rule for CSV injection —
/// a cell starting with `=`, `+`, `-`, `@`, tab or carriage return is
/// prefixed with a single quote, so it is shown as text, never evaluated
/// (`=HYPERLINK(…)` from a public form stays a string).
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Every subscription of a list as CSV, header included. Text that may come
/// from outside (email, name, source) goes through [`spreadsheet_safe`].
pub fn export(conn: &mut DbConnection, list_id: i64) -> Result<Vec<u8>> {
    let slug: String = mailing_lists::table
        .find(list_id)
        .select(mailing_lists::slug)
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("list", list_id))?;
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        String,
        Option<String>,
        String,
        String,
        String,
        String,
        NaiveDateTime,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    )> = subscriptions::table
        .inner_join(subscribers::table)
        .filter(subscriptions::list_id.eq(list_id))
        .order(subscribers::email)
        .select((
            subscribers::email,
            subscribers::name,
            subscribers::language,
            subscribers::status,
            subscriptions::status,
            subscriptions::source,
            subscriptions::requested_at,
            subscriptions::confirmed_at,
            subscriptions::unsubscribed_at,
        ))
        .load(conn)?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| Error::Internal(anyhow::anyhow!("writing CSV: {e}"));
    writer
        .write_record([
            "email",
            "name",
            "language",
            "list",
            "status",
            "address_status",
            "source",
            "requested_at",
            "confirmed_at",
            "unsubscribed_at",
        ])
        .map_err(csv_error)?;
    let time = |t: Option<NaiveDateTime>| t.map(|t| utc(t).to_rfc3339()).unwrap_or_default();
    for (email, name, language, address, status, source, requested, confirmed, unsubscribed) in rows
    {
        writer
            .write_record([
                &*spreadsheet_safe(&email),
                &*spreadsheet_safe(name.as_deref().unwrap_or("")),
                &language,
                &slug,
                &status,
                &address,
                &*spreadsheet_safe(&source),
                &time(Some(requested)),
                &time(confirmed),
                &time(unsubscribed),
            ])
            .map_err(csv_error)?;
    }
    writer
        .into_inner()
        .map_err(|e| Error::Internal(anyhow::anyhow!("writing CSV: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rows_are_reported_with_line_numbers() {
        let data = b"email,name,language\nana@example.org,Ana,es\nnot-an-address,X,en\n\nbea@example.org,,de\nANA@example.org,Ana 2,\n\"multi\nline\"@x,,\n";
        let errors = parse(data, Language::En).unwrap_err();
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 5, 6, 7], "{errors:?}");
        assert!(errors[2].message.contains("line 2"), "{errors:?}");
    }

    #[test]
    fn formula_cells_are_neutralised() {
        for bad in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(spreadsheet_safe(bad), format!("'{bad}"));
        }
        for good in ["Ana", "", "a=b", " =x", "'quoted"] {
            assert_eq!(spreadsheet_safe(good), good);
        }
    }

    #[test]
    fn good_files_parse_with_defaults_and_extra_columns() {
        let data = "\u{feff}Email,language,list\nana@example.org,ES,x\n\"bea@example.org\",,x\n";
        let rows = parse(data.as_bytes(), Language::Fr).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].language, Language::Es);
        assert_eq!(rows[1].language, Language::Fr);
        assert_eq!(rows[1].line, 3);
        assert!(parse(b"name\nAna\n", Language::En).is_err());
    }
}
