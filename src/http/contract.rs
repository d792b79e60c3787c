//! Completes the OpenAPI document generated from the handlers' annotations with
//! what holds for every operation alike, so that no route has to repeat it by
//! hand and a route added later is covered too:
//!
//! - every `operationId` is unique (handlers of different modules share names
//!   such as `list`: those are named after their method and path);
//! - every response has a description;
//! - every error response is `application/problem+json` with the `Problem`
//!   schema, and every status the HTTP layer can give for an operation of its
//!   shape is documented (see [`statuses`]);
//! - `page` and `per_page` carry the bounds `PageRequest` enforces; a secret
//!   token in a path and an `If-Match` header carry their length limits.

use serde_json::{Map, Value, json};
use std::collections::HashMap;

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

/// What each status means when the HTTP layer (not the handler) gives it.
const STANDARD: &[(u16, &str)] = &[
    (
        400,
        "Malformed request: a body that is not one JSON object, or an invalid query, path or header parameter (`field` and `errors` name it)",
    ),
    (401, "Missing or invalid credentials"),
    (403, "The credentials' role does not allow this operation"),
    (404, "No such record"),
    (
        408,
        "The request body did not arrive within `server.body_timeout_ms`",
    ),
    (
        409,
        "Conflicts with the stored data: a duplicate, a record still referred to, a state that does not allow it, or a `version` in the body that is not the current one",
    ),
    (
        412,
        "`If-Match` does not match the current ETag (compared strongly)",
    ),
    (
        413,
        "The request body is larger than `server.body_limit_bytes`",
    ),
    (415, "The request body's Content-Type is not accepted here"),
    (
        422,
        "A field breaks a rule (`field` and `errors[].pointer` name it)",
    ),
    (
        428,
        "Send `If-Match` with the current ETag (or `*`), or the current `version` in the body",
    ),
    (429, "Too many requests; see `Retry-After`"),
    (503, "The database does not answer"),
];

/// The statuses the HTTP layer can give for an operation, from its shape.
pub fn statuses(method: &str, path: &str, op: &Value) -> Vec<u16> {
    let has_body = op.get("requestBody").is_some();
    let params = op
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has_in = |place: &str| params.iter().any(|p| p["in"] == place);
    let has_path = has_in("path") || path.contains('{');
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter()
                .any(|r| r.as_object().is_some_and(|r| !r.is_empty()))
        });
    let write = matches!(method, "post" | "put" | "patch" | "delete");
    let mut out = vec![503];
    if has_body || has_in("query") || has_path || has_in("header") || method == "put" {
        out.push(400);
    }
    if secured {
        out.extend([401, 403]);
    }
    if has_path {
        out.push(404);
    }
    if secured && write {
        out.push(409);
    }
    if has_body {
        out.extend([408, 413, 415, 422]);
    }
    if has_in("query") {
        out.push(422);
    }
    // Replacing a versioned record: the version comes as If-Match or in the body.
    if method == "put" && has_path && has_body && versioned_body(op) {
        out.extend([412, 428]);
    }
    // Public routes are rate limited; bodies take a per-client slot.
    if !secured || has_body {
        out.push(429);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether the request body's schema has a `version` property.
fn versioned_body(op: &Value) -> bool {
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    let reference = schema["$ref"].as_str().unwrap_or("");
    VERSIONED.with(|v| v.borrow().iter().any(|name| reference.ends_with(name)))
        || schema["properties"].get("version").is_some()
}

thread_local! {
    /// The `#/components/schemas/NAME` suffixes whose schema has `version`,
    /// filled by [`complete`] before the operations are walked.
    static VERSIONED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

pub fn complete(doc: &mut Value) {
    let versioned: Vec<String> = doc["components"]["schemas"]
        .as_object()
        .map(|schemas| {
            schemas
                .iter()
                .filter(|(_, s)| s["properties"].get("version").is_some())
                .map(|(name, _)| format!("/{name}"))
                .collect()
        })
        .unwrap_or_default();
    VERSIONED.with(|v| *v.borrow_mut() = versioned);
    add_standard_responses(doc);
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let mut ids: HashMap<String, usize> = HashMap::new();
    for item in paths.values() {
        for method in METHODS {
            if let Some(id) = item[method]["operationId"].as_str() {
                *ids.entry(id.to_owned()).or_default() += 1;
            }
        }
    }
    let mut taken: Vec<String> = ids
        .iter()
        .filter(|(_, n)| **n == 1)
        .map(|(id, _)| id.clone())
        .collect();
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            let unique = op
                .get("operationId")
                .and_then(Value::as_str)
                .is_some_and(|id| ids.get(id) == Some(&1));
            if !unique {
                let mut id = derived_id(method, path);
                while taken.contains(&id) {
                    id.push('_');
                }
                taken.push(id.clone());
                op.insert("operationId".into(), Value::String(id));
            }
            let shape = Value::Object(op.clone());
            let responses = op
                .entry("responses")
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("responses is an object");
            for (status, response) in responses.iter_mut() {
                complete_response(status, response);
            }
            for status in statuses(method, path, &shape) {
                responses.entry(status.to_string()).or_insert_with(
                    || json!({"$ref": format!("#/components/responses/Problem{status}")}),
                );
            }
            bound_parameters(op);
        }
    }
}

/// `post /api/v1/issues/{id}/send` → `post_issues_by_id_send`.
fn derived_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    for part in path
        .trim_start_matches("/api/v1")
        .split(['/', '.', '-'])
        .filter(|p| !p.is_empty())
    {
        id.push('_');
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(param) => {
                id.push_str("by_");
                id.push_str(param);
            }
            None => id.push_str(part),
        }
    }
    id
}

fn complete_response(status: &str, response: &mut Value) {
    let Some(object) = response.as_object_mut() else {
        return;
    };
    if object.contains_key("$ref") {
        return;
    }
    let code: u16 = status.parse().unwrap_or(0);
    let empty = object
        .get("description")
        .and_then(Value::as_str)
        .is_none_or(|d| d.trim().is_empty());
    if empty {
        let text = STANDARD
            .iter()
            .find(|(s, _)| *s == code)
            .map(|(_, d)| (*d).to_owned())
            .or_else(|| {
                actix_web::http::StatusCode::from_u16(code)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "Response".into());
        object.insert("description".into(), Value::String(text));
    }
    if code >= 400 {
        object.insert("content".into(), problem_content());
    }
}

fn problem_content() -> Value {
    json!({ super::problem::CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}} })
}

fn add_standard_responses(doc: &mut Value) {
    let Some(root) = doc.as_object_mut() else {
        return;
    };
    let components = root
        .entry("components")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(components) = components.as_object_mut() else {
        return;
    };
    let responses = components
        .entry("responses")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(responses) = responses.as_object_mut() else {
        return;
    };
    for (status, description) in STANDARD {
        let mut response = json!({"description": description, "content": problem_content()});
        match status {
            401 => {
                response["headers"] = json!({"WWW-Authenticate": {"schema": {"type": "string"}}});
            }
            429 | 503 => {
                response["headers"] = json!({"Retry-After": {"schema": {"type": "integer"}}});
            }
            _ => {}
        }
        responses.insert(format!("Problem{status}"), response);
    }
}

/// `page` from 1, `per_page` from 1 to `MAX_PER_PAGE`, wherever they appear.
/// The longest secret token a path takes: every token Pregón issues is
/// shorter (256 random bits in base64url and a prefix), so a longer one is
/// never found.
const MAX_TOKEN_CHARS: usize = 128;
/// The longest `If-Match` taken: a version's ETag is `"N"`, or `*`.
pub const MAX_IF_MATCH_CHARS: usize = 64;

fn bound_parameters(op: &mut Map<String, Value>) {
    let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
        return;
    };
    for p in params {
        let bounds = match (p["in"].as_str(), p["name"].as_str()) {
            (Some("path"), Some("token")) => json!({"maxLength": MAX_TOKEN_CHARS}),
            (Some("header"), Some("If-Match")) => json!({"maxLength": MAX_IF_MATCH_CHARS}),
            (Some("query"), Some("page")) => json!({"minimum": 1}),
            (Some("query"), Some("per_page")) => json!({
                "minimum": 1,
                "maximum": crate::domain::page::MAX_PER_PAGE,
                "default": crate::domain::page::DEFAULT_PER_PAGE,
            }),
            _ => continue,
        };
        if let (Some(schema), Some(bounds)) = (p["schema"].as_object_mut(), bounds.as_object()) {
            for (k, v) in bounds {
                schema.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_are_made_unique_and_errors_documented() {
        let mut doc = json!({
            "openapi": "3.1.0",
            "paths": {
                "/api/v1/plans": {"get": {"operationId": "list", "responses": {"200": {"description": ""}}}},
                "/api/v1/people/{id}": {
                    "get": {"operationId": "list", "security": [{"bearer": ["viewer"]}],
                        "responses": {"404": {"description": "", "content": {"application/json": {}}}}},
                    "delete": {"operationId": "remove_person", "responses": {}}
                }
            }
        });
        complete(&mut doc);
        let plans = &doc["paths"]["/api/v1/plans"]["get"];
        let person = &doc["paths"]["/api/v1/people/{id}"]["get"];
        assert_eq!(plans["operationId"], "get_plans");
        assert_eq!(person["operationId"], "get_people_by_id");
        assert_eq!(
            doc["paths"]["/api/v1/people/{id}"]["delete"]["operationId"],
            "remove_person"
        );
        assert_eq!(plans["responses"]["200"]["description"], "OK");
        let not_found = &person["responses"]["404"];
        assert!(not_found["content"]["application/problem+json"].is_object());
        assert!(not_found["content"].get("application/json").is_none());
        assert_eq!(
            person["responses"]["401"]["$ref"],
            "#/components/responses/Problem401"
        );
        assert!(doc["components"]["responses"]["Problem401"]["description"].is_string());
    }

    #[test]
    fn statuses_follow_the_shape_of_the_operation() {
        let put = json!({"security": [{"bearer": ["editor"]}],
            "requestBody": {"content": {"application/json": {"schema": {"properties": {"version": {}}}}}}});
        assert_eq!(
            statuses("put", "/x/{id}", &put),
            vec![
                400, 401, 403, 404, 408, 409, 412, 413, 415, 422, 428, 429, 503
            ]
        );
        assert_eq!(statuses("get", "/healthz", &json!({})), vec![429, 503]);
    }
}
