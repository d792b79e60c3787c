//! The progress report: figures checked against a plan built here (done on
//! time, late, cancelled, to be confirmed; an issue sent through the real SMTP
//! test server with a failure, a bounce and an unsubscription; an event with
//! the Mayor of Bilbao), read back as JSON, CSV, HTML and PDF (pdftotext).

use crate::helpers::*;
use crate::mail::*;
use crate::smtp_server::{Reply, Script};
use serde_json::{Value, json};
use std::process::Command;

struct Plan {
    plan: i64,
    period: i64,
    goal: i64,
    campaign: i64,
    channel: i64,
    bilbao: i64,
}

async fn plan(app: &TestApp) -> Plan {
    let cop = app
        .create(
            "/api/v1/organisations",
            json!({"slug": "cop", "name": "Comunidad de Práctica", "kind": "community"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let bilbao = app
        .create(
            "/api/v1/organisations",
            json!({"slug": "bilbao", "name": "City of Bilbao", "kind": "city"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let plan = app
        .create(
            "/api/v1/plans",
            json!({"slug": "p2026", "title": "Plan de difusión 2026", "organisation_id": cop,
                   "periods": [{"name": "2026: difusión", "starts_on": "2026-01-01", "ends_on": "2026-12-31"}],
                   "goals": [{"description": "Promover el Estudio de Ciudades Inteligentes", "period": 0}]}),
        )
        .await;
    let channel = app
        .create(
            "/api/v1/channels",
            json!({"slug": "boletin", "kind": "newsletter", "name": "Boletín", "organisation_id": cop}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let campaign = app
        .create(
            "/api/v1/campaigns",
            json!({"plan_id": plan["id"], "slug": "launch", "status": "planned", "channel_ids": [channel],
                   "translations": {"en": {"title": "Launch"}, "es": {"title": "Lanzamiento"}}}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    Plan {
        plan: plan["id"].as_i64().unwrap(),
        period: plan["periods"][0]["id"].as_i64().unwrap(),
        goal: plan["goals"][0]["id"].as_i64().unwrap(),
        campaign,
        channel,
        bilbao,
    }
}

fn activity(p: &Plan, kind: &str, status: &str, title: &str, timing: Value) -> Value {
    json!({
        "plan_id": p.plan, "period_id": p.period, "campaign_id": p.campaign,
        "kind": kind, "status": status, "timing": timing, "channel_ids": [p.channel],
        "translations": {"en": {"title": title}, "es": {"title": format!("{title} (es)")}}
    })
}

fn day(d: &str) -> Value {
    json!({"precision": "days", "start": d, "end": d})
}

async fn id(app: &TestApp, body: Value) -> i64 {
    app.create("/api/v1/activities", body).await["id"]
        .as_i64()
        .unwrap()
}

struct Built {
    mail: Mail,
    p: Plan,
    on_time: i64,
    late: i64,
    cancelled: i64,
    tbc: i64,
    newsletter: i64,
    event: i64,
    issue: i64,
}

/// The plan, an issue sent to three readers (one refused by the relay, one
/// bounced afterwards, one who unsubscribes), and ten days passing.
async fn build() -> Built {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let p = plan(app).await;
    let mut on_time = activity(
        &p,
        "milestone",
        "done",
        "Study published",
        day("2026-01-05"),
    );
    on_time["actual"] = json!({"start": "2026-01-05"});
    let on_time = id(app, on_time).await;
    let mut late = activity(&p, "social_post", "done", "Launch post", day("2026-01-06"));
    late["actual"] = json!({"start": "2026-01-09"});
    let late = id(app, late).await;
    let cancelled_body = activity(
        &p,
        "learning_meeting",
        "planned",
        "Webinar",
        day("2026-02-01"),
    );
    let cancelled = id(app, cancelled_body.clone()).await;
    let tbc = id(
        app,
        activity(
            &p,
            "event",
            "tentative",
            "URAIA annual event in Málaga",
            json!({"precision": "tbc"}),
        ),
    )
    .await;
    let mut newsletter = activity(
        &p,
        "newsletter_issue",
        "done",
        "Newsletter",
        day("2026-01-15"),
    );
    newsletter["actual"] = json!({"start": "2026-01-15"});
    let newsletter = id(app, newsletter).await;
    let mut event = activity(&p, "event", "done", "Congress panel", day("2026-01-10"));
    event["actual"] = json!({"start": "2026-01-10"});
    event["partners"] = json!([{"organisation_id": p.bilbao, "role": "co_organiser"}]);
    let event = id(app, event).await;
    let mayor = app
        .create(
            "/api/v1/people",
            json!({"name": "Juan Mari Aburto", "title": "Mayor of Bilbao", "organisation_id": p.bilbao}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.create(
        "/api/v1/participations",
        json!({"activity_id": event, "person_id": mayor, "role": "represents", "represents_organisation_id": p.bilbao}),
    )
    .await;

    // The webinar is called off, with the reason in the history.
    let mut body = cancelled_body;
    body["status"] = json!("cancelled");
    body["version"] = json!(1);
    let res = app
        .put(&format!("/api/v1/activities/{cancelled}"), &body)
        .header("Change-Reason", "the venue closed")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // The issue: one address refused for good by the relay.
    let list = mail.list("members").await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    mail.confirmed(list, "bob@example.org", "Bob", "en").await;
    mail.confirmed(list, "carla@example.org", "Carla", "es")
        .await;
    mail.smtp.on_rcpt(
        "carla@example.org",
        Script::always(Reply::code(550, "5.1.1 no such user")),
    );
    let issue = mail.issue(&[list], Some(newsletter)).await;
    mail.send(issue).await;
    mail.run().await;
    mail.run().await;
    assert_eq!(mail.smtp.messages().len(), 2);

    // Bob's copy bounces later; Ana unsubscribes with the one-click link.
    let bob = mail.received_by("bob@example.org")[0].data.clone();
    let bob = mail_parser::MessageParser::default()
        .parse(&bob[..])
        .unwrap();
    let message_id = bob.message_id().unwrap().to_owned();
    let res = app
        .post(
            "/api/v1/bounces",
            &json!({"email": "bob@example.org", "kind": "hard", "message_id": message_id}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ana = mail.received_by("ana@example.org")[0].data.clone();
    let ana = mail_parser::MessageParser::default()
        .parse(&ana[..])
        .unwrap();
    let header = ana
        .header_raw("List-Unsubscribe")
        .unwrap()
        .replace("\r\n", "");
    let url = header
        .split(',')
        .map(|p| p.trim().trim_start_matches('<').trim_end_matches('>'))
        .find(|u| u.starts_with("https://"))
        .unwrap()
        .to_owned();
    let res = app
        .client
        .post(app.url(url.strip_prefix("https://pregon.test").unwrap()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Ten days later, the Málaga date is still not confirmed.
    app.clock.advance(chrono::TimeDelta::days(10));
    Built {
        mail,
        p,
        on_time,
        late,
        cancelled,
        tbc,
        newsletter,
        event,
        issue,
    }
}

fn ids(v: &Value) -> Vec<i64> {
    let mut out: Vec<i64> = v["activity_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    out.sort();
    out
}

fn item(report: &Value, id: i64) -> &Value {
    report["periods"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["campaigns"].as_array().unwrap())
        .flat_map(|c| c["items"].as_array().unwrap())
        .find(|i| i["activity_id"] == id)
        .unwrap_or_else(|| panic!("item {id} in {report}"))
}

const QUERY: &str = "/api/v1/reports/progress?plan=p2026&from=2026-01-01&to=2026-12-31";

#[tokio::test]
async fn the_report_counts_what_the_records_say() {
    let b = build().await;
    let app = &b.mail.app;
    let r = app.get_json(&format!("{QUERY}&lang=es")).await;
    let t = &r["totals"];
    assert_eq!(t["planned"]["count"], 6, "{t}");
    let mut done = vec![b.on_time, b.late, b.newsletter, b.event];
    done.sort();
    assert_eq!(ids(&t["done"]), done);
    assert_eq!(ids(&t["done_late"]), vec![b.late]);
    assert_eq!(t["done_on_time"]["count"], 3);
    assert_eq!(ids(&t["cancelled"]), vec![b.cancelled]);
    assert_eq!(ids(&t["unconfirmed"]), vec![b.tbc]);
    assert_eq!(t["failed"]["count"], 0);

    let late = item(&r, b.late);
    assert_eq!(late["planned_start"], "2026-01-06");
    assert_eq!(late["actual_start"], "2026-01-09");
    assert_eq!(late["delay_days"], 3);
    assert_eq!(late["outcome"], "done_late");
    assert_eq!(late["goal_ids"], json!([b.p.goal]));
    assert_eq!(
        late["title"], "Launch post (es)",
        "in the report's language"
    );
    assert_eq!(item(&r, b.on_time)["delay_days"], 0);
    let cancelled = item(&r, b.cancelled);
    assert_eq!(cancelled["reason"], "the venue closed");
    let history = app
        .get_json(&format!("/api/v1/activities/{}/history", b.cancelled))
        .await;
    let entry = history["items"]
        .as_array()
        .unwrap_or_else(|| history.as_array().unwrap())
        .iter()
        .find(|e| e["reason"] == "the venue closed")
        .unwrap()
        .clone();
    assert_eq!(cancelled["reason_history_id"], entry["id"]);
    let tbc = item(&r, b.tbc);
    assert_eq!(tbc["unconfirmed_days"], 10);
    assert_eq!(tbc["unconfirmed_since"], "2026-01-15");
    assert_eq!(r["unconfirmed"], json!([b.tbc]));

    // Reach from the delivery records.
    let n = &r["newsletter"][0];
    assert_eq!(n["issue_id"], b.issue);
    assert_eq!(n["activity_id"], b.newsletter);
    assert_eq!(n["recipients"], 3);
    assert_eq!(n["delivered"], 2);
    assert_eq!(n["failed"], 1);
    assert_eq!(n["bounced"], 1);
    assert_eq!(n["unsubscribed"], 1);

    // The Mayor of Bilbao represented the Community at the panel.
    let e = &r["events"][0];
    assert_eq!(e["activity_id"], b.event);
    assert_eq!(e["people"][0]["name"], "Juan Mari Aburto");
    assert_eq!(e["people"][0]["title"], "Mayor of Bilbao");
    assert_eq!(e["people"][0]["role"], "representa");
    assert_eq!(e["people"][0]["represents"], "City of Bilbao");
    assert_eq!(e["partners"][0]["name"], "City of Bilbao");

    // The change history since the start of the range, with the reason.
    let changes = r["changes"].as_array().unwrap();
    let change = changes
        .iter()
        .find(|c| c["activity_id"] == b.cancelled && c["action"] == "updated")
        .unwrap();
    assert_eq!(change["reason"], "the venue closed");
    assert!(
        change["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "status: planned → cancelled"),
        "{change}"
    );

    // By period, campaign and channel.
    let row = &r["breakdown"][0];
    assert_eq!(row["channel_id"], b.p.channel);
    assert_eq!(row["campaign_id"], b.p.campaign);
    assert_eq!(row["counts"]["planned"]["count"], 6);

    // One campaign only; an unknown plan is a 404; the role is checked.
    let one = app.get_json(&format!("{QUERY}&campaign=launch")).await;
    assert_eq!(one["totals"]["planned"]["count"], 6);
    expect_problem(
        app.get("/api/v1/reports/progress?plan=nope")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    expect_problem(
        app.get(&format!("{QUERY}&campaign=nope"))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    let res = app.client.get(app.url(QUERY)).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .get(app.url(QUERY))
        .bearer_auth(&app.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a viewer may read the report");
}

#[tokio::test]
async fn the_csv_has_one_row_per_item_and_reads_back() {
    let b = build().await;
    let app = &b.mail.app;
    // A title that a spreadsheet would run.
    let mut evil = activity(
        &b.p,
        "milestone",
        "planned",
        "=HYPERLINK(\"x\")",
        day("2026-03-01"),
    );
    evil["translations"] = json!({"en": {"title": "=HYPERLINK(\"x\")"}});
    let evil = id(app, evil).await;
    let res = app
        .get(QUERY)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(&headers[..4], ["record", "id", "uid", "link"]);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let activities: Vec<&csv::StringRecord> = rows.iter().filter(|r| &r[0] == "activity").collect();
    assert_eq!(activities.len(), 7);
    let row = |id: i64| {
        activities
            .iter()
            .find(|r| r[col("id")] == id.to_string())
            .unwrap()
    };
    assert_eq!(&row(b.late)[col("delay_days")], "3");
    assert_eq!(&row(b.late)[col("outcome")], "done_late");
    assert_eq!(&row(b.cancelled)[col("reason")], "the venue closed");
    assert_eq!(&row(b.tbc)[col("unconfirmed_days")], "10");
    assert_eq!(&row(evil)[col("title")], "'=HYPERLINK(\"x\")");
    let issue = rows.iter().find(|r| &r[0] == "newsletter_issue").unwrap();
    assert_eq!(&issue[col("id")], b.issue.to_string());
    assert_eq!(&issue[col("recipients")], "3");
    assert_eq!(&issue[col("delivered")], "2");
    assert_eq!(&issue[col("failed")], "1");
    assert_eq!(&issue[col("unsubscribed")], "1");
    assert_eq!(&issue[col("activity_id")], b.newsletter.to_string());
}

pub fn pdftotext(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn html_markdown_and_pdf_show_the_same_figures() {
    let b = build().await;
    let app = &b.mail.app;
    let html = app
        .get(&format!("{QUERY}&format=html&lang=fr"))
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 200);
    let html = html.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<html lang=\"fr\">"));
    assert!(html.contains("Rapport d’avancement"));
    assert!(html.contains(&format!("href=\"/api/v1/activities/{}\"", b.late)));
    assert!(html.contains("3 jours"));
    assert!(html.contains("ni ouvertures ni clics"));
    assert!(html.contains("Juan Mari Aburto"));

    let md = app
        .get(QUERY)
        .header("accept", "text/markdown")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(md.starts_with("# Progress report"), "{md}");
    assert!(md.contains("| 3 | 2 | 1 | 0 | 1 | 1 |"), "{md}");

    let res = app
        .get(&format!("{QUERY}&format=pdf&lang=es"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let pdf = res.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdftotext(&pdf);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Informe de avance"), "{text}");
    assert!(
        flat.contains("Plan de difusión 2026"),
        "accents survive: {text}"
    );
    assert!(flat.contains("URAIA annual event in Málaga"), "{text}");
    assert!(flat.contains("sin confirmar desde hace 10 días"), "{text}");
    assert!(
        flat.contains("Previstas 6 · Realizadas 4 (3 a tiempo, 1 con retraso)"),
        "{text}"
    );
    assert!(flat.contains("3 días"), "{text}");
    assert!(flat.contains("the venue closed"), "{text}");
    assert!(
        flat.contains("Juan Mari Aburto, Mayor of Bilbao (representa City of Bilbao)"),
        "{text}"
    );
    assert!(flat.contains("no rastrea a sus lectores"), "{text}");
}

#[tokio::test]
async fn the_seed_plans_2020_report_renders_in_html_and_pdf() {
    let app = spawn_seeded_app().await;
    let q = "/api/v1/reports/progress?plan=uclg-digital-cities-2020&from=2020-01-01&to=2020-12-31";
    let json = app.get_json(q).await;
    let malaga = json["unconfirmed"].as_array().unwrap().len();
    assert!(malaga >= 1, "{json}");
    let html = app
        .get(&format!("{q}&format=html"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Málaga"), "{html}");
    assert!(html.contains("Juan Mari Aburto") || html.contains("Smart Cities Study"));
    let pdf = app
        .get(&format!("{q}&format=pdf"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let text = pdftotext(&pdf);
    assert!(text.contains("Progress report"), "{text}");
    assert!(text.contains("Málaga"), "{text}");
    if let Ok(dir) = std::env::var("PREGON_REPORT_SAMPLE_DIR") {
        std::fs::write(format!("{dir}/seed-2020.pdf"), &pdf).unwrap();
        std::fs::write(format!("{dir}/seed-2020.html"), &html).unwrap();
    }
}

/// Runs tests/tools/check_pdfua.py (pikepdf reading the PDF on its own; the
/// machine-checkable PDF/UA-1 conditions) on a PDF: its JSON summary, or the
/// failures it printed.
fn check_pdfua(pdf: &[u8], lang: &str, title: Option<&str>) -> Result<Value, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, pdf).unwrap();
    let mut command = Command::new("python3");
    command
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/tools/check_pdfua.py"
        ))
        .args(["--lang", lang]);
    if let Some(title) = title {
        command.args(["--title", title]);
    }
    let out = command
        .arg(&path)
        .output()
        .expect("python3 is needed for the PDF/UA check");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => Ok(serde_json::from_slice(&out.stdout).unwrap()),
        Some(1) => Err(stderr),
        _ => panic!(
            "check_pdfua.py could not run (pip install -r tests/tools/requirements.txt): {stderr}"
        ),
    }
}

#[tokio::test]
async fn the_pdf_passes_an_independent_pdf_ua_check_in_each_language() {
    let app = spawn_seeded_app().await;
    let q = "/api/v1/reports/progress?plan=uclg-digital-cities-2020&from=2020-01-01&to=2020-12-31&format=pdf";
    for (lang, title) in [
        ("es", "Informe de avance"),
        ("en", "Progress report"),
        ("fr", "Rapport d’avancement"),
    ] {
        let pdf = app
            .get(&format!("{q}&lang={lang}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let json = app
            .get_json(&format!(
                "/api/v1/reports/progress?plan=uclg-digital-cities-2020&from=2020-01-01&to=2020-12-31&lang={lang}"
            ))
            .await;
        let plan_title = json["plan"]["title"].as_str().unwrap();
        let summary = check_pdfua(&pdf, lang, Some(&format!("{title}: {plan_title}")))
            .unwrap_or_else(|failures| panic!("{lang}: PDF/UA failures:\n{failures}"));
        let structure = &summary["structure"];
        for tag in ["H1", "H2", "P", "Table", "TR", "TH", "TD"] {
            assert!(
                structure[tag].as_u64().unwrap_or(0) > 0,
                "{lang}: no {tag}: {summary}"
            );
        }
        assert!(
            summary["headings"].as_str().unwrap().starts_with("12"),
            "{summary}"
        );
        assert!(summary["mcids"].as_u64().unwrap() > 50, "{summary}");
        assert!(summary["outline"].as_u64().unwrap() > 3, "{summary}");
        assert_eq!(summary["lang"], lang);
    }
}

#[tokio::test]
async fn the_pdf_ua_check_refuses_an_untagged_pdf_and_untagged_content() {
    use krilla::geom::Point;
    use krilla::tagging::{ContentTag, SpanTag, Tag, TagGroup, TagTree};
    use krilla::text::{Font, TextDirection};
    let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
    let data: std::sync::Arc<dyn AsRef<[u8]> + Send + Sync> = std::sync::Arc::new(bytes);
    let font = Font::new(data.into(), 0).unwrap();
    let page = |doc: &mut krilla::Document, tagged: bool| {
        let mut page = doc.start_page();
        let mut s = page.surface();
        let mut id = None;
        if tagged {
            id = Some(s.start_tagged(ContentTag::Span(SpanTag::empty())));
        }
        s.draw_text(
            Point::from_xy(50.0, 50.0),
            font.clone(),
            12.0,
            "Informe",
            false,
            TextDirection::Auto,
        );
        if tagged {
            s.end_tagged();
        }
        s.finish();
        page.finish();
        id
    };
    // No tags, no language, no title: refused, with the reasons named.
    let mut doc = krilla::Document::new();
    page(&mut doc, false);
    let failures = check_pdfua(&doc.finish().unwrap(), "es", None).unwrap_err();
    for condition in [
        "01-001", // MarkInfo /Marked
        "01-006", // no StructTreeRoot
        "06-002", // no pdfuaid:part
        "07-001", // DisplayDocTitle
        "11-006", // no /Lang
    ] {
        assert!(failures.contains(condition), "{condition}: {failures}");
    }
    // Tagged, but a heading level skipped and the language not the one asked.
    let mut doc = krilla::Document::new();
    let first = page(&mut doc, true).unwrap();
    let second = page(&mut doc, true).unwrap();
    let mut tree = TagTree::new();
    let mut h1 = TagGroup::new(Tag::Hn(std::num::NonZeroU16::MIN, Some("Informe".into())));
    h1.push(first);
    tree.push(h1);
    let mut h3 = TagGroup::new(Tag::Hn(
        std::num::NonZeroU16::new(3).unwrap(),
        Some("Detalle".into()),
    ));
    h3.push(second);
    tree.push(h3);
    doc.set_tag_tree(tree);
    doc.set_metadata(
        krilla::metadata::Metadata::new()
            .title("Informe".into())
            .language("en".into()),
    );
    let failures = check_pdfua(&doc.finish().unwrap(), "es", None).unwrap_err();
    assert!(failures.contains("14-003"), "{failures}");
    assert!(failures.contains("11-006: /Lang is 'en'"), "{failures}");
    assert!(
        !failures.contains("01-005"),
        "all content is tagged: {failures}"
    );
}

#[tokio::test]
async fn a_character_the_font_lacks_does_not_stop_the_pdf() {
    // PDF/UA forbids drawing the font's .notdef glyph: a title with an emoji
    // (DejaVu Sans has none) is drawn with U+FFFD, and the PDF still passes.
    let app = spawn_app().await;
    let p = plan(&app).await;
    id(
        &app,
        activity(
            &p,
            "social_post",
            "done",
            "Lanzamiento 🚀 del estudio",
            day("2026-01-10"),
        ),
    )
    .await;
    let res = app
        .get(&format!("{QUERY}&format=pdf&lang=en"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let pdf = res.bytes().await.unwrap();
    let text = pdftotext(&pdf);
    assert!(text.contains("Lanzamiento \u{FFFD} del estudio"), "{text}");
    check_pdfua(&pdf, "en", None).unwrap_or_else(|f| panic!("{f}"));
    let json = app.get_json(&format!("{QUERY}&lang=en")).await;
    assert!(json.to_string().contains("🚀"), "the data keeps it: {json}");
}
