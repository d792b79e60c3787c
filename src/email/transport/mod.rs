//! The only way the dispatcher sends: `MailTransport::send`, one message to
//! one recipient, with an outcome precise enough to decide between "done",
//! "retry later", "never retry" and "don't know — do not blindly resend".

mod outbox;
mod smtp;

use std::future::Future;
use std::pin::Pin;

use lettre::Message;
use lettre::address::Envelope;

pub use self::outbox::FileOutbox;
pub use self::smtp::{Secret, SettingsError, SmtpSettings, SmtpTransport, TlsMode};

pub type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<SmtpAccepted, SendError>> + Send + 'a>>;

/// Object-safe (boxed future) so the service can hold an
/// `Arc<dyn MailTransport>` chosen from configuration, and tests can plug in
/// the real SMTP transport against the test server or their own fakes.
pub trait MailTransport: Send + Sync {
    /// Sends `message` to the single recipient of `envelope` (normally
    /// `message.envelope()`). Envelopes with several recipients are refused:
    /// per-recipient outcomes are the point of this layer.
    fn send<'a>(&'a self, message: &'a Message, envelope: &'a Envelope) -> SendFuture<'a>;
}

/// The positive reply to the end of DATA (or the outbox's equivalent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpAccepted {
    pub code: u16,
    /// Reply text, e.g. `2.0.0 Ok: queued as 4BqKcp6Wz` — worth storing, it
    /// is what the relay's logs are searched by.
    pub reply: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// 4xx reply to MAIL, RCPT, DATA or the message: not accepted, retry later.
    #[error("temporary failure: {code} {reply}")]
    Temporary { code: u16, reply: String },
    /// 5xx reply to RCPT, DATA or the message: never retry to this recipient.
    #[error("permanent failure: {code} {reply}")]
    Permanent { code: u16, reply: String },
    /// 421 at any stage (RFC 5321 §3.8): the relay is closing the channel or
    /// throttling us (Gmail and Microsoft 365 do this under load). Nothing
    /// was accepted and it says nothing about this recipient: back off the
    /// relay and try again later, as when it cannot be reached.
    #[error("relay closing the connection: {code} {reply}")]
    RelayClosing { code: u16, reply: String },
    /// 5xx reply to MAIL FROM: the relay refuses our envelope sender or
    /// session ("530 authentication required", "553 sender not allowed").
    /// That is configuration or reputation, the same for every recipient, so
    /// it must not mark this recipient as failed: pause and alert instead.
    #[error("sender rejected: {code} {reply}")]
    SenderRejected { code: u16, reply: String },
    /// The connection broke or timed out at RCPT, after the relay accepted
    /// our MAIL FROM: certainly not delivered, but unlike a broken setup it
    /// happened to this recipient, and a recipient whose RCPT breaks the
    /// connection every time must use up attempts, not loop forever.
    #[error("connection lost at RCPT (not sent): {detail}")]
    RecipientDropped { detail: String },
    /// Could not connect, or the connection broke or timed out.
    /// `before_data: true` means the failure happened before any message
    /// content was sent, so the message was certainly not accepted.
    /// `before_data: false` means it happened while sending the content or
    /// waiting for the final reply: the server may have accepted it.
    ///
    /// Failures while setting a connection up (greeting, EHLO, STARTTLS,
    /// AUTH — even with a 5xx such as 535) land here with `before_data: true`
    /// rather than in `Permanent`: they are about the relay or our
    /// configuration, not this recipient.
    #[error("connection failure ({}): {detail}", if *.before_data { "not sent" } else { "outcome unknown" })]
    Connection { before_data: bool, detail: String },
    /// This transport can never send this message (several recipients, no
    /// Message-ID for the outbox, UTF-8 address to a relay without SMTPUTF8).
    #[error("cannot send this message: {0}")]
    Unsendable(String),
    /// Local storage failed (outbox); nothing left the process.
    #[error("local I/O error: {0}")]
    Io(String),
}

impl SendError {
    /// Certainly not delivered, and trying again later may work.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Temporary { .. }
                | Self::RelayClosing { .. }
                | Self::RecipientDropped { .. }
                | Self::SenderRejected { .. }
                | Self::Connection {
                    before_data: true,
                    ..
                }
                | Self::Io(_)
        )
    }

    /// The relay may have accepted the message; resending risks a duplicate.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Self::Connection {
                before_data: false,
                ..
            }
        )
    }

    /// The SMTP reply code, when the failure was a reply.
    pub fn code(&self) -> Option<u16> {
        match self {
            Self::Temporary { code, .. }
            | Self::Permanent { code, .. }
            | Self::RelayClosing { code, .. }
            | Self::SenderRejected { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// The single recipient of an envelope, or why there is not exactly one.
fn single_recipient(envelope: &Envelope) -> Result<&lettre::Address, SendError> {
    match envelope.to() {
        [one] => Ok(one),
        many => Err(SendError::Unsendable(format!(
            "envelope has {} recipients; exactly one is required",
            many.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_classification() {
        let temporary = SendError::Temporary {
            code: 451,
            reply: "4.7.1 later".into(),
        };
        let permanent = SendError::Permanent {
            code: 550,
            reply: "5.1.1 no".into(),
        };
        let refused = SendError::Connection {
            before_data: true,
            detail: "refused".into(),
        };
        let lost = SendError::Connection {
            before_data: false,
            detail: "lost".into(),
        };
        assert!(temporary.is_retryable() && !temporary.outcome_unknown());
        assert!(!permanent.is_retryable() && !permanent.outcome_unknown());
        assert!(refused.is_retryable() && !refused.outcome_unknown());
        assert!(!lost.is_retryable() && lost.outcome_unknown());
        assert_eq!(permanent.code(), Some(550));
        assert_eq!(
            lost.to_string(),
            "connection failure (outcome unknown): lost"
        );
    }

    #[test]
    fn envelopes_need_exactly_one_recipient() {
        let a: lettre::Address = "a@example.org".parse().unwrap();
        let b: lettre::Address = "b@example.org".parse().unwrap();
        let one = Envelope::new(None, vec![a.clone()]).unwrap();
        assert_eq!(single_recipient(&one).unwrap(), &a);
        let two = Envelope::new(None, vec![a, b]).unwrap();
        assert!(matches!(
            single_recipient(&two),
            Err(SendError::Unsendable(_))
        ));
    }
}
