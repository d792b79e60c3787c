//! RFC 5545 content-line writer: folding, escaping and value formatting.
//!
//! Everything here is pure string work so that the rest of the module never
//! builds a content line by hand: any line that reaches the output went
//! through [`ContentWriter::property`], which sanitises, escapes and folds it.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

/// RFC 5545 §3.1: lines SHOULD NOT be longer than 75 octets, excluding the
/// line break. Several clients (old Outlook, some Android sync adapters)
/// treat it as a hard limit, so it is one here.
pub const MAX_LINE_OCTETS: usize = 75;

const CRLF: &str = "\r\n";

/// One property parameter, e.g. `TZID=Europe/Madrid`.
///
/// The value is the raw, unquoted text; [`param_value`] quotes and
/// sanitises it when the line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

impl<'a> Param<'a> {
    pub const fn new(name: &'a str, value: &'a str) -> Self {
        Param { name, value }
    }
}

/// Accumulates folded, CRLF-terminated content lines.
#[derive(Debug, Default, Clone)]
pub struct ContentWriter {
    out: String,
}

impl ContentWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// `BEGIN:<component>`.
    pub fn begin(&mut self, component: &str) {
        self.property("BEGIN", &[], component);
    }

    /// `END:<component>`.
    pub fn end(&mut self, component: &str) {
        self.property("END", &[], component);
    }

    /// Writes a property whose value is already in its final RFC 5545 form
    /// (a DATE-TIME, URI, RECUR, an escaped TEXT...). Control characters are
    /// still removed, because a stray CR or LF in, say, a URL taken from a
    /// form would otherwise end the content line early and let the rest be
    /// read as a new property.
    pub fn property(&mut self, name: &str, params: &[Param<'_>], value: &str) {
        let mut line = String::with_capacity(name.len() + value.len() + 16);
        line.push_str(name);
        for p in params {
            line.push(';');
            line.push_str(p.name);
            line.push('=');
            line.push_str(&param_value(p.value));
        }
        line.push(':');
        line.push_str(&strip_controls(value));
        fold_into(&mut self.out, &line);
    }

    /// Writes a TEXT property, escaping the value (RFC 5545 §3.3.11).
    pub fn text(&mut self, name: &str, params: &[Param<'_>], value: &str) {
        self.property(name, params, &escape_text(value));
    }

    /// Writes a multi-valued TEXT property (e.g. CATEGORIES): each item is
    /// escaped on its own so that a comma inside an item stays part of it.
    pub fn text_list<S: AsRef<str>>(&mut self, name: &str, params: &[Param<'_>], values: &[S]) {
        let joined = values
            .iter()
            .map(|v| escape_text(v.as_ref()))
            .collect::<Vec<_>>()
            .join(",");
        self.property(name, params, &joined);
    }

    /// Appends text that is already a sequence of complete, folded,
    /// CRLF-terminated content lines (e.g. a cached VTIMEZONE).
    pub fn raw_lines(&mut self, lines: &str) {
        debug_assert!(lines.is_empty() || lines.ends_with(CRLF));
        self.out.push_str(lines);
    }

    pub fn as_str(&self) -> &str {
        &self.out
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// RFC 5545 CONTROL = %x00-08 / %x0A-1F / %x7F; TAB is allowed everywhere.
fn is_forbidden_control(c: char) -> bool {
    (c.is_ascii_control() && c != '\t') || c == '\u{7f}'
}

fn strip_controls(s: &str) -> String {
    s.chars().filter(|&c| !is_forbidden_control(c)).collect()
}

/// Escapes a TEXT value: `\` `;` `,` are backslash-escaped and every line
/// break (CRLF, LF, or a lone CR as written by old Mac software) becomes the
/// two characters `\n`. Other control characters are dropped because RFC
/// 5545 gives them no representation in TEXT.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            c if is_forbidden_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Inverse of [`escape_text`] for one TEXT value (`\n` and `\N` both mean a
/// newline). An unknown escape keeps the escaped character, as most parsers
/// do, and a trailing lone backslash is kept.
pub fn unescape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') | Some('N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Formats a parameter value. DQUOTE cannot be represented at all (RFC 5545
/// §3.1 param-value), so it is removed, as are control characters; the value
/// is quoted when it contains a character that would otherwise end it.
pub fn param_value(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|&c| c != '"' && !is_forbidden_control(c))
        .collect();
    if clean.contains([':', ';', ',']) {
        format!("\"{clean}\"")
    } else {
        clean
    }
}

/// Folds one logical line (without line break) and appends it, CRLF
/// terminated, to `out`. Every physical line is at most 75 octets including
/// the leading space of continuation lines, and a fold never falls inside a
/// UTF-8 sequence (clients that decode per physical line would otherwise
/// show U+FFFD or reject the feed).
pub fn fold_into(out: &mut String, line: &str) {
    let mut rest = line;
    let mut limit = MAX_LINE_OCTETS;
    loop {
        if rest.len() <= limit {
            out.push_str(rest);
            out.push_str(CRLF);
            return;
        }
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str(CRLF);
        out.push(' ');
        rest = &rest[cut..];
        limit = MAX_LINE_OCTETS - 1;
    }
}

/// Folds one logical line; see [`fold_into`].
pub fn fold_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3 + 2);
    fold_into(&mut out, line);
    out
}

/// Undoes folding: removes every CRLF (or bare LF, which some producers
/// emit) that is followed by a single SPACE or HTAB.
pub fn unfold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut start = 0;
    while i < bytes.len() {
        let brk = if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            2
        } else if bytes[i] == b'\n' {
            1
        } else {
            0
        };
        if brk > 0 && matches!(bytes.get(i + brk), Some(b' ') | Some(b'\t')) {
            out.push_str(&text[start..i]);
            i += brk + 1;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[start..]);
    out
}

/// DATE, e.g. `20200310`.
pub fn format_date(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

/// DATE-TIME in local (TZID or floating) form, e.g. `20200310T100000`.
/// Sub-second precision is dropped: iCalendar has none.
pub fn format_local_datetime(dt: NaiveDateTime) -> String {
    dt.format("%Y%m%dT%H%M%S").to_string()
}

/// DATE-TIME in UTC form, e.g. `20200310T100000Z`.
pub fn format_utc_datetime(dt: DateTime<Utc>) -> String {
    dt.format("%Y%m%dT%H%M%SZ").to_string()
}

/// DURATION (RFC 5545 §3.3.6), e.g. `PT4H`, `P1D`, `P1DT2H30M`, `-PT15M`.
///
/// Whole days are written as `D` (RFC 5545 treats them as nominal days, which
/// is what a refresh interval or an all-day length means); sub-second parts
/// are truncated because the format has none.
pub fn format_duration(d: TimeDelta) -> String {
    let total = d.num_seconds();
    let mut out = String::new();
    if total < 0 {
        out.push('-');
    }
    out.push('P');
    let secs = total.unsigned_abs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if rem > 0 || days == 0 {
        out.push('T');
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0 {
            out.push_str(&format!("{m}M"));
        }
        if s > 0 || rem == 0 {
            out.push_str(&format!("{s}S"));
        }
    }
    out
}

/// UTC-OFFSET (RFC 5545 §3.3.14), e.g. `+0100`, `+0545`, `-000115`. Seconds
/// are written only when non-zero, as the grammar allows; `-0000` is not
/// allowed, so zero is `+0000`.
pub fn format_utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs % 3600 / 60, abs % 60);
    if s == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn physical_lines(folded: &str) -> Vec<&str> {
        assert!(folded.ends_with("\r\n"), "must end with CRLF: {folded:?}");
        folded[..folded.len() - 2].split("\r\n").collect()
    }

    fn check_fold(logical: &str) {
        let folded = fold_line(logical);
        for (i, l) in physical_lines(&folded).iter().enumerate() {
            assert!(
                l.len() <= MAX_LINE_OCTETS,
                "line {i} has {} octets: {l:?}",
                l.len()
            );
            assert!(!l.contains('\n') && !l.contains('\r'));
            if i > 0 {
                assert!(l.starts_with(' '), "continuation must start with SPACE");
                assert!(l.len() > 1, "empty continuation line");
            }
        }
        assert_eq!(unfold(&folded), format!("{logical}\r\n"));
    }

    #[test]
    fn fold_respects_octets_and_utf8_boundaries_for_many_lengths_and_offsets() {
        // Pieces of 1, 2, 3 and 4 octets, shifted by every prefix length, so
        // that every kind of sequence straddles the 75th and 74th octets.
        let pieces = ["a", "ó", "€", "中", "🎄", "é", "👩‍💻"];
        for piece in pieces {
            for prefix in 0..80 {
                for reps in [1, 10, 37, 38, 60, 200] {
                    let logical = format!("{}{}", "x".repeat(prefix), piece.repeat(reps));
                    check_fold(&logical);
                }
            }
        }
        let mixed = "SUMMARY:Tendencias en Innovación Municipal 🎉 中文字符 — Málaga 🎄🎄🎄 ñandú "
            .repeat(9);
        for start in 0..mixed.len() {
            if mixed.is_char_boundary(start) {
                check_fold(&mixed[start..]);
            }
        }
    }

    #[test]
    fn fold_splits_exactly_at_75_and_74_octets_for_ascii() {
        let logical = "A".repeat(75 + 74 + 10);
        let folded = fold_line(&logical);
        let lines = physical_lines(&folded);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].len(), 75);
        assert_eq!(lines[1].len(), 75);
        assert_eq!(lines[2], format!(" {}", "A".repeat(10)));
        assert_eq!(
            fold_line(&"B".repeat(75)).len(),
            77,
            "75 octets is one line"
        );
    }

    #[test]
    fn fold_moves_a_straddling_emoji_to_the_next_line() {
        // 73 ASCII + 4-byte emoji: octets 74..77 would straddle the limit.
        let logical = format!("{}🎄z", "a".repeat(73));
        let folded = fold_line(&logical);
        let lines = physical_lines(&folded);
        assert_eq!(lines[0], "a".repeat(73));
        assert_eq!(lines[1], " 🎄z");
    }

    #[test]
    fn text_escaping_round_trips() {
        let samples = [
            "Tendencias en Innovación Municipal; ODS, 2020\nMálaga 🎉",
            "back\\slash \\n literal, not newline",
            "trailing backslash \\",
            ";;,,\\\\",
            "crlf\r\nand lone cr\rend",
            "",
        ];
        for s in samples {
            let escaped = escape_text(s);
            assert!(!escaped.contains('\n') && !escaped.contains('\r'));
            let expected = s.replace("\r\n", "\n").replace('\r', "\n");
            assert_eq!(unescape_text(&escaped), expected, "escaped: {escaped}");
        }
        assert_eq!(
            escape_text("Tendencias en Innovación Municipal; ODS, 2020\nMálaga 🎉"),
            "Tendencias en Innovación Municipal\\; ODS\\, 2020\\nMálaga 🎉"
        );
    }

    #[test]
    fn controls_are_removed_but_tab_kept() {
        assert_eq!(escape_text("a\u{0}b\u{7}c\td\u{7f}e\u{1b}"), "abc\tde");
        let mut w = ContentWriter::new();
        w.property("URL", &[], "https://x.example/\r\nATTACH:evil");
        assert_eq!(w.finish(), "URL:https://x.example/ATTACH:evil\r\n");
    }

    #[test]
    fn param_values_are_quoted_and_lose_dquotes() {
        assert_eq!(param_value("Europe/Madrid"), "Europe/Madrid");
        assert_eq!(param_value("Pérez, Ana"), "\"Pérez, Ana\"");
        assert_eq!(param_value("a:b"), "\"a:b\"");
        assert_eq!(param_value("x;y"), "\"x;y\"");
        assert_eq!(param_value("Say \"hi\""), "Say hi");
        assert_eq!(param_value("\"q\", r"), "\"q, r\"");
        let mut w = ContentWriter::new();
        w.property(
            "ORGANIZER",
            &[Param::new("CN", "Ayto. de Málaga; \"Oficina\"")],
            "mailto:a@b.es",
        );
        assert_eq!(
            w.finish(),
            "ORGANIZER;CN=\"Ayto. de Málaga; Oficina\":mailto:a@b.es\r\n"
        );
    }

    #[test]
    fn value_formats() {
        let d = NaiveDate::from_ymd_opt(2020, 3, 10).unwrap();
        assert_eq!(format_date(d), "20200310");
        let dt = d.and_hms_opt(10, 0, 0).unwrap();
        assert_eq!(format_local_datetime(dt), "20200310T100000");
        assert_eq!(format_utc_datetime(dt.and_utc()), "20200310T100000Z");
        assert_eq!(format_duration(TimeDelta::hours(4)), "PT4H");
        assert_eq!(format_duration(TimeDelta::days(1)), "P1D");
        assert_eq!(format_duration(TimeDelta::days(7)), "P7D");
        assert_eq!(
            format_duration(TimeDelta::days(1) + TimeDelta::minutes(150)),
            "P1DT2H30M"
        );
        assert_eq!(format_duration(TimeDelta::seconds(61)), "PT1M1S");
        assert_eq!(format_duration(TimeDelta::zero()), "PT0S");
        assert_eq!(format_duration(TimeDelta::minutes(-15)), "-PT15M");
        assert_eq!(format_utc_offset(3600), "+0100");
        assert_eq!(format_utc_offset(5 * 3600 + 45 * 60), "+0545");
        assert_eq!(format_utc_offset(-75), "-000115");
        assert_eq!(format_utc_offset(-(3 * 3600 + 30 * 60)), "-0330");
        assert_eq!(format_utc_offset(0), "+0000");
    }

    #[test]
    fn unfold_accepts_tab_and_bare_lf_continuations() {
        assert_eq!(unfold("AB\r\n C\r\n\tD\r\nE"), "ABCD\r\nE");
        assert_eq!(unfold("AB\n C"), "ABC");
    }
}
