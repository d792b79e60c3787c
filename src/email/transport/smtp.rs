//! SMTP through lettre's async client, with our own small connection pool.
//!
//! Why not `lettre::AsyncSmtpTransport`: its `send` runs MAIL/RCPT/DATA and
//! the message in one call and reports a lost connection the same way
//! whether it broke before DATA (certainly not delivered) or after the
//! message was sent (maybe delivered); its async client applies the timeout
//! only to the TCP connect, so a relay that stalls after DATA hangs the send
//! forever; its pool caps idle connections, not concurrent ones; and it
//! closes the connection after any rejected recipient. Driving lettre's
//! public `AsyncSmtpConnection` step by step fixes all four while keeping
//! lettre's SMTP client, TLS and AUTH code.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::Message;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::{MailTransport, SendError, SendFuture, SmtpAccepted, single_recipient};

/// A string that never shows up in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain text. Only for a relay on localhost or a test server.
    None,
    /// STARTTLS, required: the send fails rather than continue in plain text
    /// if the server does not offer it (no opportunistic downgrade).
    #[default]
    Starttls,
    /// Implicit TLS from the first byte ("SMTPS", usually port 465).
    Tls,
}

impl TlsMode {
    pub fn default_port(self) -> u16 {
        match self {
            Self::None => 25,
            Self::Starttls => 587,
            Self::Tls => 465,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    /// Defaults from `tls`: 25, 587 or 465.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: TlsMode,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// Maximum simultaneous connections (in use or idle).
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    /// Limit for each step: connecting (TCP, greeting, EHLO, STARTTLS, AUTH),
    /// each command, and sending the message up to its final reply.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Idle connections older than this are closed instead of reused.
    #[serde(default = "default_idle_timeout_secs")]
    pub idle_timeout_secs: u64,
    /// EHLO name; the machine's hostname when unset.
    #[serde(default)]
    pub hello_name: Option<String>,
}

fn default_pool_size() -> u32 {
    4
}

fn default_timeout_secs() -> u64 {
    60
}

fn default_idle_timeout_secs() -> u64 {
    60
}

impl SmtpSettings {
    /// Settings for a plain-text server with the defaults above.
    pub fn plain(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port: Some(port),
            tls: TlsMode::None,
            username: None,
            password: None,
            pool_size: default_pool_size(),
            timeout_secs: default_timeout_secs(),
            idle_timeout_secs: default_idle_timeout_secs(),
            hello_name: None,
        }
    }

    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.tls.default_port())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("smtp: username and password must be set together")]
    IncompleteCredentials,
    #[error("smtp: pool_size must be at least 1")]
    EmptyPool,
    #[error("smtp: timeout_secs must be at least 1")]
    ZeroTimeout,
    #[error("smtp: TLS setup for {host}: {source}")]
    Tls {
        host: String,
        source: lettre::transport::smtp::Error,
    },
}

/// Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct SmtpTransport {
    inner: Arc<Inner>,
}

struct Inner {
    host: String,
    port: u16,
    mode: TlsMode,
    tls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
    idle_timeout: Duration,
    idle: Mutex<Vec<Parked>>,
    /// One permit per connection in use; idle ones hold none, and a new
    /// connection is only opened when no idle one exists, so in-use plus idle
    /// never exceeds the pool size.
    permits: Semaphore,
    pool_size: usize,
}

struct Parked {
    session: Session,
    since: Instant,
}

/// A connection and what its server said it can do beyond what lettre
/// records.
struct Session {
    conn: AsyncSmtpConnection,
    /// RFC 2920: MAIL, RCPT and DATA go out in one write, and their replies
    /// are read afterwards: two round trips per message instead of four.
    pipelining: bool,
}

impl fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("host", &self.inner.host)
            .field("port", &self.inner.port)
            .field("tls", &self.inner.mode)
            .field("auth", &self.inner.credentials.is_some())
            .field("pool_size", &self.inner.pool_size)
            .finish()
    }
}

impl SmtpTransport {
    pub fn new(settings: &SmtpSettings) -> Result<Self, SettingsError> {
        let credentials = match (&settings.username, &settings.password) {
            (Some(user), Some(password)) => {
                Some(Credentials::new(user.clone(), password.expose().to_owned()))
            }
            (None, None) => None,
            _ => return Err(SettingsError::IncompleteCredentials),
        };
        if settings.pool_size == 0 {
            return Err(SettingsError::EmptyPool);
        }
        if settings.timeout_secs == 0 {
            return Err(SettingsError::ZeroTimeout);
        }
        let tls = match settings.tls {
            TlsMode::None => {
                if credentials.is_some() {
                    tracing::warn!(host = %settings.host, "SMTP credentials will be sent without TLS");
                }
                None
            }
            TlsMode::Starttls | TlsMode::Tls => {
                Some(TlsParameters::new(settings.host.clone()).map_err(|source| {
                    SettingsError::Tls {
                        host: settings.host.clone(),
                        source,
                    }
                })?)
            }
        };
        let hello = settings
            .hello_name
            .clone()
            .map(ClientId::Domain)
            .unwrap_or_default();
        let pool_size = settings.pool_size as usize;
        Ok(Self {
            inner: Arc::new(Inner {
                host: settings.host.clone(),
                port: settings.port(),
                mode: settings.tls,
                tls,
                credentials,
                hello,
                timeout: Duration::from_secs(settings.timeout_secs),
                idle_timeout: Duration::from_secs(settings.idle_timeout_secs),
                idle: Mutex::new(Vec::new()),
                permits: Semaphore::new(pool_size),
                pool_size,
            }),
        })
    }

    pub async fn send_message(
        &self,
        message: &Message,
        envelope: &Envelope,
    ) -> Result<SmtpAccepted, SendError> {
        let recipient = single_recipient(envelope)?;
        let body = message.formatted();
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| SendError::Connection {
                before_data: true,
                detail: "transport closed".to_owned(),
            })?;
        loop {
            let (mut session, reused) = match self.inner.checkout() {
                Some(session) => (session, true),
                None => (self.inner.connect().await?, false),
            };
            match self
                .inner
                .transaction(&mut session, envelope, recipient, &body)
                .await
            {
                Ok(response) => {
                    self.inner.park(session);
                    return Ok(SmtpAccepted {
                        code: response.code().into(),
                        reply: response.message().collect::<Vec<_>>().join(" "),
                    });
                }
                Err(failure) if reused && failure.stale_connection() => {
                    // A pooled connection the server had already dropped (or
                    // was closing with 421). Nothing of this message was sent,
                    // so trying again on another connection cannot duplicate.
                    tracing::debug!(%failure, "pooled SMTP connection was stale; reconnecting");
                    continue;
                }
                Err(failure) => {
                    if failure.connection_reusable() {
                        self.inner.reset_and_park(session).await;
                    }
                    return Err(failure.into_send_error());
                }
            }
        }
    }

    /// Politely closes idle connections (QUIT). In-flight sends are not
    /// affected; their connections close when they finish or are dropped.
    pub async fn close_idle(&self) {
        let parked = std::mem::take(&mut *self.inner.lock_idle());
        for mut parked in parked {
            let _ = tokio::time::timeout(self.inner.timeout, parked.session.conn.quit()).await;
        }
    }

    pub fn idle_connections(&self) -> usize {
        self.inner.lock_idle().len()
    }
}

impl MailTransport for SmtpTransport {
    fn send<'a>(&'a self, message: &'a Message, envelope: &'a Envelope) -> SendFuture<'a> {
        Box::pin(self.send_message(message, envelope))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Mail,
    Rcpt,
    Data,
    /// Message content and the final reply.
    Message,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Mail => "MAIL FROM",
            Self::Rcpt => "RCPT TO",
            Self::Data => "DATA",
            Self::Message => "message content",
        })
    }
}

#[derive(Debug)]
enum FailureKind {
    Reply { code: u16, reply: String },
    Lost(String),
    Unsendable(String),
}

#[derive(Debug)]
struct Failure {
    stage: Stage,
    kind: FailureKind,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FailureKind::Reply { code, reply } => write!(f, "{}: {code} {reply}", self.stage),
            FailureKind::Lost(detail) | FailureKind::Unsendable(detail) => {
                write!(f, "{}: {detail}", self.stage)
            }
        }
    }
}

impl Failure {
    fn from_lettre(stage: Stage, error: lettre::transport::smtp::Error) -> Self {
        let kind = match error.status() {
            Some(code) => FailureKind::Reply {
                code: code.into(),
                reply: reply_text(&error),
            },
            // Includes lettre's "incomplete response", which is how a peer
            // closing the socket while we wait for a reply surfaces.
            None => FailureKind::Lost(error.to_string()),
        };
        Self { stage, kind }
    }

    fn stale_connection(&self) -> bool {
        self.stage == Stage::Mail
            && match &self.kind {
                FailureKind::Lost(_) => true,
                FailureKind::Reply { code, .. } => *code == 421,
                FailureKind::Unsendable(_) => false,
            }
    }

    /// After a plain rejection the session is still in a known state; 421
    /// means the server is closing it.
    fn connection_reusable(&self) -> bool {
        match &self.kind {
            FailureKind::Reply { code, .. } => *code != 421,
            FailureKind::Unsendable(_) => true,
            FailureKind::Lost(_) => false,
        }
    }

    fn into_send_error(self) -> SendError {
        let detail = self.to_string();
        match self.kind {
            FailureKind::Reply { code: 421, reply } => SendError::RelayClosing { code: 421, reply },
            FailureKind::Reply { code, reply } if (400..500).contains(&code) => {
                SendError::Temporary { code, reply }
            }
            FailureKind::Reply { code, reply } if self.stage == Stage::Mail => {
                SendError::SenderRejected { code, reply }
            }
            FailureKind::Reply { code, reply } => SendError::Permanent { code, reply },
            FailureKind::Lost(_) if self.stage == Stage::Rcpt => {
                SendError::RecipientDropped { detail }
            }
            FailureKind::Lost(_) => SendError::Connection {
                before_data: self.stage != Stage::Message,
                detail,
            },
            FailureKind::Unsendable(_) => SendError::Unsendable(detail),
        }
    }
}

/// lettre keeps the reply lines in the error's source.
fn reply_text(error: &lettre::transport::smtp::Error) -> String {
    std::error::Error::source(error)
        .map(ToString::to_string)
        .unwrap_or_default()
}

impl Inner {
    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Parked>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn checkout(&self) -> Option<Session> {
        let mut idle = self.lock_idle();
        // Most recently used first: the likeliest to still be open. Expired
        // ones are just dropped (socket closed) rather than sent QUIT, which
        // would cost a round trip here and may hit a dead peer anyway.
        while let Some(parked) = idle.pop() {
            if parked.since.elapsed() < self.idle_timeout && !parked.session.conn.has_broken() {
                return Some(parked.session);
            }
        }
        None
    }

    fn park(&self, session: Session) {
        if session.conn.has_broken() {
            return;
        }
        let mut idle = self.lock_idle();
        if idle.len() < self.pool_size {
            idle.push(Parked {
                session,
                since: Instant::now(),
            });
        }
    }

    async fn reset_and_park(&self, mut session: Session) {
        if let Ok(Ok(_)) = tokio::time::timeout(self.timeout, session.conn.command(Rset)).await {
            self.park(session);
        }
    }

    async fn connect(&self) -> Result<Session, SendError> {
        let setup = async {
            let mut conn = match self.mode {
                TlsMode::Tls => AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &self.hello,
                    self.tls.clone(),
                    None,
                )
                .await
                .map_err(|e| e.to_string())?,
                TlsMode::None | TlsMode::Starttls => {
                    // Our own socket so we can disable Nagle: lettre writes
                    // the message and the final "." separately, and with
                    // Nagle plus the relay's delayed ACK every message waits
                    // ~40 ms for nothing. (Implicit TLS has no public way to
                    // hand lettre a socket, so it keeps lettre's.)
                    let stream = TcpStream::connect((self.host.as_str(), self.port))
                        .await
                        .map_err(|e| e.to_string())?;
                    let _ = stream.set_nodelay(true);
                    AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                        .await
                        .map_err(|e| e.to_string())?
                }
            };
            if let (TlsMode::Starttls, Some(tls)) = (self.mode, &self.tls) {
                // Errors out if STARTTLS is not offered: no silent plain text.
                conn.starttls(tls.clone(), &self.hello)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            if let Some(credentials) = &self.credentials {
                conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            // lettre keeps only the extensions it uses from its EHLO; ask
            // again for the rest (once per connection).
            let ehlo = conn
                .command(Ehlo::new(self.hello.clone()))
                .await
                .map_err(|e| e.to_string())?;
            let pipelining = ehlo
                .message()
                .skip(1)
                .any(|line| line.trim().eq_ignore_ascii_case("PIPELINING"));
            Ok::<_, String>(Session { conn, pipelining })
        };
        let failed = |detail: String| SendError::Connection {
            before_data: true,
            detail: format!("connecting to {}:{}: {detail}", self.host, self.port),
        };
        match tokio::time::timeout(self.timeout, setup).await {
            Ok(Ok(session)) => Ok(session),
            Ok(Err(error)) => Err(failed(error)),
            Err(_) => Err(failed(format!("no answer within {:?}", self.timeout))),
        }
    }

    async fn transaction(
        &self,
        session: &mut Session,
        envelope: &Envelope,
        recipient: &lettre::Address,
        body: &[u8],
    ) -> Result<Response, Failure> {
        let conn = &mut session.conn;
        let mut parameters = Vec::new();
        let ascii_addresses = envelope
            .from()
            .into_iter()
            .chain(envelope.to())
            .all(|address| AsRef::<str>::as_ref(address).is_ascii());
        if !ascii_addresses {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err(unsendable("UTF-8 address but the relay lacks SMTPUTF8"));
            }
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if !body.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                return Err(unsendable("8-bit content but the relay lacks 8BITMIME"));
            }
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let mail = Mail::new(envelope.from().cloned(), parameters);
        let rcpt = Rcpt::new(recipient.clone(), Vec::new());
        if session.pipelining {
            self.pipelined_envelope(conn, &mail, &rcpt).await?;
        } else {
            self.step(Stage::Mail, conn.command(mail)).await?;
            self.step(Stage::Rcpt, conn.command(rcpt)).await?;
            self.step(Stage::Data, conn.command(Data)).await?;
        }
        match std::str::from_utf8(body) {
            // One write for the content and its end: lettre's `message`
            // writes (and flushes) them separately.
            Ok(text) => {
                let content = Verbatim(dot_stuffed(text));
                self.step(Stage::Message, conn.command(content)).await
            }
            Err(_) => self.step(Stage::Message, conn.message(body)).await,
        }
    }

    /// MAIL, RCPT and DATA in one write; then their three replies, in order.
    /// The first refusal decides the outcome, but every reply is read so the
    /// session stays in step for the next message.
    async fn pipelined_envelope(
        &self,
        conn: &mut AsyncSmtpConnection,
        mail: &Mail,
        rcpt: &Rcpt,
    ) -> Result<(), Failure> {
        let commands = Verbatim(format!("{mail}{rcpt}{Data}"));
        let mut first_refusal = None;
        for stage in [Stage::Mail, Stage::Rcpt, Stage::Data] {
            let reply = if stage == Stage::Mail {
                self.step(stage, conn.command(&commands)).await
            } else {
                self.step(stage, conn.read_response()).await
            };
            match reply {
                Ok(_) if stage == Stage::Data && first_refusal.is_some() => {
                    // A server that opens DATA after refusing MAIL or RCPT
                    // is out of step with us: close rather than guess.
                    conn.abort().await;
                }
                Ok(_) => {}
                Err(
                    failure @ Failure {
                        kind: FailureKind::Lost(_),
                        ..
                    },
                ) => return Err(first_refusal.unwrap_or(failure)),
                Err(refusal) => {
                    first_refusal.get_or_insert(refusal);
                }
            }
        }
        first_refusal.map_or(Ok(()), Err)
    }

    async fn step(
        &self,
        stage: Stage,
        command: impl Future<Output = Result<Response, lettre::transport::smtp::Error>>,
    ) -> Result<Response, Failure> {
        match tokio::time::timeout(self.timeout, command).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => Err(Failure::from_lettre(stage, error)),
            Err(_) => Err(Failure {
                stage,
                kind: FailureKind::Lost(format!("no reply within {:?}", self.timeout)),
            }),
        }
    }
}

/// Text written to the server exactly as given (lettre's `command` writes
/// any `Display` in one write and reads one reply).
struct Verbatim(String);

impl fmt::Display for Verbatim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The message as DATA content (RFC 5321 4.5.2): a line starting with "."
/// gets another "."; then the terminating ".". Same transparency as lettre's
/// codec (lines end at CRLF).
fn dot_stuffed(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    if text.starts_with('.') {
        out.push('.');
    }
    let mut copied = 0;
    for at in memchr::memmem::find_iter(text.as_bytes(), b"\r\n.") {
        out.push_str(&text[copied..at + 2]);
        out.push('.');
        copied = at + 2;
    }
    out.push_str(&text[copied..]);
    if !text.is_empty() && !text.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

fn unsendable(reason: &str) -> Failure {
    Failure {
        stage: Stage::Mail,
        kind: FailureKind::Unsendable(reason.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::{Error as DeError, MapDeserializer, StrDeserializer};
    use serde::de::{Error as _, IntoDeserializer, Visitor};
    use serde::{Deserializer, forward_to_deserialize_any};

    use super::*;

    /// A config value written as a string, like in an env var or a flat
    /// table: enough of a `Deserializer` to exercise `SmtpSettings` without a
    /// format crate.
    #[derive(Clone, Copy)]
    struct Val(&'static str);

    impl<'de> Deserializer<'de> for Val {
        type Error = DeError;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            visitor.visit_str(self.0)
        }

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            visitor.visit_some(self)
        }

        fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            visitor.visit_u64(self.0.parse().map_err(DeError::custom)?)
        }

        fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.deserialize_u16(visitor)
        }

        fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.deserialize_u16(visitor)
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            name: &'static str,
            variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, DeError> {
            StrDeserializer::<DeError>::new(self.0).deserialize_enum(name, variants, visitor)
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u128 f32 f64 char str string bytes byte_buf
            unit unit_struct newtype_struct seq tuple tuple_struct map struct
            identifier ignored_any
        }
    }

    impl IntoDeserializer<'_, DeError> for Val {
        type Deserializer = Self;

        fn into_deserializer(self) -> Self {
            self
        }
    }

    fn settings(pairs: &[(&'static str, &'static str)]) -> Result<SmtpSettings, DeError> {
        SmtpSettings::deserialize(MapDeserializer::<_, DeError>::new(
            pairs.iter().map(|(k, v)| (*k, Val(v))),
        ))
    }

    #[test]
    fn dot_stuffing_matches_rfc_5321() {
        assert_eq!(
            dot_stuffed("a\r\n.b\r\n..\r\nc.d\r\n"),
            "a\r\n..b\r\n...\r\nc.d\r\n.\r\n"
        );
        assert_eq!(dot_stuffed(".start"), "..start\r\n.\r\n");
        assert_eq!(dot_stuffed("x\r\n"), "x\r\n.\r\n");
        // A bare LF does not end a line (as in lettre's codec).
        assert_eq!(dot_stuffed("a\n.b"), "a\n.b\r\n.\r\n");
        assert_eq!(dot_stuffed(""), ".\r\n");
    }

    #[test]
    fn password_never_printed() {
        let settings = settings(&[
            ("host", "smtp.example.org"),
            ("tls", "tls"),
            ("username", "pregon"),
            ("password", "hunter2"),
        ])
        .unwrap();
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("password: Some(***)"), "{debug}");
        assert_eq!(settings.port(), 465);
        assert_eq!(settings.pool_size, 4);
        let transport = SmtpTransport::new(&settings).unwrap();
        assert!(!format!("{transport:?}").contains("hunter2"));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let error = settings(&[("host", "smtp.example.org"), ("passwd", "x")]).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `passwd`"),
            "{error}"
        );
        let error = settings(&[("host", "h"), ("tls", "ssl")]).unwrap_err();
        assert!(
            error.to_string().contains("unknown variant `ssl`"),
            "{error}"
        );
    }

    #[test]
    fn defaults_and_validation() {
        let default = settings(&[("host", "smtp.example.org")]).unwrap();
        assert_eq!(default.tls, TlsMode::Starttls);
        assert_eq!(default.port(), 587);
        assert_eq!(default.timeout_secs, 60);
        let explicit = settings(&[
            ("host", "127.0.0.1"),
            ("port", "2525"),
            ("tls", "none"),
            ("pool_size", "2"),
            ("timeout_secs", "5"),
            ("hello_name", "pregon.example"),
        ])
        .unwrap();
        assert_eq!(
            (explicit.port(), explicit.tls, explicit.pool_size),
            (2525, TlsMode::None, 2)
        );
        assert_eq!(explicit.hello_name.as_deref(), Some("pregon.example"));
        SmtpTransport::new(&explicit).unwrap();
        assert!(matches!(
            SmtpTransport::new(&settings(&[("host", "h"), ("username", "u")]).unwrap()),
            Err(SettingsError::IncompleteCredentials)
        ));
        let mut zero = SmtpSettings::plain("127.0.0.1", 2525);
        zero.pool_size = 0;
        assert!(matches!(
            SmtpTransport::new(&zero),
            Err(SettingsError::EmptyPool)
        ));
    }
}
