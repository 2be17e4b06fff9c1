//! An object id in a path, taken as any text so that a malformed id is the original's 404.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseFromParameter, ParseResult, Type};

/// An object id in a path. Any text is accepted so that `/api/tasks/abc/` is the 404 it
/// was in the original, not a 400; the document still says "integer".
#[derive(Debug, Clone, Copy)]
pub struct PathId(pub Option<i64>);

impl Type for PathId {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "integer_int64".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("integer", "int64")))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromParameter for PathId {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(PathId(value.parse().ok()))
    }
}
