//! A finished answer: status, body, and what streams after the headers.

use serde_json::Value;

use crate::errors::ApiError;
use crate::logtail::LogStream;

/// A finished answer.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body (sent before `stream`, if any).
    pub body: Vec<u8>,
    /// A body streamed from the bundle (logs) instead of held.
    pub stream: Option<LogStream>,
    /// Text of a `Warning` response header (kubectl prints it).
    pub warning: Option<String>,
    /// A watch to stream after the headers ([`crate::watch`]).
    pub watch: Option<crate::watch::Plan>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, value: &Value) -> Reply {
        Reply::raw_json(status, serde_json::to_vec(value).unwrap_or_default())
    }

    /// A JSON answer already serialised.
    pub fn raw_json(status: u16, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body,
            stream: None,
            warning: None,
            watch: None,
        }
    }

    /// The start of a watch stream.
    pub fn watch(plan: crate::watch::Plan) -> Reply {
        let mut reply = Reply::raw_json(200, Vec::new());
        reply.watch = Some(plan);
        reply
    }

    /// A `Status` failure.
    pub fn error(e: &ApiError) -> Reply {
        Reply::json(e.code, &e.to_status())
    }

    /// A plain-text answer (health checks, logs).
    pub(super) fn text(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
            stream: None,
            warning: None,
            watch: None,
        }
    }
}
