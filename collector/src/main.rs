//! `kpm-collect`: snapshot a Kubernetes cluster into a kpm bundle.
//!
//! Read-only, gentle (paged, rate limited, bounded concurrency, per-request
//! and whole-run timeouts), never half way (every failure is a recorded step;
//! Ctrl-C and `--timeout` still produce a valid bundle), and redacted before
//! anything touches the disk. See `cli.rs` for flags and exit codes.

mod alloc;
mod cli;
mod collect;
mod connect;
mod fetch;
mod infra;
mod logs;
mod outcome;
mod progress;
mod ratelimit;
mod redact;
mod retry;
mod sink;
mod spool;
mod summary;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Context as _};
use chrono::{DateTime, Utc};
use clap::Parser;

use kpm_bundle::manifest::{ClusterInfo, Collection, CollectionOptions, CollectionScope, Tool};
use kpm_bundle::{BundleWriter, Manifest, Outcome, Step};

use crate::cli::Args;
use crate::collect::{Ctx, Options};
use crate::outcome::FailureClass;
use crate::progress::Progress;
use crate::redact::Redactor;
use crate::sink::Record;

/// Exit codes, documented in `--help` and `deploy/README.md`.
mod exit {
    /// Cannot connect or authenticate.
    pub const CONNECT: u8 = 3;
    /// Nothing usable collected.
    pub const NOTHING: u8 = 4;
    /// Cannot write the output.
    pub const WRITE: u8 = 5;
}

/// A failure that ends the run with a specific exit code.
struct Fatal {
    code: u8,
    error: anyhow::Error,
}

fn fatal(code: u8, error: anyhow::Error) -> Fatal {
    Fatal { code, error }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kpm-collect: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!(
                "kpm-collect: {}",
                outcome::one_line(&format!("{:#}", f.error))
            );
            ExitCode::from(f.code)
        }
    }
}

/// `kpm-<context>-<20261126T053000Z>.zip`, with the context made file-safe
/// (EKS contexts are ARNs with `:` and `/`).
fn default_output(context: &str, now: DateTime<Utc>) -> PathBuf {
    let safe: String = context
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(format!("kpm-{safe}-{}.zip", now.format("%Y%m%dT%H%M%SZ")))
}

/// How the collection phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Done,
    Interrupted,
    TimedOut,
}

async fn run(args: Args) -> Result<u8, Fatal> {
    let started = Utc::now();
    let clock = Instant::now();
    let conn = connect::connect(
        args.kubeconfig.as_deref(),
        args.context.as_deref(),
        args.request_timeout,
    )
    .await
    .map_err(|e| fatal(exit::CONNECT, e.into()))?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&conn.context, started));
    if output.exists() && !args.force {
        return Err(fatal(
            exit::WRITE,
            anyhow!(
                "{} already exists; pass --force to overwrite it",
                output.display()
            ),
        ));
    }

    let fetch = fetch::Fetcher::new(
        conn.client.clone(),
        args.qps,
        args.burst,
        args.request_timeout,
        args.page_size,
    );

    // Connection check before anything is created on disk.
    let t = Instant::now();
    let version = fetch.get("/version").await;
    if let Err(f) = &version {
        let server = &conn.server;
        let message = match f.class {
            FailureClass::Unreachable => Some(format!("cannot reach the API server at {server}: {}", f.message)),
            FailureClass::Tls => Some(format!(
                "TLS handshake with {server} failed: {} (check certificate-authority / insecure-skip-tls-verify in the kubeconfig)",
                f.message
            )),
            FailureClass::Unauthenticated => Some(format!(
                "the API server at {server} rejected the credentials ({}): the token or certificate of context {:?} has probably expired; log in again",
                f.http_status.map_or("credential plugin failed".to_string(), |c| format!("HTTP {c} Unauthorized")),
                conn.context
            )),
            FailureClass::Step if f.outcome == Outcome::Timeout => {
                Some(format!("the API server at {server} did not answer: {}", f.message))
            }
            FailureClass::Step => None,
        };
        if let Some(m) = message {
            return Err(fatal(exit::CONNECT, anyhow!(m)));
        }
    }

    let writer = BundleWriter::create_zip(&output, args.force)
        .with_context(|| format!("cannot create {}", output.display()))
        .map_err(|e| fatal(exit::WRITE, e))?;
    let progress = Progress::new();
    let concurrency = usize::try_from(args.concurrency).unwrap_or(8);
    let (tx, sink) = sink::spawn(writer, concurrency, progress.clone());
    let redactor = Redactor {
        patterns: !args.no_redact,
        config_maps: args.redact_configmaps,
    };
    let mut asked: Vec<String> = Vec::new();
    for ns in &args.namespaces {
        if !ns.is_empty() && !asked.contains(ns) {
            asked.push(ns.clone());
        }
    }
    let opts = Options {
        logs: !args.no_logs,
        log_lines: args.log_lines,
        log_bytes: args.log_bytes,
        concurrency,
        redactor,
    };
    let ctx = Ctx::new(fetch, tx.clone(), opts, progress.clone());
    let server_version = ctx
        .version(version, u64::try_from(t.elapsed().as_millis()).unwrap_or(0))
        .await;

    let default_ns = conn.client.default_namespace().to_string();
    let work = {
        let ctx = Arc::clone(&ctx);
        let progress = progress.clone();
        let asked = asked.clone();
        async move {
            let found = ctx.cluster().await;
            let (namespaces, all) = if !asked.is_empty() {
                (asked, false)
            } else if let Some(found) = found {
                (found, true)
            } else {
                progress.warn(&format!(
                    "cannot list namespaces; collecting only namespace {default_ns:?} (pass -n to choose)"
                ));
                (vec![default_ns], false)
            };
            ctx.namespaces(namespaces, all).await;
            ctx.write_allocation().await;
        }
    };
    let deadline = async {
        match args.timeout {
            Some(d) => tokio::time::sleep(d.saturating_sub(clock.elapsed())).await,
            None => std::future::pending().await,
        }
    };
    let stop = tokio::select! {
        () = work => Stop::Done,
        _ = tokio::signal::ctrl_c() => Stop::Interrupted,
        () = terminated() => Stop::Interrupted,
        () = deadline => Stop::TimedOut,
    };
    match stop {
        Stop::Interrupted => progress.warn("interrupted: writing what was collected"),
        Stop::TimedOut => progress.warn("--timeout reached: writing what was collected"),
        Stop::Done => {}
    }
    // Everything still queued is written; tasks stopped mid-way are not.
    let _ = tx.send(Record::Close).await;
    drop(tx);
    let result = tokio::task::spawn_blocking(move || sink.join())
        .await
        .map_err(|e| fatal(exit::WRITE, anyhow!("writer task failed: {e}")))?
        .map_err(|_| fatal(exit::WRITE, anyhow!("writer thread panicked")))?;
    progress.finish();

    // Planned steps the writer never saw, marked with why; they go after
    // the finished ones in the manifest.
    let (outcome, why) = match stop {
        Stop::TimedOut => (Outcome::Timeout, "not collected: --timeout reached"),
        Stop::Interrupted => (
            Outcome::Error,
            "not collected: interrupted (Ctrl-C or SIGTERM)",
        ),
        Stop::Done => (Outcome::Error, "not collected"),
    };
    let unfinished: Vec<Step> = ctx
        .unfinished()
        .into_iter()
        .map(|mut s| {
            s.outcome = outcome;
            s.message = Some(why.to_string());
            s
        })
        .collect();

    let (scope_namespaces, all_namespaces) = ctx.scope();
    let manifest = Manifest {
        format_version: kpm_bundle::FORMAT_VERSION,
        tool: Tool {
            name: "kpm-collect".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        collection: Collection {
            started_at: started,
            finished_at: Utc::now(),
            interrupted: stop == Stop::Interrupted,
            timed_out: stop == Stop::TimedOut,
        },
        cluster: ClusterInfo {
            server_version,
            context: Some(conn.context.clone()),
            name: conn.cluster_name.clone(),
        },
        scope: CollectionScope {
            all_namespaces,
            namespaces: if scope_namespaces.is_empty() {
                asked.clone()
            } else {
                scope_namespaces
            },
        },
        options: CollectionOptions {
            log_lines: Some(args.log_lines),
            log_bytes: Some(args.log_bytes),
            redaction: !args.no_redact,
            redact_config_maps: args.redact_configmaps,
        },
        steps: Vec::new(),
        redaction: result.redaction,
        files: Default::default(),
    };
    if let Some(e) = result.error {
        return Err(fatal(
            exit::WRITE,
            anyhow::Error::new(e).context(format!("cannot write {}", output.display())),
        ));
    }
    let Some(writer) = result.writer else {
        return Err(fatal(
            exit::WRITE,
            anyhow!("cannot write {}", output.display()),
        ));
    };
    // The steps stream from their spool into manifest.json, counted for the
    // summary on the way: they are never all in memory.
    let mut tally = summary::Tally::default();
    let steps = result.steps.stream(unfinished, &mut tally, &progress);
    let path = writer
        .finish_with_steps(manifest, steps)
        .with_context(|| format!("cannot finish {}", output.display()))
        .map_err(|e| fatal(exit::WRITE, e))?;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "{}",
        summary::headline(
            &display(&path),
            size,
            &result.totals,
            clock.elapsed().as_secs_f64()
        )
    );
    eprintln!(
        "{}{}",
        ctx.pacing().describe(),
        match ctx.retried() {
            0 => String::new(),
            n => format!("; {n} requests retried after 429/503 Retry-After"),
        }
    );
    for line in tally.failure_lines() {
        eprintln!("{line}");
    }
    if let Some(f) = ctx.fatal() {
        eprintln!(
            "warning: the connection failed during the run: {}",
            f.message
        );
    }
    if !tally.usable() {
        eprintln!("kpm-collect: nothing usable was collected (every object list failed); the bundle records why");
        return Ok(exit::NOTHING);
    }
    Ok(0)
}

/// SIGTERM (`kubectl delete` of the collector Job, `timeout(1)`) ends the
/// run like Ctrl-C: the bundle is still written. Never resolves when the
/// handler cannot be installed, leaving the default behaviour.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            term.recv().await;
            return;
        }
    }
    std::future::pending::<()>().await;
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn default_output_name() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 5, 30, 0).unwrap();
        assert_eq!(
            default_output("kind-kind", now),
            PathBuf::from("kpm-kind-kind-20261126T053000Z.zip")
        );
        assert_eq!(
            default_output("arn:aws:eks:eu-west-1:123456789012:cluster/prod", now),
            PathBuf::from(
                "kpm-arn_aws_eks_eu-west-1_123456789012_cluster_prod-20261126T053000Z.zip"
            )
        );
    }
}
