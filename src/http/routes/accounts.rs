//! People's accounts (admin) and the caller's own (`/me`).

use super::State;
use crate::app::{self, sessions};
use crate::db::accounts as db;
use crate::domain::account::{
    Account, AccountInput, AccountPreferences, AccountUpdate, CreatedAccount,
};
use crate::domain::session::PasswordChange;
use crate::http::ExpectedVersion;
use crate::http::auth::{Admin, Viewer};
use crate::http::json::Json;
use crate::http::problem::{ApiResult, Problem};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(read)
        .service(replace)
        .service(me)
        .service(set_password)
        .service(my_preferences)
        .service(set_my_preferences)
        .service(preferences)
        .service(set_preferences);
}

/// Every account: people and the built-in ones (never a password hash).
#[utoipa::path(tag = "accounts", security(("bearer" = ["admin"])),
    responses((status = 200, body = Vec<Account>), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
#[get("/accounts")]
async fn list(_: Admin, state: State) -> ApiResult<HttpResponse> {
    let accounts = state.db.run(db::list).await?;
    Ok(HttpResponse::Ok().json(accounts))
}

/// Creates a person's account. The response carries a one-time sign-in link
/// for them (valid `accounts.sign_in_link_minutes`), shown only here.
#[utoipa::path(tag = "accounts", request_body = AccountInput, security(("bearer" = ["admin"])),
    responses((status = 201, body = CreatedAccount), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
#[post("/accounts")]
async fn create(who: Admin, state: State, input: Json<AccountInput>) -> ApiResult<HttpResponse> {
    let now = state.clock.now();
    let actor = who.0.actor();
    let settings = state.settings.clone();
    let (account, secret) = state
        .db
        .transaction(move |c| {
            let account = app::accounts::create(&actor, now, c, &input.0)?;
            let secret = sessions::create_link(now, c, &account, &settings.accounts)?;
            Ok((account, secret))
        })
        .await?;
    let created = CreatedAccount {
        sign_in_link: sessions::link_url(&state.settings.server.public_url, &secret),
        account,
    };
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(actix_web::http::header::ETag(crate::http::etag(
            created.account.version,
        )))
        .json(created))
}

#[utoipa::path(tag = "accounts", params(("id" = i64, Path)), security(("bearer" = ["admin"])),
    responses((status = 200, body = Account), (status = 404, body = Problem)))]
#[get("/accounts/{id}")]
async fn read(_: Admin, state: State, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let account = state.db.run(move |c| db::get(c, id)).await?;
    Ok(super::versioned(StatusCode::OK, &account, account.version))
}

/// Changes an account's name, language, role or status. Disabling ends its
/// sessions and stops its tokens at once; the last active administrator can
/// be neither disabled nor demoted (409 says why).
#[utoipa::path(tag = "accounts", request_body = AccountUpdate, security(("bearer" = ["admin"])),
    params(("id" = i64, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Account), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem),
        (status = 422, body = Problem), (status = 428, body = Problem)))]
#[put("/accounts/{id}")]
async fn replace(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    input: Json<AccountUpdate>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let expected = ExpectedVersion::from_request(&req, input.0.version)?;
    let now = state.clock.now();
    let actor = who.0.actor();
    let account = state
        .db
        .transaction(move |c| {
            let version = expected.or_current(|| Ok(crate::db::accounts::get(c, id)?.version))?;
            app::accounts::update(&actor, now, c, id, version, &input.0)
        })
        .await
        .map_err(|e| expected.map_err(e))?;
    Ok(super::versioned(StatusCode::OK, &account, account.version))
}

/// The caller's own account, with the role this credential has (a token may
/// have less than its account).
#[utoipa::path(tag = "accounts", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
#[get("/me")]
async fn me(who: Viewer, state: State) -> ApiResult<HttpResponse> {
    let principal = who.0;
    let id = principal.account_id();
    let account = state.db.run(move |c| db::get(c, id)).await?;
    Ok(HttpResponse::Ok().json(Me {
        account,
        effective_role: principal.role,
        token_id: principal.token_id(),
        session_id: principal.session_id(),
    }))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Me {
    pub account: Account,
    /// What this credential may do: the lower of its own role and the account's.
    pub effective_role: crate::domain::Role,
    pub token_id: Option<i64>,
    pub session_id: Option<i64>,
}

/// Sets the caller's password (people only; the current one is needed to
/// change it). argon2id, OWASP's parameters; at least 12 characters.
#[utoipa::path(tag = "accounts", request_body = PasswordChange, security(("bearer" = ["viewer"])),
    responses((status = 200, body = Account), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
#[put("/me/password")]
async fn set_password(
    who: Viewer,
    state: State,
    input: Json<PasswordChange>,
) -> ApiResult<HttpResponse> {
    let now = state.clock.now();
    let actor = who.0.actor();
    let input = input.0;
    let account = state
        .db
        .transaction(move |c| {
            app::accounts::set_own_password(
                &actor,
                now,
                c,
                input.current_password.as_deref(),
                &input.password,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(account))
}

/// The caller's preferences (the weekly digest).
#[utoipa::path(tag = "accounts", security(("bearer" = ["viewer"])),
    responses((status = 200, body = AccountPreferences), (status = 401, body = Problem)))]
#[get("/me/preferences")]
async fn my_preferences(who: Viewer, state: State) -> ApiResult<HttpResponse> {
    let (actor, id) = (who.0.actor(), who.0.account_id());
    let found = state
        .db
        .run(move |c| app::accounts::preferences(&actor, c, id))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Changes the caller's preferences: `{"weekly_digest": false}` turns the
/// weekly digest off.
#[utoipa::path(tag = "accounts", request_body = AccountPreferences, security(("bearer" = ["viewer"])),
    responses((status = 200, body = AccountPreferences), (status = 401, body = Problem),
        (status = 422, body = Problem)))]
#[put("/me/preferences")]
async fn set_my_preferences(
    who: Viewer,
    state: State,
    input: Json<AccountPreferences>,
) -> ApiResult<HttpResponse> {
    let (actor, id, now) = (who.0.actor(), who.0.account_id(), state.clock.now());
    let saved = state
        .db
        .transaction(move |c| app::accounts::set_preferences(&actor, now, c, id, &input.0))
        .await?;
    Ok(HttpResponse::Ok().json(saved))
}

/// An account's preferences.
#[utoipa::path(tag = "accounts", params(("id" = i64, Path)), security(("bearer" = ["admin"])),
    responses((status = 200, body = AccountPreferences), (status = 404, body = Problem)))]
#[get("/accounts/{id}/preferences")]
async fn preferences(who: Admin, state: State, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let (actor, id) = (who.0.actor(), id.into_inner());
    let found = state
        .db
        .run(move |c| app::accounts::preferences(&actor, c, id))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Changes an account's preferences (the weekly digest on or off).
#[utoipa::path(tag = "accounts", request_body = AccountPreferences, security(("bearer" = ["admin"])),
    params(("id" = i64, Path)),
    responses((status = 200, body = AccountPreferences), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
#[put("/accounts/{id}/preferences")]
async fn set_preferences(
    who: Admin,
    state: State,
    id: web::Path<i64>,
    input: Json<AccountPreferences>,
) -> ApiResult<HttpResponse> {
    let (actor, id, now) = (who.0.actor(), id.into_inner(), state.clock.now());
    let saved = state
        .db
        .transaction(move |c| app::accounts::set_preferences(&actor, now, c, id, &input.0))
        .await?;
    Ok(HttpResponse::Ok().json(saved))
}
