//! SCIM error responses (RFC 7644 §3.12): a JSON body with `status` as a
//! string, an optional `scimType`, and a `detail`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::directory::DirectoryError;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const CONTENT_TYPE: &str = "application/scim+json";

/// An error as the SCIM face answers it.
#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> ScimError {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> ScimError {
        ScimError::bad_request("invalidValue", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::NOT_FOUND, None, detail)
    }

    pub fn unauthorized() -> ScimError {
        ScimError::new(
            StatusCode::UNAUTHORIZED,
            None,
            "a valid bearer token is required",
        )
    }
}

impl From<DirectoryError> for ScimError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::NotFound(what) => ScimError::not_found(format!("{what} not found")),
            DirectoryError::Uniqueness(attr) => ScimError::new(
                StatusCode::CONFLICT,
                Some("uniqueness"),
                format!("{attr} is already in use"),
            ),
            DirectoryError::Invalid { attribute, detail } => {
                ScimError::invalid_value(format!("{attribute}: {detail}"))
            }
            DirectoryError::VersionMismatch => ScimError::new(
                StatusCode::PRECONDITION_FAILED,
                None,
                "the resource was modified concurrently; fetch it and try again",
            ),
            DirectoryError::PasswordRejected(rejection) => {
                ScimError::invalid_value(format!("password: {rejection}"))
            }
            DirectoryError::Conflict(detail) => ScimError::new(StatusCode::CONFLICT, None, detail),
            DirectoryError::Protected(detail) => {
                ScimError::new(StatusCode::FORBIDDEN, Some("mutability"), detail)
            }
            DirectoryError::InvalidCredentials
            | DirectoryError::PasswordExpired
            | DirectoryError::AccountLocked => ScimError::unauthorized(),
            DirectoryError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ScimError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "internal server error",
                )
            }
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = t.into();
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"roster\""),
            );
        }
        response
    }
}

/// Result of a SCIM handler.
pub type ScimResult<T> = Result<T, ScimError>;
