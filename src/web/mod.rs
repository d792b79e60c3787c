//! The web interface: server-rendered pages for the communications team
//! (`/app/…`) and the public (`/public/…`, `/newsletter/…`). Handlers here are
//! thin: they read through `db` queries, write only through the use-case
//! layer (`crate::app`), and render askama templates from `templates/`. Every
//! string comes from the catalogue in `i18n/` (`i18n.rs`); every form carries a
//! CSRF token (`csrf.rs`); every page works without JavaScript, htmx (vendored,
//! `assets.rs`) only makes it smoother.

pub mod assets;
pub mod csrf;
pub mod format;
pub mod i18n;
pub mod manual;
pub mod multipart;
pub mod page;
pub mod public;
pub mod team;

use actix_web::web;

/// Registers the pages. Plain actix routes: they are HTML for people, not
/// part of the API's OpenAPI contract (docs/web.md, "Web routes and the
/// OpenAPI document", says why).
pub fn configure(cfg: &mut web::ServiceConfig) {
    assets::configure(cfg);
    team::configure(cfg);
    public::configure(cfg);
    manual::configure(cfg);
}
