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
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/ics");
    let good = format!("{fixtures}/apple__macos-rrule-exdate-override.ics");
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

    let broken = format!("{fixtures}/malformed__invalid-dtstart.ics");
    let out = pregon(&url, &["import-ics", &broken, "--organisation", "uraia"]);
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
