//! Query strings read into typed structs. `serde_urlencoded` (behind `web::Query`) does
//! not say which parameter was wrong (`invalid digit found in string`); here the pairs
//! go through a small deserializer that reads numbers from text, and
//! `serde_path_to_error` names the parameter (`max_turns: "abc" is not an integer`).

use actix_web::web;
use serde::de::value::{Error, MapDeserializer, StringDeserializer};
use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, Visitor};

use super::error::ApiError;

/// Reads `query` (the raw query string) into `T`; an error names the parameter.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|error| ApiError::invalid("query", error.to_string()))?
        .into_inner();
    let map = MapDeserializer::<_, Error>::new(
        pairs.into_iter().map(|(name, value)| (name, Text(value))),
    );
    serde_path_to_error::deserialize(map).map_err(|error| ApiError::from_path("query", error))
}

/// One parameter's value: text that reads as a string, an integer, an enum variant, or
/// a present `Option`.
struct Text(String);

impl<'de> IntoDeserializer<'de, Error> for Text {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for Text {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_string(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.parse() {
            Ok(number) => visitor.visit_i64(number),
            Err(_) => Err(de::Error::custom(format!("{:?} is not an integer", self.0))),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let text: StringDeserializer<Error> = self.0.into_deserializer();
        text.deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Skip,
        Replace,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Sample {
        count: Option<i64>,
        name: Option<String>,
        mode: Option<Mode>,
        required: i64,
    }

    fn error_text(query: &str) -> String {
        parse::<Sample>(query).unwrap_err().to_string()
    }

    #[test]
    fn reads_typed_values() {
        let sample: Sample = parse("count=-3&name=a%20b&mode=replace&required=7&other=x").unwrap();
        assert_eq!(
            sample,
            Sample {
                count: Some(-3),
                name: Some("a b".into()),
                mode: Some(Mode::Replace),
                required: 7
            }
        );
        let sample: Sample = parse("required=1").unwrap();
        assert_eq!((sample.count, sample.name, sample.mode), (None, None, None));
    }

    #[test]
    fn errors_name_the_parameter() {
        assert_eq!(
            error_text("required=1&count=abc"),
            r#"count: "abc" is not an integer"#
        );
        assert!(error_text("required=1&mode=merge").starts_with("mode: unknown variant `merge`"));
        assert_eq!(error_text("count=1"), "query: missing field `required`");
        assert_eq!(
            error_text("required=99999999999999999999"),
            r#"required: "99999999999999999999" is not an integer"#
        );
    }
}
