//! What a message read from the inbound mailbox is: a bounce or complaint
//! report (`bounce`), an invitation reply (`itip`), or neither. Pure: the
//! caller records what it says through the use cases.

use super::{bounce, itip};
use mail_parser::{MessageParser, MimeHeaders};

#[derive(Debug)]
pub enum Inbound {
    /// A delivery status notification (RFC 3464) or an abuse report (ARF,
    /// RFC 5965).
    Report(bounce::Report),
    /// An iTIP REPLY (RFC 5546) in a `text/calendar` part.
    Reply(itip::Reply),
}

/// Reads a message; `Err` says why it is neither kind (shown to people,
/// recorded with the message).
pub fn read(raw: &[u8]) -> Result<Inbound, String> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| "not a MIME message".to_owned())?;
    let is_report = message.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    if is_report {
        return bounce::parse(raw)
            .map(Inbound::Report)
            .map_err(|e| format!("report: {e}"));
    }
    match itip::parse(raw) {
        Ok(reply) => Ok(Inbound::Reply(reply)),
        Err(itip::ReplyError::NoCalendar) => Err(
            "neither a bounce or complaint report (multipart/report) nor an invitation reply (text/calendar with METHOD:REPLY)"
                .to_owned(),
        ),
        Err(e) => Err(format!("invitation reply: {e}")),
    }
}

/// The message's own Message-ID, `<…>`, when it has one.
pub fn message_id(raw: &[u8]) -> Option<String> {
    MessageParser::default()
        .parse_headers(raw)
        .and_then(|m| m.message_id().map(|id| format!("<{id}>")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_mail_is_neither() {
        let raw = b"From: someone@example.org\r\nSubject: hello\r\nMessage-ID: <x@y>\r\n\r\nJust text.\r\n";
        let err = read(raw).unwrap_err();
        assert!(err.starts_with("neither"), "{err}");
        assert_eq!(message_id(raw).as_deref(), Some("<x@y>"));
    }

    #[test]
    fn a_report_without_its_status_part_says_so() {
        let raw = b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n--b--\r\n";
        let err = read(raw).unwrap_err();
        assert!(err.contains("message/delivery-status"), "{err}");
    }

    #[test]
    fn a_calendar_request_is_not_a_reply() {
        let raw = b"Content-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:a\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let err = read(raw).unwrap_err();
        assert!(err.starts_with("invitation reply:"), "{err}");
    }
}
