//! Social post variants (an activity's text per channel and language), their
//! check against the network's real limits, the channel accounts they go out
//! through, and the planning of their publication: at the activity's time,
//! one publish job per variant whose approved content stands, with an
//! idempotency key from the variant and that approved content.

use super::Context;
use super::entities::Activities;
use super::history::{self, Action, FieldChange};
use super::policy::{self, Operation};
use super::records;
use super::reviews::{self, Subject};
use crate::db::posts::Publication;
use crate::db::{self, DbConnection, channel_accounts, posts};
use crate::domain::activity::{Activity, ActivityKind, PostVariant};
use crate::domain::language::Language;
use crate::domain::network::{AccountConfig, MAX_RECIPIENTS, Network, PublicationState, Recipient};
use crate::domain::review;
use crate::domain::timing::Timing;
use crate::error::{Error, Result};
use crate::jobs::NewJob;
use crate::jobs::outbound::Outbound;
use crate::jobs::sealed::Sealer;
use crate::social::{bluesky, mastodon};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A post whose time passed longer ago than this is not published any more
/// (a plan loaded late, a runner down for a day): a person decides.
pub const MAX_LATE: TimeDelta = TimeDelta::hours(24);

/// A channel account as the API shows it: never its credentials or session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelAccount {
    pub id: i64,
    pub network: Network,
    /// A name for people (e.g. "UCLG on Mastodon").
    pub name: Option<String>,
    pub base_url: String,
    pub handle: Option<String>,
    /// The channel this account publishes for.
    pub channel_id: Option<i64>,
    pub has_credentials: bool,
    /// Each rotation of the credentials is a new version.
    pub credentials_version: i32,
    /// A disabled account publishes nothing: no job is made for it, and a
    /// job made before is not published.
    pub disabled: bool,
    /// Mastodon: the instance's limits as last read (cached a day).
    #[schema(value_type = Option<Object>)]
    pub limits: Option<serde_json::Value>,
    /// Manual: who each post is emailed to (account ids and addresses);
    /// empty: the account's own address, else the activity's owner.
    pub recipients: Vec<Recipient>,
    /// Manual: the language of a recipient address that has no account.
    pub default_language: Option<Language>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(
    json!({"network": "webhook", "name": "UCLG website", "base_url": "https://cms.example.org/hooks/pregon", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "channel_id": null}),
    json!({"network": "manual", "name": "LinkedIn (the team)", "recipients": ["equipo@bilbao.example", "anne@lyon.example"], "default_language": "es", "channel_id": null})
))]
pub struct ChannelAccountInput {
    /// `mastodon`, `bluesky`, `webhook` (a CMS: `base_url` receives each
    /// post signed per Standard Webhooks with `secret`, a `whsec_…`) or
    /// `manual` (nobody's credentials: at due time the owner is emailed the
    /// text and a one-time link to say where it was posted).
    pub network: Network,
    /// A name for people.
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// The Mastodon instance or the Bluesky PDS (e.g. https://bsky.social);
    /// manual: `mailto:` and the one address to write to, or left out to
    /// write to each activity's owner.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub base_url: String,
    /// Bluesky: the handle (or DID) to sign in with.
    #[schema(max_length = 300)]
    pub handle: Option<String>,
    /// The access token (Mastodon) or app password (Bluesky); stored
    /// encrypted, never shown again. None for a manual account.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub secret: String,
    /// The channel (kind social) it publishes for.
    pub channel_id: Option<i64>,
    /// Manual only: who each post is emailed to, at most 20, each a Pregón
    /// account's id (its address and language) or an email address (in
    /// `default_language`, or its account's if it has one). Left out: the
    /// account's own address (`base_url`), else the activity's owner.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub recipients: Vec<Recipient>,
    /// Manual only: the language of a recipient address with no account
    /// (else English).
    #[serde(default)]
    pub default_language: Option<Language>,
}

/// A change to an account; fields left out stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"name": "UCLG website (new CMS)", "secret": "whsec_cm90YXRlZC1zZWNyZXQtMjAyNi0xMi0wMS11Y2xn", "disabled": false})))]
pub struct ChannelAccountUpdate {
    /// A new name (empty: none).
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// A new instance, PDS or CMS address (Mastodon: its limits are read again).
    #[schema(max_length = 2000)]
    pub base_url: Option<String>,
    #[schema(max_length = 300)]
    pub handle: Option<String>,
    /// New credentials (a rotation): the old ones no longer open, and a
    /// Bluesky session made with them is dropped.
    #[schema(max_length = 2000)]
    pub secret: Option<String>,
    /// Stops (true) or resumes (false) publishing through the account.
    pub disabled: Option<bool>,
    /// Manual only: the new list of recipients (`[]`: none, the account's
    /// own address or the activity's owner again).
    #[schema(max_items = 20)]
    pub recipients: Option<Vec<Recipient>>,
    /// Manual only: the language of a recipient address with no account.
    pub default_language: Option<Language>,
}

fn account_view(row: &channel_accounts::Row) -> ChannelAccount {
    let config = AccountConfig::parse(row.config.as_deref());
    ChannelAccount {
        recipients: config.recipients,
        default_language: config.default_language,
        id: row.id,
        network: row.network,
        name: row.name.clone(),
        base_url: row.base_url.clone(),
        handle: row.handle.clone(),
        channel_id: row.channel_id,
        has_credentials: row.sealed_credentials.is_some(),
        credentials_version: row.credentials_version,
        disabled: row.is_disabled(),
        limits: row
            .limits
            .as_deref()
            .and_then(|l| serde_json::from_str(l).ok()),
        created_at: db::utc(row.created_at),
        updated_at: db::utc(row.updated_at),
    }
}

fn checked_name(name: Option<&str>) -> Result<Option<&str>> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > 100) {
        return Err(Error::invalid("name", "at most 100 characters"));
    }
    Ok(name)
}

fn checked_base_url(network: Network, base_url: &str) -> Result<&str> {
    let base_url = base_url.trim();
    if network == Network::Manual {
        return checked_manual_address(base_url);
    }
    if base_url.len() > 2000 {
        return Err(Error::invalid("base_url", "at most 2000 characters"));
    }
    url::Url::parse(base_url).map_err(|e| Error::invalid("base_url", e.to_string()))?;
    if network == Network::Webhook {
        crate::jobs::outbound::check_url(base_url, true)
            .map_err(|reason| Error::invalid("base_url", reason))?;
    }
    Ok(base_url)
}

/// A manual account's `base_url`: empty or `mailto:` alone (write to each
/// activity's owner), or `mailto:` and one valid address.
fn checked_manual_address(base_url: &str) -> Result<&str> {
    if base_url.is_empty() || base_url == "mailto:" {
        return Ok("mailto:");
    }
    let address = base_url.strip_prefix("mailto:").ok_or_else(|| {
        Error::invalid(
            "base_url",
            "a manual account's base_url is mailto: and one address, or left out",
        )
    })?;
    if address.len() > 254 || address.parse::<lettre::Address>().is_err() {
        return Err(Error::invalid("base_url", "not a valid email address"));
    }
    Ok(base_url)
}

/// A manual account's recipients as given, checked: at most
/// `MAX_RECIPIENTS`, each a valid address or an active account with one,
/// none twice; `recipients[i]` names the first that is not. Other networks
/// have none.
fn checked_recipients(
    conn: &mut DbConnection,
    network: Network,
    recipients: &[Recipient],
) -> Result<Vec<Recipient>> {
    if recipients.is_empty() {
        return Ok(Vec::new());
    }
    if network != Network::Manual {
        return Err(Error::invalid(
            "recipients",
            "only a manual account emails its posts to recipients",
        ));
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(Error::invalid(
            "recipients",
            format!("at most {MAX_RECIPIENTS} recipients"),
        ));
    }
    let mut out: Vec<Recipient> = Vec::new();
    for (i, r) in recipients.iter().enumerate() {
        let field = format!("recipients[{i}]");
        let checked = match r {
            Recipient::Email(address) => {
                let address = address.trim();
                if address.len() > 254 || address.parse::<lettre::Address>().is_err() {
                    return Err(Error::invalid(field, "not a valid email address"));
                }
                Recipient::Email(address.to_owned())
            }
            Recipient::Account(id) => {
                let Some(account) = db::accounts::find(conn, *id)? else {
                    return Err(Error::invalid(field, format!("no account {id}")));
                };
                if !account.is_active() || account.email.is_none() {
                    return Err(Error::invalid(
                        field,
                        format!("account {id} is not active with an email address"),
                    ));
                }
                Recipient::Account(*id)
            }
        };
        if out.iter().any(|o| o.key() == checked.key()) {
            return Err(Error::invalid(field, "listed twice"));
        }
        out.push(checked);
    }
    Ok(out)
}

fn checked_default_language(network: Network, lang: Option<Language>) -> Result<Option<Language>> {
    if lang.is_some() && network != Network::Manual {
        return Err(Error::invalid(
            "default_language",
            "only a manual account has a default language",
        ));
    }
    Ok(lang)
}

/// The history's change of the recipients: addresses are personal data,
/// recorded as changed without their values.
fn recipients_change() -> FieldChange {
    FieldChange {
        field: "recipients".into(),
        before: serde_json::Value::Null,
        after: serde_json::Value::Null,
        personal: true,
    }
}

fn checked_handle(network: Network, handle: Option<&str>) -> Result<Option<&str>> {
    let handle = handle.map(str::trim).filter(|h| !h.is_empty());
    if handle.is_some_and(|h| h.len() > 300) {
        return Err(Error::invalid("handle", "at most 300 characters"));
    }
    if network == Network::Bluesky && handle.is_none() {
        return Err(Error::invalid(
            "handle",
            "a Bluesky account signs in with its handle",
        ));
    }
    Ok(handle)
}

fn checked_secret(network: Network, secret: &str) -> Result<&str> {
    let secret = secret.trim();
    if network == Network::Manual {
        if !secret.is_empty() {
            return Err(Error::invalid(
                "secret",
                "a manual account has no credentials",
            ));
        }
        return Ok(secret);
    }
    if secret.is_empty() || secret.len() > 2000 {
        return Err(Error::invalid("secret", "1 to 2000 characters"));
    }
    if network == Network::Webhook {
        let key = secret
            .strip_prefix("whsec_")
            .map(|k| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, k));
        if !matches!(key, Some(Ok(ref k)) if k.len() >= 24) {
            return Err(Error::invalid(
                "secret",
                "a Standard Webhooks secret: whsec_ and at least 24 bytes in base64",
            ));
        }
    }
    Ok(secret)
}

pub fn create_account(
    conn: &mut DbConnection,
    cx: &Context,
    sealer: &Sealer,
    input: &ChannelAccountInput,
) -> Result<ChannelAccount> {
    policy::require(&cx.actor, Operation::Administer)?;
    let name = checked_name(input.name.as_deref())?;
    let base_url = checked_base_url(input.network, &input.base_url)?;
    let handle = checked_handle(input.network, input.handle.as_deref())?;
    let secret = checked_secret(input.network, &input.secret)?;
    let config = AccountConfig {
        recipients: checked_recipients(conn, input.network, &input.recipients)?,
        default_language: checked_default_language(input.network, input.default_language)?,
    };
    if let Some(channel) = input.channel_id {
        db::channels::get(conn, channel)
            .map_err(|_| Error::invalid("channel_id", "no such channel"))?;
        if channel_accounts::for_channel(conn, channel)?.is_some() {
            return Err(Error::invalid(
                "channel_id",
                "this channel already publishes through another account",
            ));
        }
    }
    let id = crate::social::accounts::create(
        conn,
        cx,
        sealer,
        crate::social::accounts::NewAccount {
            network: input.network,
            name,
            base_url,
            handle,
            secret,
        },
    )?;
    if !config.is_empty() {
        let json = serde_json::to_string(&config).map_err(|e| Error::Internal(e.into()))?;
        channel_accounts::set_config(conn, id, Some(&json), cx.now)?;
        let mut changes = Vec::new();
        if !config.recipients.is_empty() {
            changes.push(recipients_change());
        }
        if let Some(lang) = config.default_language {
            changes.push(crate::social::accounts::change(
                "default_language",
                serde_json::Value::Null,
                lang.as_str().into(),
            ));
        }
        history::record_in(conn, cx, "channel_account", id, Action::Updated, changes)?;
    }
    if let Some(channel) = input.channel_id {
        channel_accounts::set_channel(conn, id, Some(channel), cx.now)?;
        history::record_in(
            conn,
            cx,
            "channel_account",
            id,
            Action::Updated,
            vec![FieldChange {
                field: "channel_id".into(),
                before: serde_json::Value::Null,
                after: channel.into(),
                personal: false,
            }],
        )?;
    }
    Ok(account_view(&channel_accounts::get(conn, id)?))
}

pub fn list_accounts(conn: &mut DbConnection, cx: &Context) -> Result<Vec<ChannelAccount>> {
    policy::require(&cx.actor, Operation::Administer)?;
    Ok(channel_accounts::list(conn)?
        .iter()
        .map(account_view)
        .collect())
}

/// An account not deleted, or 404.
fn live_account(conn: &mut DbConnection, id: i64) -> Result<channel_accounts::Row> {
    let row = channel_accounts::get(conn, id)?;
    if row.is_deleted() {
        return Err(Error::not_found("channel account", id));
    }
    Ok(row)
}

pub fn get_account(conn: &mut DbConnection, cx: &Context, id: i64) -> Result<ChannelAccount> {
    policy::require(&cx.actor, Operation::Administer)?;
    Ok(account_view(&live_account(conn, id)?))
}

/// The account's history (administrators; also after it was deleted).
pub fn account_history(
    conn: &mut DbConnection,
    cx: &Context,
    id: i64,
) -> Result<Vec<crate::domain::history::HistoryEntry>> {
    policy::require(&cx.actor, Operation::Administer)?;
    channel_accounts::get(conn, id)?;
    history::of_record(conn, "channel_account", id)
}

/// Renames, moves (a new URL or handle), rotates the credentials of,
/// disables or enables an account; each change in its history, a rotation
/// as `credentials: rotated` and its version, never the secret.
pub fn update_account(
    conn: &mut DbConnection,
    cx: &Context,
    sealer: &Sealer,
    id: i64,
    input: &ChannelAccountUpdate,
) -> Result<ChannelAccount> {
    use crate::social::accounts::change;
    use serde_json::Value;
    policy::require(&cx.actor, Operation::Administer)?;
    let row = live_account(conn, id)?;
    let name = match &input.name {
        Some(n) => checked_name(Some(n))?,
        None => row.name.as_deref(),
    };
    let base_url = match &input.base_url {
        Some(u) => checked_base_url(row.network, u)?,
        None => row.base_url.as_str(),
    };
    let handle = match &input.handle {
        Some(h) => checked_handle(row.network, Some(h))?,
        None => row.handle.as_deref(),
    };
    let secret = input
        .secret
        .as_deref()
        .map(|s| checked_secret(row.network, s))
        .transpose()?
        .filter(|s| !s.is_empty());
    let before = AccountConfig::parse(row.config.as_deref());
    let config = AccountConfig {
        recipients: match &input.recipients {
            Some(r) => checked_recipients(conn, row.network, r)?,
            None => before.recipients.clone(),
        },
        default_language: match input.default_language {
            Some(l) => checked_default_language(row.network, Some(l))?,
            None => before.default_language,
        },
    };
    let mut changes = Vec::new();
    if name != row.name.as_deref() {
        changes.push(change("name", row.name.clone().into(), name.into()));
    }
    let url_changed = base_url != row.base_url;
    if url_changed {
        changes.push(crate::social::accounts::base_url_change(
            row.network,
            row.base_url.clone().into(),
            base_url.into(),
        ));
    }
    if handle != row.handle.as_deref() {
        changes.push(change("handle", row.handle.clone().into(), handle.into()));
    }
    if !changes.is_empty() {
        channel_accounts::set_details(conn, id, name, base_url, handle, url_changed, cx.now)?;
    }
    if config != before {
        if config.recipients != before.recipients {
            changes.push(recipients_change());
        }
        if config.default_language != before.default_language {
            changes.push(change(
                "default_language",
                before.default_language.map(|l| l.as_str()).into(),
                config.default_language.map(|l| l.as_str()).into(),
            ));
        }
        let json = (!config.is_empty())
            .then(|| serde_json::to_string(&config))
            .transpose()
            .map_err(|e| Error::Internal(e.into()))?;
        channel_accounts::set_config(conn, id, json.as_deref(), cx.now)?;
    }
    if let Some(secret) = secret {
        let version = crate::social::accounts::rotate(conn, cx, sealer, &row, secret)?;
        changes.push(change(
            "credentials",
            Value::Null,
            format!("rotated (version {version})").into(),
        ));
    }
    if let Some(disabled) = input.disabled
        && disabled != row.is_disabled()
    {
        channel_accounts::set_disabled(conn, id, disabled.then_some(cx.now), cx.now)?;
        changes.push(change(
            "disabled",
            row.is_disabled().into(),
            disabled.into(),
        ));
    }
    if !changes.is_empty() {
        history::record_in(conn, cx, "channel_account", id, Action::Updated, changes)?;
    }
    Ok(account_view(&channel_accounts::get(conn, id)?))
}

/// Deletes an account: refused (409) while an approved variant on its
/// channel has not gone out yet (not published, or queued, or its outcome
/// unknown); otherwise its credentials and session are erased and its
/// channel freed, the row kept for the publications that refer to it.
pub fn delete_account(conn: &mut DbConnection, cx: &Context, id: i64) -> Result<()> {
    use crate::social::accounts::change;
    policy::require(&cx.actor, Operation::Administer)?;
    let row = live_account(conn, id)?;
    let waiting = waiting_variants(conn, &row)?;
    if !waiting.is_empty() {
        let list = waiting
            .iter()
            .map(|(a, lang)| format!("activity {a} ({lang})"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::Conflict(format!(
            "approved variants have not gone out through this account yet: {list}; \
             publish, edit or delete them first, or disable the account"
        )));
    }
    channel_accounts::mark_deleted(conn, id, cx.now)?;
    history::record_in(
        conn,
        cx,
        "channel_account",
        id,
        Action::Deleted,
        vec![change(
            "channel_id",
            row.channel_id.into(),
            serde_json::Value::Null,
        )],
    )?;
    Ok(())
}

/// The approved variants (activity, language) on the account's channel
/// that have not gone out: no publication yet, or one queued or unknown.
fn waiting_variants(
    conn: &mut DbConnection,
    account: &channel_accounts::Row,
) -> Result<Vec<(i64, Language)>> {
    let Some(channel) = account.channel_id else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for activity_id in posts::open_activities_on_channel(conn, channel)? {
        let activity = db::activities::get(conn, activity_id)?;
        let review = reviews::get(conn, Subject::Activity(activity_id))?;
        let current = review::activity_content(&activity);
        let publications = posts::of_activity(conn, activity_id)?;
        for v in activity
            .post_variants
            .iter()
            .filter(|v| v.channel_id == channel)
        {
            if !review.covers_variant(&current, &variant_key(v)) {
                continue;
            }
            let gone = publications
                .iter()
                .find(|p| p.channel_id == channel && p.lang == v.lang.as_str())
                .is_some_and(|p| {
                    matches!(
                        p.state,
                        PublicationState::Published
                            | PublicationState::Failed
                            | PublicationState::AwaitingOwner
                    )
                });
            if !gone {
                out.push((activity_id, v.lang));
            }
        }
    }
    Ok(out)
}

/// What became of a variant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicationView {
    pub state: PublicationState,
    pub job_id: i64,
    pub remote_id: Option<String>,
    pub url: Option<String>,
    pub reason: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// A thread's parts that went out so far, in order (part 1 is also
    /// `remote_id`/`url`); empty for a single post.
    pub parts: Vec<PartView>,
}

/// A part of a published thread.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PartView {
    /// 1 is the post itself, 2 replies to it, and so on.
    pub part: i32,
    pub remote_id: Option<String>,
    pub url: Option<String>,
}

/// A thread's part after the first, with its length as the network counts it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ThreadPartView {
    pub body: String,
    pub length: Option<usize>,
}

/// A variant with its length as its network counts it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VariantView {
    pub channel_id: i64,
    pub lang: Language,
    pub body: String,
    pub content_warning: Option<String>,
    /// A thread's parts after `body`, in order (empty: a single post).
    pub thread: Vec<ThreadPartView>,
    /// Its images (their bytes are not shown).
    pub media: Vec<crate::domain::activity::MediaRef>,
    /// The channel's account, if one is linked (else it is not published).
    pub channel_account_id: Option<i64>,
    pub network: Option<Network>,
    /// Its length (of `body`, part 1) as the network counts it, and the
    /// network's limit (for every part).
    pub length: Option<usize>,
    pub max_length: Option<usize>,
    /// Why it cannot be approved as it stands (a part too long, limits unknown).
    pub problem: Option<String>,
    /// Whether the activity's current approval covers exactly this text.
    pub approved: bool,
    pub publication: Option<PublicationView>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"body": "The Smart Cities Study is out: 24 cities on smart governance https://www.uclg.org/ #SmartCities", "content_warning": null})))]
pub struct VariantInput {
    pub body: crate::domain::text::Text<5000>,
    /// Mastodon: shown before the text, counted in its length. Refused on
    /// Bluesky, which has none.
    #[serde(default)]
    pub content_warning: Option<crate::domain::text::Text<500>>,
    /// The parts after `body` of a thread, in order (part 2 replies to part
    /// 1, ...). Left out: the variant's thread stays as it is; `[]`: a
    /// single post. On Mastodon the content warning goes on every part.
    #[serde(default)]
    #[schema(max_items = 24)]
    pub thread: Option<Vec<crate::domain::activity::ThreadPartInput>>,
    /// Images, each with its part and REQUIRED alt text. Left out: the
    /// variant's images stay as they are; `[]`: none. Given: they replace
    /// the variant's images.
    #[serde(default)]
    pub media: Option<Vec<MediaInput>>,
}

/// An image to attach, its bytes in base64.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaInput {
    /// The part it goes with: 1 (the default) is the post itself, 2 the
    /// thread's first reply, …
    #[serde(default)]
    pub part: Option<i32>,
    /// image/jpeg, image/png, image/gif or image/webp: checked against the
    /// type read from the bytes themselves (a mismatch, or bytes that are
    /// none of these, is refused naming `media[k].mime_type`).
    #[schema(max_length = 100)]
    pub mime_type: String,
    /// The image's bytes, in base64 (at most 16 MiB of bytes; the request
    /// must also fit the server's body limit).
    #[schema(max_length = 22369624)]
    pub data: String,
    /// What the image shows (required; Mastodon's `description`, Bluesky's
    /// `alt`), at most 1,500 characters.
    #[serde(default)]
    #[schema(max_length = 1500)]
    pub alt: Option<String>,
}

/// The images as given, checked: a known type that the bytes are (sniffed
/// by `social::image::sniff`), bytes that decode, an alt text, a part that
/// exists (`parts`: how many the variant has).
fn checked_media(
    input: &[MediaInput],
    parts: usize,
) -> Result<(Vec<posts::NewMedia>, Vec<crate::domain::activity::MediaRef>)> {
    use crate::domain::activity::MEDIA_TYPES;
    let mut new = Vec::new();
    let mut refs = Vec::new();
    for (k, m) in input.iter().enumerate() {
        let field = |name: &str| format!("media[{k}].{name}");
        let part = m.part.unwrap_or(1);
        if part < 1 || part as usize > parts {
            return Err(Error::invalid(
                field("part"),
                format!("1 to {parts} (the variant's parts)"),
            ));
        }
        let mime_type = m.mime_type.trim().to_ascii_lowercase();
        if !MEDIA_TYPES.contains(&mime_type.as_str()) {
            return Err(Error::invalid(field("mime_type"), MEDIA_TYPES.join(", ")));
        }
        let alt = checked_alt(m.alt.as_deref(), &field("alt"))?;
        if m.data.len() > 22_369_624 {
            return Err(Error::invalid(field("data"), "at most 16 MiB"));
        }
        let data =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, m.data.trim())
                .map_err(|e| Error::invalid(field("data"), format!("not base64: {e}")))?;
        if data.is_empty() {
            return Err(Error::invalid(field("data"), "an image has bytes"));
        }
        // The type is the bytes', not the client's word for it.
        match crate::social::image::sniff(&data) {
            None => {
                return Err(Error::invalid(
                    field("mime_type"),
                    "the bytes are not a PNG, JPEG, GIF or WebP image",
                ));
            }
            Some(kind) if kind.mime_type() != mime_type => {
                return Err(Error::invalid(
                    field("mime_type"),
                    format!("the bytes are {}, not {mime_type}", kind.mime_type()),
                ));
            }
            Some(_) => {}
        }
        let (one, reference) = image(part, mime_type, alt, data);
        new.push(one);
        refs.push(reference);
    }
    Ok((new, refs))
}

/// An alt text as given, checked: required, at most `MAX_ALT` characters.
fn checked_alt(alt: Option<&str>, field: &str) -> Result<String> {
    use crate::domain::activity::MAX_ALT;
    let alt = alt.map(str::trim).unwrap_or("");
    if alt.is_empty() {
        return Err(Error::invalid(
            field,
            "required: say what the image shows, for people who cannot see it",
        ));
    }
    if alt.chars().count() > MAX_ALT {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_ALT} characters"),
        ));
    }
    Ok(alt.to_owned())
}

/// One image to store (`part` counted from 1) and its reference in the
/// variant (what the approval hash covers).
fn image(
    part: i32,
    mime_type: String,
    alt: String,
    data: Vec<u8>,
) -> (posts::NewMedia, crate::domain::activity::MediaRef) {
    use sha2::{Digest, Sha256};
    let sha256 = hex::encode(Sha256::digest(&data));
    let reference = crate::domain::activity::MediaRef {
        part,
        mime_type: mime_type.clone(),
        size: i64::try_from(data.len()).unwrap_or(i64::MAX),
        sha256: sha256.clone(),
        alt: alt.clone(),
    };
    let new = posts::NewMedia {
        part: part - 1,
        mime_type,
        sha256,
        alt,
        data,
    };
    (new, reference)
}

/// An image uploaded as it is (its bytes the request's body): its type as
/// sniffed from the bytes, its part, its alt text as given.
pub struct RawImage {
    pub kind: crate::social::image::Kind,
    pub part: Option<i32>,
    pub alt: Option<String>,
    pub data: Vec<u8>,
}

/// How a write changes a variant's images.
enum MediaWrite {
    Keep,
    Replace(Vec<posts::NewMedia>),
    Add(posts::NewMedia),
}

/// Mastodon takes images up to this when the instance does not say.
pub const MASTODON_DEFAULT_IMAGE_LIMIT: u64 = 16 * 1024 * 1024;

/// Bluesky's `app.bsky.embed.images`: each image's blob at most 1,000,000 bytes.
pub const BLUESKY_IMAGE_LIMIT: u64 = 1_000_000;

/// The images against the network's limits: at most 4 per part, each
/// within the size the network takes, each on a part that exists.
fn check_media(
    account: Option<&channel_accounts::Row>,
    media: &[crate::domain::activity::MediaRef],
    parts: usize,
) -> Result<()> {
    use crate::domain::activity::MAX_MEDIA_PER_PART;
    let Some(account) = account else {
        return Ok(());
    };
    let limit = match account.network {
        Network::Mastodon => account
            .limits
            .as_deref()
            .and_then(|l| serde_json::from_str::<mastodon::Limits>(l).ok())
            .and_then(|l| l.image_size_limit)
            .unwrap_or(MASTODON_DEFAULT_IMAGE_LIMIT),
        Network::Bluesky => BLUESKY_IMAGE_LIMIT,
        _ => return Ok(()),
    };
    for part in 1..=parts {
        let count = media.iter().filter(|m| m.part as usize == part).count();
        if count > MAX_MEDIA_PER_PART {
            return Err(Error::invalid(
                "media",
                format!("part {part} has {count} images; at most {MAX_MEDIA_PER_PART}"),
            ));
        }
    }
    for (k, m) in media.iter().enumerate() {
        if m.part < 1 || m.part as usize > parts {
            return Err(Error::invalid(
                format!("media[{k}].part"),
                format!("the variant has no part {}", m.part),
            ));
        }
        if m.size as u64 > limit {
            return Err(Error::invalid(
                format!("media[{k}].data"),
                format!(
                    "{} bytes; {} takes images up to {limit} bytes",
                    m.size, account.network
                ),
            ));
        }
    }
    Ok(())
}

/// Lengths of every part of a variant and the network's limit; `Err` names
/// the first part that does not fit (`body`, `thread[j].body`) or the
/// content warning. `None`: the channel has no account.
fn measure_parts(
    account: Option<&channel_accounts::Row>,
    lang: Language,
    body: &str,
    content_warning: Option<&str>,
    thread: &[crate::domain::activity::ThreadPart],
    media: &[crate::domain::activity::MediaRef],
) -> Result<Option<(Vec<usize>, usize)>> {
    let Some((first, max)) = measure(account, lang, body, content_warning)? else {
        return Ok(None);
    };
    check_media(account, media, thread.len() + 1)?;
    let mut lengths = vec![first];
    for (j, part) in thread.iter().enumerate() {
        let measured =
            measure(account, lang, &part.body, content_warning).map_err(|e| match e {
                Error::Invalid { field, message } if field == "body" => {
                    Error::invalid(format!("thread[{j}].body"), message)
                }
                other => other,
            })?;
        lengths.push(measured.map_or(0, |(l, _)| l));
    }
    Ok(Some((lengths, max)))
}

/// Length and limit of `body` on the account's network; `Err` says why it
/// does not fit. `None`: the channel has no account (nothing to check).
fn measure(
    account: Option<&channel_accounts::Row>,
    lang: Language,
    body: &str,
    content_warning: Option<&str>,
) -> Result<Option<(usize, usize)>> {
    let warning = content_warning.unwrap_or("");
    let Some(account) = account else {
        return Ok(None);
    };
    match account.network {
        Network::Mastodon => {
            let limits: mastodon::Limits = account
                .limits
                .as_deref()
                .and_then(|l| serde_json::from_str(l).ok())
                .ok_or_else(|| Error::Blocked {
                    kind: "limits-unknown",
                    message: "the Mastodon instance's limits have not been read yet".into(),
                })?;
            mastodon::check_length(limits, body, warning)?;
            Ok(Some((
                crate::social::text::mastodon_length(
                    body,
                    warning,
                    limits.characters_reserved_per_url,
                ),
                limits.max_characters,
            )))
        }
        Network::Bluesky => {
            if !warning.is_empty() {
                return Err(Error::invalid(
                    "content_warning",
                    "Bluesky has no content warnings: put the warning in the text, \
                     or leave this variant without one",
                ));
            }
            bluesky::check_length(body, &[lang.as_str().to_owned()])?;
            Ok(Some((
                crate::social::text::graphemes(body),
                crate::social::text::BLUESKY_MAX_GRAPHEMES,
            )))
        }
        _ => Ok(None),
    }
}

/// The length of each part as the channel's network counts it, and the
/// network's limit, for a form's live count (nothing checked, nothing
/// written: a part too long is still counted). `None`: the channel has no
/// account on a network that counts, or its instance's limits are not read.
pub fn part_lengths(
    conn: &mut DbConnection,
    cx: &Context,
    channel_id: i64,
    content_warning: Option<&str>,
    parts: &[String],
) -> Result<Option<(Vec<usize>, usize)>> {
    policy::require(&cx.actor, Operation::Read)?;
    let Some(account) = channel_accounts::for_channel(conn, channel_id)? else {
        return Ok(None);
    };
    let warning = content_warning.unwrap_or("");
    Ok(match account.network {
        Network::Mastodon => account
            .limits
            .as_deref()
            .and_then(|l| serde_json::from_str::<mastodon::Limits>(l).ok())
            .map(|limits| {
                let lengths = parts
                    .iter()
                    .map(|p| {
                        crate::social::text::mastodon_length(
                            p,
                            warning,
                            limits.characters_reserved_per_url,
                        )
                    })
                    .collect();
                (lengths, limits.max_characters)
            }),
        Network::Bluesky => Some((
            parts
                .iter()
                .map(|p| crate::social::text::graphemes(p))
                .collect(),
            crate::social::text::BLUESKY_MAX_GRAPHEMES,
        )),
        _ => None,
    })
}

fn language(lang: &str) -> Result<Language> {
    lang.parse()
        .map_err(|_| Error::invalid("lang", "es, en or fr"))
}

fn variant_key(v: &PostVariant) -> String {
    format!("variant:{}:{}", v.channel_id, v.lang.as_str())
}

pub fn list(conn: &mut DbConnection, cx: &Context, activity_id: i64) -> Result<Vec<VariantView>> {
    policy::require(&cx.actor, Operation::Read)?;
    let activity = db::activities::get(conn, activity_id)?;
    views(conn, &activity)
}

fn views(conn: &mut DbConnection, activity: &Activity) -> Result<Vec<VariantView>> {
    let review = reviews::get(conn, Subject::Activity(activity.id))?;
    let current = review::activity_content(activity);
    let publications = posts::of_activity(conn, activity.id)?;
    let mut out = Vec::new();
    for v in &activity.post_variants {
        let account = channel_accounts::for_channel(conn, v.channel_id)?;
        let (lengths, max_length, problem) = match measure_parts(
            account.as_ref(),
            v.lang,
            &v.body,
            v.content_warning.as_deref(),
            &v.thread,
            &v.media,
        ) {
            Ok(Some((l, m))) => (l, Some(m), None),
            Ok(None) => (Vec::new(), None, None),
            Err(e) => (Vec::new(), None, Some(e.to_string())),
        };
        let key = variant_key(v);
        let publication = publications
            .iter()
            .find(|p| p.channel_id == v.channel_id && p.lang == v.lang.as_str())
            .map(|p| {
                Ok::<_, Error>(PublicationView {
                    state: p.state,
                    job_id: p.job_id,
                    remote_id: p.remote_id.clone(),
                    url: p.remote_url.clone(),
                    reason: p.reason.clone(),
                    updated_at: p.updated(),
                    parts: posts::parts(conn, p.job_id)?
                        .into_iter()
                        .filter(|part| part.remote_id.is_some())
                        .map(|part| PartView {
                            part: part.part + 1,
                            remote_id: part.remote_id,
                            url: part.remote_url,
                        })
                        .collect(),
                })
            })
            .transpose()?;
        out.push(VariantView {
            channel_id: v.channel_id,
            lang: v.lang,
            body: v.body.clone(),
            content_warning: v.content_warning.clone(),
            thread: v
                .thread
                .iter()
                .enumerate()
                .map(|(j, p)| ThreadPartView {
                    body: p.body.clone(),
                    length: lengths.get(j + 1).copied(),
                })
                .collect(),
            media: v.media.clone(),
            channel_account_id: account.as_ref().map(|a| a.id),
            network: account.as_ref().map(|a| a.network),
            length: lengths.first().copied(),
            max_length,
            problem,
            approved: review.covers_variant(&current, &key),
            publication,
        });
    }
    Ok(out)
}

/// Writes one variant's text (new or changed), as an edit of its activity:
/// in the activity's history, and a standing approval superseded.
pub fn put(
    conn: &mut DbConnection,
    cx: &Context,
    activity_id: i64,
    channel_id: i64,
    lang: &str,
    input: &VariantInput,
) -> Result<Vec<VariantView>> {
    policy::require(&cx.actor, Operation::Write)?;
    let activity = db::activities::get(conn, activity_id)?;
    let lang = language(lang)?;
    if activity.kind != ActivityKind::SocialPost {
        return Err(Error::invalid("activity", "variants are for social posts"));
    }
    if !activity.channel_ids.contains(&channel_id) {
        return Err(Error::invalid(
            "channel_id",
            "must be one of the activity's channel_ids",
        ));
    }
    let body = input.body.as_str().to_owned();
    let content_warning = input
        .content_warning
        .as_ref()
        .map(|w| w.as_str().trim().to_owned())
        .filter(|w| !w.is_empty());
    let valid = super::imports::as_valid(&activity);
    let existing = valid
        .post_variants
        .iter()
        .position(|v| v.channel_id == channel_id && v.lang == lang);
    // Left out: the thread stays as it is.
    let thread = match &input.thread {
        Some(parts) => crate::domain::activity::thread_parts(parts, "thread")?,
        None => existing
            .map(|i| valid.post_variants[i].thread.clone())
            .unwrap_or_default(),
    };
    // Left out: the images stay as they are.
    let (new_media, media) = match &input.media {
        Some(given) => {
            let (new, refs) = checked_media(given, thread.len() + 1)?;
            (Some(new), refs)
        }
        None => (
            None,
            existing
                .map(|i| valid.post_variants[i].media.clone())
                .unwrap_or_default(),
        ),
    };
    let write = match new_media {
        Some(new) => MediaWrite::Replace(new),
        None => MediaWrite::Keep,
    };
    let variant = PostVariant {
        channel_id,
        lang,
        body,
        content_warning,
        thread,
        media,
    };
    store_variant(conn, cx, &activity, valid, existing, variant, write)
}

/// Adds one image, uploaded as it is, to an existing variant: the same
/// checks as images given in the variant (alt text, part, the network's
/// limits) and the same write (an edit of the activity, in its history; a
/// standing approval superseded).
pub fn add_media(
    conn: &mut DbConnection,
    cx: &Context,
    activity_id: i64,
    channel_id: i64,
    lang: &str,
    input: RawImage,
) -> Result<Vec<VariantView>> {
    policy::require(&cx.actor, Operation::Write)?;
    let activity = db::activities::get(conn, activity_id)?;
    let lang = language(lang)?;
    let valid = super::imports::as_valid(&activity);
    let Some(existing) = valid
        .post_variants
        .iter()
        .position(|v| v.channel_id == channel_id && v.lang == lang)
    else {
        return Err(Error::not_found(
            "post variant",
            format!("{channel_id}/{}", lang.as_str()),
        ));
    };
    let mut variant = valid.post_variants[existing].clone();
    let parts = variant.thread.len() + 1;
    let part = input.part.unwrap_or(1);
    if part < 1 || part as usize > parts {
        return Err(Error::invalid(
            "part",
            format!("1 to {parts} (the variant's parts)"),
        ));
    }
    let alt = checked_alt(input.alt.as_deref(), "alt")?;
    if input.data.is_empty() {
        return Err(Error::invalid("body", "an image has bytes"));
    }
    let (new, reference) = image(part, input.kind.mime_type().to_owned(), alt, input.data);
    let index = variant.media.len();
    variant.media.push(reference);
    // The network's limits: this image's own size is the request's body.
    let data_field = format!("media[{index}].data");
    let write = MediaWrite::Add(new);
    store_variant(conn, cx, &activity, valid, Some(existing), variant, write).map_err(|e| match e {
        Error::Invalid { field, message } if field == data_field => Error::invalid("body", message),
        other => other,
    })
}

/// Checks `variant` against its network and writes it (in place of
/// `existing`, or added) with its images as `write` says: unchanged, it
/// writes nothing.
fn store_variant(
    conn: &mut DbConnection,
    cx: &Context,
    activity: &Activity,
    mut valid: crate::domain::activity::ValidActivity,
    existing: Option<usize>,
    variant: PostVariant,
    write: MediaWrite,
) -> Result<Vec<VariantView>> {
    let account = channel_accounts::for_channel(conn, variant.channel_id)?;
    measure_parts(
        account.as_ref(),
        variant.lang,
        &variant.body,
        variant.content_warning.as_deref(),
        &variant.thread,
        &variant.media,
    )?;
    match existing.map(|i| &mut valid.post_variants[i]) {
        Some(v) if *v == variant => return views(conn, activity),
        Some(v) => *v = variant.clone(),
        None => valid.post_variants.push(variant.clone()),
    }
    let (activity_id, channel_id, lang) = (activity.id, variant.channel_id, variant.lang);
    let version = activity.version;
    let after = records::update_by::<Activities>(conn, cx, activity_id, |c| {
        match &write {
            MediaWrite::Keep => {}
            MediaWrite::Replace(new) => {
                posts::replace_media(c, activity_id, channel_id, lang.as_str(), new, cx.now)?
            }
            MediaWrite::Add(new) => {
                posts::add_media(c, activity_id, channel_id, lang.as_str(), new, cx.now)?
            }
        }
        db::activities::update(c, activity_id, version, &valid, cx.now)
    })?;
    views(conn, &after)
}

/// Removes one variant (administrators), as an edit of its activity. A
/// variant already published keeps its publication record.
pub fn delete(
    conn: &mut DbConnection,
    cx: &Context,
    activity_id: i64,
    channel_id: i64,
    lang: &str,
) -> Result<()> {
    policy::require(&cx.actor, Operation::Delete)?;
    let activity = db::activities::get(conn, activity_id)?;
    let lang = language(lang)?;
    let mut valid = super::imports::as_valid(&activity);
    let before = valid.post_variants.len();
    valid
        .post_variants
        .retain(|v| !(v.channel_id == channel_id && v.lang == lang));
    if valid.post_variants.len() == before {
        return Err(Error::not_found(
            "post variant",
            format!("{channel_id}/{lang}"),
        ));
    }
    let version = activity.version;
    records::update_by::<Activities>(conn, cx, activity_id, |c| {
        db::activities::update(c, activity_id, version, &valid, cx.now)
    })?;
    Ok(())
}

/// Before an approval: every variant on a channel with an account fits its
/// network's limits (Mastodon's as its instance says, read beforehand by
/// `warm_limits`); the first that does not is named.
pub fn require_valid(conn: &mut DbConnection, activity_id: i64) -> Result<()> {
    let activity = db::activities::get(conn, activity_id)?;
    for (i, v) in activity.post_variants.iter().enumerate() {
        let account = channel_accounts::for_channel(conn, v.channel_id)?;
        measure_parts(
            account.as_ref(),
            v.lang,
            &v.body,
            v.content_warning.as_deref(),
            &v.thread,
            &v.media,
        )
        .map_err(|e| match e {
            Error::Invalid { field, message } => {
                Error::invalid(format!("post_variants[{i}].{field}"), message)
            }
            other => other,
        })?;
    }
    Ok(())
}

/// The outbound client for reading instances' limits, from the configuration.
pub fn outbound(settings: &crate::config::Settings) -> Result<Outbound> {
    Outbound::new(
        std::time::Duration::from_secs(settings.webhooks.timeout_secs.max(1)),
        settings.webhooks.allow_private,
    )
    .map_err(Error::Internal)
}

/// Reads (or takes from the day's cache) the limits of the Mastodon
/// instances the activity's variants go to; `channel`: only that one.
pub async fn warm_limits(
    database: &crate::db::Db,
    outbound: &Outbound,
    activity_id: i64,
    channel: Option<i64>,
    now: DateTime<Utc>,
) -> Result<()> {
    let accounts = database
        .run(move |c| {
            let activity = match db::activities::get(c, activity_id) {
                Ok(a) => a,
                // The operation itself answers for a missing activity.
                Err(Error::NotFound { .. }) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            let mut channels: Vec<i64> = match channel {
                Some(ch) => vec![ch],
                None => activity
                    .post_variants
                    .iter()
                    .map(|v| v.channel_id)
                    .collect(),
            };
            channels.sort_unstable();
            channels.dedup();
            let mut out = Vec::new();
            for ch in channels {
                if let Some(a) = channel_accounts::for_channel(c, ch)?
                    && a.network == Network::Mastodon
                {
                    out.push(a.id);
                }
            }
            Ok(out)
        })
        .await?;
    for account in accounts {
        mastodon::limits(database, outbound, account, now).await?;
    }
    Ok(())
}

/// The instant a post is due: exact timings at their start, whole days at
/// 00:00 UTC of the first; month-only and TBC posts are not due yet.
fn due_at(activity: &Activity) -> Option<DateTime<Utc>> {
    match &activity.timing {
        t @ Timing::Exact { .. } => t.instants().map(|(start, _)| start),
        Timing::Days { start, .. } => Some(start.and_time(chrono::NaiveTime::MIN).and_utc()),
        _ => None,
    }
}

/// The revision of an approved content hash, as the number Mastodon's
/// idempotency key is derived from (60 bits of the hash).
fn revision_of(hash: &str) -> i64 {
    i64::from_str_radix(hash.get(..15).unwrap_or("0"), 16).unwrap_or(0)
}

/// Creates the publish job of every variant that is due now (its activity's
/// time came, less than `MAX_LATE` ago), approved as it stands, on a channel
/// with an account, and not published before; each with its publication
/// record, in the planner's transaction. Returns how many jobs it created.
pub fn schedule_due(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<usize> {
    let mut created = 0;
    for id in posts::unpublished_activities(conn)? {
        let activity = db::activities::get(conn, id)?;
        let Some(at) = due_at(&activity) else {
            continue;
        };
        if at > now || now - at > MAX_LATE {
            continue;
        }
        // Per variant: an edit of some variants leaves the others approved.
        let review = match reviews::get(conn, Subject::Activity(id)) {
            Ok(review) => review,
            Err(Error::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let hashes = review::activity_content(&activity);
        let done = posts::of_activity(conn, id)?;
        for v in &activity.post_variants {
            if done
                .iter()
                .any(|p| p.channel_id == v.channel_id && p.lang == v.lang.as_str())
            {
                continue;
            }
            let Some(account) = channel_accounts::for_channel(conn, v.channel_id)? else {
                continue;
            };
            if !review.covers_variant(&hashes, &variant_key(v)) {
                continue;
            }
            let Some(hash) = hashes.get(&variant_key(v)) else {
                continue;
            };
            let variant = format!("activity:{id}:channel:{}:{}", v.channel_id, v.lang.as_str());
            let key = format!("{variant}:{}", hash.get(..16).unwrap_or(hash));
            if account.is_disabled() {
                continue;
            }
            let media: Vec<crate::social::MediaItem> =
                posts::variant_media(conn, id, v.channel_id, v.lang.as_str())?
                    .into_iter()
                    .map(|m| crate::social::MediaItem {
                        id: m.id,
                        part: usize::try_from(m.part).unwrap_or(0),
                        mime_type: m.mime_type,
                        alt: m.alt,
                    })
                    .collect();
            let job = match account.network {
                Network::Mastodon => {
                    let post = mastodon::Post {
                        account_id: account.id,
                        variant,
                        revision: revision_of(hash),
                        status: v.body.clone(),
                        language: v.lang.as_str().to_owned(),
                        spoiler_text: v.content_warning.clone(),
                        thread: v.thread.iter().map(|p| p.body.clone()).collect(),
                        media,
                    };
                    crate::jobs::enqueue(
                        conn,
                        &NewJob {
                            kind: mastodon::KIND,
                            key,
                            payload: serde_json::to_value(&post).unwrap_or_default(),
                            due_at: at,
                        },
                        now,
                    )?
                }
                Network::Bluesky => {
                    let post = bluesky::Post::new(
                        account.id,
                        variant,
                        v.body.clone(),
                        vec![v.lang.as_str().to_owned()],
                        now,
                    )
                    .with_thread(v.thread.iter().map(|p| p.body.clone()).collect(), now)
                    .with_media(media);
                    bluesky::enqueue(conn, &key, &post, at, now)?
                }
                Network::Webhook => {
                    let mut data = serde_json::json!({
                        "activity_id": id,
                        "activity_uid": activity.uid,
                        "channel_id": v.channel_id,
                        "lang": v.lang,
                        "title": activity.translations.get(&v.lang).map(|t| &t.title),
                        "text": v.body,
                        "content_warning": v.content_warning,
                        "time": at,
                    });
                    if !v.thread.is_empty() {
                        data["thread"] =
                            serde_json::json!(v.thread.iter().map(|p| &p.body).collect::<Vec<_>>());
                    }
                    crate::social::cms::enqueue(conn, account.id, &key, data, at, now)?
                }
                Network::Manual => {
                    let post = crate::social::manual::Post {
                        account_id: account.id,
                        activity_id: id,
                        channel_id: v.channel_id,
                        lang: v.lang,
                        text: v.body.clone(),
                        content_warning: v.content_warning.clone(),
                        due_at: at,
                    };
                    crate::social::manual::enqueue(conn, &key, &post, now)?
                }
            };
            posts::insert(
                conn,
                &Publication {
                    activity_id: id,
                    channel_id: v.channel_id,
                    lang: v.lang.as_str().to_owned(),
                    channel_account_id: account.id,
                    content_hash: hash.clone(),
                    job_id: job.id,
                    state: PublicationState::Queued,
                    remote_id: None,
                    remote_url: None,
                    reason: None,
                    created_at: now.naive_utc(),
                    updated_at: now.naive_utc(),
                },
            )?;
            created += usize::from(job.created);
        }
    }
    Ok(created)
}

/// Where a manual variant was posted, as the owner or an editor says: empty
/// for "it is posted, no address to give".
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"url": "https://www.linkedin.com/feed/update/urn:li:activity:7270000000000000000/"})))]
pub struct DoneInput {
    /// The post's address (http or https), if there is one to give.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub url: Option<String>,
}

/// A post's address as given: trimmed, empty as none, else http(s).
pub fn checked_post_url(url: Option<&str>) -> Result<Option<String>> {
    let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let parsed = url::Url::parse(url).map_err(|e| Error::invalid("url", e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::invalid("url", "an http:// or https:// address"));
    }
    if url.len() > 2000 {
        return Err(Error::invalid("url", "at most 2000 characters"));
    }
    Ok(Some(url.to_owned()))
}

/// Marks a manual channel's variant published where it was posted (`url`,
/// checked): the publication becomes `published` with the URL, every
/// emailed link of its job is used up, the activity's history says so
/// (who: `cx`, how: `how`), and `post.published` goes to the webhook
/// subscribers as for the other networks. Refused (409) for a variant of
/// another network, one not planned yet or whose email has not gone out,
/// and one published already.
fn mark_posted(
    conn: &mut DbConnection,
    cx: &Context,
    publication: &Publication,
    url: Option<&str>,
    how: &str,
) -> Result<()> {
    let url = checked_post_url(url)?;
    let account = channel_accounts::get(conn, publication.channel_account_id)?;
    if account.network != Network::Manual {
        return Err(Error::Conflict(format!(
            "this variant goes out through {}: only a manual channel's variants are marked \
             posted by hand",
            account.network
        )));
    }
    match publication.state {
        PublicationState::Published => {
            return Err(Error::Conflict(
                "this variant is marked published already".into(),
            ));
        }
        PublicationState::Queued => {
            return Err(Error::Conflict(
                "the owner's email about this variant has not gone out yet".into(),
            ));
        }
        _ => {}
    }
    if !posts::mark_posted(conn, publication.job_id, url.as_deref(), cx.now)? {
        return Err(Error::Conflict(
            "this variant is marked published already".into(),
        ));
    }
    posts::use_done_links(conn, publication.job_id, cx.now)?;
    history::record_in(
        conn,
        cx,
        "activity",
        publication.activity_id,
        Action::Updated,
        vec![FieldChange {
            field: format!(
                "post_publications.{}.{}",
                publication.channel_id, publication.lang
            ),
            before: serde_json::json!({"state": publication.state}),
            after: serde_json::json!({
                "state": PublicationState::Published,
                "url": url,
                "marked_by": how,
            }),
            personal: false,
        }],
    )?;
    crate::social::tell(
        conn,
        publication,
        Network::Manual,
        PublicationState::Published,
        None,
        url.as_deref(),
        None,
        cx.now,
    )
}

/// Marks a manual variant posted through the API (editors).
pub fn mark_done(
    conn: &mut DbConnection,
    cx: &Context,
    activity_id: i64,
    channel_id: i64,
    lang: &str,
    input: &DoneInput,
) -> Result<Vec<VariantView>> {
    policy::require(&cx.actor, Operation::Write)?;
    let activity = db::activities::get(conn, activity_id)?;
    let lang = language(lang)?;
    if !activity
        .post_variants
        .iter()
        .any(|v| v.channel_id == channel_id && v.lang == lang)
    {
        return Err(Error::not_found(
            "post variant",
            format!("{channel_id}/{lang}"),
        ));
    }
    let Some(publication) = posts::of_variant(conn, activity_id, channel_id, lang.as_str())? else {
        return Err(Error::Conflict(
            "this variant has not been planned for publication yet (it is not due, or not \
             approved)"
                .into(),
        ));
    };
    mark_posted(conn, cx, &publication, input.url.as_deref(), "api")?;
    views(conn, &activity)
}

/// What an emailed "it is posted" link finds.
#[derive(Debug, Clone)]
pub enum DoneLink {
    /// No such link.
    Unknown,
    /// Past its time (nothing was written).
    Expired { lang: Language },
    /// Used already, or its variant is published already.
    Used { lang: Language },
    /// Works: what the page shows.
    Open {
        lang: Language,
        title: String,
        channel: String,
        variant_lang: Language,
        text: String,
    },
}

/// Looks an emailed link up by its token (only its hash is stored).
pub fn done_link(conn: &mut DbConnection, token: &str, now: DateTime<Utc>) -> Result<DoneLink> {
    let Some((link, publication)) = find_link(conn, token)? else {
        return Ok(DoneLink::Unknown);
    };
    let lang = link.lang.parse().unwrap_or(Language::En);
    if link.used_at.is_some() || publication.state == PublicationState::Published {
        return Ok(DoneLink::Used { lang });
    }
    if db::utc(link.expires_at) <= now {
        return Ok(DoneLink::Expired { lang });
    }
    let activity = db::activities::get(conn, publication.activity_id)?;
    let variant_lang = language(&publication.lang)?;
    let text = activity
        .post_variants
        .iter()
        .find(|v| v.channel_id == publication.channel_id && v.lang == variant_lang)
        .map(|v| v.body.clone())
        .unwrap_or_default();
    Ok(DoneLink::Open {
        lang,
        title: crate::reminders::title_in(&activity, lang),
        channel: db::channels::get(conn, publication.channel_id)?.name,
        variant_lang,
        text,
    })
}

fn find_link(
    conn: &mut DbConnection,
    token: &str,
) -> Result<Option<(posts::DoneLink, Publication)>> {
    if token.len() > 200 {
        return Ok(None);
    }
    let hash = crate::domain::token::hash(token);
    let Some(link) = posts::done_link(conn, &hash)? else {
        return Ok(None);
    };
    Ok(posts::by_job(conn, link.job_id)?.map(|p| (link, p)))
}

/// The owner, through the emailed link, says the variant is posted (and
/// where). Answers what the link found; `Open` means it is now marked.
/// Bad input (`url`) is an error and nothing is written.
pub fn mark_done_by_link(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    token: &str,
    url: Option<&str>,
) -> Result<DoneLink> {
    let found = done_link(conn, token, now)?;
    if !matches!(found, DoneLink::Open { .. }) {
        return Ok(found);
    }
    let Some((_, publication)) = find_link(conn, token)? else {
        return Ok(DoneLink::Unknown);
    };
    let cx = Context::new(super::Actor::System, now).with_reason(Some(
        "marked posted by the owner through the one-time link of the manual post's email".into(),
    ));
    mark_posted(conn, &cx, &publication, url, "owner_link")?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_is_sixty_bits_of_the_hash() {
        assert_eq!(revision_of("000000000000001ff"), 1);
        assert_eq!(revision_of("fffffffffffffffff"), (1 << 60) - 1);
        assert_ne!(
            revision_of("a1b2c3d4e5f6a70"),
            revision_of("a1b2c3d4e5f6a71")
        );
    }
}
