//! The OpenAPI document as a contract, checked generically: every operation of
//! the document is walked, so routes added later are covered without a line
//! here. An independent validator (tests/tools/validate_openapi.py:
//! openapi-spec-validator and jsonschema) checks the document and its examples;
//! requests derived from the document check the server keeps to it.

use crate::helpers::*;
use crate::openapi::{document, operations};
use serde_json::Value;
use std::collections::HashMap;

/// Runs tests/tools/validate_openapi.py on the document; its output on failure.
fn validate_independently(doc: &Value) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, serde_json::to_vec(doc).unwrap()).unwrap();
    let out = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/tools/validate_openapi.py"
        ))
        .arg(&path)
        .output()
        .expect("python3 is needed for the OpenAPI validation");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}(install the validator with `pip install -r tests/tools/requirements.txt`)",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[tokio::test]
async fn an_independent_validator_accepts_the_document_and_its_examples() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    validate_independently(&doc).unwrap();
}

#[tokio::test]
async fn the_validator_refuses_a_broken_document_and_a_wrong_example() {
    // The check can fail: a response without description, and an example that
    // breaks its schema's length limit, are both reported.
    let app = spawn_app().await;
    let mut doc = document(&app).await;
    let (method, path) = operations(&doc)[0].clone();
    doc["paths"][&path][&method]["responses"]["299"] = serde_json::json!({});
    assert!(validate_independently(&doc).is_err());
    let mut doc = document(&app).await;
    doc["components"]["schemas"]["Probe"] =
        serde_json::json!({"type": "string", "maxLength": 2, "example": "three"});
    let err = validate_independently(&doc).unwrap_err();
    assert!(err.contains("Probe"), "{err}");
    // A schema's `examples` list (how request bodies carry theirs) is checked too.
    let mut doc = document(&app).await;
    doc["components"]["schemas"]["OrganisationInput"]["examples"] =
        serde_json::json!([{"slug": "bilbao", "name": "City of Bilbao", "kind": "no-such-kind"}]);
    let err = validate_independently(&doc).unwrap_err();
    assert!(err.contains("OrganisationInput"), "{err}");
}

#[tokio::test]
async fn operation_ids_are_unique_and_every_response_is_described() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut seen: HashMap<String, String> = HashMap::new();
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][&path][&method];
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        if let Some(other) = seen.insert(id.to_owned(), format!("{method} {path}")) {
            panic!("operationId {id} of {method} {path} is also {other}'s");
        }
        for (status, response) in responses(&doc, op) {
            let description = response["description"].as_str().unwrap_or("");
            assert!(
                !description.trim().is_empty(),
                "{method} {path} {status} has no description"
            );
        }
    }
}

/// The responses of an operation, with `$ref`s to `components/responses` resolved.
fn responses(doc: &Value, op: &Value) -> Vec<(String, Value)> {
    op["responses"]
        .as_object()
        .map(|r| {
            r.iter()
                .map(|(status, response)| {
                    let resolved = match response["$ref"].as_str() {
                        Some(r) => doc
                            .pointer(r.trim_start_matches('#'))
                            .cloned()
                            .unwrap_or(Value::Null),
                        None => response.clone(),
                    };
                    (status.clone(), resolved)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn secured(op: &Value) -> bool {
    op["security"].as_array().is_some_and(|s| {
        s.iter()
            .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
    })
}

fn has_query(op: &Value) -> bool {
    op["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"))
}

/// `/api/v1/issues/{id}/send` with every parameter filled: ids with `id`,
/// other parameters (tokens) with `word`.
fn fill(path: &str, id: &str, word: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').unwrap() + open;
        out.push_str(&rest[..open]);
        let name = &rest[open + 1..close];
        out.push_str(if name == "id" || name.ends_with("_id") {
            id
        } else {
            word
        });
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) body: Value,
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, String)>,
) -> Answer {
    let mut req = app
        .client
        .request(method.to_uppercase().parse().unwrap(), app.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some((content_type, body)) = body {
        req = req.header("content-type", content_type).body(body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = res.text().await.unwrap_or_default();
    Answer {
        status,
        content_type,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

/// The problems of one answer against the operation's documented responses.
pub(crate) fn conformance(doc: &Value, op: &Value, what: &str, answer: &Answer) -> Vec<String> {
    let documented = responses(doc, op);
    let Some((_, response)) = documented
        .iter()
        .find(|(s, _)| *s == answer.status.to_string())
        .or_else(|| documented.iter().find(|(s, _)| s == "default"))
    else {
        return vec![format!(
            "{what}: status {} is not documented (documented: {})",
            answer.status,
            documented
                .iter()
                .map(|(s, _)| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )];
    };
    let problem_documented = response["content"]
        .get("application/problem+json")
        .is_some();
    if problem_documented && !answer.content_type.starts_with("application/problem+json") {
        return vec![format!(
            "{what}: {} documented as problem+json, answered as {:?}",
            answer.status, answer.content_type
        )];
    }
    Vec::new()
}

/// The body a request of the operation sends when only its shape matters.
fn empty_body(op: &Value) -> Option<(&str, String)> {
    let content = op["requestBody"]["content"].as_object()?;
    let media = content.keys().next()?.as_str();
    let body = if media.contains("json") { "{}" } else { "" };
    Some((media, body.to_owned()))
}

#[tokio::test]
async fn every_answer_to_requests_derived_from_the_document_is_documented() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut failures = Vec::new();
    for (method, path) in operations(&doc) {
        if method == "head" {
            continue;
        }
        let op = &doc["paths"][&path][&method];
        let target = fill(&path, "999999", "no-such-token");
        let body = empty_body(op);
        let who: &[(&str, Option<&str>)] = if secured(op) {
            &[
                ("anonymous", None),
                ("viewer", Some(&app.viewer)),
                ("admin", Some(&app.admin)),
            ]
        } else {
            &[("anonymous", None)]
        };
        for (name, token) in who {
            let answer = send(&app, &method, &target, *token, body.clone()).await;
            let what = format!("{method} {path} as {name}");
            failures.extend(conformance(&doc, op, &what, &answer));
        }
        let token = secured(op).then_some(app.admin.as_str());
        if path.contains("{id}") {
            let target = fill(&path, "not-a-number", "no-such-token");
            let answer = send(&app, &method, &target, token, body.clone()).await;
            let what = format!("{method} {path} with id not-a-number");
            failures.extend(conformance(&doc, op, &what, &answer));
            if answer.status != 400 || answer.body["errors"][0]["parameter"] != "id" {
                failures.push(format!(
                    "{what}: expected 400 naming the parameter id, got {} {}",
                    answer.status, answer.body
                ));
            }
        }
        let pages = op["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "page"));
        if pages {
            for (query, name) in [("page=0", "page"), ("per_page=0", "per_page")] {
                let target = format!("{}?{query}", fill(&path, "999999", "x"));
                let answer = send(&app, &method, &target, token, body.clone()).await;
                let what = format!("{method} {path}?{query}");
                failures.extend(conformance(&doc, op, &what, &answer));
                if answer.status != 400 || answer.body["errors"][0]["parameter"] != name {
                    failures.push(format!(
                        "{what}: expected 400 naming the parameter {name}, got {} {}",
                        answer.status, answer.body
                    ));
                }
            }
        }
        if has_query(op) {
            let target = format!("{}?no_such_parameter=1", fill(&path, "999999", "x"));
            let answer = send(&app, &method, &target, token, body.clone()).await;
            let what = format!("{method} {path} with an unknown query parameter");
            failures.extend(conformance(&doc, op, &what, &answer));
            if answer.status == 400 && answer.body["errors"][0]["parameter"] != "no_such_parameter"
            {
                failures.push(format!(
                    "{what}: 400 without naming the parameter: {}",
                    answer.body
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An example of a schema: its own `example`, the first of its `examples`, the
/// first of its `enum`, or (for an object) one built from examples of all its
/// required properties. None when some required part has no example.
fn example_of(doc: &Value, schema: &Value, depth: usize) -> Option<Value> {
    if depth > 4 {
        return None;
    }
    if let Some(r) = schema["$ref"].as_str() {
        return example_of(doc, doc.pointer(r.trim_start_matches('#'))?, depth + 1);
    }
    if let Some(e) = schema.get("example") {
        return Some(e.clone());
    }
    if let Some(e) = schema["examples"].get(0).or_else(|| schema["enum"].get(0)) {
        return Some(e.clone());
    }
    let properties = schema["properties"].as_object()?;
    let mut body = serde_json::Map::new();
    for name in schema["required"].as_array()? {
        let name = name.as_str()?;
        body.insert(
            name.to_owned(),
            example_of(doc, &properties[name], depth + 1)?,
        );
    }
    Some(Value::Object(body))
}

#[tokio::test]
async fn request_bodies_built_from_the_documents_examples_are_accepted() {
    // Sent for records that do not exist: the body must get past parsing, so
    // the answer is about the record (404), never about the body (400, 422).
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut sent = 0;
    let mut failures = Vec::new();
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][&path][&method];
        let schema = &op["requestBody"]["content"]["application/json"]["schema"];
        if schema.is_null() || !path.contains("{id}") {
            continue;
        }
        let Some(body) = example_of(&doc, schema, 0) else {
            continue;
        };
        let target = fill(&path, "999999", "no-such-token");
        // `If-Match: *`: a replacement needs a version, and any will do here.
        let res = app
            .client
            .request(method.to_uppercase().parse().unwrap(), app.url(&target))
            .bearer_auth(&app.admin)
            .header("if-match", "*")
            .json(&body)
            .send()
            .await
            .unwrap();
        let answer = Answer {
            status: res.status().as_u16(),
            content_type: String::new(),
            body: res.json().await.unwrap_or(Value::Null),
        };
        sent += 1;
        if answer.status != 404 {
            failures.push(format!(
                "{method} {path} with the example {body}: {} {}",
                answer.status, answer.body
            ));
        }
    }
    assert!(sent > 0, "no operation has a complete example");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The strings of `schema` (reached through `$ref`s, properties, items,
/// `oneOf`/`anyOf`/`allOf` and maps) that carry no length limit, as
/// `where.path` lines. An enum, a date/time format or a `maxLength` is a limit.
fn unbounded_strings(
    doc: &Value,
    schema: &Value,
    at: &str,
    seen: &mut Vec<String>,
    out: &mut Vec<String>,
) {
    if let Some(r) = schema["$ref"].as_str() {
        if seen.iter().any(|s| s == r) {
            return;
        }
        seen.push(r.to_owned());
        if let Some(target) = doc.pointer(r.trim_start_matches('#')) {
            unbounded_strings(doc, target, at, seen, out);
        }
        seen.pop();
        return;
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let bounded = schema.get("maxLength").is_some()
        || schema.get("enum").is_some()
        || schema.get("const").is_some()
        || matches!(
            schema["format"].as_str(),
            Some("date" | "date-time" | "time" | "binary" | "int64" | "int32")
        );
    if types.contains(&"string") && !bounded {
        out.push(at.to_owned());
    }
    if let Some(props) = schema["properties"].as_object() {
        for (name, p) in props {
            unbounded_strings(doc, p, &format!("{at}.{name}"), seen, out);
        }
    }
    if schema["items"].is_object() {
        unbounded_strings(doc, &schema["items"], &format!("{at}[]"), seen, out);
    }
    if schema["additionalProperties"].is_object() {
        unbounded_strings(
            doc,
            &schema["additionalProperties"],
            &format!("{at}.*"),
            seen,
            out,
        );
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for s in schema[key].as_array().into_iter().flatten() {
            unbounded_strings(doc, s, at, seen, out);
        }
    }
}

/// Every string a client sends (request bodies, query, path and header
/// parameters) carries its real length limit in the document, so a client
/// knows it before the server refuses it (and a fuzzer knows where to push).
#[tokio::test]
async fn every_string_a_client_sends_has_its_length_limit_in_the_document() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut out = Vec::new();
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][&path][&method];
        for (media, content) in op["requestBody"]["content"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if media.contains("json") {
                let at = format!("{method} {path} body");
                unbounded_strings(&doc, &content["schema"], &at, &mut Vec::new(), &mut out);
            }
        }
        for p in op["parameters"].as_array().into_iter().flatten() {
            let at = format!(
                "{method} {path} {} {}",
                p["in"].as_str().unwrap_or("?"),
                p["name"].as_str().unwrap_or("?")
            );
            unbounded_strings(&doc, &p["schema"], &at, &mut Vec::new(), &mut out);
        }
    }
    out.sort();
    out.dedup();
    assert!(
        out.is_empty(),
        "{} strings without a length limit:\n{}",
        out.len(),
        out.join("\n")
    );
}
