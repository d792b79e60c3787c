//! Component structure: BEGIN/END balance and nesting, limits, and the `ical` crate's parse.
//!
//! The skeleton (which component each content line belongs to, with its physical line) is built
//! here first, so every structural error names its line. The `ical` crate then parses the
//! normalised text (one already-unfolded line per content line, upper-case names, unknown
//! components removed) and its properties are matched back to the skeleton one by one.
//!
//! Workarounds for `ical` 0.11, each verified against its source:
//! - it stops silently at a physical line that is not UTF-8 → it only ever sees decoded text;
//! - it trims trailing whitespace and strips every leading ':' from a value → values are kept
//!   from our own lexer, only names and parameters come from the crate;
//! - it rejects IANA/X- components such as VAVAILABILITY or RFC 9073 VLOCATION → they are left
//!   out of the text it sees (and reported as ignored);
//! - it compares names and BEGIN/END values case-sensitively → both are upper-cased first;
//! - it does not check that END matches BEGIN → checked here.

use ical::parser::ParserError;
use ical::parser::ical::component::{IcalCalendar, IcalTimeZone};
use ical::property::{Property as IcalProperty, PropertyError};

use super::lexer::{ContentLine, Lexed};
use super::{ImportError, ImportLimits, ImportWarning};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Property {
    pub name: String,
    /// Parameter names upper-cased, values unquoted (from the `ical` crate).
    pub params: Vec<(String, Vec<String>)>,
    pub value: String,
    pub line: usize,
}

impl Property {
    /// First value of a parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, values)| values.first())
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Component {
    pub kind: String,
    /// Physical line of BEGIN.
    pub line: usize,
    pub properties: Vec<Property>,
    pub children: Vec<Component>,
}

impl Component {
    fn new(kind: String, line: usize) -> Self {
        Self {
            kind,
            line,
            properties: Vec::new(),
            children: Vec::new(),
        }
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Property> + 'a {
        self.properties.iter().filter(move |p| p.name == name)
    }

    pub fn first(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }
}

enum Placement {
    Allowed,
    /// IANA or X- components we do not know: RFC 5545 §3.6 says to ignore them.
    Ignored,
    Misplaced,
}

fn placement(kind: &str, parent: Option<&str>) -> Placement {
    let parents: &[&str] = match kind {
        "VCALENDAR" => {
            return if parent.is_none() {
                Placement::Allowed
            } else {
                Placement::Misplaced
            };
        }
        "VEVENT" | "VTODO" | "VJOURNAL" | "VFREEBUSY" | "VTIMEZONE" => &["VCALENDAR"],
        "VALARM" => &["VEVENT", "VTODO"],
        "STANDARD" | "DAYLIGHT" => &["VTIMEZONE"],
        _ if parent.is_some() => return Placement::Ignored,
        _ => return Placement::Misplaced,
    };
    if parent.is_some_and(|p| parents.contains(&p)) {
        Placement::Allowed
    } else {
        Placement::Misplaced
    }
}

/// Normalised text for the `ical` crate, with the physical line of each of its lines.
#[derive(Default)]
struct Emitted {
    text: String,
    lines: Vec<usize>,
}

impl Emitted {
    fn push(&mut self, line: &ContentLine, name: &str, params: &str, value: &str) {
        self.text.push_str(name);
        self.text.push_str(params);
        self.text.push(':');
        self.text.push_str(value);
        self.text.push('\n');
        self.lines.push(line.line);
    }
}

pub(super) fn build(
    lexed: &Lexed,
    limits: &ImportLimits,
    warnings: &mut Vec<ImportWarning>,
) -> Result<Vec<Component>, ImportError> {
    let mut calendars = Vec::new();
    let mut open: Vec<Component> = Vec::new();
    // Kinds and lines of the ignored component being skipped and of anything nested in it.
    let mut skipping: Vec<(String, usize)> = Vec::new();
    let mut emitted = Emitted::default();
    let mut event_count = 0usize;

    for line in &lexed.lines {
        match line.name.as_str() {
            "BEGIN" => {
                let kind = component_name(line)?;
                if !skipping.is_empty() {
                    skipping.push((kind, line.line));
                    continue;
                }
                let parent = open.last();
                match placement(&kind, parent.map(|c| c.kind.as_str())) {
                    Placement::Allowed => {
                        if kind == "VEVENT" {
                            event_count += 1;
                            if event_count > limits.max_events {
                                return Err(ImportError::at(
                                    line.line,
                                    format!(
                                        "the file has more than {} events, the import limit",
                                        limits.max_events
                                    ),
                                ));
                            }
                        }
                        emitted.push(line, "BEGIN", "", &kind);
                        open.push(Component::new(kind, line.line));
                    }
                    Placement::Ignored => {
                        warnings.push(ImportWarning {
                            line: line.line,
                            message: format!(
                                "unsupported component {kind} inside {} ignored",
                                parent.map_or("", |p| p.kind.as_str())
                            ),
                        });
                        skipping.push((kind, line.line));
                    }
                    Placement::Misplaced => {
                        return Err(misplaced(&kind, line.line, parent));
                    }
                }
            }
            "END" => {
                let kind = component_name(line)?;
                if let Some((skipped, begin_line)) = skipping.last() {
                    if *skipped != kind {
                        return Err(mismatched_end(&kind, line.line, skipped, *begin_line));
                    }
                    skipping.pop();
                    continue;
                }
                let Some(component) = open.pop() else {
                    return Err(ImportError::at(
                        line.line,
                        format!("END:{kind} has no matching BEGIN:{kind}"),
                    ));
                };
                if component.kind != kind {
                    return Err(mismatched_end(
                        &kind,
                        line.line,
                        &component.kind,
                        component.line,
                    ));
                }
                emitted.push(line, "END", "", &kind);
                match open.last_mut() {
                    Some(parent) => parent.children.push(component),
                    None => calendars.push(component),
                }
            }
            _ => {
                if !skipping.is_empty() {
                    continue;
                }
                let Some(component) = open.last_mut() else {
                    return Err(ImportError::at(
                        line.line,
                        format!(
                            "{} is outside any BEGIN:VCALENDAR … END:VCALENDAR",
                            line.name
                        ),
                    ));
                };
                emitted.push(line, &line.name, &line.params, &line.value);
                component.properties.push(Property {
                    name: line.name.clone(),
                    params: Vec::new(),
                    value: line.value.clone(),
                    line: line.line,
                });
            }
        }
    }

    let innermost = skipping
        .last()
        .map(|(kind, line)| (kind.as_str(), *line))
        .or_else(|| open.last().map(|c| (c.kind.as_str(), c.line)));
    if let Some((kind, begin_line)) = innermost {
        return Err(ImportError::at(
            lexed.last_line,
            format!(
                "the file ends (last line: \"{}\") inside {kind}: BEGIN:{kind} at line \
                 {begin_line} has no END:{kind}; the file looks truncated",
                lexed.last_text
            ),
        ));
    }

    let parsed = ical::IcalParser::new(emitted.text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| crate_error(error, &emitted.lines))?;
    if parsed.len() != calendars.len() {
        return Err(internal_mismatch("VCALENDAR count"));
    }
    for (calendar, parsed) in calendars.iter_mut().zip(parsed) {
        attach_calendar(calendar, parsed)?;
    }
    Ok(calendars)
}

fn component_name(line: &ContentLine) -> Result<String, ImportError> {
    let kind = line.value.trim().to_ascii_uppercase();
    if kind.is_empty() {
        return Err(ImportError::at(
            line.line,
            format!("{} without a component name", line.name),
        ));
    }
    Ok(kind)
}

fn misplaced(kind: &str, line: usize, parent: Option<&Component>) -> ImportError {
    let message = match parent {
        None => format!("BEGIN:{kind} is outside any BEGIN:VCALENDAR … END:VCALENDAR"),
        Some(parent) if parent.kind == kind => format!(
            "BEGIN:{kind} inside {kind} (opened at line {}); is END:{kind} missing?",
            parent.line
        ),
        Some(parent) => format!(
            "BEGIN:{kind} cannot appear inside {} (opened at line {})",
            parent.kind, parent.line
        ),
    };
    ImportError::at(line, message)
}

fn mismatched_end(kind: &str, line: usize, open_kind: &str, open_line: usize) -> ImportError {
    ImportError::at(
        line,
        format!("END:{kind} does not match BEGIN:{open_kind} at line {open_line}"),
    )
}

fn crate_error(error: ParserError, lines: &[usize]) -> ImportError {
    let (line, detail) = match &error {
        ParserError::PropertyError(property_error) => match property_error {
            PropertyError::MissingName { line } => (*line, "it has no property name"),
            PropertyError::MissingClosingQuote { line } => {
                (*line, "a quoted parameter value has no closing quote")
            }
            PropertyError::MissingDelimiter { line, .. } => (*line, "a parameter has no '='"),
            PropertyError::MissingContentAfter { line, .. } => {
                (*line, "a parameter has no value after '='")
            }
            PropertyError::MissingParamKey { line } => (*line, "a parameter has no name"),
        },
        // The pre-pass already guarantees what these check; reaching them means the crate
        // changed behaviour.
        _ => {
            return ImportError::whole_file(format!(
                "internal error: the ical parser refused a file the pre-pass accepted ({error})"
            ));
        }
    };
    match line.checked_sub(1).and_then(|index| lines.get(index)) {
        Some(physical) => ImportError::at(*physical, format!("malformed parameters: {detail}")),
        None => ImportError::whole_file(format!("malformed parameters: {detail}")),
    }
}

fn internal_mismatch(what: &str) -> ImportError {
    ImportError::whole_file(format!(
        "internal error: the ical parser's component tree does not match the pre-pass ({what})"
    ))
}

fn attach_properties(
    properties: &mut [Property],
    parsed: Vec<IcalProperty>,
) -> Result<(), ImportError> {
    if properties.len() != parsed.len() {
        return Err(internal_mismatch("property count"));
    }
    for (property, parsed) in properties.iter_mut().zip(parsed) {
        if !parsed.name.eq_ignore_ascii_case(&property.name) {
            return Err(internal_mismatch("property name"));
        }
        property.params = parsed.params.unwrap_or_default();
    }
    Ok(())
}

fn attach_calendar(calendar: &mut Component, parsed: IcalCalendar) -> Result<(), ImportError> {
    attach_properties(&mut calendar.properties, parsed.properties)?;
    let mut events = parsed.events.into_iter();
    let mut todos = parsed.todos.into_iter();
    let mut journals = parsed.journals.into_iter();
    let mut free_busys = parsed.free_busys.into_iter();
    let mut timezones = parsed.timezones.into_iter();
    for child in &mut calendar.children {
        let missing = || internal_mismatch("component count");
        match child.kind.as_str() {
            "VEVENT" => {
                let event = events.next().ok_or_else(missing)?;
                attach_properties(&mut child.properties, event.properties)?;
                attach_alarms(child, event.alarms)?;
            }
            "VTODO" => {
                let todo = todos.next().ok_or_else(missing)?;
                attach_properties(&mut child.properties, todo.properties)?;
                attach_alarms(child, todo.alarms)?;
            }
            "VJOURNAL" => {
                let journal = journals.next().ok_or_else(missing)?;
                attach_properties(&mut child.properties, journal.properties)?;
            }
            "VFREEBUSY" => {
                let free_busy = free_busys.next().ok_or_else(missing)?;
                attach_properties(&mut child.properties, free_busy.properties)?;
            }
            "VTIMEZONE" => {
                let timezone = timezones.next().ok_or_else(missing)?;
                attach_timezone(child, timezone)?;
            }
            _ => return Err(missing()),
        }
    }
    Ok(())
}

fn attach_alarms(
    component: &mut Component,
    alarms: Vec<ical::parser::ical::component::IcalAlarm>,
) -> Result<(), ImportError> {
    if component.children.len() != alarms.len() {
        return Err(internal_mismatch("VALARM count"));
    }
    for (child, alarm) in component.children.iter_mut().zip(alarms) {
        attach_properties(&mut child.properties, alarm.properties)?;
    }
    Ok(())
}

fn attach_timezone(component: &mut Component, parsed: IcalTimeZone) -> Result<(), ImportError> {
    attach_properties(&mut component.properties, parsed.properties)?;
    if component.children.len() != parsed.transitions.len() {
        return Err(internal_mismatch("STANDARD/DAYLIGHT count"));
    }
    for (child, transition) in component.children.iter_mut().zip(parsed.transitions) {
        attach_properties(&mut child.properties, transition.properties)?;
    }
    Ok(())
}
