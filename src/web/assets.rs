//! Static files compiled into the binary and served under URLs that carry a
//! hash of their content, so they can be cached for a year: a new build with a
//! changed file has a new URL. htmx is pinned (static/vendor, with its licence).

use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The pinned htmx release, vendored from the npm package `htmx.org`.
pub const HTMX_VERSION: &str = "2.0.11";

struct Asset {
    /// The name in the URL: `stem.HASH.ext`.
    url: String,
    content_type: &'static str,
    body: &'static [u8],
}

/// One file: its name before hashing and its bytes.
const FILES: &[(&str, &str, &str, &[u8])] = &[
    (
        "htmx",
        "min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/vendor/htmx-2.0.11.min.js"),
    ),
    (
        "pregon",
        "js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/pregon.js"),
    ),
    (
        "pregon",
        "css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/pregon.css"),
    ),
    (
        "htmx-LICENSE",
        "txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../static/vendor/htmx-LICENSE"),
    ),
];

fn all() -> &'static [Asset] {
    static ASSETS: OnceLock<Vec<Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        FILES
            .iter()
            .map(|(stem, ext, content_type, body)| {
                let hash = hex::encode(&Sha256::digest(body)[..8]);
                Asset {
                    url: format!("/assets/{stem}.{hash}.{ext}"),
                    content_type,
                    body,
                }
            })
            .collect()
    })
}

/// The hashed URL of a file (`"htmx"`, `"pregon.css"` …).
pub fn url(name: &str) -> &'static str {
    let (stem, ext) = match name {
        "htmx" => ("htmx", "min.js"),
        "js" => ("pregon", "js"),
        "css" => ("pregon", "css"),
        _ => ("htmx-LICENSE", "txt"),
    };
    all()
        .iter()
        .zip(FILES)
        .find(|(_, f)| f.0 == stem && f.1 == ext)
        .map(|(a, _)| a.url.as_str())
        .unwrap_or("/assets/missing")
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets/{file}", web::get().to(serve));
}

async fn serve(file: web::Path<String>) -> HttpResponse {
    let wanted = format!("/assets/{}", file.into_inner());
    match all().iter().find(|a| a.url == wanted) {
        Some(asset) => HttpResponse::Ok()
            .content_type(asset.content_type)
            .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
            .body(asset.body),
        None => HttpResponse::NotFound()
            .insert_header(("Cache-Control", "no-store"))
            .content_type("text/plain; charset=utf-8")
            .body("not found"),
    }
}
