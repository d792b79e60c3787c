//! `pregon backup` and `pregon restore`, on the backend the suite runs on.

use crate::helpers::*;
use pregon::db::Db;
use pregon::http::Application;
use serde_json::json;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn pregon(database: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pregon"))
        .args(args)
        .args(["--database", database])
        .env("RUST_LOG", "warn")
        .env_remove("PREGON__DATABASE__URL")
        .output()
        .expect("run pregon")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What a client sees of a whole install: the public feed, the lists and the
/// change history, byte for byte.
async fn observed(client: &reqwest::Client, base: &str, token: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for path in [
        "/feeds/public.ics",
        "/api/v1/organisations?per_page=500",
        "/api/v1/activities?per_page=500",
        "/api/v1/plans",
        "/api/v1/changes?limit=500",
    ] {
        let res = client
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        out.push(res.bytes().await.unwrap().to_vec());
    }
    out
}

#[tokio::test]
async fn a_backup_taken_while_writes_go_on_restores_into_an_empty_database() {
    let app = spawn_seeded_app().await;
    let dir = tempfile::tempdir().unwrap();
    let url = app.settings.database.url.clone();

    // Writers keep creating organisations while the first backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (client, base, token, stop) = (
            app.client.clone(),
            app.address.clone(),
            app.editor.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let res = client
                    .post(format!("{base}/api/v1/organisations"))
                    .bearer_auth(&token)
                    .json(&json!({"slug": format!("org-{n}"), "name": format!("Org {n}"), "kind": "partner"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201);
                n += 1;
            }
            n
        })
    };
    let during = dir.path().join("during.backup");
    let (u, f) = (url.clone(), during.clone());
    let out = tokio::task::spawn_blocking(move || pregon(&u, &["backup", f.to_str().unwrap()]))
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(written > 0, "no write went on during the backup");

    // The copy taken under writes is consistent: its history chain holds.
    let (fresh, _fresh_guard) = test_database();
    let out = pregon(&fresh, &["restore", during.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let out = pregon(&fresh, &["history", "verify"]);
    assert!(out.status.success(), "{}", text(&out));

    // A database that holds data is not overwritten without --force.
    let out = pregon(&fresh, &["restore", during.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--force"), "{}", text(&out));

    // With the writes over, a backup restored over it with --force serves
    // exactly what the original serves.
    let after = dir.path().join("after.backup");
    let out = pregon(&url, &["backup", after.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let out = pregon(&url, &["backup", after.to_str().unwrap()]);
    assert!(!out.status.success(), "a backup overwrote a file");
    let out = pregon(&fresh, &["restore", "--force", after.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));

    let mut settings = app.settings.clone();
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.public_url = app.settings.server.public_url.clone();
    settings.database.url = fresh.clone();
    let db = Db::connect(&fresh, 2).unwrap();
    let restored = Application::build(settings, db, Arc::new(app.clock.clone())).unwrap();
    let restored_base = format!("http://127.0.0.1:{}", restored.port());
    tokio::spawn(restored.run_until_stopped());

    let original = observed(&app.client, &app.address, &app.admin).await;
    let copy = observed(&app.client, &restored_base, &app.admin).await;
    assert!(
        String::from_utf8_lossy(&original[1]).contains(&format!("org-{}", written - 1)),
        "the last write is missing from the original"
    );
    for (a, b) in original.iter().zip(&copy) {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b),
            "the restored install serves something else"
        );
    }
}
