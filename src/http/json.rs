//! A strict JSON body extractor: checks the media type, enforces the configured
//! size limit while reading, and names the field at fault for wrong types, unknown
//! fields and invalid values.

use super::AppState;
use super::problem::ApiError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;

pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.settings.server.body_limit_bytes)
            .unwrap_or(256 * 1024);
        let body = read_body(req, payload, limit, |essence| {
            essence == "application/json" || essence.ends_with("+json")
        });
        Box::pin(async move { parse(&body.await?).map(Json) })
    }
}

/// Reads a request body of an accepted media type, refusing it as soon as it
/// passes `limit` bytes (413) rather than after buffering it all.
pub fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
    accepts: fn(&str) -> bool,
) -> impl Future<Output = Result<web::Bytes, ApiError>> + use<> {
    let content_type_ok = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            accepts(
                &v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase(),
            )
        })
        // No Content-Type at all: only a route that takes any body takes it.
        .unwrap_or_else(|| accepts(""));
    let declared_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let ip = super::client::client_ip(req);
    async move {
        if !content_type_ok {
            return Err(ApiError::UnsupportedMediaType);
        }
        if declared_length.is_some_and(|n| n > limit) {
            return Err(ApiError::TooLarge { limit });
        }
        let Some(state) = state else {
            return read_all(&mut payload, limit).await;
        };
        // A client trickling bodies holds a few slots, not the server.
        let Some(_slot) = state.body_slots.take(ip) else {
            return Err(ApiError::TooManyRequests {
                retry_after_secs: 1,
            });
        };
        let ms = state.settings.server.body_timeout_ms;
        tokio::time::timeout(
            std::time::Duration::from_millis(ms),
            read_all(&mut payload, limit),
        )
        .await
        .map_err(|_| ApiError::BodyTimeout { ms })?
    }
}

async fn read_all(payload: &mut Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| ApiError::BadBody {
                syntax: true,
                field: None,
                message: format!("could not read the body: {e}"),
            })?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }
}

/// Deserializes `body`, reporting the path of the offending field.
/// The body must be exactly one JSON object: an array would fill a struct's
/// fields by position, and anything after the object (a second object,
/// garbage) would be silently ignored. Either is a 400 and nothing is written.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let malformed = |message: &str| ApiError::BadBody {
        syntax: true,
        field: None,
        message: message.into(),
    };
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(malformed("the body must be one JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    let value = deserialize(de)?;
    de.end()
        .map_err(|_| malformed("the body must be one JSON object, with nothing after it"))?;
    Ok(value)
}

fn deserialize<'de, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(de).map_err(|err| {
        // serde_path_to_error writes `?` for a map key it could not read (an
        // unknown language in `translations`): the map itself is the field.
        let path = err.path().to_string().replace(".?", "");
        let inner = err.inner();
        let syntax = !matches!(inner.classify(), serde_json::error::Category::Data);
        let field = (path != "." && path != "?" && !path.is_empty()).then_some(path);
        let message = inner.to_string();
        // A missing field is reported at its parent: name the field itself.
        let field = match missing_field(&message) {
            Some(name) => Some(match field {
                Some(parent) => format!("{parent}.{name}"),
                None => name.to_owned(),
            }),
            None => field,
        };
        // serde appends " at line 1 column 42": keep it only for syntax errors.
        let message = if syntax {
            message
        } else {
            message
                .rsplit_once(" at line ")
                .map(|(m, _)| m.to_owned())
                .unwrap_or(message)
        };
        ApiError::BadBody {
            syntax,
            field,
            message,
        }
    })
}

/// `missing field `title`` → `title`.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split_once('`').map(|(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        title: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        translations: BTreeMap<crate::domain::language::Language, Inner>,
    }

    fn field_of(body: &str) -> Option<String> {
        match parse::<Outer>(body.as_bytes()) {
            Err(ApiError::BadBody { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_fields_are_named_where_they_are_missing() {
        assert_eq!(field_of(r#"{"translations": {}}"#).as_deref(), Some("name"));
        assert_eq!(
            field_of(r#"{"name": "x", "translations": {"fr": {}}}"#).as_deref(),
            Some("translations.fr.title")
        );
    }

    #[test]
    fn a_field_inside_a_translation_keeps_its_language() {
        assert_eq!(
            field_of(r#"{"name": "x", "translations": {"en": {"title": 3}}}"#).as_deref(),
            Some("translations.en.title")
        );
    }
}
