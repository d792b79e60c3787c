//! The variant form over plain HTTP (issue 10), against the loopback
//! Mastodon instance (limit 120): a thread written part by part ("Add a
//! part" and "Remove this part" post the form back and show it changed,
//! nothing saved until "Save"), saved through the same `app::posts::put` as
//! the API and read back through it; a part too long refused beside that
//! part; each part's length counted on the server (on every post-back, and
//! by the partial htmx asks as one types); images uploaded with their alt
//! text (refused beside the field without it, nothing written), listed and
//! removed; CSRF refused on every post.

use crate::helpers::*;
use crate::posts::world;
use crate::web::{PASSWORD, WebUser, csrf_of, person, web_sign_in};
use serde_json::Value;

const BOUNDARY: &str = "----pregon-variant-7c2f";

/// A multipart/form-data body: text fields in order, then the `image` file.
fn multipart(fields: &[(&str, &str)], image: Option<&[u8]>) -> Vec<u8> {
    let mut b = Vec::new();
    for (k, v) in fields {
        b.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    let (name, data) = image.map_or(("", b"".as_slice()), |d| ("chart.png", d));
    b.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    b.extend_from_slice(data);
    b.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    b
}

async fn upload(app: &TestApp, user: &WebUser, path: &str, body: Vec<u8>) -> (u16, String) {
    let res = app
        .client
        .post(app.url(path))
        .header("cookie", user.cookie_header())
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// Bytes that stand for a PNG (the instance reads only type and size).
fn png(n: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..n).map(|i| (i as u8).wrapping_mul(31)));
    bytes
}

/// The EN variant on Mastodon, read through the API (None: not written).
async fn en_variant(app: &TestApp, id: i64, m: i64) -> Option<Value> {
    let all = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    all.as_array()
        .unwrap()
        .iter()
        .find(|v| v["channel_id"] == m && v["lang"] == "en")
        .cloned()
}

fn with<'a>(base: &[(&'a str, &'a str)], extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = base.to_vec();
    f.extend_from_slice(extra);
    f
}

async fn editor(app: &TestApp) -> WebUser {
    person(
        app,
        "ane@example.org",
        "Ane Editor",
        "editor",
        "en",
        PASSWORD,
    )
    .await;
    web_sign_in(app, "ane@example.org", PASSWORD).await
}

#[tokio::test]
async fn a_thread_is_written_part_by_part_counted_on_the_server_and_saved_through_the_use_case() {
    let w = world().await;
    let app = &w.app;
    let (id, m) = (w.activity, w.m.to_string());
    let mut ane = editor(app).await;
    let (status, html) = ane.get(app, &format!("/app/activities/{id}?lang=en")).await;
    assert_eq!(status, 200, "{html}");
    let csrf = csrf_of(&html);
    let form = format!("/app/activities/{id}/variants");
    let base = [
        ("csrf", csrf.as_str()),
        ("channel_id", m.as_str()),
        ("lang", "en"),
        ("content_warning", ""),
    ];

    // "Add a part" from the activity page's form: the form again with a
    // second, empty part; what was typed kept and counted; nothing saved.
    let res = ane
        .post(
            app,
            &form,
            &with(&base, &[("body", "Uno"), ("op", "add_part")]),
        )
        .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains(">Uno</textarea>"), "{html}");
    assert!(html.contains("id=\"variant-part-2\""), "{html}");
    assert!(!html.contains("id=\"variant-part-3\""), "{html}");
    assert!(
        html.contains("id=\"count-1\" class=\"count\">Length / limit: 3 / 120</span>"),
        "{html}"
    );
    assert!(html.contains("value=\"remove_part-2\""), "{html}");
    assert!(html.contains("enctype=\"multipart/form-data\""), "{html}");
    assert!(
        en_variant(app, id, w.m).await.is_none(),
        "saved by a post-back"
    );
    // Again, with the second part written: a third.
    let res = ane
        .post(
            app,
            &form,
            &with(
                &base,
                &[("body", "Uno"), ("part", "Dos"), ("op", "add_part")],
            ),
        )
        .await;
    let html = res.text().await.unwrap();
    assert!(html.contains(">Dos</textarea>"), "{html}");
    assert!(html.contains("id=\"variant-part-3\""), "{html}");
    // "Remove this part" on part 2: part 3 moves up.
    let res = ane
        .post(
            app,
            &form,
            &with(
                &base,
                &[
                    ("body", "Uno"),
                    ("part", "Dos"),
                    ("part", "Tres"),
                    ("op", "remove_part-2"),
                ],
            ),
        )
        .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(!html.contains(">Dos</textarea>"), "{html}");
    assert!(html.contains("id=\"variant-part-2\""), "{html}");
    assert!(html.contains(">Tres</textarea>"), "{html}");
    assert!(!html.contains("id=\"variant-part-3\""), "{html}");
    assert!(
        en_variant(app, id, w.m).await.is_none(),
        "saved by a post-back"
    );

    // A part too long for the instance's 120: the form again, the reason
    // beside that part (not the first), every part kept, nothing written.
    let long = format!("{} https://pregon.example/en", "Málaga ".repeat(20));
    let parts = [
        ("body", "Uno"),
        ("part", long.as_str()),
        ("part", "Tres"),
        ("op", "save"),
    ];
    let mut f: Vec<(&str, &str)> = base.to_vec();
    f.extend_from_slice(&parts);
    let res = ane.post(app, &form, &f).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    let at = html
        .find("id=\"err-part-2\"")
        .expect("the error beside part 2");
    assert!(html[at..].contains("allows 120"), "{html}");
    assert!(!html.contains("id=\"err-body\""), "{html}");
    assert!(
        html.contains("aria-describedby=\"count-2 err-part-2\" aria-invalid=\"true\""),
        "{html}"
    );
    assert!(
        html.contains("id=\"count-2\" class=\"count error\">Length / limit: 164 / 120"),
        "{html}"
    );
    assert!(html.contains(">Tres</textarea>"), "{html}");
    assert!(
        en_variant(app, id, w.m).await.is_none(),
        "written although refused"
    );

    // Without the CSRF token: refused, nothing written.
    let res = ane
        .post(
            app,
            &form,
            &[
                ("channel_id", m.as_str()),
                ("lang", "en"),
                ("body", "Uno"),
                ("part", "Dos"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(en_variant(app, id, w.m).await.is_none());

    // Saved: three parts in order, read back through the API.
    let res = ane
        .post(
            app,
            &form,
            &with(&base, &[("body", "Uno"), ("part", "Dos"), ("part", "Tres")]),
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        format!("/app/activities/{id}?saved=variant#posts").as_str()
    );
    let v = en_variant(app, id, w.m).await.expect("the variant written");
    assert_eq!(v["body"], "Uno");
    let thread: Vec<&str> = v["thread"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["body"].as_str().unwrap())
        .collect();
    assert_eq!(thread, ["Dos", "Tres"]);
    assert_eq!(v["length"], 3);
    assert_eq!(v["thread"][0]["length"], 3);
    // Its form shows the three parts as stored, each counted.
    let (status, html) = ane
        .get(
            app,
            &format!("/app/activities/{id}/variants/{m}/en?lang=en"),
        )
        .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(">Uno</textarea>"), "{html}");
    assert!(html.contains(">Dos</textarea>"), "{html}");
    assert!(html.contains(">Tres</textarea>"), "{html}");
    assert!(
        html.contains("id=\"count-3\" class=\"count\">Length / limit: 4 / 120"),
        "{html}"
    );

    // The partial htmx asks for as one types: every part's count, swapped
    // out of band; CSRF refused there too.
    let counts = format!("/app/activities/{id}/variants/counts");
    let res = ane
        .post(
            app,
            &counts,
            &with(&base, &[("body", "Hola"), ("part", long.as_str())]),
        )
        .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("<span id=\"count-1\" class=\"count\" hx-swap-oob=\"true\">Length / limit: 4 / 120</span>"),
        "{html}"
    );
    assert!(
        html.contains(
            "id=\"count-2\" class=\"count error\" hx-swap-oob=\"true\">Length / limit: 164 / 120"
        ),
        "{html}"
    );
    assert!(!html.contains("<html"), "a whole page: {html}");
    let res = ane
        .post(
            app,
            &counts,
            &[("channel_id", m.as_str()), ("lang", "en"), ("body", "x")],
        )
        .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn images_are_attached_with_their_alt_text_listed_and_removed_in_the_variant_form() {
    let w = world().await;
    let app = &w.app;
    let (id, m) = (w.activity, w.m.to_string());
    let mut ane = editor(app).await;
    let (_, html) = ane.get(app, &format!("/app/activities/{id}?lang=en")).await;
    let csrf = csrf_of(&html);
    let form = format!("/app/activities/{id}/variants");
    let chart = png(600);

    // Without its alt text: the form again, the reason beside the image's
    // alt text field, nothing written.
    let (status, html) = upload(
        app,
        &ane,
        &form,
        multipart(
            &[
                ("csrf", &csrf),
                ("channel_id", &m),
                ("lang", "en"),
                ("body", "Uno"),
                ("image_alt", ""),
                ("image_part", "1"),
                ("op", "save"),
            ],
            Some(&chart),
        ),
    )
    .await;
    assert_eq!(status, 422, "{html}");
    let at = html
        .find("id=\"err-img-0\"")
        .expect("the error beside the alt text");
    assert!(html[at..].contains("required"), "{html}");
    assert!(html.contains("id=\"img-alt-0\" name=\"img_alt\" maxlength=\"1500\" value=\"\" aria-invalid=\"true\" aria-describedby=\"err-img-0\""), "{html}");
    assert!(
        en_variant(app, id, w.m).await.is_none(),
        "written without alt text"
    );
    // The image was kept by the form: its alt text written, saved.
    let kept = {
        let at =
            html.find("name=\"img_ref\" value=\"").unwrap() + "name=\"img_ref\" value=\"".len();
        html[at..at + html[at..].find('"').unwrap()].to_owned()
    };
    assert!(kept.starts_with("data:"), "{kept}");
    let (status, html) = upload(
        app,
        &ane,
        &form,
        multipart(
            &[
                ("csrf", &csrf),
                ("channel_id", &m),
                ("lang", "en"),
                ("body", "Uno"),
                ("img_ref", &kept),
                ("img_mime", "image/png"),
                ("img_part", "1"),
                ("img_alt", "A bar chart of 24 cities"),
                ("op", "save"),
            ],
            None,
        ),
    )
    .await;
    assert_eq!(status, 303, "{html}");
    let v = en_variant(app, id, w.m).await.expect("the variant written");
    assert_eq!(v["media"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["media"][0]["alt"], "A bar chart of 24 cities");
    assert_eq!(v["media"][0]["mime_type"], "image/png");
    assert_eq!(v["media"][0]["size"], chart.len());

    // A second one uploaded straight with "Save" and its alt text, on a
    // second part added in the same form.
    let (_, html) = ane
        .get(
            app,
            &format!("/app/activities/{id}/variants/{m}/en?lang=en"),
        )
        .await;
    assert!(
        html.contains("value=\"A bar chart of 24 cities\""),
        "{html}"
    );
    let sha = v["media"][0]["sha256"].as_str().unwrap().to_owned();
    assert!(html.contains(&format!("value=\"sha:{sha}\"")), "{html}");
    let stored = format!("sha:{sha}");
    let (status, html) = upload(
        app,
        &ane,
        &form,
        multipart(
            &[
                ("csrf", &csrf),
                ("channel_id", &m),
                ("lang", "en"),
                ("body", "Uno"),
                ("part", "Dos"),
                ("img_ref", &stored),
                ("img_mime", "image/png"),
                ("img_part", "1"),
                ("img_alt", "A bar chart of 24 cities"),
                ("image_alt", "The study's cover"),
                ("image_part", "2"),
                ("op", "save"),
            ],
            Some(&png(300)),
        ),
    )
    .await;
    assert_eq!(status, 303, "{html}");
    let v = en_variant(app, id, w.m).await.unwrap();
    let media = v["media"].as_array().unwrap();
    assert_eq!(media.len(), 2, "{v}");
    assert_eq!(media[0]["sha256"], sha.as_str());
    assert_eq!(
        (media[1]["part"].as_i64(), media[1]["alt"].as_str()),
        (Some(2), Some("The study's cover"))
    );

    // "Remove" lists it no more (nothing saved yet); saved, it is gone.
    let (_, html) = ane
        .get(
            app,
            &format!("/app/activities/{id}/variants/{m}/en?lang=en"),
        )
        .await;
    assert!(html.contains("value=\"remove_image-1\""), "{html}");
    let cover = format!("sha:{}", media[1]["sha256"].as_str().unwrap());
    let fields = |op: &'static str, cover_too: bool| {
        let mut f = vec![
            ("csrf", csrf.clone()),
            ("channel_id", m.clone()),
            ("lang", "en".to_owned()),
            ("body", "Uno".to_owned()),
        ];
        if cover_too {
            f.push(("part", "Dos".to_owned()));
        }
        f.extend([
            ("img_ref", stored.clone()),
            ("img_mime", "image/png".to_owned()),
            ("img_part", "1".to_owned()),
            ("img_alt", "A bar chart of 24 cities".to_owned()),
        ]);
        if cover_too {
            f.extend([
                ("img_ref", cover.clone()),
                ("img_mime", "image/png".to_owned()),
                ("img_part", "2".to_owned()),
                ("img_alt", "The study's cover".to_owned()),
            ]);
        }
        f.push(("op", op.to_owned()));
        f
    };
    let as_refs = |f: &[(&'static str, String)]| -> Vec<u8> {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        multipart(&pairs, None)
    };
    let (status, html) = upload(app, &ane, &form, as_refs(&fields("remove_image-0", true))).await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("A bar chart of 24 cities"), "{html}");
    assert!(
        html.contains("value=\"The study&#x27;s cover\"")
            || html.contains("value=\"The study&#39;s cover\""),
        "{html}"
    );
    assert_eq!(
        en_variant(app, id, w.m).await.unwrap()["media"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Removing part 2 takes its image with it; saved, only the chart stays.
    let (status, html) = upload(app, &ane, &form, as_refs(&fields("remove_part-2", true))).await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("id=\"variant-part-2\""), "{html}");
    assert!(!html.contains(&cover), "{html}");
    let (status, html) = upload(app, &ane, &form, as_refs(&fields("save", false))).await;
    assert_eq!(status, 303, "{html}");
    let v = en_variant(app, id, w.m).await.unwrap();
    assert_eq!(v["thread"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(v["media"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["media"][0]["sha256"], sha.as_str());

    // A multipart post without the CSRF token: refused, nothing written.
    let (status, _) = upload(
        app,
        &ane,
        &form,
        multipart(
            &[
                ("channel_id", &m),
                ("lang", "en"),
                ("body", "Otro"),
                ("image_alt", "Alt"),
            ],
            Some(&chart),
        ),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(en_variant(app, id, w.m).await.unwrap()["body"], "Uno");
}

#[tokio::test]
async fn the_forms_images_are_limited_by_max_image_bytes_not_by_the_body_limit() {
    let w = world().await;
    let app = &w.app;
    let (id, b) = (w.activity, w.b.to_string());
    let mut ane = editor(app).await;
    let (_, html) = ane.get(app, &format!("/app/activities/{id}?lang=en")).await;
    let csrf = csrf_of(&html);
    let form = format!("/app/activities/{id}/variants");
    let fields = |alt: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("channel_id", b.clone()),
            ("lang", "en".to_owned()),
            ("body", "Hello".to_owned()),
            ("image_alt", alt.to_owned()),
            ("image_part", "1".to_owned()),
            ("op", "save".to_owned()),
        ]
    };
    let body = |f: &[(&'static str, String)], image: &[u8]| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        multipart(&pairs, Some(image))
    };
    let bluesky_en = |all: Value| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|v| v["channel_id"] == w.b && v["lang"] == "en")
            .cloned()
    };

    // Past social.max_image_bytes (8 MiB): beside the file field, the form
    // kept, nothing written.
    let max = app.settings.social.max_image_bytes;
    let (status, html) = upload(app, &ane, &form, body(&fields("Too big"), &png(max))).await;
    assert_eq!(status, 422, "{}", &html[..html.len().min(2000)]);
    let at = html
        .find("id=\"err-image\"")
        .expect("beside the file field");
    assert!(
        html[at..].contains(&format!("at most {max} bytes")),
        "{html}"
    );
    assert!(
        html.contains("name=\"image\" accept=\"image/jpeg,image/png,image/gif,image/webp\" aria-invalid=\"true\" aria-describedby=\"err-image\""),
        "{html}"
    );
    assert!(html.contains(">Hello</textarea>"), "the text kept");
    assert!(!html.contains("name=\"img_ref\""), "not attached");
    let all = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    assert!(bluesky_en(all).is_none(), "nothing written");

    // 300 KB, more than the server's body limit (256 KiB): taken, saved.
    let photo = png(300_000);
    assert!(photo.len() > app.settings.server.body_limit_bytes);
    let (status, html) = upload(app, &ane, &form, body(&fields("A photo"), &photo)).await;
    assert_eq!(status, 303, "{}", &html[..html.len().min(2000)]);
    let all = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    let v = bluesky_en(all).expect("written");
    assert_eq!(v["media"][0]["size"], photo.len());
    assert_eq!(v["media"][0]["alt"], "A photo");
}
