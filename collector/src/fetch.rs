//! Gentle HTTP reads against the API server: every request passes the rate
//! limiter and a per-request timeout; lists are read page by page with the
//! server's `continue` token and handed over item by item, so callers never
//! hold more than one page of raw JSON.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use serde_json::Value;

use kpm_bundle::Outcome;

use crate::outcome::{classify, one_line, outcome_for_status, Failure, FailureClass};
use crate::ratelimit::RateLimiter;

/// Shared request machinery.
pub struct Fetcher {
    client: kube::Client,
    limiter: RateLimiter,
    request_timeout: Duration,
    page_size: u32,
}

/// What a list call learned besides its items.
#[derive(Debug, Default, Clone)]
pub struct ListInfo {
    /// `metadata.resourceVersion` of the first page: the snapshot the
    /// following pages continue.
    pub resource_version: Option<String>,
    /// Pages read.
    pub pages: u32,
    /// Items seen.
    pub items: u64,
}

impl Fetcher {
    /// A fetcher over `client`.
    pub fn new(
        client: kube::Client,
        qps: f64,
        burst: u32,
        request_timeout: Duration,
        page_size: u32,
    ) -> Arc<Fetcher> {
        Arc::new(Fetcher {
            client,
            limiter: RateLimiter::new(qps, burst),
            request_timeout,
            page_size,
        })
    }

    /// GETs `path_and_query` and returns the body of a 2xx answer.
    pub async fn get(&self, path_and_query: &str) -> Result<Vec<u8>, Failure> {
        self.limiter.acquire().await;
        let request = http::Request::get(path_and_query)
            .header(http::header::ACCEPT, "application/json, */*")
            .body(kube::client::Body::from(Vec::new()))
            .map_err(|e| Failure {
                outcome: Outcome::Error,
                http_status: None,
                message: format!("invalid request path {path_and_query}: {e}"),
                class: FailureClass::Step,
            })?;
        let exchange = async {
            let response = self.client.send(request).await.map_err(|e| classify(&e))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| classify(&e))?
                .to_bytes()
                .to_vec();
            if status.is_success() {
                Ok(body)
            } else {
                Err(failure_from_answer(status.as_u16(), &body))
            }
        };
        match tokio::time::timeout(self.request_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Failure::timeout(self.request_timeout)),
        }
    }

    /// Lists `base` (a collection URL path, possibly with a query) page by
    /// page, calling `on_item` with every item in order.
    pub async fn list(
        &self,
        base: &str,
        mut on_item: impl FnMut(Value),
    ) -> Result<ListInfo, Failure> {
        let mut info = ListInfo::default();
        let mut token: Option<String> = None;
        loop {
            let url = page_url(base, self.page_size, token.as_deref());
            let body = self.get(&url).await?;
            let page: Value =
                serde_json::from_slice(&body).map_err(|e| Failure::malformed("list", &e))?;
            drop(body);
            let Value::Object(mut page) = page else {
                return Err(Failure {
                    outcome: Outcome::Error,
                    http_status: None,
                    message: "list answer is not a JSON object".into(),
                    class: FailureClass::Step,
                });
            };
            let meta = page.remove("metadata").unwrap_or(Value::Null);
            if info.pages == 0 {
                info.resource_version = meta
                    .get("resourceVersion")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            info.pages += 1;
            if let Some(Value::Array(items)) = page.remove("items") {
                for item in items {
                    info.items += 1;
                    on_item(item);
                }
            }
            token = meta
                .get("continue")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                return Ok(info);
            }
        }
    }
}

/// `base` with `limit` and `continue` added.
pub fn page_url(base: &str, limit: u32, token: Option<&str>) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut url = format!("{base}{sep}limit={limit}");
    if let Some(t) = token {
        url.push_str("&continue=");
        url.push_str(&crate::logs::encode(t));
    }
    url
}

/// Turns an error answer into a failure, using the `Status` message the API
/// server sends when there is one.
pub fn failure_from_answer(code: u16, body: &[u8]) -> Failure {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = one_line(&text);
            if text.is_empty() {
                format!("HTTP {code}")
            } else {
                text.chars().take(300).collect()
            }
        });
    Failure {
        outcome: outcome_for_status(code),
        http_status: Some(code),
        message: one_line(&message),
        class: if code == 401 {
            FailureClass::Unauthenticated
        } else {
            FailureClass::Step
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls() {
        assert_eq!(
            page_url("/api/v1/namespaces/shop/pods", 500, None),
            "/api/v1/namespaces/shop/pods?limit=500"
        );
        assert_eq!(
            page_url("/api/v1/pods?labelSelector=k8s-app%3Dkube-dns", 50, Some("eyJ2IjoibWV0YS5rOHMuaW8vdjEi+/=")),
            "/api/v1/pods?labelSelector=k8s-app%3Dkube-dns&limit=50&continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEi%2B%2F%3D"
        );
    }

    #[test]
    fn status_answers() {
        let body = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"web-0\" not found","reason":"NotFound","details":{"name":"web-0","kind":"pods"},"code":404}"#;
        let f = failure_from_answer(404, body);
        assert_eq!((f.outcome, f.http_status), (Outcome::NotFound, Some(404)));
        assert_eq!(f.message, "pods \"web-0\" not found");
        let f = failure_from_answer(
            502,
            b"<html><body>\n<h1>502 Bad Gateway</h1>\n</body></html>",
        );
        assert_eq!(f.outcome, Outcome::Error);
        assert_eq!(
            f.message,
            "<html><body> <h1>502 Bad Gateway</h1> </body></html>"
        );
        assert_eq!(
            failure_from_answer(401, b"").class,
            FailureClass::Unauthenticated
        );
        assert_eq!(failure_from_answer(500, b"").message, "HTTP 500");
    }
}
