//! The HTTP layer: thin handlers over the domain and the database. `Application`
//! binds first and runs later, so tests can start a real server on port 0.

pub mod auth;
pub mod json;
pub mod logging;
pub mod openapi;
pub mod problem;
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
    pub rate_limiter: rate_limit::RateLimiter,
    pub feed_rate_limiter: rate_limit::RateLimiter,
    pub publisher: Publisher,
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
        settings.server.public_url = settings.server.effective_public_url(listener.local_addr()?);
        let public_url = settings.server.public_url.clone();
        let poll_every = std::time::Duration::from_secs(settings.feeds.change_poll_seconds.max(1));
        let state = web::Data::new(AppState {
            publisher: Publisher::new(settings.feeds.clone(), &settings.server.public_url),
            rate_limiter: rate_limit::RateLimiter::new(
                settings.server.public_rate_limit_per_minute,
            ),
            feed_rate_limiter: rate_limit::RateLimiter::new(settings.feeds.rate_limit_per_minute),
            db: db.clone(),
            clock,
            settings: Arc::new(settings),
        });
        let watcher = tokio::spawn(watch_other_writers(db, poll_every));
        let server = HttpServer::new(move || {
            let (app, api) = App::new()
                .into_utoipa_app()
                .openapi(openapi::base())
                .app_data(state.clone())
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|err, _| ApiError::BadQuery(err.to_string()).into()),
                )
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|err, _| ApiError::BadQuery(err.to_string()).into()),
                )
                .configure(routes::configure)
                .split_for_parts();
            let api = web::Data::new(openapi::finish(api));
            app.app_data(api)
                .default_service(web::to(routes::not_found))
                .wrap(actix_web::middleware::from_fn(auth::middleware))
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
                .wrap(TracingLogger::<logging::RedactedRootSpan>::new())
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

/// Other `pregon` processes (an `import-ics` run, a second server) write to the
/// same database: a cheap summary of the data, read now and then, tells caches
/// built here that they are stale.
async fn watch_other_writers(db: Db, every: std::time::Duration) {
    let mut last = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match db.run(crate::db::changes::marker).await {
            Ok(marker) => {
                if last.as_ref().is_some_and(|l| *l != marker) {
                    db.mark_changed();
                }
                last = Some(marker);
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
}

impl ExpectedVersion {
    pub fn from_request(
        req: &HttpRequest,
        body_version: Option<i32>,
    ) -> Result<ExpectedVersion, ApiError> {
        if let Some(value) = req.headers().get(header::IF_MATCH) {
            let text = value.to_str().unwrap_or("").trim();
            let text = text.strip_prefix("W/").unwrap_or(text);
            let version = text.trim_matches('"').parse::<i32>().map_err(|_| {
                ApiError::BadQuery(format!("If-Match {text:?} is not an ETag of this API"))
            })?;
            return Ok(ExpectedVersion::Header(version));
        }
        body_version
            .map(ExpectedVersion::Body)
            .ok_or(ApiError::PreconditionRequired)
    }

    pub fn value(self) -> i32 {
        match self {
            ExpectedVersion::Header(v) | ExpectedVersion::Body(v) => v,
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
