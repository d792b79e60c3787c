//! What the public sees: a plan's public agenda with "subscribe to this
//! calendar" buttons, and the newsletter's subscribe form. The pages a
//! newsletter's links open (confirm, preferences, unsubscribe) are routes of
//! `http::routes::public_newsletter` rendered with the templates here, in the
//! subscriber's own language.

use super::format;
use super::page::{self, Chrome, Form, State, chrome, render};
use crate::calendar::publish::Publisher;
use crate::db::PageRequest;
use crate::db::activities::ActivityFilter;
use crate::domain::Language;
use crate::domain::activity::Visibility;
use crate::domain::feed::FeedLinks;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Datelike;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/public", web::get().to(index))
        .route("/public/{plan}", web::get().to(agenda))
        .route("/newsletter", web::get().to(subscribe_form))
        .route("/newsletter/signup", web::post().to(signup));
}

/// A public page: no team navigation, whoever is signed in.
async fn public_chrome(state: &State, req: &HttpRequest, forced: Option<Language>) -> Chrome {
    let mut c = chrome(state, req, None, forced).await;
    c.team = false;
    c
}

#[derive(askama::Template)]
#[template(path = "public/index.html")]
pub struct IndexPage {
    pub c: Chrome,
    pub plans: Vec<(String, String)>,
}

async fn index(state: State, req: HttpRequest) -> HttpResponse {
    let mut c = public_chrome(&state, &req, None).await;
    let found = state
        .db
        .run(|conn| {
            crate::db::plans::list(
                conn,
                PageRequest {
                    page: Some(1),
                    per_page: Some(500),
                },
            )
        })
        .await;
    let plans = match found {
        Ok(p) => p.items,
        Err(e) => return page::error_page(&mut c, &e),
    };
    c.set_title(c.tr().t("public.title"));
    let page = IndexPage {
        plans: plans.into_iter().map(|p| (p.slug, p.title)).collect(),
        c,
    };
    render(StatusCode::OK, &page.c, &page)
}

pub struct PublicItem {
    pub title: String,
    pub when: String,
    pub tbc: bool,
    pub tentative: bool,
    pub place: Option<String>,
    pub description: Option<String>,
}

pub struct PublicGroup {
    pub heading: String,
    pub items: Vec<PublicItem>,
}

#[derive(askama::Template)]
#[template(path = "public/agenda.html")]
pub struct AgendaPage {
    pub c: Chrome,
    pub title: String,
    pub description: Option<String>,
    pub groups: Vec<PublicGroup>,
    pub links: FeedLinks,
}

async fn agenda(state: State, req: HttpRequest, slug: web::Path<String>) -> HttpResponse {
    let mut c = public_chrome(&state, &req, None).await;
    let t = c.tr();
    let zone = format::viewer_zone(&req);
    let slug = slug.into_inner();
    let found = state
        .db
        .run(move |conn| {
            let Some(plan) = crate::db::plans::find_by_slug(conn, &slug)? else {
                return Ok(None);
            };
            let activities = crate::db::activities::all(
                conn,
                &ActivityFilter {
                    plan_id: Some(plan.id),
                    visibility: Some(Visibility::Public),
                    ..Default::default()
                },
            )?;
            Ok(Some((plan, activities)))
        })
        .await;
    let (plan, mut activities) = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            return page::message(
                StatusCode::NOT_FOUND,
                &mut c,
                t.t("error.not_found"),
                "",
                None,
            );
        }
        Err(e) => return page::error_page(&mut c, &e),
    };
    for a in &mut activities {
        a.localise(c.lang);
    }
    activities.retain(|a| !a.status.is_off() || a.cancelled_at.is_none());
    activities.sort_by_key(|a| (a.timing.date_range().map(|(s, _)| s), a.id));
    let mut groups: Vec<PublicGroup> = Vec::new();
    let mut tbc = Vec::new();
    for a in &activities {
        let item = PublicItem {
            title: a.title.clone(),
            when: format::timing(&t, &a.timing, zone),
            tbc: a.timing.date_range().is_none(),
            tentative: a.status == crate::domain::activity::ActivityStatus::Tentative,
            place: a.place.name.clone(),
            description: a.description.clone(),
        };
        match a.timing.date_range() {
            None => tbc.push(item),
            Some((start, _)) => {
                let heading = format::month_year(&t, start.year(), start.month());
                match groups.last_mut() {
                    Some(g) if g.heading == heading => g.items.push(item),
                    _ => groups.push(PublicGroup {
                        heading,
                        items: vec![item],
                    }),
                }
            }
        }
    }
    if !tbc.is_empty() {
        groups.push(PublicGroup {
            heading: t.t("timing.tbc").to_owned(),
            items: tbc,
        });
    }
    let links = state.publisher.links(
        &format!("{}?lang={}", Publisher::public_path(), c.lang),
        &plan.title,
    );
    c.set_title(plan.title.clone());
    let page = AgendaPage {
        title: plan.title,
        description: plan.description,
        groups,
        links,
        c,
    };
    render(StatusCode::OK, &page.c, &page)
}

pub struct ListChoice {
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub checked: bool,
}

pub struct LangChoice {
    pub code: &'static str,
    pub name: &'static str,
    pub selected: bool,
}

#[derive(askama::Template)]
#[template(path = "public/subscribe.html")]
pub struct SubscribePage {
    pub c: Chrome,
    pub lists: Vec<ListChoice>,
    pub languages: Vec<LangChoice>,
    pub email: String,
    pub name: String,
    pub error: Option<String>,
    pub error_field: Option<String>,
}

async fn public_lists(state: &State) -> crate::Result<Vec<crate::domain::newsletter::MailingList>> {
    Ok(state
        .db
        .run(|conn| {
            crate::db::subscribers::list_lists(
                conn,
                PageRequest {
                    page: Some(1),
                    per_page: Some(500),
                },
            )
        })
        .await?
        .items
        .into_iter()
        .filter(|l| l.public_subscribe)
        .collect())
}

fn subscribe_page(
    c: Chrome,
    lists: Vec<crate::domain::newsletter::MailingList>,
    form: Option<&Form>,
    error: Option<(String, String)>,
) -> SubscribePage {
    let t = c.tr();
    let chosen: Vec<&str> = form.map(|f| f.all("list")).unwrap_or_default();
    let wanted_lang = form
        .and_then(|f| f.get("language"))
        .and_then(|l| l.parse::<Language>().ok())
        .unwrap_or(c.lang);
    let single = lists.len() == 1;
    SubscribePage {
        lists: lists
            .into_iter()
            .map(|l| ListChoice {
                checked: single || chosen.contains(&l.slug.as_str()),
                slug: l.slug,
                name: l.name,
                description: l.description,
            })
            .collect(),
        languages: Language::ALL
            .iter()
            .map(|l| LangChoice {
                code: l.as_str(),
                name: format::lang_name(&t, *l),
                selected: *l == wanted_lang,
            })
            .collect(),
        email: form.and_then(|f| f.get("email")).unwrap_or("").to_owned(),
        name: form.and_then(|f| f.get("name")).unwrap_or("").to_owned(),
        error_field: error.as_ref().map(|(f, _)| f.clone()),
        error: error.map(|(_, m)| m),
        c,
    }
}

async fn subscribe_form(state: State, req: HttpRequest) -> HttpResponse {
    let mut c = public_chrome(&state, &req, None).await;
    c.scripts = false;
    let lists = match public_lists(&state).await {
        Ok(l) => l,
        Err(e) => return page::error_page(&mut c, &e),
    };
    c.set_title(c.tr().t("subscribe.title"));
    let page = subscribe_page(c, lists, None, None);
    render(StatusCode::OK, &page.c, &page)
}

async fn signup(
    _: crate::http::rate_limit::PublicRateLimit,
    state: State,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let form = Form::parse(&body);
    if !super::csrf::verify(&state, &req, form.get(super::csrf::FIELD)) {
        return page::refused(&state, &req, page::Refused::Csrf).await;
    }
    let mut c = public_chrome(&state, &req, None).await;
    c.scripts = false;
    let t = c.tr();
    c.set_title(t.t("subscribe.title"));
    // The honeypot: people never see this field; robots fill it. They get
    // the same answer as everyone, and nothing is stored.
    if form.text("website").is_some() {
        return page::message(
            StatusCode::OK,
            &mut c,
            t.t("subscribe.check_email_title"),
            t.t("subscribe.check_email"),
            None,
        );
    }
    let input = serde_json::json!({
        "email": form.get("email").unwrap_or("").trim(),
        "name": form.text("name"),
        "language": form.text("language"),
        "lists": form.all("list"),
        "consent": form.get("consent") == Some("yes"),
    });
    let parsed: Result<crate::domain::newsletter::PublicSubscribe, _> =
        serde_path_to_error::deserialize(input);
    let outcome = match parsed {
        Err(e) => Err(crate::Error::invalid(
            e.path().to_string(),
            e.into_inner().to_string(),
        )),
        Ok(input) => {
            let hours = state.settings.email.confirm_link_hours;
            let domain = crate::dispatch::message_domain(&state.settings.email);
            crate::app::subscribers::subscribe_on_form(
                &state.db,
                &state.public_intake,
                state.clock.now(),
                input,
                hours,
                domain,
            )
            .await
        }
    };
    match outcome {
        Ok(()) => page::message(
            StatusCode::OK,
            &mut c,
            t.t("subscribe.check_email_title"),
            t.t("subscribe.check_email"),
            None,
        ),
        Err(crate::Error::Invalid { field, .. }) => {
            let lists = public_lists(&state).await.unwrap_or_default();
            let field = field.split('[').next().unwrap_or("").to_owned();
            let message = match field.as_str() {
                "email" => t.t("subscribe.error_email"),
                "consent" => t.t("subscribe.error_consent"),
                "lists" => t.t("subscribe.error_lists"),
                "name" => t.t("subscribe.error_name"),
                _ => t.t("error.invalid"),
            };
            let page = subscribe_page(c, lists, Some(&form), Some((field, message.to_owned())));
            render(StatusCode::UNPROCESSABLE_ENTITY, &page.c, &page)
        }
        Err(e) => page::error_page(&mut c, &e),
    }
}

// ------------------------------------------------ the newsletter's link pages

#[derive(askama::Template)]
#[template(path = "public/confirm.html")]
pub struct ConfirmPage {
    pub c: Chrome,
}

#[derive(askama::Template)]
#[template(path = "public/preferences.html")]
pub struct PreferencesPage {
    pub c: Chrome,
    pub token: String,
    pub lists: Vec<(i64, String, bool)>,
    pub languages: Vec<LangChoice>,
}

/// What the newsletter's link pages show.
pub enum LinkPage {
    /// The confirmation link's page: one button.
    Confirm,
    Confirmed {
        list: String,
    },
    Invalid,
    Expired,
    Preferences {
        token: String,
        lists: Vec<(i64, String, bool)>,
        language: Language,
    },
    Saved,
    Unsubscribed,
}

/// Renders a newsletter link page in `lang` (the subscriber's own, unless the
/// visitor switched).
pub async fn link_page(
    state: &State,
    req: &HttpRequest,
    lang: Language,
    what: LinkPage,
) -> HttpResponse {
    let mut c = public_chrome(state, req, Some(lang)).await;
    c.scripts = false;
    let t = c.tr();
    match what {
        LinkPage::Confirm => {
            c.set_title(t.t("newsletter.confirm_title"));
            let page = ConfirmPage { c };
            render(StatusCode::OK, &page.c, &page)
        }
        LinkPage::Confirmed { list } => page::message(
            StatusCode::OK,
            &mut c,
            t.t("newsletter.confirmed"),
            &list,
            None,
        ),
        LinkPage::Invalid => page::message(
            StatusCode::NOT_FOUND,
            &mut c,
            t.t("newsletter.invalid"),
            "",
            None,
        ),
        LinkPage::Expired => page::message(
            StatusCode::NOT_FOUND,
            &mut c,
            t.t("newsletter.expired"),
            "",
            Some(("/newsletter".into(), t.t("subscribe.title").into())),
        ),
        LinkPage::Preferences {
            token,
            lists,
            language,
        } => {
            c.set_title(t.t("newsletter.preferences"));
            let page = PreferencesPage {
                token,
                lists,
                languages: Language::ALL
                    .iter()
                    .map(|l| LangChoice {
                        code: l.as_str(),
                        name: format::lang_name(&t, *l),
                        selected: *l == language,
                    })
                    .collect(),
                c,
            };
            render(StatusCode::OK, &page.c, &page)
        }
        LinkPage::Saved => page::message(StatusCode::OK, &mut c, t.t("newsletter.saved"), "", None),
        LinkPage::Unsubscribed => page::message(
            StatusCode::OK,
            &mut c,
            t.t("newsletter.unsubscribed_title"),
            t.t("newsletter.unsubscribed"),
            None,
        ),
    }
}
