//! The HTTP side: loopback listener, one task per connection, graceful stop.
//!
//! Requests are answered by [`crate::routes`] on a blocking thread. Before
//! anything is routed, the `Host` and the bearer token are checked
//! ([`crate::guard`]), writes are refused (but for the two reviews,
//! [`crate::review`]) and the `--rbac` knob is applied; knobs (latency, forced
//! failures) are applied here because they are about the transport, not
//! the content.
//!
//! Connections are bounded as an API server bounds them: at most
//! `--max-connections` at once (more wait in the listen queue), a header
//! must arrive complete within `--idle-timeout-ms` of the connection
//! becoming idle (which also closes idle keep-alive and slowloris
//! connections), and a client that takes no response bytes for that long is
//! dropped. Accept errors (out of file descriptors) back off from 5 ms to
//! 1 s, as Go's `net/http` does, instead of spinning.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{
    HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, RETRY_AFTER, WARNING,
};
use hyper::{Method, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Sleep;

use crate::guard::{self, Access};

use crate::errors::ApiError;
use crate::knobs::{
    FailMode, Knobs, FLOW_SCHEMA_HEADER, FLOW_SCHEMA_UID, PRIORITY_LEVEL_HEADER,
    PRIORITY_LEVEL_UID, RETRY_AFTER_SECONDS, TIMEOUT_HOLD, TOO_MANY_REQUESTS_BODY,
};
use crate::review;
use crate::routes::{self, Reply, Request, Route, State};

/// Default of `--idle-timeout-ms`: the header read timeout hyper and Go
/// servers default to.
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 30_000;

/// Default of `--max-connections`: far above what kubectl opens, far below
/// the usual 1024 file descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 128;

/// Pieces of a streamed body buffered between the reading thread and the
/// connection (with [`crate::logtail::CHUNK`], 512 KiB per stream).
const STREAM_BUFFER: usize = 8;

/// How connections are admitted and bounded.
#[derive(Debug, Clone)]
pub struct Connections {
    /// Token and port every request is checked against.
    pub access: Access,
    /// Header-read and stalled-write timeout.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

/// A response body: whole, or streamed from a blocking reader.
pub enum ResBody {
    /// A body known in full.
    Full(Full<Bytes>),
    /// Pieces sent by a reader thread; an error aborts the response.
    Stream(mpsc::Receiver<std::io::Result<Bytes>>),
}

impl Body for ResBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            ResBody::Full(b) => Pin::new(b)
                .poll_frame(cx)
                .map_err(|never: Infallible| match never {}),
            ResBody::Stream(rx) => rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResBody::Full(b) => b.is_end_stream(),
            ResBody::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResBody::Full(b) => b.size_hint(),
            ResBody::Stream(_) => SizeHint::default(),
        }
    }
}

type Resp = Response<ResBody>;

/// Turns a reply into an HTTP response; a streamed reply starts its reader
/// on a blocking thread.
fn response(mut reply: Reply) -> Resp {
    let body = match reply.stream.take() {
        Some(stream) => {
            let (tx, rx) = mpsc::channel(STREAM_BUFFER);
            tokio::task::spawn_blocking(move || {
                let sent = stream
                    .run(&mut |piece| tx.blocking_send(Ok(Bytes::copy_from_slice(piece))).is_ok());
                if let Err(e) = sent {
                    let _ = tx.blocking_send(Err(e));
                }
            });
            ResBody::Stream(rx)
        }
        None => ResBody::Full(Full::new(Bytes::from(reply.body))),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = hyper::StatusCode::from_u16(reply.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    if let Some(w) = reply
        .warning
        .as_deref()
        .and_then(|w| HeaderValue::from_str(&format!("299 - \"{w}\"")).ok())
    {
        headers.insert(WARNING, w);
    }
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
fn with_apf_headers(knobs: &Knobs, mut resp: Resp) -> Resp {
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
fn too_many_requests() -> Resp {
    let mut resp = Response::new(ResBody::Full(Full::new(Bytes::from_static(
        TOO_MANY_REQUESTS_BODY.as_bytes(),
    ))));
    *resp.status_mut() = hyper::StatusCode::TOO_MANY_REQUESTS;
    let headers = resp.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    resp
}

/// The `Host` and token checks, before anything is read from the bundle:
/// the API path asked for (the token prefix removed), or the error to
/// answer with.
pub fn admit<B>(access: &Access, req: &hyper::Request<B>) -> Result<String, ApiError> {
    let host = req.headers().get(HOST).and_then(|h| h.to_str().ok());
    let authority = req.uri().authority().map(|a| a.as_str());
    let host_ok = host.is_some_and(|h| guard::host_allowed(h, access.port))
        && authority.is_none_or(|a| guard::host_allowed(a, access.port));
    if !host_ok {
        return Err(guard::wrong_host(authority.or(host), access.port));
    }
    let path = req.uri().path();
    if let Some(rest) = guard::strip_token(path, &access.token) {
        return Ok(rest.to_string());
    }
    let auth = req.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes);
    if guard::authorized(auth, &access.token) || guard::is_public(path) {
        return Ok(path.to_string());
    }
    Err(guard::unauthorized())
}

async fn serve_request(state: Arc<State>, access: &Access, req: hyper::Request<Incoming>) -> Resp {
    let knobs = state.knobs.clone();
    let snapshot_now = snapshot_clock(state.store.now());
    let resp = match admit(access, &req) {
        Err(refused) => response(Reply::error(&refused)),
        Ok(path) => answer(state, &path, req).await,
    };
    with_date(snapshot_now, with_apf_headers(&knobs, resp))
}

/// When serve started answering, for [`snapshot_clock`].
static SERVING_SINCE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// The snapshot's clock: the collection end plus the time serve has been
/// answering. A snapshot is the cluster as of its collection, so its
/// answers are dated then (as its tables' ages already are), and a
/// collector reading the `Date` header records times consistent with the
/// objects it collects.
fn snapshot_clock(collected: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    let since = SERVING_SINCE.get_or_init(std::time::Instant::now);
    let elapsed = chrono::Duration::from_std(since.elapsed()).unwrap_or_default();
    collected + elapsed
}

/// The `Date` header (RFC 7231 IMF-fixdate) of an answer.
fn with_date(now: chrono::DateTime<chrono::Utc>, mut resp: Resp) -> Resp {
    let text = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if let Ok(value) = HeaderValue::from_str(&text) {
        resp.headers_mut().insert(hyper::header::DATE, value);
    }
    resp
}

async fn answer(state: Arc<State>, path: &str, req: hyper::Request<Incoming>) -> Resp {
    if let Some(latency) = state.knobs.latency {
        tokio::time::sleep(latency).await;
    }
    let method = req.method().clone();
    if method == Method::POST && review::is_review(path) {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = req.into_body();
        return response(review::create(&state, path, content_type.as_deref(), body).await);
    }
    if method != Method::GET && method != Method::HEAD {
        return response(Reply::error(&ApiError::read_only(method.as_str())));
    }
    let route = Route::parse(path);
    let query = query_pairs(req.uri().query());
    let is_watch = query
        .iter()
        .any(|(k, v)| k == "watch" && crate::watch::params::is_true(v));
    let verb = match &route {
        _ if is_watch => "watch",
        Route::Resource { name: Some(_), .. } => "get",
        _ => "list",
    };
    if let Some(err) = review::forbidden(&state.knobs, &review::attributes(&route, verb, path)) {
        return response(Reply::error(&err));
    }
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
    let accept = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(reply) = negotiated_document(&state, &route, accept) {
        return response(reply);
    }
    let table = wants_table(accept);
    let for_watch = state.clone();
    let mut reply = tokio::task::spawn_blocking(move || {
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
    let watch = reply.watch.take();
    let mut resp = response(reply);
    if let Some(plan) = watch {
        *resp.body_mut() = ResBody::Stream(crate::watch::start(for_watch, plan));
    }
    resp
}

/// The documents whose form depends on `accept`: `/api` and `/apis` in
/// the aggregated form, `/openapi/v2` as protobuf, when `accept` prefers
/// them.
fn negotiated_document(state: &State, route: &Route, accept: &str) -> Option<Reply> {
    let Route::Static(segs) = route else {
        return None;
    };
    let core = match segs.as_slice() {
        [root] if root == "api" => true,
        [root] if root == "apis" => false,
        [root, v] if root == "openapi" && v == "v2" => {
            let (doc, content_type) = crate::openapi::v2_protobuf(accept)?;
            let mut reply = Reply::raw_json(200, doc.to_vec());
            reply.content_type = content_type;
            return Some(reply);
        }
        _ => return None,
    };
    let (version, content_type) = crate::aggregated::negotiate(accept)?;
    let doc = crate::aggregated::document(version, core, state.has_metrics);
    let mut reply = Reply::json(200, &doc);
    reply.content_type = content_type;
    Some(reply)
}

/// Go's accept back-off: 5 ms doubling to 1 s, reset by a success.
#[derive(Debug, Default)]
pub struct Backoff(Option<Duration>);

impl Backoff {
    /// The delay after one more failed accept.
    pub fn after_failure(&mut self) -> Duration {
        let d = self.0.map_or(Duration::from_millis(5), |d| {
            (d * 2).min(Duration::from_secs(1))
        });
        self.0 = Some(d);
        d
    }

    /// After a successful accept.
    pub fn reset(&mut self) {
        self.0 = None;
    }
}

/// Runs the accept loop until `stop` fires, then drops every connection.
pub async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    conn: Connections,
    mut stop: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(conn.max_connections));
    let access = Arc::new(conn.access.clone());
    let mut backoff = Backoff::default();
    loop {
        // A free slot first: past the limit, clients wait in the kernel's
        // listen queue rather than costing a task and a descriptor.
        let slot = tokio::select! {
            _ = &mut stop => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => accepted,
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => {
                backoff.reset();
                stream
            }
            Err(e) => {
                drop(slot);
                let delay = backoff.after_failure();
                eprintln!("kpm serve: accept error: {e}; retrying in {delay:?}");
                tokio::select! {
                    _ = &mut stop => break,
                    _ = tokio::time::sleep(delay) => continue,
                }
            }
        };
        let state = state.clone();
        let access = access.clone();
        let idle = conn.idle_timeout;
        connections.spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                let access = access.clone();
                async move { Ok::<_, Infallible>(serve_request(state, &access, req).await) }
            });
            // A client hanging up mid-request is not an error worth
            // reporting: kubectl does it on every Ctrl-C.
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(idle)
                .serve_connection(TokioIo::new(StallGuard::new(stream, idle)), service)
                .await;
        });
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// Fails a write that has made no progress for the timeout, so a client
/// that stops reading its response cannot hold the connection (and the
/// thread streaming a log to it) forever.
pub struct StallGuard<T> {
    inner: T,
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
    armed: bool,
}

impl<T> StallGuard<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, timeout: Duration) -> StallGuard<T> {
        StallGuard {
            inner,
            timeout,
            sleep: Box::pin(tokio::time::sleep(timeout)),
            armed: false,
        }
    }

    fn check<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<std::io::Result<R>>,
    ) -> Poll<std::io::Result<R>> {
        if polled.is_ready() {
            self.armed = false;
            return polled;
        }
        if !self.armed {
            self.armed = true;
            let deadline = tokio::time::Instant::now() + self.timeout;
            self.sleep.as_mut().reset(deadline);
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "client took no response bytes",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.check(cx, polled)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.check(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
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
    fn accept_errors_back_off_like_net_http() {
        let mut b = Backoff::default();
        let delays: Vec<u64> = (0..10)
            .map(|_| b.after_failure().as_millis() as u64)
            .collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.reset();
        assert_eq!(b.after_failure(), Duration::from_millis(5));
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
