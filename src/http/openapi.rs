//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Pregón API",
        description = "Plans, campaigns, channels and activities of a communication plan.",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&BearerAuth),
    components(schemas(super::problem::Problem))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token from `pregon token create`"))
                    .build(),
            ),
        );
    }
}

pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub struct OpenApiJson(pub String);

pub fn finish(mut api: utoipa::openapi::OpenApi) -> OpenApiJson {
    api.info.version = env!("CARGO_PKG_VERSION").into();
    let mut doc = serde_json::to_value(&api).expect("OpenAPI document serializes");
    super::contract::complete(&mut doc);
    OpenApiJson(serde_json::to_string_pretty(&doc).expect("OpenAPI document serializes"))
}

/// Every path template of the document with its methods: what a request to a
/// known path with another method is told (405 and `Allow`).
pub struct Routes(Vec<(Vec<Segment>, Vec<String>)>);

enum Segment {
    Literal(String),
    /// `{token}.ics`: a parameter between a fixed prefix and suffix.
    Param {
        prefix: String,
        suffix: String,
    },
}

impl Routes {
    pub fn of(doc: &OpenApiJson) -> Routes {
        let value: serde_json::Value = serde_json::from_str(&doc.0).unwrap_or_default();
        let mut routes = vec![(segments("/api/v1/openapi.json"), vec!["GET".to_owned()])];
        if let Some(paths) = value.get("paths").and_then(|p| p.as_object()) {
            for (template, item) in paths {
                let methods = item
                    .as_object()
                    .map(|ops| {
                        ops.keys()
                            .filter(|k| {
                                matches!(
                                    k.as_str(),
                                    "get"
                                        | "put"
                                        | "post"
                                        | "delete"
                                        | "patch"
                                        | "head"
                                        | "options"
                                )
                            })
                            .map(|k| k.to_ascii_uppercase())
                            .collect()
                    })
                    .unwrap_or_default();
                routes.push((segments(template), methods));
            }
        }
        Routes(routes)
    }

    /// The methods `path` answers to (HEAD wherever GET is), empty when the
    /// path is unknown.
    pub fn allowed(&self, path: &str) -> Vec<String> {
        let parts: Vec<&str> = path.split('/').collect();
        let mut methods: Vec<String> = Vec::new();
        for (template, ms) in &self.0 {
            if template.len() == parts.len()
                && template.iter().zip(&parts).all(|(t, p)| t.matches(p))
            {
                methods.extend(ms.iter().cloned());
            }
        }
        if methods.iter().any(|m| m == "GET") {
            methods.push("HEAD".into());
        }
        methods.sort();
        methods.dedup();
        methods
    }
}

fn segments(template: &str) -> Vec<Segment> {
    template
        .split('/')
        .map(|part| match (part.find('{'), part.find('}')) {
            (Some(open), Some(close)) if open < close => Segment::Param {
                prefix: part[..open].to_owned(),
                suffix: part[close + 1..].to_owned(),
            },
            _ => Segment::Literal(part.to_owned()),
        })
        .collect()
}

impl Segment {
    fn matches(&self, part: &str) -> bool {
        match self {
            Segment::Literal(l) => l == part,
            Segment::Param { prefix, suffix } => {
                part.len() > prefix.len() + suffix.len()
                    && part.starts_with(prefix.as_str())
                    && part.ends_with(suffix.as_str())
            }
        }
    }
}

pub async fn serve(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}
