//! Request bodies the way DRF parsed them: JSON or form-encoded, into a field map that
//! the validators in `fields` read with DRF's coercions and messages.
//!
//! poem-openapi's own `Json<T>` would reject a wrong-typed field with its own message;
//! clients of the original expect `{"title": ["This field may not be null."]}`. So the
//! body is parsed here, by hand, while `T` still describes it in the OpenAPI document.

use std::marker::PhantomData;

use poem::{Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaMediaType, MetaRequest, Registry},
    types::Type,
};
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::ApiError;

pub const JSON: &str = "application/json";
/// Accepted, not documented (see `request_meta`).
pub const FORM: &str = "application/x-www-form-urlencoded";

/// A request body documented as `T`, parsed as a DRF field map.
pub struct DrfBody<T> {
    pub data: Map<String, Value>,
    _schema: PhantomData<fn() -> T>,
}

impl<'a, T: Type> ApiExtractor<'a> for DrfBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            // Form-encoded bodies are accepted too (as the original did), but documenting
            // both makes generated clients send forms, which cannot carry nulls or
            // numbers; JSON is the documented way.
            content: vec![MetaMediaType {
                content_type: JSON,
                schema: T::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        _opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let limit = req
            .data::<AppState>()
            .map_or(1 << 20, |s| s.limits.max_body_bytes);
        let bytes = body
            .take()
            .map_err(ApiError::internal)?
            .into_bytes_limit(limit)
            .await
            .map_err(|e| match e {
                poem::error::ReadBodyError::PayloadTooLarge => ApiError::payload_too_large(limit),
                e => ApiError::bad_request(format!("Could not read the request body: {e}")),
            })?;
        let data = parse(req.content_type(), &bytes)?;
        Ok(DrfBody {
            data,
            _schema: PhantomData,
        })
    }
}

pub(crate) fn parse(
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<Map<String, Value>, ApiError> {
    let essence = content_type.map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    match essence.as_deref() {
        Some(JSON) => parse_json(bytes),
        Some(ct) if ct.starts_with("application/") && ct.ends_with("+json") => parse_json(bytes),
        Some(FORM) => parse_form(bytes),
        // No body and no type: DRF sees no data, and the field validators say what is missing.
        None if bytes.is_empty() => Ok(Map::new()),
        None => Err(ApiError::unsupported_media_type("")),
        Some(_) => Err(ApiError::unsupported_media_type(
            content_type.unwrap_or_default(),
        )),
    }
}

fn parse_json(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("JSON parse error - {e}")))?;
    let got = match value {
        Value::Object(map) => return Ok(map),
        Value::Null => {
            return Err(ApiError::field("non_field_errors", "No data provided"));
        }
        Value::Array(_) => "list",
        Value::String(_) => "str",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
    };
    Err(ApiError::field(
        "non_field_errors",
        format!("Invalid data. Expected a dictionary, but got {got}."),
    ))
}

fn parse_form(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
        .map_err(|e| ApiError::bad_request(format!("Form parse error - {e}")))?;
    // Repeated keys: the last one wins, as Django's QueryDict.get does.
    Ok(pairs
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_list_is_not_a_dictionary() {
        let e = parse(Some(JSON), b"[]").unwrap_err();
        let ApiError::BadRequest(body) = e else {
            panic!("expected 400")
        };
        assert_eq!(
            Value::Object(body.0.0).to_string(),
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#
        );
    }

    #[test]
    fn form_bodies_become_string_fields() {
        let m = parse(
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"title=Form+task&x=1",
        )
        .unwrap();
        assert_eq!(m["title"], "Form task");
    }

    #[test]
    fn text_plain_is_unsupported() {
        assert!(matches!(
            parse(Some("text/plain"), b"hi"),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }
}

/// Property tests: any bytes under any content type parse or fail cleanly.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::parse;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_bytes_under_any_content_type_parse_or_fail_cleanly(
            bytes in prop::collection::vec(any::<u8>(), 0..512),
            ct in prop_oneof![
                Just(Some("application/json".to_owned())),
                Just(Some("application/x-www-form-urlencoded".to_owned())),
                Just(None),
                ".{0,40}".prop_map(Some),
            ],
        ) {
            let _ = parse(ct.as_deref(), &bytes);
        }
    }
}
