//! Settings: the embedded `config/default.toml`, then `<config dir>/<PREGON_ENV>.toml`
//! (default environment `local`, file optional), then `PREGON__SECTION__KEY`
//! environment variables, then command-line flags.

use anyhow::Context;
use serde::Deserialize;
use std::path::Path;

pub const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub log: LogSettings,
    pub email: EmailSettings,
    pub feeds: FeedSettings,
    pub imports: ImportSettings,
    pub approval: ApprovalSettings,
    pub accounts: AccountSettings,
    pub rate_limits: RateLimitSettings,
    pub calendar: CalendarSettings,
    pub jobs: JobSettings,
    pub webhooks: WebhookSettings,
    pub credentials: CredentialSettings,
    pub inbound: InboundSettings,
    #[serde(default)]
    pub reminders: ReminderSettings,
    #[serde(default)]
    pub engagement: EngagementSettings,
    #[serde(default)]
    pub manual: ManualSettings,
    #[serde(default)]
    pub social: SocialSettings,
}

/// Social posts: `[social]` (see docs/social.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SocialSettings {
    /// The largest image taken by the raw upload route
    /// (`POST …/variants/{channel_id}/{lang}/media`) and by the variant
    /// form's file field, in bytes; the network's own limit is checked as
    /// well.
    pub max_image_bytes: usize,
}

impl Default for SocialSettings {
    fn default() -> Self {
        SocialSettings {
            max_image_bytes: 8 * 1024 * 1024,
        }
    }
}

/// The manual channel: `[manual]` (see docs/social.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManualSettings {
    /// The emailed "it is posted" link works until this many days after the
    /// post's due time.
    pub link_days: u32,
}

impl Default for ManualSettings {
    fn default() -> Self {
        ManualSettings { link_days: 7 }
    }
}

/// Reading the networks' public counts of published posts: `[engagement]`
/// (see docs/social.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngagementSettings {
    /// Off: no counts are read (the report shows the last ones read).
    pub enabled: bool,
    /// The counts are read again this often (minutes).
    pub refresh_minutes: u32,
    /// Posts published longer ago than this are no longer read (days).
    pub max_age_days: u32,
    /// Where Bluesky posts' counts are read (`app.bsky.feed.getPosts`, no
    /// sign-in needed): the public AppView.
    pub bluesky_appview: String,
}

impl Default for EngagementSettings {
    fn default() -> Self {
        EngagementSettings {
            enabled: true,
            refresh_minutes: 360,
            max_age_days: 90,
            bluesky_appview: "https://public.api.bsky.app".into(),
        }
    }
}

/// Reminders and the weekly digest: `[reminders]` (see docs/jobs.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReminderSettings {
    /// Off: no reminders and no digests are planned.
    pub enabled: bool,
    /// Days before an event or a learning meeting its people are reminded.
    pub event_days: u32,
    /// Days before a social post or a newsletter issue its people are reminded.
    pub post_days: u32,
    /// Days an item may wait in review before approvers are reminded.
    pub approval_days: u32,
    /// The planner looks for due reminders at most this often (seconds).
    pub plan_every_secs: u64,
    /// Send the weekly digest (each account can still opt out).
    pub digest: bool,
    /// The digest lists tentative items unchanged for more than this many days.
    pub digest_tentative_days: u32,
    /// The hour (UTC) on Monday from which the week's digest is sent.
    pub digest_hour_utc: u32,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        ReminderSettings {
            enabled: true,
            event_days: 7,
            post_days: 1,
            approval_days: 2,
            plan_every_secs: 60,
            digest: true,
            digest_tentative_days: 14,
            digest_hour_utc: 7,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSettings {
    pub four_eyes: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSettings {
    pub sign_in_link_minutes: u32,
    pub session_hours: u32,
    pub failure_window_minutes: u32,
    pub max_failures_per_account: u32,
    pub max_failures_per_ip: u32,
}

/// Buckets of the public route groups (GCRA, per client address); the
/// subscribe form's is `server.public_rate_limit_per_minute`, the per-client
/// feed budget `feeds.rate_limit_per_minute`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub health_per_minute: u32,
    pub links_per_minute: u32,
    pub feed_per_feed_per_minute: u32,
    pub feed_full_response_cost: u32,
}

/// The job runner (social posts, webhooks, reminders): `[jobs]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    /// Jobs one runner attempts at once.
    pub concurrency: u32,
    /// How often an idle runner looks for due jobs, in milliseconds.
    pub poll_interval_ms: u64,
    /// Heartbeat period; a runner silent for three is dead and its jobs recovered.
    pub heartbeat_secs: u64,
    /// On SIGTERM, how long attempts under way may take to finish.
    pub shutdown_grace_secs: u64,
}

/// Outbound webhooks: `[webhooks]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Allow targets on loopback, private and link-local addresses (tests,
    /// an intranet receiver). Checked when each connection is made.
    pub allow_private: bool,
    /// Seconds a delivery may take.
    pub timeout_secs: u64,
    /// Hours the older secrets keep signing after a rotation.
    pub rotation_overlap_hours: u32,
}

/// `[credentials]`: the key that seals stored secrets (webhook signing
/// secrets, social network credentials).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSettings {
    /// 64 hex digits. Kept out of Debug output and logs; set it with
    /// PREGON__CREDENTIALS__KEY.
    pub key: crate::email::Secret,
}

/// `[inbound]`: the mailbox that bounces (RFC 3464), complaints (ARF,
/// RFC 5965) and invitation replies (iTIP REPLY) arrive in, read over IMAP
/// with TLS (port 993). An empty `host` turns the fetching off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Kept out of Debug output and logs; set it with PREGON__INBOUND__PASSWORD.
    pub password: crate::email::Secret,
    /// The folder read, e.g. `INBOX`.
    pub mailbox: String,
    /// Where handled messages are moved (IMAP MOVE); empty: they stay,
    /// flagged `\Seen`.
    pub handled_mailbox: String,
    /// A PEM file of certificates trusted besides the built-in roots (a
    /// private CA, a test server's self-signed certificate).
    pub ca_file: String,
    /// How often `serve` and `dispatch` fetch, in seconds.
    pub poll_interval_secs: u64,
    /// Longest one network step (connect, a command) may take, in seconds.
    pub timeout_secs: u64,
    /// Largest message read; a larger one is recorded as skipped.
    pub max_message_bytes: u32,
}

impl InboundSettings {
    pub fn enabled(&self) -> bool {
        !self.host.trim().is_empty()
    }
}

/// Rules of the calendar model itself, whoever writes the activity (API, import).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettings {
    /// Most occurrences one recurrence rule may generate on one day.
    pub max_occurrences_per_day: u32,
    /// The zone the web pages show times in beside the event's own, for a
    /// viewer whose browser has not said its zone (no JavaScript yet).
    #[serde(default = "default_viewer_zone")]
    pub viewer_time_zone: crate::domain::zone::Zone,
}

fn default_viewer_zone() -> crate::domain::zone::Zone {
    chrono_tz::Europe::Madrid.into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSettings {
    pub refresh_minutes: u32,
    pub cancelled_retention_days: u32,
    pub rate_limit_per_minute: u32,
    pub change_poll_seconds: u64,
    pub cache_entries: usize,
    pub organizer_email: String,
    pub name: Localized,
    pub description: Localized,
}

/// A text in each of the service's languages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    pub es: String,
    pub en: String,
    pub fr: String,
}

impl Localized {
    pub fn get(&self, lang: crate::domain::Language) -> &str {
        match lang {
            crate::domain::Language::Es => &self.es,
            crate::domain::Language::En => &self.en,
            crate::domain::Language::Fr => &self.fr,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportSettings {
    pub max_bytes: usize,
    pub max_events: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    pub public_url: String,
    pub body_limit_bytes: usize,
    pub public_rate_limit_per_minute: u32,
    /// Longest a request body may take to arrive, in milliseconds (408 after).
    pub body_timeout_ms: u64,
    /// Request bodies one client address may be sending at the same time.
    pub bodies_in_flight_per_ip: usize,
    /// Peers (addresses or CIDR blocks) whose `Forwarded` / `X-Forwarded-For`
    /// header names the client; from anyone else those headers are ignored.
    /// In the environment: a comma-separated list.
    #[serde(deserialize_with = "list_or_commas")]
    pub trusted_proxies: Vec<String>,
}

/// A list setting from a TOML array, or from one comma-separated string (the
/// only form an environment variable has).
fn list_or_commas<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Form::deserialize(d)? {
        Form::List(items) => items,
        Form::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

impl ServerSettings {
    /// `public_url` as set, or, when it is empty, derived from the address the
    /// server listens on (`addr`), with a warning: links in feeds and emails
    /// must point where the server really is, not at a default it does not
    /// listen on. An unspecified address (0.0.0.0, ::) is named by the
    /// machine's hostname.
    pub fn effective_public_url(&self, addr: std::net::SocketAddr) -> String {
        let set = self.public_url.trim().trim_end_matches('/');
        if !set.is_empty() {
            return set.to_owned();
        }
        let host = if addr.ip().is_unspecified() {
            machine_hostname().unwrap_or_else(|| "localhost".into())
        } else if addr.is_ipv6() {
            format!("[{}]", addr.ip())
        } else {
            addr.ip().to_string()
        };
        let url = format!("http://{host}:{}", addr.port());
        tracing::warn!(
            public_url = %url,
            "server.public_url is not set: links in feeds and emails use the address this \
             server listens on; set server.public_url to the address partners reach"
        );
        url
    }
}

fn machine_hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// May hold a password: kept out of Debug output and logs.
    pub url: String,
    pub pool_size: u32,
    pub seed_when_empty: bool,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("seed_when_empty", &self.seed_when_empty)
            .finish()
    }
}

/// Hides the password of a `scheme://user:password@host` URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Sending email: which transport, who sends, how fast, and how the dispatcher
/// treats failures. Every key is documented in `config/default.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub transport: TransportKind,
    pub outbox_dir: String,
    pub from_address: String,
    pub from_name: String,
    pub reply_to: String,
    pub unsubscribe_mailto: String,
    /// ORGANIZER of invitations: where calendars send their replies.
    #[serde(default)]
    pub invitation_organizer: String,
    pub organisation: String,
    pub postal_address: String,
    pub rate_per_second: u32,
    pub rate_per_hour: u32,
    pub concurrency: u32,
    /// Deliveries each worker marks `sending` ahead of the one on the wire;
    /// unset: 7 (`dispatch::DEFAULT_MARK_AHEAD`; see the dispatcher).
    #[serde(default)]
    pub mark_ahead: Option<u32>,
    pub batch_size: u32,
    pub poll_interval_ms: u64,
    pub max_attempts: u32,
    pub retry_for: crate::email::retry::Span,
    pub max_unknown: u32,
    pub retry_base_secs: u64,
    pub retry_max_secs: u64,
    pub outcome_unknown: OutcomeUnknownPolicy,
    pub confirm_link_hours: u32,
    pub heartbeat_secs: u64,
    pub shutdown_grace_secs: u64,
    pub smtp: SmtpConfig,
    pub dkim: DkimSettings,
}

/// Optional DKIM signing of every outgoing message (`[email.dkim]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    /// Empty: no signing.
    pub selector: String,
    /// Empty: the domain of `from_address`.
    pub domain: String,
    pub algorithm: crate::email::dkim::DkimAlgorithm,
    pub private_key_file: String,
    /// Kept out of Debug output and logs; set it with PREGON__EMAIL__DKIM__PRIVATE_KEY.
    pub private_key: crate::email::Secret,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// One .eml file per message under `outbox_dir`: nothing leaves the machine.
    Outbox,
    Smtp,
}

/// What happens to a delivery whose message may or may not have reached the
/// relay (connection lost after the content was sent, or the process killed
/// while sending).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeUnknownPolicy {
    /// Send again (same Message-ID): nobody is lost, a few may get it twice.
    Resend,
    /// Keep it as "outcome unknown" for a person to decide: nobody gets it
    /// twice, a few may get nothing.
    Hold,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: crate::email::TlsMode,
    pub username: String,
    /// Kept out of Debug output and logs; set it with PREGON__EMAIL__SMTP__PASSWORD.
    pub password: crate::email::Secret,
    pub pool_size: u32,
    pub timeout_secs: u64,
    pub idle_timeout_secs: u64,
    pub hello_name: String,
}

impl SmtpConfig {
    /// The transport's settings; empty strings mean "not set".
    pub fn transport_settings(&self) -> crate::email::SmtpSettings {
        let optional = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        let mut settings = crate::email::SmtpSettings::plain(self.host.clone(), self.port);
        settings.tls = self.tls;
        settings.username = optional(&self.username);
        settings.password = optional(self.password.expose()).map(crate::email::Secret::new);
        settings.pool_size = self.pool_size;
        settings.timeout_secs = self.timeout_secs;
        settings.idle_timeout_secs = self.idle_timeout_secs;
        settings.hello_name = optional(&self.hello_name);
        settings
    }
}

impl Settings {
    /// Loads settings from the layers above; `config_dir` defaults to `./config`.
    pub fn load(config_dir: Option<&Path>) -> anyhow::Result<Settings> {
        Settings::load_with_env(config_dir, None)
    }

    /// `load`, reading `PREGON__…` variables from `env` instead of the process
    /// environment when given (tests). Variables are taken as text: a setting
    /// that is a string stays exactly as written (an SMTP password `0123`, a
    /// name `nan`); numeric and boolean settings are parsed from that text by
    /// their own type when the settings are read.
    pub fn load_with_env(
        config_dir: Option<&Path>,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> anyhow::Result<Settings> {
        let dir = config_dir.unwrap_or(Path::new("config"));
        if config_dir.is_some() && !dir.is_dir() {
            anyhow::bail!("config directory {} does not exist", dir.display());
        }
        let environment = match &env {
            Some(vars) => vars.get("PREGON_ENV").cloned(),
            None => std::env::var("PREGON_ENV").ok(),
        }
        .unwrap_or_else(|| "local".into());
        let builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .add_source(config::File::from(dir.join(&environment)).required(false))
            .add_source(
                config::Environment::with_prefix("PREGON")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(false)
                    .source(env),
            );
        builder
            .build()
            .context("reading configuration")?
            .try_deserialize()
            .context("invalid configuration")
    }

    /// The embedded defaults alone (tests start from these).
    pub fn defaults() -> Settings {
        toml::from_str(DEFAULTS).expect("config/default.toml matches Settings")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_defaults_match_the_code() {
        // deny_unknown_fields and no serde defaults: a key added to the code but not
        // to config/default.toml (or the reverse) fails here.
        let s = Settings::defaults();
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        assert!(s.database.url.starts_with("sqlite://"));
        // A fresh install sends nowhere by surprise.
        assert_eq!(s.email.transport, TransportKind::Outbox);
        assert_eq!(format!("{:?}", s.email.smtp.password), "***");
    }

    #[test]
    fn strings_from_the_environment_stay_strings_and_numbers_still_parse() {
        let env = [
            ("PREGON__EMAIL__SMTP__PASSWORD", "0123"),
            ("PREGON__EMAIL__FROM_NAME", "nan"),
            ("PREGON__EMAIL__SMTP__USERNAME", "true"),
            ("PREGON__EMAIL__ORGANISATION", "1e5"),
            ("PREGON__DATABASE__POOL_SIZE", "3"),
            ("PREGON__DATABASE__SEED_WHEN_EMPTY", "false"),
            ("PREGON__EMAIL__SMTP__PORT", "2525"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::load_with_env(Some(dir.path()), Some(env)).unwrap();
        assert_eq!(s.email.smtp.password.expose(), "0123");
        assert_eq!(s.email.from_name, "nan");
        assert_eq!(s.email.smtp.username, "true");
        assert_eq!(s.email.organisation, "1e5");
        assert_eq!(s.database.pool_size, 3);
        assert!(!s.database.seed_when_empty);
        assert_eq!(s.email.smtp.port, 2525);
        // A number setting given text that is not a number is refused.
        let env = [("PREGON__DATABASE__POOL_SIZE".to_owned(), "many".to_owned())].into();
        assert!(Settings::load_with_env(Some(dir.path()), Some(env)).is_err());
    }

    #[test]
    fn an_unset_public_url_is_derived_from_the_bound_address() {
        let mut s = Settings::defaults().server;
        assert_eq!(s.public_url, "", "derived by default");
        let addr = |a: &str| a.parse::<std::net::SocketAddr>().unwrap();
        assert_eq!(
            s.effective_public_url(addr("10.0.0.5:9000")),
            "http://10.0.0.5:9000"
        );
        assert_eq!(
            s.effective_public_url(addr("[::1]:9000")),
            "http://[::1]:9000"
        );
        let any = s.effective_public_url(addr("0.0.0.0:9000"));
        assert!(any.starts_with("http://") && any.ends_with(":9000") && !any.contains("0.0.0.0"));
        s.public_url = "https://pregon.example.org/".into();
        assert_eq!(
            s.effective_public_url(addr("0.0.0.0:9000")),
            "https://pregon.example.org"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/pregon"),
            "postgres://app:***@db:5432/pregon"
        );
        assert_eq!(
            redact_url("sqlite://var/pregon.db"),
            "sqlite://var/pregon.db"
        );
    }
}
