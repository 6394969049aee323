//! Extractors whose failures are [`ApiError`]s naming the field: the conversation and
//! message ids of a path, a JSON body, a query string.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, Required, Type};

use super::error::ApiError;
use super::query;

/// The `{id}` of a path: a positive 64-bit integer, else 400 naming `id`.
#[derive(Debug, Clone, Copy)]
pub struct ConversationId(pub i64);

/// The `{message_id}` of a path: a positive 64-bit integer, else 400 naming
/// `message_id`.
#[derive(Debug, Clone, Copy)]
pub struct MessageId(pub i64);

/// The positive 64-bit integer `text`, the path segment `name`; else 400 naming it.
fn path_id(name: &str, text: &str) -> Result<i64, ApiError> {
    text.parse().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::invalid(name, format!("{text:?} is not a positive 64-bit integer"))
    })
}

/// The OpenAPI parameter of the path segment `name`: a positive 64-bit integer.
fn id_parameter(name: &str, description: &str) -> Parameter {
    let schema = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Int64,
        )))
        .minimum(Some(1));
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

impl ConversationId {
    fn parse(text: &str) -> Result<Self, ApiError> {
        path_id("id", text).map(ConversationId)
    }
}

impl FromRequest for ConversationId {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req.match_info().get("id").unwrap_or_default()))
    }
}

impl utoipa::IntoParams for ConversationId {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![id_parameter("id", "The conversation id")]
    }
}

impl FromRequest for MessageId {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let text = req.match_info().get("message_id").unwrap_or_default();
        ready(path_id("message_id", text).map(MessageId))
    }
}

impl utoipa::IntoParams for MessageId {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![id_parameter("message_id", "The message id")]
    }
}

/// A JSON object body read into `T`. Size, content type and syntax are checked by the app's
/// `JsonConfig`; the conversion to `T` goes through `serde_path_to_error`, so that a
/// wrong type names its field (`messages[1].tokens: invalid type: string ...`).
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = json.await?.into_inner();
            // serde would also read a struct from an array of its fields.
            if !value.is_object() {
                return Err(ApiError::invalid("body", "must be a JSON object").into());
            }
            serde_path_to_error::deserialize(value)
                .map(Body)
                .map_err(|error| ApiError::from_path("body", error).into())
        })
    }
}

/// A query string read into `T`; an error names the parameter.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Params<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(query::parse(req.query_string()).map(Params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive_i64() {
        assert_eq!(ConversationId::parse("42").unwrap().0, 42);
        for bad in ["", "abc", "0", "-1", "1.5", "99999999999999999999"] {
            let error = ConversationId::parse(bad).unwrap_err();
            assert!(error.to_string().starts_with("id: "), "{bad}: {error}");
        }
    }
}
