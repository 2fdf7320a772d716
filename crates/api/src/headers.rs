//! The security headers every answer of the API and the portal carries.
//!
//! Answers hold one holder's ledger, so none may be kept by a browser or a
//! proxy (`Cache-Control: no-store`); a browser must take each at its stated
//! type (`nosniff`), never show it in a frame (`frame-ancestors 'none'`,
//! `X-Frame-Options: DENY`) and never send its address on (`no-referrer`).
//! The portal's pages load nothing but their own stylesheet and post forms
//! only to the portal; the API's JSON loads nothing at all.

use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The portal pages' policy: the stylesheet at `/portal/style.css`, forms posted to the portal.
pub const PORTAL_CSP: &str = "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Every other answer's policy: nothing to load, nowhere to be framed.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Sets the security headers on the answer to `request`.
pub async fn secure(request: Request, next: Next) -> Response {
    let portal = request.uri().path().starts_with("/portal");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(if portal { PORTAL_CSP } else { API_CSP }));
    response
}
