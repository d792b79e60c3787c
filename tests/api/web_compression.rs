//! Pages and assets are sent gzipped to clients that ask, and a calendar
//! feed, which stores its own gzip with its own ETag, is not compressed twice
//! and still answers 304 to its validator.

use crate::helpers::*;
use std::io::Read;

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .expect("a gzip body");
    out
}

async fn gzipped(app: &TestApp, path: &str) -> (usize, String) {
    let res = app
        .client
        .get(app.url(path))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    assert_eq!(res.headers()["content-encoding"], "gzip", "{path}");
    let bytes = res.bytes().await.unwrap();
    (bytes.len(), gunzip(&bytes))
}

#[tokio::test]
async fn pages_and_assets_are_gzipped_and_weigh_under_100_kb() {
    let app = spawn_seeded_app().await;
    // Without Accept-Encoding: as before.
    let res = app
        .client
        .get(app.url("/app/sign-in"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("content-encoding").is_none());
    let (page_size, page) = gzipped(&app, "/app/sign-in").await;
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    let mut total = page_size;
    for asset in page
        .split('"')
        .filter(|s| s.starts_with("/assets/") && !s.contains("LICENSE"))
    {
        let (size, _) = gzipped(&app, asset).await;
        total += size;
    }
    assert!(
        total <= 100 * 1024,
        "the sign-in page with its CSS and scripts weighs {total} bytes gzipped"
    );
    let slug = app.get_json("/api/v1/plans").await["items"][0]["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    let (size, html) = gzipped(&app, &format!("/public/{slug}")).await;
    assert!(html.contains("</html>"));
    assert!(
        size <= 100 * 1024,
        "the public agenda weighs {size} bytes gzipped"
    );
}

#[tokio::test]
async fn a_feed_is_gzipped_once_and_keeps_its_etag_and_304() {
    let app = spawn_seeded_app().await;
    let res = app
        .client
        .get(app.url("/feeds/public.ics"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.ends_with("-gzip\""), "{etag}");
    let body = res.bytes().await.unwrap();
    // Decoded once, it is the calendar: not compressed a second time.
    assert!(gunzip(&body).starts_with("BEGIN:VCALENDAR"));
    let res = app
        .client
        .get(app.url("/feeds/public.ics"))
        .header("accept-encoding", "gzip")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert!(res.bytes().await.unwrap().is_empty());
}
