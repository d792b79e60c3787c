//! Replies to invitations (iTIP `METHOD:REPLY`, RFC 5546 §3.2.3), as the
//! participant's calendar program sends them: either the `text/calendar`
//! object itself or the whole email that carries it (as a part or an `.ics`
//! attachment). Pure: finding whose answer it is belongs to the caller.

use crate::domain::participation::ParticipationAnswer;
use mail_parser::{MessageParser, MimeHeaders, PartType};

/// One attendee's answer to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub uid: String,
    /// The SEQUENCE of the invitation answered (0 when absent).
    pub sequence: i32,
    /// The attendee's address, without `mailto:`.
    pub attendee: String,
    pub answer: ParticipationAnswer,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("no text/calendar object found")]
    NoCalendar,
    #[error("not an iCalendar object: {0}")]
    Unreadable(String),
    #[error("METHOD is {0:?}, not REPLY")]
    NotAReply(String),
    #[error("{0}")]
    Invalid(String),
}

/// Reads a reply from a `text/calendar` body or from an email carrying one.
pub fn parse(bytes: &[u8]) -> Result<Reply, ReplyError> {
    if looks_like_calendar(bytes) {
        return parse_calendar(bytes);
    }
    let message = MessageParser::default()
        .parse(bytes)
        .ok_or(ReplyError::NoCalendar)?;
    let mut found = None;
    for part in &message.parts {
        let is_calendar = part.content_type().is_some_and(|ct| {
            let essence =
                format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")).to_ascii_lowercase();
            essence == "text/calendar" || essence == "application/ics"
        }) || part
            .attachment_name()
            .is_some_and(|n| n.to_ascii_lowercase().ends_with(".ics"));
        if is_calendar && !matches!(part.body, PartType::Multipart(_)) {
            let contents = part.contents();
            // The first that says REPLY; calendars attach the same object twice.
            match parse_calendar(contents) {
                Ok(reply) => return Ok(reply),
                Err(e) => found = found.or(Some(e)),
            }
        }
    }
    Err(found.unwrap_or(ReplyError::NoCalendar))
}

fn looks_like_calendar(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    bytes[start..]
        .get(..15)
        .is_some_and(|head| head.eq_ignore_ascii_case(b"BEGIN:VCALENDAR"))
}

fn parse_calendar(bytes: &[u8]) -> Result<Reply, ReplyError> {
    let text = String::from_utf8_lossy(bytes);
    let calendar = ical::IcalParser::new(text.as_bytes())
        .next()
        .ok_or(ReplyError::NoCalendar)?
        .map_err(|e| ReplyError::Unreadable(e.to_string()))?;
    let value = |props: &[ical::property::Property], name: &str| {
        props
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .and_then(|p| p.value.clone())
    };
    let method = value(&calendar.properties, "METHOD").unwrap_or_default();
    if !method.trim().eq_ignore_ascii_case("REPLY") {
        return Err(ReplyError::NotAReply(method));
    }
    // The whole event's answer: overrides of single occurrences carry a
    // RECURRENCE-ID and are not what a participation records.
    let event = calendar
        .events
        .iter()
        .find(|e| value(&e.properties, "RECURRENCE-ID").is_none())
        .ok_or_else(|| {
            ReplyError::Invalid(
                "the reply answers single occurrences only; answers are recorded per activity"
                    .into(),
            )
        })?;
    let uid = value(&event.properties, "UID")
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ReplyError::Invalid("the event has no UID".into()))?;
    let sequence = match value(&event.properties, "SEQUENCE") {
        None => 0,
        Some(s) => s
            .trim()
            .parse()
            .map_err(|_| ReplyError::Invalid(format!("SEQUENCE {s:?} is not a number")))?,
    };
    let attendees: Vec<&ical::property::Property> = event
        .properties
        .iter()
        .filter(|p| p.name.eq_ignore_ascii_case("ATTENDEE"))
        .collect();
    // RFC 5546 §3.2.3: a REPLY carries the one attendee who answers.
    let [attendee] = attendees.as_slice() else {
        return Err(ReplyError::Invalid(format!(
            "a reply names exactly one ATTENDEE, this one {}",
            attendees.len()
        )));
    };
    let address = attendee
        .value
        .as_deref()
        .map(str::trim)
        .and_then(|v| {
            v.get(..7)
                .filter(|s| s.eq_ignore_ascii_case("mailto:"))
                .map(|_| &v[7..])
        })
        .filter(|a| a.contains('@'))
        .ok_or_else(|| ReplyError::Invalid("the ATTENDEE is not a mailto: address".into()))?;
    let partstat = attendee
        .params
        .iter()
        .flatten()
        .find(|(k, _)| k.eq_ignore_ascii_case("PARTSTAT"))
        .and_then(|(_, v)| v.first().cloned())
        .unwrap_or_default();
    let answer = answer_of(&partstat).ok_or_else(|| {
        ReplyError::Invalid(format!(
            "PARTSTAT {partstat:?} is not an answer (ACCEPTED, TENTATIVE or DECLINED)"
        ))
    })?;
    Ok(Reply {
        uid,
        sequence,
        attendee: address.to_ascii_lowercase(),
        answer,
    })
}

/// PARTSTAT → answer; NEEDS-ACTION, DELEGATED and the rest are not answers.
pub fn answer_of(partstat: &str) -> Option<ParticipationAnswer> {
    match partstat.trim().to_ascii_uppercase().as_str() {
        "ACCEPTED" => Some(ParticipationAnswer::Accepted),
        "TENTATIVE" => Some(ParticipationAnswer::Tentative),
        "DECLINED" => Some(ParticipationAnswer::Declined),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(method: &str, attendees: &str, extra: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n\
             METHOD:{method}\r\nBEGIN:VEVENT\r\nDTSTART:20200310T100000Z\r\nDTSTAMP:20200301T090000Z\r\n\
             ORGANIZER;CN=Pregón:mailto:agenda@pregon.test\r\nUID:act-7@pregon.test\r\n{attendees}\
             SEQUENCE:3\r\n{extra}SUMMARY:Panel\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    }

    #[test]
    fn partstats_map_to_answers() {
        for (partstat, answer) in [
            ("ACCEPTED", Some(ParticipationAnswer::Accepted)),
            ("tentative", Some(ParticipationAnswer::Tentative)),
            ("DECLINED", Some(ParticipationAnswer::Declined)),
            ("NEEDS-ACTION", None),
            ("DELEGATED", None),
            ("", None),
        ] {
            assert_eq!(answer_of(partstat), answer, "{partstat}");
        }
    }

    #[test]
    fn a_calendar_reply_is_read() {
        let text = reply(
            "REPLY",
            "ATTENDEE;CN=\"Pérez, Ana\";PARTSTAT=TENTATIVE:mailto:Ana@Example.org\r\n",
            "",
        );
        assert_eq!(
            parse(text.as_bytes()).unwrap(),
            Reply {
                uid: "act-7@pregon.test".into(),
                sequence: 3,
                attendee: "ana@example.org".into(),
                answer: ParticipationAnswer::Tentative,
            }
        );
    }

    #[test]
    fn the_same_inside_an_email() {
        let ics = reply(
            "REPLY",
            "ATTENDEE;PARTSTAT=DECLINED:mailto:ana@example.org\r\n",
            "",
        );
        let email = format!(
            "From: ana@example.org\r\nTo: agenda@pregon.test\r\nSubject: Declined: Panel\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nAna has declined.\r\n\
             --b\r\nContent-Type: text/calendar; method=REPLY; charset=UTF-8\r\n\r\n{ics}\
             --b--\r\n"
        );
        let got = parse(email.as_bytes()).unwrap();
        assert_eq!(got.answer, ParticipationAnswer::Declined);
        assert_eq!(got.uid, "act-7@pregon.test");
    }

    #[test]
    fn what_is_not_an_answer_is_refused() {
        let one = "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.org\r\n";
        assert!(matches!(
            parse(reply("REQUEST", one, "").as_bytes()),
            Err(ReplyError::NotAReply(_))
        ));
        let two = format!("{one}ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.org\r\n");
        assert!(matches!(
            parse(reply("REPLY", &two, "").as_bytes()),
            Err(ReplyError::Invalid(_))
        ));
        let pending = "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ana@example.org\r\n";
        assert!(matches!(
            parse(reply("REPLY", pending, "").as_bytes()),
            Err(ReplyError::Invalid(_))
        ));
        let occurrence = reply("REPLY", one, "RECURRENCE-ID:20200317T100000Z\r\n");
        assert!(matches!(
            parse(occurrence.as_bytes()),
            Err(ReplyError::Invalid(_))
        ));
        assert_eq!(
            parse(b"From: a@b\r\nSubject: hi\r\n\r\nno calendar here"),
            Err(ReplyError::NoCalendar)
        );
    }
}
