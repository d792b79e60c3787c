//! The email layer: building messages, rendering newsletter bodies, sending them
//! through a transport and pacing the sends. Nothing here touches the database:
//! callers hand in everything a message needs (including its stable Message-ID)
//! and receive an outcome precise enough to record per recipient.

pub mod bounce;
pub mod classify;
pub mod dkim;
pub mod inbound;
pub mod itip;
pub mod links;
pub mod message;
pub mod qp;
pub mod rate;
pub mod render;
pub mod retry;
pub mod template;
pub mod transport;

pub use self::message::{
    CalendarMethod, CalendarPart, Content, EmailError, ListUnsubscribe, OutgoingEmail,
};
pub use self::rate::{RateLimiter, RateLimits};
pub use self::render::{EncodedBody, Footer, Lang, PreparedNewsletter, RenderedBody};
pub use self::transport::{
    FileOutbox, MailTransport, Secret, SendError, SmtpAccepted, SmtpSettings, SmtpTransport,
    TlsMode,
};
