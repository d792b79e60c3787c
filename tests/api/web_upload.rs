//! The subscriber import as a file upload (`multipart/form-data`) over plain
//! HTTP: the same line errors as the pasted box, nothing imported until every
//! line is right; a UTF-8 file with a byte-order mark and CRLF lines taken as
//! it is; a file over the limit or not UTF-8 refused beside the file field,
//! nothing written; the CSRF token and the editor role checked as for every
//! form.

use crate::helpers::*;
use crate::web::{PASSWORD, WebUser, csrf_of, person, web_sign_in};
use serde_json::json;

const BOUNDARY: &str = "----pregon-test-7d3f";

/// A multipart body: text fields, then the file (`file`) if any.
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
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    b.extend_from_slice(data);
    b.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    b
}

async fn upload(app: &TestApp, user: &WebUser, path: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("cookie", user.cookie_header())
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn subscribers(app: &TestApp) -> i64 {
    app.get_json("/api/v1/subscribers").await["total"]
        .as_i64()
        .unwrap()
}

async fn list(app: &TestApp) -> i64 {
    app.create(
        "/api/v1/lists",
        json!({"slug": "boletin", "name": "Boletín", "public_subscribe": true, "default_language": "es"}),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_csv_file_is_imported_with_the_same_line_errors_as_the_pasted_box() {
    let app = spawn_app().await;
    person(&app, "ane@example.org", "Ane", "editor", "en", PASSWORD).await;
    let mut ane = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    let l = list(&app).await;
    let page = format!("/app/newsletter/lists/{l}");
    let (_, html) = ane.get(&app, &page).await;
    assert!(html.contains("enctype=\"multipart/form-data\""), "{html}");
    assert!(html.contains("type=\"file\""));
    let csrf = csrf_of(&html);
    let import = format!("{page}/import");
    // Bad lines in the file: each listed by number, nothing imported.
    let bad = b"email,name,language\r\nana@example.org,Ana,es\r\nnot-an-address,Bad,es\r\nluc@example.org,Luc,xx\r\n";
    let res = upload(
        &app,
        &ane,
        &import,
        multipart(&[("csrf", &csrf)], Some(("list.csv", bad))),
    )
    .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"line-errors\""), "{html}");
    assert!(html.contains("Line 3") && html.contains("Line 4"), "{html}");
    assert!(!html.contains("Line 2:"), "{html}");
    assert_eq!(subscribers(&app).await, 0);
    // Saved by a spreadsheet: a byte-order mark and CRLF line ends.
    let mut good = b"\xEF\xBB\xBFemail,name,language\r\n".to_vec();
    good.extend_from_slice(
        "ana@example.org,Ana Etxeberria,es\r\nluc@example.org,Luc Martin,fr\r\n".as_bytes(),
    );
    let res = upload(
        &app,
        &ane,
        &import,
        multipart(
            &[
                ("csrf", &csrf),
                ("csv", ""),
                ("confirmed", "1"),
                ("source", "2019 Congress sheet"),
            ],
            Some(("members.csv", &good)),
        ),
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let subs = app.get_json("/api/v1/subscribers").await;
    assert_eq!(subs["total"], 2, "{subs}");
    let emails: Vec<&str> = subs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["email"].as_str().unwrap())
        .collect();
    assert!(emails.contains(&"ana@example.org"), "{emails:?}");
    assert_eq!(subs["items"][0]["subscriptions"][0]["status"], "confirmed");
    // No file chosen: the pasted text is imported, as before.
    let res = upload(
        &app,
        &ane,
        &import,
        multipart(
            &[("csrf", &csrf), ("csv", "email\nmiren@example.org\n")],
            None,
        ),
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(subscribers(&app).await, 3);
}

#[tokio::test]
async fn a_file_too_large_or_not_utf8_is_refused_beside_the_file_field() {
    let app = spawn_app().await;
    person(&app, "ane@example.org", "Ane", "editor", "en", PASSWORD).await;
    let mut ane = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    let l = list(&app).await;
    let page = format!("/app/newsletter/lists/{l}");
    let csrf = csrf_of(&ane.get(&app, &page).await.1);
    let import = format!("{page}/import");
    // Latin-1, as an old spreadsheet might save it.
    let latin1 = b"email,name\nana@example.org,Mar\xeda\n";
    let res = upload(
        &app,
        &ane,
        &import,
        multipart(&[("csrf", &csrf)], Some(("old.csv", latin1))),
    )
    .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    let at = html.find("id=\"err-file\"").expect("beside the file field");
    assert!(html[at..].contains("UTF-8"), "{}", &html[at..]);
    assert_eq!(subscribers(&app).await, 0);
    // Over 5 MB: 413, the page says so beside the file field, nothing read.
    let mut big = b"email\n".to_vec();
    while big.len() <= 5 * 1024 * 1024 {
        big.extend_from_slice(b"someone.with.a.long.address@example.org\n");
    }
    let res = upload(
        &app,
        &ane,
        &import,
        multipart(&[("csrf", &csrf)], Some(("big.csv", &big))),
    )
    .await;
    assert_eq!(res.status(), 413);
    let html = res.text().await.unwrap();
    let at = html.find("id=\"err-file\"").expect("beside the file field");
    assert!(html[at..].contains("5 MB"), "{}", &html[at..]);
    assert_eq!(subscribers(&app).await, 0);
}

#[tokio::test]
async fn an_upload_needs_the_csrf_token_and_the_editor_role() {
    let app = spawn_app().await;
    person(&app, "ane@example.org", "Ane", "editor", "en", PASSWORD).await;
    person(&app, "vic@example.org", "Vic", "viewer", "en", PASSWORD).await;
    let ane = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    let mut vic = web_sign_in(&app, "vic@example.org", PASSWORD).await;
    let l = list(&app).await;
    let import = format!("/app/newsletter/lists/{l}/import");
    let csv: &[u8] = b"email\nana@example.org\n";
    // No token, a wrong one.
    let res = upload(&app, &ane, &import, multipart(&[], Some(("a.csv", csv)))).await;
    assert_eq!(res.status(), 403);
    let res = upload(
        &app,
        &ane,
        &import,
        multipart(
            &[("csrf", "0000000000000000000000000000000000000000")],
            Some(("a.csv", csv)),
        ),
    )
    .await;
    assert_eq!(res.status(), 403);
    // A viewer with a valid token, with a small file and with one too large.
    let csrf = csrf_of(&vic.get(&app, &format!("/app/newsletter/lists/{l}")).await.1);
    let res = upload(
        &app,
        &vic,
        &import,
        multipart(&[("csrf", &csrf)], Some(("a.csv", csv))),
    )
    .await;
    assert_eq!(res.status(), 403);
    let big = vec![b'a'; 5 * 1024 * 1024 + 1];
    let res = upload(
        &app,
        &vic,
        &import,
        multipart(&[("csrf", &csrf)], Some(("a.csv", &big))),
    )
    .await;
    assert_eq!(res.status(), 403);
    // A body that is not multipart at all, though it says so: refused.
    let res = upload(&app, &ane, &import, b"garbage".to_vec()).await;
    assert_eq!(res.status(), 400);
    assert_eq!(subscribers(&app).await, 0);
}
