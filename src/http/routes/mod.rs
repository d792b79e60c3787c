//! Every route of the service, registered through utoipa-actix-web so that none can
//! exist without appearing in the OpenAPI document.

mod accounts;
mod activities;
mod campaigns;
mod channels;
mod crud;
mod feeds;
pub use feeds::not_modified_early;
mod health;
mod imports;
mod invitation_replies;
mod invitations;
pub(crate) mod issue_actions;
mod issues;
mod jobs;
mod lists;
mod organisations;
mod participations;
mod people;
mod plans;
mod posts;
mod public_newsletter;
mod reports;
mod reviews;
mod sign_in;
mod subscribers;
mod tokens;
mod webhooks;

use super::problem::{ApiError, ApiResult};
use super::{AppState, etag};
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    // The document itself, before the /api/v1 scope that would otherwise claim it.
    cfg.route("/api/v1/openapi.json", web::get().to(super::openapi::serve));
    cfg.service(health::healthz).service(health::readyz);
    cfg.configure(public_newsletter::configure);
    cfg.configure(feeds::configure_public);
    cfg.configure(sign_in::configure_pages);
    // The web interface's HTML pages (src/web), outside the API document.
    cfg.map(|c| {
        crate::web::configure(c);
        c
    });
    cfg.service(
        scope::scope("/api/v1")
            .configure(plans::configure)
            .configure(campaigns::configure)
            .configure(channels::configure)
            .configure(activities::configure)
            .configure(feeds::configure_api)
            .configure(imports::configure)
            .configure(organisations::configure)
            .configure(people::configure)
            .configure(participations::configure)
            .configure(tokens::configure)
            .configure(accounts::configure)
            .configure(sign_in::configure)
            .configure(invitations::configure)
            .configure(invitation_replies::configure)
            .configure(lists::configure)
            .configure(subscribers::configure)
            .configure(issues::configure)
            .configure(issue_actions::configure)
            .configure(reviews::configure)
            .configure(jobs::configure)
            .configure(webhooks::configure)
            .configure(posts::configure)
            .configure(reports::configure),
    );
}

/// No route took the request: 405 with `Allow` when the path is known with
/// other methods, 404 otherwise.
pub async fn not_found(
    req: actix_web::HttpRequest,
    routes: web::Data<super::openapi::Routes>,
) -> ApiResult<HttpResponse> {
    let allowed = routes.allowed(req.path());
    if allowed.is_empty() {
        Err(ApiError::NoRoute)
    } else {
        Err(ApiError::MethodNotAllowed(allowed))
    }
}

pub type State = web::Data<AppState>;

/// Who acts, when and why, for an operation of the use-case layer: the caller's
/// credentials, the clock, and the optional `Change-Reason` header.
pub fn context(
    state: &State,
    who: &crate::http::auth::Principal,
    req: &actix_web::HttpRequest,
) -> crate::app::Context {
    let reason = req
        .headers()
        .get("change-reason")
        .and_then(|v| v.to_str().ok())
        .map(|r| r.chars().take(500).collect::<String>());
    crate::app::Context::new(who.actor(), state.clock.now()).with_reason(reason)
}

/// A versioned record with its ETag, so a client can send it back in If-Match.
pub fn versioned<T: Serialize>(
    status: actix_web::http::StatusCode,
    body: &T,
    version: i32,
) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(actix_web::http::header::ETag(etag(version)))
        .json(body)
}

/// Emails a sign-in link after answering (the web interface's sign-in page too).
pub use sign_in::send_link_later;
