//! Runs tests/tools/validate_ics.py (icalendar, vobject, recurring-ical-events and
//! strict line checks) on a rendered feed. Deliberately not skipped when
//! Python is missing: a feed nobody parsed independently is not verified.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use super::super::render;
use super::*;

const INSTALL: &str =
    "install Python 3 and then: pip install icalendar vobject recurring-ical-events";

fn script() -> PathBuf {
    // Shared with the feed integration tests; it installs its parsers
    // (tests/tools/requirements.txt) on first use.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/validate_ics.py")
}

/// Runs the validator; returns (exit code, stdout, stderr).
fn run_validator(files: &[&std::path::Path]) -> (i32, String, String) {
    let out = Command::new("python3")
        .arg(script())
        .args(["--from", "2020-01-01", "--to", "2021-01-01"])
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); {INSTALL}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or(-1);
    assert_ne!(code, 3, "Python packages missing: {stderr}\n{INSTALL}");
    (code, String::from_utf8(out.stdout).unwrap(), stderr)
}

fn occurrences(json: &Value) -> Vec<(String, String, Option<String>, String)> {
    json["files"][0]["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["uid"].as_str().unwrap().to_owned(),
                o["start"].as_str().unwrap().to_owned(),
                o["end"].as_str().map(str::to_owned),
                o["summary"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn sample_feed_passes_independent_parsers_and_expands_as_expected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.ics");
    std::fs::write(&path, render(&sample_feed())).unwrap();

    let (code, stdout, stderr) = run_validator(&[&path]);
    assert_eq!(code, 0, "validator rejected the feed:\n{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(json["files"][0]["events"], 6);
    let occ = occurrences(&json);

    let monthly: Vec<(&str, &str)> = occ
        .iter()
        .filter(|o| o.0 == MONTHLY_UID)
        .map(|o| (o.1.as_str(), o.3.as_str()))
        .collect();
    assert_eq!(
        monthly,
        [
            ("2020-01-15T18:00:00+01:00", "Comité mensual"),
            ("2020-03-15T18:00:00+01:00", "Comité mensual"),
            ("2020-04-15T18:00:00+02:00", "Comité mensual"),
            ("2020-05-16T19:00:00+02:00", "Comité mensual (trasladado)"),
            ("2020-06-15T18:00:00+02:00", "Comité mensual"),
        ],
        "February must be excluded and May moved: {occ:#?}"
    );

    let by_uid = |uid: &str| {
        occ.iter()
            .find(|o| o.0 == uid)
            .unwrap_or_else(|| panic!("{uid} missing: {occ:#?}"))
    };
    let madrid = by_uid("madrid-1@pregon.example");
    assert_eq!(madrid.1, "2020-03-10T10:00:00+01:00");
    assert_eq!(madrid.2.as_deref(), Some("2020-03-10T14:00:00+01:00"));
    assert_eq!(
        madrid.3, TRICKY_TITLE,
        "the parser must unescape to the original title"
    );
    let jnb = by_uid("jnb-1@pregon.example");
    assert_eq!(jnb.1, "2020-05-05T09:00:00+02:00");
    let allday = by_uid("allday-1@pregon.example");
    assert_eq!(
        (allday.1.as_str(), allday.2.as_deref()),
        ("2020-01-31", Some("2020-02-01"))
    );
    let cancelled = json["files"][0]["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["uid"] == "cancelled-1@pregon.example")
        .unwrap();
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(occ.len(), 5 + 4);
    // The VTIMEZONEs themselves were compared with zoneinfo over the months
    // the events span (Madrid: January to mid-June, about 4000 hours).
    let checked = &json["files"][0]["vtimezones_checked"];
    assert!(
        checked["Europe/Madrid"].as_u64().unwrap() > 3500,
        "{checked}"
    );
    assert!(
        checked["Africa/Johannesburg"].as_u64().unwrap() > 2500,
        "{checked}"
    );
}

#[test]
fn validator_rejects_what_it_should() {
    // Without this, a validator that accepts everything would make the test
    // above pass vacuously.
    let good = render(&sample_feed());
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("lf.ics", good.replace("\r\n", "\n"), "bare LF"),
        (
            "long.ics",
            good.replacen(
                "SUMMARY:Cierre de mes",
                &format!("SUMMARY:{}", "x".repeat(80)),
                1,
            ),
            "octets (max 75)",
        ),
        (
            "stamp.ics",
            good.replace("DTSTAMP:20200102T030400Z", "DTSTAMP:20200102T030400"),
            "DTSTAMP must be UTC",
        ),
        (
            "tzid.ics",
            good.replace("TZID=Africa/Johannesburg", "TZID=Africa/Nairobi"),
            "TZID=Africa/Nairobi has no VTIMEZONE",
        ),
        (
            "nouid.ics",
            good.replacen("UID:jnb-1@pregon.example\r\n", "", 1),
            "lacks UID",
        ),
        // Only the dateutil/zoneinfo comparison reads the VTIMEZONE body.
        (
            "vtimezone.ics",
            good.replace(
                "TZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYMONTH=3",
                "TZOFFSETTO:+0300\r\nRRULE:FREQ=YEARLY;BYMONTH=3",
            ),
            "vtimezone Europe/Madrid",
        ),
    ];
    for (name, text, reason) in cases {
        assert_ne!(text, good, "{name}: mutation did not apply");
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let (code, _, stderr) = run_validator(&[&path]);
        assert_eq!(code, 1, "{name} should be rejected; stderr: {stderr}");
        assert!(
            stderr.contains("INVALID") && stderr.contains(reason),
            "{name}: {stderr}"
        );
    }
}
