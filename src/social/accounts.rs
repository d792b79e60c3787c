//! Channel accounts on social networks: credentials sealed at rest, never
//! returned, logged or in the history.

use crate::app::Context;
use crate::app::history::{self, Action, FieldChange};
use crate::app::policy::{self, Operation};
use crate::db::{DbConnection, channel_accounts};
use crate::domain::network::Network;
use crate::error::{Error, Result};
use crate::jobs::sealed::Sealer;

/// A new channel account, as `create` takes it.
pub struct NewAccount<'a> {
    pub network: Network,
    pub name: Option<&'a str>,
    pub base_url: &'a str,
    pub handle: Option<&'a str>,
    /// The access token (Mastodon) or app password (Bluesky), stored sealed.
    pub secret: &'a str,
}

/// Adds an account, its secret sealed.
pub fn create(
    conn: &mut DbConnection,
    cx: &Context,
    sealer: &Sealer,
    account: NewAccount<'_>,
) -> Result<i64> {
    let NewAccount {
        network,
        name,
        base_url,
        handle,
        secret,
    } = account;
    policy::require(&cx.actor, Operation::Administer)?;
    url::Url::parse(base_url).map_err(|e| Error::invalid("base_url", e.to_string()))?;
    let id = channel_accounts::insert(conn, network, name, base_url, handle, cx.now)?;
    // A manual account has no credentials: nothing to seal.
    if network != Network::Manual {
        let sealed = sealer.seal(secret, &channel_accounts::credentials_context(id, 1))?;
        channel_accounts::set_credentials(conn, id, &sealed, cx.now)?;
    }
    let mut changes = vec![
        change("network", serde_json::Value::Null, network.as_str().into()),
        base_url_change(network, serde_json::Value::Null, base_url.into()),
    ];
    if let Some(name) = name {
        changes.push(change("name", serde_json::Value::Null, name.into()));
    }
    history::record_in(conn, cx, "channel_account", id, Action::Created, changes)?;
    Ok(id)
}

/// A change in the account's history (never a secret: a rotation is
/// recorded as `credentials` → `"rotated"` with its version).
pub fn change(field: &str, before: serde_json::Value, after: serde_json::Value) -> FieldChange {
    FieldChange {
        field: field.into(),
        before,
        after,
        personal: false,
    }
}

/// A change of `base_url` in the history: a manual account's is an email
/// address (personal data: recorded as changed, without its values).
pub fn base_url_change(
    network: Network,
    before: serde_json::Value,
    after: serde_json::Value,
) -> FieldChange {
    if network == Network::Manual {
        return FieldChange {
            field: "base_url".into(),
            before: serde_json::Value::Null,
            after: serde_json::Value::Null,
            personal: true,
        };
    }
    change("base_url", before, after)
}

/// Replaces the account's secret: sealed for the next credentials version,
/// so the old sealed value no longer opens; a Bluesky session made with the
/// old app password is dropped. Returns the new version.
pub fn rotate(
    conn: &mut DbConnection,
    cx: &Context,
    sealer: &Sealer,
    account: &channel_accounts::Row,
    secret: &str,
) -> Result<i32> {
    policy::require(&cx.actor, Operation::Administer)?;
    let version = account.credentials_version + 1;
    let sealed = sealer.seal(
        secret,
        &channel_accounts::credentials_context(account.id, version),
    )?;
    channel_accounts::rotate_credentials(conn, account.id, &sealed, version, cx.now)?;
    Ok(version)
}
