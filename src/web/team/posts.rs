//! A social post's variants on its activity page (per channel × language:
//! the text, the content warning, the length as the network counts it
//! against its limit, whether the approval covers it, and what became of
//! it, with the public URL once published), and the forms that add, change
//! and delete one. Writes go through `app::posts::put` / `delete` only, as
//! the API's `PUT` / `DELETE /api/v1/activities/{id}/variants/{channel}/{lang}`.

use super::super::format;
use super::super::i18n::Tr;
use super::super::page::{
    self, Chrome, Form, Refused, State, chrome, render, see_other, signed_in,
};
use crate::app::posts::VariantView;
use crate::domain::activity::{Activity, ActivityKind};
use crate::domain::network::{Network, PublicationState};
use crate::domain::{Language, Role};
use crate::error::Error;
use crate::http::auth::Principal;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use std::collections::HashMap;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/app/activities/{id}/variants",
        web::post().to(save_variant),
    )
    .route(
        "/app/activities/{id}/variants/counts",
        web::post().to(counts),
    )
    .route(
        "/app/activities/{id}/variants/delete",
        web::post().to(delete_variant),
    )
    .route(
        "/app/activities/{id}/variants/{channel}/{lang}",
        web::get().to(edit_variant),
    )
    .route(
        "/app/activities/{id}/variants/{channel}/{lang}/done",
        web::get().to(done_form),
    )
    .route(
        "/app/activities/{id}/variants/{channel}/{lang}/done",
        web::post().to(mark_done),
    );
}

/// One variant as the activity page lists it.
pub struct VariantRow {
    pub channel_id: i64,
    pub channel: String,
    pub network: &'static str,
    pub lang: &'static str,
    pub lang_name: &'static str,
    pub body: String,
    pub content_warning: Option<String>,
    /// "87 / 120", when the channel's network counts it.
    pub length: Option<String>,
    pub fits: bool,
    /// Why it cannot be approved as it stands.
    pub problem: Option<String>,
    pub approved: bool,
    pub publication: Option<&'static str>,
    pub publication_class: &'static str,
    pub url: Option<String>,
    pub reason: Option<String>,
    pub edit: String,
    /// A manual variant waiting for its owner: the page to say where it was
    /// posted (as the emailed link does).
    pub mark_done: Option<String>,
}

/// The section of the activity page (social posts only).
pub struct PostsSection {
    pub activity_id: i64,
    pub variants: Vec<VariantRow>,
    /// The activity's channels a variant may be written for.
    pub channels: Vec<(i64, String)>,
    pub langs: Vec<(&'static str, &'static str)>,
    pub can_edit: bool,
    pub can_delete: bool,
}

pub fn network_label(t: &Tr, n: Option<Network>) -> &'static str {
    match n {
        Some(Network::Mastodon) => "Mastodon",
        Some(Network::Bluesky) => "Bluesky",
        Some(Network::Webhook) => t.t("posts.network_webhook"),
        Some(Network::Manual) => t.t("posts.network_manual"),
        None => t.t("posts.no_account"),
    }
}

fn publication_label(t: &Tr, s: PublicationState) -> (&'static str, &'static str) {
    match s {
        PublicationState::Queued => (t.t("posts.state_queued"), "tentative"),
        PublicationState::Published => (t.t("posts.state_published"), "confirmed"),
        PublicationState::Failed => (t.t("posts.state_failed"), "failed"),
        PublicationState::Unknown => (t.t("posts.state_unknown"), "failed"),
        PublicationState::AwaitingOwner => (t.t("posts.state_awaiting_owner"), "tentative"),
    }
}

fn langs(t: &Tr) -> Vec<(&'static str, &'static str)> {
    Language::ALL
        .iter()
        .map(|l| (l.as_str(), format::lang_name(t, *l)))
        .collect()
}

fn row(t: &Tr, activity_id: i64, names: &[(i64, String)], v: &VariantView) -> VariantRow {
    let (publication, publication_class) = match &v.publication {
        Some(p) => {
            let (label, class) = publication_label(t, p.state);
            (Some(label), class)
        }
        None => (None, ""),
    };
    VariantRow {
        channel_id: v.channel_id,
        channel: names
            .iter()
            .find(|(id, _)| *id == v.channel_id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| format!("#{}", v.channel_id)),
        network: network_label(t, v.network),
        lang: v.lang.as_str(),
        lang_name: format::lang_name(t, v.lang),
        body: v.body.clone(),
        content_warning: v.content_warning.clone(),
        length: v
            .length
            .zip(v.max_length)
            .map(|(l, m)| format!("{l} / {m}")),
        fits: v.problem.is_none(),
        problem: v.problem.clone(),
        approved: v.approved,
        publication,
        publication_class,
        url: v.publication.as_ref().and_then(|p| p.url.clone()),
        reason: v.publication.as_ref().and_then(|p| p.reason.clone()),
        edit: format!(
            "/app/activities/{activity_id}/variants/{}/{}",
            v.channel_id,
            v.lang.as_str()
        ),
        mark_done: v
            .publication
            .as_ref()
            .filter(|p| p.state == PublicationState::AwaitingOwner)
            .map(|_| {
                format!(
                    "/app/activities/{activity_id}/variants/{}/{}/done",
                    v.channel_id,
                    v.lang.as_str()
                )
            }),
    }
}

/// The activity page's section for a social post (None for other kinds):
/// its variants through `app::posts::list`, as the API's `GET …/variants`.
pub async fn section(
    state: &State,
    who: &Principal,
    t: &Tr,
    activity: &Activity,
    channel_names: &[String],
) -> crate::Result<Option<PostsSection>> {
    if activity.kind != ActivityKind::SocialPost {
        return Ok(None);
    }
    let id = activity.id;
    let now = state.clock.now();
    // The Mastodon instances' limits, read once a day (as a variant's PUT
    // does): without them no length can be given. A failure only means the
    // section says the limits are not known yet.
    if let Ok(outbound) = crate::app::posts::outbound(&state.settings)
        && let Err(e) = crate::app::posts::warm_limits(&state.db, &outbound, id, None, now).await
    {
        tracing::warn!(error = %e, activity = id, "could not read the instances' limits");
    }
    let cx = crate::app::Context::new(who.actor(), now);
    let views = state
        .db
        .run(move |c| crate::app::posts::list(c, &cx, id))
        .await?;
    let channels: Vec<(i64, String)> = activity
        .channel_ids
        .iter()
        .copied()
        .zip(channel_names.iter().cloned())
        .collect();
    Ok(Some(PostsSection {
        activity_id: id,
        variants: views.iter().map(|v| row(t, id, &channels, v)).collect(),
        channels,
        langs: langs(t),
        can_edit: who.role.includes(Role::Editor),
        can_delete: who.role.includes(Role::Admin),
    }))
}

/// One part of the variant's text in the form (1 is the post itself, the
/// next ones its replies), with its length as the network counts it.
pub struct PartField {
    pub n: usize,
    pub body: String,
    /// "87 / 120", when the channel's network counts it.
    pub count: Option<String>,
    pub over: bool,
    pub error: Option<String>,
}

impl PartField {
    /// The textarea's id (part 1 keeps the single post's).
    pub fn id(&self) -> String {
        if self.n == 1 {
            "variant-body".to_owned()
        } else {
            format!("variant-part-{}", self.n)
        }
    }
}

/// An image in the form: stored (by its SHA-256) or uploaded by an earlier
/// post-back of this form and not saved yet (its bytes carried along).
#[derive(Clone)]
struct Image {
    reference: String,
    mime_type: String,
    alt: String,
    part: i32,
}

/// An image as the form lists it, its alt text editable.
pub struct ImageField {
    pub k: usize,
    pub reference: String,
    pub mime_type: String,
    pub alt: String,
    pub part: i32,
    pub error: Option<String>,
}

/// The variant form on its own page: to change one, or a posted one again
/// with its error beside the field.
#[derive(askama::Template)]
#[template(path = "team/variant_form.html")]
pub struct VariantForm {
    pub c: Chrome,
    pub activity_id: i64,
    pub activity_title: String,
    pub channels: Vec<(i64, String, bool)>,
    pub langs: Vec<(&'static str, &'static str, bool)>,
    pub content_warning: String,
    pub parts: Vec<PartField>,
    pub can_add_part: bool,
    pub images: Vec<ImageField>,
    /// The parts an image may go with (1..=parts).
    pub part_numbers: Vec<usize>,
    pub new_alt: String,
    pub errors: HashMap<String, String>,
    pub general_error: Option<String>,
}

impl VariantForm {
    pub fn err(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(|s| s.as_str())
    }
}

/// The counts beside each part, swapped in by htmx as one types.
#[derive(askama::Template)]
#[template(path = "team/_variant_counts.html")]
pub struct VariantCounts {
    pub c: Chrome,
    pub parts: Vec<PartField>,
}

struct Values {
    channel_id: Option<i64>,
    lang: String,
    content_warning: String,
    /// Part 1 (`body`) and the thread's parts after it, in order.
    parts: Vec<String>,
    images: Vec<Image>,
    new_alt: String,
}

impl Values {
    fn from_form(form: &Form) -> Values {
        let mut parts = vec![form.get("body").unwrap_or_default().to_owned()];
        parts.extend(form.all("part").into_iter().map(str::to_owned));
        let refs = form.all("img_ref");
        let mimes = form.all("img_mime");
        let alts = form.all("img_alt");
        let numbers = form.all("img_part");
        let images = refs
            .iter()
            .enumerate()
            .map(|(k, r)| Image {
                reference: (*r).to_owned(),
                mime_type: mimes.get(k).copied().unwrap_or_default().to_owned(),
                alt: alts.get(k).copied().unwrap_or_default().to_owned(),
                part: numbers.get(k).and_then(|p| p.parse().ok()).unwrap_or(1),
            })
            .collect();
        Values {
            channel_id: form.get("channel_id").and_then(|v| v.parse().ok()),
            lang: form.get("lang").unwrap_or_default().to_owned(),
            content_warning: form.get("content_warning").unwrap_or_default().to_owned(),
            parts,
            images,
            new_alt: form.get("image_alt").unwrap_or_default().to_owned(),
        }
    }

    fn warning(&self) -> Option<&str> {
        Some(self.content_warning.trim()).filter(|w| !w.is_empty())
    }
}

async fn activity_and_channels(
    state: &State,
    id: i64,
    lang: Language,
) -> crate::Result<(Activity, Vec<(i64, String)>)> {
    state
        .db
        .run(move |conn| {
            let mut a = crate::db::activities::get(conn, id)?;
            a.localise(lang);
            let mut channels = Vec::new();
            for ch in &a.channel_ids {
                channels.push((*ch, crate::db::channels::get(conn, *ch)?.name));
            }
            Ok((a, channels))
        })
        .await
}

/// The activity, its channels and one of its variants as `app::posts::list`
/// shows it (as the API's `GET …/variants`); not found when it has none for
/// `channel` in `lang`.
async fn activity_and_variant(
    state: &State,
    who: &Principal,
    (id, channel, lang): (i64, i64, &str),
    view_lang: Language,
) -> crate::Result<(Activity, Vec<(i64, String)>, VariantView)> {
    let (a, channels) = activity_and_channels(state, id, view_lang).await?;
    let cx = crate::app::Context::new(who.actor(), state.clock.now());
    let views = state
        .db
        .run(move |conn| crate::app::posts::list(conn, &cx, id))
        .await?;
    let v = views
        .into_iter()
        .find(|v| v.channel_id == channel && v.lang.as_str() == lang)
        .ok_or_else(|| Error::not_found("post variant", format!("{channel}/{lang}")))?;
    Ok((a, channels, v))
}

/// The parts with their counts through `app::posts::part_lengths` (the
/// network's counting, on the server), and errors beside them.
async fn part_fields(
    state: &State,
    who: &Principal,
    v: &Values,
    errors: &HashMap<String, String>,
) -> Vec<PartField> {
    let lengths = match v.channel_id {
        Some(channel) => {
            let cx = crate::app::Context::new(who.actor(), state.clock.now());
            let warning = v.warning().map(str::to_owned);
            let parts = v.parts.clone();
            state
                .db
                .run(move |conn| {
                    crate::app::posts::part_lengths(conn, &cx, channel, warning.as_deref(), &parts)
                })
                .await
                .ok()
                .flatten()
        }
        None => None,
    };
    v.parts
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let n = i + 1;
            let measured = lengths
                .as_ref()
                .and_then(|(l, max)| l.get(i).map(|l| (*l, *max)));
            PartField {
                n,
                body: body.clone(),
                count: measured.map(|(l, m)| format!("{l} / {m}")),
                over: measured.is_some_and(|(l, m)| l > m),
                error: errors.get(&part_key(n)).cloned(),
            }
        })
        .collect()
}

/// The key of a part's error: `body` for the first, `part-{n}` after it.
fn part_key(n: usize) -> String {
    if n == 1 {
        "body".to_owned()
    } else {
        format!("part-{n}")
    }
}

async fn form_page(
    state: &State,
    who: &Principal,
    mut c: Chrome,
    (a, channels): (&Activity, &[(i64, String)]),
    v: &Values,
    errors: HashMap<String, String>,
    general_error: Option<String>,
) -> VariantForm {
    let t = c.tr();
    c.set_title(format!("{} · {}", t.t("posts.edit_title"), a.title));
    let parts = part_fields(state, who, v, &errors).await;
    VariantForm {
        activity_id: a.id,
        activity_title: a.title.clone(),
        channels: channels
            .iter()
            .map(|(id, n)| (*id, n.clone(), Some(*id) == v.channel_id))
            .collect(),
        langs: langs(&t)
            .into_iter()
            .map(|(code, name)| (code, name, code == v.lang))
            .collect(),
        content_warning: v.content_warning.clone(),
        can_add_part: v.parts.len() <= crate::domain::activity::MAX_THREAD_PARTS,
        part_numbers: (1..=v.parts.len()).collect(),
        images: v
            .images
            .iter()
            .enumerate()
            .map(|(k, i)| ImageField {
                k,
                reference: i.reference.clone(),
                mime_type: i.mime_type.clone(),
                alt: i.alt.clone(),
                part: i.part,
                error: errors.get(&format!("img-{k}")).cloned(),
            })
            .collect(),
        new_alt: v.new_alt.clone(),
        parts,
        errors,
        general_error,
        c,
    }
}

/// `GET /app/activities/{id}/variants/{channel}/{lang}`: the form to change
/// a variant (editors), its text, thread and images as stored.
pub async fn edit_variant(
    state: State,
    req: HttpRequest,
    path: web::Path<(i64, i64, String)>,
) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return page::to_sign_in(&req);
    };
    if !who.role.includes(Role::Editor) {
        return page::refused(&state, &req, Refused::Forbidden).await;
    }
    let (id, channel, lang) = path.into_inner();
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let (a, channels, v) =
        match activity_and_variant(&state, &who, (id, channel, &lang), c.lang).await {
            Ok(found) => found,
            Err(e) => return page::error_page(&mut c, &e),
        };
    let mut parts = vec![v.body.clone()];
    parts.extend(v.thread.iter().map(|p| p.body.clone()));
    let values = Values {
        channel_id: Some(channel),
        lang: lang.clone(),
        content_warning: v.content_warning.clone().unwrap_or_default(),
        parts,
        images: v
            .media
            .iter()
            .map(|m| Image {
                reference: format!("sha:{}", m.sha256),
                mime_type: m.mime_type.clone(),
                alt: m.alt.clone(),
                part: m.part,
            })
            .collect(),
        new_alt: String::new(),
    };
    let mut errors = HashMap::new();
    if let Some(p) = &v.problem {
        errors.insert("body".to_owned(), p.clone());
    }
    let page = form_page(&state, &who, c, (&a, &channels), &values, errors, None).await;
    render(StatusCode::OK, &page.c, &page)
}

/// The field of the form an error of `app::posts::put` is about (`thread[j]`
/// is part j + 2, `media[k]` the k-th image listed).
fn field_of(field: &str) -> String {
    let f = field.trim_start_matches('.');
    let index = |prefix: &str| {
        f.strip_prefix(prefix)
            .and_then(|rest| rest.split(']').next())
            .and_then(|n| n.parse::<usize>().ok())
    };
    if let Some(j) = index("thread[") {
        return part_key(j + 2);
    }
    if let Some(k) = index("media[") {
        return format!("img-{k}");
    }
    match f {
        "channel_id" | "activity" => "channel_id".to_owned(),
        "thread" => "thread".to_owned(),
        "media" => "media".to_owned(),
        f if f.starts_with("content_warning") => "content_warning".to_owned(),
        f if f.starts_with("lang") => "lang".to_owned(),
        _ => "body".to_owned(),
    }
}

/// What a post of the variant form asks: save it, or change the form and
/// show it again (nothing saved).
enum Op {
    Save,
    AddPart,
    /// Part n (2 and after).
    RemovePart(usize),
    /// The k-th image listed.
    RemoveImage(usize),
    /// Attach the image chosen, and show the form again.
    Attach,
}

impl Op {
    fn of(form: &Form) -> Op {
        let op = form.get("op").unwrap_or_default();
        if op == "add_part" {
            Op::AddPart
        } else if op == "attach" {
            Op::Attach
        } else if let Some(n) = op.strip_prefix("remove_part-").and_then(|n| n.parse().ok()) {
            Op::RemovePart(n)
        } else if let Some(k) = op
            .strip_prefix("remove_image-")
            .and_then(|k| k.parse().ok())
        {
            Op::RemoveImage(k)
        } else {
            Op::Save
        }
    }
}

/// The variant form's body limit: the server's (the API's), plus room for
/// a new image a little past `social.max_image_bytes` (so that one too
/// large is refused beside its field, the form kept) and for images carried
/// along in base64 by earlier post-backs.
pub fn form_limit(settings: &crate::config::Settings) -> usize {
    settings
        .server
        .body_limit_bytes
        .saturating_add(settings.social.max_image_bytes.saturating_mul(4))
}

/// Reads a team form that may upload an image, up to `limit` bytes: its
/// fields and files, or the refusal.
async fn read_upload(
    state: &State,
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<(super::super::multipart::Upload, Principal), HttpResponse> {
    use super::super::multipart;
    let body = match multipart::read_body(payload, limit).await {
        Ok(body) => body,
        Err(multipart::Unreadable::TooLarge) => {
            let who = crate::http::auth::from_session_cookie(state, req).await;
            let mut c = chrome(state, req, who.as_ref(), None).await;
            return Err(page::error_page(
                &mut c,
                &Error::invalid("image", format!("at most {limit} bytes per form")),
            ));
        }
        Err(multipart::Unreadable::Malformed) => Vec::new(),
    };
    page::team_upload(state, req, &body, Role::Editor).await
}

/// `POST /app/activities/{id}/variants` (editors): "Add a part", "Remove
/// this part", "Remove" (an image) and "Attach" show the form again changed,
/// nothing saved; "Save" writes the variant for the channel and language
/// posted through `app::posts::put` (its text, thread and images, as the
/// API's `PUT`), after reading the Mastodon instance's limits as the API
/// does; too long (or anything else invalid, an image without alt text) is
/// the form again with the message beside its field and nothing written.
pub async fn save_variant(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    payload: web::Payload,
) -> HttpResponse {
    let limit = form_limit(&state.settings);
    let (upload, who) = match read_upload(&state, &req, payload, limit).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let form = &upload.form;
    let id = id.into_inner();
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let (a, channels) = match activity_and_channels(&state, id, c.lang).await {
        Ok(found) => found,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let mut values = Values::from_form(form);
    // An image past `social.max_image_bytes`: refused beside its field,
    // whatever the button; the form again, nothing written.
    let max = state.settings.social.max_image_bytes;
    if let Some(file) = upload.file("image").filter(|f| f.data.len() > max) {
        let mut errors = HashMap::new();
        errors.insert(
            "image".to_owned(),
            t.t("posts.image_too_large")
                .replace("{size}", &file.data.len().to_string())
                .replace("{max}", &max.to_string()),
        );
        let page = form_page(&state, &who, c, (&a, &channels), &values, errors, None).await;
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page.c, &page);
    }
    // An image chosen joins the list whatever the button (so no post-back
    // loses it), its bytes carried until the variant is saved.
    if let Some(file) = upload.file("image") {
        let part = form
            .get("image_part")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        values.images.push(Image {
            reference: format!(
                "data:{}",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &file.data)
            ),
            // From its first bytes (a browser's Content-Type is not kept);
            // unknown: left for `app::posts::put` to refuse.
            mime_type: crate::social::image::sniff(&file.data)
                .map_or(
                    "application/octet-stream",
                    crate::social::image::Kind::mime_type,
                )
                .to_owned(),
            alt: values.new_alt.trim().to_owned(),
            part,
        });
        values.new_alt.clear();
    }
    let mut errors = HashMap::new();
    match Op::of(form) {
        Op::Save => {}
        op => {
            match op {
                Op::AddPart => values.parts.push(String::new()),
                Op::RemovePart(n) if n >= 2 && n <= values.parts.len() => {
                    values.parts.remove(n - 1);
                    // Its images go with it; the later parts' move up.
                    values.images.retain(|i| i.part as usize != n);
                    for i in &mut values.images {
                        if i.part as usize > n {
                            i.part -= 1;
                        }
                    }
                }
                Op::RemoveImage(k) if k < values.images.len() => {
                    values.images.remove(k);
                }
                _ => {}
            }
            let page = form_page(&state, &who, c, (&a, &channels), &values, errors, None).await;
            return render(StatusCode::OK, &page.c, &page);
        }
    }
    let Some(channel) = values.channel_id else {
        errors.insert("channel_id".to_owned(), t.t("posts.choose_channel").into());
        let page = form_page(&state, &who, c, (&a, &channels), &values, errors, None).await;
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page.c, &page);
    };
    let now = state.clock.now();
    let result = async {
        let outbound = crate::app::posts::outbound(&state.settings)?;
        crate::app::posts::warm_limits(&state.db, &outbound, id, Some(channel), now).await?;
        let cx = crate::app::Context::new(who.actor(), now);
        let lang = values.lang.clone();
        let parts = values.parts.clone();
        let warning = values.warning().map(str::to_owned);
        let images = values.images.clone();
        state
            .db
            .transaction(move |conn| {
                let media = media_input(conn, (id, channel, &lang), &images)?;
                let input = serde_json::json!({
                    "body": parts[0],
                    "content_warning": warning,
                    "thread": parts[1..].iter().map(|b| serde_json::json!({"body": b})).collect::<Vec<_>>(),
                    "media": media,
                });
                let input: crate::app::posts::VariantInput =
                    serde_path_to_error::deserialize(input).map_err(|e| {
                        Error::invalid(e.path().to_string(), e.into_inner().to_string())
                    })?;
                crate::app::posts::put(conn, &cx, id, channel, &lang, &input)
            })
            .await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/app/activities/{id}?saved=variant#posts")),
        Err(Error::Invalid { field, message }) => {
            errors.insert(field_of(&field), message);
            let page = form_page(&state, &who, c, (&a, &channels), &values, errors, None).await;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page.c, &page)
        }
        Err(Error::Forbidden(_)) => page::refused(&state, &req, Refused::Forbidden).await,
        Err(Error::NotFound { .. }) => page::error_page(&mut c, &Error::not_found("activity", id)),
        Err(e @ (Error::Blocked { .. } | Error::Conflict(_) | Error::VersionMismatch { .. })) => {
            let page = form_page(
                &state,
                &who,
                c,
                (&a, &channels),
                &values,
                errors,
                Some(e.to_string()),
            )
            .await;
            render(StatusCode::CONFLICT, &page.c, &page)
        }
        Err(e) => page::error_page(&mut c, &e),
    }
}

/// The images as `app::posts::put` takes them (`media`, base64 bytes), or
/// `null` (left as they are) when the form lists exactly the stored ones.
fn media_input(
    conn: &mut crate::db::DbConnection,
    (id, channel, lang): (i64, i64, &str),
    images: &[Image],
) -> crate::Result<serde_json::Value> {
    use base64::Engine;
    let stored = crate::db::posts::variant_media(conn, id, channel, lang)?;
    let unchanged = stored.len() == images.len()
        && stored.iter().zip(images).all(|(s, i)| {
            i.reference == format!("sha:{}", s.sha256) && s.alt == i.alt && s.part + 1 == i.part
        });
    if unchanged {
        return Ok(serde_json::Value::Null);
    }
    let mut out = Vec::new();
    for (k, i) in images.iter().enumerate() {
        let data = if let Some(sha) = i.reference.strip_prefix("sha:") {
            let bytes = match stored.iter().find(|s| s.sha256 == sha) {
                Some(s) => crate::db::posts::media_data(conn, s.id)?,
                None => None,
            };
            let bytes = bytes.ok_or_else(|| {
                Error::invalid(
                    format!("media[{k}].data"),
                    "no longer stored: attach it again",
                )
            })?;
            base64::engine::general_purpose::STANDARD.encode(bytes)
        } else {
            i.reference
                .strip_prefix("data:")
                .unwrap_or_default()
                .to_owned()
        };
        out.push(serde_json::json!({
            "part": i.part,
            "mime_type": i.mime_type,
            "data": data,
            "alt": i.alt.trim(),
        }));
    }
    Ok(serde_json::Value::Array(out))
}

/// `POST /app/activities/{id}/variants/counts` (editors; htmx as one types):
/// each part's length against the network's limit, counted on the server as
/// the form shows them on every post-back.
pub async fn counts(state: State, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    // The counts carry no image (htmx leaves them out): the server's limit.
    let limit = state.settings.server.body_limit_bytes;
    let (upload, who) = match read_upload(&state, &req, payload, limit).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let values = Values::from_form(&upload.form);
    let c = chrome(&state, &req, Some(&who), None).await;
    let page = VariantCounts {
        parts: part_fields(&state, &who, &values, &HashMap::new()).await,
        c,
    };
    render(StatusCode::OK, &page.c, &page)
}

/// `POST /app/activities/{id}/variants/delete` (administrators, as the
/// API's `DELETE`): removes the variant posted (`channel_id`, `lang`).
pub async fn delete_variant(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let id = id.into_inner();
    let acted = page::act(&state, &req, &body, Role::Admin, |form, cx| {
        let channel = form
            .get("channel_id")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or_default();
        let lang = form.get("lang").unwrap_or_default().to_owned();
        move |conn: &mut crate::db::DbConnection| {
            crate::app::posts::delete(conn, &cx, id, channel, &lang)
        }
    })
    .await;
    match acted {
        Ok(acted) => {
            acted
                .redirect_or_refused(&state, &req, |()| {
                    format!("/app/activities/{id}?saved=variant_deleted#posts")
                })
                .await
        }
        Err(refusal) => refusal,
    }
}

/// The "where was it posted" form of a manual variant waiting for its owner,
/// for a team member (the same page as the emailed link's, in the team's
/// chrome); `error`: the address was refused, shown beside it.
async fn done_page(
    state: &State,
    req: &HttpRequest,
    who: &Principal,
    (id, channel, lang): (i64, i64, &str),
    url: &str,
    error: bool,
) -> HttpResponse {
    let mut c = chrome(state, req, Some(who), None).await;
    let found = activity_and_variant(state, who, (id, channel, lang), c.lang).await;
    let (a, channels, v) = match found {
        Ok((_, _, v))
            if v.publication.as_ref().map(|p| p.state) != Some(PublicationState::AwaitingOwner) =>
        {
            return page::error_page(
                &mut c,
                &Error::not_found(
                    "post variant awaiting its owner",
                    format!("{channel}/{lang}"),
                ),
            );
        }
        Ok(found) => found,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let t = c.tr();
    c.set_title(format!("{} · {}", t.t("manual.page_title"), a.title));
    let channel_name = channels
        .iter()
        .find(|(ch, _)| *ch == channel)
        .map(|(_, n)| n.clone())
        .unwrap_or_default();
    let intro = t
        .t("manual.page_intro")
        .replace("{title}", &a.title)
        .replace("{channel}", &channel_name)
        .replace("{language}", format::lang_name(&t, v.lang));
    let page = super::super::manual::DonePage {
        action: format!("/app/activities/{id}/variants/{channel}/{lang}/done"),
        intro,
        text: v.body,
        url: url.to_owned(),
        error: error.then(|| t.t("manual.error_url").to_owned()),
        c,
    };
    let status = if error {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(status, &page.c, &page)
}

/// `GET /app/activities/{id}/variants/{channel}/{lang}/done` (editors).
pub async fn done_form(
    state: State,
    req: HttpRequest,
    path: web::Path<(i64, i64, String)>,
) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return page::to_sign_in(&req);
    };
    if !who.role.includes(Role::Editor) {
        return page::refused(&state, &req, Refused::Forbidden).await;
    }
    let (id, channel, lang) = path.into_inner();
    done_page(&state, &req, &who, (id, channel, &lang), "", false).await
}

/// `POST /app/activities/{id}/variants/{channel}/{lang}/done` (editors):
/// `app::posts::mark_done`, as the API's `…/done`; an address that is not
/// http(s) is the form again with the message beside it, nothing written.
pub async fn mark_done(
    state: State,
    req: HttpRequest,
    path: web::Path<(i64, i64, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Editor).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let (id, channel, lang) = path.into_inner();
    let url = form.get("url").unwrap_or_default().trim().to_owned();
    let input = crate::app::posts::DoneInput {
        url: (!url.is_empty()).then(|| url.clone()),
    };
    let cx = crate::app::Context::new(who.actor(), state.clock.now());
    let variant_lang = lang.clone();
    let result = state
        .db
        .transaction(move |conn| {
            crate::app::posts::mark_done(conn, &cx, id, channel, &variant_lang, &input)
        })
        .await;
    match result {
        Ok(_) => see_other(&format!("/app/activities/{id}?saved=variant_posted#posts")),
        Err(Error::Invalid { .. }) => {
            done_page(&state, &req, &who, (id, channel, &lang), &url, true).await
        }
        Err(Error::Forbidden(_)) => page::refused(&state, &req, Refused::Forbidden).await,
        Err(e) => {
            let mut c = chrome(&state, &req, Some(&who), None).await;
            page::error_page(&mut c, &e)
        }
    }
}
