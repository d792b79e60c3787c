//! Activities and everything hanging off them (translations, channels, partners,
//! recurrence exceptions, post variants). Times are stored in UTC beside the
//! activity's own zone; whole-day and month timings as dates.

use super::schema::{
    activities, activity_channels, activity_exception_translations, activity_exceptions,
    activity_occurrences, activity_partners, activity_spans, activity_translations, participations,
    people, post_variants,
};
use super::{
    DbConnection, Page, PageRequest, campaigns, channels, organisations, parse_stored, plans,
    require_ref, utc,
};
use crate::domain::activity::{
    Activity, ActivityKind, ActivityStatus, ActualView, OccurrenceView, ParticipantView, Partner,
    Place, PostVariant, RecurrenceView, ValidActivity, Visibility,
};
use crate::domain::campaign::Translation;
use crate::domain::language::{Language, Translations};
use crate::domain::recurrence::{
    Exception, ExceptionChange, OccurrenceKey, OccurrenceText, Recurrence,
};
use crate::domain::timing::{Timing, TimingView, YearMonth};
use crate::domain::zone::Zone;
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::HashMap;

#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = activities)]
struct Row {
    id: i64,
    uid: String,
    plan_id: i64,
    period_id: Option<i64>,
    campaign_id: Option<i64>,
    kind: String,
    status: String,
    visibility: String,
    owner_person_id: Option<i64>,
    owner_organisation_id: Option<i64>,
    time_precision: String,
    starts_at: Option<NaiveDateTime>,
    ends_at: Option<NaiveDateTime>,
    time_zone: Option<String>,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
    rrule: Option<String>,
    place_name: Option<String>,
    place_address: Option<String>,
    place_url: Option<String>,
    actual_start_date: Option<NaiveDate>,
    actual_end_date: Option<NaiveDate>,
    source_organisation_id: Option<i64>,
    external_uid: Option<String>,
    sequence: i32,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    cancelled_at: Option<NaiveDateTime>,
    rdates: Option<String>,
}

/// The timing columns, as stored.
struct TimingColumns {
    precision: &'static str,
    starts_at: Option<NaiveDateTime>,
    ends_at: Option<NaiveDateTime>,
    time_zone: Option<&'static str>,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
}

fn timing_columns(timing: &Timing) -> TimingColumns {
    let (starts_at, ends_at) = match timing.instants() {
        Some((s, e)) => (Some(s.naive_utc()), Some(e.naive_utc())),
        None => (None, None),
    };
    let (start_date, end_date) = match timing.date_range() {
        Some((s, e)) => (Some(s), Some(e)),
        None => (None, None),
    };
    TimingColumns {
        precision: timing.precision().as_str(),
        starts_at,
        ends_at,
        time_zone: timing.zone().map(Zone::name),
        start_date,
        end_date,
    }
}

fn stored_zone(name: &str) -> Result<Zone> {
    name.parse()
        .map_err(|e: String| Error::Internal(anyhow::anyhow!("stored zone: {e}")))
}

fn local(zone: Zone, t: NaiveDateTime) -> NaiveDateTime {
    t.and_utc().with_timezone(&zone.tz()).naive_local()
}

fn timing_from_columns(
    precision: &str,
    starts_at: Option<NaiveDateTime>,
    ends_at: Option<NaiveDateTime>,
    zone: Option<Zone>,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
) -> Result<Timing> {
    let broken = || Error::Internal(anyhow::anyhow!("inconsistent stored timing"));
    Ok(match precision {
        "exact" => {
            let zone = zone.ok_or_else(broken)?;
            Timing::Exact {
                start: local(zone, starts_at.ok_or_else(broken)?),
                end: local(zone, ends_at.ok_or_else(broken)?),
                zone,
            }
        }
        "days" => Timing::Days {
            start: start_date.ok_or_else(broken)?,
            end: end_date.ok_or_else(broken)?,
        },
        "month" => Timing::Month(YearMonth::of(start_date.ok_or_else(broken)?)),
        "tbc" => Timing::ToBeConfirmed,
        _ => return Err(broken()),
    })
}

impl Row {
    fn timing(&self) -> Result<Timing> {
        let zone = self.time_zone.as_deref().map(stored_zone).transpose()?;
        timing_from_columns(
            &self.time_precision,
            self.starts_at,
            self.ends_at,
            zone,
            self.start_date,
            self.end_date,
        )
    }
}

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = activity_exceptions)]
struct ExceptionRow {
    activity_id: i64,
    recurrence_id: String,
    cancelled: bool,
    starts_at: Option<NaiveDateTime>,
    ends_at: Option<NaiveDateTime>,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
    location: Option<String>,
}

/// The exceptions of some activities, each with its own translations.
type ExceptionRows = HashMap<i64, Vec<(ExceptionRow, Translations<Translation>)>>;

impl ExceptionRow {
    fn into_domain(
        self,
        series: &Timing,
        translations: Translations<Translation>,
    ) -> Result<Exception> {
        let key: OccurrenceKey = self
            .recurrence_id
            .parse()
            .map_err(|e: String| Error::Internal(anyhow::anyhow!("stored occurrence: {e}")))?;
        let change = if self.cancelled {
            ExceptionChange::Cancelled
        } else {
            ExceptionChange::Moved(timing_from_columns(
                series.precision().as_str(),
                self.starts_at,
                self.ends_at,
                series.zone(),
                self.start_date,
                self.end_date,
            )?)
        };
        Ok(Exception {
            key,
            change,
            text: OccurrenceText {
                translations,
                location: self.location,
            },
        })
    }
}

/// Checks every reference of the activity against the database.
fn check_references(conn: &mut DbConnection, a: &ValidActivity) -> Result<()> {
    require_ref(plans::exists(conn, a.plan_id)?, "plan_id", a.plan_id)?;
    if let Some(period) = a.period_id
        && !plans::has_period(conn, a.plan_id, period)?
    {
        return Err(Error::invalid(
            "period_id",
            format!("{period} is not a period of plan {}", a.plan_id),
        ));
    }
    if let Some(campaign) = a.campaign_id
        && !campaigns::in_plan(conn, campaign, a.plan_id)?
    {
        return Err(Error::invalid(
            "campaign_id",
            format!("{campaign} is not a campaign of plan {}", a.plan_id),
        ));
    }
    if let Some(person) = a.owner_person_id {
        require_ref(
            super::people::exists(conn, person)?,
            "owner_person_id",
            person,
        )?;
    }
    if let Some(org) = a.owner_organisation_id {
        require_ref(
            organisations::exists(conn, org)?,
            "owner_organisation_id",
            org,
        )?;
    }
    for (i, id) in a.channel_ids.iter().enumerate() {
        require_ref(
            channels::exists(conn, *id)?,
            &format!("channel_ids[{i}]"),
            *id,
        )?;
    }
    for (i, p) in a.partners.iter().enumerate() {
        require_ref(
            organisations::exists(conn, p.organisation_id)?,
            &format!("partners[{i}].organisation_id"),
            p.organisation_id,
        )?;
    }
    Ok(())
}

/// Where an activity comes from when it was imported from a partner's calendar.
#[derive(Debug, Clone, Default)]
pub struct ExternalSource {
    pub organisation_id: Option<i64>,
    pub uid: Option<String>,
    pub sequence: Option<i32>,
    pub last_modified: Option<DateTime<Utc>>,
    /// The UID to publish the new activity under (an imported event keeps its
    /// own), if no activity has it yet; else a new UUID.
    pub publish_uid: Option<String>,
}

/// Whether `uid` can be an activity's published UID: not empty, no control
/// characters, at most 255 characters, and no activity has it yet.
fn free_uid(conn: &mut DbConnection, uid: &str) -> Result<bool> {
    if uid.trim().is_empty() || uid.chars().count() > 255 || uid.chars().any(char::is_control) {
        return Ok(false);
    }
    let taken: i64 = activities::table
        .filter(activities::uid.eq(uid))
        .count()
        .get_result(conn)?;
    Ok(taken == 0)
}

pub fn create(conn: &mut DbConnection, a: &ValidActivity, now: DateTime<Utc>) -> Result<Activity> {
    create_with_source(conn, a, &ExternalSource::default(), now)
}

pub fn create_with_source(
    conn: &mut DbConnection,
    a: &ValidActivity,
    source: &ExternalSource,
    now: DateTime<Utc>,
) -> Result<Activity> {
    check_references(conn, a)?;
    let t = timing_columns(&a.timing);
    let uid = match source.publish_uid.as_deref() {
        Some(uid) if free_uid(conn, uid)? => uid.to_owned(),
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let id: i64 = diesel::insert_into(activities::table)
        .values((
            fields(a, &t),
            activities::uid.eq(&uid),
            activities::source_organisation_id.eq(source.organisation_id),
            activities::external_uid.eq(source.uid.as_deref()),
            activities::external_sequence.eq(source.sequence),
            activities::external_last_modified.eq(source.last_modified.map(|t| t.naive_utc())),
            // An imported event starts at the partner's SEQUENCE (RFC 5546 §2.1.5:
            // subscribers of both feeds then order its versions the same way).
            activities::sequence.eq(source.sequence.unwrap_or(0).max(0)),
            activities::created_at.eq(now.naive_utc()),
            activities::updated_at.eq(now.naive_utc()),
            activities::cancelled_at.eq(a.status.is_off().then_some(now.naive_utc())),
        ))
        .returning(activities::id)
        .get_result(conn)?;
    write_children(conn, id, a)?;
    get(conn, id)
}

/// The columns a client sets, for insert and update alike.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = activities, treat_none_as_null = true)]
struct Fields<'a> {
    plan_id: i64,
    period_id: Option<i64>,
    campaign_id: Option<i64>,
    kind: &'a str,
    status: &'a str,
    visibility: &'a str,
    owner_person_id: Option<i64>,
    owner_organisation_id: Option<i64>,
    time_precision: &'a str,
    starts_at: Option<NaiveDateTime>,
    ends_at: Option<NaiveDateTime>,
    time_zone: Option<&'a str>,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
    rrule: Option<&'a str>,
    rdates: Option<String>,
    place_name: Option<&'a str>,
    place_address: Option<&'a str>,
    place_url: Option<&'a str>,
    actual_start_date: Option<NaiveDate>,
    actual_end_date: Option<NaiveDate>,
}

/// A span longer than this many days is "long": date-range queries find short
/// rows by `occurs_from` within this distance before the range, and read the
/// few long ones (series, multi-month periods) separately.
pub const SHORT_SPAN_DAYS: i64 = 62;

/// Whether days `s..=e` span more than SHORT_SPAN_DAYS.
fn long_span(s: NaiveDate, e: NaiveDate) -> bool {
    (e - s).num_days() > SHORT_SPAN_DAYS
}

/// The days an activity touches, every occurrence of a series included
/// (`occurs_until` `None`: endless), and whether the span is long; `None` for a
/// TBC activity, which touches no day and is never in a date range.
#[allow(clippy::type_complexity)]
fn span(
    timing: &Timing,
    recurrence: Option<&Recurrence>,
    exceptions: &[Exception],
) -> Option<(Option<NaiveDate>, Option<NaiveDate>, bool)> {
    let (from, until) = match recurrence {
        None => {
            let (s, e) = timing.date_range()?;
            (Some(s), Some(e))
        }
        Some(rule) => match rule.span(timing, exceptions) {
            Some((s, e)) => (Some(s), e),
            // Not computable: always a candidate, expanded to decide.
            None => (None, None),
        },
    };
    let long = match (from, until) {
        (Some(s), Some(e)) => long_span(s, e),
        _ => true,
    };
    Some((from, until, long))
}

/// At most this many occurrences of one series are stored; a range query
/// reaching past them expands the series instead.
const STORED_OCCURRENCES: usize = crate::domain::recurrence::MAX_OCCURRENCES as usize;

/// How far an endless series is stored, from its first day.
const STORED_YEARS: u32 = 10;

/// One stored occurrence: its first and last day, and its start in UTC for
/// exact times.
type OccurrenceRow = (NaiveDate, NaiveDate, Option<NaiveDateTime>);

/// The occurrences to store for an activity whose span starts on `from`
/// (`until` `None`: endless), and the last day up to which they are all of
/// them (`None`: no limit). `None` when they cannot be computed.
#[allow(clippy::type_complexity)]
fn occurrences_to_store(
    timing: &Timing,
    recurrence: Option<&Recurrence>,
    exceptions: &[Exception],
    from: Option<NaiveDate>,
    until: Option<NaiveDate>,
) -> Option<(Vec<OccurrenceRow>, Option<NaiveDate>)> {
    let row = |t: &Timing| -> Option<OccurrenceRow> {
        let (s, e) = t.date_range()?;
        Some((s, e, t.instants().map(|(s, _)| s.naive_utc())))
    };
    let Some(rule) = recurrence else {
        return Some((vec![row(timing)?], None));
    };
    let from = from?;
    let horizon = until.unwrap_or_else(|| {
        from.checked_add_months(chrono::Months::new(12 * STORED_YEARS))
            .unwrap_or(NaiveDate::MAX)
            .min(NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date"))
    });
    let found = rule.occurrences(timing, exceptions, from, horizon);
    let own = found.iter().filter(|o| !o.moved).count();
    let through = if own >= STORED_OCCURRENCES {
        // Cut at the expansion's limit: complete up to the day before its last start.
        let last = found
            .iter()
            .filter(|o| !o.moved)
            .filter_map(|o| o.timing.date_range().map(|r| r.0))
            .max()?;
        Some(last.pred_opt()?)
    } else if until.is_none() {
        Some(horizon)
    } else {
        None
    };
    let rows = found.iter().filter_map(|o| row(&o.timing)).collect();
    Some((rows, through))
}

fn write_span(conn: &mut DbConnection, id: i64, a: &ValidActivity) -> Result<()> {
    store_span(conn, id, &a.timing, a.recurrence.as_ref(), &a.exceptions)
}

fn store_span(
    conn: &mut DbConnection,
    id: i64,
    timing: &Timing,
    recurrence: Option<&Recurrence>,
    exceptions: &[Exception],
) -> Result<()> {
    diesel::delete(activity_spans::table.find(id)).execute(conn)?;
    diesel::delete(activity_occurrences::table.filter(activity_occurrences::activity_id.eq(id)))
        .execute(conn)?;
    let Some((from, until, long)) = span(timing, recurrence, exceptions) else {
        return Ok(());
    };
    let stored = occurrences_to_store(timing, recurrence, exceptions, from, until);
    diesel::insert_into(activity_spans::table)
        .values((
            activity_spans::activity_id.eq(id),
            activity_spans::occurs_from.eq(from),
            activity_spans::occurs_until.eq(until),
            activity_spans::long_span.eq(long),
            activity_spans::occurrences_stored.eq(stored.is_some()),
            activity_spans::stored_through.eq(stored.as_ref().and_then(|s| s.1)),
        ))
        .execute(conn)?;
    let Some((rows, _)) = stored else {
        return Ok(());
    };
    let stamp = stamp_of(conn, id)?;
    let one_day = rows.iter().all(|(s, e, _)| s == e);
    let earlier = earlier_until(&rows);
    let values: Vec<_> = rows
        .into_iter()
        .zip(earlier)
        .enumerate()
        .map(|(n, ((s, e, at), earlier_until))| {
            (
                activity_occurrences::activity_id.eq(id),
                activity_occurrences::n.eq(n as i32),
                activity_occurrences::starts_on.eq(s),
                activity_occurrences::ends_on.eq(e),
                activity_occurrences::starts_at.eq(at),
                activity_occurrences::long_span.eq(long_span(s, e)),
                activity_occurrences::plan_id.eq(stamp.plan_id),
                activity_occurrences::campaign_id.eq(stamp.campaign_id),
                activity_occurrences::kind.eq(stamp.kind.as_str()),
                activity_occurrences::status.eq(stamp.status.as_str()),
                activity_occurrences::visibility.eq(stamp.visibility.as_str()),
                activity_occurrences::source_organisation_id.eq(stamp.source_organisation_id),
                activity_occurrences::time_precision.eq(stamp.time_precision.as_str()),
                activity_occurrences::series.eq(recurrence.is_some()),
                activity_occurrences::one_day.eq(one_day),
                activity_occurrences::earlier_until.eq(earlier_until),
            )
        })
        .collect();
    // A series' occurrences in a few statements, not one each (up to
    // STORED_OCCURRENCES of them).
    for chunk in values.chunks(500) {
        super::on_backend!(conn, |c| diesel::insert_into(activity_occurrences::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// For each of an activity's occurrences, the latest day its earlier ones
/// reach (in `(starts_on, n)` order, among the ones as long or short as it is;
/// none for the first). An occurrence touching a range is the first there
/// unless that day is in or after the range's first: so a range's rows less
/// those are its activities, one each (see `in_range`).
fn earlier_until(rows: &[OccurrenceRow]) -> Vec<Option<NaiveDate>> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&n| (rows[n].0, n));
    let mut reach: [Option<NaiveDate>; 2] = [None, None];
    let mut found = vec![None; rows.len()];
    for n in order {
        let class = &mut reach[usize::from(long_span(rows[n].0, rows[n].1))];
        found[n] = *class;
        *class = (*class).max(Some(rows[n].1));
    }
    found
}

/// What a range query filters by, as the activity's row has it: copied onto
/// each of its occurrences, so the query needs no join.
#[derive(Queryable, Selectable)]
#[diesel(table_name = activities)]
struct Stamp {
    plan_id: i64,
    campaign_id: Option<i64>,
    kind: String,
    status: String,
    visibility: String,
    source_organisation_id: Option<i64>,
    time_precision: String,
}

fn stamp_of(conn: &mut DbConnection, id: i64) -> Result<Stamp> {
    Ok(activities::table
        .find(id)
        .select(Stamp::as_select())
        .first(conn)?)
}

/// Copies the activity's filter columns onto its stored occurrences again:
/// for every write that changes one of them without rewriting the
/// occurrences (a newsletter issue moving its activity's status). Call it in
/// the transaction of that change.
pub fn restamp_occurrences(conn: &mut DbConnection, id: i64) -> Result<()> {
    let stamp = stamp_of(conn, id)?;
    diesel::update(activity_occurrences::table.filter(activity_occurrences::activity_id.eq(id)))
        .set((
            activity_occurrences::plan_id.eq(stamp.plan_id),
            activity_occurrences::campaign_id.eq(stamp.campaign_id),
            activity_occurrences::kind.eq(stamp.kind),
            activity_occurrences::status.eq(stamp.status),
            activity_occurrences::visibility.eq(stamp.visibility),
            activity_occurrences::source_organisation_id.eq(stamp.source_organisation_id),
            activity_occurrences::time_precision.eq(stamp.time_precision),
        ))
        .execute(conn)?;
    Ok(())
}

/// Stores the occurrences of the activities that have none stored yet (series
/// written before occurrences were stored); run after the migrations.
pub fn store_missing_occurrences(conn: &mut DbConnection) -> Result<usize> {
    let ids: Vec<i64> = activity_spans::table
        .filter(activity_spans::occurrences_stored.eq(false))
        .select(activity_spans::activity_id)
        .load(conn)?;
    let mut stored = 0;
    for id in ids {
        let a = get(conn, id)?;
        conn.transaction(|conn| {
            store_span(
                conn,
                id,
                &a.timing,
                a.recurrence_rule.as_ref(),
                &a.exceptions,
            )
        })?;
        stored += 1;
    }
    Ok(stored)
}

fn fields<'a>(a: &'a ValidActivity, t: &'a TimingColumns) -> Fields<'a> {
    Fields {
        plan_id: a.plan_id,
        period_id: a.period_id,
        campaign_id: a.campaign_id,
        kind: a.kind.as_str(),
        status: a.status.as_str(),
        visibility: a.visibility.as_str(),
        owner_person_id: a.owner_person_id,
        owner_organisation_id: a.owner_organisation_id,
        time_precision: t.precision,
        starts_at: t.starts_at,
        ends_at: t.ends_at,
        time_zone: t.time_zone,
        start_date: t.start_date,
        end_date: t.end_date,
        rrule: a.recurrence.as_ref().map(|r| r.rule()),
        rdates: a.recurrence.as_ref().and_then(|r| r.stored_rdates()),
        place_name: a.place.name.as_deref(),
        place_address: a.place.address.as_deref(),
        place_url: a.place.url.as_deref(),
        actual_start_date: a.actual.map(|r| r.0),
        actual_end_date: a.actual.map(|r| r.1),
    }
}

fn write_children(conn: &mut DbConnection, id: i64, a: &ValidActivity) -> Result<()> {
    write_span(conn, id, a)?;
    diesel::delete(activity_translations::table.filter(activity_translations::activity_id.eq(id)))
        .execute(conn)?;
    for (lang, t) in &a.translations {
        diesel::insert_into(activity_translations::table)
            .values((
                activity_translations::activity_id.eq(id),
                activity_translations::lang.eq(lang.as_str()),
                activity_translations::title.eq(&t.title),
                activity_translations::description.eq(t.description.as_deref()),
            ))
            .execute(conn)?;
    }
    diesel::delete(post_variants::table.filter(post_variants::activity_id.eq(id))).execute(conn)?;
    diesel::delete(activity_channels::table.filter(activity_channels::activity_id.eq(id)))
        .execute(conn)?;
    for channel in &a.channel_ids {
        diesel::insert_into(activity_channels::table)
            .values((
                activity_channels::activity_id.eq(id),
                activity_channels::channel_id.eq(channel),
            ))
            .execute(conn)?;
    }
    for v in &a.post_variants {
        diesel::insert_into(post_variants::table)
            .values((
                post_variants::activity_id.eq(id),
                post_variants::channel_id.eq(v.channel_id),
                post_variants::lang.eq(v.lang.as_str()),
                post_variants::body.eq(&v.body),
                post_variants::content_warning.eq(v.content_warning.as_deref()),
                post_variants::thread.eq(thread_json(&v.thread)),
            ))
            .execute(conn)?;
    }
    let keep: Vec<(i64, &str)> = a
        .post_variants
        .iter()
        .map(|v| (v.channel_id, v.lang.as_str()))
        .collect();
    super::posts::prune_media(conn, id, &keep)?;
    diesel::delete(activity_partners::table.filter(activity_partners::activity_id.eq(id)))
        .execute(conn)?;
    for p in &a.partners {
        diesel::insert_into(activity_partners::table)
            .values((
                activity_partners::activity_id.eq(id),
                activity_partners::organisation_id.eq(p.organisation_id),
                activity_partners::role.eq(p.role.as_str()),
            ))
            .execute(conn)?;
    }
    diesel::delete(activity_exceptions::table.filter(activity_exceptions::activity_id.eq(id)))
        .execute(conn)?;
    diesel::delete(
        activity_exception_translations::table
            .filter(activity_exception_translations::activity_id.eq(id)),
    )
    .execute(conn)?;
    for e in &a.exceptions {
        for (lang, t) in &e.text.translations {
            diesel::insert_into(activity_exception_translations::table)
                .values((
                    activity_exception_translations::activity_id.eq(id),
                    activity_exception_translations::recurrence_id.eq(e.key.to_string()),
                    activity_exception_translations::lang.eq(lang.as_str()),
                    activity_exception_translations::title.eq(&t.title),
                    activity_exception_translations::description.eq(t.description.as_deref()),
                ))
                .execute(conn)?;
        }
        let (cancelled, t) = match &e.change {
            ExceptionChange::Cancelled => (true, None),
            ExceptionChange::Moved(t) => (false, Some(timing_columns(t))),
        };
        diesel::insert_into(activity_exceptions::table)
            .values((
                activity_exceptions::activity_id.eq(id),
                activity_exceptions::recurrence_id.eq(e.key.to_string()),
                activity_exceptions::cancelled.eq(cancelled),
                activity_exceptions::starts_at.eq(t.as_ref().and_then(|t| t.starts_at)),
                activity_exceptions::ends_at.eq(t.as_ref().and_then(|t| t.ends_at)),
                activity_exceptions::start_date.eq(t.as_ref().and_then(|t| t.start_date)),
                activity_exceptions::end_date.eq(t.as_ref().and_then(|t| t.end_date)),
                activity_exceptions::location.eq(e.text.location.as_deref()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Would a calendar subscriber see the difference? (time, place, status, title…)
fn visible_change(old: &Activity, new: &ValidActivity) -> bool {
    old.timing != new.timing
        || old.recurrence_rule != new.recurrence
        || old.exceptions != new.exceptions
        || old.place != new.place
        || old.status != new.status
        || old.visibility != new.visibility
        || old.translations != new.translations
}

pub fn update(
    conn: &mut DbConnection,
    id: i64,
    expected_version: i32,
    a: &ValidActivity,
    now: DateTime<Utc>,
) -> Result<Activity> {
    let old = get(conn, id)?;
    if old.version != expected_version {
        return Err(Error::VersionMismatch {
            given: expected_version,
            current: old.version,
        });
    }
    check_references(conn, a)?;
    let sequence = old.sequence + i32::from(visible_change(&old, a));
    let cancelled_at = match (old.status.is_off(), a.status.is_off()) {
        (true, true) => old.cancelled_at.map(|t| t.naive_utc()),
        (false, true) => Some(now.naive_utc()),
        _ => None,
    };
    // The version check is repeated in the UPDATE itself: a concurrent writer that
    // committed since `get` makes this match no row.
    let updated = diesel::update(
        activities::table
            .find(id)
            .filter(activities::version.eq(expected_version)),
    )
    .set((
        fields(a, &timing_columns(&a.timing)),
        activities::version.eq(expected_version + 1),
        activities::sequence.eq(sequence),
        activities::updated_at.eq(now.naive_utc()),
        activities::cancelled_at.eq(cancelled_at),
    ))
    .execute(conn)?;
    super::check_updated(updated, "activity", id, expected_version, || {
        current_version(conn, id)
    })?;
    write_children(conn, id, a)?;
    get(conn, id)
}

fn current_version(conn: &mut DbConnection, id: i64) -> Result<Option<i32>> {
    Ok(activities::table
        .find(id)
        .select(activities::version)
        .first(conn)
        .optional()?)
}

pub fn delete(conn: &mut DbConnection, id: i64, now: DateTime<Utc>) -> Result<()> {
    if current_version(conn, id)?.is_none() {
        return Err(Error::not_found("activity", id));
    }
    super::references::ensure_unreferenced(conn, "activities", "activity", id)?;
    super::posts::prune_media(conn, id, &[])?;
    let deleted = diesel::delete(activities::table.find(id)).execute(conn)?;
    if deleted == 0 {
        return Err(Error::not_found("activity", id));
    }
    super::changes::record_deletion(conn, "activity", now)
}

pub fn exists(conn: &mut DbConnection, id: i64) -> Result<bool> {
    Ok(current_version(conn, id)?.is_some())
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Activity> {
    let row = activities::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("activity", id))?;
    Ok(hydrate(conn, vec![row], Detail::Full, None)?.remove(0))
}

pub fn find_external(
    conn: &mut DbConnection,
    source_organisation_id: i64,
    external_uid: &str,
) -> Result<Option<Activity>> {
    let row = activities::table
        .filter(activities::source_organisation_id.eq(source_organisation_id))
        .filter(activities::external_uid.eq(external_uid))
        .select(Row::as_select())
        .first(conn)
        .optional()?;
    Ok(match row {
        Some(row) => Some(hydrate(conn, vec![row], Detail::Full, None)?.remove(0)),
        None => None,
    })
}

fn exceptions_of(conn: &mut DbConnection, ids: &[i64]) -> Result<ExceptionRows> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut texts: HashMap<(i64, String), Translations<Translation>> = HashMap::new();
    for (id, key, lang, title, description) in activity_exception_translations::table
        .filter(activity_exception_translations::activity_id.eq_any(ids))
        .select((
            activity_exception_translations::activity_id,
            activity_exception_translations::recurrence_id,
            activity_exception_translations::lang,
            activity_exception_translations::title,
            activity_exception_translations::description,
        ))
        .load::<(i64, String, String, String, Option<String>)>(conn)?
    {
        texts
            .entry((id, key))
            .or_default()
            .insert(parse_stored(&lang)?, Translation { title, description });
    }
    let mut exception_rows: ExceptionRows = HashMap::new();
    for e in activity_exceptions::table
        .filter(activity_exceptions::activity_id.eq_any(ids))
        .order(activity_exceptions::recurrence_id)
        .select(ExceptionRow::as_select())
        .load(conn)?
    {
        let text = texts
            .remove(&(e.activity_id, e.recurrence_id.clone()))
            .unwrap_or_default();
        exception_rows
            .entry(e.activity_id)
            .or_default()
            .push((e, text));
    }
    Ok(exception_rows)
}

/// How much of each activity a list loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Everything: its children (channels, partners, post variants and their
    /// media, participants, exceptions) and its translations' descriptions.
    Full,
    /// What a list page shows: the activity's own row and its titles. Its
    /// children are left empty and its translations have no description; a
    /// series still carries its occurrences in a range (exceptions applied).
    Listing,
}

/// The titles (and, in full, descriptions) of these activities.
fn translations_of(
    conn: &mut DbConnection,
    ids: &[i64],
    detail: Detail,
) -> Result<HashMap<i64, Translations<Translation>>> {
    let mut translations: HashMap<i64, Translations<Translation>> = HashMap::new();
    let rows: Vec<(i64, String, String, Option<String>)> = match detail {
        Detail::Full => activity_translations::table
            .filter(activity_translations::activity_id.eq_any(ids))
            .select((
                activity_translations::activity_id,
                activity_translations::lang,
                activity_translations::title,
                activity_translations::description,
            ))
            .load(conn)?,
        Detail::Listing => activity_translations::table
            .filter(activity_translations::activity_id.eq_any(ids))
            .select((
                activity_translations::activity_id,
                activity_translations::lang,
                activity_translations::title,
            ))
            .load::<(i64, String, String)>(conn)?
            .into_iter()
            .map(|(id, lang, title)| (id, lang, title, None))
            .collect(),
    };
    for (id, lang, title, description) in rows {
        translations
            .entry(id)
            .or_default()
            .insert(parse_stored(&lang)?, Translation { title, description });
    }
    Ok(translations)
}

/// Loads the children of many activities with one query per child table
/// (with [`Detail::Listing`], only their titles); `exceptions`, the series'
/// exceptions if the caller has read them already.
fn hydrate(
    conn: &mut DbConnection,
    rows: Vec<Row>,
    detail: Detail,
    exceptions: Option<ExceptionRows>,
) -> Result<Vec<Activity>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut translations = translations_of(conn, &ids, detail)?;
    if detail == Detail::Listing {
        return rows
            .into_iter()
            .map(|row| {
                let translations = translations.remove(&row.id).unwrap_or_default();
                activity_of(row, translations, Children::default())
            })
            .collect();
    }
    let mut channel_ids: HashMap<i64, Vec<i64>> = HashMap::new();
    for (id, channel) in activity_channels::table
        .filter(activity_channels::activity_id.eq_any(&ids))
        .order(activity_channels::channel_id)
        .select((
            activity_channels::activity_id,
            activity_channels::channel_id,
        ))
        .load::<(i64, i64)>(conn)?
    {
        channel_ids.entry(id).or_default().push(channel);
    }
    let mut partners: HashMap<i64, Vec<Partner>> = HashMap::new();
    for (id, organisation_id, role) in activity_partners::table
        .filter(activity_partners::activity_id.eq_any(&ids))
        .order(activity_partners::organisation_id)
        .select((
            activity_partners::activity_id,
            activity_partners::organisation_id,
            activity_partners::role,
        ))
        .load::<(i64, i64, String)>(conn)?
    {
        partners.entry(id).or_default().push(Partner {
            organisation_id,
            role: parse_stored(&role)?,
        });
    }
    let mut variants: HashMap<i64, Vec<PostVariant>> = HashMap::new();
    #[allow(clippy::type_complexity)]
    let variant_rows: Vec<(i64, i64, String, String, Option<String>, Option<String>)> =
        post_variants::table
            .filter(post_variants::activity_id.eq_any(&ids))
            .order((post_variants::channel_id, post_variants::lang))
            .select((
                post_variants::activity_id,
                post_variants::channel_id,
                post_variants::lang,
                post_variants::body,
                post_variants::content_warning,
                post_variants::thread,
            ))
            .load(conn)?;
    for (id, channel_id, lang, body, content_warning, thread) in variant_rows {
        let thread = match thread {
            Some(text) => serde_json::from_str(&text).map_err(|e| {
                crate::error::Error::Internal(anyhow::anyhow!("a stored thread does not read: {e}"))
            })?,
            None => Vec::new(),
        };
        variants.entry(id).or_default().push(PostVariant {
            channel_id,
            lang: parse_stored(&lang)?,
            body,
            content_warning,
            thread,
            media: Vec::new(),
        });
    }
    for m in super::posts::media_of(conn, &ids)? {
        if let Some(v) = variants.get_mut(&m.activity_id).and_then(|vs| {
            vs.iter_mut()
                .find(|v| v.channel_id == m.channel_id && v.lang.as_str() == m.lang)
        }) {
            v.media.push(m.reference());
        }
    }
    let mut participants: HashMap<i64, Vec<ParticipantView>> = HashMap::new();
    #[allow(clippy::type_complexity)]
    let participant_rows: Vec<(
        i64,
        i64,
        i64,
        String,
        Option<i64>,
        String,
        Option<String>,
        Option<String>,
    )> = participations::table
        .inner_join(people::table)
        .filter(participations::activity_id.eq_any(&ids))
        .order(participations::id)
        .select((
            participations::id,
            participations::activity_id,
            participations::person_id,
            participations::role,
            participations::represents_organisation_id,
            people::name,
            people::title,
            participations::answer,
        ))
        .load(conn)?;
    for (pid, id, person_id, role, represents, name, title, answer) in participant_rows {
        participants.entry(id).or_default().push(ParticipantView {
            participation_id: pid,
            person_id,
            name,
            title,
            role: parse_stored(&role)?,
            represents_organisation_id: represents,
            answer: answer.as_deref().map(parse_stored).transpose()?,
        });
    }
    let mut exception_rows = match exceptions {
        Some(found) => found,
        None => exceptions_of(conn, &series_of(&rows))?,
    };

    rows.into_iter()
        .map(|row| {
            let id = row.id;
            let translations = translations.remove(&id).unwrap_or_default();
            let children = Children {
                channel_ids: channel_ids.remove(&id).unwrap_or_default(),
                partners: partners.remove(&id).unwrap_or_default(),
                participants: participants.remove(&id).unwrap_or_default(),
                post_variants: variants.remove(&id).unwrap_or_default(),
                exceptions: exception_rows.remove(&id).unwrap_or_default(),
            };
            activity_of(row, translations, children)
        })
        .collect()
}

/// What an activity has beside its row and translations.
#[derive(Default)]
struct Children {
    channel_ids: Vec<i64>,
    partners: Vec<Partner>,
    participants: Vec<ParticipantView>,
    post_variants: Vec<PostVariant>,
    exceptions: Vec<(ExceptionRow, Translations<Translation>)>,
}

fn activity_of(
    row: Row,
    translations: Translations<Translation>,
    children: Children,
) -> Result<Activity> {
    let timing = row.timing()?;
    let exceptions = children
        .exceptions
        .into_iter()
        .map(|(e, text)| e.into_domain(&timing, text))
        .collect::<Result<Vec<_>>>()?;
    let recurrence_rule = row
        .rrule
        .clone()
        .map(|r| Recurrence::from_stored_with_rdates(r, row.rdates.as_deref()));
    let mut activity = Activity {
        id: row.id,
        uid: row.uid,
        plan_id: row.plan_id,
        period_id: row.period_id,
        campaign_id: row.campaign_id,
        kind: parse_stored::<ActivityKind>(&row.kind)?,
        status: parse_stored(&row.status)?,
        visibility: parse_stored(&row.visibility)?,
        owner_person_id: row.owner_person_id,
        owner_organisation_id: row.owner_organisation_id,
        timing_view: TimingView::from(&timing),
        timing,
        recurrence: recurrence_rule
            .as_ref()
            .map(|r| RecurrenceView::new(r, &exceptions)),
        place: Place {
            name: row.place_name,
            address: row.place_address,
            url: row.place_url,
        },
        actual: row.actual_start_date.map(|start| ActualView {
            start,
            end: row.actual_end_date.unwrap_or(start),
        }),
        channel_ids: children.channel_ids,
        partners: children.partners,
        participants: children.participants,
        translations,
        title: String::new(),
        description: None,
        lang: Language::En,
        post_variants: children.post_variants,
        source_organisation_id: row.source_organisation_id,
        external_uid: row.external_uid,
        sequence: row.sequence,
        version: row.version,
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
        cancelled_at: row.cancelled_at.map(utc),
        occurrences: None,
        recurrence_rule,
        exceptions,
    };
    activity.localise(Language::En);
    Ok(activity)
}

/// What a list of activities can be narrowed by.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub plan_id: Option<i64>,
    pub kind: Option<ActivityKind>,
    pub status: Option<ActivityStatus>,
    pub campaign_id: Option<i64>,
    pub channel_id: Option<i64>,
    pub visibility: Option<Visibility>,
    /// Only activities with a translation in this language.
    pub lang: Option<Language>,
    /// Days (inclusive) the activity or one of its occurrences must touch.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub source_organisation_id: Option<i64>,
}

/// Lists activities in date order (undated ones last). With a date range, a
/// recurring activity is included when one of its occurrences falls inside it,
/// and carries those occurrences.
///
/// A range query costs its page, not the plan: activities are found by the
/// days their occurrences touch (`activity_occurrences`, written with the
/// activity, its filter columns beside each occurrence, read alone), and only
/// the page's rows are loaded whole, their children in one query per child
/// table, the series among them expanded for the occurrences they carry.
pub fn list(
    conn: &mut DbConnection,
    filter: &ActivityFilter,
    page: PageRequest,
) -> Result<Page<Activity>> {
    list_as(conn, filter, page, Detail::Full)
}

/// [`list`], each item loaded to this [`Detail`].
pub fn list_as(
    conn: &mut DbConnection,
    filter: &ActivityFilter,
    page: PageRequest,
    detail: Detail,
) -> Result<Page<Activity>> {
    let Some((from, to)) = range(filter)? else {
        let total: i64 = narrowed(filter).count().get_result(conn)?;
        let rows: Vec<Row> = in_list_order(narrowed(filter))
            .limit(page.limit())
            .offset(page.offset())
            .select(Row::as_select())
            .load(conn)?;
        let items = finish(conn, rows, filter.lang, detail)?;
        return page.wrap(items, total);
    };
    let (keys, total) = in_range(conn, filter, from, to, Some(page))?;
    let items = in_order_for_range(conn, &keys, from, to, filter.lang, detail)?;
    page.wrap(items, total)
}

/// Every matching activity, hydrated (feeds and reports work on whole plans).
pub fn all(conn: &mut DbConnection, filter: &ActivityFilter) -> Result<Vec<Activity>> {
    all_as(conn, filter, Detail::Full)
}

/// [`all`], each item loaded to this [`Detail`].
pub fn all_as(
    conn: &mut DbConnection,
    filter: &ActivityFilter,
    detail: Detail,
) -> Result<Vec<Activity>> {
    let Some((from, to)) = range(filter)? else {
        let rows: Vec<Row> = in_list_order(narrowed(filter))
            .select(Row::as_select())
            .load(conn)?;
        return finish(conn, rows, filter.lang, detail);
    };
    let (keys, _) = in_range(conn, filter, from, to, None)?;
    in_order_for_range(conn, &keys, from, to, filter.lang, detail)
}

/// The first day of every matching dated activity (a series: its first
/// occurrence's), as its row has it: what a calendar opening on no date
/// chooses its day from, without loading the activities.
pub fn first_days(conn: &mut DbConnection, filter: &ActivityFilter) -> Result<Vec<NaiveDate>> {
    Ok(narrowed(filter)
        .filter(activities::start_date.is_not_null())
        .select(activities::start_date.assume_not_null())
        .load(conn)?)
}

/// The first `limit` matching activities whose date is to be confirmed,
/// loaded to `detail`, and how many there are: what the month and week pages
/// list apart from their days. Found by precision (the index on `(plan_id,
/// time_precision)`), so those pages cost their range and these items, not
/// the whole plan. The filter's dates are not asked (such an activity has none).
pub fn to_be_confirmed(
    conn: &mut DbConnection,
    filter: &ActivityFilter,
    limit: i64,
    detail: Detail,
) -> Result<(Vec<Activity>, i64)> {
    let tbc = || {
        narrowed(filter)
            .filter(activities::time_precision.eq(crate::domain::timing::Precision::Tbc.as_str()))
    };
    let total: i64 = tbc().count().get_result(conn)?;
    // Undated, so in list order by id alone: the order of the index on
    // (plan_id, time_precision), not read past the first `limit`.
    let rows: Vec<Row> = tbc()
        .order(activities::id)
        .limit(limit)
        .select(Row::as_select())
        .load(conn)?;
    Ok((finish(conn, rows, filter.lang, detail)?, total))
}

fn finish(
    conn: &mut DbConnection,
    rows: Vec<Row>,
    lang: Option<Language>,
    detail: Detail,
) -> Result<Vec<Activity>> {
    Ok(localised(hydrate(conn, rows, detail, None)?, lang))
}

/// `items` in `lang`, if one is asked.
fn localised(mut items: Vec<Activity>, lang: Option<Language>) -> Vec<Activity> {
    if let Some(lang) = lang {
        for activity in &mut items {
            activity.localise(lang);
        }
    }
    items
}

/// The filter's date range, if it has one (an open end reaches as far as dates go).
fn range(filter: &ActivityFilter) -> Result<Option<(NaiveDate, NaiveDate)>> {
    if filter.from.is_none() && filter.to.is_none() {
        return Ok(None);
    }
    let from = filter.from.unwrap_or(NaiveDate::MIN);
    let to = filter.to.unwrap_or(NaiveDate::MAX);
    if from > to {
        return Err(Error::invalid("to", "must not be before from"));
    }
    Ok(Some((from, to)))
}

type Sql = <DbConnection as diesel::Connection>::Backend;

/// Narrows a query over `activities` (alone or joined) by every part of an
/// [`ActivityFilter`] but its date range.
macro_rules! narrow {
    ($query:expr, $filter:expr) => {{
        let filter: &ActivityFilter = $filter;
        let mut query = $query;
        if let Some(plan) = filter.plan_id {
            query = query.filter(activities::plan_id.eq(plan));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(activities::kind.eq(kind.as_str()));
        }
        if let Some(status) = filter.status {
            query = query.filter(activities::status.eq(status.as_str()));
        }
        if let Some(campaign) = filter.campaign_id {
            query = query.filter(activities::campaign_id.eq(campaign));
        }
        if let Some(visibility) = filter.visibility {
            query = query.filter(activities::visibility.eq(visibility.as_str()));
        }
        if let Some(source) = filter.source_organisation_id {
            query = query.filter(activities::source_organisation_id.eq(source));
        }
        if let Some(channel) = filter.channel_id {
            query = query.filter(
                activities::id.eq_any(
                    activity_channels::table
                        .filter(activity_channels::channel_id.eq(channel))
                        .select(activity_channels::activity_id),
                ),
            );
        }
        if let Some(lang) = filter.lang {
            query = query.filter(
                activities::id.eq_any(
                    activity_translations::table
                        .filter(activity_translations::lang.eq(lang.as_str()))
                        .select(activity_translations::activity_id),
                ),
            );
        }
        query
    }};
}

/// The activities matching every part of `filter` but its date range.
fn narrowed(filter: &ActivityFilter) -> activities::BoxedQuery<'static, Sql> {
    narrow!(activities::table.into_boxed(), filter)
}

/// Date order, undated last: the order of the indexes `activities_list_order`
/// and `activities_plan_list_order`, so a page reads its rows and stops.
fn in_list_order(
    query: activities::BoxedQuery<'static, Sql>,
) -> activities::BoxedQuery<'static, Sql> {
    query.order((
        activities::start_date.is_null(),
        activities::start_date,
        activities::starts_at,
        activities::id,
    ))
}

/// What a range query reads of each candidate row before it knows the page.
type Key = (i64, bool, Option<NaiveDate>, Option<NaiveDateTime>);

/// Where an activity falls in a range's list: the first day of its first
/// occurrence touching the range, that occurrence's start, its id.
type Slot = (NaiveDate, Option<NaiveDateTime>, i64);

/// Narrows a query over `activity_occurrences` alone by every part of an
/// [`ActivityFilter`] but its date range: the activity's columns are copied
/// onto each occurrence (see [`restamp_occurrences`]), channels and languages
/// are sets of activity ids.
macro_rules! narrow_occurrences {
    ($query:expr, $filter:expr) => {{
        let filter: &ActivityFilter = $filter;
        let mut query = $query;
        if let Some(plan) = filter.plan_id {
            query = query.filter(activity_occurrences::plan_id.eq(plan));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(activity_occurrences::kind.eq(kind.as_str()));
        }
        if let Some(status) = filter.status {
            query = query.filter(activity_occurrences::status.eq(status.as_str()));
        }
        if let Some(campaign) = filter.campaign_id {
            query = query.filter(activity_occurrences::campaign_id.eq(campaign));
        }
        if let Some(visibility) = filter.visibility {
            query = query.filter(activity_occurrences::visibility.eq(visibility.as_str()));
        }
        if let Some(source) = filter.source_organisation_id {
            query = query.filter(activity_occurrences::source_organisation_id.eq(source));
        }
        if let Some(channel) = filter.channel_id {
            query = query.filter(
                activity_occurrences::activity_id.eq_any(
                    activity_channels::table
                        .filter(activity_channels::channel_id.eq(channel))
                        .select(activity_channels::activity_id),
                ),
            );
        }
        if let Some(lang) = filter.lang {
            query = query.filter(
                activity_occurrences::activity_id.eq_any(
                    activity_translations::table
                        .filter(activity_translations::lang.eq(lang.as_str()))
                        .select(activity_translations::activity_id),
                ),
            );
        }
        query
    }};
}

/// The first day a short occurrence touching a range from `from` can start on.
fn short_from(from: NaiveDate) -> NaiveDate {
    from.checked_sub_days(chrono::Days::new(SHORT_SPAN_DAYS as u64))
        .unwrap_or(from)
}

/// One stored occurrence as a range reads it: the activity, the occurrence's
/// first and last day, its start, the activity's precision.
type Stored = (i64, NaiveDate, NaiveDate, Option<NaiveDateTime>, String);

type StoredSql = (
    diesel::sql_types::BigInt,
    diesel::sql_types::Date,
    diesel::sql_types::Date,
    diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
    diesel::sql_types::Text,
);

type OccurrenceQuery = activity_occurrences::BoxedQuery<'static, Sql, StoredSql>;

/// The matching stored occurrences touching `from..=to` that are *short*
/// (at most SHORT_SPAN_DAYS long), in list order, as two queries: those of
/// activities whose every occurrence is one day, and the others. Each is in
/// the order of the indexes on
/// `([plan_id,] long_span, one_day, starts_on, starts_at, activity_id)`, so a
/// query cut by LIMIT reads only its own rows.
fn short_occurrences(
    filter: &ActivityFilter,
    from: NaiveDate,
    to: NaiveDate,
) -> [OccurrenceQuery; 2] {
    short_touching(filter, from, to).map(in_day_order)
}

/// The rows of both `short_occurrences` queries, each in list order.
fn every_short_occurrence(
    conn: &mut DbConnection,
    filter: &ActivityFilter,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Stored>> {
    let mut rows = Vec::new();
    for query in short_occurrences(filter, from, to) {
        rows.extend(query.load::<Stored>(conn)?);
    }
    Ok(rows)
}

/// See `short_occurrences`. A one-day row touches the range only if it starts
/// in it; another short row may have started up to SHORT_SPAN_DAYS before.
/// The flag is the activity's, so a series' rows are all in one query and a
/// count of each adds up.
fn short_touching(
    filter: &ActivityFilter,
    from: NaiveDate,
    to: NaiveDate,
) -> [activity_occurrences::BoxedQuery<'static, Sql>; 2] {
    let short = || {
        activity_occurrences::table
            .filter(activity_occurrences::long_span.eq(false))
            .into_boxed()
    };
    [
        narrow_occurrences!(
            short()
                .filter(activity_occurrences::one_day.eq(true))
                .filter(activity_occurrences::starts_on.between(from, to)),
            filter
        ),
        narrow_occurrences!(
            short()
                .filter(activity_occurrences::one_day.eq(false))
                .filter(activity_occurrences::starts_on.between(short_from(from), to))
                .filter(activity_occurrences::ends_on.ge(from)),
            filter
        ),
    ]
}

/// The activities among `ids` with a short occurrence touching `from..=to`.
fn with_short_rows(
    conn: &mut DbConnection,
    filter: &ActivityFilter,
    from: NaiveDate,
    to: NaiveDate,
    ids: &[i64],
) -> Result<Vec<i64>> {
    let mut found = Vec::new();
    for query in short_touching(filter, from, to) {
        found.extend(
            query
                .filter(activity_occurrences::activity_id.eq_any(ids))
                .select(activity_occurrences::activity_id)
                .load::<i64>(conn)?,
        );
    }
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

/// The matching stored occurrences touching `from..=to` that are long: few
/// (multi-month periods), read whole.
fn long_occurrences(filter: &ActivityFilter, from: NaiveDate, to: NaiveDate) -> OccurrenceQuery {
    in_day_order(narrow_occurrences!(
        activity_occurrences::table
            .filter(activity_occurrences::long_span.eq(true))
            .filter(activity_occurrences::starts_on.le(to))
            .filter(activity_occurrences::ends_on.ge(from))
            .into_boxed(),
        filter
    ))
}

/// What both range queries read of an occurrence, in list order.
fn in_day_order(query: activity_occurrences::BoxedQuery<'static, Sql>) -> OccurrenceQuery {
    query
        // Whole days (no start) first within their day, as a slot sorts them
        // (`None` first) and on both backends (PostgreSQL puts NULLs last
        // unless told, SQLite first); the indexes are in this order.
        .order_by(diesel::dsl::sql::<diesel::sql_types::Date>(
            "starts_on, starts_at NULLS FIRST, activity_id",
        ))
        .select((
            activity_occurrences::activity_id,
            activity_occurrences::starts_on,
            activity_occurrences::ends_on,
            activity_occurrences::starts_at,
            activity_occurrences::time_precision,
        ))
}

/// The ids of the activities touching `from..=to`, in list order, and how many
/// there are. With `page`, only that page's ids: the short occurrences are
/// read in the index's order up to the page's last activity and counted in SQL
/// (index entries: the rows less the ones that are not their activity's first
/// in the range), the long ones beside them, so the query
/// costs the page and an index count, not the matches; it reads
/// `activity_occurrences` alone. Series whose occurrences are not all stored
/// for the range (endless ones past their stored years, series written before
/// occurrences were stored) are expanded here and merged in.
fn in_range(
    conn: &mut DbConnection,
    filter: &ActivityFilter,
    from: NaiveDate,
    to: NaiveDate,
    page: Option<PageRequest>,
) -> Result<(Vec<i64>, i64)> {
    // Dates a database takes: years 1 to 9999.
    let from = from.max(NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date"));
    let to = to.min(NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date"));
    let slot_of = |r: &Stored| (r.1, r.3, r.0);
    // Each query's short rows come in slot order (the same on every backend),
    // so the rows up to the first cut query's last one, holding the page's
    // last activity, are enough: any activity not among them has its first
    // short row after them. Long rows and expanded series are merged in whole
    // below.
    let mut rows: Vec<Stored> = Vec::new();
    match page {
        None => rows = every_short_occurrence(conn, filter, from, to)?,
        Some(page) => {
            let needed = page.offset().saturating_add(page.limit()) as usize;
            let mut want = needed.saturating_mul(2).max(64);
            loop {
                rows.clear();
                let mut known_to: Option<Slot> = None;
                for query in short_occurrences(filter, from, to) {
                    let first: Vec<Stored> = query.limit(want as i64).load(conn)?;
                    if first.len() == want
                        && let Some(last) = first.last().map(slot_of)
                    {
                        known_to = Some(known_to.map_or(last, |k| k.min(last)));
                    }
                    rows.extend(first);
                }
                let Some(known_to) = known_to else { break };
                rows.retain(|r| slot_of(r) <= known_to);
                let distinct: std::collections::HashSet<i64> = rows.iter().map(|r| r.0).collect();
                if distinct.len() >= needed {
                    break;
                }
                want = want.saturating_mul(4);
            }
        }
    }
    let long: Vec<Stored> = long_occurrences(filter, from, to).load(conn)?;
    // Counted apart, each from its own index range (an OR of them would read
    // the plan's every occurrence): the short ones in SQL, plus the long
    // ones' activities that have no short occurrence in the range.
    // Each activity's short rows in the range but its first there reach the
    // range from an earlier one (`earlier_until`, a partial index): all rows
    // less those, two counts of index entries, no COUNT(DISTINCT).
    let mut total = 0;
    for query in short_touching(filter, from, to) {
        total += query.count().get_result::<i64>(conn)?;
    }
    for query in short_touching(filter, from, to) {
        total -= query
            .filter(activity_occurrences::earlier_until.is_not_null())
            .filter(activity_occurrences::earlier_until.ge(from))
            .count()
            .get_result::<i64>(conn)?;
    }
    let mut long_ids: Vec<i64> = long.iter().map(|r| r.0).collect();
    long_ids.sort_unstable();
    long_ids.dedup();
    if !long_ids.is_empty() {
        let counted = with_short_rows(conn, filter, from, to, &long_ids)?;
        total += (long_ids.len() - counted.len()) as i64;
    }
    rows.extend(long);

    let mut slots: HashMap<i64, Slot> = HashMap::new();
    for (id, on, _, at, _) in rows {
        let slot = (on, at, id);
        let entry = slots.entry(id).or_insert(slot);
        *entry = (*entry).min(slot);
    }
    let expanded = unstored_in_range(conn, filter, from, to)?;
    if !expanded.is_empty() {
        let ids: Vec<i64> = expanded.iter().map(|p| p.2).collect();
        let mut counted = with_short_rows(conn, filter, from, to, &ids)?;
        counted.extend(
            long_occurrences(filter, from, to)
                .filter(activity_occurrences::activity_id.eq_any(&ids))
                .load::<Stored>(conn)?
                .into_iter()
                .map(|r| r.0),
        );
        counted.sort_unstable();
        counted.dedup();
        total += (ids.len() - counted.len()) as i64;
        for slot in expanded {
            let entry = slots.entry(slot.2).or_insert(slot);
            *entry = (*entry).min(slot);
        }
    }
    let mut slots: Vec<Slot> = slots.into_values().collect();
    slots.sort();
    let ids = slots.into_iter().map(|p| p.2);
    let ids = match page {
        Some(page) => ids
            .skip(page.offset() as usize)
            .take(page.limit() as usize)
            .collect(),
        None => ids.collect(),
    };
    Ok((ids, total))
}

/// The series touching `from..=to` whose occurrences there are not all stored,
/// with their places, found by their spans and expanded.
fn unstored_in_range(
    conn: &mut DbConnection,
    filter: &ActivityFilter,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Slot>> {
    let key = (
        activities::id,
        activities::rrule.is_not_null(),
        activities::start_date,
        activities::starts_at,
    );
    // The spans first, alone (the indexes on occurrences_stored and
    // stored_through; usually none), then the filter on their activities:
    // joined at once, a plan's filter would read the plan's every activity.
    let unstored: Vec<i64> = activity_spans::table
        .filter(
            activity_spans::occurrences_stored
                .eq(false)
                .or(activity_spans::stored_through.lt(to)),
        )
        .filter(
            activity_spans::occurs_from
                .is_null()
                .or(activity_spans::occurs_from.le(to)),
        )
        .filter(
            activity_spans::occurs_until
                .is_null()
                .or(activity_spans::occurs_until.ge(from)),
        )
        .select(activity_spans::activity_id)
        .load(conn)?;
    if unstored.is_empty() {
        return Ok(Vec::new());
    }
    let mut candidates: Vec<Key> = Vec::new();
    for chunk in unstored.chunks(500) {
        candidates.extend(
            narrowed(filter)
                .filter(activities::id.eq_any(chunk))
                .select(key)
                .load::<Key>(conn)?,
        );
    }
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let series: Vec<i64> = candidates
        .iter()
        .filter(|(_, recurring, ..)| *recurring)
        .map(|(id, ..)| *id)
        .collect();
    let first = expand(conn, &series, from, to)?;
    Ok(candidates
        .into_iter()
        .filter_map(|(id, recurring, start_date, starts_at)| {
            if !recurring {
                return Some((start_date?, starts_at, id));
            }
            // A series is in the range only if one of its occurrences is.
            let (day, at) = first.get(&id)?.first()?;
            Some((*day, *at, id))
        })
        .collect())
}

/// The first day and start of each of these series' occurrences touching
/// `from..=to`, in order (a series with none there has no entry).
#[allow(clippy::type_complexity)]
fn expand(
    conn: &mut DbConnection,
    series: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<HashMap<i64, Vec<(NaiveDate, Option<NaiveDateTime>)>>> {
    Ok(expanded(conn, series, from, to)?
        .into_iter()
        .map(|(id, found)| {
            let mut places: Vec<_> = found
                .iter()
                .filter_map(|o| {
                    let (day, _) = o.timing.date_range()?;
                    Some((day, o.timing.instants().map(|(s, _)| s.naive_utc())))
                })
                .collect();
            places.sort();
            (id, places)
        })
        .filter(|(_, places)| !places.is_empty())
        .collect())
}

/// The series' occurrences as a list item carries them (a series with none
/// there has no entry).
fn views(
    found: Vec<(i64, Vec<crate::domain::recurrence::Occurrence>)>,
) -> HashMap<i64, Vec<OccurrenceView>> {
    found
        .into_iter()
        .filter(|(_, found)| !found.is_empty())
        .map(|(id, found)| {
            let views = found
                .into_iter()
                .map(|o| OccurrenceView {
                    occurrence: o.key,
                    timing: TimingView::from(&o.timing),
                    moved: o.moved,
                })
                .collect();
            (id, views)
        })
        .collect()
}

/// These series' occurrences touching `from..=to`, exceptions applied.
fn expanded(
    conn: &mut DbConnection,
    series: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(i64, Vec<crate::domain::recurrence::Occurrence>)>> {
    if series.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Row> = activities::table
        .filter(activities::id.eq_any(series))
        .select(Row::as_select())
        .load(conn)?;
    expand_rows(&rows, &exceptions_of(conn, series)?, from, to)
}

/// The occurrences touching `from..=to` of the series among `rows`, with
/// their `exceptions`.
fn expand_rows(
    rows: &[Row],
    exceptions: &ExceptionRows,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(i64, Vec<crate::domain::recurrence::Occurrence>)>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(rule) = row
            .rrule
            .clone()
            .map(|r| Recurrence::from_stored_with_rdates(r, row.rdates.as_deref()))
        else {
            continue;
        };
        let timing = row.timing()?;
        let exceptions = exceptions
            .get(&row.id)
            .into_iter()
            .flatten()
            .map(|(e, text)| e.clone().into_domain(&timing, text.clone()))
            .collect::<Result<Vec<_>>>()?;
        out.push((row.id, rule.occurrences(&timing, &exceptions, from, to)));
    }
    Ok(out)
}

/// One occurrence touching a range, as a calendar grid places it: the
/// activity, its first and last day, its start, and whether its timing is a
/// whole month (shown apart from the days).
pub type DaySlot = (i64, NaiveDate, NaiveDate, Option<NaiveDateTime>, bool);

/// The occurrences touching `from..=to` of the activities matching `filter`
/// (its own dates aside), in list order, without loading the activities: a
/// month grid picks what it shows from these, then loads only that
/// ([`in_order_for_range`]).
pub fn slots_in_range(
    conn: &mut DbConnection,
    filter: &ActivityFilter,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DaySlot>> {
    let month = crate::domain::timing::Precision::Month.as_str();
    let mut stored = every_short_occurrence(conn, filter, from, to)?;
    stored.extend(long_occurrences(filter, from, to).load::<Stored>(conn)?);
    let mut slots: Vec<DaySlot> = stored
        .into_iter()
        .map(|(id, s, e, at, precision)| (id, s, e, at, precision == month))
        .collect();
    // Series not all stored for this range: expanded, merged in.
    let unstored: Vec<i64> = unstored_in_range(conn, filter, from, to)?
        .into_iter()
        .map(|slot| slot.2)
        .collect();
    if !unstored.is_empty() {
        slots.retain(|slot| !unstored.contains(&slot.0));
        for (id, found) in expanded(conn, &unstored, from, to)? {
            for o in found {
                if let Some((s, e)) = o.timing.date_range() {
                    slots.push((
                        id,
                        s,
                        e,
                        o.timing.instants().map(|(s, _)| s.naive_utc()),
                        false,
                    ));
                }
            }
        }
    }
    // In list order: the short rows come in it, the long and expanded ones
    // are merged in.
    slots.sort_by_key(|&(id, s, _, at, _)| (s, at, id));
    Ok(slots)
}

/// These activities, loaded to `detail`, in this order, each series carrying
/// its occurrences touching `from..=to`.
pub fn in_order_for_range(
    conn: &mut DbConnection,
    ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
    lang: Option<Language>,
    detail: Detail,
) -> Result<Vec<Activity>> {
    let rows = rows_in_order(conn, ids)?;
    // The series' exceptions, read once for their occurrences and their items.
    let exceptions = exceptions_of(conn, &series_of(&rows))?;
    let mut occurrences = views(expand_rows(&rows, &exceptions, from, to)?);
    let mut items = hydrate(conn, rows, detail, Some(exceptions))?;
    for activity in &mut items {
        if let Some(found) = occurrences.remove(&activity.id) {
            activity.occurrences = Some(found);
        }
    }
    Ok(localised(items, lang))
}

/// The ids of the series among `rows`.
fn series_of(rows: &[Row]) -> Vec<i64> {
    rows.iter()
        .filter(|r| r.rrule.is_some())
        .map(|r| r.id)
        .collect()
}

/// Whole rows of these ids, in this order.
fn rows_in_order(conn: &mut DbConnection, ids: &[i64]) -> Result<Vec<Row>> {
    let mut by_id: HashMap<i64, Row> = HashMap::new();
    for chunk in ids.chunks(500) {
        for row in activities::table
            .filter(activities::id.eq_any(chunk))
            .select(Row::as_select())
            .load::<Row>(conn)?
        {
            by_id.insert(row.id, row);
        }
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// The SEQUENCE and LAST-MODIFIED an imported activity was last written from.
pub fn external_version(
    conn: &mut DbConnection,
    id: i64,
) -> Result<(Option<i32>, Option<DateTime<Utc>>)> {
    let (sequence, modified): (Option<i32>, Option<NaiveDateTime>) = activities::table
        .find(id)
        .select((
            activities::external_sequence,
            activities::external_last_modified,
        ))
        .first(conn)?;
    Ok((sequence, modified.map(utc)))
}

pub fn set_external_version(
    conn: &mut DbConnection,
    id: i64,
    source: &ExternalSource,
) -> Result<()> {
    diesel::update(activities::table.find(id))
        .set((
            activities::external_sequence.eq(source.sequence),
            activities::external_last_modified.eq(source.last_modified.map(|t| t.naive_utc())),
        ))
        .execute(conn)?;
    Ok(())
}

/// Raises the activity's SEQUENCE to at least `sequence` (an imported event's
/// is never below the partner's).
pub fn raise_sequence(conn: &mut DbConnection, id: i64, sequence: i32) -> Result<()> {
    diesel::update(
        activities::table
            .find(id)
            .filter(activities::sequence.lt(sequence)),
    )
    .set(activities::sequence.eq(sequence))
    .execute(conn)?;
    Ok(())
}

/// Stores the CATEGORIES an imported event came with (none: cleared), beside
/// its import fingerprint (set that first).
pub fn set_external_categories(
    conn: &mut DbConnection,
    id: i64,
    categories: &[String],
) -> Result<()> {
    use super::schema::activity_import_fingerprints as f;
    let stored = (!categories.is_empty())
        .then(|| serde_json::to_string(categories).expect("strings serialize"));
    diesel::update(f::table.find(id))
        .set(f::categories.eq(stored))
        .execute(conn)?;
    Ok(())
}

/// The stored CATEGORIES of imported activities, by activity id.
pub fn external_categories(conn: &mut DbConnection) -> Result<HashMap<i64, Vec<String>>> {
    use super::schema::activity_import_fingerprints as f;
    let rows: Vec<(i64, Option<String>)> = f::table
        .filter(f::categories.is_not_null())
        .select((f::activity_id, f::categories))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, json)| Some((id, serde_json::from_str(&json?).ok()?)))
        .collect())
}

pub fn all_ids(conn: &mut DbConnection) -> Result<Vec<i64>> {
    Ok(activities::table
        .select(activities::id)
        .order(activities::id)
        .load(conn)?)
}

/// Activities whose published form depends on something outside them: to be
/// `touch`ed when that changes.
pub enum DependsOn {
    /// To-be-confirmed activities placed on this period's dates.
    PeriodDates(i64),
    /// Activities naming this organisation as a partner.
    Organisation(i64),
    /// Activities of this campaign (its name is their category).
    Campaign(i64),
}

pub fn depending_on(conn: &mut DbConnection, on: DependsOn) -> Result<Vec<i64>> {
    Ok(match on {
        DependsOn::PeriodDates(period) => activities::table
            .filter(activities::period_id.eq(period))
            .filter(activities::time_precision.eq(crate::domain::timing::Precision::Tbc.as_str()))
            .select(activities::id)
            .load(conn)?,
        DependsOn::Organisation(org) => activity_partners::table
            .filter(activity_partners::organisation_id.eq(org))
            .select(activity_partners::activity_id)
            .distinct()
            .load(conn)?,
        DependsOn::Campaign(campaign) => activities::table
            .filter(activities::campaign_id.eq(campaign))
            .select(activities::id)
            .load(conn)?,
    })
}

/// Marks activities as changed for calendar subscribers although their own record
/// did not change (what they show did): a higher SEQUENCE and LAST-MODIFIED.
/// Their `version` stays, as nothing a client edits changed.
pub fn touch(conn: &mut DbConnection, ids: &[i64], now: DateTime<Utc>) -> Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(
        diesel::update(activities::table.filter(activities::id.eq_any(ids)))
            .set((
                activities::sequence.eq(activities::sequence + 1),
                activities::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?,
    )
}

/// What an imported activity's source said when it was last written: its
/// DTSTAMP and a hash of its content (see `app::imports`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFingerprint {
    pub dtstamp: Option<DateTime<Utc>>,
    pub content_hash: String,
}

pub fn import_fingerprint(conn: &mut DbConnection, id: i64) -> Result<Option<ImportFingerprint>> {
    use super::schema::activity_import_fingerprints as f;
    let row: Option<(Option<NaiveDateTime>, String)> = f::table
        .find(id)
        .select((f::dtstamp, f::content_hash))
        .first(conn)
        .optional()?;
    Ok(row.map(|(dtstamp, content_hash)| ImportFingerprint {
        dtstamp: dtstamp.map(utc),
        content_hash,
    }))
}

pub fn set_import_fingerprint(
    conn: &mut DbConnection,
    id: i64,
    fingerprint: &ImportFingerprint,
) -> Result<()> {
    use super::schema::activity_import_fingerprints as f;
    diesel::delete(f::table.find(id)).execute(conn)?;
    diesel::insert_into(f::table)
        .values((
            f::activity_id.eq(id),
            f::dtstamp.eq(fingerprint.dtstamp.map(|t| t.naive_utc())),
            f::content_hash.eq(&fingerprint.content_hash),
        ))
        .execute(conn)?;
    Ok(())
}

/// A thread's parts after the first as stored (`None`: a single post).
fn thread_json(thread: &[crate::domain::activity::ThreadPart]) -> Option<String> {
    (!thread.is_empty()).then(|| serde_json::to_string(thread).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn rows(spans: &[(&str, &str)]) -> Vec<OccurrenceRow> {
        spans.iter().map(|(s, e)| (day(s), day(e), None)).collect()
    }

    #[test]
    fn earlier_until_is_the_reach_of_the_earlier_occurrences_of_the_same_length_class() {
        // Weekly three-day occurrences, the second moved before the first and
        // made four months long (a long one: a class of its own).
        let found = earlier_until(&rows(&[
            ("2020-03-02", "2020-03-04"),
            ("2020-01-01", "2020-05-01"),
            ("2020-03-16", "2020-03-18"),
            ("2020-03-09", "2020-03-11"),
        ]));
        assert_eq!(
            found,
            [None, None, Some(day("2020-03-11")), Some(day("2020-03-04"))]
        );
    }

    #[test]
    fn one_occurrence_per_range_has_no_earlier_one_reaching_it() {
        // A series whose occurrences overlap and vary in length: for every
        // range, exactly one of the rows touching it is not reached.
        let spans = rows(&[
            ("2020-03-01", "2020-03-20"),
            ("2020-03-05", "2020-03-06"),
            ("2020-03-05", "2020-03-05"),
            ("2020-03-10", "2020-03-30"),
            ("2020-04-02", "2020-04-03"),
        ]);
        let reach = earlier_until(&spans);
        let mut from = day("2020-02-25");
        while from < day("2020-04-10") {
            for len in [0, 3, 10] {
                let to = from + chrono::Days::new(len);
                let touching: Vec<usize> = (0..spans.len())
                    .filter(|&n| spans[n].0 <= to && spans[n].1 >= from)
                    .collect();
                let first = touching
                    .iter()
                    .filter(|&&n| reach[n].is_none_or(|r| r < from))
                    .count();
                assert_eq!(first, usize::from(!touching.is_empty()), "{from}..{to}");
            }
            from = from.succ_opt().unwrap();
        }
    }
}
