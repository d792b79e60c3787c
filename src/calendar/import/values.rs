//! Value syntax of RFC 5545 §3.3: TEXT escapes, DATE, DATE-TIME, DURATION, UTC-OFFSET.
//! Strict on purpose: anything these functions reject is refused by the caller with its line.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// A DATE or DATE-TIME value before any zone is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DateValue {
    Date(NaiveDate),
    DateTime { local: NaiveDateTime, utc: bool },
}

/// Undoes TEXT escaping (§3.3.11). Returns the text and the first escape RFC 5545 does not
/// define, if any (`\:` is a common one); such an escape is read as the character itself.
pub(super) fn unescape_text(raw: &str) -> (String, Option<char>) {
    let mut text = String::with_capacity(raw.len());
    let mut unknown = None;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => text.push('\n'),
            Some(c @ ('\\' | ';' | ',')) => text.push(c),
            Some(other) => {
                unknown.get_or_insert(other);
                text.push(other);
            }
            None => text.push('\\'),
        }
    }
    (text, unknown)
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `YYYYMMDD`, rejecting impossible dates such as 20230230.
pub(super) fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 || !s.is_ascii() {
        return None;
    }
    let year = i32::try_from(digits(&s[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(&s[4..6])?, digits(&s[6..8])?)
}

/// `YYYYMMDDTHHMMSS` with an optional `Z`.
pub(super) fn parse_date_time(s: &str) -> Option<(NaiveDateTime, bool)> {
    let (body, utc) = match s.strip_suffix(['Z', 'z']) {
        Some(body) => (body, true),
        None => (s, false),
    };
    if body.len() != 15 || !body.is_ascii() || !matches!(&body[8..9], "T" | "t") {
        return None;
    }
    let date = parse_date(&body[..8])?;
    let (hour, minute) = (digits(&body[9..11])?, digits(&body[11..13])?);
    let mut second = digits(&body[13..15])?;
    // §3.3.12 allows second 60 for a leap second; chrono cannot build it from h/m/s and one
    // second is below anything a calendar shows.
    if second == 60 {
        second = 59;
    }
    let time = NaiveTime::from_hms_opt(hour, minute, second)?;
    Some((date.and_time(time), utc))
}

/// Either form, as a value without a VALUE parameter is read: DATE-TIME first, then DATE.
pub(super) fn parse_date_or_date_time(s: &str) -> Option<DateValue> {
    if let Some((local, utc)) = parse_date_time(s) {
        return Some(DateValue::DateTime { local, utc });
    }
    parse_date(s).map(DateValue::Date)
}

/// A DURATION value (§3.3.6). Weeks and days are nominal (calendar days in the event's zone),
/// hours, minutes and seconds exact, which is why they are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct IcalDuration {
    pub negative: bool,
    pub days: i64,
    pub seconds: i64,
}

pub(super) fn parse_duration(s: &str) -> Option<IcalDuration> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    let (date_part, time_part) = match rest.find(['T', 't']) {
        Some(index) => (&rest[..index], Some(&rest[index + 1..])),
        None => (rest, None),
    };
    let mut days = 0i64;
    let mut seconds = 0i64;
    let mut any = false;
    // Units must appear in this order, each at most once.
    let mut take = |part: &str, units: &[(char, i64)], target: &mut i64| -> Option<()> {
        let mut remaining = part;
        let mut next_unit = 0;
        while !remaining.is_empty() {
            let number_end = remaining.find(|c: char| !c.is_ascii_digit())?;
            let number: i64 = remaining[..number_end].parse().ok()?;
            let unit = remaining[number_end..].chars().next()?.to_ascii_uppercase();
            let position = units[next_unit..].iter().position(|(u, _)| *u == unit)?;
            let factor = units[next_unit + position].1;
            next_unit += position + 1;
            *target = target.checked_add(number.checked_mul(factor)?)?;
            remaining = &remaining[number_end + 1..];
            any = true;
        }
        Some(())
    };
    take(date_part, &[('W', 7), ('D', 1)], &mut days)?;
    if let Some(time_part) = time_part {
        if time_part.is_empty() {
            return None;
        }
        take(time_part, &[('H', 3600), ('M', 60), ('S', 1)], &mut seconds)?;
    }
    any.then_some(IcalDuration {
        negative,
        days,
        seconds,
    })
}

/// `±HHMM[SS]` as seconds east of UTC.
pub(super) fn parse_utc_offset(s: &str) -> Option<i32> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &s[1..];
    if (body.len() != 4 && body.len() != 6) || !body.is_ascii() {
        return None;
    }
    let hours = digits(&body[..2])?;
    let minutes = digits(&body[2..4])?;
    let seconds = if body.len() == 6 {
        digits(&body[4..6])?
    } else {
        0
    };
    if hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some(sign * i32::try_from(hours * 3600 + minutes * 60 + seconds).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_every_rfc_escape() {
        let (text, unknown) = unescape_text(r"a\,b\;c\\d\ne\Nf");
        assert_eq!(text, "a,b;c\\d\ne\nf");
        assert_eq!(unknown, None);
    }

    #[test]
    fn unknown_escape_keeps_the_character_and_is_reported() {
        assert_eq!(
            unescape_text(r"http\://x"),
            ("http://x".to_owned(), Some(':'))
        );
        assert_eq!(unescape_text("ends\\"), ("ends\\".to_owned(), None));
    }

    #[test]
    fn rejects_impossible_dates_and_times() {
        assert_eq!(parse_date("20230230"), None);
        assert_eq!(parse_date("20231301"), None);
        assert_eq!(parse_date("2023011"), None);
        assert_eq!(parse_date_time("20230101T250000"), None);
        assert_eq!(parse_date_time("20230101T126000"), None);
        assert_eq!(parse_date_time("2023-01-01T12:00:00Z"), None);
        assert_eq!(parse_date_or_date_time("INVALID-DATE"), None);
        assert_eq!(parse_date("２０２３０１０１"), None);
    }

    #[test]
    fn parses_dates_and_date_times() {
        let date = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(parse_date("20240229"), Some(date));
        assert_eq!(
            parse_date_time("20240229T235960Z"),
            Some((date.and_hms_opt(23, 59, 59).unwrap(), true))
        );
        assert_eq!(
            parse_date_or_date_time("20240229"),
            Some(DateValue::Date(date))
        );
    }

    #[test]
    fn parses_durations() {
        let d = |negative, days, seconds| {
            Some(IcalDuration {
                negative,
                days,
                seconds,
            })
        };
        assert_eq!(parse_duration("PT1H30M"), d(false, 0, 5400));
        assert_eq!(parse_duration("P1W"), d(false, 7, 0));
        assert_eq!(parse_duration("-P1DT2S"), d(true, 1, 2));
        assert_eq!(parse_duration("P"), None);
        assert_eq!(parse_duration("PT"), None);
        assert_eq!(parse_duration("P1H"), None);
        assert_eq!(parse_duration("PT30M1H"), None);
        assert_eq!(parse_duration("1H"), None);
    }

    #[test]
    fn parses_utc_offsets_with_seconds() {
        assert_eq!(parse_utc_offset("+0100"), Some(3600));
        assert_eq!(parse_utc_offset("-000115"), Some(-75));
        assert_eq!(parse_utc_offset("0100"), None);
        assert_eq!(parse_utc_offset("+2500"), None);
    }
}
