//! Errors: [`ServerError`] for starting and stopping the server, [`ApiError`] for what a
//! request gets. An `ApiError` body never carries internal detail: client errors say what
//! the client can fix, server errors only that something failed; the cause of a server error
//! is logged once, where the `ApiError` is made.

use std::path::PathBuf;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::limits::RETRY_AFTER_SECONDS;

/// Errors of starting, running and stopping the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A configuration, token, certificate or policy file is invalid.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: std::net::SocketAddr,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The collectors could not start.
    #[error("collectors: {0}")]
    Collect(#[from] collect::CollectError),
    /// The store refused.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// TLS could not be set up.
    #[error("tls: {0}")]
    Tls(String),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The writer thread stopped unexpectedly.
    #[error("the writer thread panicked")]
    WriterPanicked,
    /// Random bytes for a token could not be had.
    #[error("no random bytes for a token: {0}")]
    Random(String),
    /// A token to revoke is not known.
    #[error("no token named or with id {0}; list them with `auditrail token list`")]
    UnknownToken(String),
    /// A token with this name exists.
    #[error("a token named {0} exists; revoke it first or choose another --name")]
    DuplicateToken(String),
}

/// What a request gets when it fails.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No credentials, or credentials not known (401).
    #[error("authentication required: send a bearer token or a client certificate")]
    Unauthenticated,
    /// The credentials' role may not do this (403).
    #[error("this role may not {0}")]
    Forbidden(&'static str),
    /// Nothing at this path (404).
    #[error("not found")]
    NotFound,
    /// What the request names does not exist (404); the message says what to ask instead.
    #[error("{0}")]
    Missing(String),
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than the limit (413).
    #[error("request body larger than {0} bytes; send smaller batches")]
    TooLarge(usize),
    /// The principal's request rate is over its limit (429).
    #[error("too many requests; retry later")]
    RateLimited,
    /// The server is at capacity (503 with Retry-After); nothing of the request was kept.
    #[error("the server is busy; retry later")]
    Overloaded,
    /// This build lacks what the request needs (501), for example SQL support.
    #[error("{0}")]
    NotImplemented(&'static str),
    /// Something failed inside the server (500 or 503); the cause is logged, not sent.
    #[error("internal error; nothing was stored or returned, retry later")]
    Internal,
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::Missing(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Overloaded | ApiError::Internal => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// An internal error whose cause is logged here, once.
    pub(crate) fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!("request failed: {cause}");
        ApiError::Internal
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::json!({ "error": self.to_string(), "code": status.as_u16() });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match self {
            ApiError::Unauthenticated => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"auditrail\""),
                );
            }
            ApiError::RateLimited | ApiError::Overloaded | ApiError::Internal => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            _ => {}
        }
        response
    }
}
