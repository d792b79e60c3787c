//! A query-string extractor that names the parameter at fault: an unknown, a
//! missing or an invalid parameter is a 400 whose `field` and
//! `errors[].parameter` say which (actix's own says only "Query deserialize
//! error").

use super::problem::ApiError;
use crate::db::PageRequest;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use std::future::{Ready, ready};

pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse(req.query_string()).map(Query))
    }
}

pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        let name = if let Some(rest) = message
            .strip_prefix("missing field `")
            .or_else(|| message.strip_prefix("unknown field `"))
        {
            rest.split_once('`').map(|(n, _)| n.to_owned())
        } else {
            (path != "." && path != "?" && !path.is_empty()).then_some(path)
        };
        ApiError::BadParameter {
            place: "query",
            name,
            message,
        }
    })
}

/// The page a list request asks for, checked against `PageRequest`'s bounds;
/// a page or page size out of bounds is a 400 naming that query parameter
/// (not a body pointer: there is no body).
pub fn page(page: Option<i64>, per_page: Option<i64>) -> Result<PageRequest, ApiError> {
    PageRequest { page, per_page }
        .validate()
        .map_err(|err| match err {
            crate::error::Error::Invalid { field, message } => ApiError::BadParameter {
                place: "query",
                name: Some(field),
                message,
            },
            other => ApiError::Domain(other),
        })
}

/// For `web::PathConfig`: the path parameter that could not be read, named
/// by finding the segment whose value does not parse as the number the
/// handlers' paths hold (every typed path parameter is an id).
pub fn path_error(err: actix_web::error::PathError, req: &HttpRequest) -> actix_web::Error {
    let params: Vec<(String, String)> = req
        .match_info()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let name = params
        .iter()
        .find(|(_, v)| v.parse::<i64>().is_err())
        .or(params.first())
        .map(|(k, _)| k.clone());
    ApiError::BadParameter {
        place: "path",
        name,
        message: err.to_string(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Filters {
        page: Option<i64>,
        list: i64,
    }

    fn name_of(query: &str) -> Option<String> {
        match parse::<Filters>(query) {
            Err(ApiError::BadParameter { name, place, .. }) => {
                assert_eq!(place, "query");
                name
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_parameter_at_fault_is_named() {
        assert_eq!(name_of("list=1&page=abc").as_deref(), Some("page"));
        assert_eq!(name_of("page=2").as_deref(), Some("list"));
        assert_eq!(name_of("list=1&colour=red").as_deref(), Some("colour"));
        assert!(parse::<Filters>("list=3&page=2").is_ok());
    }
}
