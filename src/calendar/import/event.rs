//! One VCALENDAR object → its importable events (RFC 5545 §3.6.1, RFC 5546 §3.2).

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use super::lexer::UNREADABLE;
use super::recur::{Start, check_rrule};
use super::structure::{Component, Property};
use super::timezones::{Zone, ZoneResolver};
use super::values::{
    DateValue, parse_date, parse_date_or_date_time, parse_date_time, parse_duration, unescape_text,
};
use super::{
    Cancellation, EventDate, ImportError, ImportWarning, ImportedEvent, ImportedTime,
    RecurrenceDate, RecurrenceId, SkippedEvent, Status, Strictness,
};

/// "METHOD:REQUEST message" or "calendar object", for messages about a whole VCALENDAR.
pub(super) fn describe_message(calendar: &Component) -> String {
    match calendar.first("METHOD") {
        Some(method) => format!(
            "METHOD:{} message",
            method.value.trim().to_ascii_uppercase()
        ),
        None => "calendar object".into(),
    }
}

#[allow(clippy::type_complexity)]
pub(super) fn import_calendar(
    calendar: &Component,
    strictness: Strictness,
    warnings: &mut Vec<ImportWarning>,
) -> Result<(Vec<ImportedEvent>, Vec<SkippedEvent>, Vec<Cancellation>), ImportError> {
    if let Some(version) = calendar.first("VERSION")
        && version.value.trim() == "1.0"
    {
        return Err(ImportError::at(
            version.line,
            "VERSION:1.0 is the older vCalendar format, not iCalendar; export the calendar as \
             iCalendar (VERSION:2.0)",
        ));
    }
    // A broken line outside any event spoils the calendar object itself.
    if let Some(unreadable) = calendar.first(UNREADABLE) {
        return Err(ImportError::at(unreadable.line, unreadable.value.clone()));
    }
    let method = calendar
        .first("METHOD")
        .map(|m| (m.value.trim().to_ascii_uppercase(), m.line));
    // RFC 5546 §3.2: only these methods carry the organizer's event data. The others answer
    // or refer to an event the recipient already has, and have no DTSTART to import.
    let importable = match &method {
        None => true,
        Some((name, _)) if matches!(name.as_str(), "PUBLISH" | "REQUEST" | "ADD") => true,
        // A cancellation refers to an event imported earlier: read as such below.
        Some((name, _)) if name == "CANCEL" => false,
        Some((name, _))
            if matches!(
                name.as_str(),
                "REPLY" | "REFRESH" | "COUNTER" | "DECLINECOUNTER"
            ) =>
        {
            false
        }
        Some((name, line)) => {
            warnings.push(ImportWarning {
                line: *line,
                message: format!(
                    "unknown METHOD:{name}; its events are imported as published events"
                ),
            });
            true
        }
    };

    let mut zones = ZoneResolver::new(calendar, warnings);
    let mut derived_uids = HashMap::new();
    let cancel = method.as_ref().is_some_and(|(name, _)| name == "CANCEL");
    let mut events = Vec::new();
    let mut skipped = Vec::new();
    let mut cancellations = Vec::new();
    for child in &calendar.children {
        match child.kind.as_str() {
            "VEVENT" if cancel => {
                let mut event_warnings = Vec::new();
                match cancellation(child, &mut zones, &mut event_warnings) {
                    Ok(c) => {
                        cancellations.push(c);
                        warnings.append(&mut event_warnings);
                    }
                    Err(error) if strictness == Strictness::Lenient => {
                        skipped.push(SkippedEvent {
                            line: child.line,
                            uid: child
                                .first("UID")
                                .map(|p| p.value.trim().to_owned())
                                .filter(|u| !u.is_empty()),
                            reason: error.to_string(),
                        });
                    }
                    Err(error) => return Err(error),
                }
            }
            "VEVENT" if importable => {
                // An event's own warnings are kept only if the event is.
                let mut event_warnings = Vec::new();
                match import_event(
                    child,
                    method.as_ref().map(|(name, _)| name.as_str()),
                    &mut zones,
                    &mut derived_uids,
                    &mut event_warnings,
                ) {
                    Ok(event) => {
                        events.push(event);
                        warnings.append(&mut event_warnings);
                    }
                    Err(error) if strictness == Strictness::Lenient => {
                        skipped.push(SkippedEvent {
                            line: child.line,
                            uid: child
                                .first("UID")
                                .map(|p| p.value.trim().to_owned())
                                .filter(|u| !u.is_empty()),
                            reason: error.to_string(),
                        });
                    }
                    Err(error) => return Err(error),
                }
            }
            "VEVENT" => warnings.push(not_importable(
                child,
                method.as_ref().map_or("", |(name, _)| name.as_str()),
            )),
            "VTODO" | "VJOURNAL" | "VFREEBUSY" => warnings.push(ImportWarning {
                line: child.line,
                message: format!("{} skipped: only events (VEVENT) are imported", child.kind),
            }),
            _ => {}
        }
    }
    zones.check_budget(calendar.line)?;
    Ok((events, skipped, cancellations))
}

/// A METHOD:CANCEL VEVENT: which event (or instance) it cancels. RFC 5546
/// §3.2.5 requires UID, SEQUENCE and DTSTAMP, and RECURRENCE-ID only for an
/// instance; DTSTART may be absent, so nothing else is read.
fn cancellation(
    event: &Component,
    zones: &mut ZoneResolver<'_>,
    warnings: &mut Vec<ImportWarning>,
) -> Result<Cancellation, ImportError> {
    let mut cx = EventContext { zones, warnings };
    if let Some(unreadable) = event.first(UNREADABLE) {
        return Err(ImportError::at(unreadable.line, unreadable.value.clone()));
    }
    let uid = at_most_one(event, "UID")?
        .map(|p| p.value.trim())
        .filter(|uid| !uid.is_empty())
        .ok_or_else(|| {
            ImportError::at(
                event.line,
                "a METHOD:CANCEL VEVENT without UID says nothing about which event is \
                 cancelled (RFC 5546 §3.2.5 requires UID)",
            )
        })?
        .to_owned();
    let sequence = sequence_of(event)?;
    let dtstamp = cx.stamp(at_most_one(event, "DTSTAMP")?)?;
    let recurrence_id = match at_most_one(event, "RECURRENCE-ID")? {
        Some(property) => Some(recurrence_id(&mut cx, property)?),
        None => None,
    };
    Ok(Cancellation {
        uid,
        sequence,
        dtstamp,
        recurrence_id,
        line: event.line,
    })
}

fn sequence_of(event: &Component) -> Result<u32, ImportError> {
    Ok(match at_most_one(event, "SEQUENCE")? {
        Some(property) => property.value.trim().parse::<u32>().map_err(|_| {
            ImportError::at(
                property.line,
                format!(
                    "SEQUENCE \"{}\" is not a non-negative integer",
                    property.value.trim()
                ),
            )
        })?,
        None => 0,
    })
}

fn not_importable(event: &Component, method: &str) -> ImportWarning {
    let uid = event
        .first("UID")
        .map_or_else(|| "(no UID)".to_owned(), |p| p.value.trim().to_owned());
    let instance = event
        .first("RECURRENCE-ID")
        .map(|p| format!(" RECURRENCE-ID {}", p.value.trim()))
        .unwrap_or_default();
    let why = match method {
        "REPLY" => "an attendee's reply carries no event to import",
        "REFRESH" => "a request for the latest version carries no event to import",
        "COUNTER" => "an attendee's counter-proposal is not the organizer's event",
        // DECLINECOUNTER, the last method `import_calendar` does not import.
        _ => "the refusal of a counter-proposal carries no event to import",
    };
    ImportWarning {
        line: event.line,
        message: format!("METHOD:{method} VEVENT for UID {uid}{instance} skipped: {why}"),
    }
}

/// A DATE or DATE-TIME property value with its zone applied.
#[derive(Debug, Clone)]
enum TimeValue {
    Date(NaiveDate),
    DateTime {
        utc: DateTime<Utc>,
        local: NaiveDateTime,
        zone: Zone,
        zoned: bool,
    },
}

struct EventContext<'z, 'a> {
    zones: &'z mut ZoneResolver<'a>,
    warnings: &'z mut Vec<ImportWarning>,
}

impl EventContext<'_, '_> {
    fn warn(&mut self, line: usize, message: String) {
        self.warnings.push(ImportWarning { line, message });
    }

    /// One DATE / DATE-TIME value of `property` (which may hold a list; `text` is one item).
    fn time_value(&mut self, property: &Property, text: &str) -> Result<TimeValue, ImportError> {
        let name = &property.name;
        let value_type = property.param("VALUE").map(str::to_ascii_uppercase);
        let parsed = match value_type.as_deref() {
            Some("DATE") => parse_date(text).map(DateValue::Date).ok_or_else(|| {
                ImportError::at(
                    property.line,
                    format!("{name} \"{text}\" is not a valid date (VALUE=DATE)"),
                )
            })?,
            Some("DATE-TIME") => parse_date_time(text)
                .map(|(local, utc)| DateValue::DateTime { local, utc })
                .ok_or_else(|| {
                    ImportError::at(
                        property.line,
                        format!("{name} \"{text}\" is not a valid date-time (VALUE=DATE-TIME)"),
                    )
                })?,
            None => {
                let parsed = parse_date_or_date_time(text).ok_or_else(|| {
                    ImportError::at(
                        property.line,
                        format!("{name} \"{text}\" is not a valid date or date-time"),
                    )
                })?;
                if matches!(parsed, DateValue::Date(_)) {
                    // The default type is DATE-TIME, but a bare 8-digit date can only mean a
                    // date; Google Calendar, Thunderbird and python-icalendar read it so.
                    self.warn(
                        property.line,
                        format!(
                            "{name} \"{text}\" is a date without VALUE=DATE; read as an all-day \
                             date"
                        ),
                    );
                }
                parsed
            }
            Some(other) => {
                return Err(ImportError::at(
                    property.line,
                    format!("{name} has VALUE={other}, which is not DATE or DATE-TIME"),
                ));
            }
        };
        match parsed {
            DateValue::Date(date) => Ok(TimeValue::Date(date)),
            DateValue::DateTime { local, utc: true } => {
                if property.param("TZID").is_some() {
                    self.warn(
                        property.line,
                        format!("{name} is in UTC (ends in Z); its TZID parameter is ignored"),
                    );
                }
                Ok(TimeValue::DateTime {
                    utc: Utc.from_utc_datetime(&local),
                    local,
                    zone: Zone::Utc,
                    zoned: false,
                })
            }
            DateValue::DateTime { local, utc: false } => {
                let (zone, zoned) = match property.param("TZID") {
                    Some(tzid) => (
                        self.zones
                            .resolve(tzid, property.line, local, self.warnings)?,
                        true,
                    ),
                    None => (self.zones.floating(property.line, self.warnings), false),
                };
                Ok(TimeValue::DateTime {
                    utc: zone.to_utc(local),
                    local,
                    zone,
                    zoned,
                })
            }
        }
    }

    fn single_time_value(&mut self, property: &Property) -> Result<TimeValue, ImportError> {
        let text = property.value.trim();
        if text.contains(',') {
            return Err(ImportError::at(
                property.line,
                format!("{} must hold a single value, not a list", property.name),
            ));
        }
        self.time_value(property, text)
    }

    /// DTSTAMP and LAST-MODIFIED: RFC 5545 wants UTC date-times. Other forms are metadata
    /// quirks with an obvious reading, so they are accepted with a warning.
    fn stamp(&mut self, property: Option<&Property>) -> Result<Option<DateTime<Utc>>, ImportError> {
        let Some(property) = property else {
            return Ok(None);
        };
        let name = &property.name;
        let text = property.value.trim();
        let (local, is_utc) = match parse_date_or_date_time(text) {
            Some(DateValue::DateTime { local, utc }) => (local, utc),
            Some(DateValue::Date(date)) => {
                self.warn(
                    property.line,
                    format!("{name} should be a UTC date-time, not a date; read as midnight UTC"),
                );
                return Ok(Some(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN))));
            }
            None => {
                return Err(ImportError::at(
                    property.line,
                    format!("{name} \"{text}\" is not a valid date-time"),
                ));
            }
        };
        if is_utc {
            return Ok(Some(Utc.from_utc_datetime(&local)));
        }
        let zone = match property.param("TZID") {
            Some(tzid) => self
                .zones
                .resolve(tzid, property.line, local, self.warnings)?,
            None => Zone::Utc,
        };
        self.warn(
            property.line,
            format!(
                "{name} should be a UTC date-time (ending in Z); read in {}",
                zone.describe()
            ),
        );
        Ok(Some(zone.to_utc(local)))
    }

    /// A TEXT property, unescaped; empty text counts as absent.
    fn text(&mut self, event: &Component, name: &str) -> Option<String> {
        let mut all = event.all(name);
        let property = all.next()?;
        if let Some(extra) = all.next() {
            self.warn(
                extra.line,
                format!(
                    "{name} appears more than once; the first one (line {}) is used",
                    property.line
                ),
            );
        }
        let (text, unknown_escape) = unescape_text(&property.value);
        if let Some(c) = unknown_escape {
            self.warn(
                property.line,
                format!("{name} has the escape \"\\{c}\", which RFC 5545 does not define; read as \"{c}\""),
            );
        }
        (!text.is_empty()).then_some(text)
    }
}

/// Properties that decide when an event happens or which event it is: a second copy makes
/// the event ambiguous, so it is refused rather than guessed.
fn at_most_one<'e>(
    event: &'e Component,
    name: &'e str,
) -> Result<Option<&'e Property>, ImportError> {
    let mut all = event.all(name);
    let first = all.next();
    if let (Some(first), Some(second)) = (first, all.next()) {
        return Err(ImportError::at(
            second.line,
            format!(
                "{name} appears twice in one VEVENT (first at line {}); RFC 5545 allows it once",
                first.line
            ),
        ));
    }
    Ok(first)
}

fn import_event(
    event: &Component,
    method: Option<&str>,
    zones: &mut ZoneResolver<'_>,
    derived_uids: &mut HashMap<String, usize>,
    warnings: &mut Vec<ImportWarning>,
) -> Result<ImportedEvent, ImportError> {
    let mut cx = EventContext { zones, warnings };
    if let Some(unreadable) = event.first(UNREADABLE) {
        return Err(ImportError::at(unreadable.line, unreadable.value.clone()));
    }

    let dtstart_property = at_most_one(event, "DTSTART")?.ok_or_else(|| {
        let rule = match method {
            None => "RFC 5545 requires it in a calendar without METHOD".to_owned(),
            Some(method) => format!("RFC 5546 requires it in METHOD:{method}"),
        };
        ImportError::at(event.line, format!("VEVENT has no DTSTART; {rule}"))
    })?;
    let dtend_property = at_most_one(event, "DTEND")?;
    let duration_property = at_most_one(event, "DURATION")?;
    let start = cx.single_time_value(dtstart_property)?;
    let time = event_time(
        &mut cx,
        &start,
        dtstart_property,
        dtend_property,
        duration_property,
    )?;

    let recurrence_id = match at_most_one(event, "RECURRENCE-ID")? {
        Some(property) => Some(recurrence_id(&mut cx, property)?),
        None => None,
    };
    let uid = match at_most_one(event, "UID")?
        .map(|p| p.value.trim())
        .filter(|uid| !uid.is_empty())
    {
        Some(uid) => uid.to_owned(),
        None => derive_uid(&mut cx, event, dtstart_property, derived_uids),
    };
    let sequence = sequence_of(event)?;
    let dtstamp = cx.stamp(at_most_one(event, "DTSTAMP")?)?;
    let last_modified = cx.stamp(at_most_one(event, "LAST-MODIFIED")?)?;
    let status = match event.first("STATUS") {
        Some(property) => match property.value.trim().to_ascii_uppercase().as_str() {
            "TENTATIVE" => Some(Status::Tentative),
            "CONFIRMED" => Some(Status::Confirmed),
            "CANCELLED" => Some(Status::Cancelled),
            "CANCELED" => {
                cx.warn(
                    property.line,
                    "STATUS:CANCELED (one L) read as CANCELLED".into(),
                );
                Some(Status::Cancelled)
            }
            other => {
                cx.warn(
                    property.line,
                    format!("STATUS:{other} is not a VEVENT status; ignored"),
                );
                None
            }
        },
        None => None,
    };

    let rrule = match event.all("RRULE").collect::<Vec<_>>().as_slice() {
        [] => None,
        [property] => {
            let rule_start = match &start {
                TimeValue::Date(date) => Start::AllDay(*date),
                TimeValue::DateTime {
                    utc, zone, zoned, ..
                } => Start::Timed {
                    utc: *utc,
                    zone,
                    zoned: *zoned,
                },
            };
            check_rrule(property, &rule_start, cx.warnings)?
        }
        [_, second, ..] => {
            return Err(ImportError::at(
                second.line,
                "more than one RRULE in a VEVENT is not supported (RFC 5545 says it SHOULD NOT \
                 happen, and the meaning differs between clients)",
            ));
        }
    };

    let mut exdates = Vec::new();
    for property in event.all("EXDATE") {
        for text in property
            .value
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            exdates.push(match cx.time_value(property, text)? {
                TimeValue::Date(date) => EventDate::Date(date),
                TimeValue::DateTime { utc, .. } => EventDate::DateTime(utc),
            });
        }
    }
    let mut rdates = Vec::new();
    for property in event.all("RDATE") {
        for text in property
            .value
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            rdates.push(rdate(&mut cx, property, text)?);
        }
    }

    let summary = cx.text(event, "SUMMARY");
    let description = cx.text(event, "DESCRIPTION");
    let location = cx.text(event, "LOCATION");
    let url = event
        .first("URL")
        .map(|p| p.value.trim().to_owned())
        .filter(|u| !u.is_empty());
    // CATEGORIES (RFC 5545 §3.8.1.2): a TEXT list, its commas escaped inside a value.
    let mut categories = Vec::new();
    for property in event.all("CATEGORIES") {
        for raw in split_text_list(&property.value) {
            let (text, _) = unescape_text(raw.trim());
            if !text.is_empty() && !categories.contains(&text) {
                categories.push(text);
            }
        }
    }
    let transparent = event
        .first("TRANSP")
        .is_some_and(|p| p.value.trim().eq_ignore_ascii_case("TRANSPARENT"));
    let language = ["SUMMARY", "DESCRIPTION", "LOCATION"]
        .iter()
        .filter_map(|name| event.first(name)?.param("LANGUAGE"))
        .map(str::to_owned)
        .next();

    Ok(ImportedEvent {
        uid,
        sequence,
        last_modified,
        dtstamp,
        summary,
        description,
        location,
        url,
        status,
        time,
        rrule,
        rdates,
        exdates,
        recurrence_id,
        language,
        categories,
        transparent,
        line: event.line,
    })
}

/// The values of a TEXT list (RFC 5545 §3.3.11): split at commas that are not
/// escaped, each value still escaped.
fn split_text_list(raw: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in raw.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' if !escaped => {
                out.push(&raw[start..i]);
                start = i + 1;
            }
            _ => escaped = false,
        }
    }
    out.push(&raw[start..]);
    out
}

fn event_time(
    cx: &mut EventContext<'_, '_>,
    start: &TimeValue,
    dtstart: &Property,
    dtend: Option<&Property>,
    duration: Option<&Property>,
) -> Result<ImportedTime, ImportError> {
    // RFC 5545 §3.6.1 allows DTEND or DURATION, not both; some clients write
    // both. DTEND wins, as lenient parsers (python-icalendar, Thunderbird) read
    // it, so a DURATION beside a DTEND only costs a warning, even if unusable.
    let end_from_duration = match (duration, dtend) {
        (Some(property), None) => Some(end_by_duration(start, property)?),
        (Some(property), Some(_)) => match end_by_duration(start, property) {
            Ok(end) => Some(end),
            Err(error) => {
                cx.warn(
                    property.line,
                    format!("{}; DTEND is used instead", error.message),
                );
                None
            }
        },
        (None, _) => None,
    };
    let end = match dtend {
        Some(property) => {
            let end = cx.single_time_value(property)?;
            let end = match (start, end) {
                (TimeValue::Date(_), TimeValue::Date(date)) => TimeValue::Date(date),
                (TimeValue::DateTime { .. }, end @ TimeValue::DateTime { .. }) => end,
                (TimeValue::Date(_), TimeValue::DateTime { .. }) => {
                    return Err(type_mismatch(property, dtstart, "a date-time", "a date"));
                }
                (TimeValue::DateTime { .. }, TimeValue::Date(_)) => {
                    return Err(type_mismatch(property, dtstart, "a date", "a date-time"));
                }
            };
            if let (Some(by_duration), Some(duration)) = (&end_from_duration, duration) {
                if !same_instant(by_duration, &end) {
                    cx.warn(
                        duration.line,
                        format!(
                            "both DTEND (line {}) and DURATION are given (RFC 5545 allows one) \
                             and they disagree; DTEND is used, DURATION {} is ignored",
                            property.line,
                            duration.value.trim()
                        ),
                    );
                } else {
                    cx.warn(
                        duration.line,
                        format!(
                            "both DTEND (line {}) and DURATION are given (RFC 5545 allows one); \
                         they agree",
                            property.line
                        ),
                    );
                }
            }
            Some((end, property))
        }
        None => end_from_duration.map(|end| (end, duration.unwrap_or(dtstart))),
    };

    match (start, end) {
        (TimeValue::Date(start), None) => Ok(ImportedTime::AllDay {
            start: *start,
            end_exclusive: next_day(*start, dtstart)?,
        }),
        (TimeValue::Date(start), Some((TimeValue::Date(end), property))) => {
            if end < *start {
                return Err(end_before_start(property, dtstart));
            }
            let end_exclusive = if end == *start {
                // Some producers (Lotus Notes, hand-written files) write an inclusive end
                // for one-day events; a zero-length day has no other meaning.
                cx.warn(
                    property.line,
                    format!(
                        "{} equals DTSTART for an all-day event; read as a one-day event",
                        property.name
                    ),
                );
                next_day(end, property)?
            } else {
                end
            };
            Ok(ImportedTime::AllDay {
                start: *start,
                end_exclusive,
            })
        }
        (TimeValue::DateTime { utc, zone, .. }, end) => {
            let end_utc = match end {
                None => *utc,
                Some((TimeValue::DateTime { utc: end_utc, .. }, property)) => {
                    // Equal start and end is kept: RFC 5545 §3.6.1 gives an event without
                    // DTEND exactly that zero duration, so the meaning is the same.
                    if end_utc < *utc {
                        return Err(end_before_start(property, dtstart));
                    }
                    end_utc
                }
                Some((TimeValue::Date(_), property)) => {
                    return Err(type_mismatch(property, dtstart, "a date", "a date-time"));
                }
            };
            Ok(ImportedTime::Timed {
                start: *utc,
                end: end_utc,
                tz: zone.tz(),
            })
        }
        (TimeValue::Date(_), Some((TimeValue::DateTime { .. }, property))) => {
            Err(type_mismatch(property, dtstart, "a date-time", "a date"))
        }
    }
}

fn same_instant(a: &TimeValue, b: &TimeValue) -> bool {
    match (a, b) {
        (TimeValue::Date(a), TimeValue::Date(b)) => a == b,
        (TimeValue::DateTime { utc: a, .. }, TimeValue::DateTime { utc: b, .. }) => a == b,
        _ => false,
    }
}

fn end_by_duration(start: &TimeValue, property: &Property) -> Result<TimeValue, ImportError> {
    let text = property.value.trim();
    let duration = parse_duration(text).ok_or_else(|| {
        ImportError::at(
            property.line,
            format!("DURATION \"{text}\" is not a valid duration"),
        )
    })?;
    if duration.negative && (duration.days != 0 || duration.seconds != 0) {
        return Err(ImportError::at(
            property.line,
            format!("DURATION \"{text}\" is negative: the event would end before it starts"),
        ));
    }
    let overflow = || {
        ImportError::at(
            property.line,
            format!("DURATION \"{text}\" is out of range"),
        )
    };
    match start {
        TimeValue::Date(date) => {
            if duration.seconds != 0 {
                return Err(ImportError::at(
                    property.line,
                    format!(
                        "DURATION \"{text}\" has hours, minutes or seconds, but DTSTART is a \
                         date; an all-day event lasts whole days"
                    ),
                ));
            }
            let end = date
                .checked_add_signed(Duration::try_days(duration.days).ok_or_else(overflow)?)
                .ok_or_else(overflow)?;
            Ok(TimeValue::Date(end))
        }
        TimeValue::DateTime {
            local, zone, zoned, ..
        } => {
            // Days are nominal: the same wall-clock time that many days later, even across a
            // DST change; the exact part is added afterwards (§3.3.6).
            let local_end = local
                .checked_add_signed(Duration::try_days(duration.days).ok_or_else(overflow)?)
                .ok_or_else(overflow)?;
            let utc_end = zone
                .to_utc(local_end)
                .checked_add_signed(Duration::try_seconds(duration.seconds).ok_or_else(overflow)?)
                .ok_or_else(overflow)?;
            Ok(TimeValue::DateTime {
                utc: utc_end,
                local: local_end,
                zone: zone.clone(),
                zoned: *zoned,
            })
        }
    }
}

fn next_day(date: NaiveDate, property: &Property) -> Result<NaiveDate, ImportError> {
    date.succ_opt()
        .ok_or_else(|| ImportError::at(property.line, format!("{} is out of range", property.name)))
}

fn end_before_start(end: &Property, start: &Property) -> ImportError {
    ImportError::at(
        end.line,
        format!(
            "{} {} is before DTSTART {} (line {})",
            end.name,
            end.value.trim(),
            start.value.trim(),
            start.line
        ),
    )
}

fn type_mismatch(end: &Property, start: &Property, end_is: &str, start_is: &str) -> ImportError {
    ImportError::at(
        end.line,
        format!(
            "{} is {end_is} but DTSTART (line {}) is {start_is}; RFC 5545 requires the same type",
            end.name, start.line
        ),
    )
}

fn recurrence_id(
    cx: &mut EventContext<'_, '_>,
    property: &Property,
) -> Result<RecurrenceId, ImportError> {
    let value = match cx.single_time_value(property)? {
        TimeValue::Date(date) => EventDate::Date(date),
        TimeValue::DateTime { utc, .. } => EventDate::DateTime(utc),
    };
    let this_and_future = match property.param("RANGE").map(str::to_ascii_uppercase) {
        None => false,
        Some(range) if range == "THISANDFUTURE" => true,
        Some(range) => {
            cx.warn(
                property.line,
                format!(
                    "RECURRENCE-ID RANGE={range} is not supported by RFC 5545; read as this \
                     instance only"
                ),
            );
            false
        }
    };
    Ok(RecurrenceId {
        value,
        this_and_future,
    })
}

fn rdate(
    cx: &mut EventContext<'_, '_>,
    property: &Property,
    text: &str,
) -> Result<RecurrenceDate, ImportError> {
    let is_period = property
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("PERIOD"));
    if !is_period {
        return Ok(match cx.time_value(property, text)? {
            TimeValue::Date(date) => RecurrenceDate::Date(date),
            TimeValue::DateTime { utc, .. } => RecurrenceDate::DateTime(utc),
        });
    }
    let invalid = || {
        ImportError::at(
            property.line,
            format!("RDATE \"{text}\" is not a valid period (start/end or start/duration)"),
        )
    };
    let (start_text, end_text) = text.split_once('/').ok_or_else(invalid)?;
    let (local, utc) = parse_date_time(start_text).ok_or_else(invalid)?;
    let start = if utc {
        Utc.from_utc_datetime(&local)
    } else {
        match property.param("TZID") {
            Some(tzid) => cx
                .zones
                .resolve(tzid, property.line, local, cx.warnings)?
                .to_utc(local),
            None => cx.zones.floating(property.line, cx.warnings).to_utc(local),
        }
    };
    let end = if let Some((end_local, end_utc)) = parse_date_time(end_text) {
        if end_utc {
            Some(Utc.from_utc_datetime(&end_local))
        } else {
            // The end of a period is in the same zone as its start.
            start.checked_add_signed(end_local - local)
        }
    } else {
        let duration = parse_duration(end_text)
            .filter(|d| !d.negative)
            .ok_or_else(invalid)?;
        Duration::try_days(duration.days)
            .zip(Duration::try_seconds(duration.seconds))
            .and_then(|(days, seconds)| start.checked_add_signed(days)?.checked_add_signed(seconds))
    };
    let end = end.ok_or_else(invalid)?;
    if end < start {
        return Err(invalid());
    }
    Ok(RecurrenceDate::Period { start, end })
}

/// Apple iCal 1.0 and some hand-written feeds omit UID, which RFC 5545 requires. Refusing
/// them would reject files whose events are otherwise complete and unambiguous (Google
/// Calendar and Thunderbird import them by generating an ID). A random UID would make every
/// re-import create duplicates, so the UID is derived from what identifies the event —
/// DTSTART with its zone, SUMMARY and RECURRENCE-ID — which keeps re-imports of an unchanged
/// file idempotent; an edited event gets a new UID, which the warning announces.
fn derive_uid(
    cx: &mut EventContext<'_, '_>,
    event: &Component,
    dtstart: &Property,
    derived_uids: &mut HashMap<String, usize>,
) -> String {
    let mut identity = String::new();
    for part in [
        dtstart.value.trim(),
        dtstart.param("TZID").unwrap_or_default(),
        event.first("SUMMARY").map_or("", |p| p.value.as_str()),
        event.first("RECURRENCE-ID").map_or("", |p| p.value.trim()),
    ] {
        identity.push_str(part);
        identity.push('\u{1f}');
    }
    let base = format!("pregon-derived-{:016x}", fnv1a_64(identity.as_bytes()));
    let seen = derived_uids.entry(base.clone()).or_insert(0);
    *seen += 1;
    // Identical events in one file still need distinct UIDs; file order keeps them stable.
    let uid = if *seen == 1 {
        base
    } else {
        format!("{base}-{seen}")
    };
    cx.warn(
        event.line,
        format!(
            "VEVENT has no UID (required by RFC 5545); using {uid}, derived from its DTSTART and \
             SUMMARY, so a later edit of this event will import as a new event"
        ),
    );
    uid
}

/// FNV-1a: tiny, and stable across Rust releases (unlike `DefaultHasher`), which matters
/// because derived UIDs are stored and compared across imports.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
