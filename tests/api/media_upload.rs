//! Images uploaded as they are (`POST …/variants/{channel_id}/{lang}/media`,
//! the bytes the body, `alt` and `part` in the query): a photo bigger than
//! the JSON body limit goes in, its type read from its bytes; past
//! `social.max_image_bytes` 413, not an image 415, no alt text, a part
//! that is not a number or no such part 422, an unknown variant 404, a viewer 403. Published, the loopback
//! Mastodon instance and Bluesky PDS receive the image with its alt text,
//! Bluesky with the aspect ratio read from the PNG header.

use crate::helpers::*;
use crate::posts::{planning_runner, review, world};
use chrono::TimeDelta;
use serde_json::{Value, json};

/// A PNG whose header says `width`×`height`, padded to `n` bytes (the
/// networks here read only its type, size and header).
pub(crate) fn png(width: u32, height: u32, n: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bytes.extend(width.to_be_bytes());
    bytes.extend(height.to_be_bytes());
    bytes.extend([8, 6, 0, 0, 0]);
    let mut i = 0u8;
    while bytes.len() < n {
        bytes.push(i);
        i = i.wrapping_mul(31).wrapping_add(7);
    }
    bytes
}

async fn upload(
    app: &TestApp,
    path: &str,
    query: &[(&str, &str)],
    token: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .query(query)
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_photo_uploaded_as_it_is_goes_out_with_its_alt_text() {
    let w = world().await;
    let app = &w.app;
    let id = w.activity;
    let masto = format!("/api/v1/activities/{id}/variants/{}/es", w.m);
    let bsky = format!("/api/v1/activities/{id}/variants/{}/es", w.b);
    let res = app
        .put(&masto, &json!({"body": "Uno"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let before = app
        .get_json(&format!("/api/v1/activities/{id}/history"))
        .await;

    // 300 KB: more than the JSON body limit (256 KiB) takes in base64.
    let photo = png(1200, 675, 300_000);
    let res = upload(
        app,
        &format!("{bsky}/media"),
        &[("alt", "Foto del equipo en Málaga")],
        &app.editor,
        // Not trusted: the type is read from the bytes.
        "application/octet-stream",
        photo.clone(),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let variants: Value = res.json().await.unwrap();
    assert_eq!(variants[1]["media"][0]["alt"], "Foto del equipo en Málaga");
    assert_eq!(variants[1]["media"][0]["mime_type"], "image/png");
    assert_eq!(variants[1]["media"][0]["size"], photo.len());
    let chart = png(640, 480, 3000);
    let res = upload(
        app,
        &format!("{masto}/media"),
        &[("alt", "Gráfico: 24 ciudades"), ("part", "1")],
        &app.editor,
        "image/jpeg",
        chart.clone(),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let variants: Value = res.json().await.unwrap();
    assert_eq!(variants[0]["media"][0]["mime_type"], "image/png");
    // Each upload is an edit of the activity, in its history.
    let after = app
        .get_json(&format!("/api/v1/activities/{id}/history"))
        .await;
    assert_eq!(
        after.as_array().unwrap().len(),
        before.as_array().unwrap().len() + 2,
        "{after}"
    );

    // The approval covers the uploaded image: another one supersedes it.
    assert_eq!(review(app, id, &app.editor, "submit").await.status(), 200);
    assert_eq!(review(app, id, &app.admin, "approve").await.status(), 200);
    let approved = app
        .get_json(&format!("/api/v1/activities/{id}/review"))
        .await;
    let res = upload(
        app,
        &format!("{bsky}/media"),
        &[("alt", "Segunda foto")],
        &app.editor,
        "image/png",
        png(10, 20, 500),
    )
    .await;
    assert_eq!(res.status(), 201);
    let changed = app
        .get_json(&format!("/api/v1/activities/{id}/review"))
        .await;
    assert_eq!(changed["state"], "in_review", "{changed}");
    let key = format!("variant:{}:es", w.b);
    assert_ne!(
        approved["content_hash"][&key],
        changed["content_hash"][&key]
    );
    assert_eq!(review(app, id, &app.admin, "approve").await.status(), 200);

    let runner = planning_runner(app);
    app.clock.advance(TimeDelta::hours(2));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();

    let uploads = w.masto_state.lock().unwrap().media.clone();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].0, "Gráfico: 24 ciudades", "description = alt");
    assert_eq!(uploads[0].1, "image/png");
    assert_eq!(uploads[0].2, chart);
    let blobs = w.pds_state.lock().unwrap().blobs.clone();
    assert_eq!(blobs.len(), 2);
    assert_eq!(blobs[0].0, "image/png");
    assert_eq!(blobs[0].1, photo);
    let records = w.pds_state.lock().unwrap().records.clone();
    let record = records.values().next().unwrap();
    let images = &record["embed"]["images"];
    assert_eq!(images[0]["alt"], "Foto del equipo en Málaga");
    assert_eq!(
        images[0]["aspectRatio"],
        json!({"width": 1200, "height": 675})
    );
    assert_eq!(images[1]["alt"], "Segunda foto");
    assert_eq!(images[1]["aspectRatio"], json!({"width": 10, "height": 20}));
    assert_eq!(images[0]["image"]["size"], photo.len());
}

#[tokio::test]
async fn uploads_that_do_not_fit_are_refused_and_nothing_is_written() {
    let w = world().await;
    let app = &w.app;
    let id = w.activity;
    let masto = format!("/api/v1/activities/{id}/variants/{}/es/media", w.m);
    let bsky = format!("/api/v1/activities/{id}/variants/{}/es/media", w.b);
    let ok = png(4, 3, 200);
    let alt = [("alt", "Mapa")];

    // Not an image, whatever the Content-Type says.
    let res = upload(
        app,
        &bsky,
        &alt,
        &app.editor,
        "image/png",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
    )
    .await;
    let problem = expect_problem(res, 415).await;
    assert_eq!(problem["field"], "body", "{problem}");
    // No alt, an empty one, one too long; a part the variant does not have.
    for query in [
        vec![],
        vec![("alt", "   ")],
        vec![("alt", "x".repeat(1501).leak() as &str)],
    ] {
        let res = upload(app, &bsky, &query, &app.editor, "image/png", ok.clone()).await;
        let problem = expect_problem(res, 422).await;
        assert_eq!(problem["field"], "alt", "{query:?}: {problem}");
    }
    let res = upload(
        app,
        &bsky,
        &[("alt", "Mapa"), ("part", "2")],
        &app.editor,
        "image/png",
        ok.clone(),
    )
    .await;
    assert_eq!(expect_problem(res, 422).await["field"], "part");
    // Not a number: invalid input naming `part` too (not a 400).
    for part in ["two", "1.5", ""] {
        let res = upload(
            app,
            &bsky,
            &[("alt", "Mapa"), ("part", part)],
            &app.editor,
            "image/png",
            ok.clone(),
        )
        .await;
        let problem = expect_problem(res, 422).await;
        assert_eq!(problem["field"], "part", "{part:?}: {problem}");
    }
    // Bigger than the Mastodon instance's image_size_limit (4,096 bytes).
    let res = app
        .put(
            &format!("/api/v1/activities/{id}/variants/{}/es", w.m),
            &json!({"body": "Uno"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = upload(app, &masto, &alt, &app.editor, "image/png", png(4, 3, 5000)).await;
    let problem = expect_problem(res, 422).await;
    assert_eq!(problem["field"], "body", "{problem}");
    assert!(problem.to_string().contains("4096"), "{problem}");
    // A variant that does not exist; a viewer.
    let res = upload(
        app,
        &format!("/api/v1/activities/{id}/variants/{}/en/media", w.b),
        &alt,
        &app.editor,
        "image/png",
        ok.clone(),
    )
    .await;
    expect_problem(res, 404).await;
    let res = upload(app, &bsky, &alt, &app.viewer, "image/png", ok.clone()).await;
    expect_problem(res, 403).await;

    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    assert_eq!(variants[0]["media"], json!([]), "nothing written");
    assert_eq!(variants[1]["media"], json!([]), "nothing written");
}

#[tokio::test]
async fn an_image_past_the_configured_limit_is_413() {
    let app = spawn_app_with(|s| s.social.max_image_bytes = 1000).await;
    let res = upload(
        &app,
        "/api/v1/activities/1/variants/1/es/media",
        &[("alt", "Mapa")],
        &app.editor,
        "image/png",
        png(4, 3, 1001),
    )
    .await;
    let problem = expect_problem(res, 413).await;
    assert!(problem.to_string().contains("1000"), "{problem}");
}
