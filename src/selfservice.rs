//! Self-service endpoints on the HTTP listener, for users rather than
//! identity providers: TOTP enrolment, authenticated with the user's own
//! credentials (HTTP Basic: userName and password, followed by the current
//! code when they already have a factor).
//!
//! - `POST /self-service/mfa/totp` starts an enrolment and answers the
//!   secret, its `otpauth://` URI and a QR code (SVG, as a data URI);
//! - `POST /self-service/mfa/totp/confirm` with `{"code": "123456"}` (a
//!   code of the new secret) completes it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::directory::{Actor, Directory, DirectoryError, Protocol};
use crate::http::ClientAddr;

/// The routes, under `/self-service`.
pub fn router(directory: Directory) -> Router {
    Router::new()
        .route("/self-service/mfa/totp", post(start))
        .route("/self-service/mfa/totp/confirm", post(confirm))
        .with_state(directory)
}

/// An error answer: a status and a JSON `detail`.
struct Failure(StatusCode, String);

impl From<DirectoryError> for Failure {
    fn from(e: DirectoryError) -> Failure {
        match e {
            DirectoryError::InvalidCredentials
            | DirectoryError::PasswordExpired
            | DirectoryError::AccountLocked => Failure(
                StatusCode::UNAUTHORIZED,
                "the userName or password (and code) is not right".into(),
            ),
            DirectoryError::Invalid { attribute, detail } => {
                Failure(StatusCode::BAD_REQUEST, format!("{attribute}: {detail}"))
            }
            DirectoryError::Conflict(detail) => Failure(StatusCode::CONFLICT, detail),
            DirectoryError::NotFound(what) => {
                Failure(StatusCode::NOT_FOUND, format!("{what} not found"))
            }
            other => {
                tracing::error!(error = %other, "self-service request failed");
                Failure(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
            }
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(json!({ "detail": self.1 }))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"roster\", charset=\"UTF-8\""),
            );
        }
        response
    }
}

/// The user's name and what they presented, from HTTP Basic.
fn basic(headers: &HeaderMap) -> Result<(String, String), Failure> {
    let missing = || {
        Failure(
            StatusCode::UNAUTHORIZED,
            "authenticate with HTTP Basic: userName and password".into(),
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(missing)?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        .ok_or_else(missing)?;
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| missing())?;
    let text = String::from_utf8(decoded).map_err(|_| missing())?;
    let (name, secret) = text.split_once(':').ok_or_else(missing)?;
    Ok((name.to_string(), secret.to_string()))
}

/// The actor of a self-service request: the user, from the client's address.
fn actor(client: &Option<Extension<ClientAddr>>, name: &str) -> Actor {
    let client = client.as_ref().map(|c| c.0 .0.ip().to_string());
    Actor::new(name, Protocol::Http, client)
}

async fn start(
    State(directory): State<Directory>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
) -> Response {
    let outcome = async {
        let (name, secret) = basic(&headers)?;
        let actor = actor(&client, &name);
        let enrolment = directory.start_totp(&actor, &name, &secret).await?;
        let qr = format!(
            "data:image/svg+xml;base64,{}",
            STANDARD.encode(enrolment.qr_svg.as_bytes())
        );
        Ok::<_, Failure>(Json(json!({
            "secret": enrolment.secret,
            "otpauthUri": enrolment.uri,
            "qrCode": qr,
            "confirm": "POST /self-service/mfa/totp/confirm with {\"code\": \"<6 digits>\"}",
        })))
    };
    match outcome.await {
        Ok(body) => body.into_response(),
        Err(f) => f.into_response(),
    }
}

async fn confirm(
    State(directory): State<Directory>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = async {
        let (name, secret) = basic(&headers)?;
        let actor = actor(&client, &name);
        let body: Value = serde_json::from_slice(&body).map_err(|_| {
            Failure(
                StatusCode::BAD_REQUEST,
                "send a JSON object: {\"code\": \"123456\"}".into(),
            )
        })?;
        let code = body.get("code").and_then(Value::as_str).unwrap_or("");
        let user = directory.confirm_totp(&actor, &name, &secret, code).await?;
        Ok::<_, Failure>(Json(json!({
            "userName": user.attrs.user_name,
            "mfa": { "state": user.mfa_state().as_str(), "methods": user.mfa_methods() },
        })))
    };
    match outcome.await {
        Ok(body) => body.into_response(),
        Err(f) => f.into_response(),
    }
}
