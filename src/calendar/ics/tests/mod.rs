//! Tests that exercise the module as a whole, plus shared fixtures.

mod render;
mod tz_eval;
mod validator;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::model::{
    Attendee, Calendar, Event, EventStatus, EventTime, Method, OccurrenceId, Organizer, PartStat,
    Role,
};

pub(super) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub(super) fn local(y: i32, m: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
    date(y, m, d).and_hms_opt(h, mi, 0).unwrap()
}

pub(super) fn stamp() -> DateTime<Utc> {
    local(2020, 1, 2, 3, 4).and_utc()
}

pub(super) const TRICKY_TITLE: &str = "Tendencias en Innovación Municipal; ODS, 2020\nMálaga 🎉";

pub(super) fn timed(start: NaiveDateTime, end: NaiveDateTime, tz: Tz) -> EventTime {
    EventTime::Timed { start, end, tz }
}

pub(super) fn calendar(events: Vec<Event>) -> Calendar {
    Calendar {
        prodid: "-//Pregón//Plan de comunicación//ES".into(),
        method: Some(Method::Publish),
        name: Some("Agenda, Ayuntamiento".into()),
        description: Some("Eventos del plan de comunicación".into()),
        refresh_interval: Some(TimeDelta::hours(4)),
        url: Some("https://pregon.example/feeds/agenda.ics".into()),
        events,
    }
}

/// The monthly meeting used by several tests: 15th of each month at 18:00
/// Madrid time, Jan–Jun 2020 (crossing the 29 March DST change), February
/// excluded and May's moved to the 16th at 19:00.
pub(super) const MONTHLY_UID: &str = "monthly-2020@pregon.example";

pub(super) fn monthly_events() -> Vec<Event> {
    let madrid = Tz::Europe__Madrid;
    let master = Event {
        rrule: Some("FREQ=MONTHLY;BYMONTHDAY=15;COUNT=6".into()),
        exdates: vec![OccurrenceId::Local(local(2020, 2, 15, 18, 0))],
        language: Some("es".into()),
        ..Event::new(
            MONTHLY_UID,
            stamp(),
            "Comité mensual",
            timed(local(2020, 1, 15, 18, 0), local(2020, 1, 15, 20, 0), madrid),
        )
    };
    let moved = Event {
        recurrence_id: Some(OccurrenceId::Local(local(2020, 5, 15, 18, 0))),
        sequence: 1,
        ..Event::new(
            MONTHLY_UID,
            stamp(),
            "Comité mensual (trasladado)",
            timed(local(2020, 5, 16, 19, 0), local(2020, 5, 16, 21, 0), madrid),
        )
    };
    vec![master, moved]
}

/// A feed with everything the service publishes.
pub(super) fn sample_feed() -> Calendar {
    let mut events = vec![
        Event {
            description: Some(
                "Jornada sobre innovación: ponencias, mesas redondas; café 🎄 y clausura.\n\
                 Más información en la web del Ayuntamiento de Málaga — 中文 也可以."
                    .into(),
            ),
            location: Some("Palacio de Ferias, Sala 3, Málaga".into()),
            url: Some("https://pregon.example/e/1?a=1&b=2".into()),
            created: Some(local(2019, 12, 1, 9, 0).and_utc()),
            last_modified: Some(local(2019, 12, 20, 9, 30).and_utc()),
            organizer: Some(Organizer {
                cn: Some("Oficina de Prensa, \"Ayto\"".into()),
                email: "prensa@malaga.example".into(),
            }),
            attendees: vec![Attendee {
                cn: Some("Pérez; Ana".into()),
                email: "ana@example.org".into(),
                role: Some(Role::ReqParticipant),
                partstat: Some(PartStat::Accepted),
                rsvp: true,
            }],
            categories: vec!["Innovación".into(), "ODS, Agenda 2030".into()],
            status: Some(EventStatus::Confirmed),
            language: Some("es".into()),
            ..Event::new(
                "madrid-1@pregon.example",
                stamp(),
                TRICKY_TITLE,
                timed(
                    local(2020, 3, 10, 10, 0),
                    local(2020, 3, 10, 14, 0),
                    Tz::Europe__Madrid,
                ),
            )
        },
        Event {
            status: Some(EventStatus::Tentative),
            ..Event::new(
                "jnb-1@pregon.example",
                stamp(),
                "Partner call, Johannesburg",
                timed(
                    local(2020, 5, 5, 9, 0),
                    local(2020, 5, 5, 10, 0),
                    Tz::Africa__Johannesburg,
                ),
            )
        },
        Event {
            transparent: true,
            ..Event::new(
                "allday-1@pregon.example",
                stamp(),
                "Cierre de mes",
                EventTime::all_day(date(2020, 1, 31), date(2020, 1, 31)).unwrap(),
            )
        },
        Event {
            status: Some(EventStatus::Cancelled),
            sequence: 2,
            ..Event::new(
                "cancelled-1@pregon.example",
                stamp(),
                "Rueda de prensa (cancelada)",
                timed(
                    local(2020, 6, 1, 12, 0),
                    local(2020, 6, 1, 13, 0),
                    Tz::Europe__Madrid,
                ),
            )
        },
    ];
    events.extend(monthly_events());
    calendar(events)
}
