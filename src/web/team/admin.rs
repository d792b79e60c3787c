//! Calendar feeds (the public one, and partners' private ones with rotate
//! and revoke) and the accounts list, for administrators.

use super::super::page::{self, Chrome, Refused, State, chrome, render, signed_in, to_sign_in};
use crate::calendar::publish::Publisher;
use crate::domain::Role;
use crate::domain::feed::FeedLinks;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

pub struct LinkSet {
    pub id: String,
    pub name: String,
    pub links: FeedLinks,
}

pub struct FeedRow {
    pub id: i64,
    pub name: String,
    pub organisation: Option<String>,
    pub lang: Option<&'static str>,
    pub revoked: bool,
}

#[derive(askama::Template)]
#[template(path = "team/feeds.html")]
pub struct FeedsPage {
    pub c: Chrome,
    pub public: Vec<LinkSet>,
    pub fresh: Option<LinkSet>,
    pub feeds: Vec<FeedRow>,
    pub notice: Option<&'static str>,
}

fn public_links(state: &State) -> Vec<LinkSet> {
    let mut sets = vec![LinkSet {
        id: "public".into(),
        name: "Pregón".into(),
        links: state.publisher.links(Publisher::public_path(), "Pregón"),
    }];
    for lang in crate::domain::Language::ALL {
        sets.push(LinkSet {
            id: format!("public-{lang}"),
            name: format!("Pregón ({lang})"),
            links: state.publisher.links(
                &format!("{}?lang={lang}", Publisher::public_path()),
                &format!("Pregón ({lang})"),
            ),
        });
    }
    sets
}

async fn feeds_page(
    state: &State,
    req: &HttpRequest,
    who: &crate::http::auth::Principal,
    fresh: Option<LinkSet>,
    notice: Option<&'static str>,
) -> HttpResponse {
    let mut c = chrome(state, req, Some(who), None).await;
    let t = c.tr();
    let feeds = if who.role.includes(Role::Admin) {
        match state
            .db
            .run(|conn| {
                Ok((
                    crate::db::feeds::list(conn)?,
                    crate::db::organisations::names(conn)?,
                ))
            })
            .await
        {
            Ok((feeds, names)) => feeds
                .into_iter()
                .map(|f| FeedRow {
                    id: f.id,
                    organisation: f.organisation_id.and_then(|o| names.get(&o).cloned()),
                    lang: f.lang.map(|l| l.as_str()),
                    revoked: f.revoked_at.is_some(),
                    name: f.name,
                })
                .collect(),
            Err(e) => return page::error_page(&mut c, &e),
        }
    } else {
        Vec::new()
    };
    c.set_title(t.t("feeds.title"));
    let page = FeedsPage {
        public: public_links(state),
        fresh,
        feeds,
        notice: notice.map(|key| t.t(key)),
        c,
    };
    render(StatusCode::OK, &page.c, &page)
}

pub async fn feeds(state: State, req: HttpRequest) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    feeds_page(&state, &req, &who, None, None).await
}

pub async fn rotate_feed(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (_, who) = match page::team_post(&state, &req, &body, Role::Admin).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let cx = crate::app::Context::new(who.actor(), state.clock.now());
    match state
        .db
        .transaction(move |c| crate::app::feeds::rotate(c, &cx, id))
        .await
    {
        Ok((feed, token)) => {
            let fresh = LinkSet {
                id: format!("feed-{}", feed.id),
                links: state
                    .publisher
                    .links(&Publisher::private_path(&token), &feed.name),
                name: feed.name,
            };
            feeds_page(&state, &req, &who, Some(fresh), Some("feeds.rotated")).await
        }
        Err(e) => {
            let mut c = chrome(&state, &req, Some(&who), None).await;
            page::error_page(&mut c, &e)
        }
    }
}

pub async fn revoke_feed(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (_, who) = match page::team_post(&state, &req, &body, Role::Admin).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let cx = crate::app::Context::new(who.actor(), state.clock.now());
    match state
        .db
        .transaction(move |c| crate::app::feeds::revoke(c, &cx, id))
        .await
    {
        Ok(()) => page::see_other("/app/feeds"),
        Err(e) => {
            let mut c = chrome(&state, &req, Some(&who), None).await;
            page::error_page(&mut c, &e)
        }
    }
}

pub struct AccountRow {
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub language: &'static str,
    pub active: bool,
}

#[derive(askama::Template)]
#[template(path = "team/accounts.html")]
pub struct AccountsPage {
    pub c: Chrome,
    pub accounts: Vec<AccountRow>,
}

pub async fn accounts(state: State, req: HttpRequest) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    if !who.role.includes(Role::Admin) {
        return page::refused(&state, &req, Refused::Forbidden).await;
    }
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let found = match state.db.run(crate::db::accounts::list).await {
        Ok(found) => found,
        Err(e) => return page::error_page(&mut c, &e),
    };
    c.set_title(t.t("accounts.title"));
    let page = AccountsPage {
        accounts: found
            .into_iter()
            .filter(|a| a.kind == crate::domain::account::AccountKind::Person)
            .map(|a| AccountRow {
                role: page::role_label(&t, a.role),
                language: super::super::format::lang_name(&t, a.language),
                active: a.status == crate::domain::account::AccountStatus::Active,
                email: a.email.unwrap_or_default(),
                name: a.name,
            })
            .collect(),
        c,
    };
    render(StatusCode::OK, &page.c, &page)
}
