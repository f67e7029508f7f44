//! What a watch request asks for, and where it starts.
//!
//! The rules are the API server's (`validateWatchOptions` in
//! `k8s.io/apiserver`, "Semantics for watch" in the API concepts): with
//! `resourceVersion` unset or `"0"` the stream opens with the current state as
//! `ADDED` events; with an exact version it carries only what changed after
//! it, which on a snapshot is nothing, or an `ERROR` event when that version
//! is older or newer than the snapshot; `sendInitialEvents` (which requires
//! `resourceVersionMatch=NotOlderThan`) makes the initial state explicit and
//! ends it with a bookmark annotated `k8s.io/initial-events-end`.

use std::time::Duration;

use serde_json::json;

use crate::errors::ApiError;

/// How long a watch stays open when the client sets no `timeoutSeconds`:
/// the API server's `--min-request-timeout` default (it adds up to as much
/// again at random to spread reconnections; a snapshot has no load to
/// spread).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// The watch options of a request, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchParams {
    /// `resourceVersion`, empty when unset.
    pub resource_version: String,
    /// `sendInitialEvents`, when given.
    pub send_initial_events: Option<bool>,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `timeoutSeconds`, or [`DEFAULT_TIMEOUT`].
    pub timeout: Duration,
}

/// Where a watch starts on a snapshot whose list is at `current`.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// The current state as `ADDED` events first; `end_marker` when it ends
    /// with the `k8s.io/initial-events-end` bookmark.
    WithState {
        /// Whether the initial events end with the annotated bookmark.
        end_marker: bool,
    },
    /// After the current state: nothing to replay.
    AfterState,
    /// The stream carries this error as its only event (the API server
    /// answers 200 and an `ERROR` event once the version has parsed).
    Error(ApiError),
}

/// Go's `strconv.ParseBool`, which decodes boolean query parameters.
/// Whether a query value is true as the API server's `strconv.ParseBool`
/// reads it: clients spell it `true`, `1` or (the Python client) `True`.
pub fn is_true(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True")
}

fn parse_bool(name: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => {
            let shown: String = v.chars().take(40).collect();
            Err(ApiError::bad_request(format!(
                "invalid {name} {shown:?}: not a boolean"
            )))
        }
    }
}

/// A 422 `Invalid` about `ListOptions`, worded as the API server words a
/// `field.ErrorList`: one error bare, several in brackets.
fn invalid(errors: &[(&str, String)]) -> ApiError {
    let texts: Vec<String> = errors.iter().map(|(f, m)| format!("{f}: {m}")).collect();
    let joined = match texts.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    let causes: Vec<_> = errors
        .iter()
        .map(|(field, message)| {
            let reason = if message.starts_with("Unsupported value") {
                "FieldValueNotSupported"
            } else {
                "FieldValueForbidden"
            };
            json!({"reason": reason, "message": message, "field": field})
        })
        .collect();
    ApiError {
        code: 422,
        reason: "Invalid",
        message: format!("ListOptions.meta.k8s.io \"\" is invalid: {joined}"),
        details: Some(json!({"group": "meta.k8s.io", "kind": "ListOptions", "causes": causes})),
    }
}

impl WatchParams {
    /// Reads and checks the watch options.
    pub fn from_query(query: &[(String, String)]) -> Result<WatchParams, ApiError> {
        let get = |k: &str| {
            query
                .iter()
                .find(|(qk, _)| qk == k)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let send_initial_events = get("sendInitialEvents")
            .map(|v| parse_bool("sendInitialEvents", v))
            .transpose()?;
        let bookmarks = get("allowWatchBookmarks")
            .map(|v| parse_bool("allowWatchBookmarks", v))
            .transpose()?
            .unwrap_or(false);
        let matching = get("resourceVersionMatch");
        let mut errors = Vec::new();
        const NOT_OLDER_THAN: &str = "NotOlderThan";
        if send_initial_events.is_some() && matching != Some(NOT_OLDER_THAN) {
            errors.push((
                "resourceVersionMatch",
                format!("Forbidden: sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}"),
            ));
        }
        if let Some(m) = matching {
            if send_initial_events.is_none() {
                errors.push((
                    "resourceVersionMatch",
                    "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided".to_string(),
                ));
            }
            if m != NOT_OLDER_THAN {
                errors.push((
                    "resourceVersionMatch",
                    format!("Unsupported value: {m:?}: supported values: \"{NOT_OLDER_THAN}\""),
                ));
            }
            if get("continue").is_some() {
                errors.push((
                    "resourceVersionMatch",
                    "Forbidden: resourceVersionMatch is forbidden when continue is provided"
                        .to_string(),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(invalid(&errors));
        }
        let timeout = match get("timeoutSeconds") {
            Some(t) => {
                let n = crate::logs::parse_num("timeoutSeconds", t)?;
                match u64::try_from(n) {
                    Ok(0) => DEFAULT_TIMEOUT,
                    Ok(n) => Duration::from_secs(n),
                    Err(_) => {
                        return Err(ApiError::bad_request(format!(
                            "timeoutSeconds: Invalid value: {n}: must be greater than or equal to 0"
                        )))
                    }
                }
            }
            None => DEFAULT_TIMEOUT,
        };
        Ok(WatchParams {
            resource_version: get("resourceVersion").unwrap_or("").to_string(),
            send_initial_events,
            bookmarks,
            timeout,
        })
    }

    /// Where the watch starts, given the snapshot list's `current` version.
    pub fn start(&self, current: &str) -> Start {
        let rv = self.resource_version.as_str();
        let any = rv.is_empty() || rv == "0";
        match self.send_initial_events {
            // Legacy semantics: unset and "0" replay the state, an exact
            // version starts after it.
            None if any => return Start::WithState { end_marker: false },
            Some(true) if any => {
                return Start::WithState {
                    end_marker: self.bookmarks,
                }
            }
            Some(false) if any => return Start::AfterState,
            _ => {}
        }
        if rv == current {
            return match self.send_initial_events {
                Some(true) => Start::WithState {
                    end_marker: self.bookmarks,
                },
                _ => Start::AfterState,
            };
        }
        let not_older_than = self.send_initial_events.is_some();
        match (rv.parse::<u64>(), current.parse::<u64>()) {
            (Err(_), _) => Start::Error(ApiError::bad_request(format!(
                "resourceVersion: Invalid value: {:?}: not a resource version this server issued",
                rv.chars().take(40).collect::<String>()
            ))),
            (Ok(asked), Ok(now)) if asked > now => Start::Error(ApiError {
                code: 504,
                reason: "Timeout",
                message: format!("Too large resource version: {asked}, current: {now}"),
                details: Some(
                    json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1}),
                ),
            }),
            // Any older version is good enough for "not older than".
            (Ok(_), Ok(_)) if not_older_than => match self.send_initial_events {
                Some(true) => Start::WithState {
                    end_marker: self.bookmarks,
                },
                _ => Start::AfterState,
            },
            // The changes between an older version and the snapshot are not
            // in the bundle: the client must list again, as after a
            // compaction.
            (Ok(asked), _) => Start::Error(ApiError {
                code: 410,
                reason: "Expired",
                message: format!("too old resource version: {asked} ({current})"),
                details: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Result<WatchParams, ApiError> {
        let q: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        WatchParams::from_query(&q)
    }

    #[test]
    fn unset_and_zero_replay_the_state_exact_starts_after_it() {
        let p = params(&[]).unwrap();
        assert_eq!(p.start("42"), Start::WithState { end_marker: false });
        assert_eq!(p.timeout, DEFAULT_TIMEOUT);
        let zero = params(&[("resourceVersion", "0")]).unwrap();
        assert_eq!(zero.start("42"), Start::WithState { end_marker: false });
        let exact = params(&[("resourceVersion", "42"), ("timeoutSeconds", "5")]).unwrap();
        assert_eq!(exact.start("42"), Start::AfterState);
        assert_eq!(exact.timeout, Duration::from_secs(5));
    }

    #[test]
    fn other_versions_are_too_old_or_too_large() {
        let old = params(&[("resourceVersion", "7")]).unwrap().start("42");
        let Start::Error(e) = old else {
            panic!("{old:?}")
        };
        assert_eq!(
            (e.code, e.reason, e.message.as_str()),
            (410, "Expired", "too old resource version: 7 (42)")
        );
        let new = params(&[("resourceVersion", "50")]).unwrap().start("42");
        let Start::Error(e) = new else {
            panic!("{new:?}")
        };
        assert_eq!(
            (e.code, e.message.as_str()),
            (504, "Too large resource version: 50, current: 42")
        );
        let bad = params(&[("resourceVersion", "x")]).unwrap().start("42");
        assert!(matches!(bad, Start::Error(ApiError { code: 400, .. })));
    }

    #[test]
    fn send_initial_events_needs_not_older_than_and_ends_with_a_marker() {
        let e = params(&[("sendInitialEvents", "true")]).unwrap_err();
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
        );
        let e = params(&[("resourceVersionMatch", "Exact")]).unwrap_err();
        assert!(e.message.contains(": [resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided, resourceVersionMatch: Unsupported value: \"Exact\""), "{}", e.message);
        let list = params(&[
            ("sendInitialEvents", "true"),
            ("resourceVersionMatch", "NotOlderThan"),
            ("allowWatchBookmarks", "true"),
        ])
        .unwrap();
        assert_eq!(list.start("42"), Start::WithState { end_marker: true });
        let mut older = list.clone();
        older.resource_version = "7".into();
        assert_eq!(older.start("42"), Start::WithState { end_marker: true });
        older.bookmarks = false;
        assert_eq!(older.start("42"), Start::WithState { end_marker: false });
        let mut none = list.clone();
        none.send_initial_events = Some(false);
        assert_eq!(none.start("42"), Start::AfterState);
        assert!(params(&[("allowWatchBookmarks", "yes")]).is_err());
        assert!(params(&[("timeoutSeconds", "-1")]).is_err());
    }
}
