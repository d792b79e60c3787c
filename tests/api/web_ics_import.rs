//! Issue #9 leftovers over plain HTTP: the `.ics` import page (a dry run
//! listing what each event would become, written only when confirmed, the
//! same `app::imports` as the API; errors beside their field; the 5 MB limit
//! and CSRF and the editor role as for the CSV upload), and "back to draft"
//! on the activity page (editors, CSRF, in the history with its reason).

use crate::helpers::*;
use crate::web::{PASSWORD, WebUser, csrf_of, malaga_id, person, seeded_with_people, web_sign_in};
use serde_json::{Value, json};

const BOUNDARY: &str = "----pregon-ics-5b1e";
const PAGE: &str = "/app/imports/calendar";

fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut b = Vec::new();
    for (k, v) in fields {
        b.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    let (name, data) = file.unwrap_or(("", b""));
    b.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/calendar\r\n\r\n"
        )
        .as_bytes(),
    );
    b.extend_from_slice(data);
    b.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    b
}

async fn upload(app: &TestApp, user: &WebUser, body: Vec<u8>) -> (u16, String) {
    let res = app
        .client
        .post(app.url(PAGE))
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

/// Two events, the second with no start (skipped, with its line).
const CALENDAR: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//UN-Habitat//x//EN\r\nBEGIN:VEVENT\r\nUID:wuf-2020@unhabitat\r\nDTSTAMP:20200101T000000Z\r\nSEQUENCE:1\r\nDTSTART;TZID=Africa/Johannesburg:20200208T090000\r\nDTEND;TZID=Africa/Johannesburg:20200208T170000\r\nSUMMARY:World Urban Forum <b>side event</b>\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:no-start@unhabitat\r\nDTSTAMP:20200101T000000Z\r\nSUMMARY:Undated\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

async fn external_activities(app: &TestApp) -> Vec<Value> {
    app.get_json("/api/v1/activities?kind=external&per_page=100")
        .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn setup() -> (TestApp, WebUser, WebUser) {
    let app = spawn_app().await;
    let org = app
        .create(
            "/api/v1/organisations",
            json!({"slug": "un-habitat", "name": "UN-Habitat", "kind": "partner"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.create(
        "/api/v1/plans",
        json!({"slug": "p2020", "title": "Plan 2020", "organisation_id": org}),
    )
    .await;
    person(&app, "ane@example.org", "Ane", "editor", "en", PASSWORD).await;
    person(&app, "vic@example.org", "Vic", "viewer", "en", PASSWORD).await;
    let ane = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    let vic = web_sign_in(&app, "vic@example.org", PASSWORD).await;
    (app, ane, vic)
}

#[tokio::test]
async fn a_dry_run_lists_what_each_event_would_become_and_only_the_confirm_writes() {
    let (app, mut ane, _) = setup().await;
    let (status, html) = ane.get(&app, "/app/feeds").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!("href=\"{PAGE}\"")),
        "linked from the feeds page"
    );
    let (status, html) = ane.get(&app, PAGE).await;
    assert_eq!(status, 200);
    assert!(html.contains("enctype=\"multipart/form-data\""), "{html}");
    assert!(html.contains("type=\"file\""));
    assert!(html.contains("<option value=\"un-habitat\">UN-Habitat</option>"));
    assert!(
        !html.contains("value=\"confirm\""),
        "no confirm before a dry run"
    );
    let csrf = csrf_of(&html);
    let fields = [
        ("csrf", csrf.as_str()),
        ("organisation", "un-habitat"),
        ("plan", "p2020"),
        ("lang", "en"),
        ("visibility", "internal"),
        ("ics", ""),
        ("step", "preview"),
    ];

    // The dry run, from a file: what would happen, nothing written.
    let (status, html) = upload(
        &app,
        &ane,
        multipart(&fields, Some(("wuf.ics", CALENDAR.as_bytes()))),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(
            "Dry run, nothing written: 1 would be created, 0 updated, 0 unchanged, 1 skipped."
        ),
        "{html}"
    );
    assert!(html.contains("wuf-2020@unhabitat"));
    assert!(html.contains("no-start@unhabitat"));
    assert!(html.contains("<td>skipped</td>"), "{html}");
    assert!(
        html.contains("value=\"confirm\""),
        "now it can be confirmed"
    );
    // The file's text is in the box, escaped, for the confirm to send.
    assert!(
        html.contains("SUMMARY:World Urban Forum &#60;b&#62;side event&#60;/b&#62;"),
        "{html}"
    );
    assert!(!html.contains("<b>side event</b>"));
    assert!(
        external_activities(&app).await.is_empty(),
        "a dry run writes nothing"
    );

    // Confirmed: the same text, written, with what was done.
    let mut confirm = fields.to_vec();
    confirm.retain(|(k, _)| *k != "ics" && *k != "step");
    confirm.push(("ics", CALENDAR));
    confirm.push(("step", "confirm"));
    let (status, html) = upload(&app, &ane, multipart(&confirm, None)).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Imported: 1 created, 0 updated, 0 unchanged, 1 skipped."),
        "{html}"
    );
    let found = external_activities(&app).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0]["external_uid"], "wuf-2020@unhabitat",
        "{}",
        found[0]
    );

    // The same file again: a dry run says unchanged.
    let (status, html) = upload(
        &app,
        &ane,
        multipart(&fields, Some(("wuf.ics", CALENDAR.as_bytes()))),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("0 would be created, 0 updated, 1 unchanged, 1 skipped"),
        "{html}"
    );
    assert_eq!(external_activities(&app).await.len(), 1);
}

#[tokio::test]
async fn bad_input_is_shown_beside_its_field_and_nothing_is_written() {
    let (app, mut ane, _) = setup().await;
    let csrf = csrf_of(&ane.get(&app, PAGE).await.1);
    let body = |org: &str, ics: &str, file: Option<(&str, &[u8])>| {
        multipart(
            &[
                ("csrf", csrf.as_str()),
                ("organisation", org),
                ("plan", "p2020"),
                ("ics", ics),
            ],
            file,
        )
    };
    // No partner chosen.
    let (status, html) = upload(&app, &ane, body("", CALENDAR, None)).await;
    assert_eq!(status, 422);
    let at = html
        .find("id=\"err-organisation\"")
        .expect("beside the partner");
    assert!(html[at..].contains("Choose the partner"), "{}", &html[at..]);
    // Nothing pasted, no file.
    let (status, html) = upload(&app, &ane, body("un-habitat", "", None)).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"err-ics\""), "{html}");
    // A partner that does not exist.
    let (status, html) = upload(&app, &ane, body("nobody", CALENDAR, None)).await;
    assert_eq!(status, 422);
    let at = html
        .find("id=\"err-organisation\"")
        .expect("beside the partner");
    assert!(html[at..].contains("nobody"), "{}", &html[at..]);
    // A broken calendar: the line named beside the text.
    let broken = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID;X=\"x:y\r\nBEGIN:VEVENT\r\nUID:1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let (status, html) = upload(&app, &ane, body("un-habitat", broken, None)).await;
    assert_eq!(status, 422);
    let at = html.find("id=\"err-ics\"").expect("beside the text");
    assert!(html[at..].contains("line 3"), "{}", &html[at..]);
    // Not UTF-8.
    let latin1 = b"BEGIN:VCALENDAR\r\nSUMMARY:caf\xe9\r\nEND:VCALENDAR\r\n";
    let (status, html) = upload(
        &app,
        &ane,
        body("un-habitat", "", Some(("old.ics", latin1))),
    )
    .await;
    assert_eq!(status, 422);
    let at = html.find("id=\"err-file\"").expect("beside the file");
    assert!(html[at..].contains("UTF-8"), "{}", &html[at..]);
    // Over 5 MB: 413, said beside the file.
    let mut big = CALENDAR.as_bytes().to_vec();
    while big.len() <= 5 * 1024 * 1024 {
        big.extend_from_slice(b"X-FILLER:0123456789012345678901234567890123456789\r\n");
    }
    let (status, html) = upload(&app, &ane, body("un-habitat", "", Some(("big.ics", &big)))).await;
    assert_eq!(status, 413);
    let at = html.find("id=\"err-file\"").expect("beside the file");
    assert!(html[at..].contains("5 MB"), "{}", &html[at..]);
    assert!(external_activities(&app).await.is_empty());
}

#[tokio::test]
async fn the_import_needs_the_csrf_token_and_the_editor_role() {
    let (app, ane, mut vic) = setup().await;
    let fields = |csrf: &str| {
        multipart(
            &[
                ("csrf", csrf),
                ("organisation", "un-habitat"),
                ("ics", CALENDAR),
                ("step", "confirm"),
            ],
            None,
        )
    };
    let (status, _) = upload(&app, &ane, fields("")).await;
    assert_eq!(status, 403);
    let (status, html) = vic.get(&app, PAGE).await;
    assert_eq!(status, 200);
    assert!(
        !html.contains("enctype=\"multipart/form-data\""),
        "no form for a viewer"
    );
    let csrf = csrf_of(&vic.get(&app, "/app/me").await.1);
    let (status, _) = upload(&app, &vic, fields(&csrf)).await;
    assert_eq!(status, 403);
    assert!(external_activities(&app).await.is_empty());
}

#[tokio::test]
async fn back_to_draft_is_an_editors_edit_in_the_history_with_its_reason() {
    let (app, mut ane, mut vic) = seeded_with_people().await;
    let id = malaga_id(&app).await;
    let page = format!("/app/activities/{id}");
    let before = app.get_json(&format!("/api/v1/activities/{id}")).await;
    assert_eq!(before["status"], "tentative");

    // A viewer sees no such control and is refused when posting anyway.
    let (_, html) = vic.get(&app, &page).await;
    assert!(!html.contains(&format!("action=\"{page}/draft\"")));
    let csrf = csrf_of(&html);
    let version = before["version"].to_string();
    let res = vic
        .post(
            &app,
            &format!("{page}/draft"),
            &[("csrf", &csrf), ("version", &version)],
        )
        .await;
    assert_eq!(res.status(), 403);

    let (_, html) = ane.get(&app, &page).await;
    assert!(html.contains(&format!("action=\"{page}/draft\"")), "{html}");
    let csrf = csrf_of(&html);
    // Without the token: refused, nothing changed.
    let res = ane
        .post(&app, &format!("{page}/draft"), &[("version", &version)])
        .await;
    assert_eq!(res.status(), 403);
    // An old version: a conflict, nothing changed.
    let res = ane
        .post(
            &app,
            &format!("{page}/draft"),
            &[("csrf", &csrf), ("version", "0")],
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        app.get_json(&format!("/api/v1/activities/{id}")).await["status"],
        "tentative"
    );

    let res = ane
        .post(
            &app,
            &format!("{page}/draft"),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("reason", "URAIA has not set a date"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        format!("{page}?saved=draft").as_str()
    );
    let after = app.get_json(&format!("/api/v1/activities/{id}")).await;
    assert_eq!(after["status"], "draft");
    assert_eq!(after["title"], before["title"], "nothing else changed");
    assert_eq!(after["translations"], before["translations"]);
    assert_eq!(after["partners"], before["partners"]);
    let history = app
        .get_json(&format!("/api/v1/activities/{id}/history"))
        .await;
    let last = history
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["reason"] == "URAIA has not set a date")
        .unwrap_or_else(|| panic!("{history}"));
    assert!(last.to_string().contains("\"status\""), "{last}");
    let (_, html) = ane.get(&app, &format!("{page}?saved=draft")).await;
    assert!(
        html.contains("De vuelta a borrador."),
        "in Ane's Spanish: {html}"
    );
    assert!(
        !html.contains(&format!("action=\"{page}/draft\"")),
        "a draft already"
    );
    // A draft cannot go back to draft.
    let res = ane
        .post(
            &app,
            &format!("{page}/draft"),
            &[("csrf", &csrf), ("version", &after["version"].to_string())],
        )
        .await;
    assert_eq!(res.status(), 409);
}
