//! The web interface over plain HTTP: headers, the vendored htmx, CSRF,
//! roles, languages and the edit form's errors. What needs a browser (scripts
//! that must not run, accessibility, the keyboard) is in `browser.rs`.

use crate::helpers::*;
use serde_json::{Value, json};
use sha2::Digest;

/// A person with a password, signed in on the web: their cookies.
pub struct WebUser {
    pub cookies: Vec<(String, String)>,
}

impl WebUser {
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&mut self, res: &reqwest::Response) {
        for value in res.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
    }

    pub async fn get(&mut self, app: &TestApp, path: &str) -> (u16, String) {
        let res = app
            .client
            .get(app.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.absorb(&res);
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    }

    pub async fn post(
        &mut self,
        app: &TestApp,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let res = app
            .client
            .post(app.url(path))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.absorb(&res);
        res
    }
}

/// The value of the first `name="csrf"` hidden field of a page.
pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Creates a person (as the admin token) and gives them a password.
pub async fn person(
    app: &TestApp,
    email: &str,
    name: &str,
    role: &str,
    lang: &str,
    password: &str,
) -> i64 {
    let res = app
        .client
        .post(app.url("/api/v1/accounts"))
        .bearer_auth(&app.admin)
        .json(&json!({"email": email, "name": name, "role": role, "language": lang}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    let id = body["id"].as_i64().unwrap_or_else(|| panic!("{body}"));
    let now = app.clock_now();
    let settings = app.settings.accounts.clone();
    let secret = app
        .db
        .transaction(move |c| {
            let account = pregon::db::accounts::get(c, id)?;
            pregon::app::sessions::create_link(now, c, &account, &settings)
        })
        .await
        .unwrap();
    let session: Value = app
        .client
        .post(app.url(&format!("/api/v1/sign-in/link/{secret}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = app
        .client
        .put(app.url("/api/v1/me/password"))
        .bearer_auth(session["secret"].as_str().unwrap())
        .json(&json!({ "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    id
}

/// Signs in on the web page with a password, as a browser would.
pub async fn web_sign_in(app: &TestApp, email: &str, password: &str) -> WebUser {
    let mut user = WebUser {
        cookies: Vec::new(),
    };
    let (status, page) = user.get(app, "/app/sign-in").await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&page);
    let res = user
        .post(
            app,
            "/app/sign-in",
            &[
                ("csrf", &csrf),
                ("email", email),
                ("password", password),
                ("next", "/app"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert!(user.cookies.iter().any(|(k, _)| k == "pregon_session"));
    user
}

pub const PASSWORD: &str = "correct horse battery staple";

pub async fn seeded_with_people() -> (TestApp, WebUser, WebUser) {
    let app = spawn_seeded_app().await;
    person(
        &app,
        "ane@example.org",
        "Ane Editor",
        "editor",
        "es",
        PASSWORD,
    )
    .await;
    person(
        &app,
        "vic@example.org",
        "Vic Viewer",
        "viewer",
        "fr",
        PASSWORD,
    )
    .await;
    let e = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    let v = web_sign_in(&app, "vic@example.org", PASSWORD).await;
    (app, e, v)
}

pub async fn malaga_id(app: &TestApp) -> i64 {
    let all = app.get_json("/api/v1/activities?per_page=100").await;
    all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["place"]["name"] == "Málaga, Spain")
        .expect("the Málaga event")["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn pages_have_a_strict_policy_and_refuse_framing() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/app/sign-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
    let html = res.text().await.unwrap();
    // No inline script or style: every script has a src.
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains(" style="), "{html}");
    assert!(!html.contains(" onclick="), "{html}");
}

#[tokio::test]
async fn htmx_is_vendored_under_its_content_hash_and_cached_for_a_year() {
    let app = spawn_app().await;
    let html = app
        .client
        .get(app.url("/app/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = html.find("/assets/htmx.").expect("htmx script tag");
    let src = &html[at..at + html[at..].find('"').unwrap()];
    let res = app.client.get(app.url(src)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let body = res.bytes().await.unwrap();
    assert!(std::str::from_utf8(&body).unwrap().contains("htmx"));
    let hash = hex::encode(&sha2::Sha256::digest(&body)[..8]);
    assert_eq!(src, format!("/assets/htmx.{hash}.min.js"));
    // The pinned release, byte for byte as the npm package htmx.org@2.0.11 ships it.
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&body)),
        "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
    );
    let stale = app
        .client
        .get(app.url("/assets/htmx.0000000000000000.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 404);
}

#[tokio::test]
async fn team_pages_send_strangers_to_the_sign_in_page() {
    let app = spawn_app().await;
    for path in [
        "/app",
        "/app/agenda",
        "/app/calendar",
        "/app/activities/1",
        "/app/feeds",
    ] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 303, "{path}");
        let to = res.headers()["location"].to_str().unwrap();
        assert!(to.starts_with("/app/sign-in?next="), "{path} → {to}");
    }
}

#[tokio::test]
async fn a_wrong_password_is_refused_on_the_page() {
    let app = spawn_app().await;
    person(&app, "ane@example.org", "Ane", "editor", "es", PASSWORD).await;
    let mut user = WebUser {
        cookies: Vec::new(),
    };
    let (_, page) = user.get(&app, "/app/sign-in?lang=es").await;
    let csrf = csrf_of(&page);
    let res = user
        .post(
            &app,
            "/app/sign-in",
            &[
                ("csrf", &csrf),
                ("email", "ane@example.org"),
                ("password", "wrong one"),
            ],
        )
        .await;
    assert_eq!(res.status(), 401);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Correo o contraseña incorrectos")
    );
    assert!(!user.cookies.iter().any(|(k, _)| k == "pregon_session"));
}

#[tokio::test]
async fn every_form_is_refused_without_its_csrf_token() {
    let (app, mut editor, _) = seeded_with_people().await;
    let id = malaga_id(&app).await;
    let before = app.get_json(&format!("/api/v1/activities/{id}")).await;
    let edit = format!("/app/activities/{id}/edit");
    let form = [
        ("version", before["version"].to_string()),
        ("timing.precision", "days".to_owned()),
        ("timing.start", "2020-10-08".to_owned()),
    ];
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // No token, a wrong one, and the right one sent from another site.
    let res = editor.post(&app, &edit, &pairs).await;
    assert_eq!(res.status(), 403);
    // Ane reads Spanish: "Este formulario ha caducado".
    assert!(res.text().await.unwrap().contains("formulario"));
    let mut wrong = pairs.clone();
    wrong.push(("csrf", "0000000000000000000000000000000000000000"));
    assert_eq!(editor.post(&app, &edit, &wrong).await.status(), 403);
    let (_, page) = editor.get(&app, &edit).await;
    let csrf = csrf_of(&page);
    let mut right = pairs.clone();
    right.push(("csrf", &csrf));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&right)
        .finish();
    let cross = app
        .client
        .post(app.url(&edit))
        .header("cookie", editor.cookie_header())
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let after = app.get_json(&format!("/api/v1/activities/{id}")).await;
    assert_eq!(after["version"], before["version"], "nothing was written");
    // The other forms too: sign-in, sign-in link, review, sign-out, public sign-up.
    for path in [
        "/app/sign-in".to_owned(),
        "/app/sign-in/link".to_owned(),
        format!("/app/activities/{id}/review"),
        "/app/sign-out".to_owned(),
        "/app/feeds/1/rotate".to_owned(),
        "/newsletter/signup".to_owned(),
    ] {
        let res = editor
            .post(
                &app,
                &path,
                &[("action", "submit"), ("email", "x@example.org")],
            )
            .await;
        assert_eq!(res.status(), 403, "{path}");
    }
    let review = app
        .get_json(&format!("/api/v1/activities/{id}/review"))
        .await;
    assert_eq!(review["state"], before_review_state(&app, id).await);
    // With its token the same edit goes through.
    let res = editor.post(&app, &edit, &right).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
}

async fn before_review_state(app: &TestApp, id: i64) -> Value {
    app.get_json(&format!("/api/v1/activities/{id}/review"))
        .await["state"]
        .clone()
}

#[tokio::test]
async fn a_viewer_sees_no_edit_controls_and_is_refused_when_posting_anyway() {
    let (app, mut editor, mut viewer) = seeded_with_people().await;
    let id = malaga_id(&app).await;
    let page = format!("/app/activities/{id}");
    let (status, html) = viewer.get(&app, &page).await;
    assert_eq!(status, 200);
    assert!(!html.contains("/edit\""), "a viewer sees an edit link");
    assert!(
        !html.contains("name=\"action\""),
        "a viewer sees review buttons"
    );
    // The editor sees the edit link.
    let (_, html) = editor.get(&app, &page).await;
    assert!(html.contains(&format!("/app/activities/{id}/edit")));
    let (status, _) = viewer.get(&app, &format!("{page}/edit")).await;
    assert_eq!(status, 403);
    let before = app.get_json(&format!("/api/v1/activities/{id}")).await;
    let csrf = csrf_of(&viewer.get(&app, &page).await.1);
    let version = before["version"].to_string();
    let res = viewer
        .post(
            &app,
            &format!("{page}/edit"),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("timing.precision", "days"),
                ("timing.start", "2020-10-08"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = viewer
        .post(
            &app,
            &format!("{page}/review"),
            &[("csrf", &csrf), ("action", "submit")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = viewer
        .post(&app, "/app/feeds/1/rotate", &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), 403);
    let (status, _) = viewer.get(&app, "/app/accounts").await;
    assert_eq!(status, 403);
    let after = app.get_json(&format!("/api/v1/activities/{id}")).await;
    assert_eq!(after["version"], before["version"]);
}

#[tokio::test]
async fn a_bad_date_is_shown_beside_its_field_and_nothing_is_written() {
    let (app, mut editor, _) = seeded_with_people().await;
    let id = malaga_id(&app).await;
    let edit = format!("/app/activities/{id}/edit");
    let (_, page) = editor.get(&app, &format!("{edit}?lang=en")).await;
    let csrf = csrf_of(&page);
    let before = app.get_json(&format!("/api/v1/activities/{id}")).await;
    let version = before["version"].to_string();
    let res = editor
        .post(
            &app,
            &edit,
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("timing.precision", "days"),
                ("timing.start", "2020-13-45"),
                ("translations.en.title", "Renamed"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    let at = html
        .find("id=\"err-start\"")
        .expect("the error beside the start field");
    assert!(html[at..].contains("2020-13-45"), "{}", &html[at..at + 200]);
    // What was typed stays in the form.
    assert!(html.contains("value=\"2020-13-45\""));
    assert!(html.contains("value=\"Renamed\""));
    let after = app.get_json(&format!("/api/v1/activities/{id}")).await;
    assert_eq!(after["version"], before["version"]);
    assert_eq!(after["timing"], json!({"precision": "tbc"}));
}

#[tokio::test]
async fn the_language_follows_the_switch_the_account_and_the_browser() {
    let (app, mut editor, mut viewer) = seeded_with_people().await;
    // Accounts' preferences: Ane es, Vic fr.
    assert!(
        editor
            .get(&app, "/app/agenda")
            .await
            .1
            .contains("Fecha por confirmar")
    );
    assert!(
        viewer
            .get(&app, "/app/agenda")
            .await
            .1
            .contains("Date à confirmer")
    );
    // The switch wins, and is remembered.
    let (_, html) = viewer.get(&app, "/app/agenda?lang=en").await;
    assert!(html.contains("Date to be confirmed") && html.contains("<html lang=\"en\">"));
    assert!(
        viewer
            .get(&app, "/app/agenda")
            .await
            .1
            .contains("Date to be confirmed")
    );
    // Strangers: Accept-Language.
    let res = app
        .client
        .get(app.url("/app/sign-in"))
        .header("accept-language", "fr-FR,fr;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("Se connecter") && html.contains("<html lang=\"fr\">"));
    // Every page offers the switch.
    for lang in ["es", "en", "fr"] {
        assert!(html.contains(&format!("hreflang=\"{lang}\"")));
    }
}

#[tokio::test]
async fn the_malaga_event_is_to_be_confirmed_everywhere_never_on_a_made_up_day() {
    let (app, mut editor, _) = seeded_with_people().await;
    let id = malaga_id(&app).await;
    let (_, agenda) = editor.get(&app, "/app/agenda?lang=en").await;
    let at = agenda.find(&format!("/app/activities/{id}\"")).unwrap();
    let item_start = agenda[..at].rfind("<li").unwrap();
    assert!(agenda[item_start..at].contains("item-tbc"));
    assert!(agenda[item_start..at].contains("Date to be confirmed"));
    let (_, page) = editor
        .get(&app, &format!("/app/activities/{id}?lang=en"))
        .await;
    assert!(page.contains("Date to be confirmed"));
    // Tentative and TBC items are counted on the overview, as links.
    let (_, overview) = editor.get(&app, "/app?lang=en").await;
    assert!(overview.contains("when=tbc"));
    assert!(overview.contains("status=tentative"));
    let (_, tbc) = editor.get(&app, "/app/agenda?lang=en&when=tbc").await;
    assert!(tbc.contains(&format!("/app/activities/{id}\"")));
    // The Mayor of Bilbao represents Bilbao on the panel's page.
    let all = app.get_json("/api/v1/activities?per_page=100").await;
    let panel = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Using urban innovation to listen to citizens")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (_, page) = editor
        .get(&app, &format!("/app/activities/{panel}?lang=en"))
        .await;
    assert!(
        page.contains("Juan Mari Aburto, Mayor of Bilbao — represents City of Bilbao"),
        "{page}"
    );
}

#[tokio::test]
async fn the_public_agenda_offers_calendar_subscriptions_in_the_visitors_language() {
    let app = spawn_seeded_app().await;
    let plans = app.get_json("/api/v1/plans").await;
    let slug = plans["items"][0]["slug"].as_str().unwrap().to_owned();
    let res = app
        .client
        .get(app.url(&format!("/public/{slug}")))
        .header("accept-language", "es")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Suscribirse a este calendario"));
    assert!(html.contains("webcal://"));
    assert!(html.contains("https://calendar.google.com/calendar/render?cid=webcal"));
    assert!(html.contains("https://outlook.live.com/calendar/0/addfromweb?url="));
    assert!(html.contains("/feeds/public.ics?lang=es"));
    let missing = app
        .client
        .get(app.url("/public/no-such-plan"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// The `href` of the link marked `rel="{rel}"`, unescaped.
fn rel_link(html: &str, rel: &str) -> Option<String> {
    let at = html.find(&format!("\" rel=\"{rel}\""))?;
    let start = html[..at].rfind("href=\"")? + "href=\"".len();
    Some(html[start..at].replace("&amp;", "&").replace("&#38;", "&"))
}

#[tokio::test]
async fn the_agenda_is_paged_and_a_crowded_day_links_to_the_rest() {
    let app = spawn_app().await;
    let f = crate::activities::fixture(&app).await;
    person(&app, "ane@example.org", "Ane", "editor", "en", PASSWORD).await;
    let mut ane = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    let titled = |timing: Value, title: String| {
        let mut body = crate::activities::activity(&f, timing);
        body["translations"] = json!({"en": {"title": title}});
        body
    };
    // 105 items on one crowded day, and 25 whose date is to be confirmed.
    for i in 0..105 {
        let at = format!("2020-03-10T{:02}:{:02}", 8 + i / 60, i % 60);
        let end = format!("2020-03-10T{:02}:{:02}", 9 + i / 60, i % 60);
        let timing =
            json!({"precision": "exact", "start": at, "end": end, "time_zone": "Europe/Madrid"});
        app.create("/api/v1/activities", titled(timing, format!("Item {i:03}")))
            .await;
    }
    for i in 0..25 {
        app.create(
            "/api/v1/activities",
            titled(json!({"precision": "tbc"}), format!("Undated {i:02}")),
        )
        .await;
    }

    // A hundred a page, in date order, undated last; the links keep the filters.
    let (status, first) = ane
        .get(
            &app,
            &format!("/app/agenda?plan={}&kind=event&lang=en", f.plan),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(first.matches(">Item ").count(), 100, "{first}");
    assert!(first.contains(">Item 000<") && !first.contains(">Item 100<"));
    assert!(first.contains("Page 1 of 2"));
    assert!(rel_link(&first, "prev").is_none());
    let next = rel_link(&first, "next").expect("a link to the next page");
    assert!(
        next.contains("kind=event") && next.contains("page=2"),
        "{next}"
    );
    let (_, second) = ane.get(&app, &next).await;
    assert_eq!(second.matches(">Item ").count(), 5);
    assert_eq!(second.matches(">Undated ").count(), 25);
    assert!(second.contains("Page 2 of 2"));
    assert!(rel_link(&second, "next").is_none());
    assert!(rel_link(&second, "prev").unwrap().contains("page=1"));

    // The month grid shows the day's first four and links to the rest of it.
    let (_, month) = ane
        .get(
            &app,
            &format!("/app/calendar?plan={}&month=2020-03&lang=en", f.plan),
        )
        .await;
    assert_eq!(month.matches(">Item ").count(), 4, "{month}");
    assert!(month.contains(">Item 000<") && month.contains(">Item 003<"));
    assert!(month.contains("101 more on this day"));
    assert!(month.contains("week=2020-03-10#day-2020-03-10"));
    // Twenty of the undated, and a link to all of them.
    assert_eq!(month.matches(">Undated ").count(), 20);
    assert!(month.contains("All 25 items to be confirmed"));
    assert!(month.contains("when=tbc"));
    let (_, tbc) = ane
        .get(
            &app,
            &format!("/app/agenda?plan={}&when=tbc&lang=en", f.plan),
        )
        .await;
    assert_eq!(tbc.matches(">Undated ").count(), 25);
    // The week view of that day shows its first ten, and links to the day view.
    let (_, week) = ane
        .get(
            &app,
            &format!("/app/calendar/week?plan={}&week=2020-03-10&lang=en", f.plan),
        )
        .await;
    assert_eq!(week.matches(">Item ").count(), 10, "{week}");
    assert!(week.contains(">Item 000<") && week.contains(">Item 009<"));
    assert!(!week.contains(">Item 010<"));
    assert!(week.contains("95 more on this day"));
    let at = week.find("95 more on this day").unwrap();
    let start = week[..at].rfind("href=\"").unwrap() + "href=\"".len();
    let end = start + week[start..].find('"').unwrap();
    let day_link = week[start..end].replace("&amp;", "&").replace("&#38;", "&");
    assert!(day_link.contains("day=2020-03-10"), "{day_link}");
    // The day view lists every item of that day, and only that day.
    let (status, day) = ane.get(&app, &format!("{day_link}&lang=en")).await;
    assert_eq!(status, 200);
    assert_eq!(day.matches(">Item ").count(), 105, "{day}");
    assert!(!day.contains("more on this day"));
    assert_eq!(day.matches("<section aria-labelledby=\"day-").count(), 1);
    assert!(day.contains("day=2020-03-11") && day.contains("day=2020-03-09"));
    assert!(day.contains("week=2020-03-10#day-2020-03-10"));
}
