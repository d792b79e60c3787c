//! Physical lines → unfolded content lines, with the physical line each one starts on.
//!
//! The `ical` crate reads physical lines with `BufRead::lines`, which stops the whole parse
//! without an error on the first line that is not UTF-8 on its own, and it numbers lines in a
//! way we cannot map back. So unfolding and decoding happen here, on bytes: RFC 5545 §3.1
//! defines unfolding on the octet stream, before the text is decoded, so a fold that splits a
//! multi-byte character (a writer bug) still decodes to exactly the text that was meant.

use super::{ImportError, ImportWarning};

/// One unfolded content line (RFC 5545 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ContentLine {
    /// 1-based physical line where the content line starts.
    pub line: usize,
    /// Property name, upper-cased: names are case-insensitive and the `ical` crate compares
    /// them case-sensitively.
    pub name: String,
    /// Raw parameter text including its leading `;`, or empty.
    pub params: String,
    /// Raw value, exactly as written after unfolding.
    pub value: String,
}

#[derive(Debug)]
pub(super) struct Lexed {
    pub lines: Vec<ContentLine>,
    /// Last physical line that holds content, and its text, for "file ends early" errors.
    pub last_line: usize,
    pub last_text: String,
}

struct RawLogical {
    bytes: Vec<u8>,
    /// `(offset in bytes, physical line)` of each physical line folded into this one.
    segments: Vec<(usize, usize)>,
}

pub(super) fn content_lines(
    bytes: &[u8],
    warnings: &mut Vec<ImportWarning>,
) -> Result<Lexed, ImportError> {
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => {
            warnings.push(ImportWarning {
                line: 1,
                message: "UTF-8 byte order mark at the start of the file ignored".into(),
            });
            rest
        }
        None => bytes,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::whole_file(
            "the file is empty: it has no iCalendar data",
        ));
    }

    let mut logical: Vec<RawLogical> = Vec::new();
    let mut previous_blank = false;
    let mut last_line = 0;
    let mut seen_content = false;
    for (index, physical) in bytes.split(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        let physical = trim_trailing_cr(physical);
        if physical.is_empty() {
            // Blank lines are not allowed by RFC 5545, but iTIP archives and hand-edited files
            // separate objects with them; they carry nothing, so they are simply skipped.
            previous_blank = true;
            continue;
        }
        if !seen_content {
            check_signature(physical, number)?;
            seen_content = true;
        }
        last_line = number;
        if matches!(physical[0], b' ' | b'\t') {
            let Some(current) = logical.last_mut() else {
                // Unreachable after `check_signature`, kept so a change there cannot panic.
                return Err(continuation_error(number));
            };
            if previous_blank {
                return Err(ImportError::at(
                    number,
                    "a continuation line (starting with a space or tab) follows an empty line, \
                     so it is not clear which line it continues",
                ));
            }
            current.segments.push((current.bytes.len(), number));
            current.bytes.extend_from_slice(&physical[1..]);
        } else {
            logical.push(RawLogical {
                bytes: physical.to_vec(),
                segments: vec![(0, number)],
            });
        }
        previous_blank = false;
    }

    let mut lines = Vec::with_capacity(logical.len());
    for raw in logical {
        let text = decode(&raw, warnings)?;
        let line = raw.segments[0].1;
        let is_structure = text
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("BEGIN:"))
            || text
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("END:"));
        match parse_content_line(text, line) {
            Ok(content) => lines.push(content),
            // A broken property line spoils the component it is in, not the file:
            // it is carried as a marker, and an event holding one is skipped.
            // BEGIN/END lines are the file's structure and stay fatal.
            Err(error) if !is_structure => lines.push(ContentLine {
                line,
                name: UNREADABLE.into(),
                params: String::new(),
                value: error.message.replace(['\r', '\n'], " "),
            }),
            Err(error) => return Err(error),
        }
    }
    let last_text = bytes
        .split(|&b| b == b'\n')
        .nth(last_line.saturating_sub(1))
        .map(|l| preview(&String::from_utf8_lossy(trim_trailing_cr(l))))
        .unwrap_or_default();
    Ok(Lexed {
        lines,
        last_line,
        last_text,
    })
}

fn trim_trailing_cr(mut line: &[u8]) -> &[u8] {
    // A doubled CR before LF is a known Windows-tool artefact; it carries no content.
    while let [rest @ .., b'\r'] = line {
        line = rest;
    }
    line
}

fn continuation_error(line: usize) -> ImportError {
    ImportError::at(
        line,
        "the file starts with a continuation line (starting with a space or tab), \
         which has no content line to continue",
    )
}

/// Refuses non-calendar input (HTML error pages, PDFs, CSV, …) with one clear message instead of
/// whatever syntax error its first line would trigger.
fn check_signature(first: &[u8], line: usize) -> Result<(), ImportError> {
    if matches!(first[0], b' ' | b'\t') {
        return Err(continuation_error(line));
    }
    let text = String::from_utf8_lossy(first);
    let trimmed = text.trim_end();
    if trimmed.eq_ignore_ascii_case("BEGIN:VCALENDAR") {
        return Ok(());
    }
    Err(ImportError::at(
        line,
        format!(
            "not an iCalendar file: expected BEGIN:VCALENDAR, found \"{}\"",
            preview(trimmed)
        ),
    ))
}

fn decode(raw: &RawLogical, warnings: &mut Vec<ImportWarning>) -> Result<String, ImportError> {
    match std::str::from_utf8(&raw.bytes) {
        Ok(text) => {
            for &(offset, line) in &raw.segments[1..] {
                if !text.is_char_boundary(offset) {
                    warnings.push(ImportWarning {
                        line,
                        message: "a line fold splits a multi-byte UTF-8 character; the lines \
                                  were joined before decoding, as RFC 5545 §3.1 specifies, \
                                  and the text decodes cleanly"
                            .into(),
                    });
                }
            }
            Ok(text.to_owned())
        }
        Err(error) => {
            let offset = error.valid_up_to();
            let (segment_start, line) = raw
                .segments
                .iter()
                .rev()
                .find(|(start, _)| *start <= offset)
                .copied()
                .unwrap_or(raw.segments[0]);
            // Continuation lines lost their leading space or tab when they were joined.
            let column = offset - segment_start + usize::from(segment_start > 0) + 1;
            Err(ImportError::at(
                line,
                format!(
                    "invalid UTF-8 (byte 0x{:02X} at column {column}); iCalendar files must be \
                     UTF-8 encoded (RFC 5545 §3.1.4)",
                    raw.bytes[offset]
                ),
            ))
        }
    }
}

/// Name of the marker property that stands for a line that is not a content
/// line; `event` turns it back into the error of the component holding it.
pub(super) const UNREADABLE: &str = "X-PREGON-UNREADABLE";

fn parse_content_line(text: String, line: usize) -> Result<ContentLine, ImportError> {
    let not_content_line = || {
        ImportError::at(
            line,
            format!(
                "\"{}\" is not a content line (expected NAME:value or NAME;PARAM=value:value)",
                preview(&text)
            ),
        )
    };
    let name_end = text.find([';', ':']).ok_or_else(not_content_line)?;
    let name = &text[..name_end];
    // RFC 5545 names are letters, digits and '-'; '_' shows up in some X- names and is harmless.
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(not_content_line());
    }
    let rest = &text[name_end..];
    let mut in_quotes = false;
    let mut value_start = None;
    for (index, c) in rest.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ':' if !in_quotes => {
                value_start = Some(index);
                break;
            }
            _ => {}
        }
    }
    let Some(value_start) = value_start else {
        if in_quotes {
            return Err(ImportError::at(
                line,
                format!(
                    "{} has a parameter value with an opening '\"' but no closing one",
                    name.to_ascii_uppercase()
                ),
            ));
        }
        return Err(not_content_line());
    };
    Ok(ContentLine {
        line,
        name: name.to_ascii_uppercase(),
        params: rest[..value_start].to_owned(),
        value: rest[value_start + 1..].to_owned(),
    })
}

/// First 60 characters of a line, for messages.
pub(super) fn preview(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(input: &str) -> Result<(Vec<ContentLine>, Vec<ImportWarning>), ImportError> {
        let mut warnings = Vec::new();
        content_lines(input.as_bytes(), &mut warnings).map(|l| (l.lines, warnings))
    }

    #[test]
    fn unfolds_space_and_tab_continuations_and_numbers_first_physical_line() {
        let (lines, warnings) =
            lex("BEGIN:VCALENDAR\r\nSUMMARY:one \r\n two\r\n\tthree\r\nEND:VCALENDAR").unwrap();
        assert!(warnings.is_empty());
        assert_eq!(lines[1].value, "one twothree");
        assert_eq!(lines[1].line, 2);
        assert_eq!(lines[2].line, 5);
    }

    #[test]
    fn splits_params_outside_quotes_only() {
        let (lines, _) =
            lex("BEGIN:VCALENDAR\nATTENDEE;DELEGATED-TO=\"mailto:e@x.org\";CN=A:mailto:c@x.org\n")
                .unwrap();
        assert_eq!(lines[1].params, ";DELEGATED-TO=\"mailto:e@x.org\";CN=A");
        assert_eq!(lines[1].value, "mailto:c@x.org");
    }

    #[test]
    fn keeps_value_colons_and_trailing_spaces() {
        let (lines, _) = lex("BEGIN:VCALENDAR\nsummary::-) \n").unwrap();
        assert_eq!(lines[1].name, "SUMMARY");
        assert_eq!(lines[1].value, ":-) ");
    }

    #[test]
    fn invalid_utf8_names_the_physical_line_and_column() {
        let mut bytes = b"BEGIN:VCALENDAR\r\nSUMMARY:ok\r\n line two \xE9t\xE9\r\n".to_vec();
        bytes.extend_from_slice(b"END:VCALENDAR\r\n");
        let error = content_lines(&bytes, &mut Vec::new()).unwrap_err();
        assert_eq!(error.line, Some(3));
        assert!(error.message.contains("byte 0xE9 at column 11"), "{error}");
    }

    #[test]
    fn line_without_colon_is_carried_as_unreadable() {
        // The component holding it decides: an event is skipped, a calendar refused.
        let (lines, _) = lex("BEGIN:VCALENDAR\nthis is prose\n").unwrap();
        assert_eq!(lines[1].name, UNREADABLE);
        assert_eq!(lines[1].line, 2);
        assert!(
            lines[1]
                .value
                .contains("\"this is prose\" is not a content line")
        );
    }

    #[test]
    fn unterminated_quote_is_carried_as_unreadable() {
        let (lines, _) = lex("BEGIN:VCALENDAR\nX-A;P=\"open:value\n").unwrap();
        assert_eq!((lines[1].name.as_str(), lines[1].line), (UNREADABLE, 2));
        assert!(
            lines[1].value.contains("no closing one"),
            "{}",
            lines[1].value
        );
    }

    #[test]
    fn continuation_after_blank_line_is_refused() {
        let error = lex("BEGIN:VCALENDAR\nSUMMARY:a\n\n b\n").unwrap_err();
        assert_eq!(error.line, Some(4));
    }
}
