//! The channel accounts social posts go out through (administrators): the
//! list (network, name, address, channel, state; never a credential), a new
//! Mastodon, Bluesky, website (webhook) or manual account (its recipients
//! one address per line), and per account rename, rotate the credential,
//! a manual account's recipients, disable / enable, delete (refused while approved
//! variants wait for it), and its history. Through `app::posts` only, as
//! the API's `/api/v1/channel-accounts`.

use super::super::format;
use super::super::i18n::Tr;
use super::super::page::{self, Chrome, Refused, State, chrome, render, see_other, signed_in};
use super::posts::network_label;
use crate::app::posts::{ChannelAccount, ChannelAccountInput, ChannelAccountUpdate};
use crate::domain::Language;
use crate::domain::Role;
use crate::domain::history::HistoryEntry;
use crate::domain::network::{Network, Recipient};
use crate::error::Error;
use crate::http::auth::Principal;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use std::collections::HashMap;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/app/channel-accounts", web::get().to(list))
        .route("/app/channel-accounts", web::post().to(create))
        .route("/app/channel-accounts/{id}/history", web::get().to(history))
        .route(
            "/app/channel-accounts/{id}/{action:rename|rotate|recipients|disable|enable|delete}",
            web::post().to(change),
        );
}

pub struct AccountRow {
    pub id: i64,
    pub network: &'static str,
    pub label: String,
    pub base_url: String,
    pub handle: Option<String>,
    pub channel: Option<String>,
    pub disabled: bool,
    pub has_credentials: bool,
    pub credentials_version: i32,
    /// The name field as posted, when a rename was refused.
    pub name_value: String,
    pub name_error: Option<String>,
    pub secret_error: Option<String>,
    pub delete_error: Option<String>,
    /// A manual account: its recipients' form.
    pub manual: bool,
    /// The recipients one per line, as stored or as posted when refused.
    pub recipients_value: String,
    pub recipients_error: Option<String>,
    /// The languages for an address without an account, the chosen one marked.
    pub langs: Vec<(&'static str, &'static str, bool)>,
}

#[derive(askama::Template)]
#[template(path = "team/channel_accounts.html")]
pub struct AccountsPage {
    pub c: Chrome,
    pub notice: Option<&'static str>,
    pub accounts: Vec<AccountRow>,
    pub networks: Vec<(&'static str, &'static str, bool)>,
    pub channels: Vec<(i64, String, bool)>,
    /// The new account's default language choice.
    pub langs: Vec<(&'static str, &'static str, bool)>,
    pub values: HashMap<String, String>,
    pub errors: HashMap<String, String>,
    pub general_error: Option<String>,
}

impl AccountsPage {
    pub fn v(&self, name: &str) -> &str {
        self.values.get(name).map(|s| s.as_str()).unwrap_or("")
    }

    pub fn err(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(|s| s.as_str())
    }
}

/// What went wrong with one account's form, to show beside it.
#[derive(Default)]
struct RowError {
    id: i64,
    name_value: Option<String>,
    name: Option<String>,
    secret: Option<String>,
    delete: Option<String>,
    recipients_value: Option<String>,
    recipients: Option<String>,
}

/// The recipients typed one per line: an email address, or the number of
/// a Pregón account; blank lines skipped. With each, the line it is on.
fn recipients_of(text: &str) -> (Vec<Recipient>, Vec<usize>) {
    text.lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .map(|(n, l)| {
            let r = match l.parse::<i64>() {
                Ok(id) => Recipient::Account(id),
                Err(_) => Recipient::Email(l.to_owned()),
            };
            (r, n)
        })
        .unzip()
}

/// The recipients as the textarea shows them, one per line.
fn recipients_text(recipients: &[Recipient]) -> String {
    recipients
        .iter()
        .map(|r| match r {
            Recipient::Account(id) => id.to_string(),
            Recipient::Email(a) => a.clone(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The message beside the recipients' field of an error about
/// `recipients[i]` (the line it came from said) or the whole list.
fn recipients_message(t: &Tr, field: &str, message: &str, lines: &[usize]) -> String {
    let line = field
        .strip_prefix("recipients[")
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|i| i.parse::<usize>().ok())
        .and_then(|i| lines.get(i));
    match line {
        Some(n) => format!("{} {n}: {message}", t.t("chacc.line")),
        None => message.to_owned(),
    }
}

/// The languages to choose from for an address without an account.
fn lang_choices(t: &Tr, chosen: &str) -> Vec<(&'static str, &'static str, bool)> {
    [Language::Es, Language::En, Language::Fr]
        .into_iter()
        .map(|l| {
            let code = l.as_str();
            (code, t.t(&format!("lang.{code}")), code == chosen)
        })
        .collect()
}

fn sealer(state: &State) -> crate::Result<crate::jobs::sealed::Sealer> {
    crate::jobs::sealed::Sealer::from_hex(state.settings.credentials.key.expose())
        .map_err(Error::Internal)
}

fn cx(state: &State, who: &Principal) -> crate::app::Context {
    crate::app::Context::new(who.actor(), state.clock.now())
}

/// The social channels (for the "publishes for" choice and the names).
async fn channels(state: &State) -> crate::Result<Vec<(i64, String)>> {
    state
        .db
        .run(|c| {
            Ok(crate::db::channels::list(
                c,
                Some(crate::domain::activity::ChannelKind::Social),
                crate::db::PageRequest {
                    page: Some(1),
                    per_page: Some(500),
                },
            )?
            .items
            .into_iter()
            .map(|ch| (ch.id, ch.name))
            .collect())
        })
        .await
}

#[allow(clippy::too_many_arguments)]
async fn page_with(
    state: &State,
    who: &Principal,
    mut c: Chrome,
    status: StatusCode,
    notice: Option<&'static str>,
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
    row_error: Option<RowError>,
    general_error: Option<String>,
) -> HttpResponse {
    let t = c.tr();
    let cx = cx(state, who);
    let found = state
        .db
        .run(move |conn| crate::app::posts::list_accounts(conn, &cx))
        .await;
    let accounts: Vec<ChannelAccount> = match found {
        Ok(a) => a,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let channels = match channels(state).await {
        Ok(ch) => ch,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let rows = accounts
        .iter()
        .map(|a| {
            let mine = row_error.as_ref().filter(|r| r.id == a.id);
            AccountRow {
                id: a.id,
                network: network_label(&t, Some(a.network)),
                label: a
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{} #{}", network_label(&t, Some(a.network)), a.id)),
                base_url: a.base_url.clone(),
                handle: a.handle.clone(),
                channel: a.channel_id.map(|id| {
                    channels
                        .iter()
                        .find(|(ch, _)| *ch == id)
                        .map(|(_, n)| n.clone())
                        .unwrap_or_else(|| format!("#{id}"))
                }),
                disabled: a.disabled,
                has_credentials: a.has_credentials,
                credentials_version: a.credentials_version,
                name_value: mine
                    .and_then(|r| r.name_value.clone())
                    .unwrap_or_else(|| a.name.clone().unwrap_or_default()),
                name_error: mine.and_then(|r| r.name.clone()),
                secret_error: mine.and_then(|r| r.secret.clone()),
                delete_error: mine.and_then(|r| r.delete.clone()),
                manual: a.network == Network::Manual,
                recipients_value: mine
                    .and_then(|r| r.recipients_value.clone())
                    .unwrap_or_else(|| recipients_text(&a.recipients)),
                recipients_error: mine.and_then(|r| r.recipients.clone()),
                langs: lang_choices(&t, a.default_language.map_or("", |l| l.as_str())),
            }
        })
        .collect();
    let taken: Vec<i64> = accounts.iter().filter_map(|a| a.channel_id).collect();
    let chosen_network = values.get("network").cloned().unwrap_or_default();
    let chosen_channel = values.get("channel_id").cloned().unwrap_or_default();
    c.set_title(t.t("chacc.title"));
    let page = AccountsPage {
        notice,
        accounts: rows,
        networks: [
            Network::Mastodon,
            Network::Bluesky,
            Network::Webhook,
            Network::Manual,
        ]
        .into_iter()
        .map(|n| {
            (
                n.as_str(),
                network_label(&t, Some(n)),
                n.as_str() == chosen_network,
            )
        })
        .collect(),
        channels: channels
            .iter()
            .filter(|(id, _)| !taken.contains(id))
            .map(|(id, n)| (*id, n.clone(), id.to_string() == chosen_channel))
            .collect(),
        langs: lang_choices(
            &t,
            values.get("default_language").map_or("", |l| l.as_str()),
        ),
        values,
        errors,
        general_error,
        c,
    };
    render(status, &page.c, &page)
}

fn notice_of(t: &Tr, req: &HttpRequest) -> Option<&'static str> {
    match super::query(req, "saved").as_deref() {
        Some("created") => Some(t.t("chacc.created")),
        Some("rename") => Some(t.t("chacc.renamed")),
        Some("rotate") => Some(t.t("chacc.rotated")),
        Some("recipients") => Some(t.t("chacc.recipients_saved")),
        Some("disable") => Some(t.t("chacc.disabled_notice")),
        Some("enable") => Some(t.t("chacc.enabled_notice")),
        Some("delete") => Some(t.t("chacc.deleted")),
        _ => None,
    }
}

/// `GET /app/channel-accounts` (administrators).
pub async fn list(state: State, req: HttpRequest) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return page::to_sign_in(&req);
    };
    if !who.role.includes(Role::Admin) {
        return page::refused(&state, &req, Refused::Forbidden).await;
    }
    let c = chrome(&state, &req, Some(&who), None).await;
    let notice = notice_of(&c.tr(), &req);
    page_with(
        &state,
        &who,
        c,
        StatusCode::OK,
        notice,
        HashMap::new(),
        HashMap::new(),
        None,
        None,
    )
    .await
}

/// `POST /app/channel-accounts`: a new account through
/// `app::posts::create_account`; an invalid field is the page again with the
/// message beside it (the secret never put back in the form), nothing written.
pub async fn create(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Admin).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let c = chrome(&state, &req, Some(&who), None).await;
    let mut values = HashMap::new();
    for key in [
        "network",
        "name",
        "base_url",
        "handle",
        "channel_id",
        "recipients",
        "default_language",
    ] {
        values.insert(key.to_owned(), form.get(key).unwrap_or_default().to_owned());
    }
    let mut errors = HashMap::new();
    let network = match form.get("network").unwrap_or_default().parse::<Network>() {
        Ok(n) => n,
        Err(_) => {
            errors.insert(
                "network".to_owned(),
                c.tr().t("chacc.choose_network").into(),
            );
            return page_with(
                &state,
                &who,
                c,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                values,
                errors,
                None,
                None,
            )
            .await;
        }
    };
    let (recipients, lines) = recipients_of(form.get("recipients").unwrap_or_default());
    let input = ChannelAccountInput {
        recipients,
        default_language: form.get("default_language").and_then(|l| l.parse().ok()),
        network,
        name: form.text("name"),
        base_url: form.get("base_url").unwrap_or_default().to_owned(),
        handle: form.text("handle"),
        secret: form.get("secret").unwrap_or_default().to_owned(),
        channel_id: form.get("channel_id").and_then(|v| v.parse().ok()),
    };
    let result = match sealer(&state) {
        Ok(sealer) => {
            let cx = cx(&state, &who);
            state
                .db
                .transaction(move |conn| {
                    crate::app::posts::create_account(conn, &cx, &sealer, &input)
                })
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => see_other("/app/channel-accounts?saved=created"),
        Err(Error::Invalid { field, message }) => {
            if field.starts_with("recipients") {
                let message = recipients_message(&c.tr(), &field, &message, &lines);
                errors.insert("recipients".to_owned(), message);
            } else {
                errors.insert(field, message);
            }
            page_with(
                &state,
                &who,
                c,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                values,
                errors,
                None,
                None,
            )
            .await
        }
        Err(Error::Forbidden(_)) => page::refused(&state, &req, Refused::Forbidden).await,
        Err(e) => {
            let mut c = c;
            page::error_page(&mut c, &e)
        }
    }
}

/// `POST /app/channel-accounts/{id}/{rename|rotate|disable|enable|delete}`:
/// `app::posts::update_account` or `delete_account`. A refused change (an
/// invalid name or secret, a deletion while approved variants wait: 409) is
/// the page again with the reason beside that account's form.
pub async fn change(
    state: State,
    req: HttpRequest,
    path: web::Path<(i64, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Admin).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let (id, action) = path.into_inner();
    let c = chrome(&state, &req, Some(&who), None).await;
    let cx = cx(&state, &who);
    let (recipients, lines) = recipients_of(form.get("recipients").unwrap_or_default());
    let result = if action == "delete" {
        state
            .db
            .transaction(move |conn| crate::app::posts::delete_account(conn, &cx, id))
            .await
    } else {
        let update = match action.as_str() {
            "rename" => ChannelAccountUpdate {
                name: Some(form.get("name").unwrap_or_default().to_owned()),
                ..Default::default()
            },
            "rotate" => ChannelAccountUpdate {
                secret: Some(form.get("secret").unwrap_or_default().to_owned()),
                ..Default::default()
            },
            "recipients" => ChannelAccountUpdate {
                recipients: Some(recipients),
                default_language: form.get("default_language").and_then(|l| l.parse().ok()),
                ..Default::default()
            },
            "disable" => ChannelAccountUpdate {
                disabled: Some(true),
                ..Default::default()
            },
            _ => ChannelAccountUpdate {
                disabled: Some(false),
                ..Default::default()
            },
        };
        match sealer(&state) {
            Ok(sealer) => {
                state
                    .db
                    .transaction(move |conn| {
                        crate::app::posts::update_account(conn, &cx, &sealer, id, &update)
                            .map(|_| ())
                    })
                    .await
            }
            Err(e) => Err(e),
        }
    };
    let mut row = RowError {
        id,
        ..Default::default()
    };
    let status = match result {
        Ok(()) => return see_other(&format!("/app/channel-accounts?saved={action}")),
        Err(Error::Forbidden(_)) => return page::refused(&state, &req, Refused::Forbidden).await,
        Err(Error::Invalid { field, message }) => {
            if field == "secret" {
                row.secret = Some(message);
            } else if field.starts_with("recipients") || field == "default_language" {
                row.recipients_value = Some(form.get("recipients").unwrap_or_default().to_owned());
                row.recipients = Some(recipients_message(&c.tr(), &field, &message, &lines));
            } else {
                row.name_value = Some(form.get("name").unwrap_or_default().to_owned());
                row.name = Some(message);
            }
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(Error::Conflict(message)) => {
            row.delete = Some(format!("{} {message}", c.tr().t("chacc.in_use")));
            StatusCode::CONFLICT
        }
        Err(e) => {
            let mut c = c;
            return page::error_page(&mut c, &e);
        }
    };
    page_with(
        &state,
        &who,
        c,
        status,
        None,
        HashMap::new(),
        HashMap::new(),
        Some(row),
        None,
    )
    .await
}

pub struct HistoryLine {
    pub at: String,
    pub who: String,
    pub action: &'static str,
    pub changes: String,
    pub reason: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "team/record_history.html")]
pub struct HistoryPage {
    pub c: Chrome,
    pub heading: String,
    pub back: (String, String),
    pub rows: Vec<HistoryLine>,
}

/// A record's history as lines for a page: who (the account's name), when
/// (in the viewer's zone), what, and each field's change.
pub(super) async fn history_lines(
    state: &State,
    t: &Tr,
    zone: crate::domain::zone::Zone,
    entries: Vec<HistoryEntry>,
) -> crate::Result<Vec<HistoryLine>> {
    let ids: Vec<i64> = entries.iter().filter_map(|e| e.actor.account_id).collect();
    let names: HashMap<i64, String> = state
        .db
        .run(move |conn| {
            let mut out = HashMap::new();
            for id in ids {
                if let Some(a) = crate::db::accounts::find(conn, id)? {
                    out.insert(id, a.name);
                }
            }
            Ok(out)
        })
        .await?;
    Ok(entries
        .iter()
        .rev()
        .map(|e| HistoryLine {
            at: format::datetime(t, e.at, zone),
            who: match e.actor.account_id {
                Some(id) => names.get(&id).cloned().unwrap_or_else(|| format!("#{id}")),
                None => t.t("history.system").to_owned(),
            },
            action: match e.action {
                crate::domain::history::Action::Created => t.t("history.created"),
                crate::domain::history::Action::Updated => t.t("history.updated"),
                crate::domain::history::Action::Deleted => t.t("history.deleted"),
                crate::domain::history::Action::StateChanged => t.t("history.state_changed"),
            },
            changes: e
                .changes
                .iter()
                .map(|f| format!("{}: {} → {}", f.field, f.before, f.after))
                .collect::<Vec<_>>()
                .join("; "),
            reason: e.reason.clone(),
        })
        .collect())
}

/// `GET /app/channel-accounts/{id}/history` (administrators; also once deleted).
pub async fn history(state: State, req: HttpRequest, id: web::Path<i64>) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return page::to_sign_in(&req);
    };
    if !who.role.includes(Role::Admin) {
        return page::refused(&state, &req, Refused::Forbidden).await;
    }
    let id = id.into_inner();
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let cx = cx(&state, &who);
    let entries = match state
        .db
        .run(move |conn| crate::app::posts::account_history(conn, &cx, id))
        .await
    {
        Ok(e) => e,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let rows = match history_lines(&state, &t, format::viewer_zone(&req), entries).await {
        Ok(r) => r,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let heading = format!("{} #{id}", t.t("chacc.history"));
    c.set_title(heading.clone());
    let page = HistoryPage {
        heading,
        back: (
            "/app/channel-accounts".to_owned(),
            t.t("chacc.title").to_owned(),
        ),
        rows,
        c,
    };
    render(StatusCode::OK, &page.c, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_read_one_per_line_with_the_line_they_are_on() {
        let (list, lines) = recipients_of("12\n\n  Ana@Bilbao.example \r\n\n");
        assert_eq!(
            list,
            vec![
                Recipient::Account(12),
                Recipient::Email("Ana@Bilbao.example".into())
            ]
        );
        assert_eq!(lines, vec![1, 3]);
        assert_eq!(recipients_text(&list), "12\nAna@Bilbao.example");
        let t = Tr::new(Language::En);
        assert_eq!(
            recipients_message(&t, "recipients[1]", "listed twice", &lines),
            "Line 3: listed twice"
        );
        assert_eq!(
            recipients_message(&t, "recipients", "at most 20 recipients", &lines),
            "at most 20 recipients"
        );
    }
}
