//! Watches (`?watch=true`): what `kubectl get -w`, `rollout status`, `wait`
//! and informers open after (or instead of) a list.
//!
//! A snapshot never changes, so a watch is its initial state (when the
//! request asks for it, see [`params`]) followed by silence: the stream stays
//! open, with a `BOOKMARK` every [`BOOKMARK_EVERY`] when the client allows
//! them, until the client leaves or `timeoutSeconds` passes, as a watch on a
//! quiet cluster would. Clients therefore report what the snapshot shows: a
//! stuck rollout keeps waiting, a condition never met times out.
//!
//! The stream is JSON watch events (`metav1.WatchEvent`: `{"type":"ADDED",
//! "object":{…}}`), one per line, sent chunked. Events of a Table request
//! (`kubectl get -w` prints through the server) carry a one-row Table. The
//! initial state is written on a blocking thread straight from the stored
//! text, a chunk at a time, so a 150,000-pod watch never holds more than a
//! few chunks.

pub mod params;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kpm_bundle::layout::{ResourceKind, Scope};
use serde::de::IgnoredAny;
use tokio::sync::mpsc;

use crate::errors::ApiError;
use crate::list::{combined_resource_version, push_json_str, select_page, Candidates, ListParams};
use crate::routes::{Request, State};
use crate::store::{Item, Loaded};
use crate::table::{Include, TableWriter};
pub use params::{Start, WatchParams};

/// How often a watch that allows bookmarks gets one: the API server's
/// bookmark frequency (about a minute).
pub const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

/// Bytes of events gathered before they are handed to the connection.
const CHUNK: usize = 32 * 1024;

/// Chunks buffered between the writing thread and the connection.
const BUFFER: usize = 4;

/// The annotation of the bookmark that ends `sendInitialEvents`.
pub const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// A watch, checked and ready to stream; errors a client must get as an
/// HTTP status (unknown kind, forbidden, bad options) were raised before.
#[derive(Debug)]
pub struct Plan {
    kind_name: &'static str,
    api_version: String,
    /// The kind whose objects are replayed; None for a kind served empty.
    kind: Option<&'static ResourceKind>,
    /// The lists to replay; None walks every namespace of `kind` lazily.
    lists: Option<Vec<Arc<Loaded>>>,
    /// Label and field selection (`limit` and `continue` do not apply).
    select: ListParams,
    /// Only the object of this name (a watch on an object's own URL).
    name: Option<String>,
    start: Start,
    resource_version: String,
    params: WatchParams,
    /// Rows of a Table instead of objects.
    table: Option<Include>,
    now: chrono::DateTime<chrono::Utc>,
    bookmark_every: Duration,
}

impl Plan {
    /// Plans a watch of `kind` in `ns` (None: every namespace, or a
    /// cluster-scope kind), or of one object when `name` is given. `lists`
    /// are the lists a namespaced or cluster-scope list request answers
    /// from (already checked for missing kinds); None for every namespace.
    pub fn new(
        state: &State,
        req: &Request<'_>,
        kind: &'static ResourceKind,
        lists: Option<Vec<Arc<Loaded>>>,
        name: Option<&str>,
    ) -> Result<Plan, ApiError> {
        let select = ListParams::from_query(req.query, kind.plural)?;
        let resource_version = match &lists {
            Some(lists) => {
                combined_resource_version(lists.iter().map(|l| l.resource_version.as_str()))
            }
            None => {
                state.store.check_all_namespaces(kind)?;
                state.store.bundle_resource_version()
            }
        };
        let mut plan = Plan::empty(
            kind.kind,
            kind.api_version(),
            req,
            resource_version,
            state.store.now(),
        )?;
        if req.table {
            // Checks now that the kind has a printer.
            TableWriter::new(kind, Include::None, plan.now)?;
        }
        plan.kind = Some(kind);
        plan.lists = lists;
        plan.select = select;
        plan.name = name.map(str::to_string);
        Ok(plan)
    }

    /// A watch on a kind served as always empty (ReplicationControllers).
    pub fn empty(
        kind_name: &'static str,
        api_version: String,
        req: &Request<'_>,
        resource_version: String,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Plan, ApiError> {
        let params = WatchParams::from_query(req.query)?;
        let param = |k: &str| {
            req.query
                .iter()
                .find(|(qk, _)| qk == k)
                .map(|(_, v)| v.as_str())
        };
        Ok(Plan {
            kind_name,
            api_version,
            kind: None,
            lists: Some(Vec::new()),
            select: ListParams::default(),
            name: None,
            start: params.start(&resource_version),
            resource_version,
            params,
            table: req
                .table
                .then(|| Include::from_query(param("includeObject"))),
            now,
            bookmark_every: BOOKMARK_EVERY,
        })
    }

    /// Sends bookmarks this often instead (tests).
    pub fn with_bookmark_every(mut self, every: Duration) -> Plan {
        self.bookmark_every = every;
        self
    }

    /// A `BOOKMARK` event: an object of the kind with only its version.
    fn bookmark(&self, initial_end: bool) -> Vec<u8> {
        let mut meta = serde_json::json!({"resourceVersion": self.resource_version, "creationTimestamp": null});
        if initial_end {
            meta["annotations"] = serde_json::json!({ INITIAL_EVENTS_END: "true" });
        }
        let event = serde_json::json!({
            "type": "BOOKMARK",
            "object": {"kind": self.kind_name, "apiVersion": self.api_version, "metadata": meta},
        });
        let mut out = serde_json::to_vec(&event).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// An `ERROR` event carrying a `Status`.
fn error_event(e: &ApiError) -> Vec<u8> {
    let event = serde_json::json!({"type": "ERROR", "object": e.to_status()});
    let mut out = serde_json::to_vec(&event).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The stored object with `kind` and `apiVersion` added when missing, as a
/// watch event's object carries them.
fn push_typed(out: &mut Vec<u8>, raw: &str, kind: &ResourceKind) {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct TypeMeta {
        #[serde(default)]
        kind: Option<IgnoredAny>,
        #[serde(default)]
        api_version: Option<IgnoredAny>,
    }
    let present = serde_json::from_str::<TypeMeta>(raw).ok();
    let mut added: Vec<(&str, String)> = Vec::new();
    if present.as_ref().is_none_or(|t| t.kind.is_none()) {
        added.push(("kind", kind.kind.to_string()));
    }
    if present.as_ref().is_none_or(|t| t.api_version.is_none()) {
        added.push(("apiVersion", kind.api_version()));
    }
    let Some(body) = raw.trim_start().strip_prefix('{') else {
        out.extend_from_slice(raw.as_bytes());
        return;
    };
    out.push(b'{');
    let empty = body.trim_start().starts_with('}');
    for (i, (k, v)) in added.iter().enumerate() {
        push_json_str(out, k);
        out.push(b':');
        push_json_str(out, v);
        if i + 1 < added.len() || !empty {
            out.push(b',');
        }
    }
    out.extend_from_slice(body.as_bytes());
}

/// Where events go: gathered into chunks, handed to the connection.
struct Sink<'a> {
    tx: &'a mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
    /// The client went away: stop writing.
    gone: bool,
}

impl Sink<'_> {
    fn flush(&mut self) -> bool {
        if self.gone {
            return false;
        }
        if !self.buf.is_empty() {
            let chunk = Bytes::from(std::mem::take(&mut self.buf));
            self.gone = self.tx.blocking_send(Ok(chunk)).is_err();
        }
        !self.gone
    }

    fn push(&mut self, event: &[u8]) -> bool {
        self.buf.extend_from_slice(event);
        self.buf.len() < CHUNK || self.flush()
    }
}

/// Writes one `ADDED` event of a stored object.
fn added_event(plan: &Plan, kind: &ResourceKind, raw: &str) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    out.extend_from_slice(br#"{"type":"ADDED","object":"#);
    match plan.table {
        Some(include) => {
            let mut t = TableWriter::new(kind, include, plan.now)?;
            t.row(raw)?;
            out.extend_from_slice(&t.finish(&plan.resource_version, None));
        }
        None => push_typed(&mut out, raw, kind),
    }
    out.push(b'}');
    one_line(&mut out);
    out.push(b'\n');
    Ok(out)
}

/// Removes the whitespace between JSON tokens when there is a line break:
/// stored objects may be pretty-printed, and clients such as the Python
/// client read one event per line.
fn one_line(json: &mut Vec<u8>) {
    if !json.iter().any(|b| *b == b'\n' || *b == b'\r') {
        return;
    }
    let (mut in_string, mut escaped) = (false, false);
    json.retain(|&b| {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            return true;
        }
        match b {
            b'"' => {
                in_string = true;
                true
            }
            b' ' | b'\t' | b'\n' | b'\r' => false,
            _ => true,
        }
    });
}

/// Writes the initial state (if asked for) on the calling thread; false
/// when the stream must end here (client gone, or an error event sent).
fn initial(state: &State, plan: &Plan, sink: &mut Sink<'_>) -> bool {
    let end_marker = match &plan.start {
        Start::Error(e) => {
            sink.push(&error_event(e));
            sink.flush();
            return false;
        }
        Start::AfterState => return sink.flush(),
        Start::WithState { end_marker } => *end_marker,
    };
    if let Some(kind) = plan.kind {
        let candidates = match &plan.lists {
            Some(lists) => Candidates::Lists(lists),
            None => Candidates::Namespaces(&state.store, kind),
        };
        let selected = select_page(
            kind.plural,
            candidates,
            &plan.select,
            None,
            &mut |list: &Loaded, item: &Item| {
                if plan.name.as_ref().is_some_and(|n| *n != item.name) {
                    return Ok(());
                }
                let event = added_event(plan, kind, list.raw(item))?;
                if sink.push(&event) {
                    Ok(())
                } else {
                    Err(ApiError::internal("the client left the watch"))
                }
            },
        );
        if sink.gone {
            return false;
        }
        if let Err(e) = selected {
            sink.push(&error_event(&e));
            sink.flush();
            return false;
        }
    }
    if end_marker {
        sink.push(&plan.bookmark(true));
    }
    sink.flush()
}

/// Starts streaming `plan`: the initial state from a blocking thread, then
/// bookmarks until the client leaves or the timeout passes. Returns the
/// body's receiving end.
pub fn start(state: Arc<State>, plan: Plan) -> mpsc::Receiver<std::io::Result<Bytes>> {
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + plan.params.timeout;
        let plan = Arc::new(plan);
        let writer = {
            let (plan, tx) = (plan.clone(), tx.clone());
            tokio::task::spawn_blocking(move || {
                let mut sink = Sink {
                    tx: &tx,
                    buf: Vec::new(),
                    gone: false,
                };
                initial(&state, &plan, &mut sink)
            })
        };
        let go_on = tokio::select! {
            done = writer => done.unwrap_or(false),
            _ = tokio::time::sleep_until(deadline) => false,
        };
        if !go_on {
            return;
        }
        let mut ticks = tokio::time::interval_at(
            tokio::time::Instant::now() + plan.bookmark_every,
            plan.bookmark_every,
        );
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                _ = tx.closed() => break,
                _ = ticks.tick(), if plan.params.bookmarks => {
                    if tx.send(Ok(Bytes::from(plan.bookmark(false)))).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// Plans the watch of a request routed to `kind` in `ns`: of the list
/// URL, or of the object `name` (its own URL with `?watch=true`).
pub fn plan(
    state: &State,
    req: &Request<'_>,
    kind: &'static ResourceKind,
    ns: Option<&str>,
    name: Option<&str>,
) -> Result<Plan, ApiError> {
    let lists = match (kind.scope, ns) {
        (Scope::Namespaced, None) => None,
        _ => Some(crate::routes::lists_for(state, kind, ns)?),
    };
    Plan::new(state, req, kind, lists, name)
}

#[cfg(test)]
mod tests;
