//! Authentication and roles: every request but the console's page carries
//! `Authorization: Bearer TOKEN`; a reader token may only read (GET, HEAD).

use super::error::ApiError;
use super::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The middleware: 401 without a valid token, 403 for a reader asking for a change.
pub async fn require_token(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string());
    let Some(presented) = presented.filter(|t| !t.is_empty()) else {
        return ApiError::unauthorized("no token: this API needs `Authorization: Bearer TOKEN`")
            .into_response();
    };
    // one `stat` of the token file, and its reading when it changed (tokens::Verifier)
    let found = match state.tokens.check(&presented) {
        Ok(f) => f,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(token) = found else {
        return ApiError::unauthorized("the token is not valid (unknown or revoked)")
            .into_response();
    };
    let reads = matches!(*req.method(), Method::GET | Method::HEAD);
    if !reads && !token.role.may_change() {
        return ApiError::forbidden(&token.name).into_response();
    }
    next.run(req).await
}
