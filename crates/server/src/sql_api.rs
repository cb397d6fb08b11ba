//! The SQL part of `POST /api/v1/sql` (the handler is in `query`, built like the other read
//! endpoints: authenticated, read role, a query slot, audited): the query out of the body,
//! run by `crates/sql` over the server's data directory (the sealed index segments and the
//! unsealed tail, so every acknowledged event), answered as JSON rows.
//!
//! The body is the query as text, or `{"query": "…"}` (JSON when the content type says so or
//! the body starts with `{`). The answer:
//!
//! ```text
//! {"columns":[{"name":"user","type":"Utf8"},…],"rows":[{"user":"alice",…},…],
//!  "row_count":N,"truncated":false}
//! ```
//!
//! Bounds (`limits`): body size, rows and bytes of an answer (cut, `"truncated": true`),
//! memory and run time of a query (400 saying how to narrow it). A query the client can fix
//! gets 400 with the reason; a failure inside gets 503 and is logged, never described. A
//! build without the `sql` feature answers 501.

use std::path::Path;

use axum::body::Body;
use axum::http::{HeaderMap, header};

use crate::error::ApiError;
use crate::limits::{
    SQL_ANSWER_BYTES_MAX, SQL_BODY_BYTES_MAX, SQL_MEMORY_BYTES_MAX, SQL_ROWS_MAX, SQL_TIMEOUT,
};

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlRequest {
    query: String,
}

#[derive(Debug, serde::Serialize)]
struct SqlAnswer<'a> {
    columns: &'a [sql::AnswerColumn],
    rows: Vec<sql::RowObject<'a>>,
    row_count: usize,
    truncated: bool,
}

/// The query of a request: its body (at most `SQL_BODY_BYTES_MAX`), JSON or plain text.
pub(crate) async fn query_of(headers: &HeaderMap, body: Body) -> Result<String, ApiError> {
    let declared_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    let body = match axum::body::to_bytes(body, SQL_BODY_BYTES_MAX).await {
        Ok(body) => body,
        Err(error) => {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            return Err(if too_large {
                ApiError::TooLarge(SQL_BODY_BYTES_MAX)
            } else {
                ApiError::BadRequest("cannot read the request body".to_owned())
            });
        }
    };
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("the query is not UTF-8 text".to_owned()))?;
    let query = if declared_json || text.trim_start().starts_with('{') {
        serde_json::from_str::<SqlRequest>(text)
            .map_err(|error| {
                ApiError::BadRequest(format!(
                    "the body is not {{\"query\": \"SELECT …\"}}: {error}; or send the query as plain text"
                ))
            })?
            .query
    } else {
        text.to_owned()
    };
    if query.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "empty query: send a SELECT over the table `events`, as text or {\"query\": \"…\"}"
                .to_owned(),
        ));
    }
    Ok(query)
}

/// Runs the query over the data directory (blocking): the JSON body and its row count.
pub(crate) fn answer(data: &Path, query: &str) -> Result<(Vec<u8>, u64), ApiError> {
    if !sql::ENABLED {
        return Err(ApiError::NotImplemented(
            "this server was built without SQL support; use the other query endpoints",
        ));
    }
    let dataset = store::open_dataset(data).map_err(|error| ApiError::internal(&error))?;
    let options = sql::Options {
        rows_max: SQL_ROWS_MAX,
        answer_bytes_max: SQL_ANSWER_BYTES_MAX,
        memory_bytes: SQL_MEMORY_BYTES_MAX,
        timeout: Some(SQL_TIMEOUT),
        ..sql::Options::default()
    };
    let answer = sql::run(&dataset, query, &options).map_err(|error| {
        if error.is_user_error() {
            // What the client can fix; without the data directory's path, should a message
            // of the engine carry one.
            let message = error.to_string();
            let message = match data.to_str() {
                Some(path) if !path.is_empty() => message.replace(path, "DATA"),
                _ => message,
            };
            ApiError::BadRequest(message)
        } else {
            ApiError::internal(&error)
        }
    })?;
    let body = serde_json::to_vec(&SqlAnswer {
        columns: &answer.columns,
        rows: answer.objects(),
        row_count: answer.rows.len(),
        truncated: answer.truncated,
    })
    .map_err(|error| ApiError::internal(&error))?;
    Ok((body, answer.rows.len() as u64))
}
