//! Bearer-token authentication for the SCIM resource endpoints.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ScimError;
use super::ScimState;
use crate::directory::{Actor, Protocol, ScopeTarget};
use crate::http::ClientAddr;

/// Lets a request through only with a valid `Authorization: Bearer` token,
/// and records the token's name as the request's [`Actor`].
pub async fn require_token(
    State(state): State<ScimState>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_string());
    let Some(presented) = presented else {
        return ScimError::unauthorized().into_response();
    };
    match state.directory.verify_token(&presented).await {
        Ok(Some(token)) => {
            let path = request.uri().path().trim_start_matches(super::BASE_PATH);
            let searches = path.ends_with("/.search");
            let writes = request.method() != axum::http::Method::GET && !searches;
            let target = if path == "/Users" || path.starts_with("/Users/") {
                ScopeTarget::Users
            } else {
                ScopeTarget::Other
            };
            if !token.scope.allows(writes, target) {
                return ScimError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    None,
                    format!(
                        "this token's scope ({}) does not allow this request",
                        token.scope.as_str()
                    ),
                )
                .into_response();
            }
            let client = request
                .extensions()
                .get::<ClientAddr>()
                .map(|c| c.0.ip().to_string());
            let actor = Actor::new(format!("token:{}", token.name), Protocol::Scim, client);
            request.extensions_mut().insert(actor);
            next.run(request).await
        }
        Ok(None) => ScimError::unauthorized().into_response(),
        Err(e) => ScimError::from(e).into_response(),
    }
}
