//! The `pregon` binary itself: subcommands, flags and exit codes.

use crate::helpers::*;
use std::process::{Command, Output};

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

#[test]
fn migrate_seed_and_tokens_from_the_command_line() {
    let (url, _guard) = test_database();
    let out = pregon(&url, &["migrate"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("applied"));

    let out = pregon(&url, &["seed"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("13 activities"), "{}", text(&out));
    let out = pregon(&url, &["seed"]);
    assert!(text(&out).contains("nothing added"), "{}", text(&out));

    let out = pregon(
        &url,
        &[
            "token",
            "create",
            "--role",
            "editor",
            "--name",
            "comms-team",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(secret.starts_with("pgn_") && secret.len() > 40, "{secret}");

    let out = pregon(&url, &["token", "list"]);
    let listing = text(&out);
    assert!(listing.contains("comms-team") && listing.contains("editor"));
    assert!(
        !listing.contains(&secret),
        "the secret must never be listed"
    );

    let out = pregon(&url, &["token", "revoke", "comms-team"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&pregon(&url, &["token", "list"])).contains("revoked"));
}

#[test]
fn bad_input_exits_non_zero_with_a_message() {
    let (url, _guard) = test_database();
    let cases: [&[&str]; 4] = [
        &["token", "create", "--role", "owner", "--name", "x"],
        &["token", "create", "--role", "viewer", "--name", "   "],
        &["token", "revoke", "nobody"],
        &["--config", "/nonexistent/pregon-config", "migrate"],
    ];
    for args in cases {
        let out = pregon(&url, args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let message = String::from_utf8_lossy(&out.stderr);
        assert!(message.contains("error"), "{args:?}: {message}");
    }
}

#[test]
fn import_ics_from_the_command_line() {
    let (url, _guard) = test_database();
    assert!(pregon(&url, &["seed"]).status.success());
    let fixtures = crate::imports::fixtures_dir();
    let good = fixtures
        .join("apple__macos-rrule-exdate-override.ics")
        .display()
        .to_string();
    let out = pregon(&url, &["import-ics", &good, "--organisation", "uraia"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("1 created"), "{said}");
    // The accepted quirk is reported with its line.
    assert!(said.contains(":16: warning:"), "{said}");
    let out = pregon(&url, &["import-ics", &good, "--organisation", "uraia"]);
    assert!(
        text(&out).contains("0 created, 0 updated, 1 unchanged"),
        "{}",
        text(&out)
    );

    let broken = fixtures
        .join("malformed__invalid-dtstart.ics")
        .display()
        .to_string();
    // Its one event is unreadable: skipped and reported with its line...
    let out = pregon(&url, &["import-ics", &broken, "--organisation", "uraia"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("1 skipped") && said.contains("line 6"),
        "{said}"
    );
    // ... and with --strict the file is refused whole.
    let out = pregon(
        &url,
        &["import-ics", &broken, "--organisation", "uraia", "--strict"],
    );
    assert!(!out.status.success());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(
        message.contains("line 6") && message.contains("nothing was imported"),
        "{message}"
    );

    let out = pregon(&url, &["import-ics", &good, "--organisation", "nobody"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no organisation"));
}

/// The real server's log: request lines are there, secrets are not.
#[tokio::test]
async fn logs_never_carry_tokens() {
    let (url, _guard) = test_database();
    assert!(pregon(&url, &["seed"]).status.success());
    let out = pregon(
        &url,
        &["token", "create", "--role", "admin", "--name", "ops"],
    );
    let admin = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_pregon"))
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database",
            &url,
        ])
        .env("RUST_LOG", "info")
        .env("PREGON__LOG__FORMAT", "json")
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(up, "server did not start");
    let created: serde_json::Value = client
        .post(format!("{base}/api/v1/feeds"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "URAIA"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let res = client
        .get(format!("{base}/feeds/{token}.ics?lang=es"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let _ = client
        .get(format!("{base}/feeds/{token}x.ics"))
        .send()
        .await
        .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    let logged = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        logged.contains("/feeds/{token}.ics"),
        "no request line in:\n{logged}"
    );
    assert!(logged.contains("request_id"), "{logged}");
    assert!(
        !logged.contains(&token),
        "the feed token was logged:\n{logged}"
    );
    assert!(
        !logged.contains(&admin),
        "the API token was logged:\n{logged}"
    );
}

/// Settings layer: the config directory's file, then PREGON__… variables, then flags.
#[test]
fn configuration_layers_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("local.toml"),
        format!("[database]\nurl = \"{}\"\n", db("from-file.db")),
    )
    .unwrap();
    let run = |env: Option<&str>, flag: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pregon"));
        cmd.arg("--config").arg(&config).arg("migrate");
        cmd.env_remove("PREGON__DATABASE__URL")
            .env_remove("PREGON_ENV");
        if let Some(url) = env {
            cmd.env("PREGON__DATABASE__URL", url);
        }
        if let Some(url) = flag {
            cmd.args(["--database", url]);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    };
    run(None, None);
    assert!(dir.path().join("from-file.db").exists());
    run(Some(&db("from-env.db")), None);
    assert!(dir.path().join("from-env.db").exists());
    run(Some(&db("from-env.db")), Some(&db("from-flag.db")));
    assert!(dir.path().join("from-flag.db").exists());
}
