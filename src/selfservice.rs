//! Self-service endpoints on the HTTP listener, for users rather than
//! identity providers: TOTP enrolment, authenticated with the user's own
//! credentials (HTTP Basic: userName and password, followed by the current
//! code when they already have a factor).
//!
//! - `POST /self-service/mfa/totp` starts an enrolment and answers the
//!   secret, its `otpauth://` URI and a QR code (SVG, as a data URI);
//! - `POST /self-service/mfa/totp/confirm` with `{"code": "123456"}` (a
//!   code of the new secret) completes it;
//! - `GET /self-service/set-password#TOKEN` is the page a one-time link
//!   from `roster user invite` opens: a form that sets the password.

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
        .route(
            "/self-service/set-password",
            axum::routing::get(set_password_form).post(set_password),
        )
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
            DirectoryError::PasswordRejected(rejection) => {
                Failure(StatusCode::BAD_REQUEST, format!("{rejection}."))
            }
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

// ----- the set-password page (`roster user invite`) -----

/// The set-password page. The link's token is in the URL's fragment, which
/// browsers do not send: the page's script copies it into the form, so
/// that it is never in a request line (or a log).
const SET_PASSWORD_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Set your password</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:28em;margin:3em auto;padding:0 1em}
label{display:block;margin-top:1em}input{width:100%;padding:.4em}
button{margin-top:1.5em;padding:.5em 1.5em}.error{color:#a00}</style></head>
<body><h1>Set your password</h1>{message}
<form method="post" action="/self-service/set-password">
<input type="hidden" name="token" id="token" value="{token}">
<label>New password <input type="password" name="password" autocomplete="new-password" required></label>
<label>Repeat it <input type="password" name="confirm" autocomplete="new-password" required></label>
<button type="submit">Set password</button></form>
<script>var t=document.getElementById("token");if(!t.value){t.value=location.hash.slice(1);}</script>
</body></html>"#;

const DONE_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Password set</title></head>
<body style="font-family:sans-serif;max-width:28em;margin:3em auto">
<h1>Password set</h1><p>{message}</p></body></html>"#;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// An HTML answer that is never cached or framed.
fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, axum::response::Html(body)).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action 'self'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn form_page(status: StatusCode, token: &str, error: Option<&str>) -> Response {
    let message = error.map_or(String::new(), |e| {
        format!("<p class=\"error\">{}</p>", escape(e))
    });
    let page = SET_PASSWORD_PAGE
        .replace("{message}", &message)
        .replace("{token}", &escape(token));
    html(status, page)
}

async fn set_password_form() -> Response {
    form_page(StatusCode::OK, "", None)
}

#[derive(serde::Deserialize)]
struct SetPassword {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

async fn set_password(
    State(directory): State<Directory>,
    client: Option<Extension<ClientAddr>>,
    axum::Form(form): axum::Form<SetPassword>,
) -> Response {
    if form.password != form.confirm {
        return form_page(
            StatusCode::BAD_REQUEST,
            &form.token,
            Some("The two passwords differ."),
        );
    }
    let actor = actor(&client, "set-password-link");
    match directory
        .set_password_by_invite(&actor, &form.token, &form.password)
        .await
    {
        Ok(user) => html(
            StatusCode::OK,
            DONE_PAGE.replace(
                "{message}",
                &format!(
                    "The password of {} is set. This link no longer works.",
                    escape(&user.attrs.user_name)
                ),
            ),
        ),
        Err(e) => {
            let Failure(status, detail) = Failure::from(e);
            form_page(status, &form.token, Some(&detail))
        }
    }
}
