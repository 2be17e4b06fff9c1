//! `SerdeJson<T>`: a JSON response payload written straight from `T`'s serde
//! `Serialize`, documented by its poem-openapi `Type`.
//!
//! poem-openapi's `Json<T>` first builds a `serde_json::Value` tree and then serialises
//! that; for a page of tasks the tree is most of the work. The hot task responses use
//! this instead; the bytes are the same.

use poem::{IntoResponse, Response};
use poem_openapi::{
    ApiResponse,
    payload::Payload,
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry},
    types::Type,
};
use serde::Serialize;

pub struct SerdeJson<T>(pub T);

impl<T: Type + Send> Payload for SerdeJson<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + Send> IntoResponse for SerdeJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder()
                .content_type("application/json; charset=utf-8")
                .body(body),
            Err(e) => crate::error::ApiError::internal(e).into_response(),
        }
    }
}

impl<T: Type + Serialize + Send> ApiResponse for SerdeJson<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// A JSON body already written (by the store), documented as `T`.
pub struct PrebuiltJson<T> {
    body: bytes::Bytes,
    _schema: std::marker::PhantomData<fn() -> T>,
}

impl<T> PrebuiltJson<T> {
    pub fn new(body: impl Into<bytes::Bytes>) -> Self {
        PrebuiltJson {
            body: body.into(),
            _schema: std::marker::PhantomData,
        }
    }
}

impl<T: Type> Payload for PrebuiltJson<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T> IntoResponse for PrebuiltJson<T> {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(self.body)
    }
}
