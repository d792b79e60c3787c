//! What the subscriber sees, against the real SMTP test server: names with
//! fallbacks everywhere (subject, HTML title, body), the unsubscribe link of
//! the sent message followed as a browser and a mail client would, one-click
//! scoped to the issue's lists while the page's "all lists" means all, the
//! confirmation pages in the subscriber's language, and a public form that
//! answers before it looks at the address.

use crate::helpers::*;
use crate::mail::*;
use mail_parser::MessageParser;
use pregon::db::DbConnection;
use serde_json::{Value, json};

fn parse(data: &[u8]) -> mail_parser::Message<'_> {
    MessageParser::default()
        .parse(data)
        .expect("a MIME message")
}

/// `https://pregon.test/…` → the same path on the test server.
fn local(mail: &Mail, url: &str) -> String {
    mail.app
        .url(url.strip_prefix("https://pregon.test").unwrap())
}

/// The value of `attribute="…"` in `tag`, HTML entities of URLs undone.
fn attribute(tag: &str, attribute: &str) -> Option<String> {
    let start = tag.find(&format!("{attribute}=\""))? + attribute.len() + 2;
    let end = start + tag[start..].find('"')?;
    Some(tag[start..end].replace("&amp;", "&"))
}

/// The `href` of the link whose text is `label`.
fn link_to(html: &str, label: &str) -> Option<String> {
    let at = html.find(&format!(">{label}</a>"))?;
    let open = html[..at].rfind("<a ")?;
    attribute(&html[open..at], "href")
}

/// The form around the button that reads `label`: its action (relative to
/// `page_url`) and its fields (hidden inputs, checked boxes, selected options).
fn form_with_button(html: &str, label: &str, page_url: &str) -> (String, Vec<(String, String)>) {
    let at = html.find(label).expect("the button");
    let open = html[..at].rfind("<form").expect("its form");
    let close = open + html[open..].find("</form>").expect("form end");
    let form = &html[open..close];
    let head = &form[..form.find('>').unwrap()];
    let action = match attribute(head, "action") {
        None => page_url.to_owned(),
        Some(a) if a.starts_with("http") => a,
        Some(a) => reqwest::Url::parse(page_url)
            .unwrap()
            .join(&a)
            .unwrap()
            .to_string(),
    };
    let mut fields = Vec::new();
    for input in form.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap()];
        let kind = attribute(tag, "type").unwrap_or_default();
        if (kind == "hidden" || (kind == "checkbox" && tag.contains(" checked")))
            && let (Some(name), Some(value)) = (attribute(tag, "name"), attribute(tag, "value"))
        {
            fields.push((name, value));
        }
    }
    (action, fields)
}

async fn issue_with(mail: &Mail, lists: &[i64], translations: Value) -> i64 {
    let id = mail
        .app
        .create(
            "/api/v1/issues",
            json!({"name": "Boletín", "list_ids": lists, "translations": translations}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    mail.app.approve(&format!("/api/v1/issues/{id}")).await;
    id
}

fn html_part(message: &mail_parser::Message<'_>) -> String {
    message.body_html(0).expect("an HTML part").into_owned()
}

#[tokio::test]
async fn names_take_their_fallback_in_the_subject_the_title_and_the_body() {
    let mail = spawn_mail_app().await;
    let list = mail.list("members").await;
    mail.confirmed(list, "zoe@example.org", "Zoé", "fr").await;
    // No name at all.
    let res = mail
        .app
        .post(
            "/api/v1/subscribers",
            &json!({"email": "anon@example.org", "language": "fr", "list_ids": [list],
                    "status": "confirmed", "source": "press accreditation"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let issue = issue_with(
        &mail,
        &[list],
        json!({"fr": {"subject": "Bonjour {{name|à tous}} ! Nouvelles pour {{name}}",
                      "body": "# Bonjour {{ name | à tous }}\n\nChère {{name|voisine}}, voici les nouvelles."}}),
    )
    .await;
    mail.send(issue).await;
    mail.run().await;

    let anon = mail.received_by("anon@example.org");
    assert_eq!(anon.len(), 1);
    let message = parse(&anon[0].data);
    assert_eq!(message.subject(), Some("Bonjour à tous ! Nouvelles pour"));
    let html = html_part(&message);
    assert!(
        html.contains("<title>Bonjour à tous ! Nouvelles pour</title>"),
        "{html}"
    );
    assert!(html.contains("<h1>Bonjour à tous</h1>"), "{html}");
    assert!(html.contains("Chère voisine, voici"), "{html}");
    let text = message.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(
        text.starts_with("Bonjour à tous\n==============\n\nChère voisine, voici"),
        "{text}"
    );

    let zoe_data = mail.received_by("zoe@example.org")[0].data.clone();
    let zoe = parse(&zoe_data);
    assert_eq!(zoe.subject(), Some("Bonjour Zoé ! Nouvelles pour Zoé"));
    let html = html_part(&zoe);
    assert!(
        html.contains("<title>Bonjour Zoé ! Nouvelles pour Zoé</title>"),
        "{html}"
    );
    assert!(html.contains("<h1>Bonjour Zoé</h1>"), "{html}");
    assert!(html.contains("Chère Zoé, voici"), "{html}");
}

/// The HTML as a 375 px wide screen lays it out: the page's width as
/// Chromium measures it, and a screenshot. Headless Chromium keeps windows at
/// least 500 px wide, so the email is shown in a 375 px frame (its own
/// viewport, as a phone's) inside a wider page.
fn chromium_at_375(html: &str, screenshot: &std::path::Path) -> u32 {
    let dir = tempfile::tempdir().unwrap();
    let srcdoc = html.replace('&', "&amp;").replace('"', "&quot;");
    let page = dir.path().join("phone.html");
    std::fs::write(
        &page,
        format!(
            "<!DOCTYPE html><html><head><title>loading</title></head>\
             <body style=\"margin:0;background:#888\">\
             <iframe id=\"phone\" style=\"width:375px;height:1400px;border:0;display:block\" \
             onload=\"document.title = 'width=' + this.contentDocument.documentElement.scrollWidth\" \
             srcdoc=\"{srcdoc}\"></iframe></body></html>"
        ),
    )
    .unwrap();
    let chromium = |arg: &str| {
        let out = std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                &format!("--user-data-dir={}", dir.path().join("profile").display()),
                "--window-size=375,1400",
                arg,
            ])
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("chromium (Debian package chromium; .ci/run installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let dom = chromium("--dump-dom");
    chromium(&format!("--screenshot={}", screenshot.display()));
    let png = std::fs::read(screenshot).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let start = dom.find("<title>width=").expect("the measured width") + 13;
    dom[start..start + dom[start..].find('<').unwrap()]
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_unsubscribe_link_of_the_sent_html_works_and_the_layout_holds_at_375_px() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    let ana = mail
        .confirmed(list, "ana@example.org", "Ana María de las Mercedes", "es")
        .await;
    let issue = issue_with(
        &mail,
        &[list],
        json!({"es": {"subject": "Boletín de marzo, {{name}}",
                      "body": "# Hola {{name}}\n\nEl **Estudio de Ciudades Inteligentes**, 3.ª edición, ya está publicado: https://pregon.example/estudios/ciudades_inteligentes_tercera_edicion_informe_completo_con_anexos_y_datos_abiertos.pdf\n\n- Pleno del Congreso en Durban\n- Encuentro anual de URAIA en Málaga\n"}}),
    )
    .await;
    mail.send(issue).await;
    mail.run().await;
    let received = mail.received_by("ana@example.org")[0].data.clone();
    let message = parse(&received);
    let html = html_part(&message);

    // The footer's link is a real one, signed for Ana and this issue.
    let url = link_to(&html, "Darse de baja").expect("an unsubscribe link in the HTML");
    assert!(
        url.starts_with("https://pregon.test/newsletter/unsubscribe/"),
        "{url}"
    );
    let text = message.body_text(0).unwrap();
    assert!(text.contains(&format!("Darse de baja: {url}")), "{text}");

    // Layout: nothing wider than a 375 px phone.
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let width = chromium_at_375(&html, &shots.join("newsletter-375.png"));
    assert!(width <= 375, "the email is {width} px wide at 375 px");

    // Followed in a browser: the preferences page, nothing changed yet.
    let page = app.client.get(local(&mail, &url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let view = app.get_json(&format!("/api/v1/subscribers/{ana}")).await;
    assert_eq!(view["subscriptions"][0]["status"], "confirmed");
    // Posted by a mail client (RFC 8058): unsubscribed.
    let res = app
        .client
        .post(local(&mail, &url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let view = app.get_json(&format!("/api/v1/subscribers/{ana}")).await;
    assert_eq!(view["subscriptions"][0]["status"], "unsubscribed");
}

#[tokio::test]
async fn one_click_leaves_the_issues_lists_and_all_lists_means_all() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let members = mail.list("members").await;
    let press = mail.list("press").await;
    let ana = mail
        .confirmed(members, "ana@example.org", "Ana", "es")
        .await;
    let res = app
        .post(
            "/api/v1/subscribers",
            &json!({"email": "ana@example.org", "language": "es", "list_ids": [press],
                    "status": "confirmed", "source": "press accreditation"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let statuses = |view: &Value| -> Vec<(i64, String)> {
        view["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["list_id"].as_i64().unwrap(),
                    s["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };

    let to_members = mail.issue(&[members], None).await;
    mail.send(to_members).await;
    mail.run().await;
    let first = mail.received_by("ana@example.org")[0].data.clone();
    let message = parse(&first);
    let url = link_to(&html_part(&message), "Darse de baja").unwrap();
    let res = app
        .client
        .post(local(&mail, &url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let view = app.get_json(&format!("/api/v1/subscribers/{ana}")).await;
    assert_eq!(
        statuses(&view),
        [
            (members, "unsubscribed".to_owned()),
            (press, "confirmed".to_owned())
        ]
    );

    // The press list still gets its issues.
    let to_press = mail.issue(&[press], None).await;
    assert_eq!(mail.send(to_press).await["queued"], 1);
    mail.run().await;
    let second_data = mail.received_by("ana@example.org")[1].data.clone();
    let second = parse(&second_data);
    let url = link_to(&html_part(&second), "Darse de baja").unwrap();

    // The preferences page's "everything" button leaves every list, also
    // those the link's issue did not go to.
    let page_url = local(&mail, &url);
    let page = app
        .client
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (action, fields) = form_with_button(&page, "Darme de baja de todo", &page_url);
    let res = app.client.post(&action).form(&fields).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let view = app.get_json(&format!("/api/v1/subscribers/{ana}")).await;
    assert_eq!(
        statuses(&view),
        [
            (members, "unsubscribed".to_owned()),
            (press, "unsubscribed".to_owned())
        ]
    );
    // Each change is in the history, on the subscriber's word.
    let mut conn = app.db.get().unwrap();
    let history = pregon::app::history::of_record(&mut conn, "subscriber", ana).unwrap();
    let by_link = history
        .iter()
        .filter(|e| e.reason.as_deref() == Some("by the subscriber, through their own link"))
        .count();
    assert_eq!(by_link, 2, "{history:?}");
}

#[tokio::test]
async fn confirmation_pages_speak_the_subscribers_language_and_confirming_is_history() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    mail.list("members").await;
    let res = app
        .client
        .post(app.url("/newsletter/subscribe"))
        .json(&json!({"email": "zoe@example.org", "language": "fr", "lists": ["members"], "consent": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let id = wait_for_subscriber(app, "zoe@example.org").await;
    mail.run().await;
    let confirmation_data = mail.received_by("zoe@example.org")[0].data.clone();
    let confirmation = parse(&confirmation_data);
    let text = confirmation.body_text(0).unwrap().into_owned();
    let url = text
        .split_whitespace()
        .find(|w| w.starts_with("https://pregon.test/newsletter/confirm/"))
        .expect("a confirmation link")
        .to_owned();

    let page = app.client.get(local(&mail, &url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"fr\""), "{html}");
    assert!(html.contains("Confirmez votre abonnement"), "{html}");
    let res = app.client.post(local(&mail, &url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Abonnement confirmé"), "{html}");
    let view = app.get_json(&format!("/api/v1/subscribers/{id}")).await;
    assert_eq!(view["subscriptions"][0]["status"], "confirmed");

    let mut conn = app.db.get().unwrap();
    let history = pregon::app::history::of_record(&mut conn, "subscriber", id).unwrap();
    let reasons: Vec<Option<&str>> = history.iter().map(|e| e.reason.as_deref()).collect();
    assert_eq!(
        reasons,
        [
            Some("public subscription form"),
            Some("by the subscriber, through their own link")
        ],
        "{history:?}"
    );
    // The address and the name are not in it.
    let all = format!("{history:?}");
    assert!(!all.contains("zoe@example.org"), "{all}");
}

/// Waits until the public form's work for `email` is done (the form answers
/// first and subscribes afterwards, one request after the other in order, so
/// this also means every earlier request is done).
pub async fn wait_for_subscriber(app: &TestApp, email: &str) -> i64 {
    for _ in 0..500 {
        let found = app
            .get_json(&format!("/api/v1/subscribers?email={email}"))
            .await;
        if let Some(id) = found["items"]
            .as_array()
            .and_then(|items| items.iter().find(|s| s["email"] == email))
            .and_then(|s| s["id"].as_i64())
        {
            return id;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{email} was never subscribed");
}

/// Waits until every public form request made so far is done, by sending
/// one more (for a fresh address, to `list`) and waiting for it.
pub async fn public_form_done(app: &TestApp, list: &str) {
    let marker = format!("done-{}@example.org", uuid::Uuid::new_v4().simple());
    let res = app
        .client
        .post(app.url("/newsletter/subscribe"))
        .json(&json!({"email": marker, "lists": [list], "consent": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    wait_for_subscriber(app, &marker).await;
}

/// Holds the write lock of the subscriber tables from another connection
/// until the returned sender is dropped or sent to.
fn hold_subscriber_writes(
    app: &TestApp,
) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    use diesel::connection::SimpleConnection;
    let db = app.db.clone();
    let (locked_tx, locked) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let mut conn = db.get().unwrap();
        match &mut *conn {
            DbConnection::Sqlite(c) => c.batch_execute("BEGIN IMMEDIATE").unwrap(),
            DbConnection::Postgres(c) => c
                .batch_execute("BEGIN; LOCK TABLE subscribers, subscriptions IN EXCLUSIVE MODE")
                .unwrap(),
        }
        locked_tx.send(()).unwrap();
        let _ = released.recv();
        conn.batch_execute("ROLLBACK").unwrap();
    });
    locked.recv().unwrap();
    (release, holder)
}

#[tokio::test]
async fn the_public_form_answers_before_it_looks_at_the_address() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    mail.confirmed(list, "known@example.org", "Known", "es")
        .await;
    mail.confirmed(list, "bounced@example.org", "Bounced", "es")
        .await;
    let res = app
        .post(
            "/api/v1/bounces",
            &json!({"email": "bounced@example.org", "kind": "hard"}),
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());

    // Nothing about subscribers can be written (or, on PostgreSQL, locked)
    // while the form answers: if answering depended on reading or writing
    // the address, it could not answer now. (A guard against a hang, not a
    // timing: a form that waits for the lock fails here.)
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    let (release, holder) = hold_subscriber_writes(app);
    let mut answers = Vec::new();
    for email in [
        "known@example.org",
        "bounced@example.org",
        "new@example.org",
    ] {
        let res = client
            .post(app.url("/newsletter/subscribe"))
            .json(&json!({"email": email, "name": "X", "lists": ["members"], "consent": true}))
            .send()
            .await
            .expect("an answer while the subscriber tables are locked");
        let status = res.status();
        let mut headers: Vec<(String, String)> = res
            .headers()
            .iter()
            .filter(|(k, _)| !["date", "x-request-id"].contains(&k.as_str()))
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        answers.push((status, headers, res.bytes().await.unwrap()));
    }
    release.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(answers[0].0, 202);
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], answers[2]);

    // The work happens afterwards: the new address gets its confirmation,
    // the others nothing new.
    wait_for_subscriber(app, "new@example.org").await;
    mail.run().await;
    assert_eq!(mail.received_by("new@example.org").len(), 1);
    assert!(mail.received_by("known@example.org").is_empty());
    assert!(mail.received_by("bounced@example.org").is_empty());

    // A list that is not public is refused before anything, whatever the address.
    let res = client
        .post(app.url("/newsletter/subscribe"))
        .json(&json!({"email": "new@example.org", "lists": ["nope"], "consent": true}))
        .send()
        .await
        .unwrap();
    expect_problem(res, 422).await;
}
