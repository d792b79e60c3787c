//! Signing in (a password, or a one-time link sent by email), sessions
//! (expiring, revocable, listed per person, "sign out everywhere") and the
//! limits on failed sign-ins.

use super::Actor;
use super::history::{self, Action, Entry, FieldChange};
use crate::config::AccountSettings;
use crate::db::{self, DbConnection, accounts, sessions as db_sessions};
use crate::domain::account::{Account, AccountKind};
use crate::domain::password;
use crate::domain::session::{
    self, CreatedSession, LINK_PREFIX, SESSION_PREFIX, Session, SignInMethod,
};
use crate::domain::token::hash;
use crate::error::{Error, Result};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

/// Creates a one-time sign-in link secret for a person (valid for
/// `sign_in_link_minutes`). Only its hash is stored.
pub fn create_link(
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    account: &Account,
    settings: &AccountSettings,
) -> Result<String> {
    if account.kind != AccountKind::Person || !account.is_active() {
        return Err(Error::Conflict(format!(
            "account {} cannot sign in: only an active person's account can",
            account.id
        )));
    }
    let (secret, secret_hash) = session::generate(LINK_PREFIX);
    let expires = now + TimeDelta::minutes(i64::from(settings.sign_in_link_minutes));
    db_sessions::insert_link(conn, account.id, &secret_hash, now, expires)?;
    Ok(secret)
}

/// The page a sign-in link opens.
pub fn link_url(public_url: &str, secret: &str) -> String {
    format!("{}/sign-in/{secret}", public_url.trim_end_matches('/'))
}

/// At most this many links are emailed to one person per link lifetime, so
/// nobody can flood someone's mailbox by asking again and again.
pub const MAX_EMAILED_LINKS: i64 = 3;

/// Someone asks for a sign-in link for `email`: the active person with that
/// email gets one (returned for the caller to email) unless
/// `MAX_EMAILED_LINKS` were made within the link lifetime; anyone else
/// nothing. The caller answers the same either way.
pub fn request_link(
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    email: &str,
    settings: &AccountSettings,
) -> Result<Option<(Account, String)>> {
    let Some(account) = accounts::find_by_email(conn, email.trim())? else {
        return Ok(None);
    };
    if account.kind != AccountKind::Person || !account.is_active() {
        return Ok(None);
    }
    let lifetime = TimeDelta::minutes(i64::from(settings.sign_in_link_minutes));
    if db_sessions::links_since(conn, account.id, now - lifetime)? >= MAX_EMAILED_LINKS {
        return Ok(None);
    }
    create_link(now, conn, &account, settings).map(|secret| Some((account, secret)))
}

/// Exchanges a sign-in link for a session. An unknown, used or expired link,
/// or one whose account was disabled since, is refused (404): it works once.
pub fn redeem_link(
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    secret: &str,
    settings: &AccountSettings,
) -> Result<CreatedSession> {
    let refused = || Error::not_found("sign-in link", "");
    if !secret.starts_with(LINK_PREFIX) {
        return Err(refused());
    }
    let account_id = db_sessions::use_link(conn, &hash(secret), now)?.ok_or_else(refused)?;
    let account = accounts::get(conn, account_id)?;
    if account.kind != AccountKind::Person || !account.is_active() {
        return Err(refused());
    }
    open_session(now, conn, &account, SignInMethod::Link, settings)
}

fn open_session(
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    account: &Account,
    method: SignInMethod,
    settings: &AccountSettings,
) -> Result<CreatedSession> {
    let (secret, secret_hash) = session::generate(SESSION_PREFIX);
    let expires = now + TimeDelta::hours(i64::from(settings.session_hours));
    let session =
        db_sessions::insert_session(conn, account.id, &secret_hash, method, now, expires)?;
    let actor = Actor::Account {
        account_id: account.id,
        token_id: None,
        session_id: Some(session.id),
        role: account.role,
    };
    history::record(
        conn,
        &actor,
        now,
        Entry {
            entity: "session",
            entity_id: session.id,
            action: Action::Created,
            changes: vec![
                FieldChange {
                    field: "account_id".into(),
                    before: serde_json::Value::Null,
                    after: json!(account.id),
                    personal: false,
                },
                FieldChange {
                    field: "method".into(),
                    before: serde_json::Value::Null,
                    after: json!(method),
                    personal: false,
                },
                FieldChange {
                    field: "expires_at".into(),
                    before: serde_json::Value::Null,
                    after: json!(expires),
                    personal: false,
                },
            ],
            reason: None,
        },
    )?;
    Ok(CreatedSession {
        session: Session {
            current: true,
            ..session
        },
        secret,
    })
}

/// What a password sign-in came to.
#[derive(Debug)]
pub enum PasswordOutcome {
    SignedIn(CreatedSession),
    /// Wrong email or password (which one is not said); counted.
    Failed,
    /// Too many failures for this account or this address; not even checked.
    RateLimited {
        retry_after_secs: u64,
    },
}

/// Signs in with email and password from client address `ip`. Failures are
/// counted per account and per address over `failure_window_minutes`, in the
/// database on the service's clock; past the limits the attempt is refused
/// before the password is looked at. The slow hash is verified outside any
/// transaction, so it never holds the database's write lock; the limit check
/// and the outcome are each written in a transaction of their own.
pub fn sign_in_with_password(
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    email: &str,
    given_password: &str,
    ip: &str,
    settings: &AccountSettings,
) -> Result<PasswordOutcome> {
    let window = TimeDelta::minutes(i64::from(settings.failure_window_minutes));
    let since = now - window;
    let retry_after = |oldest: DateTime<Utc>| ((oldest + window - now).num_seconds().max(1)) as u64;
    let checked = db::write_transaction(conn, |c| {
        db_sessions::prune_failures(c, since)?;
        let ip_failures = db_sessions::ip_failures(c, ip, since)?;
        if ip_failures.len() >= settings.max_failures_per_ip as usize {
            let oldest = ip_failures[ip_failures.len() - settings.max_failures_per_ip as usize];
            return Ok(Err(retry_after(oldest)));
        }
        let account = accounts::find_by_email(c, email.trim())?
            .filter(|a| a.kind == AccountKind::Person && a.is_active());
        if let Some(account) = &account {
            let failures = db_sessions::account_failures(c, account.id, since)?;
            if failures.len() >= settings.max_failures_per_account as usize {
                let oldest = failures[failures.len() - settings.max_failures_per_account as usize];
                return Ok(Err(retry_after(oldest)));
            }
        }
        let stored = match &account {
            Some(a) => accounts::password_hash(c, a.id)?,
            None => None,
        };
        Ok(Ok((account, stored)))
    })?;
    let (account, stored) = match checked {
        Err(retry_after_secs) => return Ok(PasswordOutcome::RateLimited { retry_after_secs }),
        Ok(found) => found,
    };
    let matches = match &stored {
        Some(stored) => password::verify(given_password, stored),
        None => {
            password::verify_nothing(given_password);
            false
        }
    };
    db::write_transaction(conn, |c| match (&account, matches) {
        (Some(account), true) => {
            db_sessions::clear_account_failures(c, account.id)?;
            open_session(now, c, account, SignInMethod::Password, settings)
                .map(PasswordOutcome::SignedIn)
        }
        _ => {
            db_sessions::record_failure(c, account.as_ref().map(|a| a.id), ip, now)?;
            Ok(PasswordOutcome::Failed)
        }
    })
}

fn own_account(actor: &Actor) -> Result<i64> {
    actor
        .account_id()
        .ok_or_else(|| Error::Forbidden("only an account has sessions".into()))
}

/// The acting account's live sessions, the current one marked.
pub fn list_mine(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
) -> Result<Vec<Session>> {
    let account_id = own_account(actor)?;
    let current = match actor {
        Actor::Account { session_id, .. } => *session_id,
        _ => None,
    };
    Ok(db_sessions::live_sessions(conn, account_id, now)?
        .into_iter()
        .map(|s| Session {
            current: Some(s.id) == current,
            ..s
        })
        .collect())
}

/// Ends one of the acting account's sessions (404 for anyone else's).
pub fn revoke(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
    id: i64,
) -> Result<Session> {
    let account_id = own_account(actor)?;
    if !db_sessions::revoke_session(conn, account_id, id, now)? {
        return Err(Error::not_found("session", id));
    }
    record_session_end(conn, actor, now, id)?;
    db_sessions::get_session(conn, id)
}

/// "Sign out everywhere": ends every session of the acting account (its API
/// tokens are not sessions and keep working). Returns how many ended.
pub fn sign_out_everywhere(
    actor: &Actor,
    now: DateTime<Utc>,
    conn: &mut DbConnection,
) -> Result<usize> {
    let account_id = own_account(actor)?;
    let ended = db_sessions::revoke_all_of_account(conn, account_id, now)?;
    for id in &ended {
        record_session_end(conn, actor, now, *id)?;
    }
    Ok(ended.len())
}

pub(super) fn record_session_end(
    conn: &mut DbConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    session_id: i64,
) -> Result<()> {
    history::record(
        conn,
        actor,
        now,
        Entry {
            entity: "session",
            entity_id: session_id,
            action: Action::StateChanged,
            changes: vec![FieldChange {
                field: "revoked_at".into(),
                before: serde_json::Value::Null,
                after: json!(now),
                personal: false,
            }],
            reason: None,
        },
    )
}

/// The email carrying a sign-in link, in the person's language. The link is
/// its only secret; it is never logged.
pub fn link_email(
    email: &crate::config::EmailSettings,
    account: &Account,
    url: &str,
    minutes: u32,
    now: DateTime<Utc>,
) -> Result<crate::email::OutgoingEmail> {
    use crate::domain::Language;
    use lettre::message::Mailbox;
    let address = |a: &str| {
        a.parse::<lettre::Address>()
            .map_err(|e| Error::Internal(anyhow::anyhow!("invalid address {a:?}: {e}")))
    };
    let from = Mailbox::new(Some(email.from_name.clone()), address(&email.from_address)?);
    let to_address = account.email.as_deref().unwrap_or_default();
    let to = Mailbox::new(None, address(to_address)?);
    let name = crate::email::message::single_line(&account.name);
    let (subject, text) = match account.language {
        Language::Es => (
            "Tu enlace para entrar en Pregón".to_owned(),
            format!(
                "Hola {name},\n\nPara entrar en Pregón, abre este enlace:\n\n{url}\n\nVale {minutes} minutos y una sola vez. Si no lo has pedido tú, ignora este mensaje.\n"
            ),
        ),
        Language::Fr => (
            "Votre lien de connexion à Pregón".to_owned(),
            format!(
                "Bonjour {name},\n\nPour vous connecter à Pregón, ouvrez ce lien :\n\n{url}\n\nIl est valable {minutes} minutes, une seule fois. Si vous n'avez rien demandé, ignorez ce message.\n"
            ),
        ),
        Language::En => (
            "Your sign-in link for Pregón".to_owned(),
            format!(
                "Hello {name},\n\nTo sign in to Pregón, open this link:\n\n{url}\n\nIt works for {minutes} minutes, once. If you did not ask for it, ignore this message.\n"
            ),
        ),
    };
    let domain = crate::dispatch::message_domain(email);
    let message_id = format!("<sign-in.{}@{domain}>", uuid::Uuid::new_v4().simple());
    Ok(crate::email::OutgoingEmail::new(
        from, to, subject, text, message_id, now,
    ))
}
