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
    let out = pregon(
        &url,
        &[
            "user",
            "create",
            "--email",
            "ane@example.org",
            "--name",
            "Ane",
            "--role",
            "viewer",
        ],
    );
    let link = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let link_secret = link.rsplit('/').next().unwrap().to_owned();
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
    // A sign-in link, a session (as bearer and as cookie) and a password.
    let session: serde_json::Value = client
        .post(format!("{base}/api/v1/sign-in/link/{link_secret}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = session["secret"].as_str().unwrap().to_owned();
    let res = client
        .put(format!("{base}/api/v1/me/password"))
        .bearer_auth(&session)
        .json(&serde_json::json!({"password": "a logged password?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client
        .post(format!("{base}/api/v1/sign-in"))
        .json(&serde_json::json!({"email": "ane@example.org", "password": "a wrong password?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = client
        .get(format!("{base}/api/v1/me"))
        .header("cookie", format!("pregon_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    server.kill().unwrap();
    server.wait().unwrap();
    let logged = std::fs::read_to_string(log.path()).unwrap();
    for secret in [
        link_secret.as_str(),
        session.as_str(),
        "a logged password?",
        "a wrong password?",
    ] {
        assert!(!logged.contains(secret), "{secret} was logged:\n{logged}");
    }
    assert!(logged.contains("/api/v1/sign-in/link/{token}"), "{logged}");
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

#[test]
fn user_commands_and_their_exit_codes() {
    let (url, _guard) = test_database();
    assert!(pregon(&url, &["migrate"]).status.success());
    let out = pregon(
        &url,
        &[
            "user",
            "create",
            "--email",
            "Ane@Example.org",
            "--name",
            "Ane",
            "--role",
            "admin",
            "--lang",
            "es",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let link = String::from_utf8(out.stdout.clone())
        .unwrap()
        .trim()
        .to_owned();
    assert!(
        link.starts_with("http://127.0.0.1:8080/sign-in/pgl_") && link.len() > 70,
        "{link}"
    );

    let listing = text(&pregon(&url, &["user", "list"]));
    assert!(
        listing.contains("ane@example.org") && listing.contains("admin"),
        "{listing}"
    );
    assert!(
        listing.contains("seed") && listing.contains("system"),
        "{listing}"
    );

    // A token acting as Ane, at most her role.
    let out = pregon(
        &url,
        &[
            "token",
            "create",
            "--role",
            "editor",
            "--name",
            "ane-cli",
            "--account",
            "ane@example.org",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));

    // Ane is the only administrator: she cannot be demoted or disabled.
    for args in [
        &["user", "set-role", "ane@example.org", "--role", "editor"][..],
        &["user", "disable", "ane@example.org"][..],
    ] {
        let out = pregon(&url, args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            text(&out).contains("last active administrator"),
            "{}",
            text(&out)
        );
    }

    let out = pregon(
        &url,
        &[
            "user",
            "create",
            "--email",
            "bob@example.org",
            "--name",
            "Bob",
            "--role",
            "editor",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = pregon(
        &url,
        &["user", "set-role", "bob@example.org", "--role", "approver"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("approver"));
    let out = pregon(
        &url,
        &[
            "token",
            "create",
            "--role",
            "admin",
            "--name",
            "x",
            "--account",
            "bob@example.org",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("cannot do more than its account"),
        "{}",
        text(&out)
    );
    let out = pregon(&url, &["user", "disable", "bob@example.org"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&pregon(&url, &["user", "list"])).contains("disabled"));

    let failing: [&[&str]; 6] = [
        // The same email again, whatever its case.
        &[
            "user",
            "create",
            "--email",
            "ANE@example.org",
            "--name",
            "A",
            "--role",
            "viewer",
        ],
        &[
            "user",
            "create",
            "--email",
            "not-an-email",
            "--name",
            "A",
            "--role",
            "viewer",
        ],
        &[
            "user",
            "create",
            "--email",
            "c@example.org",
            "--name",
            "C",
            "--role",
            "owner",
        ],
        &["user", "disable", "nobody@example.org"],
        &["user", "set-role", "nobody@example.org", "--role", "viewer"],
        // Above the account's role.
        &[
            "token",
            "create",
            "--role",
            "admin",
            "--name",
            "x",
            "--account",
            "bob@example.org",
        ],
    ];
    for args in failing {
        let out = pregon(&url, args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("error"),
            "{args:?}"
        );
    }
}
