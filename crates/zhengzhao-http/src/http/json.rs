//! `ApiJson<T>`: the JSON body extractor every write endpoint uses. It turns
//! each way a body can be wrong into a problem with the field path.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;
use zhengzhao_core::Error;
use zhengzhao_domain::FieldError;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        JsonBody::from_request(req, state)
            .await?
            .parse()
            .map(ApiJson)
    }
}

/// A JSON body whose media type and size are checked but which is not parsed
/// yet: handlers that must check permission before looking at the content
/// (so that a caller without the right learns nothing from validation
/// messages) take this and call [`JsonBody::parse`] afterwards.
pub struct JsonBody(Bytes);

impl JsonBody {
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        Ok(parse(&self.0)?)
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json")
                    || m.to_ascii_lowercase().ends_with("+json")
            });
        if !is_json {
            return Err(Error::UnsupportedMediaType.into());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Error::TooLarge
            } else {
                Error::Malformed(rejection.body_text())
            }
        })?;
        Ok(JsonBody(bytes))
    }
}

/// Parse JSON, reporting syntax errors by position and shape errors by path.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let inner = e.inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(Error::Malformed(format!("body is not valid JSON: {inner}")));
            }
            let path = e
                .path()
                .iter()
                .filter_map(|seg| match seg {
                    serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                    serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                    serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
                    serde_path_to_error::Segment::Unknown => None,
                })
                .collect::<Vec<_>>()
                .join("/");
            Err(Error::Validation(vec![FieldError::new(
                path,
                "shape",
                inner.to_string(),
                format!("字段内容不符合要求：{inner}"),
            )]))
        }
    }
}

/// `ApiQuery<T>`: query-string extractor whose failures are problems too.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|r| Error::Malformed(r.body_text()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Inner>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
    }

    #[test]
    fn paths_and_kinds() {
        match parse::<Outer>(b"{\"items\": [{\"n\": 1}, {\"n\": 300}]}") {
            Err(Error::Validation(e)) => assert_eq!(e[0].field, "items/1/n"),
            other => panic!("{other:?}"),
        }
        match parse::<Outer>(b"{\"items\": [], \"x\": 1}") {
            Err(Error::Validation(e)) => {
                assert!(e[0].message.contains("unknown field `x`"), "{e:?}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse::<Outer>(b"{\"items\": ["),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(
            parse::<Outer>(b"not json"),
            Err(Error::Malformed(_))
        ));
    }
}
