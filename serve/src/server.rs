//! The HTTP side: loopback listener, one task per connection, graceful stop.
//!
//! Requests are answered by [`crate::routes`] on a blocking thread. Writes
//! are refused before routing; knobs (latency, forced failures) are applied
//! here because they are about the transport, not the content.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::errors::ApiError;
use crate::knobs::{
    FailMode, Knobs, FLOW_SCHEMA_HEADER, FLOW_SCHEMA_UID, PRIORITY_LEVEL_HEADER,
    PRIORITY_LEVEL_UID, RETRY_AFTER_SECONDS, TIMEOUT_HOLD, TOO_MANY_REQUESTS_BODY,
};
use crate::routes::{self, Reply, Request, Route, State};

/// Turns a reply into an HTTP response.
fn response(reply: Reply) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(reply.body)));
    *resp.status_mut() = hyper::StatusCode::from_u16(reply.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    resp
}

/// Whether the client asked for a `meta.k8s.io` Table (kubectl's
/// server-side printing).
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').any(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io")
    })
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Adds the API Priority and Fairness headers a real API server puts on
/// every answer (clients such as kpm-collect read them to decide whether
/// client-side rate limiting is needed), unless `--no-apf`.
fn with_apf_headers(knobs: &Knobs, mut resp: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    if !knobs.no_apf {
        let headers = resp.headers_mut();
        for (name, value) in [
            (FLOW_SCHEMA_HEADER, FLOW_SCHEMA_UID),
            (PRIORITY_LEVEL_HEADER, PRIORITY_LEVEL_UID),
        ] {
            // `from_bytes` lower-cases the documented spelling.
            if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                headers.insert(name, HeaderValue::from_static(value));
            }
        }
    }
    resp
}

/// An APF-style rejection: plain text and `Retry-After`, as
/// kube-apiserver's `tooManyRequests` answers.
fn too_many_requests() -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(
        TOO_MANY_REQUESTS_BODY.as_bytes(),
    )));
    *resp.status_mut() = hyper::StatusCode::TOO_MANY_REQUESTS;
    let headers = resp.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    resp
}

async fn serve_request(state: Arc<State>, req: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
    let knobs = state.knobs.clone();
    with_apf_headers(&knobs, answer(state, req).await)
}

async fn answer(state: Arc<State>, req: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
    if let Some(latency) = state.knobs.latency {
        tokio::time::sleep(latency).await;
    }
    let method = req.method().clone();
    if method != Method::GET && method != Method::HEAD {
        return response(Reply::error(&ApiError::read_only(method.as_str())));
    }
    let route = Route::parse(req.uri().path());
    let query = query_pairs(req.uri().query());
    let is_watch = query
        .iter()
        .any(|(k, v)| k == "watch" && (v == "true" || v == "1"));
    let verb = match &route {
        _ if is_watch => "watch",
        Route::Resource { name: Some(_), .. } => "get",
        _ => "list",
    };
    let continuing = query.iter().any(|(k, v)| k == "continue" && !v.is_empty());
    if let Some((mode, err)) = route
        .target(verb)
        .and_then(|t| state.knobs.failure_for(&t, continuing))
    {
        match mode {
            FailMode::Timeout => tokio::time::sleep(TIMEOUT_HOLD).await,
            FailMode::TooManyRequests => return too_many_requests(),
            _ => {}
        }
        return response(Reply::error(&err));
    }
    let table = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(wants_table);
    let reply = tokio::task::spawn_blocking(move || {
        routes::handle(
            &state,
            &Request {
                route: &route,
                query: &query,
                table,
            },
        )
    })
    .await
    .unwrap_or_else(|e| Reply::error(&ApiError::internal(format!("request handler failed: {e}"))));
    response(reply)
}

/// Runs the accept loop until `stop` fires, then drops every connection.
pub async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else { continue };
                let state = state.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(serve_request(state, req).await) }
                    });
                    // A client hanging up mid-request is not an error worth
                    // reporting: kubectl does it on every Ctrl-C.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// Loopback address with the requested port (0 = any free port).
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apf_headers_unless_no_apf() {
        let ok = || response(Reply::error(&ApiError::no_such_resource()));
        let mut knobs = Knobs::default();
        let with = with_apf_headers(&knobs, ok());
        assert_eq!(
            with.headers()
                .get("X-Kubernetes-PF-FlowSchema-UID")
                .and_then(|v| v.to_str().ok()),
            Some(FLOW_SCHEMA_UID)
        );
        assert!(with
            .headers()
            .contains_key("x-kubernetes-pf-prioritylevel-uid"));
        knobs.no_apf = true;
        let without = with_apf_headers(&knobs, ok());
        assert!(!without
            .headers()
            .contains_key("x-kubernetes-pf-flowschema-uid"));
    }

    #[test]
    fn rejection_is_plain_text_with_retry_after() {
        let r = too_many_requests();
        assert_eq!(r.status(), hyper::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            r.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()),
            Some("1")
        );
        assert_eq!(
            r.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
            Some("text/plain; charset=utf-8")
        );
    }

    #[test]
    fn kubectl_table_accept_is_recognised() {
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json, */*"));
        assert!(!wants_table(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        ));
    }
}
