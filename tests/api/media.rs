//! Images with required alt text on post variants, end to end against the
//! loopback Mastodon instance (which takes images up to 4,096 bytes) and
//! Bluesky PDS: refused without alt text, too big, or too many; uploaded
//! with their alt text (Mastodon `description`, Bluesky `alt`) before the
//! status or record that refers to them; covered by the approval hash; and
//! reused, not uploaded again, by a retry.

use crate::helpers::*;
use crate::posts::{planning_runner, put_post, review, world};
use base64::Engine;
use chrono::TimeDelta;
use serde_json::{Value, json};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Bytes that stand for a PNG (the networks here read only type and size).
fn png(n: usize, seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    bytes
}

#[tokio::test]
async fn images_need_alt_text_fit_the_limits_and_go_out_with_it_once() {
    let w = world().await;
    let app = &w.app;
    let id = w.activity;
    let masto = format!("/api/v1/activities/{id}/variants/{}/es", w.m);
    let bsky = format!("/api/v1/activities/{id}/variants/{}/es", w.b);
    let chart = png(600, 1);
    let photo = png(900, 2);

    // No alt text: refused naming the field, nothing written.
    let res = app
        .put(
            &masto,
            &json!({"body": "Uno", "media": [{"mime_type": "image/png", "data": b64(&chart)}]}),
        )
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(problem["field"], "media[0].alt", "{problem}");
    let res = app
        .put(
            &masto,
            &json!({"body": "Uno", "media": [{"mime_type": "image/png", "data": b64(&chart), "alt": "  "}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(expect_problem(res, 422).await["field"], "media[0].alt");
    // Bigger than the instance's image_size_limit (4,096 bytes).
    let res = app
        .put(
            &masto,
            &json!({"body": "Uno", "media": [{"mime_type": "image/png", "data": b64(&png(5000, 3)), "alt": "Grande"}]}),
        )
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(problem["field"], "media[0].data", "{problem}");
    assert!(problem.to_string().contains("4096"), "{problem}");
    // Five on one part, a type no network takes, a part that does not exist.
    let five: Vec<Value> = (0..5)
        .map(|i| json!({"mime_type": "image/png", "data": b64(&png(10, i)), "alt": format!("Imagen {i}")}))
        .collect();
    let res = app
        .put(&masto, &json!({"body": "Uno", "media": five}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_problem(res, 422).await["field"], "media");
    let res = app
        .put(
            &masto,
            &json!({"body": "Uno", "media": [{"mime_type": "image/svg+xml", "data": b64(b"<svg/>"), "alt": "Logo"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_problem(res, 422).await["field"],
        "media[0].mime_type"
    );
    // The type is read from the bytes, not taken from the client: a PNG
    // said to be a JPEG, bytes that are no image said to be a PNG (as the
    // second image, so the index is its own).
    for (mime, bytes, why) in [
        ("image/jpeg", chart.clone(), "image/png, not image/jpeg"),
        (
            "image/png",
            b"just some text".to_vec(),
            "not a PNG, JPEG, GIF or WebP",
        ),
    ] {
        let res = app
            .put(
                &masto,
                &json!({"body": "Uno", "media": [
                    {"mime_type": "image/png", "data": b64(&chart), "alt": "Bien"},
                    {"mime_type": mime, "data": b64(&bytes), "alt": "Mal"},
                ]}),
            )
            .send()
            .await
            .unwrap();
        let problem = expect_problem(res, 422).await;
        assert_eq!(problem["field"], "media[1].mime_type", "{problem}");
        assert!(problem.to_string().contains(why), "{problem}");
    }
    let res = app
        .put(
            &masto,
            &json!({"body": "Uno", "media": [{"part": 2, "mime_type": "image/png", "data": b64(&chart), "alt": "Gráfico"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(expect_problem(res, 422).await["field"], "media[0].part");
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    assert_eq!(variants[0]["media"], json!([]), "nothing written");

    // Mastodon: a thread with the chart on part 1 and the photo on part 2.
    let res = app
        .put(
            &masto,
            &json!({"body": "Uno", "thread": [{"body": "Dos"}], "media": [
                {"mime_type": "image/png", "data": b64(&chart), "alt": "Gráfico: 24 ciudades"},
                {"part": 2, "mime_type": "image/png", "data": b64(&photo), "alt": "Foto del equipo"},
            ]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = app
        .put(
            &bsky,
            &json!({"body": "¡Hola!", "media": [{"mime_type": "image/png", "data": b64(&chart), "alt": "Gráfico: 24 ciudades"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let variants: Value = res.json().await.unwrap();
    assert_eq!(variants[1]["media"][0]["alt"], "Gráfico: 24 ciudades");
    assert_eq!(variants[1]["media"][0]["size"], chart.len());
    assert_eq!(variants[1]["media"][0]["part"], 1);
    assert!(
        variants[1]["media"][0].get("data").is_none(),
        "no bytes in the view"
    );

    // The approval covers the alt text: changing it alone supersedes it.
    assert_eq!(review(app, id, &app.editor, "submit").await.status(), 200);
    assert_eq!(review(app, id, &app.admin, "approve").await.status(), 200);
    let before = app
        .get_json(&format!("/api/v1/activities/{id}/review"))
        .await;
    let res = app
        .put(
            &bsky,
            &json!({"body": "¡Hola!", "media": [{"mime_type": "image/png", "data": b64(&chart), "alt": "Gráfico de 24 ciudades"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let after = app
        .get_json(&format!("/api/v1/activities/{id}/review"))
        .await;
    assert_eq!(after["state"], "in_review", "{after}");
    let key = format!("variant:{}:es", w.b);
    assert_ne!(before["content_hash"][&key], after["content_hash"][&key]);
    // A text-only edit that leaves `media` out keeps the images.
    let res = app
        .put(&bsky, &json!({"body": "¡Hola a todos!"}))
        .send()
        .await
        .unwrap();
    let kept: Value = res.json().await.unwrap();
    assert_eq!(kept[1]["media"][0]["alt"], "Gráfico de 24 ciudades");
    // An activity read, with its variants' images, can be sent back as it
    // is: the images stay, the approval too.
    let activity = app.get_json(&format!("/api/v1/activities/{id}")).await;
    assert_eq!(
        activity["post_variants"][1]["media"][0]["alt"],
        "Gráfico de 24 ciudades"
    );
    put_post(&w, &activity).await;
    let again = app.get_json(&format!("/api/v1/activities/{id}")).await;
    assert_eq!(again["post_variants"], activity["post_variants"]);
    assert_eq!(review(app, id, &app.admin, "approve").await.status(), 200);

    // Publishing: part 1's status meets a 503 after its image was uploaded;
    // the retry reuses the uploaded image.
    w.masto_state.lock().unwrap().script = vec!["503"];
    let runner = planning_runner(app);
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    app.clock.advance(TimeDelta::hours(2));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();

    let uploads = w.masto_state.lock().unwrap().media.clone();
    assert_eq!(uploads.len(), 2, "each image uploaded once");
    assert_eq!(uploads[0].0, "Gráfico: 24 ciudades", "description = alt");
    assert_eq!(uploads[0].1, "image/png");
    assert_eq!(uploads[0].2, chart);
    assert_eq!(uploads[1].0, "Foto del equipo");
    assert_eq!(uploads[1].2, photo);
    let statuses: Vec<Value> = w
        .mastodon
        .to("/api/v1/statuses")
        .iter()
        .map(|r| r.json())
        .collect();
    assert_eq!(statuses.len(), 3, "the 503, its retry, part 2");
    assert_eq!(statuses[0]["media_ids"], json!(["m1"]));
    assert_eq!(statuses[1]["media_ids"], json!(["m1"]));
    assert_eq!(statuses[2]["media_ids"], json!(["m2"]));
    assert_eq!(statuses[2]["in_reply_to_id"], "1");
    let upload_at = w
        .mastodon
        .requests()
        .iter()
        .position(|r| r.path == "/api/v2/media")
        .unwrap();
    let status_at = w
        .mastodon
        .requests()
        .iter()
        .position(|r| r.path == "/api/v1/statuses")
        .unwrap();
    assert!(upload_at < status_at, "uploaded before the status");

    // Bluesky: the blob, then the record embedding it with its alt text.
    let blobs = w.pds_state.lock().unwrap().blobs.clone();
    assert_eq!(blobs.len(), 1);
    assert_eq!(blobs[0].0, "image/png");
    assert_eq!(blobs[0].1, chart);
    let records = w.pds_state.lock().unwrap().records.clone();
    assert_eq!(records.len(), 1);
    let record = records.values().next().unwrap();
    assert_eq!(record["text"], "¡Hola a todos!");
    assert_eq!(
        record["embed"],
        json!({"$type": "app.bsky.embed.images", "images": [{
            "alt": "Gráfico de 24 ciudades",
            "image": {"$type": "blob", "ref": {"$link": "bafkreiblob1"}, "mimeType": "image/png", "size": chart.len()},
        }]})
    );
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    assert_eq!(variants[0]["publication"]["state"], "published");
    assert_eq!(variants[1]["publication"]["state"], "published");
}

#[tokio::test]
async fn a_bluesky_image_over_a_million_bytes_is_refused_at_approval() {
    let w = world().await;
    let app = &w.app;
    let id = w.activity;
    // 1,000,001 bytes (1.3 MB in base64) do not fit the API's body limit
    // (256 KiB), so the image is stored directly; the check at approval
    // (and in the variants' `problem`) is what is tested here.
    let big = png(1_000_001, 4);
    let now = app.clock_now();
    let (activity, channel) = (id, w.b);
    app.db
        .transaction(move |c| {
            pregon::db::posts::replace_media(
                c,
                activity,
                channel,
                "es",
                &[pregon::db::posts::NewMedia {
                    part: 0,
                    mime_type: "image/png".into(),
                    sha256: "x".into(),
                    alt: "Mapa".into(),
                    data: big,
                }],
                now,
            )
        })
        .await
        .unwrap();
    let res = app
        .put(
            &format!("/api/v1/activities/{id}/variants/{}/es", w.m),
            &json!({"body": "Corto"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let variants: Value = res.json().await.unwrap();
    assert!(
        variants[1]["problem"]
            .as_str()
            .is_some_and(|p| p.contains("1000000")),
        "{variants}"
    );
    assert_eq!(review(app, id, &app.editor, "submit").await.status(), 200);
    let problem = expect_problem(review(app, id, &app.admin, "approve").await, 422).await;
    assert_eq!(
        problem["field"], "post_variants[1].media[0].data",
        "{problem}"
    );

    // A variant deleted takes its images with it: made again, it has none.
    let bsky = format!("/api/v1/activities/{id}/variants/{}/es", w.b);
    let res = app
        .client
        .delete(app.url(&bsky))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app
        .put(&bsky, &json!({"body": "Otra vez"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let variants: Value = res.json().await.unwrap();
    assert_eq!(variants[1]["media"], json!([]), "{variants}");
    let left = pregon::db::posts::variant_media(&mut app.db.get().unwrap(), id, w.b, "es").unwrap();
    assert!(left.is_empty());
}
