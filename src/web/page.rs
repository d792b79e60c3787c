//! What every page shares: the language, the signed-in person, the CSRF
//! token, the headers (a strict Content-Security-Policy: scripts and styles
//! only from this service, no inline script), and the error pages.

use super::assets;
use super::csrf;
use super::i18n::{self, Tr};
use crate::domain::{Language, Role};
use crate::http::AppState;
use crate::http::auth::{self, Principal};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

/// The policy of the web interface: everything from this service only,
/// scripts only as files (no inline script, no eval), no framing.
pub const WEB_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The policy of the public newsletter pages: no script at all.
pub const NO_SCRIPT_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub type State = web::Data<AppState>;

#[derive(Debug, Clone)]
pub struct LangLink {
    pub code: &'static str,
    pub name: &'static str,
    pub href: String,
    pub current: bool,
}

#[derive(Debug, Clone)]
pub struct UserView {
    pub name: String,
    pub role: Role,
    pub role_label: &'static str,
}

pub fn role_label(t: &Tr, role: Role) -> &'static str {
    match role {
        Role::Viewer => t.t("role.viewer"),
        Role::Editor => t.t("role.editor"),
        Role::Approver => t.t("role.approver"),
        Role::Admin => t.t("role.admin"),
    }
}

/// The frame of every page (base.html).
pub struct Chrome {
    pub t: Tr,
    pub lang: Language,
    pub title: String,
    pub user: Option<UserView>,
    pub csrf: String,
    pub langs: Vec<LangLink>,
    pub css: &'static str,
    pub js: &'static str,
    pub htmx: &'static str,
    pub license: &'static str,
    pub htmx_version: &'static str,
    /// Team pages show the team's navigation.
    pub team: bool,
    pub scripts: bool,
    cookies: Vec<String>,
}

impl Chrome {
    pub fn tr(&self) -> Tr {
        self.t
    }

    pub fn can_edit(&self) -> bool {
        self.user
            .as_ref()
            .is_some_and(|u| u.role.includes(Role::Editor))
    }

    pub fn can_approve(&self) -> bool {
        self.user
            .as_ref()
            .is_some_and(|u| u.role.includes(Role::Approver))
    }

    pub fn is_admin(&self) -> bool {
        self.user
            .as_ref()
            .is_some_and(|u| u.role.includes(Role::Admin))
    }

    pub fn set_title(&mut self, title: impl Into<String>) {
        self.title = title.into();
    }

    pub fn add_cookie(&mut self, cookie: String) {
        self.cookies.push(cookie);
    }
}

/// The frame for a page, in the language the request asks for (or the
/// account's, or `forced`'s: a subscriber's own language).
pub async fn chrome(
    state: &State,
    req: &HttpRequest,
    who: Option<&Principal>,
    forced: Option<Language>,
) -> Chrome {
    let account_lang = match (forced, who) {
        (Some(l), _) => Some(l),
        (None, Some(p)) => {
            let id = p.account_id();
            state
                .db
                .run(move |c| crate::db::accounts::find(c, id))
                .await
                .ok()
                .flatten()
                .map(|a| a.language)
        }
        (None, None) => None,
    };
    let (lang, lang_cookie) = if forced.is_some() {
        // A subscriber's page follows the switch, else their own language.
        let (l, cookie) = i18n::choose(req, None);
        let switched =
            url::form_urlencoded::parse(req.query_string().as_bytes()).any(|(k, _)| k == "lang");
        if switched {
            (l, cookie)
        } else {
            (forced.unwrap_or(l), None)
        }
    } else {
        i18n::choose(req, account_lang)
    };
    let t = Tr::new(lang);
    let (csrf, csrf_cookie) = csrf::token(req);
    let secure = state.settings.server.public_url.starts_with("https://");
    let mut cookies = Vec::new();
    cookies.extend(lang_cookie);
    cookies.extend(csrf_cookie.map(|v| csrf::cookie_header(&v, secure)));
    Chrome {
        t,
        lang,
        title: String::new(),
        user: who.map(|p| UserView {
            name: p.name.clone(),
            role: p.role,
            role_label: role_label(&t, p.role),
        }),
        csrf,
        langs: lang_links(req, lang, &t),
        css: assets::url("css"),
        js: assets::url("js"),
        htmx: assets::url("htmx"),
        license: assets::url("license"),
        htmx_version: assets::HTMX_VERSION,
        team: who.is_some(),
        scripts: true,
        cookies,
    }
}

fn lang_links(req: &HttpRequest, current: Language, t: &Tr) -> Vec<LangLink> {
    let others: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k != "lang")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Language::ALL
        .iter()
        .map(|l| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &others {
                q.append_pair(k, v);
            }
            q.append_pair("lang", l.as_str());
            LangLink {
                code: l.as_str(),
                name: super::format::lang_name(t, *l),
                href: format!("{}?{}", req.path(), q.finish()),
                current: *l == current,
            }
        })
        .collect()
}

/// An HTML answer with the web interface's headers.
pub fn html(status: StatusCode, chrome: &Chrome, body: String) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            if chrome.scripts {
                WEB_POLICY
            } else {
                NO_SCRIPT_POLICY
            },
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        // Page URLs can carry a secret (a newsletter link's token): never sent on.
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::VARY, "Cookie, Accept-Language"));
    if !chrome.scripts {
        res.insert_header(("X-Robots-Tag", "noindex"));
    }
    for cookie in &chrome.cookies {
        res.append_header((header::SET_COOKIE, cookie.as_str()));
    }
    res.body(body)
}

/// Renders a template into a page; a template that fails to render is a 500.
pub fn render<T: askama::Template>(status: StatusCode, chrome: &Chrome, page: &T) -> HttpResponse {
    match page.render() {
        Ok(body) => html(status, chrome, body),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("internal error")
        }
    }
}

#[derive(askama::Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub c: &'a Chrome,
    pub heading: String,
    pub text: String,
    pub link: Option<(String, String)>,
}

/// A page with a heading and a sentence: errors, confirmations.
pub fn message(
    status: StatusCode,
    chrome: &mut Chrome,
    heading: &str,
    text: &str,
    link: Option<(String, String)>,
) -> HttpResponse {
    chrome.set_title(heading);
    let page = MessagePage {
        c: chrome,
        heading: heading.to_owned(),
        text: text.to_owned(),
        link,
    };
    render(status, chrome, &page)
}

/// A 303 to `to` (after a form, or to the sign-in page).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The sign-in page, coming back to this page afterwards.
pub fn to_sign_in(req: &HttpRequest) -> HttpResponse {
    let next: String = url::form_urlencoded::byte_serialize(
        format!(
            "{}{}{}",
            req.path(),
            if req.query_string().is_empty() {
                ""
            } else {
                "?"
            },
            req.query_string()
        )
        .as_bytes(),
    )
    .collect();
    see_other(&format!("/app/sign-in?next={next}"))
}

/// The signed-in person of a page (GET): the middleware's principal.
pub fn signed_in(req: &HttpRequest) -> Option<Principal> {
    auth::current(req)
}

/// A posted form, parsed: repeated keys kept in order.
#[derive(Debug, Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value, trimmed, or None when empty.
    pub fn text(&self, key: &str) -> Option<String> {
        self.get(key)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Why a form was refused before it was read.
pub enum Refused {
    /// No or a wrong CSRF token, or another site's Origin.
    Csrf,
    /// Not signed in.
    SignedOut,
    /// Signed in without the role.
    Forbidden,
}

/// Checks a team form: CSRF token first, then the session, then the role.
async fn team_form(
    state: &State,
    req: &HttpRequest,
    form: &Form,
    role: Role,
) -> Result<Principal, Refused> {
    if !csrf::verify(state, req, form.get(csrf::FIELD)) {
        return Err(Refused::Csrf);
    }
    let who = auth::from_session_cookie(state, req)
        .await
        .ok_or(Refused::SignedOut)?;
    if who.role.includes(role) {
        Ok(who)
    } else {
        Err(Refused::Forbidden)
    }
}

/// A team form posted to a handler, parsed and checked (CSRF token, session,
/// role): the form and who sent it, or the answer refusing it (403 page, or
/// the sign-in page). Every team POST handler starts with this.
pub async fn team_post(
    state: &State,
    req: &HttpRequest,
    body: &[u8],
    role: Role,
) -> Result<(Form, Principal), HttpResponse> {
    team_post_as(state, req, body, |_| role).await
}

/// As [`team_post`], when the role needed depends on what was posted (a
/// review action: submitting needs an editor, approving an approver).
pub async fn team_post_as(
    state: &State,
    req: &HttpRequest,
    body: &[u8],
    role_of: impl FnOnce(&Form) -> Role,
) -> Result<(Form, Principal), HttpResponse> {
    let form = Form::parse(body);
    let role = role_of(&form);
    match team_form(state, req, &form, role).await {
        Ok(who) => Ok((form, who)),
        Err(why) => Err(refused(state, req, why).await),
    }
}

/// A team form acted on by [`act`]: what was posted, who posted it, the
/// page's chrome (for the form again or an error page), and what the one
/// use case called in its transaction answered.
pub struct Acted<T> {
    pub form: Form,
    pub who: Principal,
    pub c: Chrome,
    pub result: crate::Result<T>,
}

impl<T> Acted<T> {
    /// Done: to the page `to` names (303); refused by the use case: the
    /// error page.
    pub fn redirect_or_error(self, to: impl FnOnce(T) -> String) -> HttpResponse {
        match self.result {
            Ok(v) => see_other(&to(v)),
            Err(e) => {
                let mut c = self.c;
                error_page(&mut c, &e)
            }
        }
    }

    /// As [`Acted::redirect_or_error`], but a use case's refusal for the
    /// role is the 403 page a refused form gets.
    pub async fn redirect_or_refused(
        self,
        state: &State,
        req: &HttpRequest,
        to: impl FnOnce(T) -> String,
    ) -> HttpResponse {
        match self.result {
            Err(crate::Error::Forbidden(_)) => refused(state, req, Refused::Forbidden).await,
            result => Acted { result, ..self }.redirect_or_error(to),
        }
    }
}

/// The shape of a team form's handler: the form checked as [`team_post`]
/// does (refused: the 403 page or the sign-in page, nothing called), the
/// page's chrome and the use-case context made, then the one `app::` call
/// that `call` builds from the form run in a transaction. The handler then
/// redirects, or shows the form again with the errors, from [`Acted`].
pub async fn act<T, F>(
    state: &State,
    req: &HttpRequest,
    body: &[u8],
    role: Role,
    call: impl FnOnce(&Form, crate::app::Context) -> F,
) -> Result<Acted<T>, HttpResponse>
where
    F: FnOnce(&mut crate::db::DbConnection) -> crate::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let (form, who) = team_post(state, req, body, role).await?;
    let c = chrome(state, req, Some(&who), None).await;
    let cx = crate::app::Context::new(who.actor(), state.clock.now());
    let work = call(&form, cx);
    let result = state.db.transaction(work).await;
    Ok(Acted {
        form,
        who,
        c,
        result,
    })
}

/// As [`team_post`] for a form that may upload a file (`multipart/form-data`,
/// or urlencoded without one): its text fields are checked the same way, its
/// files come apart. The body is read by the handler, which knows its limit.
pub async fn team_upload(
    state: &State,
    req: &HttpRequest,
    body: &[u8],
    role: Role,
) -> Result<(super::multipart::Upload, Principal), HttpResponse> {
    let upload = match super::multipart::parse(req, body) {
        Ok(u) => u,
        Err(_) => {
            let who = auth::from_session_cookie(state, req).await;
            let mut c = chrome(state, req, who.as_ref(), None).await;
            let t = c.tr();
            return Err(message(
                StatusCode::BAD_REQUEST,
                &mut c,
                t.t("error.invalid"),
                "multipart/form-data",
                None,
            ));
        }
    };
    match team_form(state, req, &upload.form, role).await {
        Ok(who) => Ok((upload, who)),
        Err(why) => Err(refused(state, req, why).await),
    }
}

/// The page for a refused form. Signed out, a page (GET) sends to the
/// sign-in page coming back to it; a form (POST) to the sign-in page alone,
/// as there is no page at a form's address to come back to.
pub async fn refused(state: &State, req: &HttpRequest, why: Refused) -> HttpResponse {
    let who = auth::from_session_cookie(state, req).await;
    let mut c = chrome(state, req, who.as_ref(), None).await;
    let t = c.tr();
    match why {
        Refused::Csrf => message(
            StatusCode::FORBIDDEN,
            &mut c,
            t.t("error.csrf_title"),
            t.t("error.csrf"),
            None,
        ),
        Refused::SignedOut if req.method() == actix_web::http::Method::GET => to_sign_in(req),
        Refused::SignedOut => see_other("/app/sign-in"),
        Refused::Forbidden => message(
            StatusCode::FORBIDDEN,
            &mut c,
            t.t("error.forbidden_title"),
            t.t("error.forbidden"),
            None,
        ),
    }
}

/// A page for an error of the use-case layer.
pub fn error_page(chrome: &mut Chrome, e: &crate::Error) -> HttpResponse {
    let t = chrome.tr();
    let (status, heading) = match e {
        crate::Error::NotFound { .. } => (StatusCode::NOT_FOUND, t.t("error.not_found")),
        crate::Error::Forbidden(_) => (StatusCode::FORBIDDEN, t.t("error.forbidden_title")),
        crate::Error::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, t.t("error.invalid")),
        crate::Error::VersionMismatch { .. } | crate::Error::Conflict(_) => {
            (StatusCode::CONFLICT, t.t("error.conflict"))
        }
        crate::Error::InvalidTransition { .. }
        | crate::Error::NotAllowed { .. }
        | crate::Error::Blocked { .. } => (StatusCode::CONFLICT, t.t("error.not_now")),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, t.t("error.internal")),
    };
    let text = match e {
        crate::Error::Database(_) | crate::Error::Pool(_) | crate::Error::Internal(_) => {
            tracing::error!(error = %e, "web page failed");
            String::new()
        }
        other => other.to_string(),
    };
    message(status, chrome, heading, &text, None)
}
