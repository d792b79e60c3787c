//! The four record routes every entity has — create, read, replace, delete —
//! written once over the use-case layer's `app::records`. `list` differs per
//! entity (its filters) and is written by hand.

/// Generates `create` (editor), `read` (viewer), `replace` (editor, optimistic
/// concurrency), `remove` (admin) and `history` (viewer) handlers for one entity.
/// A `Change-Reason` header on a write is kept in the history as its reason.
macro_rules! record_routes {
    (
        tag: $tag:literal,
        collection: $collection:literal,
        item: $item:literal,
        history: $history:literal,
        input: $input:ty,
        output: $output:ty,
        record: $record:ty $(,)?
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
                who: crate::http::auth::Editor,
                state: crate::http::routes::State,
                req: actix_web::HttpRequest,
                input: crate::http::json::Json<$input>,
            ) -> crate::http::problem::ApiResult<actix_web::HttpResponse> {
                let cx = crate::http::routes::context(&state, &who.0, &req);
                let created = state
                    .db
                    .transaction(move |c| crate::app::records::create::<$record>(c, &cx, &input.0))
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
                let found = state
                    .db
                    .run(move |c| <$record as crate::app::records::Record>::get(c, id))
                    .await?;
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
                who: crate::http::auth::Editor,
                state: crate::http::routes::State,
                req: actix_web::HttpRequest,
                id: actix_web::web::Path<i64>,
                input: crate::http::json::Json<$input>,
            ) -> crate::http::problem::ApiResult<actix_web::HttpResponse> {
                let id = id.into_inner();
                let expected = crate::http::ExpectedVersion::from_request(&req, input.0.version)?;
                let cx = crate::http::routes::context(&state, &who.0, &req);
                let updated = state
                    .db
                    .transaction(move |c| {
                        let version = expected.or_current(|| Ok(<$record as crate::app::records::Record>::get(c, id)?.version))?;
                        crate::app::records::update::<$record>(c, &cx, id, version, &input.0)
                    })
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
                who: crate::http::auth::Admin,
                state: crate::http::routes::State,
                req: actix_web::HttpRequest,
                id: actix_web::web::Path<i64>,
            ) -> crate::http::problem::ApiResult<actix_web::HttpResponse> {
                let id = id.into_inner();
                let cx = crate::http::routes::context(&state, &who.0, &req);
                state
                    .db
                    .transaction(move |c| crate::app::records::delete::<$record>(c, &cx, id))
                    .await?;
                Ok(actix_web::HttpResponse::NoContent().finish())
            }

            #[utoipa::path(tag = $tag, security(("bearer" = ["viewer"])),
                params(("id" = i64, Path)),
                responses(
                    (status = 200, body = Vec<crate::domain::history::HistoryEntry>, description = "Every change of the record, oldest first (also after it was deleted)"),
                ))]
            #[get($history)]
            pub async fn history(
                _: crate::http::auth::Viewer,
                state: crate::http::routes::State,
                id: actix_web::web::Path<i64>,
            ) -> crate::http::problem::ApiResult<actix_web::HttpResponse> {
                let id = id.into_inner();
                let entity = <$record as crate::app::records::Record>::ENTITY;
                let found = state
                    .db
                    .run(move |c| crate::app::history::of_record(c, entity, id))
                    .await?;
                Ok(actix_web::HttpResponse::Ok().json(found))
            }
        }

        pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
            cfg.service(list)
                .service(record::create)
                .service(record::read)
                .service(record::replace)
                .service(record::remove)
                .service(record::history);
        }
    };
}

pub(crate) use record_routes;
