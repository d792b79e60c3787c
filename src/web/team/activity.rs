//! One activity: what, when (in each precision), its series, who takes part
//! and how, its text in each language side by side, its history and its
//! review, with the buttons the signed-in person may use; and its form,
//! which writes through `app::records::update` like the API's PUT.

use super::super::format;
use super::super::i18n::Tr;
use super::super::page::{
    self, Chrome, Form, Refused, State, chrome, render, see_other, signed_in, to_sign_in,
};
use super::agenda::status_class;
use super::{kind_label, status_label};
use crate::app::reviews::{self, Subject};
use crate::domain::activity::{
    Activity, ActivityKind, ActivityStatus, ParticipantRole, PartnerRole, Visibility,
};
use crate::domain::review::{ReviewAction, ReviewState};
use crate::domain::{Language, Role};
use crate::error::Error;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::collections::HashMap;

pub struct TranslationView {
    pub code: &'static str,
    pub name: &'static str,
    pub title: Option<String>,
    pub description: Option<String>,
}

pub struct HistoryRow {
    pub at: String,
    pub who: String,
    pub action: String,
    pub fields: String,
    pub reason: Option<String>,
}

pub struct ReviewButton {
    pub action: &'static str,
    pub label: &'static str,
    pub primary: bool,
}

#[derive(askama::Template)]
#[template(path = "team/activity.html")]
pub struct ActivityPage {
    pub c: Chrome,
    pub id: i64,
    pub title: String,
    pub notice: Option<&'static str>,
    pub kind: &'static str,
    pub status: &'static str,
    pub status_class: &'static str,
    pub visibility: &'static str,
    pub tbc: bool,
    pub timing: String,
    pub precision: &'static str,
    pub recurrence: Option<String>,
    pub occurrences: Vec<String>,
    pub occurrences_past: bool,
    pub place: Option<String>,
    pub owner: Option<String>,
    pub campaign: Option<String>,
    pub channels: Vec<String>,
    pub partners: Vec<(String, &'static str)>,
    pub participants: Vec<String>,
    pub translations: Vec<TranslationView>,
    pub review_state: &'static str,
    pub review_comment: Option<String>,
    pub buttons: Vec<ReviewButton>,
    /// "Back to draft" is offered (an editor, an open activity not a draft).
    pub can_draft: bool,
    pub version: i32,
    pub history: Vec<HistoryRow>,
    pub ics: String,
    /// A social post's variants and their forms (`posts.rs`).
    pub posts: Option<super::posts::PostsSection>,
}

fn partner_role(t: &Tr, r: PartnerRole) -> &'static str {
    match r {
        PartnerRole::CoOrganiser => t.t("partner_role.co_organiser"),
        PartnerRole::Host => t.t("partner_role.host"),
        PartnerRole::Partner => t.t("partner_role.partner"),
        PartnerRole::Audience => t.t("partner_role.audience"),
    }
}

fn participant_role(t: &Tr, r: ParticipantRole) -> &'static str {
    match r {
        ParticipantRole::Represents => t.t("participant_role.represents"),
        ParticipantRole::Speaker => t.t("participant_role.speaker"),
        ParticipantRole::Moderator => t.t("participant_role.moderator"),
        ParticipantRole::CoOrganiser => t.t("participant_role.co_organiser"),
        ParticipantRole::Organiser => t.t("participant_role.organiser"),
        ParticipantRole::Attendee => t.t("participant_role.attendee"),
    }
}

pub fn review_state_label(t: &Tr, s: ReviewState) -> &'static str {
    match s {
        ReviewState::Draft => t.t("review.state.draft"),
        ReviewState::InReview => t.t("review.state.in_review"),
        ReviewState::ChangesRequested => t.t("review.state.changes_requested"),
        ReviewState::Approved => t.t("review.state.approved"),
    }
}

fn visibility_label(t: &Tr, v: Visibility) -> &'static str {
    match v {
        Visibility::Public => t.t("visibility.public"),
        Visibility::Internal => t.t("visibility.internal"),
    }
}

fn precision_label(t: &Tr, p: crate::domain::timing::Precision) -> &'static str {
    use crate::domain::timing::Precision as P;
    match p {
        P::Exact => t.t("precision.exact"),
        P::Days => t.t("precision.days"),
        P::Month => t.t("precision.month"),
        P::Tbc => t.t("precision.tbc"),
    }
}

struct Loaded {
    activity: Activity,
    organisations: HashMap<i64, String>,
    owner_person: Option<String>,
    campaign: Option<String>,
    channels: Vec<String>,
    review: crate::domain::review::Review,
    history: Vec<crate::domain::history::HistoryEntry>,
    accounts: HashMap<i64, String>,
}

async fn load(state: &State, id: i64, lang: Language) -> crate::Result<Loaded> {
    state
        .db
        .run(move |conn| {
            let mut activity = crate::db::activities::get(conn, id)?;
            activity.localise(lang);
            let organisations = crate::db::organisations::names(conn)?;
            let owner_person = match activity.owner_person_id {
                Some(p) => Some(crate::db::people::get(conn, p)?.name),
                None => None,
            };
            let campaign = match activity.campaign_id {
                Some(k) => {
                    let k = crate::db::campaigns::get(conn, k)?;
                    Some(
                        crate::domain::language::pick(&k.translations, lang)
                            .map(|(_, t)| t.title.clone())
                            .unwrap_or(k.slug),
                    )
                }
                None => None,
            };
            let mut channels = Vec::new();
            for ch in &activity.channel_ids {
                channels.push(crate::db::channels::get(conn, *ch)?.name);
            }
            let review = reviews::get(conn, Subject::Activity(id))?;
            let history = crate::app::history::of_record(conn, "activity", id)?;
            let mut accounts = HashMap::new();
            for e in &history {
                if let Some(a) = e.actor.account_id
                    && let std::collections::hash_map::Entry::Vacant(slot) = accounts.entry(a)
                    && let Some(found) = crate::db::accounts::find(conn, a)?
                {
                    slot.insert(found.name);
                }
            }
            Ok(Loaded {
                activity,
                organisations,
                owner_person,
                campaign,
                channels,
                review,
                history,
                accounts,
            })
        })
        .await
}

pub async fn show(state: State, req: HttpRequest, id: web::Path<i64>) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let zone = format::viewer_zone(&req);
    let loaded = match load(&state, id.into_inner(), c.lang).await {
        Ok(l) => l,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let a = &loaded.activity;
    let now = state.clock.now();
    let (occurrences_past, occurrences) = format::next_occurrences(&t, a, now, 5, zone);
    let owner = loaded.owner_person.clone().or_else(|| {
        a.owner_organisation_id
            .and_then(|o| loaded.organisations.get(&o).cloned())
    });
    let participants = a
        .participants
        .iter()
        .map(|p| {
            let mut text = p.name.clone();
            if let Some(title) = &p.title {
                text.push_str(&format!(", {title}"));
            }
            text.push_str(&format!(" — {}", participant_role(&t, p.role)));
            if let Some(org) = p
                .represents_organisation_id
                .and_then(|o| loaded.organisations.get(&o))
            {
                text.push_str(&format!(" {org}"));
            }
            text
        })
        .collect();
    let state_now = loaded.review.state;
    let mut buttons = Vec::new();
    for action in state_now.allowed() {
        let (needed, label, primary) = match action {
            ReviewAction::Submit => (Role::Editor, t.t("review.submit"), true),
            ReviewAction::Approve => (Role::Approver, t.t("review.approve"), true),
            ReviewAction::RequestChanges => (Role::Approver, t.t("review.request_changes"), false),
            ReviewAction::Supersede => continue,
        };
        if who.role.includes(needed) {
            buttons.push(ReviewButton {
                action: action.as_str(),
                label,
                primary,
            });
        }
    }
    let history = loaded
        .history
        .iter()
        .rev()
        .map(|e| HistoryRow {
            at: format::datetime(&t, e.at, zone),
            who: match e.actor.account_id {
                Some(id) => loaded
                    .accounts
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| format!("#{id}")),
                None => match e.actor.kind {
                    crate::domain::history::ActorKind::Seed => t.t("history.seed").to_owned(),
                    crate::domain::history::ActorKind::Import => t.t("history.import").to_owned(),
                    _ => t.t("history.system").to_owned(),
                },
            },
            action: match e.action {
                crate::domain::history::Action::Created => t.t("history.created"),
                crate::domain::history::Action::Updated => t.t("history.updated"),
                crate::domain::history::Action::Deleted => t.t("history.deleted"),
                crate::domain::history::Action::StateChanged => t.t("history.state_changed"),
            }
            .to_owned(),
            fields: e
                .changes
                .iter()
                .map(|f| f.field.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            reason: e.reason.clone(),
        })
        .collect();
    let notice = match super::query(&req, "saved").as_deref() {
        Some("1") => Some(t.t("activity.saved")),
        Some("created") => Some(t.t("create.done")),
        Some("review") => Some(t.t("review.done")),
        Some("draft") => Some(t.t("activity.drafted")),
        Some("variant") => Some(t.t("posts.saved")),
        Some("variant_deleted") => Some(t.t("posts.deleted")),
        Some("variant_posted") => Some(t.t("posts.posted")),
        _ => None,
    };
    let posts = match super::posts::section(&state, &who, &t, a, &loaded.channels).await {
        Ok(p) => p,
        Err(e) => return page::error_page(&mut c, &e),
    };
    c.set_title(a.title.clone());
    let page = ActivityPage {
        can_draft: c.can_edit() && can_go_back_to_draft(a.status),
        version: a.version,
        id: a.id,
        title: a.title.clone(),
        notice,
        kind: kind_label(&t, a.kind),
        status: status_label(&t, a.status),
        status_class: status_class(a.status),
        visibility: visibility_label(&t, a.visibility),
        tbc: a.timing.date_range().is_none(),
        timing: format::timing(&t, &a.timing, zone),
        precision: precision_label(&t, a.timing.precision()),
        recurrence: a.recurrence.as_ref().map(|r| format::rrule(&t, &r.rule)),
        occurrences,
        occurrences_past,
        place: [a.place.name.clone(), a.place.address.clone()]
            .into_iter()
            .flatten()
            .reduce(|x, y| format!("{x}, {y}")),
        owner,
        campaign: loaded.campaign.clone(),
        channels: loaded.channels.clone(),
        partners: a
            .partners
            .iter()
            .map(|p| {
                (
                    loaded
                        .organisations
                        .get(&p.organisation_id)
                        .cloned()
                        .unwrap_or_else(|| format!("#{}", p.organisation_id)),
                    partner_role(&t, p.role),
                )
            })
            .collect(),
        participants,
        translations: Language::ALL
            .iter()
            .map(|l| TranslationView {
                code: l.as_str(),
                name: format::lang_name(&t, *l),
                title: a.translations.get(l).map(|x| x.title.clone()),
                description: a.translations.get(l).and_then(|x| x.description.clone()),
            })
            .collect(),
        review_state: review_state_label(&t, state_now),
        review_comment: loaded.review.comment.clone(),
        buttons,
        history,
        ics: format!("/api/v1/activities/{}/ics", a.id),
        posts,
        c,
    };
    render(StatusCode::OK, &page.c, &page)
}

/// The activity as the API's input (what a PUT would send back unchanged).
fn input_of(a: &Activity) -> Value {
    let timing = |v: &crate::domain::timing::TimingView| {
        let mut t = serde_json::Map::new();
        t.insert("precision".into(), json!(v.precision));
        if let Some(s) = &v.start {
            t.insert("start".into(), json!(s));
        }
        if let Some(e) = &v.end {
            t.insert("end".into(), json!(e));
        }
        if let Some(z) = &v.time_zone {
            t.insert("time_zone".into(), json!(z));
        }
        if let Some(m) = &v.month {
            t.insert("month".into(), json!(m));
        }
        Value::Object(t)
    };
    json!({
        "plan_id": a.plan_id,
        "period_id": a.period_id,
        "campaign_id": a.campaign_id,
        "kind": a.kind,
        "status": a.status,
        "visibility": a.visibility,
        "owner_person_id": a.owner_person_id,
        "owner_organisation_id": a.owner_organisation_id,
        "timing": timing(&a.timing_view),
        "recurrence": a.recurrence.as_ref().map(|r| json!({
            "rule": r.rule,
            "rdates": r.rdates,
            "exceptions": r.exceptions.iter().map(|e| {
                let mut x = json!({"occurrence": e.occurrence, "cancelled": e.cancelled});
                if let Some(tv) = &e.timing {
                    x["timing"] = timing(tv);
                }
                // An occurrence's own text survives an edit of the series here.
                if !e.translations.is_empty() {
                    x["translations"] = json!(e.translations);
                }
                if let Some(location) = &e.location {
                    x["location"] = json!(location);
                }
                x
            }).collect::<Vec<_>>(),
        })),
        "place": a.place,
        "actual": a.actual,
        "channel_ids": a.channel_ids,
        "partners": a.partners,
        "translations": a.translations,
        "post_variants": a.post_variants,
        "version": a.version,
    })
}

pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

pub use super::agenda::Choice as OwnedChoice;

pub struct LangFields {
    pub code: &'static str,
    pub name: &'static str,
    pub title: String,
    pub description: String,
    pub title_error: Option<String>,
    pub description_error: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "team/activity_edit.html")]
pub struct EditPage {
    pub c: Chrome,
    /// The page's heading ("Edit: …", "New activity").
    pub heading: String,
    /// Where the form posts, and where "Cancel" goes.
    pub action: String,
    pub cancel: String,
    /// A new activity chooses its plan and campaign; an edit keeps them.
    pub creating: bool,
    pub plans: Vec<OwnedChoice>,
    pub campaigns: Vec<OwnedChoice>,
    pub version: String,
    pub kinds: Vec<Choice>,
    pub statuses: Vec<Choice>,
    pub visibilities: Vec<Choice>,
    pub precisions: Vec<Choice>,
    pub values: HashMap<String, String>,
    pub errors: HashMap<String, String>,
    pub general_error: Option<String>,
    pub langs: Vec<LangFields>,
}

impl EditPage {
    pub fn v(&self, name: &str) -> &str {
        self.values.get(name).map(|s| s.as_str()).unwrap_or("")
    }

    pub fn err(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(|s| s.as_str())
    }
}

/// The form's values for an activity as stored.
fn values_of(a: &Activity) -> HashMap<String, String> {
    let mut v = HashMap::new();
    v.insert("kind".into(), a.kind.as_str().into());
    v.insert("status".into(), a.status.as_str().into());
    v.insert("visibility".into(), a.visibility.as_str().into());
    v.insert(
        "timing.precision".into(),
        a.timing_view.precision.as_str().into(),
    );
    for (k, val) in [
        ("timing.start", a.timing_view.start.clone()),
        ("timing.end", a.timing_view.end.clone()),
        (
            "timing.time_zone",
            a.timing_view.time_zone.map(|z| z.name().to_owned()),
        ),
        (
            "timing.month",
            a.timing_view
                .month
                .and_then(|m| serde_json::to_value(m).ok())
                .and_then(|m| m.as_str().map(str::to_owned)),
        ),
        ("place.name", a.place.name.clone()),
    ] {
        v.insert(k.into(), val.unwrap_or_default());
    }
    for l in Language::ALL {
        let t = a.translations.get(l);
        v.insert(
            format!("translations.{l}.title"),
            t.map(|t| t.title.clone()).unwrap_or_default(),
        );
        v.insert(
            format!("translations.{l}.description"),
            t.and_then(|t| t.description.clone()).unwrap_or_default(),
        );
    }
    v.insert("version".into(), a.version.to_string());
    v
}

/// What the form is for: an activity as stored, or a new one (with the plans
/// and campaigns it may go in).
enum Target<'a> {
    Edit(&'a Activity),
    New {
        plans: Vec<OwnedChoice>,
        campaigns: Vec<OwnedChoice>,
    },
}

fn edit_page(
    c: Chrome,
    target: Target<'_>,
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
    general_error: Option<String>,
) -> EditPage {
    let t = c.tr();
    // One `<select>`'s options: every value, its label, and the one the form holds.
    fn choices<V: Copy>(
        all: &[V],
        code: fn(V) -> &'static str,
        label: impl Fn(V) -> &'static str,
        current: Option<&str>,
    ) -> Vec<Choice> {
        all.iter()
            .map(|v| Choice {
                value: code(*v),
                label: label(*v),
                selected: current == Some(code(*v)),
            })
            .collect()
    }
    let kinds = choices(
        ActivityKind::ALL,
        ActivityKind::as_str,
        |k| kind_label(&t, k),
        values.get("kind").map(String::as_str),
    );
    let statuses = choices(
        ActivityStatus::ALL,
        ActivityStatus::as_str,
        |s| status_label(&t, s),
        values.get("status").map(String::as_str),
    );
    let visibilities = choices(
        Visibility::ALL,
        Visibility::as_str,
        |v| visibility_label(&t, v),
        values.get("visibility").map(String::as_str),
    );
    use crate::domain::timing::Precision as P;
    let precisions = choices(
        &[P::Exact, P::Days, P::Month, P::Tbc],
        P::as_str,
        |p| precision_label(&t, p),
        values.get("timing.precision").map(String::as_str),
    );
    let langs = Language::ALL
        .iter()
        .map(|l| {
            let tk = format!("translations.{l}.title");
            let dk = format!("translations.{l}.description");
            LangFields {
                code: l.as_str(),
                name: format::lang_name(&t, *l),
                title: values.get(&tk).cloned().unwrap_or_default(),
                description: values.get(&dk).cloned().unwrap_or_default(),
                title_error: errors
                    .get(&tk)
                    .or_else(|| errors.get(&format!("translations.{l}")))
                    .cloned(),
                description_error: errors.get(&dk).cloned(),
            }
        })
        .collect();
    let (heading, action, cancel, creating, plans, campaigns) = match target {
        Target::Edit(a) => (
            format!("{}: {}", t.t("activity.edit"), a.title),
            format!("/app/activities/{}/edit", a.id),
            format!("/app/activities/{}", a.id),
            false,
            Vec::new(),
            Vec::new(),
        ),
        Target::New { plans, campaigns } => (
            t.t("create.title").to_owned(),
            "/app/activities/new".to_owned(),
            "/app/agenda".to_owned(),
            true,
            plans,
            campaigns,
        ),
    };
    EditPage {
        heading,
        action,
        cancel,
        creating,
        plans,
        campaigns,
        version: values.get("version").cloned().unwrap_or_default(),
        kinds,
        statuses,
        visibilities,
        precisions,
        values,
        errors,
        general_error,
        langs,
        c,
    }
}

pub async fn edit_form(state: State, req: HttpRequest, id: web::Path<i64>) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    let mut c = chrome(&state, &req, Some(&who), None).await;
    if !who.role.includes(Role::Editor) {
        return page::refused(&state, &req, Refused::Forbidden).await;
    }
    let id = id.into_inner();
    let lang = c.lang;
    let found = state
        .db
        .run(move |conn| {
            let mut a = crate::db::activities::get(conn, id)?;
            a.localise(lang);
            Ok(a)
        })
        .await;
    let a = match found {
        Ok(a) => a,
        Err(e) => return page::error_page(&mut c, &e),
    };
    c.set_title(format!("{} · {}", c.tr().t("activity.edit"), a.title));
    let page = edit_page(c, Target::Edit(&a), values_of(&a), HashMap::new(), None);
    render(StatusCode::OK, &page.c, &page)
}

/// The input the form asks for: `input` (the stored activity, or a new one's
/// defaults) with the form's fields; and the form's values to show again.
fn apply(
    mut input: Value,
    mut values: HashMap<String, String>,
    form: &Form,
) -> (Value, HashMap<String, String>) {
    for (k, v) in &form.0 {
        if k != "csrf" {
            values.insert(k.clone(), v.clone());
        }
    }
    for key in ["kind", "status", "visibility"] {
        if let Some(v) = form.text(key) {
            input[key] = json!(v);
        }
    }
    if let Some(precision) = form.text("timing.precision") {
        let mut timing = serde_json::Map::new();
        timing.insert("precision".into(), json!(precision));
        let wanted: &[&str] = match precision.as_str() {
            "exact" => &["start", "end", "time_zone"],
            "days" => &["start", "end"],
            "month" => &["month"],
            _ => &[],
        };
        for field in wanted {
            if let Some(v) = form.text(&format!("timing.{field}")) {
                timing.insert((*field).into(), json!(v));
            }
        }
        input["timing"] = Value::Object(timing);
        // A series needs a date to repeat from: changing to TBC or a month drops it.
        if matches!(precision.as_str(), "tbc" | "month") {
            input["recurrence"] = Value::Null;
        }
    }
    if form.get("place.name").is_some() {
        input["place"]["name"] = form
            .text("place.name")
            .map(Value::from)
            .unwrap_or(Value::Null);
    }
    let mut translations = serde_json::Map::new();
    for l in Language::ALL {
        let title = form.text(&format!("translations.{l}.title"));
        let description = form.text(&format!("translations.{l}.description"));
        match (title, description) {
            (None, None) => {}
            (title, description) => {
                translations.insert(
                    l.as_str().into(),
                    json!({"title": title.unwrap_or_default(), "description": description}),
                );
            }
        }
    }
    if form.0.iter().any(|(k, _)| k.starts_with("translations.")) {
        input["translations"] = Value::Object(translations);
    }
    if let Some(v) = form.text("version").and_then(|v| v.parse::<i32>().ok()) {
        input["version"] = json!(v);
    }
    (input, values)
}

/// Where an input error belongs on the form.
fn field_of(path: &str) -> String {
    path.trim_start_matches('.').to_owned()
}

pub async fn save(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Editor).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let lang = c.lang;
    let found = state
        .db
        .run(move |conn| {
            let mut a = crate::db::activities::get(conn, id)?;
            a.localise(lang);
            Ok(a)
        })
        .await;
    let a = match found {
        Ok(a) => a,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let (input, values) = apply(input_of(&a), values_of(&a), &form);
    let t = c.tr();
    c.set_title(format!("{} · {}", t.t("activity.edit"), a.title));
    let mut errors = HashMap::new();
    let parsed: Result<crate::domain::activity::ActivityInput, _> =
        serde_path_to_error::deserialize(input);
    let input = match parsed {
        Ok(i) => i,
        Err(e) => {
            let field = field_of(&e.path().to_string());
            errors.insert(field, e.into_inner().to_string());
            let page = edit_page(
                c,
                Target::Edit(&a),
                values,
                errors,
                Some(t.t("activity.fix_errors").into()),
            );
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page.c, &page);
        }
    };
    let version = input.version.unwrap_or(a.version);
    let reason = form.text("reason");
    let cx = crate::app::Context::new(who.actor(), state.clock.now()).with_reason(reason);
    let result = state
        .db
        .transaction(move |conn| {
            crate::app::records::update::<crate::app::entities::Activities>(
                conn, &cx, id, version, &input,
            )
        })
        .await;
    match result {
        Ok(_) => see_other(&format!("/app/activities/{id}?saved=1")),
        Err(Error::Invalid { field, message }) => {
            errors.insert(field_of(&field), message);
            let page = edit_page(
                c,
                Target::Edit(&a),
                values,
                errors,
                Some(t.t("activity.fix_errors").into()),
            );
            render(StatusCode::UNPROCESSABLE_ENTITY, &page.c, &page)
        }
        Err(Error::VersionMismatch { .. }) => {
            let page = edit_page(
                c,
                Target::Edit(&a),
                values,
                errors,
                Some(t.t("activity.conflict").into()),
            );
            render(StatusCode::CONFLICT, &page.c, &page)
        }
        Err(Error::Forbidden(_)) => page::refused(&state, &req, Refused::Forbidden).await,
        Err(e) => {
            let page = edit_page(c, Target::Edit(&a), values, errors, Some(e.to_string()));
            render(StatusCode::CONFLICT, &page.c, &page)
        }
    }
}

/// Open activities can go back to draft; a draft is one, and what is done,
/// cancelled or failed is history.
fn can_go_back_to_draft(status: ActivityStatus) -> bool {
    matches!(
        status,
        ActivityStatus::Planned | ActivityStatus::Tentative | ActivityStatus::Confirmed
    )
}

/// "Back to draft": the activity's status set to draft, as `PUT
/// /api/v1/activities/{id}` with `"status": "draft"` does, through the same
/// `app::records::update` (editors; the history records it with the reason
/// given). The version posted is the one the page showed: a change in
/// between is a conflict, nothing written.
pub async fn to_draft(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Editor).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let found = state
        .db
        .run(move |conn| crate::db::activities::get(conn, id))
        .await;
    let a = match found {
        Ok(a) => a,
        Err(e) => return page::error_page(&mut c, &e),
    };
    if !can_go_back_to_draft(a.status) {
        return page::message(
            StatusCode::CONFLICT,
            &mut c,
            t.t("error.not_now"),
            t.t("activity.cannot_draft"),
            None,
        );
    }
    let mut input = input_of(&a);
    input["status"] = json!(ActivityStatus::Draft);
    let input: crate::domain::activity::ActivityInput = match serde_json::from_value(input) {
        Ok(i) => i,
        Err(e) => return page::error_page(&mut c, &Error::Internal(anyhow::anyhow!("{e}"))),
    };
    let version = form
        .get("version")
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(a.version);
    let cx =
        crate::app::Context::new(who.actor(), state.clock.now()).with_reason(form.text("reason"));
    let result = state
        .db
        .transaction(move |conn| {
            crate::app::records::update::<crate::app::entities::Activities>(
                conn, &cx, id, version, &input,
            )
        })
        .await;
    match result {
        Ok(_) => see_other(&format!("/app/activities/{id}?saved=draft")),
        Err(Error::VersionMismatch { .. }) => page::message(
            StatusCode::CONFLICT,
            &mut c,
            t.t("error.conflict"),
            t.t("activity.conflict"),
            None,
        ),
        Err(Error::Forbidden(_)) => page::refused(&state, &req, Refused::Forbidden).await,
        Err(e) => page::error_page(&mut c, &e),
    }
}

pub async fn review(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (form, who) = match page::team_post_as(&state, &req, &body, |f| match review_action(f) {
        Some(ReviewAction::Submit) => Role::Editor,
        _ => Role::Approver,
    })
    .await
    {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let action = review_action(&form);
    let id = id.into_inner();
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let Some(action) = action else {
        let t = c.tr();
        return page::message(
            StatusCode::UNPROCESSABLE_ENTITY,
            &mut c,
            t.t("error.invalid"),
            "action",
            None,
        );
    };
    let comment = form.text("comment");
    let four_eyes = state.settings.approval.four_eyes;
    let cx = crate::app::Context::new(who.actor(), state.clock.now());
    let result = state
        .db
        .transaction(move |conn| {
            reviews::act(conn, &cx, Subject::Activity(id), action, comment, four_eyes)
        })
        .await;
    match result {
        Ok(_) => see_other(&format!("/app/activities/{id}?saved=review")),
        Err(e) => page::error_page(&mut c, &e),
    }
}

/// The review action a form asks for (`action`), if it names one.
pub(super) fn review_action(form: &Form) -> Option<ReviewAction> {
    form.get("action").and_then(|a| a.parse().ok())
}

/// The plans a new activity may go in, and the chosen plan's campaigns.
async fn placement(
    state: &State,
    lang: Language,
    plan: Option<i64>,
    campaign: Option<i64>,
) -> crate::Result<(i64, Vec<OwnedChoice>, Vec<OwnedChoice>)> {
    let all = crate::db::PageRequest {
        page: Some(1),
        per_page: Some(500),
    };
    let plans = state
        .db
        .run(move |c| Ok(crate::db::plans::list(c, all)?.items))
        .await?;
    let chosen = plan
        .filter(|p| plans.iter().any(|x| x.id == *p))
        .or(plans.first().map(|p| p.id))
        .ok_or_else(|| Error::NotFound {
            entity: "plan",
            id: plan.map(|p| p.to_string()).unwrap_or_default(),
        })?;
    let campaigns = state
        .db
        .run(move |c| Ok(crate::db::campaigns::list(c, Some(chosen), None, all)?.items))
        .await?;
    Ok((
        chosen,
        plans
            .iter()
            .map(|p| OwnedChoice {
                value: p.id.to_string(),
                label: p.title.clone(),
                selected: p.id == chosen,
            })
            .collect(),
        campaigns
            .iter()
            .map(|k| OwnedChoice {
                value: k.id.to_string(),
                label: crate::domain::language::pick(&k.translations, lang)
                    .map(|(_, tr)| tr.title.clone())
                    .unwrap_or_else(|| k.slug.clone()),
                selected: campaign == Some(k.id),
            })
            .collect(),
    ))
}

/// A new activity's form values: a draft, internal event whose date is to be
/// confirmed, until the form says otherwise.
fn new_values(plan: i64) -> HashMap<String, String> {
    let mut v = HashMap::new();
    for (k, val) in [
        ("kind", ActivityKind::Event.as_str()),
        ("status", ActivityStatus::Draft.as_str()),
        ("visibility", Visibility::Internal.as_str()),
        (
            "timing.precision",
            crate::domain::timing::Precision::Tbc.as_str(),
        ),
    ] {
        v.insert(k.to_owned(), val.to_owned());
    }
    v.insert("plan_id".into(), plan.to_string());
    v
}

/// "New activity" (editors): the edit form, empty.
pub async fn new_form(state: State, req: HttpRequest) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    if !who.role.includes(Role::Editor) {
        return page::refused(&state, &req, Refused::Forbidden).await;
    }
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let plan = super::query(&req, "plan").and_then(|v| v.parse().ok());
    let campaign = super::query(&req, "campaign").and_then(|v| v.parse().ok());
    let (plan, plans, campaigns) = match placement(&state, c.lang, plan, campaign).await {
        Ok(found) => found,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let mut values = new_values(plan);
    if let Some(k) = campaign {
        values.insert("campaign_id".into(), k.to_string());
    }
    c.set_title(c.tr().t("create.title"));
    let page = edit_page(
        c,
        Target::New { plans, campaigns },
        values,
        HashMap::new(),
        None,
    );
    render(StatusCode::OK, &page.c, &page)
}

/// Creates the activity the form describes, through the same operation as
/// `POST /api/v1/activities` (`app::records::create`); an invalid field is
/// shown beside it and nothing is written.
pub async fn create(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Editor).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    c.set_title(t.t("create.title"));
    let plan_asked = form.text("plan_id");
    let plan = plan_asked.as_deref().and_then(|v| v.parse::<i64>().ok());
    let campaign_asked = form.text("campaign_id");
    let campaign = campaign_asked
        .as_deref()
        .and_then(|v| v.parse::<i64>().ok());
    let (plan_id, plans, campaigns) = match placement(&state, c.lang, plan, campaign).await {
        Ok(found) => found,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let mut errors = HashMap::new();
    if plan_asked.is_some() && plan != Some(plan_id) {
        errors.insert("plan_id".to_owned(), t.t("create.unknown_plan").to_owned());
    }
    if campaign_asked.is_some() && !campaigns.iter().any(|k| k.selected) {
        errors.insert(
            "campaign_id".to_owned(),
            t.t("create.unknown_campaign").to_owned(),
        );
    }
    let base = json!({
        "plan_id": plan_id,
        "campaign_id": campaign,
        "kind": ActivityKind::Event,
        "status": ActivityStatus::Draft,
        "visibility": Visibility::Internal,
        "timing": {"precision": "tbc"},
        "translations": {},
    });
    let (input, values) = apply(base, new_values(plan_id), &form);
    let again = |c: Chrome, errors: HashMap<String, String>, status: StatusCode| {
        let page = edit_page(
            c,
            Target::New {
                plans: plans.clone(),
                campaigns: campaigns.clone(),
            },
            values.clone(),
            errors,
            Some(t.t("activity.fix_errors").into()),
        );
        render(status, &page.c, &page)
    };
    if !errors.is_empty() {
        return again(c, errors, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let parsed: Result<crate::domain::activity::ActivityInput, _> =
        serde_path_to_error::deserialize(input);
    let input = match parsed {
        Ok(i) => i,
        Err(e) => {
            errors.insert(field_of(&e.path().to_string()), e.into_inner().to_string());
            return again(c, errors, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let cx =
        crate::app::Context::new(who.actor(), state.clock.now()).with_reason(form.text("reason"));
    let result = state
        .db
        .transaction(move |conn| {
            crate::app::records::create::<crate::app::entities::Activities>(conn, &cx, &input)
        })
        .await;
    match result {
        Ok(created) => see_other(&format!("/app/activities/{}?saved=created", created.id)),
        Err(Error::Invalid { field, message }) => {
            errors.insert(field_of(&field), message);
            again(c, errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(Error::Forbidden(_)) => page::refused(&state, &req, Refused::Forbidden).await,
        Err(e) => page::error_page(&mut c, &e),
    }
}
