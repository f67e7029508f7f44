//! Gentle HTTP reads against the API server: every request passes the rate
//! limiter and a per-request timeout, and is retried when the server asks
//! for it (429, 5xx with `Retry-After`); lists are read page by page with the
//! server's `continue` token and handed over item by item, so callers never
//! hold more than one page of raw JSON.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use serde_json::Value;

use kpm_bundle::Outcome;

use crate::outcome::{classify, one_line, outcome_for_status, Failure, FailureClass};
use crate::ratelimit::{Mode, Qps, RateLimiter};
use crate::retry;

/// Shared request machinery.
pub struct Fetcher {
    client: kube::Client,
    limiter: RateLimiter,
    request_timeout: Duration,
    page_size: u32,
    retried: AtomicU64,
    /// API server clock minus local clock, in milliseconds, from the `Date`
    /// header of the latest answer; `i64::MIN` until one was seen.
    clock_skew_ms: AtomicI64,
}

/// What a list call learned besides its items.
#[derive(Debug, Default, Clone)]
pub struct ListInfo {
    /// `metadata.resourceVersion` of the first page: the snapshot the
    /// following pages continue.
    pub resource_version: Option<String>,
    /// Pages read.
    pub pages: u32,
    /// Items seen (after a restart: of the restarted read).
    pub items: u64,
    /// Requests retried because the server asked (429, 5xx + Retry-After).
    pub retries: u32,
    /// The continue token expired (410) and the list was read again.
    pub restarted: bool,
}

impl ListInfo {
    /// What the step message should say about retries and restarts.
    pub fn note(&self) -> Option<String> {
        let mut notes = Vec::new();
        if self.restarted {
            notes.push(
                "the continue token expired while paging (HTTP 410 Expired): the list was read again from the start, as client-go's pager does; items from the abandoned read were discarded"
                    .to_string(),
            );
        }
        if self.retries > 0 {
            notes.push(retried_note(self.retries));
        }
        (!notes.is_empty()).then(|| notes.join("; "))
    }
}

/// Step message for requests that succeeded after the server asked to retry.
pub fn retried_note(retries: u32) -> String {
    format!("succeeded after {retries} retries (the server answered 429 or 5xx with Retry-After)")
}

/// What a paged list hands its caller.
#[derive(Debug)]
pub enum Paged<T = Value> {
    /// The next item, in list order.
    Item(T),
    /// The continue token expired and the list starts over: forget every
    /// item handed over so far; they all come again.
    Restart,
}

/// An answer that was not a success, and whether it may be retried.
struct Rejected {
    failure: Failure,
    retry_after: Option<Duration>,
}

impl Fetcher {
    /// A fetcher over `client`, paced by `--qps`/`--burst`.
    pub fn new(
        client: kube::Client,
        qps: Qps,
        burst: Option<u32>,
        request_timeout: Duration,
        page_size: u32,
    ) -> Arc<Fetcher> {
        Arc::new(Fetcher {
            client,
            limiter: RateLimiter::new(qps, burst),
            request_timeout,
            page_size,
            retried: AtomicU64::new(0),
            clock_skew_ms: AtomicI64::new(i64::MIN),
        })
    }

    /// How far the API server's clock (its `Date` header) is ahead of the
    /// local one, once an answer was seen. Ages in a bundle are judged
    /// against the collection time, so a laptop with a wrong clock must
    /// not make every restart look recent or ancient.
    pub fn clock_skew(&self) -> Option<chrono::Duration> {
        match self.clock_skew_ms.load(Ordering::Relaxed) {
            i64::MIN => None,
            ms => Some(chrono::Duration::milliseconds(ms)),
        }
    }

    fn observe_date(&self, headers: &http::HeaderMap) {
        let date = headers
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok());
        if let Some(date) = date {
            let skew = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
            self.clock_skew_ms
                .store(skew.num_milliseconds(), Ordering::Relaxed);
        }
    }

    /// The client-side pacing in force (decided by the first answer in
    /// `auto` mode).
    pub fn mode(&self) -> Mode {
        self.limiter.mode()
    }

    /// Requests retried so far because the server asked.
    pub fn retried(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }

    /// GETs `path_and_query` and returns the body of a 2xx answer.
    pub async fn get(&self, path_and_query: &str) -> Result<Vec<u8>, Failure> {
        self.get_counted(path_and_query).await.map(|(body, _)| body)
    }

    /// [`Fetcher::get`], also returning how many retries it took.
    pub async fn get_counted(&self, path_and_query: &str) -> Result<(Vec<u8>, u32), Failure> {
        let mut retries = 0u32;
        loop {
            self.limiter.acquire().await;
            let rejected = match self.once(path_and_query).await {
                Ok(body) => return Ok((body, retries)),
                Err(r) => r,
            };
            match rejected.retry_after {
                Some(wait) if retries + 1 < retry::MAX_ATTEMPTS => {
                    retries += 1;
                    self.retried.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    let mut f = rejected.failure;
                    if retries > 0 {
                        f.message = format!(
                            "{} (gave up after {} attempts: the server kept asking to retry later)",
                            f.message,
                            retries + 1
                        );
                    }
                    return Err(f);
                }
            }
        }
    }

    /// One attempt, under the per-request timeout.
    async fn once(&self, path_and_query: &str) -> Result<Vec<u8>, Rejected> {
        let plain = |failure| Rejected {
            failure,
            retry_after: None,
        };
        let request = http::Request::get(path_and_query)
            .header(http::header::ACCEPT, "application/json, */*")
            .body(kube::client::Body::from(Vec::new()))
            .map_err(|e| {
                plain(Failure {
                    outcome: Outcome::Error,
                    http_status: None,
                    message: format!("invalid request path {path_and_query}: {e}"),
                    class: FailureClass::Step,
                })
            })?;
        let exchange = async {
            let response = self
                .client
                .send(request)
                .await
                .map_err(|e| plain(classify(&e)))?;
            self.limiter.observe(response.headers());
            self.observe_date(response.headers());
            let status = response.status();
            let retry_after = retry::delay(
                status.as_u16(),
                response
                    .headers()
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
            );
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| plain(classify(&e)))?
                .to_bytes()
                .to_vec();
            if status.is_success() {
                Ok(body)
            } else {
                Err(Rejected {
                    failure: failure_from_answer(status.as_u16(), &body),
                    retry_after,
                })
            }
        };
        match tokio::time::timeout(self.request_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(plain(Failure::timeout(self.request_timeout))),
        }
    }

    /// Lists `base` (a collection URL path, possibly with a query) page by
    /// page, calling `on_item` with every item in order.
    ///
    /// When a continue token expires (410 `Expired`: etcd compacted the
    /// revision the pages were read at), the list starts over once without
    /// the token, as client-go's pager does: [`Paged::Restart`] tells the
    /// caller to drop what the abandoned read gave it, then every item of the
    /// fresh read comes again. Unlike client-go the fresh read is still paged
    /// (client-go asks for everything in one answer), so memory stays flat on
    /// a huge list. A second expiry is a failure.
    pub async fn list(
        &self,
        base: &str,
        mut on_item: impl FnMut(Paged),
    ) -> Result<ListInfo, Failure> {
        let mut info = ListInfo::default();
        let mut token: Option<String> = None;
        loop {
            let url = page_url(base, self.page_size, token.as_deref());
            let (body, retries) = match self.get_counted(&url).await {
                Ok(answer) => answer,
                Err(f) if f.http_status == Some(410) && token.is_some() && !info.restarted => {
                    info = ListInfo {
                        restarted: true,
                        retries: info.retries,
                        ..ListInfo::default()
                    };
                    token = None;
                    on_item(Paged::Restart);
                    continue;
                }
                Err(f) => return Err(f),
            };
            info.retries += retries;
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
                    on_item(Paged::Item(item));
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
