//! From the plan to calendar objects: which activities a feed carries and how
//! each is published so a subscriber sees it honestly.
//!
//! - Exact times keep their IANA zone (TZID + generated VTIMEZONE); whole days
//!   are all-day events with an exclusive end.
//! - An activity known only to the month, or whose date is to be confirmed, is a
//!   transparent, tentative, all-day placeholder saying so in the feed's
//!   language: on the first day of its month, or on the first known day of its
//!   plan period. When the date is fixed it is updated in place (same UID,
//!   higher SEQUENCE). A TBC activity with no dated period cannot be placed and
//!   is left out until it has a date.
//! - Recurring activities are one VEVENT with RRULE, EXDATE for skipped
//!   occurrences and a RECURRENCE-ID override for each moved one.
//! - Cancelled activities stay, as STATUS:CANCELLED, for the configured number
//!   of days after cancellation, then leave.
//! - Nothing depends on the moment of the request: DTSTAMP is the activity's
//!   last change, so the bytes (and the ETag) change only when the data does.

use super::ics::{self, Calendar, Event, EventStatus, EventTime, OccurrenceId, Organizer};
use crate::domain::activity::{Activity, ActivityKind, ActivityStatus, Visibility};
use crate::domain::campaign::Translation;
use crate::domain::feed::FeedFilters;
use crate::domain::language::{Language, Translations, pick};
use crate::domain::plan::Period;
use crate::domain::recurrence::{ExceptionChange, OccurrenceKey};
use crate::domain::timing::Timing;
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use std::collections::HashMap;

pub const PRODID: &str = "-//Pregon//Pregon calendar feeds//EN";

/// Which activities a feed shows.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub filters: FeedFilters,
    /// `?kind=` narrows any feed further.
    pub kind: Option<ActivityKind>,
}

impl Selection {
    pub fn admits(&self, a: &Activity) -> bool {
        let f = &self.filters;
        a.status != ActivityStatus::Draft
            && (f.include_internal || a.visibility == Visibility::Public)
            && (f.kinds.is_empty() || f.kinds.contains(&a.kind))
            && self.kind.is_none_or(|k| k == a.kind)
            && (f.statuses.is_empty() || f.statuses.contains(&a.status))
            && (f.campaign_ids.is_empty()
                || a.campaign_id.is_some_and(|c| f.campaign_ids.contains(&c)))
            && (f.channel_ids.is_empty() || a.channel_ids.iter().any(|c| f.channel_ids.contains(c)))
    }
}

/// What a feed says about itself.
#[derive(Debug, Clone)]
pub struct FeedHeader {
    pub name: String,
    pub description: Option<String>,
    pub url: Option<String>,
    pub refresh: TimeDelta,
    pub organizer: Option<Organizer>,
}

/// Everything besides the activities that publishing needs.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub periods: HashMap<i64, Period>,
    pub organisations: HashMap<i64, String>,
    pub campaigns: HashMap<i64, Translations<Translation>>,
    /// How long a cancelled activity stays in feeds.
    pub cancelled_retention: TimeDelta,
    /// The partner's own CATEGORIES of imported activities, by activity id:
    /// published as they came instead of the kind and campaign words.
    pub categories: HashMap<i64, Vec<String>>,
}

pub struct Built {
    pub calendar: Calendar,
    /// When the feed's content changes by itself (a cancelled event leaving).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Builds the calendar for `activities` (already selected) at `now`.
pub fn build(
    header: &FeedHeader,
    lang: Language,
    activities: &[Activity],
    context: &Context,
    now: DateTime<Utc>,
) -> Built {
    let mut events = Vec::new();
    let mut expires_at: Option<DateTime<Utc>> = None;
    for a in activities {
        if let Some(cancelled_at) = a.cancelled_at.filter(|_| a.status.is_off()) {
            let leaves = cancelled_at + context.cancelled_retention;
            if leaves <= now {
                continue;
            }
            expires_at = Some(expires_at.map_or(leaves, |e| e.min(leaves)));
        }
        events.extend(events_for(a, lang, context, header.organizer.clone()));
    }
    Built {
        calendar: Calendar {
            prodid: PRODID.into(),
            method: Some(ics::Method::Publish),
            name: Some(header.name.clone()),
            description: header.description.clone(),
            refresh_interval: Some(header.refresh),
            url: header.url.clone(),
            events,
        },
        expires_at,
    }
}

/// The VEVENTs of one activity (a master and its moved occurrences), or none
/// when it cannot be placed in a calendar yet.
pub fn events_for(
    a: &Activity,
    lang: Language,
    context: &Context,
    organizer: Option<Organizer>,
) -> Vec<Event> {
    let text = Text::for_lang(lang);
    let (title_lang, title, description) = match pick(&a.translations, lang) {
        Some((l, t)) => (l, t.title.clone(), t.description.clone()),
        None => (lang, String::new(), None),
    };
    let (time, placeholder) = match placement(a, context) {
        Some(p) => p,
        None => return Vec::new(),
    };
    let mut summary = title;
    let mut notes: Vec<String> = Vec::new();
    if let Some(note) = placeholder {
        let note = match note {
            Placeholder::Month(month) => text.month_tbc(month),
            Placeholder::Tbc => text.tbc.to_owned(),
        };
        summary = format!("{summary} ({note})");
        notes.push(format!("{}.", capitalise(&note)));
    }
    let partners: Vec<String> = a
        .partners
        .iter()
        .filter_map(|p| context.organisations.get(&p.organisation_id).cloned())
        .collect();
    let with_partners =
        (!partners.is_empty()).then(|| format!("{}: {}", text.with, partners.join(", ")));
    // The DESCRIPTION of the master (after any placeholder note) or of an
    // override with its own description: the text, then who takes part.
    let notes_for = |notes: &[String], description: Option<&String>| -> Option<String> {
        let all: Vec<&String> = notes
            .iter()
            .chain(description)
            .chain(with_partners.as_ref())
            .collect();
        (!all.is_empty()).then(|| {
            all.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n\n")
        })
    };
    let status = match a.status {
        ActivityStatus::Cancelled | ActivityStatus::Failed => Some(EventStatus::Cancelled),
        _ if placeholder.is_some() => Some(EventStatus::Tentative),
        ActivityStatus::Tentative => Some(EventStatus::Tentative),
        ActivityStatus::Confirmed | ActivityStatus::Done => Some(EventStatus::Confirmed),
        ActivityStatus::Planned | ActivityStatus::Draft => None,
    };
    let categories = match context.categories.get(&a.id) {
        Some(theirs) => theirs.clone(),
        None => {
            let mut ours = vec![text.kind(a.kind).to_owned()];
            if let Some((_, t)) = a
                .campaign_id
                .and_then(|c| context.campaigns.get(&c))
                .and_then(|campaign| pick(campaign, lang))
            {
                ours.push(t.title.clone());
            }
            ours
        }
    };
    let location_of = |name: Option<&String>| {
        let joined = [name, a.place.address.as_ref()]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        (!joined.is_empty()).then_some(joined)
    };
    let mut master = Event {
        created: Some(a.created_at),
        last_modified: Some(a.updated_at),
        sequence: a.sequence.max(0) as u32,
        description: notes_for(&notes, description.as_ref()),
        location: location_of(a.place.name.as_ref()),
        url: a.place.url.clone(),
        organizer,
        categories,
        status,
        transparent: placeholder.is_some(),
        language: Some(title_lang.as_str().to_owned()),
        ..Event::new(a.uid.clone(), a.updated_at, summary, time)
    };
    let mut overrides = Vec::new();
    if let (Some(rule), None) = (&a.recurrence_rule, placeholder) {
        // A series of dates alone has no RRULE, only RDATEs (RFC 5545 §3.8.5.2).
        master.rrule = rule.has_rule().then(|| rule.rule().to_owned());
        master.rdates = rule.rdates().iter().map(|k| occurrence_id(*k)).collect();
        for exception in &a.exceptions {
            let id = occurrence_id(exception.key);
            match &exception.change {
                ExceptionChange::Cancelled => master.exdates.push(id),
                ExceptionChange::Moved(timing) => {
                    if let Some(time) = exact_time(timing) {
                        // RFC 5545 §3.8.4.4: the instance says what it changes:
                        // its own text in the master's language, else in the
                        // nearest language it has (a change made in one
                        // language is still the change), else the master's.
                        let own = exception
                            .text
                            .translations
                            .get(&title_lang)
                            .map(|t| (title_lang, t))
                            .or_else(|| pick(&exception.text.translations, lang));
                        let location = match &exception.text.location {
                            Some(name) => location_of(Some(name)),
                            None => master.location.clone(),
                        };
                        overrides.push(Event {
                            rrule: None,
                            exdates: Vec::new(),
                            rdates: Vec::new(),
                            recurrence_id: Some(id),
                            time,
                            summary: own
                                .map_or_else(|| master.summary.clone(), |(_, t)| t.title.clone()),
                            description: match own {
                                Some((_, t)) => notes_for(&[], t.description.as_ref()),
                                None => master.description.clone(),
                            },
                            language: own.map_or_else(
                                || master.language.clone(),
                                |(l, _)| Some(l.as_str().to_owned()),
                            ),
                            location,
                            ..master.clone()
                        });
                    }
                }
            }
        }
    }
    let mut events = vec![master];
    events.extend(overrides);
    events
}

/// What a placeholder (a month or TBC activity, as [`events_for`] writes it)
/// says once read back: the kind of imprecision, and the activity's own title and
/// description without the note the feed added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlaceholder {
    /// `Some(first day)` for an activity known to the month, `None` for one whose
    /// date is to be confirmed (placed on its period's first day).
    pub month: Option<NaiveDate>,
    pub title: String,
    pub description: Option<String>,
}

/// The inverse of a placeholder's summary and description, in any of the
/// feed languages: `Title (May 2020, day to be confirmed)` with a description
/// that starts `May 2020, day to be confirmed.` (then a blank line and the rest).
/// `day` is the placeholder's date; a month note must name its month and be on
/// its first day. `None` when the text is not one this module writes.
pub fn read_placeholder(
    summary: &str,
    description: Option<&str>,
    day: NaiveDate,
) -> Option<ReadPlaceholder> {
    for text in [&EN, &ES, &FR] {
        let notes = [
            (day.day() == 1).then(|| (text.month_tbc(day), Some(day))),
            Some((text.tbc.to_owned(), None)),
        ];
        for (note, month) in notes.into_iter().flatten() {
            let Some(title) = summary.strip_suffix(&format!(" ({note})")) else {
                continue;
            };
            let lead = format!("{}.", capitalise(&note));
            let rest = match description? {
                d if d == lead => None,
                d => Some(d.strip_prefix(&format!("{lead}\n\n"))?.to_owned()),
            };
            return Some(ReadPlaceholder {
                month,
                title: title.to_owned(),
                description: rest,
            });
        }
    }
    None
}

#[derive(Debug, Clone, Copy)]
enum Placeholder {
    Month(NaiveDate),
    Tbc,
}

/// Where the activity goes in a calendar, and whether that is a placeholder.
fn placement(a: &Activity, context: &Context) -> Option<(EventTime, Option<Placeholder>)> {
    if let Some(time) = exact_time(&a.timing) {
        return Some((time, None));
    }
    let day = match a.timing {
        Timing::Month(m) => {
            return Some((
                one_day(m.first_day())?,
                Some(Placeholder::Month(m.first_day())),
            ));
        }
        _ => a
            .period_id
            .and_then(|p| context.periods.get(&p))
            .and_then(|p| p.starts_on.or(p.ends_on))?,
    };
    Some((one_day(day)?, Some(Placeholder::Tbc)))
}

fn one_day(day: NaiveDate) -> Option<EventTime> {
    EventTime::all_day(day, day)
}

fn exact_time(timing: &Timing) -> Option<EventTime> {
    match *timing {
        Timing::Exact { start, end, zone } => Some(EventTime::Timed {
            start,
            end,
            tz: zone.tz(),
        }),
        Timing::Days { start, end } => EventTime::all_day(start, end),
        _ => None,
    }
}

fn occurrence_id(key: OccurrenceKey) -> OccurrenceId {
    match key {
        OccurrenceKey::DateTime(t) => OccurrenceId::Local(t),
        OccurrenceKey::Date(d) => OccurrenceId::Date(d),
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The few words a feed writes itself, per language.
struct Text {
    tbc: &'static str,
    month_tbc: &'static str,
    months: [&'static str; 12],
    with: &'static str,
    kinds: [&'static str; 7],
}

impl Text {
    fn for_lang(lang: Language) -> &'static Text {
        match lang {
            Language::Es => &ES,
            Language::En => &EN,
            Language::Fr => &FR,
        }
    }

    fn month_tbc(&self, first_day: NaiveDate) -> String {
        let month = self.months[first_day.month0() as usize];
        self.month_tbc
            .replace("{month}", month)
            .replace("{year}", &first_day.year().to_string())
    }

    fn kind(&self, kind: ActivityKind) -> &'static str {
        let index = ActivityKind::ALL
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(0);
        self.kinds[index]
    }
}

static ES: Text = Text {
    tbc: "fecha por confirmar",
    month_tbc: "{month} de {year}, día por confirmar",
    months: [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    with: "Con",
    kinds: [
        "Hito",
        "Newsletter",
        "Redes sociales",
        "Evento",
        "Reunión de aprendizaje",
        "Informe de avances",
        "Externo",
    ],
};

static EN: Text = Text {
    tbc: "date to be confirmed",
    month_tbc: "{month} {year}, day to be confirmed",
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    with: "With",
    kinds: [
        "Milestone",
        "Newsletter",
        "Social media",
        "Event",
        "Learning meeting",
        "Progress report",
        "External",
    ],
};

static FR: Text = Text {
    tbc: "date à confirmer",
    month_tbc: "{month} {year}, jour à confirmer",
    months: [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    with: "Avec",
    kinds: [
        "Étape",
        "Newsletter",
        "Réseaux sociaux",
        "Événement",
        "Réunion d'apprentissage",
        "Rapport d'avancement",
        "Externe",
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn placeholders_are_read_back_in_every_feed_language() {
        // What events_for writes, in each language, reads back to the title,
        // the description without the note, and the kind of placeholder.
        let may = day(2020, 5, 1);
        for lang in [Language::Es, Language::En, Language::Fr] {
            let text = Text::for_lang(lang);
            for (note, month) in [
                (text.month_tbc(may), Some(may)),
                (text.tbc.to_owned(), None),
            ] {
                let summary = format!("Panel, 3rd ({note})");
                let description = format!("{}.\n\nWhat it is.\n\nWith: A, B", capitalise(&note));
                assert_eq!(
                    read_placeholder(&summary, Some(&description), may),
                    Some(ReadPlaceholder {
                        month,
                        title: "Panel, 3rd".into(),
                        description: Some("What it is.\n\nWith: A, B".into()),
                    }),
                    "{lang:?}: {summary}"
                );
                let bare = format!("{}.", capitalise(&note));
                assert_eq!(
                    read_placeholder(&summary, Some(&bare), may).map(|r| r.description),
                    Some(None)
                );
            }
        }
        // Not a placeholder: no note, a month note on another day or naming
        // another month, or a description that does not start with the note.
        assert_eq!(read_placeholder("Panel", Some("Panel."), may), None);
        assert_eq!(
            read_placeholder(
                "Panel (May 2020, day to be confirmed)",
                Some("May 2020, day to be confirmed."),
                day(2020, 5, 2)
            ),
            None
        );
        assert_eq!(
            read_placeholder(
                "Panel (June 2020, day to be confirmed)",
                Some("June 2020, day to be confirmed."),
                may
            ),
            None
        );
        assert_eq!(
            read_placeholder("Panel (date to be confirmed)", Some("Something else"), may),
            None
        );
        assert_eq!(
            read_placeholder("Panel (date to be confirmed)", None, may),
            None
        );
    }
}
