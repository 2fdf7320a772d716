//! The API's errors and their HTTP form: a status and a JSON body
//! `{"error": code, "message": text}` (plus `"parameter"` for a bad one).
//! A denied request gets one fixed body whatever was asked for.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use subsidy_store::StoreError;
use utoipa::ToSchema;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter is missing or not valid.
    #[error("{parameter}: {message}")]
    BadParameter {
        /// The parameter's name.
        parameter: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// No token, or not one in force.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// The token's role may not see this.
    #[error("this token may not see that")]
    Forbidden,
    /// Nothing has this id.
    #[error("{0}")]
    NotFound(String),
    /// The step does not fit the programme's state (a month claimed already, a claim in
    /// another stage, …).
    #[error("{0}")]
    Conflict(String),
    /// The ledger store failed; `retry` when trying again later may help.
    #[error("the ledger store failed: {detail}")]
    Store {
        /// The store's error (logged, not sent).
        detail: String,
        /// Whether the store is only unavailable.
        retry: bool,
    },
}

impl ApiError {
    /// A bad parameter.
    pub fn bad(parameter: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadParameter { parameter, message: message.into() }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadParameter { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Store { retry: true, .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Store { retry: false, .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code in the body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadParameter { .. } => "bad_parameter",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Store { retry: true, .. } => "unavailable",
            ApiError::Store { retry: false, .. } => "store_error",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::Store { retry: e.is_retryable(), detail: e.to_string() }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// `bad_parameter`, `unauthorized`, `forbidden`, `not_found`, `conflict`, `unavailable` or `store_error`.
    pub error: &'static str,
    /// The parameter at fault, for `bad_parameter`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<&'static str>,
    /// What went wrong, in words.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Store { detail, .. } => {
                tracing::warn!(error = %detail, "ledger store error while answering");
                "the ledger store failed; try again later".to_string()
            }
            ApiError::BadParameter { message, .. } => message.clone(),
            other => other.to_string(),
        };
        let parameter = match &self {
            ApiError::BadParameter { parameter, .. } => Some(*parameter),
            _ => None,
        };
        let mut response = (status, axum::Json(ErrorBody { error: self.code(), parameter, message })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
