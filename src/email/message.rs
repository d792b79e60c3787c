//! Turning one delivery (one recipient) into a MIME message.
//!
//! Everything that reaches a header goes through lettre's `HeaderValue::new`,
//! which RFC 2047-encodes anything outside printable ASCII, CR and LF included,
//! so untrusted text cannot open a new header line. We additionally flatten
//! control characters in subjects and display names to a single space, because
//! an encoded CR/LF would otherwise survive into what the recipient's client
//! shows.

use std::fmt;
use std::time::SystemTime;

use chrono::{DateTime, Datelike, Utc};
use lettre::address::Envelope;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Body, Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use serde::{Deserialize, Serialize};

use super::render::EncodedBody;

const LIST_UNSUBSCRIBE: &str = "List-Unsubscribe";
const LIST_UNSUBSCRIBE_POST: &str = "List-Unsubscribe-Post";
/// RFC 8058 one-click value; Gmail and Yahoo require it from bulk senders.
const ONE_CLICK: &str = "List-Unsubscribe=One-Click";
const INVITE_FILENAME: &str = "invite.ics";

/// Headers `build` sets itself; letting `extra_headers` override them would
/// silently replace (lettre keeps one value per name) or smuggle recipients.
const RESERVED_HEADERS: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "return-path",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "list-unsubscribe",
    "list-unsubscribe-post",
];

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("invalid Message-ID {0:?}: expected <left@right> in printable ASCII without spaces")]
    InvalidMessageId(String),
    #[error("invalid extra header {name:?}: {reason}")]
    InvalidHeader { name: String, reason: &'static str },
    #[error("invalid List-Unsubscribe URI {0:?}")]
    InvalidUnsubscribeUri(String),
    #[error("calendar part declares METHOD {declared} but the iCalendar object has {found:?}")]
    CalendarMethodMismatch {
        declared: CalendarMethod,
        found: Option<String>,
    },
    #[error("date {0} cannot be written in a Date header (years 1970..=9999 only)")]
    DateOutOfRange(DateTime<Utc>),
    #[error("cannot build message: {0}")]
    Build(#[from] lettre::error::Error),
}

/// iTIP method of the calendar part (RFC 5546). It must match the `METHOD`
/// property inside the iCalendar object; Outlook trusts the object, Google the
/// MIME parameter, so a mismatch gives different results per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CalendarMethod {
    Request,
    Cancel,
    Publish,
}

impl CalendarMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "REQUEST",
            Self::Cancel => "CANCEL",
            Self::Publish => "PUBLISH",
        }
    }
}

impl fmt::Display for CalendarMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarPart {
    pub method: CalendarMethod,
    /// A complete VCALENDAR object containing `METHOD:<method>`.
    pub ics: String,
    /// Also attach the object as `invite.ics` (application/ics), as Google
    /// Calendar's own invitations do; some clients only look at attachments.
    pub attach_ics: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUnsubscribe {
    /// Target of the RFC 8058 one-click POST. Without an https URI there is no
    /// `List-Unsubscribe-Post` header (RFC 8058 requires https), only the
    /// mailto fallback: acceptable for a development install, not for bulk
    /// mail to Gmail or Yahoo.
    pub https_url: Option<String>,
    /// `mailto:` URI or bare address, offered as a fallback for clients that
    /// only know RFC 2369.
    pub mailto: Option<String>,
}

impl ListUnsubscribe {
    fn header_value(&self) -> Result<String, EmailError> {
        let mut uris = Vec::new();
        if let Some(https) = &self.https_url {
            if !https.starts_with("https://") || !uri_chars_ok(https) || https.len() <= 8 {
                return Err(EmailError::InvalidUnsubscribeUri(https.clone()));
            }
            uris.push(format!("<{https}>"));
        }
        if let Some(mailto) = &self.mailto {
            let uri = if mailto.starts_with("mailto:") {
                mailto.clone()
            } else {
                format!("mailto:{mailto}")
            };
            if !uri_chars_ok(&uri) || !uri.contains('@') {
                return Err(EmailError::InvalidUnsubscribeUri(mailto.clone()));
            }
            uris.push(format!("<{uri}>"));
        }
        if uris.is_empty() {
            return Err(EmailError::InvalidUnsubscribeUri(String::new()));
        }
        Ok(uris.join(", "))
    }

    fn one_click(&self) -> bool {
        self.https_url.is_some()
    }
}

/// URIs go into the header verbatim (RFC 2047 encoding would break them), so
/// they must already be percent-encoded printable ASCII with no delimiters.
fn uri_chars_ok(uri: &str) -> bool {
    !uri.is_empty()
        && uri
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>' && b != b'"')
}

/// The readable part of a message: text, and HTML as its alternative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// lettre chooses each part's transfer encoding.
    Text { text: String, html: Option<String> },
    /// Both parts already quoted-printable encoded (newsletters: encoded once
    /// per issue, see `PreparedNewsletter::encode`).
    Encoded(EncodedBody),
}

/// Text only.
impl From<String> for Content {
    fn from(text: String) -> Self {
        Self::Text { text, html: None }
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Self {
        text.to_owned().into()
    }
}

impl Content {
    pub fn text_and_html(text: impl Into<String>, html: impl Into<String>) -> Self {
        Self::Text {
            text: text.into(),
            html: Some(html.into()),
        }
    }

    fn into_parts(self) -> Vec<SinglePart> {
        let encoded = |content_type, bytes| {
            SinglePart::builder()
                .header(content_type)
                .body(Body::dangerous_pre_encoded(
                    bytes,
                    ContentTransferEncoding::QuotedPrintable,
                ))
        };
        match self {
            Self::Text { text, html } => std::iter::once(SinglePart::plain(text))
                .chain(html.map(SinglePart::html))
                .collect(),
            Self::Encoded(body) => vec![
                encoded(ContentType::TEXT_PLAIN, body.text),
                encoded(ContentType::TEXT_HTML, body.html),
            ],
        }
    }
}

/// One message to one recipient.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    pub from: Mailbox,
    pub to: Mailbox,
    pub reply_to: Option<Mailbox>,
    /// Envelope sender (where bounces go); the From address when `None`.
    pub return_path: Option<Address>,
    pub subject: String,
    pub content: Content,
    /// Stable per delivery, e.g. `<delivery-123.issue-9@pregon.example>`, so a
    /// retry is recognisably the same message (outbox file name, recipient
    /// side de-duplication).
    pub message_id: String,
    pub list_unsubscribe: Option<ListUnsubscribe>,
    pub calendar: Option<CalendarPart>,
    /// From the injectable clock, so a retried delivery can keep its date.
    pub date: DateTime<Utc>,
    /// Additional headers such as `Feedback-ID`; values are encoded, names
    /// validated, and the headers `build` manages are refused.
    pub extra_headers: Vec<(String, String)>,
}

impl OutgoingEmail {
    /// A message with `content` (text only, from a string); set the other
    /// public fields as needed.
    pub fn new(
        from: Mailbox,
        to: Mailbox,
        subject: impl Into<String>,
        content: impl Into<Content>,
        message_id: impl Into<String>,
        date: DateTime<Utc>,
    ) -> Self {
        Self {
            from,
            to,
            reply_to: None,
            return_path: None,
            subject: subject.into(),
            content: content.into(),
            message_id: message_id.into(),
            list_unsubscribe: None,
            calendar: None,
            date,
            extra_headers: Vec::new(),
        }
    }

    pub fn build(&self) -> Result<Message, EmailError> {
        self.clone().into_message()
    }

    /// `build` without copying the bodies.
    pub fn into_message(self) -> Result<Message, EmailError> {
        validate_message_id(&self.message_id)?;
        let date = system_time(self.date)?;

        let envelope_from = self
            .return_path
            .clone()
            .unwrap_or_else(|| self.from.email.clone());
        let envelope = Envelope::new(Some(envelope_from), vec![self.to.email.clone()])?;

        let subject = single_line(&self.subject);
        let mut builder = Message::builder()
            .from(clean_mailbox(&self.from))
            .to(clean_mailbox(&self.to));
        builder = if looks_encoded(&subject) {
            builder.raw_header(encoded_subject(&subject))
        } else {
            builder.subject(subject)
        };
        let mut builder = builder
            .message_id(Some(self.message_id.clone()))
            .date(date)
            .envelope(envelope);
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(clean_mailbox(reply_to));
        }
        if let Some(unsubscribe) = &self.list_unsubscribe {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(LIST_UNSUBSCRIBE),
                unsubscribe.header_value()?,
            ));
            if unsubscribe.one_click() {
                builder = builder.raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str(LIST_UNSUBSCRIBE_POST),
                    ONE_CLICK.to_owned(),
                ));
            }
        }
        for (name, value) in &self.extra_headers {
            builder = builder.raw_header(HeaderValue::new(
                extra_header_name(name)?,
                single_line(value),
            ));
        }

        let calendar = self.calendar;
        let mut parts = self.content.into_parts();
        let message = match &calendar {
            None if parts.len() == 1 => builder.singlepart(parts.remove(0))?,
            None => builder.multipart(
                parts
                    .into_iter()
                    .fold(MultiPart::alternative().build(), MultiPart::singlepart),
            )?,
            Some(calendar) => builder.multipart(Self::calendar_body(calendar, parts)?)?,
        };
        Ok(message)
    }

    /// The shape Google Calendar itself sends: multipart/mixed whose *first*
    /// child is multipart/alternative (text, html, text/calendar with the
    /// method parameter), then the same object as an `invite.ics` attachment.
    /// Outlook only looks for iMIP data in the first child of multipart/mixed
    /// (MS-OXCICAL), hence the order.
    fn calendar_body(
        calendar: &CalendarPart,
        parts: Vec<SinglePart>,
    ) -> Result<MultiPart, EmailError> {
        let found = ics_method(&calendar.ics);
        if found.as_deref() != Some(calendar.method.as_str()) {
            return Err(EmailError::CalendarMethodMismatch {
                declared: calendar.method,
                found,
            });
        }
        let calendar_type = ContentType::parse(&format!(
            "text/calendar; charset=UTF-8; method={}",
            calendar.method
        ))
        .expect("constant content type parses");

        let alternative = parts
            .into_iter()
            .fold(MultiPart::alternative().build(), MultiPart::singlepart)
            .singlepart(
                SinglePart::builder()
                    .content_type(calendar_type)
                    .body(calendar.ics.clone()),
            );
        if !calendar.attach_ics {
            return Ok(alternative);
        }
        let attachment_type =
            ContentType::parse(&format!("application/ics; name=\"{INVITE_FILENAME}\""))
                .expect("constant content type parses");
        // Bytes, not a String, so lettre base64-encodes it like Google does and
        // no transfer encoding can re-wrap the folded iCalendar lines.
        let attachment = Attachment::new(INVITE_FILENAME.to_owned())
            .body(calendar.ics.as_bytes().to_vec(), attachment_type);
        Ok(MultiPart::mixed()
            .multipart(alternative)
            .singlepart(attachment))
    }
}

/// The `METHOD` property of the VCALENDAR, upper-cased.
fn ics_method(ics: &str) -> Option<String> {
    ics.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("METHOD")
            .then(|| value.trim().to_ascii_uppercase())
    })
}

fn validate_message_id(id: &str) -> Result<(), EmailError> {
    let invalid = || EmailError::InvalidMessageId(id.to_owned());
    let inner = id
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix('>'))
        .ok_or_else(invalid)?;
    let (left, right) = inner.split_once('@').ok_or_else(invalid)?;
    let part_ok = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"<>@\"\\[]()".contains(&b))
    };
    // 250 keeps the header well under the 998-octet line limit.
    if id.len() > 250 || !part_ok(left) || !part_ok(right) {
        return Err(invalid());
    }
    Ok(())
}

/// `httpdate` (used by lettre for the Date header) panics outside this range.
fn system_time(date: DateTime<Utc>) -> Result<SystemTime, EmailError> {
    if (1970..=9999).contains(&date.year()) {
        Ok(SystemTime::from(date))
    } else {
        Err(EmailError::DateOutOfRange(date))
    }
}

fn extra_header_name(name: &str) -> Result<HeaderName, EmailError> {
    let invalid = |reason| EmailError::InvalidHeader {
        name: name.to_owned(),
        reason,
    };
    // lettre's `HeaderName::new_from_ascii` accepts CR and LF, so the RFC 5322
    // field-name rule (printable ASCII except ':') is enforced here.
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        return Err(invalid("not an RFC 5322 field name"));
    }
    if RESERVED_HEADERS
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(name))
    {
        return Err(invalid("managed by OutgoingEmail::build"));
    }
    HeaderName::new_from_ascii(name.to_owned()).map_err(|_| invalid("longer than 76 characters"))
}

/// Collapses every run of control characters (CR, LF, TAB, …) into one space.
/// Text that a mail client would take for an RFC 2047 encoded word
/// (`=?charset?b?…?=`). lettre passes printable ASCII through as it is, so
/// a subject (or a subscriber's name in it) written like that would be
/// decoded by the client into something else: such subjects are encoded
/// whole instead.
fn looks_encoded(text: &str) -> bool {
    text.find("=?")
        .is_some_and(|start| text[start + 2..].contains("?="))
}

/// `Subject:` as RFC 2047 base64 words of UTF-8, each at most 75
/// characters (RFC 2047 §2), split between characters, folded with a space.
fn encoded_subject(subject: &str) -> HeaderValue {
    use base64::Engine;
    // 52 base64 characters + 12 of framing: the first line, after
    // "Subject: ", stays within 78.
    const MAX_BYTES: usize = 39;
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in subject.chars() {
        if chunk.len() + c.len_utf8() > MAX_BYTES {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    let encoded: Vec<String> = words
        .iter()
        .map(|w| {
            format!(
                "=?utf-8?b?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w)
            )
        })
        .collect();
    HeaderValue::dangerous_new_pre_encoded(
        HeaderName::new_from_ascii_str("Subject"),
        subject.to_owned(),
        encoded.join("\r\n "),
    )
}

pub fn single_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_control = false;
    for c in text.chars() {
        if c.is_control() {
            if !in_control {
                out.push(' ');
            }
            in_control = true;
        } else {
            out.push(c);
            in_control = false;
        }
    }
    out.trim().to_owned()
}

fn clean_mailbox(mailbox: &Mailbox) -> Mailbox {
    Mailbox::new(
        mailbox
            .name
            .as_deref()
            .map(single_line)
            .filter(|name| !name.is_empty()),
        mailbox.email.clone(),
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use mail_parser::{MessageParser, MimeHeaders};

    use super::*;

    fn text_of(email: &OutgoingEmail) -> String {
        match &email.content {
            Content::Text { text, .. } => text.clone(),
            Content::Encoded(_) => unreachable!("tests build text content"),
        }
    }

    fn date() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 53).unwrap()
    }

    fn mailbox(name: Option<&str>, email: &str) -> Mailbox {
        Mailbox::new(name.map(str::to_owned), email.parse().unwrap())
    }

    fn email() -> OutgoingEmail {
        let mut email = OutgoingEmail::new(
            mailbox(Some("Ayuntamiento"), "boletin@pregon.example"),
            mailbox(Some("Ana"), "ana@example.org"),
            "Boletín de marzo",
            "Hola Ana,\n\nNovedades.\n",
            "<delivery-123.issue-9@pregon.example>",
            date(),
        );
        email.content =
            Content::text_and_html(text_of(&email), "<p>Hola Ana,</p><p>Novedades.</p>");
        email
    }

    fn raw(email: &OutgoingEmail) -> Vec<u8> {
        email.build().expect("builds").formatted()
    }

    fn unfold(value: &str) -> String {
        value.replace("\r\n", "").trim().to_owned()
    }

    fn header_lines<'a>(raw: &'a str, name: &str) -> Vec<&'a str> {
        let head = raw.split("\r\n\r\n").next().unwrap();
        head.split("\r\n")
            .filter(|line| {
                line.len() > name.len()
                    && line[..name.len()].eq_ignore_ascii_case(name)
                    && line.as_bytes()[name.len()] == b':'
            })
            .collect()
    }

    const ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Pregon//ES\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:event-7@pregon.example\r\nDTSTAMP:20250314T092653Z\r\nDTSTART:20250401T170000Z\r\nSUMMARY:Pleno en Málaga\r\nORGANIZER:mailto:boletin@pregon.example\r\nATTENDEE;RSVP=TRUE:mailto:ana@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn headers_are_exact() {
        let mut email = email();
        email.list_unsubscribe = Some(ListUnsubscribe {
            https_url: Some("https://pregon.example/u/abc123?l=es".to_owned()),
            mailto: Some("unsubscribe+abc123@pregon.example".to_owned()),
        });
        email.reply_to = Some(mailbox(None, "info@pregon.example"));
        let raw = raw(&email);
        let parsed = MessageParser::default().parse(&raw[..]).unwrap();

        assert_eq!(
            parsed.message_id(),
            Some("delivery-123.issue-9@pregon.example")
        );
        let text = String::from_utf8(raw.clone()).unwrap();
        assert_eq!(
            header_lines(&text, "Message-ID"),
            ["Message-ID: <delivery-123.issue-9@pregon.example>"]
        );
        assert_eq!(
            header_lines(&text, "Date"),
            ["Date: Fri, 14 Mar 2025 09:26:53 +0000"]
        );
        assert_eq!(parsed.date().unwrap().to_timestamp(), date().timestamp());
        // lettre may fold after the comma; unfolding restores the list.
        assert_eq!(
            unfold(parsed.header_raw("List-Unsubscribe").unwrap()),
            "<https://pregon.example/u/abc123?l=es>, <mailto:unsubscribe+abc123@pregon.example>"
        );
        assert_eq!(
            parsed.header_raw("List-Unsubscribe-Post").unwrap().trim(),
            "List-Unsubscribe=One-Click"
        );
        assert_eq!(
            parsed.reply_to().unwrap().first().unwrap().address(),
            Some("info@pregon.example")
        );
        assert_eq!(parsed.subject(), Some("Boletín de marzo"));

        let built = email.build().unwrap();
        let envelope = built.envelope();
        assert_eq!(
            envelope.from().unwrap().to_string(),
            "boletin@pregon.example"
        );
        assert_eq!(envelope.to().len(), 1);
        assert_eq!(envelope.to()[0].to_string(), "ana@example.org");
    }

    #[test]
    fn without_https_there_is_mailto_but_no_one_click() {
        let mut email = email();
        email.list_unsubscribe = Some(ListUnsubscribe {
            https_url: None,
            mailto: Some("unsubscribe@pregon.example?subject=unsubscribe%201.2.x".to_owned()),
        });
        let text = String::from_utf8(raw(&email)).unwrap();
        assert_eq!(
            header_lines(&text, "List-Unsubscribe"),
            ["List-Unsubscribe: <mailto:unsubscribe@pregon.example?subject=unsubscribe%201.2.x>"]
        );
        assert!(header_lines(&text, "List-Unsubscribe-Post").is_empty());
        email.list_unsubscribe = Some(ListUnsubscribe {
            https_url: None,
            mailto: None,
        });
        assert!(matches!(
            email.build(),
            Err(EmailError::InvalidUnsubscribeUri(_))
        ));
    }

    #[test]
    fn no_unsubscribe_headers_unless_asked() {
        let text = String::from_utf8(raw(&email())).unwrap();
        assert!(header_lines(&text, "List-Unsubscribe").is_empty());
        assert!(header_lines(&text, "List-Unsubscribe-Post").is_empty());
    }

    #[test]
    fn unsubscribe_uris_are_validated() {
        for bad in [
            "http://pregon.example/u/1",
            "https://pregon.example/u/1>, <https://evil",
            "https://pregon.example/u/ 1",
            "https://pregon.example/u/1\r\nBcc: x@y",
            "https://",
        ] {
            let mut email = email();
            email.list_unsubscribe = Some(ListUnsubscribe {
                https_url: Some(bad.to_owned()),
                mailto: None,
            });
            assert!(
                matches!(email.build(), Err(EmailError::InvalidUnsubscribeUri(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn text_and_html_are_alternatives() {
        let raw = raw(&email());
        let parsed = MessageParser::default().parse(&raw[..]).unwrap();
        let root = parsed.content_type().unwrap();
        assert_eq!(root.ctype(), "multipart");
        assert_eq!(root.subtype(), Some("alternative"));
        assert_eq!(parsed.text_body.len(), 1);
        assert_eq!(parsed.html_body.len(), 1);
        assert_eq!(
            parsed.body_text(0).unwrap().replace("\r\n", "\n"),
            "Hola Ana,\n\nNovedades.\n"
        );
        assert!(parsed.body_html(0).unwrap().contains("<p>Hola Ana,</p>"));
        assert!(parsed.attachments().next().is_none());
    }

    #[test]
    fn text_only_is_a_single_part() {
        let mut email = email();
        email.content = Content::Text {
            text: text_of(&email),
            html: None,
        };
        let raw = raw(&email);
        let parsed = MessageParser::default().parse(&raw[..]).unwrap();
        let ct = parsed.content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));
        assert_eq!(ct.attribute("charset"), Some("utf-8"));
        assert_eq!(parsed.parts.len(), 1);
    }

    #[test]
    fn header_injection_through_subject_and_names_is_inert() {
        let mut email = email();
        email.subject = "Hi\r\nBcc: evil@x".to_owned();
        email.from = mailbox(Some("Org\r\nBcc: evil@x"), "boletin@pregon.example");
        email.to = mailbox(Some("Ana\nCc: evil@x"), "ana@example.org");
        email.extra_headers = vec![("X-Campaign".to_owned(), "9\r\nBcc: evil@x".to_owned())];
        let built = email.build().unwrap();
        let raw = built.formatted();
        let text = String::from_utf8(raw.clone()).unwrap();

        assert_eq!(header_lines(&text, "Subject").len(), 1);
        assert!(header_lines(&text, "Bcc").is_empty());
        assert!(header_lines(&text, "Cc").is_empty());
        let parsed = MessageParser::default().parse(&raw[..]).unwrap();
        assert_eq!(parsed.subject(), Some("Hi Bcc: evil@x"));
        assert!(parsed.header("Bcc").is_none());
        assert!(parsed.header("Cc").is_none());
        assert_eq!(
            parsed.from().unwrap().first().unwrap().name(),
            Some("Org Bcc: evil@x")
        );
        assert_eq!(
            parsed.header_raw("X-Campaign").unwrap().trim(),
            "9 Bcc: evil@x"
        );
        // The envelope, which is what actually routes mail, has one recipient.
        assert_eq!(built.envelope().to().len(), 1);
    }

    #[test]
    fn lettre_alone_encodes_crlf_in_subject() {
        // Defence in depth: even without `single_line`, lettre's header
        // encoder must not let a raw CR/LF through.
        let message = Message::builder()
            .from("a@example.org".parse().unwrap())
            .to("b@example.org".parse().unwrap())
            .subject("Hi\r\nBcc: evil@x")
            .body(String::from("x"))
            .unwrap();
        let text = String::from_utf8(message.formatted()).unwrap();
        assert_eq!(header_lines(&text, "Subject").len(), 1);
        assert!(header_lines(&text, "Bcc").is_empty());
    }

    #[test]
    fn extra_header_names_are_checked() {
        for (name, reason) in [
            ("X-A\r\nBcc", "not an RFC 5322 field name"),
            ("X A", "not an RFC 5322 field name"),
            ("", "not an RFC 5322 field name"),
            ("bcc", "managed by OutgoingEmail::build"),
            ("Message-Id", "managed by OutgoingEmail::build"),
        ] {
            let mut email = email();
            email.extra_headers = vec![(name.to_owned(), "v".to_owned())];
            match email.build() {
                Err(EmailError::InvalidHeader { reason: got, .. }) => assert_eq!(got, reason),
                other => panic!("{name:?}: {other:?}"),
            }
        }
        let mut email = email();
        email.extra_headers = vec![("Feedback-ID".to_owned(), "issue-9:pregon".to_owned())];
        let raw = raw(&email);
        let parsed = MessageParser::default().parse(&raw[..]).unwrap();
        assert_eq!(
            parsed.header_raw("Feedback-ID").unwrap().trim(),
            "issue-9:pregon"
        );
    }

    #[test]
    fn non_ascii_subject_and_names_round_trip() {
        let mut email = email();
        email.subject = "🎉 Fiesta en Málaga — ¡ven!".to_owned();
        email.from = mailbox(Some("Ayuntamiento de Málaga"), "boletin@pregon.example");
        email.to = mailbox(Some("Éléonore Dupré"), "eleonore@example.fr");
        let raw = raw(&email);
        let head = String::from_utf8(raw.clone()).unwrap();
        let head = head.split("\r\n\r\n").next().unwrap();
        assert!(head.is_ascii(), "headers must be 7-bit: {head}");
        assert!(head.contains("=?utf-8?"), "expected RFC 2047 words: {head}");

        let parsed = MessageParser::default().parse(&raw[..]).unwrap();
        assert_eq!(parsed.subject(), Some("🎉 Fiesta en Málaga — ¡ven!"));
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Ayuntamiento de Málaga"));
        assert_eq!(from.address(), Some("boletin@pregon.example"));
        let to = parsed.to().unwrap().first().unwrap();
        assert_eq!(to.name(), Some("Éléonore Dupré"));
        assert_eq!(to.address(), Some("eleonore@example.fr"));
    }

    #[test]
    fn whole_message_is_seven_bit() {
        // Keeps the message sendable to relays without 8BITMIME.
        let mut email = email();
        email.content = Content::text_and_html("¡Hola, Éléonore! 🎉", "<p>¡Hola, Éléonore! 🎉</p>");
        assert!(raw(&email).is_ascii());
    }

    #[test]
    fn message_id_must_be_well_formed() {
        for bad in [
            "delivery-1@pregon.example",
            "<delivery-1>",
            "<a b@pregon.example>",
            "<a@b@pregon.example>",
            "<delivery-1@pregon.example>\r\nBcc: x@y",
            "<@pregon.example>",
            "<dé@pregon.example>",
        ] {
            let mut email = email();
            email.message_id = bad.to_owned();
            assert!(
                matches!(email.build(), Err(EmailError::InvalidMessageId(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn dates_outside_httpdate_range_are_errors_not_panics() {
        let mut email = email();
        email.date = Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap();
        assert!(matches!(email.build(), Err(EmailError::DateOutOfRange(_))));
        email.date = Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap();
        assert!(matches!(email.build(), Err(EmailError::DateOutOfRange(_))));
    }

    #[test]
    fn return_path_sets_envelope_sender_only() {
        let mut email = email();
        email.return_path = Some("bounces+123@pregon.example".parse().unwrap());
        let built = email.build().unwrap();
        assert_eq!(
            built.envelope().from().unwrap().to_string(),
            "bounces+123@pregon.example"
        );
        let raw = built.formatted();
        let parsed = MessageParser::default().parse(&raw[..]).unwrap();
        assert_eq!(
            parsed.from().unwrap().first().unwrap().address(),
            Some("boletin@pregon.example")
        );
    }

    #[test]
    fn calendar_invitation_structure() {
        let mut email = email();
        email.calendar = Some(CalendarPart {
            method: CalendarMethod::Request,
            ics: ICS.to_owned(),
            attach_ics: true,
        });
        let raw = raw(&email);
        let parsed = MessageParser::default().parse(&raw[..]).unwrap();

        let root = parsed.content_type().unwrap();
        assert_eq!((root.ctype(), root.subtype()), ("multipart", Some("mixed")));

        // Part 0 is the root, part 1 must be the alternative (first child).
        let alternative = parsed.part(1).unwrap().content_type().unwrap();
        assert_eq!(
            (alternative.ctype(), alternative.subtype()),
            ("multipart", Some("alternative"))
        );
        let leaf_types: Vec<String> = parsed
            .parts
            .iter()
            .filter_map(|p| p.content_type())
            .filter(|ct| ct.ctype() != "multipart")
            .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")))
            .collect();
        assert_eq!(
            leaf_types,
            [
                "text/plain",
                "text/html",
                "text/calendar",
                "application/ics"
            ]
        );

        let calendar = parsed
            .parts
            .iter()
            .find(|p| {
                p.content_type()
                    .is_some_and(|ct| ct.ctype() == "text" && ct.subtype() == Some("calendar"))
            })
            .unwrap();
        let ct = calendar.content_type().unwrap();
        assert_eq!(ct.attribute("method"), Some("REQUEST"));
        assert_eq!(
            ct.attribute("charset")
                .map(str::to_ascii_uppercase)
                .as_deref(),
            Some("UTF-8")
        );
        assert!(calendar.content_disposition().is_none());
        assert_eq!(
            calendar.text_contents().unwrap().replace("\r\n", "\n"),
            ICS.replace("\r\n", "\n")
        );

        let attachment = parsed.part(5).unwrap();
        assert!(attachment.is_content_type("application", "ics"));
        assert_eq!(attachment.attachment_name(), Some(INVITE_FILENAME));
        assert_eq!(attachment.content_transfer_encoding(), Some("base64"));
        assert_eq!(attachment.contents(), ICS.as_bytes());
        assert!(attachment.content_disposition().unwrap().is_attachment());
    }

    #[test]
    fn calendar_without_attachment_is_plain_alternative() {
        let mut email = email();
        email.content = Content::Text {
            text: text_of(&email),
            html: None,
        };
        email.calendar = Some(CalendarPart {
            method: CalendarMethod::Cancel,
            ics: ICS.replace("METHOD:REQUEST", "METHOD:CANCEL"),
            attach_ics: false,
        });
        let raw = raw(&email);
        let parsed = MessageParser::default().parse(&raw[..]).unwrap();
        let root = parsed.content_type().unwrap();
        assert_eq!(
            (root.ctype(), root.subtype()),
            ("multipart", Some("alternative"))
        );
        let calendar = parsed.part(2).unwrap().content_type().unwrap();
        assert_eq!(calendar.subtype(), Some("calendar"));
        assert_eq!(calendar.attribute("method"), Some("CANCEL"));
        assert_eq!(parsed.parts.len(), 3);
        assert!(
            parsed
                .parts
                .iter()
                .all(|p| p.content_disposition().is_none())
        );
    }

    #[test]
    fn calendar_method_must_match_ics() {
        let mut email = email();
        email.calendar = Some(CalendarPart {
            method: CalendarMethod::Publish,
            ics: ICS.to_owned(),
            attach_ics: false,
        });
        match email.build() {
            Err(EmailError::CalendarMethodMismatch { declared, found }) => {
                assert_eq!(declared, CalendarMethod::Publish);
                assert_eq!(found.as_deref(), Some("REQUEST"));
            }
            other => panic!("{other:?}"),
        }
        email.calendar.as_mut().unwrap().ics = ICS.replace("METHOD:REQUEST\r\n", "");
        assert!(matches!(
            email.build(),
            Err(EmailError::CalendarMethodMismatch { found: None, .. })
        ));
    }

    #[test]
    fn subjects_that_look_like_encoded_words_are_encoded() {
        for subject in [
            "=?utf-8?b?QWRtaW4gc2F5cyBoaQ==?=",
            "Hola =?utf-8?q?Bob?= y un texto bastante largo para que haga falta más de una palabra codificada",
        ] {
            let mut email = email();
            email.subject = subject.to_owned();
            let text = String::from_utf8(email.build().unwrap().formatted()).unwrap();
            let head = text.split("\r\n\r\n").next().unwrap();
            assert!(!head.contains(subject), "{head}");
            for line in head.lines() {
                assert!(line.len() <= 78, "{line}");
            }
            let parsed = mail_parser::MessageParser::default()
                .parse(text.as_bytes())
                .unwrap();
            // Shown as written, not decoded into something else.
            assert_eq!(parsed.subject(), Some(subject));
        }
        assert!(!looks_encoded("Boletín de marzo: ¿qué hay?"));
        assert!(!looks_encoded("a = b? c"));
    }

    #[test]
    fn single_line_flattens_controls() {
        assert_eq!(single_line("a\r\n\tb\u{7}c\n"), "a b c");
        assert_eq!(single_line("  plain  "), "plain");
    }
}
