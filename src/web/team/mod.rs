//! The team's pages under `/app`: sign-in, the plan overview, the agenda and
//! month grid, the activity page and its form, feeds and accounts.

mod activity;
mod admin;
mod agenda;
mod calendar_import;
mod channel_accounts;
mod jobs;
mod me;
mod newsletter;
mod newsletter_issue;
mod posts;
mod reports;
mod sign_in;
mod webhooks;

use super::format;
use super::i18n::Tr;
use super::page::{self, Chrome, State, chrome, render, signed_in, to_sign_in};
use crate::db::PageRequest;
use crate::db::activities::ActivityFilter;
use crate::domain::activity::{Activity, ActivityStatus};
use crate::domain::plan::Plan;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/app", web::get().to(overview))
        .route("/app/sign-in", web::get().to(sign_in::page))
        .route("/app/sign-in", web::post().to(sign_in::with_password))
        .route("/app/sign-in/link", web::post().to(sign_in::ask_for_link))
        .route("/app/sign-out", web::post().to(sign_in::sign_out))
        .route("/app/agenda", web::get().to(agenda::agenda))
        .route("/app/calendar", web::get().to(agenda::calendar))
        .route("/app/calendar/week", web::get().to(agenda::week))
        // Before `{id}`: "new" is not an id.
        .route("/app/activities/new", web::get().to(activity::new_form))
        .route("/app/activities/new", web::post().to(activity::create))
        .route("/app/activities/{id}", web::get().to(activity::show))
        .route(
            "/app/activities/{id}/edit",
            web::get().to(activity::edit_form),
        )
        .route("/app/activities/{id}/edit", web::post().to(activity::save))
        .route(
            "/app/activities/{id}/review",
            web::post().to(activity::review),
        )
        .route(
            "/app/activities/{id}/draft",
            web::post().to(activity::to_draft),
        )
        .route("/app/feeds", web::get().to(admin::feeds))
        .route("/app/feeds/{id}/rotate", web::post().to(admin::rotate_feed))
        .route("/app/feeds/{id}/revoke", web::post().to(admin::revoke_feed))
        .route("/app/accounts", web::get().to(admin::accounts))
        .route("/app/reports", web::get().to(reports::page));
    newsletter::configure(cfg);
    me::configure(cfg);
    calendar_import::configure(cfg);
    posts::configure(cfg);
    channel_accounts::configure(cfg);
    webhooks::configure(cfg);
    jobs::configure(cfg);
}

/// Every plan, oldest first, and the one a page is about (`?plan=`, else the first).
pub(super) async fn plans(
    state: &State,
    req: &HttpRequest,
) -> crate::Result<(Vec<Plan>, Option<Plan>)> {
    let wanted = query(req, "plan").and_then(|v| v.parse::<i64>().ok());
    let all = state
        .db
        .run(|c| {
            crate::db::plans::list(
                c,
                PageRequest {
                    page: Some(1),
                    per_page: Some(500),
                },
            )
        })
        .await?
        .items;
    let chosen = wanted
        .and_then(|id| all.iter().find(|p| p.id == id))
        .or(all.first())
        .cloned();
    Ok((all, chosen))
}

pub(super) fn query(req: &HttpRequest, key: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// When an activity is, for sorting and counting: its first and last day.
pub(super) fn days_of(a: &Activity) -> Option<(NaiveDate, NaiveDate)> {
    a.timing.date_range()
}

/// Not yet done, and not called off.
fn open(a: &Activity) -> bool {
    !matches!(
        a.status,
        ActivityStatus::Done | ActivityStatus::Cancelled | ActivityStatus::Failed
    )
}

/// The overview's counts, each a link to the agenda showing those items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum When {
    /// Open, starting within the next 14 days.
    Due,
    /// Open, but its last day has passed.
    Late,
    /// Its date is to be confirmed.
    Tbc,
}

impl When {
    pub fn parse(s: &str) -> Option<When> {
        match s {
            "due" => Some(When::Due),
            "late" => Some(When::Late),
            "tbc" => Some(When::Tbc),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            When::Due => "due",
            When::Late => "late",
            When::Tbc => "tbc",
        }
    }

    pub fn admits(self, a: &Activity, today: NaiveDate) -> bool {
        match self {
            When::Due => {
                open(a)
                    && days_of(a)
                        .is_some_and(|(s, e)| e >= today && s <= today + chrono::Days::new(14))
            }
            When::Late => open(a) && days_of(a).is_some_and(|(_, e)| e < today),
            When::Tbc => a.timing.date_range().is_none(),
        }
    }
}

pub struct CountLink {
    pub label: &'static str,
    pub count: usize,
    pub href: String,
}

pub struct PeriodView {
    pub name: String,
    pub dates: String,
    pub goals: Vec<String>,
}

pub struct CampaignView {
    pub name: String,
    pub status: &'static str,
    pub dates: String,
    pub channels: Vec<String>,
    pub agenda: String,
}

#[derive(askama::Template)]
#[template(path = "team/overview.html")]
pub struct Overview {
    pub c: Chrome,
    pub plans: Vec<(i64, String, bool)>,
    pub plan_title: String,
    pub plan_description: Option<String>,
    pub periods: Vec<PeriodView>,
    pub other_goals: Vec<String>,
    pub campaigns: Vec<CampaignView>,
    pub counts: Vec<CountLink>,
    pub public_page: String,
}

pub(super) fn status_label(t: &Tr, s: ActivityStatus) -> &'static str {
    match s {
        ActivityStatus::Draft => t.t("status.draft"),
        ActivityStatus::Planned => t.t("status.planned"),
        ActivityStatus::Tentative => t.t("status.tentative"),
        ActivityStatus::Confirmed => t.t("status.confirmed"),
        ActivityStatus::Done => t.t("status.done"),
        ActivityStatus::Cancelled => t.t("status.cancelled"),
        ActivityStatus::Failed => t.t("status.failed"),
    }
}

pub(super) fn kind_label(t: &Tr, k: crate::domain::activity::ActivityKind) -> &'static str {
    use crate::domain::activity::ActivityKind as K;
    match k {
        K::Milestone => t.t("kind.milestone"),
        K::NewsletterIssue => t.t("kind.newsletter_issue"),
        K::SocialPost => t.t("kind.social_post"),
        K::Event => t.t("kind.event"),
        K::LearningMeeting => t.t("kind.learning_meeting"),
        K::ProgressReport => t.t("kind.progress_report"),
        K::External => t.t("kind.external"),
    }
}

fn dates(t: &Tr, from: Option<NaiveDate>, to: Option<NaiveDate>) -> String {
    match (from, to) {
        (Some(f), Some(e)) => format!("{} – {}", format::date(t, f), format::date(t, e)),
        (Some(f), None) => format::date(t, f),
        (None, Some(e)) => format!("– {}", format::date(t, e)),
        (None, None) => t.t("timing.tbc").to_owned(),
    }
}

async fn overview(state: State, req: HttpRequest) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let (all, plan) = match plans(&state, &req).await {
        Ok(found) => found,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let Some(plan) = plan else {
        return page::message(
            StatusCode::OK,
            &mut c,
            t.t("overview.title"),
            t.t("overview.no_plan"),
            None,
        );
    };
    let plan_id = plan.id;
    let loaded = state
        .db
        .run(move |conn| {
            let campaigns = crate::db::campaigns::list(
                conn,
                Some(plan_id),
                None,
                PageRequest {
                    page: Some(1),
                    per_page: Some(500),
                },
            )?
            .items;
            let channels = crate::db::channels::list(
                conn,
                None,
                PageRequest {
                    page: Some(1),
                    per_page: Some(500),
                },
            )?
            .items;
            // Counted by status and dates: the rows alone.
            let activities = crate::db::activities::all_as(
                conn,
                &ActivityFilter {
                    plan_id: Some(plan_id),
                    ..Default::default()
                },
                crate::db::activities::Detail::Listing,
            )?;
            Ok((campaigns, channels, activities))
        })
        .await;
    let (campaigns, channels, activities) = match loaded {
        Ok(found) => found,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let today = state.clock.now().date_naive();
    let count = |f: &dyn Fn(&Activity) -> bool| activities.iter().filter(|a| f(a)).count();
    let base = format!("/app/agenda?plan={plan_id}");
    let counts = vec![
        CountLink {
            label: t.t("overview.due"),
            count: count(&|a| When::Due.admits(a, today)),
            href: format!("{base}&when=due"),
        },
        CountLink {
            label: t.t("overview.late"),
            count: count(&|a| When::Late.admits(a, today)),
            href: format!("{base}&when=late"),
        },
        CountLink {
            label: t.t("overview.tentative"),
            count: count(&|a| a.status == ActivityStatus::Tentative),
            href: format!("{base}&status=tentative"),
        },
        CountLink {
            label: t.t("overview.tbc"),
            count: count(&|a| When::Tbc.admits(a, today)),
            href: format!("{base}&when=tbc"),
        },
        CountLink {
            label: t.t("overview.failed"),
            count: count(&|a| a.status == ActivityStatus::Failed),
            href: format!("{base}&status=failed"),
        },
    ];
    let periods = plan
        .periods
        .iter()
        .map(|p| PeriodView {
            name: p.name.clone(),
            dates: dates(&t, p.starts_on, p.ends_on),
            goals: plan
                .goals
                .iter()
                .filter(|g| g.period_id == Some(p.id))
                .map(|g| g.description.clone())
                .collect(),
        })
        .collect();
    let other_goals = plan
        .goals
        .iter()
        .filter(|g| g.period_id.is_none())
        .map(|g| g.description.clone())
        .collect();
    let campaigns = campaigns
        .iter()
        .map(|k| CampaignView {
            name: crate::domain::language::pick(&k.translations, c.lang)
                .map(|(_, tr)| tr.title.clone())
                .unwrap_or_else(|| k.slug.clone()),
            status: status_label(&t, k.status),
            dates: dates(&t, k.starts_on, k.ends_on),
            channels: k
                .channel_ids
                .iter()
                .filter_map(|id| channels.iter().find(|ch| ch.id == *id))
                .map(|ch| ch.name.clone())
                .collect(),
            agenda: format!("{base}&campaign={}", k.id),
        })
        .collect();
    c.set_title(plan.title.clone());
    let page = Overview {
        plans: all
            .iter()
            .map(|p| (p.id, p.title.clone(), p.id == plan_id))
            .collect(),
        plan_title: plan.title.clone(),
        plan_description: plan.description.clone(),
        periods,
        other_goals,
        campaigns,
        counts,
        public_page: format!("/public/{}", plan.slug),
        c,
    };
    render(StatusCode::OK, &page.c, &page)
}
