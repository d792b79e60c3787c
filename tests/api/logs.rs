//! The real server's pretty log, written to a file as an operator would keep
//! it: untrusted text in a request never starts a line of its own.

use crate::helpers::*;
use std::process::Command;

#[tokio::test]
async fn a_forged_newline_in_a_request_writes_no_log_line() {
    let (url, _guard) = test_database();
    let pregon = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pregon"))
            .args(args)
            .args(["--database", &url])
            .env("RUST_LOG", "warn")
            .env_remove("PREGON__DATABASE__URL")
            .output()
            .expect("run pregon")
    };
    assert!(pregon(&["migrate"]).status.success());
    let out = pregon(&["token", "create", "--role", "viewer", "--name", "ops"]);
    let viewer = String::from_utf8(out.stdout).unwrap().trim().to_owned();
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
        .env("PREGON__LOG__FORMAT", "pretty")
        .env("PREGON__DATABASE__SEED_WHEN_EMPTY", "false")
        .env_remove("PREGON__DATABASE__URL")
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(up, "server did not start");
    let forged =
        "%0A2026-12-01T00:00:00.000000Z%20%20INFO%20forged:%20admin%20signed%20in%0D%1B[2J";
    for path in [
        format!("/api/v1/activities?status={forged}"),
        format!("/api/v1/activities?page={forged}"),
        format!("/api/v1/lists/by-slug/{forged}"),
        format!("/newsletter/confirm/{forged}"),
    ] {
        let res = client
            .get(format!("{base}{path}"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{path}: {}", res.status());
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let logged = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        logged.contains("status=400"),
        "no refused request in:\n{logged}"
    );
    // The forged text is there, escaped, inside the line of its request.
    assert!(
        logged.contains("\\n2026-12-01T00:00:00.000000Z  INFO forged"),
        "{logged}"
    );
    for line in logged.lines() {
        assert!(
            line.starts_with("20")
                && !line.starts_with("2026-12-01T00:00:00.000000Z")
                && !line.contains('\u{1b}')
                && !line.contains('\r'),
            "a forged line in the log:\n{logged}"
        );
    }
}
