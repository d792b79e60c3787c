//! Reading the messages relays send back: delivery status notifications
//! (RFC 3464, `multipart/report; report-type=delivery-status`) and abuse
//! reports from feedback loops (ARF, RFC 5965, `report-type=feedback-report`).
//! The MTA pipes them to `pregon bounce --message -` or they are posted to
//! `POST /api/v1/bounces/message`; what they say becomes bounce records.
//!
//! Only recipients the report says *failed* count: a permanent status
//! (5.x.x) is a hard bounce, except a policy refusal (5.7.x, see
//! `classify`), which is recorded and suppresses nothing; a transient one
//! the relay gave up on (4.x.x) a soft bounce. "delayed" warnings and success notices are reported back as
//! ignored, since the message may still arrive.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use crate::domain::newsletter::{BounceInput, BounceKind};
use crate::domain::{EmailAddress, Text};
use crate::email::classify::{Verdict, classify};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAReport {
    #[error("not a MIME message")]
    Unparseable,
    #[error("not a delivery status notification or feedback report (multipart/report), but {0}")]
    OtherType(String),
    #[error("the report has no {0} part")]
    MissingPart(&'static str),
    #[error("the report names no recipient")]
    NoRecipient,
}

/// What a report says, recipient by recipient.
#[derive(Debug, Default)]
pub struct Report {
    pub bounces: Vec<BounceInput>,
    /// Recipients named but not bounced, with why (`a@b.org: delayed`).
    pub ignored: Vec<String>,
}

pub fn parse(raw: &[u8]) -> Result<Report, NotAReport> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(NotAReport::Unparseable)?;
    let content_type = message
        .content_type()
        .ok_or_else(|| NotAReport::OtherType("text/plain".into()))?;
    let essence = essence(content_type);
    let report_type = content_type
        .attribute("report-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if essence != "multipart/report" {
        return Err(NotAReport::OtherType(essence));
    }
    let original = original_headers(&message);
    let report = match report_type.as_str() {
        "delivery-status" => {
            let status = part_text(&message, "message/delivery-status")
                .ok_or(NotAReport::MissingPart("message/delivery-status"))?;
            delivery_status(&status, original.as_ref())
        }
        "feedback-report" => {
            let feedback = part_text(&message, "message/feedback-report")
                .ok_or(NotAReport::MissingPart("message/feedback-report"))?;
            feedback_report(&feedback, original.as_ref())
        }
        other => {
            return Err(NotAReport::OtherType(format!(
                "multipart/report; report-type={other}"
            )));
        }
    };
    if report.bounces.is_empty() && report.ignored.is_empty() {
        return Err(NotAReport::NoRecipient);
    }
    Ok(report)
}

/// The returned message's Message-ID and first To address, from a
/// `message/rfc822` part or a `text/rfc822-headers` one.
struct Original {
    message_id: Option<String>,
    to: Option<String>,
}

fn original_headers(message: &Message) -> Option<Original> {
    let from = |m: &Message| Original {
        message_id: m.message_id().map(|id| format!("<{id}>")),
        to: m
            .to()
            .and_then(|to| to.first())
            .and_then(|a| a.address())
            .map(str::to_owned),
    };
    message.parts.iter().find_map(|part| match &part.body {
        PartType::Message(inner) => Some(from(inner)),
        PartType::Text(text) if is(part, "text/rfc822-headers") => {
            let headers = format!("{}\r\n\r\n", text.trim_end());
            MessageParser::default()
                .parse(headers.as_bytes())
                .map(|m| from(&m))
        }
        _ => None,
    })
}

/// `type/subtype`, lower-cased.
fn essence(content_type: &mail_parser::ContentType) -> String {
    format!(
        "{}/{}",
        content_type.ctype(),
        content_type.subtype().unwrap_or("")
    )
    .to_ascii_lowercase()
}

fn is(part: &mail_parser::MessagePart, wanted: &str) -> bool {
    part.content_type().is_some_and(|ct| essence(ct) == wanted)
}

fn part_text(message: &Message, essence: &str) -> Option<String> {
    message
        .parts
        .iter()
        .find(|part| is(part, essence))
        .map(|part| String::from_utf8_lossy(part.contents()).into_owned())
}

/// RFC 3464 fields: groups separated by blank lines (the first about the
/// message, then one per recipient), continuation lines folded in, names
/// case-insensitive.
fn field_groups(text: &str) -> Vec<Vec<(String, String)>> {
    let mut groups = Vec::new();
    let mut group: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !group.is_empty() {
                groups.push(std::mem::take(&mut group));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = group.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            group.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    if !group.is_empty() {
        groups.push(group);
    }
    groups
}

fn field<'a>(group: &'a [(String, String)], name: &str) -> Option<&'a str> {
    group
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// `rfc822; Ana <ana@example.org>` → `ana@example.org`.
fn address_field(value: &str) -> &str {
    let value = value.split_once(';').map_or(value, |(_, v)| v).trim();
    match (value.rfind('<'), value.rfind('>')) {
        (Some(start), Some(end)) if start < end => &value[start + 1..end],
        _ => value,
    }
}

fn delivery_status(text: &str, original: Option<&Original>) -> Report {
    let mut report = Report::default();
    for group in field_groups(text) {
        let Some(recipient) = field(&group, "final-recipient")
            .or_else(|| field(&group, "original-recipient"))
            .map(address_field)
        else {
            continue; // the per-message group
        };
        let action = field(&group, "action").unwrap_or("").to_ascii_lowercase();
        let status = field(&group, "status").unwrap_or("");
        let diagnostic = field(&group, "diagnostic-code")
            .map(|d| d.split_once(';').map_or(d, |(_, v)| v).trim())
            .filter(|d| !d.is_empty());
        let verdict = classify(None, &format!("{status} {}", diagnostic.unwrap_or("")));
        let kind = match (action.as_str(), verdict) {
            ("failed", Verdict::Policy) => BounceKind::Policy,
            ("failed", Verdict::NoSuchUser | Verdict::Permanent) => BounceKind::Hard,
            ("failed", _) => BounceKind::Soft,
            (other, _) => {
                let other = if other.is_empty() { "no action" } else { other };
                report.ignored.push(format!("{recipient}: {other}"));
                continue;
            }
        };
        let reason = match diagnostic {
            Some(d) => format!("{status} {d}"),
            None => status.to_owned(),
        };
        push(&mut report, recipient, kind, &reason, original);
    }
    report
}

fn feedback_report(text: &str, original: Option<&Original>) -> Report {
    let mut report = Report::default();
    let fields: Vec<(String, String)> = field_groups(text).into_iter().flatten().collect();
    let feedback_type = field(&fields, "feedback-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let recipient = field(&fields, "original-rcpt-to")
        .map(address_field)
        .or_else(|| original.and_then(|o| o.to.as_deref()));
    let Some(recipient) = recipient else {
        return report;
    };
    match feedback_type.as_str() {
        "abuse" | "fraud" => push(
            &mut report,
            recipient,
            BounceKind::Complaint,
            &format!("feedback report: {feedback_type}"),
            original,
        ),
        other => report
            .ignored
            .push(format!("{recipient}: feedback type {other:?}")),
    }
    report
}

fn push(
    report: &mut Report,
    recipient: &str,
    kind: BounceKind,
    reason: &str,
    original: Option<&Original>,
) {
    let Ok(email) = EmailAddress::parse(recipient) else {
        report
            .ignored
            .push(format!("{recipient}: not an email address"));
        return;
    };
    let reason: String = reason.chars().take(2000).collect();
    report.bounces.push(BounceInput {
        email,
        kind,
        reason: Text::parse(&reason).ok(),
        message_id: original
            .and_then(|o| o.message_id.as_deref())
            .and_then(|id| Text::parse(id).ok()),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As Postfix sends it: per-recipient status, the original attached.
    const POSTFIX: &str = "From: MAILER-DAEMON@relay.example (Mail Delivery System)\r
To: newsletter@pregon.example\r
Subject: Undelivered Mail Returned to Sender\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status;\r
 boundary=\"B1\"\r
\r
--B1\r
Content-Type: text/plain; charset=us-ascii\r
\r
I'm sorry to have to inform you that your message could not be delivered.\r
\r
--B1\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; relay.example\r
Arrival-Date: Tue, 10 Mar 2020 10:00:00 +0100 (CET)\r
\r
Final-Recipient: rfc822; gone@example.org\r
Original-Recipient: rfc822;gone@example.org\r
Action: failed\r
Status: 5.1.1\r
Remote-MTA: dns; mx.example.org\r
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address\r
    rejected: User unknown\r
\r
Final-Recipient: rfc822; full@example.org\r
Action: failed\r
Status: 4.2.2\r
Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\r
\r
Final-Recipient: rfc822; slow@example.org\r
Action: delayed\r
Status: 4.4.1\r
\r
--B1\r
Content-Type: message/rfc822\r
\r
From: Ayuntamiento <newsletter@pregon.example>\r
To: gone@example.org\r
Subject: Boletin\r
Message-ID: <issue-1.42@pregon.example>\r
\r
Hola\r
--B1--\r
";

    /// As a feedback loop sends it, with only the original's headers.
    const ARF: &str = "From: fbl@isp.example\r
To: abuse@pregon.example\r
Subject: FW: Boletin\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r
\r
--F\r
Content-Type: text/plain\r
\r
This is an email abuse report.\r
--F\r
Content-Type: message/feedback-report\r
\r
Feedback-Type: abuse\r
User-Agent: SomeFBL/1.0\r
Version: 1\r
\r
--F\r
Content-Type: text/rfc822-headers\r
\r
From: newsletter@pregon.example\r
To: Bea <bea@example.net>\r
Message-ID: <issue-1.7@pregon.example>\r
Subject: Boletin\r
--F--\r
";

    #[test]
    fn delivery_status_notifications_give_hard_and_soft_bounces() {
        let report = parse(POSTFIX.as_bytes()).unwrap();
        let bounces: Vec<_> = report
            .bounces
            .iter()
            .map(|b| (b.email.as_str().to_owned(), b.kind))
            .collect();
        assert_eq!(
            bounces,
            [
                ("gone@example.org".to_owned(), BounceKind::Hard),
                ("full@example.org".to_owned(), BounceKind::Soft)
            ]
        );
        let gone = &report.bounces[0];
        assert_eq!(
            gone.reason.as_ref().unwrap().as_str(),
            "5.1.1 550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown"
        );
        assert_eq!(
            gone.message_id.as_ref().unwrap().as_str(),
            "<issue-1.42@pregon.example>"
        );
        assert_eq!(report.ignored, ["slow@example.org: delayed"]);
    }

    #[test]
    fn abuse_reports_are_complaints() {
        let report = parse(ARF.as_bytes()).unwrap();
        assert_eq!(report.bounces.len(), 1);
        let complaint = &report.bounces[0];
        assert_eq!(complaint.email.as_str(), "bea@example.net");
        assert_eq!(complaint.kind, BounceKind::Complaint);
        assert_eq!(
            complaint.message_id.as_ref().unwrap().as_str(),
            "<issue-1.7@pregon.example>"
        );
        let not_spam = ARF.replace("Feedback-Type: abuse", "Feedback-Type: not-spam");
        let report = parse(not_spam.as_bytes()).unwrap();
        assert!(report.bounces.is_empty());
        assert_eq!(
            report.ignored,
            ["bea@example.net: feedback type \"not-spam\""]
        );
    }

    #[test]
    fn other_messages_are_refused() {
        let plain = "From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nHello\r\n";
        assert!(matches!(
            parse(plain.as_bytes()),
            Err(NotAReport::OtherType(t)) if t == "text/plain"
        ));
        let no_status = POSTFIX.replace("message/delivery-status", "text/plain");
        assert_eq!(
            parse(no_status.as_bytes()).unwrap_err(),
            NotAReport::MissingPart("message/delivery-status")
        );
        let nobody = POSTFIX
            .replace("Final-Recipient", "X-Recipient")
            .replace("Original-Recipient", "X-Original");
        assert_eq!(
            parse(nobody.as_bytes()).unwrap_err(),
            NotAReport::NoRecipient
        );
        assert_eq!(parse(b"").unwrap_err(), NotAReport::Unparseable);
    }
}
