//! The HTTP layer: thin handlers over the domain and the database. `Application`
//! binds first and runs later, so tests can start a real server on port 0.

pub mod auth;
pub mod client;
pub mod contract;
pub mod edge;
pub mod json;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod query;
pub mod rate_limit;
pub mod routes;

use crate::calendar::publish::Publisher;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db::Db;
use actix_web::dev::{Server, Service};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{App, HttpMessage, HttpRequest, HttpServer, web};
use problem::ApiError;
use std::net::TcpListener;
use std::sync::Arc;
use tracing_actix_web::{RequestId, TracingLogger};
use utoipa_actix_web::AppExt;

/// What every handler can reach.
pub struct AppState {
    pub db: Db,
    pub clock: SharedClock,
    pub settings: Arc<Settings>,
    pub limits: rate_limit::Limits,
    pub publisher: Publisher,
    /// Sends what must go at once (sign-in links), not through the dispatcher.
    pub mailer: Arc<dyn crate::email::MailTransport>,
    pub trusted_proxies: client::TrustedProxies,
    pub body_slots: client::BodySlots,
    /// Public subscriptions, done after the form is answered.
    pub public_intake: crate::app::subscribers::PublicIntake,
}

pub struct Application {
    port: u16,
    public_url: String,
    server: Server,
    watcher: tokio::task::JoinHandle<()>,
}

impl Application {
    pub fn build(
        mut settings: Settings,
        db: Db,
        clock: SharedClock,
    ) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&settings.server.bind)
            .map_err(|e| anyhow::anyhow!("cannot bind {}: {e}", settings.server.bind))?;
        let port = listener.local_addr()?.port();
        let trusted_proxies = client::TrustedProxies::parse(&settings.server.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))?;
        settings.server.public_url = settings.server.effective_public_url(listener.local_addr()?);
        let public_url = settings.server.public_url.clone();
        let poll_every = std::time::Duration::from_secs(settings.feeds.change_poll_seconds.max(1));
        let state = web::Data::new(AppState {
            mailer: crate::dispatch::transport_from_settings(&settings.email)?,
            publisher: Publisher::new(settings.feeds.clone(), &settings.server.public_url),
            limits: rate_limit::Limits::new(&settings, clock.clone()),
            trusted_proxies,
            body_slots: client::BodySlots::new(settings.server.bodies_in_flight_per_ip),
            public_intake: crate::app::subscribers::PublicIntake::start(db.clone()),
            db: db.clone(),
            clock,
            settings: Arc::new(settings),
        });
        let watcher = tokio::spawn(watch_other_writers(db, poll_every));
        let metrics = web::Data::new(metrics::Metrics::default());
        let server = HttpServer::new(move || {
            let (app, api) = App::new()
                .into_utoipa_app()
                .openapi(openapi::base())
                .app_data(state.clone())
                .app_data(metrics.clone())
                .configure(metrics::configure)
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|err, _| ApiError::BadQuery(err.to_string()).into()),
                )
                .app_data(web::PathConfig::default().error_handler(query::path_error))
                .configure(routes::configure)
                .split_for_parts();
            let api = openapi::finish(api);
            let routes = web::Data::new(openapi::Routes::of(&api));
            app.app_data(web::Data::new(api))
                .app_data(routes)
                .default_service(web::to(routes::not_found))
                .wrap(actix_web::middleware::from_fn(auth::middleware))
                // Never clone the request here: routing needs it unshared.
                .wrap_fn(|req, srv| {
                    let call = edge::refuse(req).map(|req| srv.call(req));
                    async move {
                        match call {
                            Err(refused) => Ok(*refused),
                            Ok(fut) => Ok(edge::as_problem(fut.await?)),
                        }
                    }
                })
                .wrap_fn(|req, srv| {
                    let fut = srv.call(req);
                    async move {
                        let mut res = fut.await?;
                        rate_limit::charge_full_feed_answers(res.request(), res.status());
                        security_headers(res.headers_mut());
                        Ok(res)
                    }
                })
                .wrap_fn(|req, srv| {
                    let request_id = req.extensions().get::<RequestId>().copied();
                    let fut = srv.call(req);
                    async move {
                        let mut res = fut.await?;
                        if let Some(id) = request_id
                            && let Ok(value) = HeaderValue::from_str(&id.to_string())
                        {
                            res.headers_mut()
                                .insert(header::HeaderName::from_static("x-request-id"), value);
                        }
                        Ok(res)
                    }
                })
                // HEAD is answered wherever GET is: routed as GET, and the
                // HTTP layer sends the headers without the body.
                .wrap_fn(|mut req, srv| {
                    if req.method() == actix_web::http::Method::HEAD {
                        req.head_mut().method = actix_web::http::Method::GET;
                    }
                    srv.call(req)
                })
                .wrap_fn(|req, srv| {
                    let started = std::time::Instant::now();
                    let registry = req.app_data::<web::Data<metrics::Metrics>>().cloned();
                    let method = req.method().to_string();
                    let fut = srv.call(req);
                    async move {
                        let res = fut.await?;
                        if let Some(registry) = registry {
                            let route = res.request().match_pattern();
                            registry.observe(
                                &method,
                                route.as_deref(),
                                res.status().as_u16(),
                                started.elapsed(),
                            );
                        }
                        Ok(res)
                    }
                })
                // gzip for clients that ask (pages, htmx, JSON); a response
                // that is already encoded (a feed's stored gzip, whose ETag
                // says so) or has no body (304) is left as it is.
                .wrap(actix_web::middleware::Compress::default())
                .wrap(TracingLogger::<logging::RedactedRootSpan>::new())
                // Outermost: a feed poll the cache can answer 304 is answered
                // here, before the request span and the rest (issue 12); it is
                // still counted in /metrics and charged to the feed budgets.
                .wrap_fn(|req, srv| {
                    let started = std::time::Instant::now();
                    let early = match routes::not_modified_early(&req) {
                        Some((res, route)) => {
                            let mut res = req.into_response(res);
                            security_headers(res.headers_mut());
                            if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                            {
                                res.headers_mut()
                                    .insert(header::HeaderName::from_static("x-request-id"), id);
                            }
                            if let Some(registry) =
                                res.request().app_data::<web::Data<metrics::Metrics>>()
                            {
                                registry.observe(
                                    res.request().method().as_str(),
                                    Some(route),
                                    304,
                                    started.elapsed(),
                                );
                            }
                            Ok(res)
                        }
                        None => Err(req),
                    };
                    let call = early.map_err(|req| srv.call(req));
                    async move {
                        match call {
                            Ok(res) => Ok(res),
                            Err(fut) => Ok(fut.await?.map_into_boxed_body()),
                        }
                    }
                })
        })
        .listen(listener)?
        .run();
        Ok(Application {
            port,
            public_url,
            server,
            watcher,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `server.public_url`, or the one derived from the bound address.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.watcher.abort();
        result
    }
}

/// The policy of the service's own HTML pages: nothing loads from elsewhere,
/// no script runs, forms post only here, and no site may frame them.
pub const HTML_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Headers every response carries; HTML pages get the full page policy.
fn security_headers(headers: &mut header::HeaderMap) {
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if is_html {
        // The web interface's pages set their own, stricter policy (src/web/page.rs).
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(HTML_POLICY),
            );
        }
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        if !headers.contains_key(header::REFERRER_POLICY) {
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
        }
    } else if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
}

/// Other `pregon` processes (an `import-ics` run, a second server) write to the
/// same database. Every change appends to the history, so its newest entry,
/// read every `feeds.change_poll_seconds`, tells caches built here they are stale.
async fn watch_other_writers(db: Db, every: std::time::Duration) {
    let mut last = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match db.run(crate::db::history::newest_id).await {
            Ok(newest) => {
                if last.is_some_and(|l| l != newest) {
                    db.mark_changed();
                }
                last = Some(newest);
            }
            Err(e) => tracing::warn!(error = %e, "could not check the database for changes"),
        }
    }
}

/// The version a client says it is replacing: `If-Match` (answered with 412 on
/// mismatch) or the body's `version` (409). Neither: 428, as an update without a
/// version could overwrite someone else's edit.
#[derive(Debug, Clone, Copy)]
pub enum ExpectedVersion {
    Header(i32),
    Body(i32),
    /// `If-Match: *`: any current version (the record must exist).
    Any,
}

impl ExpectedVersion {
    pub fn from_request(
        req: &HttpRequest,
        body_version: Option<i32>,
    ) -> Result<ExpectedVersion, ApiError> {
        if let Some(value) = req.headers().get(header::IF_MATCH) {
            let text = value.to_str().unwrap_or("").trim();
            if text.chars().count() > contract::MAX_IF_MATCH_CHARS {
                return Err(ApiError::BadHeader {
                    name: "If-Match",
                    message: format!("is longer than {} characters", contract::MAX_IF_MATCH_CHARS),
                });
            }
            // If-Match uses the strong comparison (RFC 9110 §13.1.1): a weak
            // tag never matches, so the precondition fails.
            if text == "*" {
                return Ok(ExpectedVersion::Any);
            }
            if text.starts_with("W/") {
                return Err(ApiError::PreconditionFailed(
                    "a weak entity tag never matches If-Match (strong comparison)".into(),
                ));
            }
            let version = text
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .and_then(|t| t.parse::<i32>().ok())
                .ok_or_else(|| ApiError::BadHeader {
                    name: "If-Match",
                    message: format!("{text:?} is not an ETag of this API (\"N\")"),
                })?;
            return Ok(ExpectedVersion::Header(version));
        }
        body_version
            .map(ExpectedVersion::Body)
            .ok_or(ApiError::PreconditionRequired)
    }

    /// The version to compare with; for `If-Match: *`, the one stored now,
    /// read by `current` inside the writing transaction.
    pub fn or_current(self, current: impl FnOnce() -> crate::Result<i32>) -> crate::Result<i32> {
        match self {
            ExpectedVersion::Header(v) | ExpectedVersion::Body(v) => Ok(v),
            ExpectedVersion::Any => current(),
        }
    }

    /// Maps a version mismatch to the status that fits how the version was sent.
    pub fn map_err(self, err: crate::Error) -> ApiError {
        match (self, err) {
            (ExpectedVersion::Body(_), crate::Error::VersionMismatch { given, current }) => {
                ApiError::VersionConflict { given, current }
            }
            (_, other) => ApiError::Domain(other),
        }
    }
}

/// The strong ETag of a versioned record.
pub fn etag(version: i32) -> header::EntityTag {
    header::EntityTag::new_strong(version.to_string())
}
