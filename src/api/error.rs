//! The API's error answers: `{"error": …, "remedy": …}` with a status code. Which code a
//! [`cairn::Error`](crate::Error) gets is decided in one place, [`status_for`].

use crate::Error;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The status code.
    pub status: StatusCode,
    /// What went wrong.
    pub error: String,
    /// What to do.
    pub remedy: String,
}

/// The status code of a library error: 400 for bad input (and an identity that cannot decrypt),
/// 409 when another job holds the repository (the message names it), 500 for the rest.
pub fn status_for(e: &Error) -> StatusCode {
    match e {
        Error::Usage { .. } | Error::WrongIdentity { .. } => StatusCode::BAD_REQUEST,
        Error::Busy { .. } => StatusCode::CONFLICT,
        Error::Service { .. }
        | Error::Storage(_)
        | Error::Corrupt { .. }
        | Error::Failed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// An answer with `status`.
    pub fn new(status: StatusCode, error: impl Into<String>, remedy: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            remedy: remedy.into(),
        }
    }

    /// 400: the request is wrong.
    pub fn bad_request(error: impl Into<String>, remedy: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, remedy)
    }

    /// 404: no such resource.
    pub fn not_found(error: impl Into<String>, remedy: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, error, remedy)
    }

    /// 401: no token, or not a valid one.
    pub fn unauthorized(error: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            error,
            "send `Authorization: Bearer TOKEN` with a token from `cairn token create NAME --role reader|admin` (`cairn token list` shows the valid ones)",
        )
    }

    /// 403: a reader token asked for a change.
    pub fn forbidden(token: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            format!("token {token} has the reader role, which may not change anything"),
            "use a token with the admin role (`cairn token create NAME --role admin`)",
        )
    }

    /// 413: the body is over the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {} KiB", limit / 1024),
            "send a smaller body: every request of this API fits in a few KiB",
        )
    }

    /// The same error answered with another status (a failed probe of a new location is the
    /// request's fault: 400).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError {
            status: status_for(&e),
            error: e.to_string(),
            remedy: e.remedy(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.error, "remedy": self.remedy });
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{StorageError, StorageErrorKind};

    #[test]
    fn each_error_kind_has_its_status() {
        let cases: Vec<(Error, u16)> = vec![
            (Error::usage("bad", "fix"), 400),
            (
                Error::WrongIdentity {
                    backup: "b".into(),
                    recipients: vec!["age1x".into()],
                },
                400,
            ),
            (
                Error::Busy {
                    holder: "backup job J running".into(),
                },
                409,
            ),
            (
                Error::service("s", crate::error::ServiceCause::CommandFailed, "exit 1"),
                500,
            ),
            (
                Error::Storage(StorageError::new(StorageErrorKind::LogonFailure, "x", "y")),
                500,
            ),
            (Error::corrupt("pack", "bad"), 500),
            (Error::failed("m", "r"), 500),
        ];
        for (e, code) in cases {
            assert_eq!(status_for(&e).as_u16(), code, "{e:?}");
            let a = ApiError::from(e);
            assert_eq!(a.status.as_u16(), code);
            assert!(!a.error.is_empty() && !a.remedy.is_empty());
        }
    }

    #[test]
    fn a_busy_answer_names_the_running_job() {
        let a = ApiError::from(Error::Busy {
            holder: "backup job 20261130T210000.000Z-abcd running since now (pid 1)".into(),
        });
        assert_eq!(a.status, StatusCode::CONFLICT);
        assert!(a.error.contains("20261130T210000.000Z-abcd"), "{}", a.error);
    }
}
