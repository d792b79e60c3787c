//! Fetching bounces, complaints and invitation replies from a mailbox over
//! IMAP with TLS (`[inbound]`): `pregon inbound fetch` once, and `pregon
//! serve` / `pregon dispatch` every `poll_interval_secs`.
//!
//! One pass: connect (TLS, the built-in web roots plus `ca_file`), LOGIN,
//! SELECT the mailbox, read its UIDVALIDITY; the database remembers, per
//! mailbox, the UIDVALIDITY and the last UID handled (`db::inbound`). Every
//! message above that UID is fetched (`BODY.PEEK[]`, oldest first), handled
//! by `app::inbound::handle` in one transaction that also records it and
//! moves the cursor, then flagged `\Seen` and, with `handled_mailbox`, moved
//! there. So a message is handled once whatever restarts: a crash after the
//! commit and before the flag leaves an unflagged message the cursor is
//! already past. Two fetchers on one database: the message's record is
//! unique, the second one's transaction rolls back. When the server's
//! UIDVALIDITY changes (the mailbox was recreated), the cursor starts again
//! and only messages not flagged `\Seen` are read.

use crate::app::inbound::Handled;
use crate::app::{Actor, Context};
use crate::clock::SharedClock;
use crate::config::InboundSettings;
use crate::db::Db;
use crate::db::inbound::Cursor;
use crate::domain::inbound::InboundOutcome;
use anyhow::Context as _;
use futures_util::TryStreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{self, pki_types};

type Session = async_imap::Session<TlsStream<TcpStream>>;

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// The mailbox read, `user@host:port/mailbox`.
    pub mailbox: String,
    /// Messages newly handled, by outcome.
    pub handled: BTreeMap<InboundOutcome, usize>,
    /// Messages another fetcher had handled first.
    pub already: usize,
    /// The cursor started again because UIDVALIDITY changed.
    pub uid_validity_changed: bool,
}

impl FetchReport {
    pub fn count(&self, outcome: InboundOutcome) -> usize {
        self.handled.get(&outcome).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.handled.values().sum()
    }
}

impl std::fmt::Display for FetchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} new message(s)", self.mailbox, self.total())?;
        for (outcome, n) in &self.handled {
            write!(f, ", {n} {outcome}")?;
        }
        if self.already > 0 {
            write!(f, ", {} handled by another fetcher", self.already)?;
        }
        if self.uid_validity_changed {
            write!(f, " (UIDVALIDITY changed: unread messages read again)")?;
        }
        Ok(())
    }
}

/// Reads the configured mailbox into the database.
pub struct Fetcher {
    settings: InboundSettings,
    db: Db,
    clock: SharedClock,
    tls: TlsConnector,
}

impl Fetcher {
    pub fn new(settings: InboundSettings, db: Db, clock: SharedClock) -> anyhow::Result<Fetcher> {
        anyhow::ensure!(settings.enabled(), "inbound.host is not set");
        let tls = TlsConnector::from(Arc::new(tls_config(&settings)?));
        Ok(Fetcher {
            settings,
            db,
            clock,
            tls,
        })
    }

    /// `user@host:port/mailbox`: the cursor's name (never the password).
    pub fn mailbox_name(&self) -> String {
        let s = &self.settings;
        format!("{}@{}:{}/{}", s.user, s.host, s.port, s.mailbox)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.settings.timeout_secs.max(1))
    }

    /// Waits at most the configured timeout for one network step.
    async fn step<T, E>(
        &self,
        what: &str,
        work: impl Future<Output = Result<T, E>>,
    ) -> anyhow::Result<T>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        tokio::time::timeout(self.timeout(), work)
            .await
            .map_err(|_| anyhow::anyhow!("imap {what}: timed out"))?
            .with_context(|| format!("imap {what}"))
    }

    async fn connect(&self) -> anyhow::Result<Session> {
        let s = &self.settings;
        let tcp = self
            .step("connect", TcpStream::connect((s.host.as_str(), s.port)))
            .await?;
        let name = pki_types::ServerName::try_from(s.host.clone())
            .with_context(|| format!("inbound.host {:?}", s.host))?;
        let tls = self.step("TLS", self.tls.connect(name, tcp)).await?;
        let mut client = async_imap::Client::new(tls);
        tokio::time::timeout(self.timeout(), client.read_response())
            .await
            .map_err(|_| anyhow::anyhow!("imap greeting: timed out"))?
            .context("imap greeting")?
            .context("imap greeting: the server closed the connection")?;
        let login =
            tokio::time::timeout(self.timeout(), client.login(&s.user, s.password.expose()))
                .await
                .map_err(|_| anyhow::anyhow!("imap LOGIN: timed out"))?;
        // The error names the user, never the password.
        login.map_err(|(e, _)| anyhow::anyhow!("imap LOGIN as {}: {e}", s.user))
    }

    /// One pass over the mailbox.
    pub async fn fetch_once(&self) -> anyhow::Result<FetchReport> {
        let mut session = self.connect().await?;
        let result = self.read_mailbox(&mut session).await;
        let _ = tokio::time::timeout(self.timeout(), session.logout()).await;
        result
    }

    async fn read_mailbox(&self, session: &mut Session) -> anyhow::Result<FetchReport> {
        let s = &self.settings;
        let mut report = FetchReport {
            mailbox: self.mailbox_name(),
            ..FetchReport::default()
        };
        let handled_mailbox = s.handled_mailbox.trim();
        let can_move = if handled_mailbox.is_empty() {
            false
        } else {
            // Made once; "already exists" is the usual answer.
            let _ = tokio::time::timeout(self.timeout(), session.create(handled_mailbox)).await;
            self.step("CAPABILITY", session.capabilities())
                .await?
                .has_str("MOVE")
        };
        let selected = self.step("SELECT", session.select(&s.mailbox)).await?;
        let uid_validity = i64::from(
            selected
                .uid_validity
                .context("imap SELECT: the server gave no UIDVALIDITY")?,
        );
        let (name, now) = (report.mailbox.clone(), self.clock.now());
        let (cursor, reset) = self
            .db
            .transaction(move |c| crate::db::inbound::cursor(c, &name, uid_validity, now))
            .await?;
        report.uid_validity_changed = reset;
        if reset {
            tracing::warn!(mailbox = %report.mailbox, uid_validity, "UIDVALIDITY changed: reading the unread messages again");
        }
        let query = format!(
            "UID {}:*{}",
            cursor.last_uid + 1,
            if reset { " UNSEEN" } else { "" }
        );
        let found = self.step("SEARCH", session.uid_search(&query)).await?;
        // `n:*` names the last message even when its UID is below n.
        let mut uids: Vec<u32> = found
            .into_iter()
            .filter(|&uid| i64::from(uid) > cursor.last_uid)
            .collect();
        uids.sort_unstable();
        for uid in uids {
            let handled = self.handle_one(session, &cursor, uid).await?;
            match handled {
                Handled::Recorded { outcome, detail } => {
                    tracing::info!(mailbox = %report.mailbox, uid, %outcome, %detail, "inbound message handled");
                    *report.handled.entry(outcome).or_default() += 1;
                }
                Handled::AlreadyRecorded => report.already += 1,
            }
            self.mark(session, uid, handled_mailbox, can_move).await?;
        }
        Ok(report)
    }

    async fn handle_one(
        &self,
        session: &mut Session,
        cursor: &Cursor,
        uid: u32,
    ) -> anyhow::Result<Handled> {
        let max = self.settings.max_message_bytes;
        let size = {
            let fetched: Vec<_> = self
                .step("FETCH", async {
                    session
                        .uid_fetch(uid.to_string(), "(UID RFC822.SIZE)")
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                })
                .await?;
            fetched.iter().find_map(|f| f.size).unwrap_or(0)
        };
        let raw = if size > max {
            None
        } else {
            let fetched: Vec<_> = self
                .step("FETCH", async {
                    session
                        .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                })
                .await?;
            fetched
                .iter()
                .find(|f| f.uid == Some(uid))
                .or(fetched.first())
                .and_then(|f| f.body().map(<[u8]>::to_vec))
        };
        let cx = Context::new(Actor::System, self.clock.now()).with_reason(Some(format!(
            "from the mailbox {}, message UID {uid}",
            self.mailbox_name()
        )));
        let cursor = *cursor;
        let uid = i64::from(uid);
        let handled = match raw {
            Some(raw) => {
                self.db
                    .transaction(move |c| crate::app::inbound::handle(c, &cx, &cursor, uid, &raw))
                    .await
            }
            None => {
                let reason = if size > max {
                    format!("{size} bytes, larger than inbound.max_message_bytes ({max})")
                } else {
                    "the server returned no content".to_owned()
                };
                self.db
                    .transaction(move |c| crate::app::inbound::skip(c, &cx, &cursor, uid, &reason))
                    .await
            }
        };
        match handled {
            Ok(handled) => Ok(handled),
            // Another fetcher recorded it between our check and our insert.
            Err(crate::Error::Duplicate { .. }) => Ok(Handled::AlreadyRecorded),
            Err(e) => Err(e.into()),
        }
    }

    /// Flags a handled message `\Seen` and moves it to `handled_mailbox`.
    async fn mark(
        &self,
        session: &mut Session,
        uid: u32,
        handled_mailbox: &str,
        can_move: bool,
    ) -> anyhow::Result<()> {
        let set = uid.to_string();
        self.step("STORE", async {
            session
                .uid_store(&set, "+FLAGS.SILENT (\\Seen)")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
        if handled_mailbox.is_empty() {
            return Ok(());
        }
        if can_move {
            self.step("MOVE", session.uid_mv(&set, handled_mailbox))
                .await?;
        } else {
            self.step("COPY", session.uid_copy(&set, handled_mailbox))
                .await?;
            self.step("STORE", async {
                session
                    .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
            self.step("EXPUNGE", async {
                session
                    .uid_expunge(&set)
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
        }
        Ok(())
    }

    /// Fetches every `poll_interval_secs` until shutdown; with
    /// `exit_when_idle`, one pass. A failed pass is logged and tried again
    /// at the next interval.
    pub async fn run(
        self,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
        exit_when_idle: bool,
    ) -> anyhow::Result<()> {
        let interval = Duration::from_secs(self.settings.poll_interval_secs.max(1));
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            match self.fetch_once().await {
                Ok(report) if report.total() > 0 => tracing::info!(%report, "inbound mailbox read"),
                Ok(_) => {}
                Err(e) if exit_when_idle => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "inbound mailbox: fetch failed; trying again at the next interval")
                }
            }
            if exit_when_idle {
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
            }
        }
    }
}

/// TLS for IMAP: the built-in web roots plus the certificates of `ca_file`.
fn tls_config(settings: &InboundSettings) -> anyhow::Result<rustls::ClientConfig> {
    use pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let ca_file = settings.ca_file.trim();
    if !ca_file.is_empty() {
        let pem = std::fs::read(ca_file).with_context(|| format!("inbound.ca_file {ca_file}"))?;
        let mut added = 0;
        for cert in pki_types::CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.with_context(|| format!("inbound.ca_file {ca_file}"))?;
            roots
                .add(cert)
                .with_context(|| format!("inbound.ca_file {ca_file}"))?;
            added += 1;
        }
        anyhow::ensure!(added > 0, "inbound.ca_file {ca_file}: no certificate in it");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
