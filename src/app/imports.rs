//! Partners' calendars into the plan: each event of a parsed `.ics` becomes an
//! external activity of the partner, matched by UID on later imports and
//! changed only by a higher SEQUENCE (or, at equal SEQUENCE, a newer
//! LAST-MODIFIED). The caller runs `apply` in one transaction: an import is
//! written whole or not at all.

use super::Context;
use super::entities::Activities;
use super::records;
use crate::calendar::feed;
use crate::calendar::import::{
    Cancellation, EventDate, ImportWarning, ImportedEvent, ImportedTime, ParsedCalendar,
    RecurrenceDate, Status, Strictness,
};
use crate::db::activities::{self, ExternalSource, ImportFingerprint};
use crate::db::{DbConnection, organisations, plans};
use crate::domain::activity::{
    Activity, ActivityInput, ActivityKind, ActivityStatus, ExceptionInput, PlaceInput,
    RecurrenceInput, ValidActivity, Visibility,
};
use crate::domain::campaign::TranslationInput;
use crate::domain::language::{Language, Translations};
use crate::domain::recurrence::{Exception, OccurrenceKey, Recurrence};
use crate::domain::text::{Name, Text, Title, WebUrl};
use crate::domain::timing::{Precision, Timing, TimingInput, YearMonth};
use crate::domain::zone::Zone;
use crate::error::{Error, Result};
use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc,
};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Where imported events go.
#[derive(Debug, Clone)]
pub struct Destination {
    pub organisation_id: i64,
    pub plan_id: i64,
    /// The language of the partner's texts.
    pub lang: Language,
    /// What the imported activities are (internal unless asked).
    pub visibility: Visibility,
}

impl Destination {
    /// Resolves slugs; without a plan slug, the first plan.
    pub fn resolve(
        conn: &mut DbConnection,
        organisation: &str,
        plan: Option<&str>,
        lang: Language,
    ) -> Result<Destination> {
        let organisation_id = organisations::find_by_slug(conn, organisation)?
            .ok_or_else(|| {
                Error::invalid("organisation", format!("no organisation {organisation:?}"))
            })?
            .id;
        let plan_id = match plan {
            Some(slug) => {
                plans::find_by_slug(conn, slug)?
                    .ok_or_else(|| Error::invalid("plan", format!("no plan {slug:?}")))?
                    .id
            }
            None => {
                plans::list(conn, crate::db::PageRequest::first(1))?
                    .items
                    .first()
                    .ok_or_else(|| Error::invalid("plan", "there is no plan to import into"))?
                    .id
            }
        };
        Ok(Destination {
            organisation_id,
            plan_id,
            lang,
            visibility: Visibility::Internal,
        })
    }

    /// The same destination, its activities of this visibility.
    pub fn with_visibility(self, visibility: Visibility) -> Destination {
        Destination { visibility, ..self }
    }
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    /// Already present, and the file's version is not newer or says the same.
    pub unchanged: usize,
    /// Events that could not be understood or represented (each in `events`
    /// with its reason).
    pub skipped: usize,
    /// What became of each event of the file, in file order.
    pub events: Vec<EventOutcome>,
    pub warnings: Vec<WarningView>,
}

/// What an import did with one event (a series with its overrides counts once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Skipped,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventOutcome {
    /// Line of the event's BEGIN:VEVENT.
    pub line: usize,
    /// The event's UID, when it had a readable one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    pub outcome: Outcome,
    /// Why it was skipped, or why it is unchanged; what a cancellation cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ImportReport {
    fn record(&mut self, line: usize, uid: Option<&str>, outcome: Outcome, reason: Option<String>) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Skipped => self.skipped += 1,
        }
        self.events.push(EventOutcome {
            line,
            uid: uid.map(str::to_owned),
            outcome,
            reason,
        });
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WarningView {
    pub line: usize,
    pub message: String,
}

impl From<ImportWarning> for WarningView {
    fn from(w: ImportWarning) -> Self {
        WarningView {
            line: w.line,
            message: w.message,
        }
    }
}

/// Writes the parsed events, skipping (and reporting) those that cannot be
/// represented. Run it inside a transaction.
pub fn apply(
    conn: &mut DbConnection,
    cx: &Context,
    parsed: ParsedCalendar,
    to: &Destination,
) -> Result<ImportReport> {
    apply_with(conn, cx, parsed, to, Strictness::Lenient)
}

/// What [`apply_with`] would do, without writing anything: the same report,
/// from the same code, in a write transaction that is always rolled back.
/// The web page's dry run before its "confirm". It opens that transaction
/// itself: call it with a connection outside one (`Db::run`).
pub fn preview(
    conn: &mut DbConnection,
    cx: &Context,
    parsed: ParsedCalendar,
    to: &Destination,
    strictness: Strictness,
) -> Result<ImportReport> {
    let mut previewed = None;
    let undone = crate::db::write_transaction(conn, |c| {
        previewed = Some(apply_with(c, cx, parsed, to, strictness)?);
        // Any error rolls the transaction back; this one only says so.
        Err::<(), _>(Error::Internal(anyhow::anyhow!("dry run: rolled back")))
    });
    match (previewed, undone) {
        (Some(report), Err(_)) => Ok(report),
        (None, Err(e)) => Err(e),
        (_, Ok(())) => Err(Error::Internal(anyhow::anyhow!(
            "the dry run was not rolled back"
        ))),
    }
}

/// [`apply`]; with [`Strictness::Strict`] an event that cannot be represented
/// fails the whole import (the caller's transaction writes nothing), naming its
/// line.
pub fn apply_with(
    conn: &mut DbConnection,
    cx: &Context,
    parsed: ParsedCalendar,
    to: &Destination,
    strictness: Strictness,
) -> Result<ImportReport> {
    let mut report = ImportReport {
        warnings: parsed.warnings.into_iter().map(WarningView::from).collect(),
        ..ImportReport::default()
    };
    for skipped in parsed.skipped {
        report.record(
            skipped.line,
            skipped.uid.as_deref(),
            Outcome::Skipped,
            Some(skipped.reason),
        );
    }
    // A master and its overrides (same UID) become one activity.
    let mut series: BTreeMap<String, (Option<ImportedEvent>, Vec<ImportedEvent>)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for event in parsed.events {
        let entry = series.entry(event.uid.clone()).or_insert_with(|| {
            order.push(event.uid.clone());
            (None, Vec::new())
        });
        if event.recurrence_id.is_some() {
            entry.1.push(event);
            continue;
        }
        // A stream (iTIP mail archive) may carry several versions of one event:
        // the highest SEQUENCE, then the latest DTSTAMP (RFC 5546 §2.1.5), then
        // the latest LAST-MODIFIED, wins.
        let newer = |a: &ImportedEvent, b: &ImportedEvent| {
            (a.sequence, a.dtstamp, a.last_modified) > (b.sequence, b.dtstamp, b.last_modified)
        };
        match entry.0.take() {
            Some(kept) if !newer(&event, &kept) => {
                report.warnings.push(WarningView {
                    line: event.line,
                    message: format!(
                        "an older version of event {:?}; the newer one is kept",
                        event.uid
                    ),
                });
                entry.0 = Some(kept);
            }
            Some(kept) => {
                report.warnings.push(WarningView {
                    line: kept.line,
                    message: format!(
                        "an older version of event {:?}; the newer one is kept",
                        kept.uid
                    ),
                });
                entry.0 = Some(event);
            }
            None => entry.0 = Some(event),
        }
    }
    // Where a to-be-confirmed placeholder can go back to: the destination plan's
    // periods by the day a feed places their TBC activities on.
    let periods: Vec<(i64, NaiveDate)> = plans::get(conn, to.plan_id)?
        .periods
        .iter()
        .filter_map(|p| Some((p.id, p.starts_on.or(p.ends_on)?)))
        .collect();
    let mut cancellations = Vec::new();
    let mut stored_overrides = Vec::new();
    for uid in order {
        let (master, overrides) = series.remove(&uid).expect("grouped above");
        let units: Vec<(String, ImportedEvent, Vec<ImportedEvent>)> = match master {
            Some(master) => vec![(uid.clone(), master, overrides)],
            None => {
                // A cancelled instance of a series imported earlier cancels that
                // occurrence of it (RFC 5545 §3.8.1.11 STATUS, §3.8.4.4
                // RECURRENCE-ID), as a METHOD:CANCEL for it would.
                let stored = activities::find_external(conn, to.organisation_id, &uid)?
                    .is_some_and(|a| a.recurrence_rule.is_some());
                let (cancelled, overrides): (Vec<_>, Vec<_>) = overrides
                    .into_iter()
                    .partition(|o| stored && o.status == Some(Status::Cancelled));
                cancellations.extend(cancelled.into_iter().map(|o| Cancellation {
                    uid: o.uid,
                    sequence: o.sequence,
                    dtstamp: o.dtstamp,
                    recurrence_id: o.recurrence_id,
                    line: o.line,
                }));
                // Other overrides of a series imported earlier change that
                // occurrence of it (moved, renamed); of a series never imported,
                // they stand alone.
                let (of_stored, standalone): (Vec<_>, Vec<_>) =
                    overrides.into_iter().partition(|_| stored);
                stored_overrides.extend(of_stored);
                standalone
                    .into_iter()
                    .map(|o| (standalone_uid(&o), o, Vec::new()))
                    .collect()
            }
        };
        for (external_uid, event, overrides) in units {
            let line = event.line;
            // RANGE=THISANDFUTURE changes every later occurrence too, which a
            // series with per-occurrence exceptions cannot hold: refused
            // clearly (never applied to one occurrence only, which would
            // publish the later ones wrong).
            let (overrides, this_and_future): (Vec<_>, Vec<_>) = overrides
                .into_iter()
                .partition(|o| !o.recurrence_id.is_some_and(|r| r.this_and_future));
            for o in this_and_future {
                let reason = "RECURRENCE-ID;RANGE=THISANDFUTURE (this and every later \
                              occurrence) is not supported; the series is kept without this \
                              change: have the partner split the series (end it with UNTIL and \
                              start a new one), as RFC 5545 §3.8.4.4 clients do"
                    .to_owned();
                if strictness == Strictness::Strict {
                    return Err(Error::invalid(format!("line {}", o.line), reason));
                }
                report.record(o.line, Some(&o.uid), Outcome::Skipped, Some(reason));
            }
            // Everything that can refuse the event is decided before any write,
            // so an event is written whole or not at all.
            let valid = to_input(&event, &overrides, to, &periods, &mut report.warnings)
                .and_then(|input| input.validate().map_err(|e| e.to_string()));
            match valid {
                Ok(valid) => {
                    let hash = content_hash(&event, &overrides);
                    upsert(
                        conn,
                        cx,
                        &external_uid,
                        &event,
                        &hash,
                        valid,
                        to,
                        &mut report,
                    )?
                }
                Err(reason) if strictness == Strictness::Strict => {
                    return Err(Error::invalid(
                        format!("line {line}"),
                        format!("event {:?} cannot be imported: {reason}", event.uid),
                    ));
                }
                Err(reason) => {
                    report.record(line, Some(&event.uid), Outcome::Skipped, Some(reason));
                }
            }
        }
    }
    for o in &stored_overrides {
        apply_override(conn, cx, o, to, strictness, &mut report)?;
    }
    // After the events: a stream may carry an event and, later, its cancellation.
    cancellations.extend(parsed.cancellations);
    for cancellation in &cancellations {
        cancel(conn, cx, cancellation, to, strictness, &mut report)?;
    }
    report.warnings.sort_by_key(|w| w.line);
    report.events.sort_by_key(|e| e.line);
    Ok(report)
}

/// Applies a METHOD:CANCEL VEVENT (RFC 5546 §3.2.5) to the event imported earlier
/// from the same partner: the whole event becomes cancelled, or, with a
/// RECURRENCE-ID, that occurrence of the series (an EXDATE from then on). An
/// instance imported on its own (its series was never in a file) is cancelled
/// whole. A cancellation with a lower SEQUENCE than the event's is out of date
/// (RFC 5546 §2.1.5) and changes nothing.
fn cancel(
    conn: &mut DbConnection,
    cx: &Context,
    c: &Cancellation,
    to: &Destination,
    strictness: Strictness,
    report: &mut ImportReport,
) -> Result<()> {
    let refuse = |report: &mut ImportReport, reason: String| {
        if strictness == Strictness::Strict {
            return Err(Error::invalid(format!("line {}", c.line), reason));
        }
        report.record(c.line, Some(&c.uid), Outcome::Skipped, Some(reason));
        Ok(())
    };
    let own = match c.recurrence_id {
        Some(id) => activities::find_external(
            conn,
            to.organisation_id,
            &standalone_uid_of(&c.uid, id.value),
        )?,
        None => None,
    };
    let (existing, instance) = match own {
        Some(own) => (own, None),
        None => match activities::find_external(conn, to.organisation_id, &c.uid)? {
            Some(series) => (series, c.recurrence_id),
            None => {
                return refuse(
                    report,
                    format!(
                        "METHOD:CANCEL for {:?}, which was not imported from this partner: \
                         nothing to cancel",
                        c.uid
                    ),
                );
            }
        },
    };
    if instance.is_some_and(|id| id.this_and_future) {
        return refuse(
            report,
            "a cancellation with RECURRENCE-ID;RANGE=THISANDFUTURE (this and every later \
             occurrence) is not supported; the series is kept as it was: have the partner end \
             the series with UNTIL (RFC 5545 §3.8.4.4)"
                .into(),
        );
    }
    let (stored_sequence, last_modified) = activities::external_version(conn, existing.id)?;
    let sequence = c.sequence.min(i32::MAX as u32) as i32;
    if let Some(stored) = stored_sequence
        && sequence < stored
    {
        report.record(
            c.line,
            Some(&c.uid),
            Outcome::Unchanged,
            Some(format!(
                "the cancellation has SEQUENCE {sequence}, older than the {stored} held \
                 (RFC 5546 §2.1.5); not applied"
            )),
        );
        return Ok(());
    }
    // At equal SEQUENCE the later DTSTAMP wins (RFC 5546 §2.1.5).
    let stored_stamp = activities::import_fingerprint(conn, existing.id)?.and_then(|f| f.dtstamp);
    if stored_sequence == Some(sequence)
        && let (Some(stored), Some(stamp)) = (stored_stamp, c.dtstamp)
        && stamp < stored
    {
        report.record(
            c.line,
            Some(&c.uid),
            Outcome::Unchanged,
            Some(format!(
                "the cancellation has the event's SEQUENCE {sequence} and an older DTSTAMP \
                 (RFC 5546 §2.1.5); not applied"
            )),
        );
        return Ok(());
    }
    let mut valid = as_valid(&existing);
    let what = match instance {
        None => {
            if valid.status == ActivityStatus::Cancelled {
                report.record(
                    c.line,
                    Some(&c.uid),
                    Outcome::Unchanged,
                    Some("already cancelled".into()),
                );
                return Ok(());
            }
            valid.status = ActivityStatus::Cancelled;
            "the event".to_owned()
        }
        Some(id) => {
            let zone = valid.timing.zone().unwrap_or(Zone::from(chrono_tz::UTC));
            let key = occurrence_key(id.value, zone);
            let recurs = valid
                .recurrence
                .as_ref()
                .is_some_and(|r| r.has_occurrence(&valid.timing, key));
            if !recurs {
                return refuse(
                    report,
                    format!(
                        "METHOD:CANCEL names the occurrence {key} of {:?}, which is not an \
                         occurrence of that event",
                        c.uid
                    ),
                );
            }
            let cancelled = Exception::cancelled(key);
            if valid.exceptions.contains(&cancelled) {
                report.record(
                    c.line,
                    Some(&c.uid),
                    Outcome::Unchanged,
                    Some(format!("the occurrence {key} is already cancelled")),
                );
                return Ok(());
            }
            valid.exceptions.retain(|e| e.key != key);
            valid.exceptions.push(cancelled);
            valid.exceptions.sort_by_key(|e| e.key);
            format!("the occurrence {key}")
        }
    };
    write_series_change(
        conn,
        cx,
        to,
        &existing,
        &valid,
        stored_sequence.map_or(sequence, |s| s.max(sequence)),
        last_modified,
    )?;
    report.record(
        c.line,
        Some(&c.uid),
        Outcome::Updated,
        Some(format!("METHOD:CANCEL: {what} is cancelled")),
    );
    Ok(())
}

/// Applies an override (RECURRENCE-ID instance, RFC 5545 §3.8.4.4) whose series
/// is not in the file but was imported earlier from the same partner: that
/// occurrence of the stored series is moved and/or takes the instance's text.
/// Versions are ordered as for a cancellation (RFC 5546 §2.1.5).
fn apply_override(
    conn: &mut DbConnection,
    cx: &Context,
    o: &ImportedEvent,
    to: &Destination,
    strictness: Strictness,
    report: &mut ImportReport,
) -> Result<()> {
    let refuse = |report: &mut ImportReport, reason: String| {
        if strictness == Strictness::Strict {
            return Err(Error::invalid(format!("line {}", o.line), reason));
        }
        report.record(o.line, Some(&o.uid), Outcome::Skipped, Some(reason));
        Ok(())
    };
    let Some(id) = o.recurrence_id else {
        return Ok(());
    };
    if id.this_and_future {
        return refuse(
            report,
            "RECURRENCE-ID;RANGE=THISANDFUTURE (this and every later occurrence) is not \
             supported; the series is kept without this change (RFC 5545 §3.8.4.4)"
                .into(),
        );
    }
    let Some(existing) = activities::find_external(conn, to.organisation_id, &o.uid)? else {
        return Ok(());
    };
    let (stored_sequence, last_modified) = activities::external_version(conn, existing.id)?;
    let sequence = o.sequence.min(i32::MAX as u32) as i32;
    if let Some(stored) = stored_sequence
        && sequence < stored
    {
        report.record(
            o.line,
            Some(&o.uid),
            Outcome::Unchanged,
            Some(format!(
                "the override has SEQUENCE {sequence}, older than the {stored} held \
                 (RFC 5546 §2.1.5); not applied"
            )),
        );
        return Ok(());
    }
    let mut valid = as_valid(&existing);
    let Some(recurrence) = valid.recurrence.clone() else {
        return Ok(());
    };
    let zone = valid.timing.zone().unwrap_or(Zone::from(chrono_tz::UTC));
    let key = occurrence_key(id.value, zone);
    if !recurrence.has_occurrence(&valid.timing, key) {
        return refuse(
            report,
            format!(
                "the override names the occurrence {key} of {:?}, which is not an occurrence \
                 of the series imported earlier",
                o.uid
            ),
        );
    }
    let series_text = valid.translations.get(&to.lang).cloned();
    let master = MasterText {
        summary: series_text.as_ref().map(|t| t.title.as_str()),
        description: series_text.as_ref().and_then(|t| t.description.as_deref()),
        location: valid.place.name.as_deref(),
    };
    let mut warnings = Vec::new();
    let input = override_input(o, key, &master, &valid.timing, to.lang, &mut |m| {
        warnings.push(m)
    });
    report
        .warnings
        .extend(warnings.into_iter().map(|message| WarningView {
            line: o.line,
            message,
        }));
    let field = format!("line {}", o.line);
    let exception = match input.validate(&recurrence, &valid.timing, &field) {
        Ok(e) => e,
        Err(e) => return refuse(report, e.to_string()),
    };
    if valid.exceptions.contains(&exception) {
        report.record(
            o.line,
            Some(&o.uid),
            Outcome::Unchanged,
            Some(format!("the occurrence {key} already says this")),
        );
        return Ok(());
    }
    valid.exceptions.retain(|e| e.key != key);
    valid.exceptions.push(exception);
    valid.exceptions.sort_by_key(|e| e.key);
    write_series_change(
        conn,
        cx,
        to,
        &existing,
        &valid,
        stored_sequence.map_or(sequence, |s| s.max(sequence)),
        last_modified,
    )?;
    report.record(
        o.line,
        Some(&o.uid),
        Outcome::Updated,
        Some(format!(
            "the occurrence {key} of the series imported earlier is changed"
        )),
    );
    Ok(())
}

/// The stored activity as it would be written again.
/// Writes a stored series that an imported cancellation or override changed,
/// and keeps the newest SEQUENCE seen of it (an older one is never applied).
#[allow(clippy::too_many_arguments)]
fn write_series_change(
    conn: &mut DbConnection,
    cx: &Context,
    to: &Destination,
    existing: &Activity,
    valid: &ValidActivity,
    sequence: i32,
    last_modified: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<()> {
    records::update_by::<Activities>(conn, cx, existing.id, |conn| {
        activities::update(conn, existing.id, existing.version, valid, cx.now)
    })?;
    activities::set_external_version(
        conn,
        existing.id,
        &ExternalSource {
            organisation_id: Some(to.organisation_id),
            uid: existing.external_uid.clone(),
            sequence: Some(sequence),
            last_modified,
            publish_uid: None,
        },
    )?;
    activities::raise_sequence(conn, existing.id, sequence)?;
    Ok(())
}

pub(crate) fn as_valid(a: &Activity) -> ValidActivity {
    ValidActivity {
        plan_id: a.plan_id,
        period_id: a.period_id,
        campaign_id: a.campaign_id,
        kind: a.kind,
        status: a.status,
        visibility: a.visibility,
        owner_person_id: a.owner_person_id,
        owner_organisation_id: a.owner_organisation_id,
        timing: a.timing.clone(),
        recurrence: a.recurrence_rule.clone(),
        exceptions: a.exceptions.clone(),
        place: a.place.clone(),
        actual: a.actual.as_ref().map(|v| (v.start, v.end)),
        channel_ids: a.channel_ids.clone(),
        partners: a.partners.clone(),
        translations: a.translations.clone(),
        post_variants: a.post_variants.clone(),
    }
}

fn standalone_uid(event: &ImportedEvent) -> String {
    match event.recurrence_id {
        Some(id) => standalone_uid_of(&event.uid, id.value),
        None => format!("{}#", event.uid),
    }
}

fn standalone_uid_of(uid: &str, id: EventDate) -> String {
    let id = match id {
        EventDate::Date(d) => d.to_string(),
        EventDate::DateTime(t) => t.format("%Y%m%dT%H%M%SZ").to_string(),
    };
    format!("{uid}#{id}")
}

/// One version of an imported event, as RFC 5546 §2.1.5 orders versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Version {
    pub sequence: Option<i32>,
    pub last_modified: Option<DateTime<Utc>>,
    pub dtstamp: Option<DateTime<Utc>>,
    /// [`content_hash`] of what the event says; `None` when not known (events
    /// imported before it was recorded).
    pub content_hash: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Update,
    /// Kept as stored, with the reason.
    Unchanged(&'static str),
}

/// Does the file's version of an event replace the stored one? RFC 5546 §2.1.5:
/// a higher SEQUENCE wins; at equal SEQUENCE the later DTSTAMP wins (and the
/// later LAST-MODIFIED, which publishing clients move instead); with no stamp to
/// tell them apart, the content decides, so that a moved event in a file without
/// SEQUENCE or LAST-MODIFIED is updated, not reported unchanged. An event whose
/// content is the same is unchanged whatever its stamps.
pub fn decide(stored: &Version, incoming: &Version) -> Decision {
    use std::cmp::Ordering::*;
    let sequence = |v: &Version| v.sequence.unwrap_or(0);
    match sequence(incoming).cmp(&sequence(stored)) {
        Greater => return Decision::Update,
        Less => return Decision::Unchanged("the file has an older SEQUENCE"),
        Equal => {}
    }
    let same_content =
        incoming.content_hash.is_some() && incoming.content_hash == stored.content_hash;
    if same_content {
        return Decision::Unchanged("the file says the same");
    }
    let newer = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| match (a, b) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => None,
    };
    for (name, order) in [
        (
            "LAST-MODIFIED",
            newer(incoming.last_modified, stored.last_modified),
        ),
        ("DTSTAMP", newer(incoming.dtstamp, stored.dtstamp)),
    ] {
        match order {
            Some(Greater) => return Decision::Update,
            Some(Less) => {
                return Decision::Unchanged(if name == "DTSTAMP" {
                    "same SEQUENCE and an older DTSTAMP"
                } else {
                    "same SEQUENCE and an older LAST-MODIFIED"
                });
            }
            _ => {}
        }
    }
    Decision::Update
}

/// A hash of what an event (with its overrides) says, leaving out what only
/// versions it (SEQUENCE, DTSTAMP, LAST-MODIFIED) and where it sits in the file.
pub fn content_hash(event: &ImportedEvent, overrides: &[ImportedEvent]) -> String {
    use sha2::{Digest, Sha256};
    let clean = |e: &ImportedEvent| {
        let mut e = e.clone();
        e.sequence = 0;
        e.dtstamp = None;
        e.last_modified = None;
        e.line = 0;
        e
    };
    let mut parts: Vec<ImportedEvent> = overrides.iter().map(clean).collect();
    parts.sort_by_key(|o| serde_json::to_string(&o.recurrence_id).unwrap_or_default());
    parts.insert(0, clean(event));
    let bytes = serde_json::to_vec(&parts).expect("events serialize");
    hex::encode(Sha256::digest(&bytes))
}

#[allow(clippy::too_many_arguments)]
fn upsert(
    conn: &mut DbConnection,
    cx: &Context,
    external_uid: &str,
    event: &ImportedEvent,
    content_hash: &str,
    valid: ValidActivity,
    to: &Destination,
    report: &mut ImportReport,
) -> Result<()> {
    let source = ExternalSource {
        organisation_id: Some(to.organisation_id),
        uid: Some(external_uid.to_owned()),
        sequence: Some(event.sequence.min(i32::MAX as u32) as i32),
        last_modified: event.last_modified,
        // An imported event keeps its UID where it is free (a standalone
        // override, published apart from its series, gets one of its own).
        publish_uid: (external_uid == event.uid).then(|| event.uid.clone()),
    };
    let file_sequence = source.sequence.unwrap_or(0);
    let incoming = Version {
        sequence: source.sequence,
        last_modified: event.last_modified,
        dtstamp: event.dtstamp,
        content_hash: Some(content_hash.to_owned()),
    };
    let fingerprint = ImportFingerprint {
        dtstamp: event.dtstamp,
        content_hash: content_hash.to_owned(),
    };
    match activities::find_external(conn, to.organisation_id, external_uid)? {
        None => {
            // Through the same operation as a hand edit: history, review, effects.
            let created = records::create_by::<Activities>(conn, cx, |c| {
                activities::create_with_source(c, &valid, &source, cx.now)
            })?;
            activities::set_import_fingerprint(conn, created.id, &fingerprint)?;
            activities::set_external_categories(conn, created.id, &event.categories)?;
            report.record(event.line, Some(&event.uid), Outcome::Created, None);
        }
        Some(existing) => {
            let (sequence, last_modified) = activities::external_version(conn, existing.id)?;
            let stored_fingerprint = activities::import_fingerprint(conn, existing.id)?;
            let stored = Version {
                sequence,
                last_modified,
                dtstamp: stored_fingerprint.as_ref().and_then(|f| f.dtstamp),
                content_hash: stored_fingerprint.map(|f| f.content_hash),
            };
            match decide(&stored, &incoming) {
                Decision::Update => {
                    // As a hand edit: those invited get the update.
                    records::update_by::<Activities>(conn, cx, existing.id, |c| {
                        activities::update(c, existing.id, existing.version, &valid, cx.now)
                    })?;
                    activities::set_external_version(conn, existing.id, &source)?;
                    activities::set_import_fingerprint(conn, existing.id, &fingerprint)?;
                    activities::set_external_categories(conn, existing.id, &event.categories)?;
                    // Never below the partner's SEQUENCE (RFC 5546 §2.1.5).
                    activities::raise_sequence(conn, existing.id, file_sequence)?;
                    report.record(event.line, Some(&event.uid), Outcome::Updated, None);
                }
                Decision::Unchanged(reason) => {
                    report.record(
                        event.line,
                        Some(&event.uid),
                        Outcome::Unchanged,
                        Some(reason.into()),
                    );
                }
            }
        }
    }
    Ok(())
}

/// The activity an imported event becomes; `Err` says why it cannot be.
fn to_input(
    event: &ImportedEvent,
    overrides: &[ImportedEvent],
    to: &Destination,
    periods: &[(i64, NaiveDate)],
    warnings: &mut Vec<WarningView>,
) -> std::result::Result<ActivityInput, String> {
    let mut warn = |message: String| {
        warnings.push(WarningView {
            line: event.line,
            message,
        })
    };
    // The text is stored in the language the file says it is in (RFC 5545
    // §3.2.10 LANGUAGE) when the plan has it, else in the import's.
    let lang = event
        .language
        .as_deref()
        .and_then(language_of)
        .unwrap_or(to.lang);
    let placeholder = placeholder_of(event, periods, &mut warn);
    let (timing_input, zone) = match &placeholder {
        Some(p) => (p.timing.clone(), Zone::from(chrono_tz::UTC)),
        None => timing_of(&event.time),
    };
    if let ImportedTime::Timed { tz: Some(tz), .. } = event.time
        && zone.tz() != tz
    {
        warn(format!(
            "{:?} is at the second of two equal wall-clock times in {} (a daylight-saving \
             change repeats it), which a TZID cannot say; kept in UTC",
            event.uid,
            tz.name()
        ));
    }
    let timing = Timing::try_from(timing_input.clone()).map_err(|e| e.to_string())?;
    // A series: an RRULE, or RDATEs alone (RFC 5545 §3.8.5.2: the recurrence set
    // is DTSTART and the RDATE values; no rule is needed).
    let recurrence = match (&event.rrule, event.rdates.is_empty()) {
        (None, true) => None,
        (rule, _) => 'series: {
            let recurrence = match rule {
                Some(rule) => Some(Recurrence::parse(rule, &timing).map_err(|e| e.to_string())?),
                None => None,
            };
            // RDATE (RFC 5545 §3.8.5.2): extra starts of the series. A PERIOD
            // value says its own end too: an occurrence of another length is an
            // RDATE with that occurrence changed.
            let mut exceptions = Vec::new();
            let mut rdates = Vec::new();
            for rdate in &event.rdates {
                match (*rdate, &timing) {
                    (RecurrenceDate::Date(d), Timing::Days { .. }) => {
                        rdates.push(OccurrenceKey::Date(d));
                    }
                    (RecurrenceDate::DateTime(t), Timing::Exact { .. }) => {
                        rdates.push(occurrence_key(EventDate::DateTime(t), zone));
                    }
                    (RecurrenceDate::Period { start, end }, Timing::Exact { .. }) => {
                        let key = occurrence_key(EventDate::DateTime(start), zone);
                        rdates.push(key);
                        let length = timing.instants().map(|(s, e)| e - s);
                        if length != Some(end - start) {
                            let (moved, _) = timing_of(&ImportedTime::Timed {
                                start,
                                end,
                                tz: Some(zone.tz()),
                            });
                            exceptions.push(ExceptionInput {
                                occurrence: key,
                                cancelled: false,
                                timing: Some(moved),
                                translations: Translations::new(),
                                location: None,
                            });
                        }
                    }
                    (other, _) => warn(format!(
                        "RDATE {} is not of the kind of the series' DTSTART (RFC 5545 \
                         §3.8.5.2: a date for a whole-day series, a date-time otherwise); \
                         ignored",
                        match other {
                            RecurrenceDate::Date(d) => d.to_string(),
                            RecurrenceDate::DateTime(t) => t.to_rfc3339(),
                            RecurrenceDate::Period { start, end } =>
                                format!("{}/{}", start.to_rfc3339(), end.to_rfc3339()),
                        }
                    )),
                }
            }
            let recurrence = match recurrence {
                Some(recurrence) => recurrence.with_rdates(&rdates, &timing, "RDATE"),
                // Every RDATE of a rule-less series was of the wrong kind (warned
                // above): only DTSTART is left.
                None if rdates.is_empty() => break 'series None,
                None => Recurrence::dates_only(&rdates, &timing, "RDATE"),
            }
            .map_err(|e| e.to_string())?;
            for exdate in &event.exdates {
                let key = occurrence_key(*exdate, zone);
                if !recurrence.has_occurrence(&timing, key) {
                    warn(format!(
                        "EXDATE {key} is not an occurrence of the series; ignored"
                    ));
                    continue;
                }
                if !exceptions
                    .iter()
                    .any(|e: &ExceptionInput| e.occurrence == key)
                {
                    exceptions.push(ExceptionInput {
                        occurrence: key,
                        cancelled: true,
                        timing: None,
                        translations: Translations::new(),
                        location: None,
                    });
                }
            }
            for o in overrides {
                let Some(id) = o.recurrence_id else { continue };
                let key = occurrence_key(id.value, zone);
                if !recurrence.has_occurrence(&timing, key) {
                    warn(format!(
                        "override of {key} is not an occurrence of the series; ignored"
                    ));
                    continue;
                }
                exceptions.retain(|e: &ExceptionInput| e.occurrence != key);
                let master = MasterText {
                    summary: event.summary.as_deref(),
                    description: event.description.as_deref(),
                    location: event.location.as_deref(),
                };
                exceptions.push(override_input(o, key, &master, &timing, lang, &mut warn));
            }
            Some(RecurrenceInput {
                rule: recurrence.rule().to_owned(),
                rdates: recurrence.rdates().to_vec(),
                exceptions,
            })
        }
    };
    let (summary, description) = match &placeholder {
        Some(p) => (Some(p.read.title.as_str()), p.read.description.as_deref()),
        None => (event.summary.as_deref(), event.description.as_deref()),
    };
    let title = bounded::<300>(summary, "SUMMARY", &mut warn)
        .unwrap_or_else(|| Title::parse("(untitled)").expect("valid title"));
    let description = bounded::<10000>(description, "DESCRIPTION", &mut warn);
    let place_name = bounded::<200>(event.location.as_deref(), "LOCATION", &mut warn);
    let url = event.url.as_deref().and_then(|u| WebUrl::parse(u).ok());
    let mut translations = Translations::new();
    translations.insert(lang, TranslationInput { title, description });
    Ok(ActivityInput {
        plan_id: to.plan_id,
        period_id: placeholder.as_ref().and_then(|p| p.period_id),
        campaign_id: None,
        kind: ActivityKind::External,
        status: match event.status {
            Some(Status::Tentative) => ActivityStatus::Tentative,
            Some(Status::Cancelled) => ActivityStatus::Cancelled,
            Some(Status::Confirmed) => ActivityStatus::Confirmed,
            // No STATUS says nothing either way: planned, which feeds publish
            // without STATUS (the inverse of publishing).
            None => ActivityStatus::Planned,
        },
        visibility: Some(to.visibility),
        owner_person_id: None,
        owner_organisation_id: Some(to.organisation_id),
        timing: timing_input,
        recurrence,
        place: (place_name.is_some() || url.is_some()).then(|| PlaceInput {
            name: place_name.map(|n| Name::parse(n.as_str()).expect("bounded to 200")),
            address: None,
            url,
        }),
        actual: None,
        channel_ids: Vec::new(),
        partners: Vec::new(),
        translations,
        post_variants: Vec::new(),
        version: None,
    })
}

/// A language tag's primary subtag as one of the plan's languages (`en-GB` → en).
fn language_of(tag: &str) -> Option<Language> {
    let primary = tag.split(['-', '_']).next()?.trim().to_ascii_lowercase();
    primary.parse().ok()
}

/// A month or to-be-confirmed placeholder, as Pregón's feeds write one, read
/// back as what it stands for.
struct PlaceholderRead {
    timing: TimingInput,
    period_id: Option<i64>,
    read: feed::ReadPlaceholder,
}

/// Feeds publish an activity known only to the month, or whose date is to be
/// confirmed, as a transparent, tentative, one-day all-day event whose summary
/// and description carry a note (`crate::calendar::feed`). Such an event is
/// imported as that month, or as to be confirmed in the destination plan's
/// period that starts on its day, with the note taken off its text, so that it
/// is published again as it came. A TBC placeholder whose day starts no period
/// of the plan is an ordinary one-day event (with a warning).
fn placeholder_of(
    event: &ImportedEvent,
    periods: &[(i64, NaiveDate)],
    warn: &mut impl FnMut(String),
) -> Option<PlaceholderRead> {
    let ImportedTime::AllDay {
        start,
        end_exclusive,
    } = event.time
    else {
        return None;
    };
    let shaped = event.transparent
        && event.status == Some(Status::Tentative)
        && event.rrule.is_none()
        && event.rdates.is_empty()
        && event.recurrence_id.is_none()
        && start.succ_opt() == Some(end_exclusive);
    if !shaped {
        return None;
    }
    let read = feed::read_placeholder(
        event.summary.as_deref()?,
        event.description.as_deref(),
        start,
    )?;
    let blank = TimingInput {
        precision: Precision::Tbc,
        start: None,
        end: None,
        time_zone: None,
        month: None,
    };
    match read.month {
        Some(first) => Some(PlaceholderRead {
            timing: TimingInput {
                precision: Precision::Month,
                month: YearMonth::new(first.year(), first.month()),
                ..blank
            },
            period_id: None,
            read,
        }),
        None => match periods.iter().find(|(_, day)| *day == start) {
            Some((id, _)) => Some(PlaceholderRead {
                timing: blank,
                period_id: Some(*id),
                read,
            }),
            None => {
                warn(format!(
                    "{:?} is a date-to-be-confirmed placeholder on {start}, but no period of                      the plan starts that day; imported as a one-day event",
                    event.uid
                ));
                None
            }
        },
    }
}

/// What the series says, to which an override's text is compared.
struct MasterText<'a> {
    summary: Option<&'a str>,
    description: Option<&'a str>,
    location: Option<&'a str>,
}

/// The exception an override (a RECURRENCE-ID instance) makes of occurrence
/// `key`: cancelled, or at its own time with whatever text differs from the
/// series' (RFC 5545 §3.8.4.4: the instance carries the properties it changes).
/// Changed SUMMARY or DESCRIPTION become the occurrence's translation in the
/// instance's LANGUAGE, else the partner's (both, as the instance says them); a
/// changed LOCATION its place name.
fn override_input(
    o: &ImportedEvent,
    key: OccurrenceKey,
    master: &MasterText<'_>,
    timing: &Timing,
    lang: Language,
    warn: &mut impl FnMut(String),
) -> ExceptionInput {
    let cancelled = o.status == Some(Status::Cancelled);
    // Its own LANGUAGE when it says one (RFC 5545 §3.2.10): a feed labels an
    // occurrence's text with the language it is in, which may not be the
    // series'.
    let lang = o.language.as_deref().and_then(language_of).unwrap_or(lang);
    let (moved, _) = timing_of(&o.time);
    let same_kind = moved.precision == timing.precision();
    let mut translations = Translations::new();
    let mut location = None;
    if !cancelled && same_kind {
        let clean = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        if clean(o.summary.as_deref()) != clean(master.summary)
            || clean(o.description.as_deref()) != clean(master.description)
        {
            let title = bounded::<300>(o.summary.as_deref(), "SUMMARY", warn)
                .or_else(|| bounded::<300>(master.summary, "SUMMARY", &mut |_| {}))
                .unwrap_or_else(|| Title::parse("(untitled)").expect("valid title"));
            let description = bounded::<10000>(o.description.as_deref(), "DESCRIPTION", warn);
            translations.insert(lang, TranslationInput { title, description });
        }
        if clean(o.location.as_deref()) != clean(master.location) {
            match bounded::<200>(o.location.as_deref(), "LOCATION", warn) {
                Some(name) => {
                    location = Some(Name::parse(name.as_str()).expect("bounded to 200"));
                }
                None => warn(format!(
                    "the override of {key} has no LOCATION while its series has one; the \
                     series' is kept for it"
                )),
            }
        }
    }
    ExceptionInput {
        occurrence: key,
        cancelled: cancelled || !same_kind,
        timing: (!cancelled && same_kind).then_some(moved),
        translations,
        location,
    }
}

/// Text cut to the model's limit (with a warning), or None when empty.
fn bounded<const MAX: usize>(
    value: Option<&str>,
    property: &str,
    warn: &mut impl FnMut(String),
) -> Option<Text<MAX>> {
    let value = value?.trim();
    if value.is_empty() {
        return None;
    }
    let cleaned: String = value
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                ' '
            } else {
                c
            }
        })
        .collect();
    let text = if cleaned.chars().count() > MAX {
        warn(format!("{property} is longer than {MAX} characters; cut"));
        cleaned.chars().take(MAX).collect::<String>()
    } else {
        cleaned
    };
    Text::parse(&text).ok()
}

/// The activity timing of an imported time, and the zone its occurrences are
/// identified in.
fn timing_of(time: &ImportedTime) -> (TimingInput, Zone) {
    match *time {
        ImportedTime::Timed { start, end, tz } => {
            let zone = Zone::from(tz.unwrap_or(chrono_tz::UTC));
            // The second instance of a time a DST change repeats cannot be
            // published with TZID (RFC 5545 §3.3.5 reads it as the first): such
            // an event is kept in UTC, where its instants are exact.
            let zone = if second_of_repeated(zone, start) || second_of_repeated(zone, end) {
                Zone::from(chrono_tz::UTC)
            } else {
                zone
            };
            // With the offset, so that a time a DST change repeats says which
            // instant it is (the file's times are instants).
            let local = |t: DateTime<Utc>| -> String {
                let zoned = t.with_timezone(&zone.tz());
                let text = zoned.format("%Y-%m-%dT%H:%M:%S").to_string();
                match zone.tz().from_local_datetime(&zoned.naive_local()) {
                    LocalResult::Ambiguous(..) => format!("{text}{}", zoned.offset().fix()),
                    _ => text,
                }
            };
            // A zero-length event (RFC 5545 allows DTEND = DTSTART) gets one minute
            // here: the plan's model needs an end after the start.
            let end = if end <= start {
                start + TimeDelta::minutes(1)
            } else {
                end
            };
            (
                TimingInput {
                    precision: Precision::Exact,
                    start: Some(local(start)),
                    end: Some(local(end)),
                    time_zone: Some(zone),
                    month: None,
                },
                zone,
            )
        }
        ImportedTime::AllDay {
            start,
            end_exclusive,
        } => {
            let last = end_exclusive
                .pred_opt()
                .filter(|d| *d >= start)
                .unwrap_or(start);
            (
                TimingInput {
                    precision: Precision::Days,
                    start: Some(start.to_string()),
                    end: Some(last.to_string()),
                    time_zone: None,
                    month: None,
                },
                Zone::from(chrono_tz::UTC),
            )
        }
    }
}

/// Is `t` the later of the two instants a DST change gives its wall-clock time?
fn second_of_repeated(zone: Zone, t: DateTime<Utc>) -> bool {
    let local = t.with_timezone(&zone.tz()).naive_local();
    matches!(
        zone.tz().from_local_datetime(&local),
        LocalResult::Ambiguous(_, later) if later.with_timezone(&Utc) == t
    )
}

fn occurrence_key(date: EventDate, zone: Zone) -> OccurrenceKey {
    match date {
        EventDate::Date(d) => OccurrenceKey::Date(d),
        EventDate::DateTime(t) => {
            let local: NaiveDateTime = t.with_timezone(&zone.tz()).naive_local();
            OccurrenceKey::DateTime(local)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(2020, 1, day, 0, 0, 0).unwrap())
    }

    fn version(
        sequence: i32,
        last_modified: Option<DateTime<Utc>>,
        dtstamp: Option<DateTime<Utc>>,
        content: &str,
    ) -> Version {
        Version {
            sequence: Some(sequence),
            last_modified,
            dtstamp,
            content_hash: Some(content.into()),
        }
    }

    #[test]
    fn versions_are_ordered_as_rfc_5546_says() {
        let stored = version(1, at(3), at(3), "a");
        // RFC 5546 §2.1.5: a higher SEQUENCE wins, a lower one loses.
        assert_eq!(
            decide(&stored, &version(2, None, None, "b")),
            Decision::Update
        );
        assert!(matches!(
            decide(&stored, &version(0, at(9), at(9), "b")),
            Decision::Unchanged(_)
        ));
        // Equal SEQUENCE: the later DTSTAMP wins (an iTIP update that keeps
        // SEQUENCE and LAST-MODIFIED but is a newer message).
        assert_eq!(
            decide(&stored, &version(1, at(3), at(4), "b")),
            Decision::Update
        );
        assert!(matches!(
            decide(&stored, &version(1, at(3), None, "b")),
            Decision::Update
        ));
        // ... and the later LAST-MODIFIED; an older one loses.
        assert_eq!(
            decide(&stored, &version(1, at(4), at(2), "b")),
            Decision::Update
        );
        assert!(matches!(
            decide(&stored, &version(1, None, at(2), "b")),
            Decision::Unchanged(_)
        ));
        // The same content is unchanged, whatever the stamps say.
        assert!(matches!(
            decide(&stored, &version(1, at(5), at(5), "a")),
            Decision::Unchanged(_)
        ));
        // Neither SEQUENCE nor stamps: the content decides.
        let bare = |c: &str| Version {
            content_hash: Some(c.into()),
            ..Version::default()
        };
        assert_eq!(decide(&bare("a"), &bare("moved")), Decision::Update);
        assert!(matches!(
            decide(&bare("a"), &bare("a")),
            Decision::Unchanged(_)
        ));
        // Imported before content was recorded: taken as changed.
        let unknown = Version {
            content_hash: None,
            ..Version::default()
        };
        assert_eq!(decide(&unknown, &bare("a")), Decision::Update);
    }
}
