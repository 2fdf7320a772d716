//! The collector's client for the platform API: pages of raw records behind
//! an opaque cursor, the entity and center registries, the usage counts per
//! center and day, bearer auth, error
//! classification and retries with backoff. Redirects are refused, never
//! followed, so the token goes to the configured URL only.
//!
//! Keeps every record as the bytes the platform sent; it parses nothing
//! beyond the page envelope, which is the core crate's job.

mod counts;
mod error;
mod page;
mod retry;
mod retry_after;

pub use error::FetchError;
pub use page::{Page, PageRecord, MAX_CURSOR_BYTES};
pub use retry::{with_retry, RetryPolicy, DEFAULT_MAX_RETRY_AFTER};

use reqwest::header::{HeaderMap, AUTHORIZATION, LOCATION};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// A client of one platform.
#[derive(Clone)]
pub struct PlatformClient {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl fmt::Debug for PlatformClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformClient").field("base", &self.base).field("token", &"<redacted>").finish()
    }
}

/// The `Location` of a redirect as an error may show it: at most 200 characters, the
/// token (should the platform echo it) replaced.
fn shown_location(headers: &HeaderMap, token: &str) -> String {
    let Some(raw) = headers.get(LOCATION) else { return "no Location".into() };
    let text: String = String::from_utf8_lossy(raw.as_bytes()).chars().take(200).collect();
    if token.is_empty() { text } else { text.replace(token, "<redacted>") }
}

#[derive(Deserialize)]
struct EntitiesWire {
    entities: Vec<Value>,
}

#[derive(Deserialize)]
struct CentersWire {
    centers: Vec<Value>,
}

#[derive(Deserialize)]
struct ErrorWire {
    message: String,
}

/// Largest answer accepted, in bytes: a full page of records at the longest line
/// accepted, with room for the envelope. A larger body is refused before it fills memory.
pub const MAX_BODY_BYTES: usize = (MAX_PAGE_LIMIT as usize + 1) * subsidy_core::record::MAX_LINE_BYTES;

/// Largest page asked for.
pub const MAX_PAGE_LIMIT: u32 = 1_000;

/// Reads a body of at most [`MAX_BODY_BYTES`].
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
    let too_large = |n: u64| FetchError::Protocol(format!("an answer of {n} bytes or more, larger than the {MAX_BODY_BYTES} any page can be"));
    if let Some(n) = response.content_length().filter(|n| *n > MAX_BODY_BYTES as u64) {
        return Err(too_large(n));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| FetchError::from_reqwest(&e))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large((body.len() + chunk.len()) as u64));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl PlatformClient {
    /// A client for the API at `base_url` (e.g. `http://127.0.0.1:8080`); `timeout` bounds each request.
    pub fn new(base_url: &str, token: &str, timeout: Duration) -> Result<PlatformClient, FetchError> {
        let base = base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(FetchError::Config(format!("base URL {base_url:?} is not http(s)")));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| FetchError::Config(e.to_string()))?;
        Ok(PlatformClient { http, base, auth: format!("Bearer {token}") })
    }

    /// GETs `path` with `query`, returning the body of a 200 answer.
    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<u8>, FetchError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .get(url)
            .header(AUTHORIZATION, &self.auth)
            .query(query)
            .send()
            .await
            .map_err(|e| FetchError::from_reqwest(&e))?;
        let status = response.status();
        if status.is_redirection() {
            let token = self.auth.strip_prefix("Bearer ").unwrap_or_default();
            return Err(FetchError::Redirected { status: status.as_u16(), location: shown_location(response.headers(), token) });
        }
        let after = retry_after::from_headers(response.headers(), chrono::Utc::now());
        let body = read_body(response).await?;
        match status {
            StatusCode::OK => Ok(body.to_vec()),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(FetchError::Unauthorized { status: status.as_u16() }),
            StatusCode::TOO_MANY_REQUESTS => Err(FetchError::RateLimited { retry_after: after }),
            s if s.is_server_error() => Err(FetchError::Server { status: s.as_u16(), retry_after: after }),
            s => {
                let message = serde_json::from_slice::<ErrorWire>(&body)
                    .map(|e| e.message)
                    .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(200).collect());
                Err(FetchError::Rejected { status: s.as_u16(), message })
            }
        }
    }

    /// One page of records from `cursor` (the start of the stream when `None`), at most `limit` (1–1000).
    pub async fn fetch_page(&self, cursor: Option<&str>, limit: u32) -> Result<Page, FetchError> {
        let mut query = vec![("limit", limit.to_string())];
        if let Some(c) = cursor {
            query.push(("cursor", c.to_owned()));
        }
        let body = self.get("/v1/usage-records", &query).await?;
        Page::decode(&body)
    }

    /// [`PlatformClient::fetch_page`], retried under `policy`; `on_retry` sees each retried error and the wait.
    pub async fn fetch_page_with_retry(
        &self,
        cursor: Option<&str>,
        limit: u32,
        policy: &RetryPolicy,
        on_retry: impl FnMut(&FetchError, Duration),
    ) -> Result<Page, FetchError> {
        with_retry(policy, || self.fetch_page(cursor, limit), on_retry).await
    }

    /// The entity objects, unchecked.
    pub async fn fetch_entities(&self) -> Result<Vec<Value>, FetchError> {
        let body = self.get("/v1/entities", &[]).await?;
        let wire: EntitiesWire = serde_json::from_slice(&body).map_err(|e| FetchError::from_json(&e))?;
        Ok(wire.entities)
    }

    /// The compute-center objects, unchecked.
    pub async fn fetch_centers(&self) -> Result<Vec<Value>, FetchError> {
        let body = self.get("/v1/compute-centers", &[]).await?;
        let wire: CentersWire = serde_json::from_slice(&body).map_err(|e| FetchError::from_json(&e))?;
        Ok(wire.centers)
    }
}
