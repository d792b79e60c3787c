//! Dates, times, timings and recurrence rules as people read them, in the
//! viewer's language. Exact times are shown in the event's zone with the
//! viewer's zone beside it; an unknown date is "to be confirmed", never a
//! made-up one.

use super::i18n::Tr;
use crate::domain::Language;
use crate::domain::activity::Activity;
use crate::domain::timing::{Timing, TimingView};
use crate::domain::zone::Zone;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};

pub fn month_name(tr: &Tr, month: u32) -> &'static str {
    const KEYS: [&str; 12] = [
        "month.1", "month.2", "month.3", "month.4", "month.5", "month.6", "month.7", "month.8",
        "month.9", "month.10", "month.11", "month.12",
    ];
    tr.t(KEYS[(month.clamp(1, 12) - 1) as usize])
}

pub fn weekday_name(tr: &Tr, weekday: chrono::Weekday) -> &'static str {
    const KEYS: [&str; 7] = [
        "weekday.mo",
        "weekday.tu",
        "weekday.we",
        "weekday.th",
        "weekday.fr",
        "weekday.sa",
        "weekday.su",
    ];
    tr.t(KEYS[weekday.num_days_from_monday() as usize])
}

/// `12 March 2020`, `12 de marzo de 2020`, `12 mars 2020`, with the weekday.
pub fn date(tr: &Tr, d: NaiveDate) -> String {
    tr.f(
        "format.date",
        &[
            ("weekday", weekday_name(tr, d.weekday())),
            ("day", &d.day().to_string()),
            ("month", month_name(tr, d.month())),
            ("year", &d.year().to_string()),
        ],
    )
}

pub fn month_year(tr: &Tr, year: i32, month: u32) -> String {
    tr.f(
        "format.month",
        &[
            ("month", month_name(tr, month)),
            ("year", &year.to_string()),
        ],
    )
}

fn time(t: NaiveDateTime) -> String {
    t.format("%H:%M").to_string()
}

/// The viewer's zone: the browser's, as `pregon.js` stored it; else the
/// configured `calendar.viewer_time_zone` (Europe/Madrid unless set).
pub fn viewer_zone(req: &actix_web::HttpRequest) -> Zone {
    super::csrf::cookie(req.headers(), "pregon_tz")
        .and_then(|v| {
            url::form_urlencoded::parse(format!("z={v}").as_bytes())
                .next()
                .map(|(_, z)| z.into_owned())
        })
        .and_then(|z| z.parse::<Zone>().ok())
        .or_else(|| {
            req.app_data::<actix_web::web::Data<crate::http::AppState>>()
                .map(|s| s.settings.calendar.viewer_time_zone)
        })
        .unwrap_or_else(|| chrono_tz::UTC.into())
}

/// A timing as a sentence: exact (zone, and the viewer's zone beside it),
/// whole days, a month, or "date to be confirmed".
pub fn timing(tr: &Tr, t: &Timing, viewer: Zone) -> String {
    match t {
        Timing::Exact { start, end, zone } => {
            let mut text = if start.date() == end.date() {
                format!(
                    "{}, {}–{} ({})",
                    date(tr, start.date()),
                    time(*start),
                    time(*end),
                    zone.name()
                )
            } else {
                format!(
                    "{} {} – {} {} ({})",
                    date(tr, start.date()),
                    time(*start),
                    date(tr, end.date()),
                    time(*end),
                    zone.name()
                )
            };
            if let Some((s, e)) = t.instants()
                && viewer.name() != zone.name()
            {
                let s = s.with_timezone(&viewer.tz()).naive_local();
                let e = e.with_timezone(&viewer.tz()).naive_local();
                text.push_str(&format!(
                    " · {}",
                    tr.f(
                        "format.your_time",
                        &[
                            (
                                "time",
                                &format!("{} {}–{}", date(tr, s.date()), time(s), time(e))
                            ),
                            ("zone", viewer.name()),
                        ]
                    )
                ));
            }
            text
        }
        Timing::Days { start, end } if start == end => {
            format!("{} ({})", date(tr, *start), tr.t("timing.all_day"))
        }
        Timing::Days { start, end } => format!("{} – {}", date(tr, *start), date(tr, *end)),
        Timing::Month(m) => tr.f(
            "timing.sometime_in",
            &[(
                "month",
                &month_year(tr, m.first_day().year(), m.first_day().month()),
            )],
        ),
        Timing::ToBeConfirmed => tr.t("timing.tbc").to_owned(),
    }
}

/// The first day a timing view touches (occurrences carry views).
pub fn view_start_date(v: &TimingView) -> Option<NaiveDate> {
    v.start
        .as_deref()
        .and_then(|s| NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok())
        .or_else(|| v.month.map(|m| m.first_day()))
}

pub fn view_end_date(v: &TimingView) -> Option<NaiveDate> {
    v.end
        .as_deref()
        .and_then(|s| NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok())
        .or_else(|| view_start_date(v))
}

/// A timing view (of an occurrence) as a sentence.
pub fn timing_view(tr: &Tr, v: &TimingView, viewer: Zone) -> String {
    let input = crate::domain::timing::TimingInput {
        precision: v.precision,
        start: v.start.clone(),
        end: v.end.clone(),
        time_zone: v.time_zone,
        month: v.month,
    };
    match Timing::try_from(input).ok() {
        Some(t) => timing(tr, &t, viewer),
        None => tr.t("timing.tbc").to_owned(),
    }
}

/// An RFC 5545 RRULE read aloud: "every month on the first Tuesday, 10 times".
pub fn rrule(tr: &Tr, rule: &str) -> String {
    let mut freq = "";
    let mut interval = 1u32;
    let mut byday: Vec<String> = Vec::new();
    let mut bymonthday: Vec<String> = Vec::new();
    let mut count = None;
    let mut until = None;
    for part in rule.split(';') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        match k.to_ascii_uppercase().as_str() {
            "FREQ" => freq = v,
            "INTERVAL" => interval = v.parse().unwrap_or(1),
            "BYDAY" => byday = v.split(',').map(str::to_owned).collect(),
            "BYMONTHDAY" => bymonthday = v.split(',').map(str::to_owned).collect(),
            "COUNT" => count = v.parse::<u32>().ok(),
            "UNTIL" => until = Some(v.to_owned()),
            _ => {}
        }
    }
    let unit = match freq.to_ascii_uppercase().as_str() {
        "DAILY" => "daily",
        "WEEKLY" => "weekly",
        "MONTHLY" => "monthly",
        "YEARLY" => "yearly",
        _ => return rule.to_owned(),
    };
    let mut text = if interval > 1 {
        tr.f(
            &format!("rrule.every_n.{unit}"),
            &[("n", &interval.to_string())],
        )
    } else {
        tr.t(&format!("rrule.every.{unit}")).to_owned()
    };
    if !byday.is_empty() {
        let days: Vec<String> = byday
            .iter()
            .map(|d| {
                let d = d.trim();
                let split = d.len().saturating_sub(2);
                let (ordinal, day) = d.split_at(split);
                let day_name = tr.t(&format!("weekday.{}", day.to_ascii_lowercase()));
                match ordinal {
                    "" => day_name.to_owned(),
                    n => tr.f(
                        "rrule.nth",
                        &[
                            (
                                "nth",
                                tr.t(&format!("ordinal.{}", n.trim_start_matches('+'))),
                            ),
                            ("day", day_name),
                        ],
                    ),
                }
            })
            .collect();
        text.push_str(&tr.f("rrule.on", &[("days", &days.join(", "))]));
    }
    if !bymonthday.is_empty() {
        text.push_str(&tr.f("rrule.on_day", &[("days", &bymonthday.join(", "))]));
    }
    if let Some(n) = count {
        text.push_str(&tr.f("rrule.count", &[("n", &n.to_string())]));
    }
    if let Some(u) = until
        && let Some(d) = u
            .get(..8)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok())
    {
        text.push_str(&tr.f("rrule.until", &[("date", &date(tr, d))]));
    }
    text
}

/// Up to `n` occurrences from `from` on (or the first ones, when the series
/// ended before `from`), as sentences.
pub fn next_occurrences(
    tr: &Tr,
    a: &Activity,
    from: DateTime<Utc>,
    n: usize,
    viewer: Zone,
) -> (bool, Vec<String>) {
    let Some(rule) = &a.recurrence_rule else {
        return (false, Vec::new());
    };
    let Some((first, _)) = a.timing.date_range() else {
        return (false, Vec::new());
    };
    let today = from.date_naive();
    let upcoming = rule.occurrences(
        &a.timing,
        &a.exceptions,
        today.max(first),
        today.max(first) + chrono::Days::new(800),
    );
    let (past, list) = if upcoming.is_empty() {
        (
            true,
            rule.occurrences(
                &a.timing,
                &a.exceptions,
                first,
                first + chrono::Days::new(800),
            ),
        )
    } else {
        (false, upcoming)
    };
    (
        past,
        list.iter()
            .take(n)
            .map(|o| timing(tr, &o.timing, viewer))
            .collect(),
    )
}

pub fn datetime(tr: &Tr, t: DateTime<Utc>, viewer: Zone) -> String {
    let local = t.with_timezone(&viewer.tz()).naive_local();
    format!(
        "{} {} ({})",
        date(tr, local.date()),
        time(local),
        viewer.name()
    )
}

pub fn lang_name(tr: &Tr, l: Language) -> &'static str {
    match l {
        Language::Es => tr.t("lang.es"),
        Language::En => tr.t("lang.en"),
        Language::Fr => tr.t("lang.fr"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_read_aloud_in_each_language() {
        let en = Tr::new(Language::En);
        let es = Tr::new(Language::Es);
        let fr = Tr::new(Language::Fr);
        let rule = "FREQ=MONTHLY;BYDAY=1TU;COUNT=10";
        assert_eq!(
            rrule(&en, rule),
            "Every month on the first Tuesday, 10 times"
        );
        assert_eq!(rrule(&es, rule), "Cada mes el primer martes, 10 veces");
        assert_eq!(
            rrule(
                &fr,
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;UNTIL=20201231T000000Z"
            ),
            "Toutes les 2 semaines le lundi, mercredi, jusqu'au jeudi 31 décembre 2020"
        );
        assert_eq!(rrule(&fr, rule), "Chaque mois le premier mardi, 10 fois");
        assert_eq!(rrule(&en, "FREQ=SECONDLY"), "FREQ=SECONDLY");
    }

    #[test]
    fn an_unknown_date_is_never_made_up() {
        let zone: Zone = "Europe/Madrid".parse().unwrap();
        let es = Tr::new(Language::Es);
        assert_eq!(
            timing(&es, &Timing::ToBeConfirmed, zone),
            "Fecha por confirmar"
        );
        let days = Timing::days(
            NaiveDate::from_ymd_opt(2020, 10, 8).unwrap(),
            NaiveDate::from_ymd_opt(2020, 10, 9).unwrap(),
        )
        .unwrap();
        assert_eq!(
            timing(&es, &days, zone),
            "jueves 8 de octubre de 2020 – viernes 9 de octubre de 2020"
        );
        // An exact time, with the viewer's zone beside the event's.
        let exact = Timing::exact(
            NaiveDate::from_ymd_opt(2020, 3, 10)
                .unwrap()
                .and_hms_opt(10, 0, 0)
                .unwrap(),
            NaiveDate::from_ymd_opt(2020, 3, 10)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap(),
            zone,
        )
        .unwrap();
        let en = Tr::new(Language::En);
        let text = timing(&en, &exact, "America/New_York".parse().unwrap());
        assert_eq!(
            text,
            "Tuesday 10 March 2020, 10:00–12:00 (Europe/Madrid) · \
             Tuesday 10 March 2020 05:00–07:00 your time (America/New_York)"
        );
    }
}
