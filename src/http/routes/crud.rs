//! The four record routes every entity has — create, read, replace, delete —
//! written once. `list` differs per entity (its filters) and is written by hand.

/// Generates `create` (editor), `read` (viewer), `replace` (editor, optimistic
/// concurrency) and `remove` (admin) handlers for one entity.
macro_rules! record_routes {
    (
        tag: $tag:literal,
        collection: $collection:literal,
        item: $item:literal,
        input: $input:ty,
        output: $output:ty,
        create: $create:path,
        get: $get:path,
        update: $update:path,
        delete: $delete:path $(,)?
    ) => {
        /// Handlers in their own module: utoipa recognises actix's route attributes
        /// only by their bare names (`#[post]`), which must not clash with the
        /// caller's imports.
        mod record {
            #[allow(unused_imports)]
            use super::*;
            use actix_web::{delete, get, post, put};

            #[utoipa::path(tag = $tag, request_body = $input, security(("bearer" = ["editor"])),
                responses(
                    (status = 201, body = $output, description = "Created; ETag holds the version"),
                    (status = 400, body = crate::http::problem::Problem, description = "Malformed JSON"),
                    (status = 422, body = crate::http::problem::Problem, description = "Invalid field"),
                    (status = 409, body = crate::http::problem::Problem, description = "Conflicts with an existing record"),
                ))]
            #[post($collection)]
            pub async fn create(
                _: crate::http::auth::Editor,
                state: crate::http::routes::State,
                input: crate::http::json::Json<$input>,
            ) -> crate::http::problem::ApiResult<actix_web::HttpResponse> {
                let now = state.clock.now();
                let created = state
                    .db
                    .transaction(move |c| $create(c, &input.0, now))
                    .await?;
                Ok(crate::http::routes::versioned(
                    actix_web::http::StatusCode::CREATED,
                    &created,
                    created.version,
                ))
            }

            #[utoipa::path(tag = $tag, security(("bearer" = ["viewer"])),
                params(("id" = i64, Path)),
                responses(
                    (status = 200, body = $output, description = "ETag holds the version"),
                    (status = 404, body = crate::http::problem::Problem),
                ))]
            #[get($item)]
            pub async fn read(
                _: crate::http::auth::Viewer,
                state: crate::http::routes::State,
                id: actix_web::web::Path<i64>,
            ) -> crate::http::problem::ApiResult<actix_web::HttpResponse> {
                let id = id.into_inner();
                let found = state.db.run(move |c| $get(c, id)).await?;
                Ok(crate::http::routes::versioned(actix_web::http::StatusCode::OK, &found, found.version))
            }

            #[utoipa::path(tag = $tag, request_body = $input, security(("bearer" = ["editor"])),
                params(
                    ("id" = i64, Path),
                    ("If-Match" = Option<String>, Header, description = "ETag of the version being replaced (or send `version` in the body)"),
                ),
                responses(
                    (status = 200, body = $output),
                    (status = 404, body = crate::http::problem::Problem),
                    (status = 409, body = crate::http::problem::Problem, description = "Body `version` is not the current one"),
                    (status = 412, body = crate::http::problem::Problem, description = "If-Match is not the current ETag"),
                    (status = 422, body = crate::http::problem::Problem),
                    (status = 428, body = crate::http::problem::Problem, description = "No version given"),
                ))]
            #[put($item)]
            pub async fn replace(
                _: crate::http::auth::Editor,
                state: crate::http::routes::State,
                req: actix_web::HttpRequest,
                id: actix_web::web::Path<i64>,
                input: crate::http::json::Json<$input>,
            ) -> crate::http::problem::ApiResult<actix_web::HttpResponse> {
                let id = id.into_inner();
                let expected = crate::http::ExpectedVersion::from_request(&req, input.0.version)?;
                let now = state.clock.now();
                let updated = state
                    .db
                    .transaction(move |c| $update(c, id, expected.value(), &input.0, now))
                    .await
                    .map_err(|e| expected.map_err(e))?;
                Ok(crate::http::routes::versioned(actix_web::http::StatusCode::OK, &updated, updated.version))
            }

            #[utoipa::path(tag = $tag, security(("bearer" = ["admin"])),
                params(("id" = i64, Path)),
                responses(
                    (status = 204, description = "Deleted"),
                    (status = 404, body = crate::http::problem::Problem),
                    (status = 409, body = crate::http::problem::Problem, description = "Still referenced"),
                ))]
            #[delete($item)]
            pub async fn remove(
                _: crate::http::auth::Admin,
                state: crate::http::routes::State,
                id: actix_web::web::Path<i64>,
            ) -> crate::http::problem::ApiResult<actix_web::HttpResponse> {
                let id = id.into_inner();
                let now = state.clock.now();
                state.db.transaction(move |c| $delete(c, id, now)).await?;
                Ok(actix_web::HttpResponse::NoContent().finish())
            }
        }

        pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
            cfg.service(list)
                .service(record::create)
                .service(record::read)
                .service(record::replace)
                .service(record::remove);
        }
    };
}

pub(crate) use record_routes;
