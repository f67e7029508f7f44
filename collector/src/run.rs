//! One collection run, one function per phase: connect and check the
//! server before anything touches the disk, collect until done, interrupted
//! or timed out, assemble the manifest, finish the bundle and print the
//! summary. `main.rs` turns the result into the process exit code.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Context as _};
use chrono::{DateTime, Utc};

use kpm_bundle::manifest::{ClusterInfo, Collection, CollectionOptions, CollectionScope, Tool};
use kpm_bundle::{BundleWriter, Manifest, Outcome, Step};

use crate::cli::Args;
use crate::collect::{Ctx, Options};
use crate::connect::{self, Connection};
use crate::exit_codes::ExitCode;
use crate::fetch::Fetcher;
use crate::outcome::{Failure, FailureClass};
use crate::progress::Progress;
use crate::redact::{Redactor, UserRules};
use crate::sink::{self, Record, SinkResult};
use crate::summary::{self, Tally};

/// A failure that ends the run with a specific exit code.
pub(crate) struct Fatal {
    /// The exit code it ends with.
    pub(crate) code: ExitCode,
    /// What went wrong, with its context chain.
    pub(crate) error: anyhow::Error,
}

/// A [`Fatal`] with `code`.
pub(crate) fn fatal(code: ExitCode, error: anyhow::Error) -> Fatal {
    Fatal { code, error }
}

/// How the collection phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Done,
    Interrupted,
    TimedOut,
}

/// A server that answered the connection check, and where the bundle goes.
struct Checked {
    conn: Connection,
    output: PathBuf,
    fetch: Arc<Fetcher>,
    /// The `/version` answer, recorded as the bundle's first step.
    version: Result<Vec<u8>, Failure>,
    version_ms: u64,
}

/// What the collection phase leaves for the manifest and the summary.
struct Collected {
    conn: Connection,
    output: PathBuf,
    ctx: Arc<Ctx>,
    progress: Progress,
    sink: SinkResult,
    stop: Stop,
    server_version: Option<String>,
    /// The namespaces of `-n`, deduplicated, in order.
    asked: Vec<String>,
    /// API server clock minus local clock (see [`collection_clock`]).
    skew: Option<chrono::Duration>,
}

/// A finished bundle and what the summary reports about it.
struct Written {
    path: PathBuf,
    ctx: Arc<Ctx>,
    totals: sink::Totals,
    tally: Tally,
}

/// Runs the collector; `Ok` carries the exit code of a written bundle.
pub(crate) async fn run(args: Args) -> Result<ExitCode, Fatal> {
    let started = Utc::now();
    let clock = Instant::now();
    let redactor = redactor_for(
        !args.no_redact,
        args.configmap_values,
        args.redact_rules.as_deref(),
    )?;
    if args.dry_run {
        return crate::dryrun::run(&args).await;
    }
    let checked = connect_checked(&args, started).await?;
    let collected = collect_until_stopped(&args, checked, redactor, clock).await?;
    let manifest = manifest_for(&args, &collected, started);
    let written = finish_bundle(collected, manifest)?;
    Ok(report_summary(&written, clock, args.quiet))
}

/// The redaction of a run: `--redact-rules` read and checked (a bad file is
/// a usage error naming the file and line) and a fresh token key.
pub(crate) fn redactor_for(
    patterns: bool,
    config_map_values: bool,
    rules: Option<&std::path::Path>,
) -> Result<Redactor, Fatal> {
    let user = match rules {
        Some(path) => UserRules::load(path).map_err(|e| fatal(ExitCode::Usage, e.into()))?,
        None => UserRules::default(),
    };
    Redactor::new(patterns, config_map_values, user).map_err(|e| fatal(ExitCode::Startup, e.into()))
}

/// Connects, refuses to overwrite the output without `--force`, and asks
/// the server for `/version`: an unreachable server, a TLS failure or
/// rejected credentials end the run before anything is created on disk.
async fn connect_checked(args: &Args, started: DateTime<Utc>) -> Result<Checked, Fatal> {
    let conn = connect::connect(
        args.kubeconfig.as_deref(),
        args.context.as_deref(),
        args.request_timeout,
    )
    .await
    .map_err(|e| fatal(ExitCode::Connect, e.into()))?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&conn.context, started));
    if output.exists() && !args.force {
        return Err(fatal(
            ExitCode::Write,
            anyhow!(
                "{} already exists; pass --force to overwrite it",
                output.display()
            ),
        ));
    }
    let fetch = Fetcher::new(
        conn.client.clone(),
        args.qps,
        args.burst,
        args.request_timeout,
        args.page_size,
    );
    let t = Instant::now();
    let version = fetch.get("/version").await;
    let version_ms = u64::try_from(t.elapsed().as_millis()).unwrap_or(0);
    if let Err(f) = &version {
        if let Some(m) = connection_failure(&conn, f) {
            return Err(fatal(ExitCode::Connect, anyhow!(m)));
        }
    }
    Ok(Checked {
        conn,
        output,
        fetch,
        version,
        version_ms,
    })
}

/// What to say when the connection check failed for the whole connection;
/// `None` for a failure of the `/version` step alone (recorded, not fatal).
fn connection_failure(conn: &Connection, f: &Failure) -> Option<String> {
    let server = &conn.server;
    match f.class {
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
    }
}

/// Opens the bundle and collects into it until everything is collected,
/// Ctrl-C or SIGTERM arrives, or `--timeout` is reached; then writes what
/// is still queued and waits for the writer.
async fn collect_until_stopped(
    args: &Args,
    checked: Checked,
    redactor: Redactor,
    clock: Instant,
) -> Result<Collected, Fatal> {
    let Checked {
        conn,
        output,
        fetch,
        version,
        version_ms,
    } = checked;
    let skew = fetch.clock_skew();
    // The error names the output (and says --force when it exists).
    let writer = BundleWriter::create_zip(&output, args.force)
        .map_err(|e| fatal(ExitCode::Write, e.into()))?;
    let progress = Progress::new();
    let concurrency = usize::try_from(args.concurrency).unwrap_or(8);
    let (tx, sink) = sink::spawn(writer, concurrency, progress.clone(), args.max_bundle_size);
    let opts = Options {
        logs: !args.no_logs,
        log_lines: args.log_lines,
        log_bytes: args.log_bytes,
        concurrency,
        since_seconds: args.since.map(|d| d.as_secs_f64().ceil() as u64),
        selector: args.selector.clone(),
        redactor: Arc::new(redactor),
    };
    let ctx = Ctx::new(fetch, tx.clone(), opts, progress.clone());
    let server_version = ctx.version(version, version_ms).await;
    let asked = asked_namespaces(&args.namespaces);
    let default_ns = conn.client.default_namespace().to_string();
    let work = collect_all(
        Arc::clone(&ctx),
        progress.clone(),
        (asked.clone(), args.exclude_namespaces.clone()),
        default_ns,
    );
    let stop = until_stopped(
        work,
        args.timeout.map(|d| d.saturating_sub(clock.elapsed())),
    )
    .await;
    match stop {
        Stop::Interrupted => progress.warn("interrupted: writing what was collected"),
        Stop::TimedOut => progress.warn("--timeout reached: writing what was collected"),
        Stop::Done => {}
    }
    // Everything still queued is written; tasks stopped mid-way are not.
    let _ = tx.send(Record::Close).await;
    drop(tx);
    let sink = tokio::task::spawn_blocking(move || sink.join())
        .await
        .map_err(|e| fatal(ExitCode::Write, anyhow!("writer task failed: {e}")))?
        .map_err(|_| fatal(ExitCode::Write, anyhow!("writer thread panicked")))?;
    progress.finish();
    Ok(Collected {
        conn,
        output,
        ctx,
        progress,
        sink,
        stop,
        server_version,
        asked,
        skew,
    })
}

/// The collection times as the API server's clock reads them: shifted by
/// the skew its `Date` header showed when that is 2 s or more, so that ages
/// judged against the collection time (restarts "in the last hour") are
/// the cluster's, whatever the local clock says.
fn collection_clock(
    skew: Option<chrono::Duration>,
    started: DateTime<Utc>,
    finished: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    match skew.filter(|s| s.num_milliseconds().abs() >= 2_000) {
        Some(s) => (started + s, finished + s),
        None => (started, finished),
    }
}

/// `-n` values in order, without empties and repeats.
fn asked_namespaces(namespaces: &[String]) -> Vec<String> {
    let mut asked: Vec<String> = Vec::new();
    for ns in namespaces {
        if !ns.is_empty() && !asked.contains(ns) {
            asked.push(ns.clone());
        }
    }
    asked
}

/// The whole collection: cluster level, then the namespaces (`-n`, else
/// every namespace listed, else the context's default one) less
/// `--exclude-namespace`, then the derived node allocation.
async fn collect_all(
    ctx: Arc<Ctx>,
    progress: Progress,
    (asked, excluded): (Vec<String>, Vec<String>),
    default_ns: String,
) {
    let found = ctx.cluster().await;
    let (mut namespaces, mut all) = if !asked.is_empty() {
        (asked, false)
    } else if let Some(found) = found {
        (found, true)
    } else {
        progress.warn(&format!(
            "cannot list namespaces; collecting only namespace {default_ns:?} (pass -n to choose)"
        ));
        (vec![default_ns], false)
    };
    let before = namespaces.len();
    namespaces.retain(|ns| !excluded.contains(ns));
    if namespaces.len() != before {
        // Infrastructure pods of excluded namespaces are still read, as
        // for any namespace outside the scope.
        all = false;
    }
    ctx.namespaces(namespaces, all).await;
    ctx.write_allocation().await;
}

/// Runs `work` until it ends, Ctrl-C or SIGTERM arrives, or `left` (the
/// rest of `--timeout`) has passed.
async fn until_stopped(
    work: impl std::future::Future<Output = ()>,
    left: Option<std::time::Duration>,
) -> Stop {
    let deadline = async {
        match left {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = work => Stop::Done,
        _ = tokio::signal::ctrl_c() => Stop::Interrupted,
        () = terminated() => Stop::Interrupted,
        () = deadline => Stop::TimedOut,
    }
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

/// The manifest of the run, without its steps (they stream in from the
/// spool when the bundle is finished).
fn manifest_for(args: &Args, collected: &Collected, started: DateTime<Utc>) -> Manifest {
    let (scope_namespaces, all_namespaces) = collected.ctx.scope();
    let (started, finished) = collection_clock(collected.skew, started, Utc::now());
    Manifest {
        format_version: kpm_bundle::FORMAT_VERSION,
        tool: Tool {
            name: "kpm-collect".into(),
            version: crate::VERSION.into(),
        },
        collection: Collection {
            started_at: started,
            finished_at: finished,
            interrupted: collected.stop == Stop::Interrupted,
            timed_out: collected.stop == Stop::TimedOut,
        },
        cluster: ClusterInfo {
            server_version: collected.server_version.clone(),
            context: Some(collected.conn.context.clone()),
            name: collected.conn.cluster_name.clone(),
        },
        scope: CollectionScope {
            all_namespaces,
            namespaces: if scope_namespaces.is_empty() {
                collected.asked.clone()
            } else {
                scope_namespaces
            },
        },
        options: CollectionOptions {
            log_lines: Some(args.log_lines),
            log_bytes: Some(args.log_bytes),
            redaction: !args.no_redact,
            // Values are hashed unless --configmap-values.
            redact_config_maps: !args.configmap_values,
        },
        steps: Vec::new(),
        redaction: collected.sink.redaction.clone(),
        files: BTreeMap::default(),
    }
}

/// Planned steps the writer never saw, marked with why; they go after the
/// finished ones in the manifest.
fn unfinished_steps(ctx: &Ctx, stop: Stop) -> Vec<Step> {
    let (outcome, why) = match stop {
        Stop::TimedOut => (Outcome::Timeout, "not collected: --timeout reached"),
        Stop::Interrupted => (
            Outcome::Error,
            "not collected: interrupted (Ctrl-C or SIGTERM)",
        ),
        Stop::Done => (Outcome::Error, "not collected"),
    };
    ctx.unfinished()
        .into_iter()
        .map(|mut s| {
            s.outcome = outcome;
            s.message = Some(why.to_string());
            s
        })
        .collect()
}

/// Writes `manifest.json` with every step (streamed from the spool, counted
/// for the summary on the way: they are never all in memory) and closes the
/// zip. A write error of the collection phase ends the run here.
fn finish_bundle(collected: Collected, manifest: Manifest) -> Result<Written, Fatal> {
    let Collected {
        output,
        ctx,
        progress,
        sink,
        stop,
        ..
    } = collected;
    if let Some(e) = sink.error {
        return Err(fatal(
            ExitCode::Write,
            anyhow::Error::new(e).context(format!("cannot write {}", output.display())),
        ));
    }
    let Some(writer) = sink.writer else {
        return Err(fatal(
            ExitCode::Write,
            anyhow!("cannot write {}", output.display()),
        ));
    };
    let mut tally = Tally::default();
    let steps = sink
        .steps
        .stream(unfinished_steps(&ctx, stop), &mut tally, &progress);
    let path = writer
        .finish_with_steps(manifest, steps)
        .with_context(|| format!("cannot finish {}", output.display()))
        .map_err(|e| fatal(ExitCode::Write, e))?;
    Ok(Written {
        path,
        ctx,
        totals: sink.totals,
        tally,
    })
}

/// Prints the summary (pacing, every failed step with what it costs the
/// analysis, then one line with the bundle, its counts and failures; all
/// left out with `--quiet`) and picks the exit code of a written bundle.
fn report_summary(written: &Written, clock: Instant, quiet: bool) -> ExitCode {
    let Written {
        path,
        ctx,
        totals,
        tally,
    } = written;
    if !quiet {
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
    }
    if let Some(f) = ctx.fatal() {
        eprintln!(
            "warning: the connection failed during the run: {}",
            f.message
        );
    }
    if !quiet {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "{}",
            summary::headline(
                &path.display().to_string(),
                size,
                totals,
                clock.elapsed().as_secs_f64(),
                tally.failed_steps(),
            )
        );
    }
    if !tally.usable() {
        eprintln!("kpm-collect: nothing usable was collected (every object list failed); the bundle records why");
        return ExitCode::NothingUsable;
    }
    ExitCode::Success
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_times_follow_the_server_clock_when_it_differs() {
        let t0 = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let t1 = t0 + chrono::Duration::seconds(30);
        // A laptop twelve days ahead of the cluster (a snapshot served later).
        let behind = Some(chrono::Duration::days(-12));
        assert_eq!(
            collection_clock(behind, t0, t1),
            (
                t0 - chrono::Duration::days(12),
                t1 - chrono::Duration::days(12)
            )
        );
        // A second of network latency is not a skew; no Date header, none.
        let tiny = Some(chrono::Duration::milliseconds(900));
        assert_eq!(collection_clock(tiny, t0, t1), (t0, t1));
        assert_eq!(collection_clock(None, t0, t1), (t0, t1));
    }
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

    #[test]
    fn asked_namespaces_drop_empties_and_repeats_in_order() {
        let given = ["shop", "", "payments", "shop"].map(String::from);
        assert_eq!(asked_namespaces(&given), ["shop", "payments"]);
    }
}
