//! Command line of `kpm-collect`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::ratelimit::{parse_qps, Qps};

/// Snapshot a Kubernetes cluster into a kpm bundle for offline analysis.
///
/// Connects like kubectl (KUBECONFIG, ~/.kube/config, --kubeconfig,
/// --context; in-cluster service account when run in a pod), reads every
/// object the troubleshooting chain needs, read-only, and writes a zip.
/// `kpm-collect redact IN -o OUT` redacts an existing bundle again.
///
/// Exit codes: 0 bundle written (failed steps, if any, are listed as
/// warnings and recorded in the manifest); 1 cannot start (no async
/// runtime or no random source); 2 usage error (also an unusable
/// --redact-rules file, or `redact` given a damaged or missing bundle); 3
/// cannot connect or authenticate (no kubeconfig, unreachable server, TLS
/// failure, 401); 4 nothing usable was collected (a bundle is still
/// written for the record); 5 cannot write the output.
#[derive(Debug, Parser)]
#[command(
    name = "kpm-collect",
    version = crate::VERSION,
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then the
    /// in-cluster service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use (default: current-context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,

    /// Bundle to write (default: kpm-<context>-<UTC time>.zip in the current
    /// directory).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Overwrite the output if it exists.
    #[arg(long)]
    pub force: bool,

    /// Collect only this namespace (repeatable, or comma separated). Default:
    /// all namespaces. Cluster-level context (nodes, node allocation, ingress
    /// controllers, DNS, autoscalers) is collected either way.
    #[arg(
        short = 'n',
        long = "namespace",
        value_name = "NS",
        value_delimiter = ','
    )]
    pub namespaces: Vec<String>,

    /// Items per list page (`limit`); pages continue with the server's token.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub page_size: u32,

    /// Requests in flight at once (the bound on the load the collector puts
    /// on the server, whatever --qps says).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,

    /// Client-side rate limit: `auto` (default), a number of requests per
    /// second, or 0 for none. `auto` reads the first answer: a server with
    /// API Priority and Fairness (the X-Kubernetes-PF-FlowSchema-UID /
    /// X-Kubernetes-PF-PriorityLevel-UID headers; on by default since
    /// Kubernetes 1.20) queues and rejects fairly on its own, so no
    /// client-side limit is added (only --concurrency bounds the load);
    /// without those headers 50 requests/s, burst 100 (the kubelet's
    /// defaults). In every mode a 429, or a 5xx with Retry-After, is retried
    /// after the server's Retry-After (at most 5 attempts) and recorded as a
    /// failed step if it keeps failing. The mode used is recorded in the
    /// manifest (message of the `version` step).
    #[arg(long, default_value = "auto", value_parser = parse_qps, value_name = "auto|N")]
    pub qps: Qps,

    /// Requests allowed in a burst above --qps (default: twice a numeric
    /// --qps; 100 in `auto` mode without APF).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub burst: Option<u32>,

    /// Time limit of one request (e.g. 30s, 2m, 1500ms).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Time limit of the whole run; what was collected by then is written as
    /// a valid bundle with the unfinished steps marked `timeout`.
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// At most this many lines of each container log (1..=100000).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub log_lines: u64,

    /// At most this many bytes of each container log (e.g. 262144, 256KiB,
    /// 1MiB; at most 16MiB).
    #[arg(long, default_value = "256KiB", value_parser = parse_bytes)]
    pub log_bytes: u64,

    /// Do not collect container logs.
    #[arg(long)]
    pub no_logs: bool,

    /// Only log lines newer than this (e.g. 30m, 2h; `sinceSeconds` on every
    /// log request), within --log-lines and --log-bytes.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub since: Option<Duration>,

    /// Only pods matching this label selector (e.g. `app=web,tier!=cache`),
    /// and only their logs, in the namespaces in scope. Everything else
    /// (workloads, services, events…) is still collected, and so are the
    /// infrastructure pods (ingress controllers, DNS, metrics-server,
    /// autoscalers) and node allocation over every pod.
    #[arg(short = 'l', long, value_name = "SELECTOR", value_parser = parse_selector)]
    pub selector: Option<String>,

    /// Leave this namespace out (repeatable, or comma separated); applies to
    /// the namespaces listed and to -n. Its infrastructure pods are still
    /// collected, as for any namespace outside the scope.
    #[arg(long = "exclude-namespace", value_name = "NS", value_delimiter = ',')]
    pub exclude_namespaces: Vec<String>,

    /// Upper bound of the bundle's content (uncompressed bytes of its
    /// files, e.g. 200MiB, 2GiB; the zip is smaller). Object lists are
    /// always kept; when logs would pass the bound, the largest logs are cut
    /// first (to their newest lines) until they fit, and the manifest
    /// records the truncation (step `max-bundle-size` and each cut log's
    /// message).
    #[arg(long, value_name = "SIZE", value_parser = parse_bundle_size)]
    pub max_bundle_size: Option<u64>,

    /// Print what would be collected and which permissions are missing
    /// (asked with SelfSubjectRulesReview), then exit without writing
    /// anything.
    #[arg(long)]
    pub dry_run: bool,

    /// Turn off pattern redaction (env names, tokens in logs, annotations,
    /// last-applied). Secret values are never collected and ConfigMap
    /// values are still hashed regardless.
    #[arg(long)]
    pub no_redact: bool,

    /// Keep ConfigMap values, redacted like env values and logs. By default
    /// no ConfigMap value leaves the cluster: each is replaced by its
    /// SHA-256 and size (annotation kpm.dev/value-digests), enough to tell
    /// whether it changed. Helm release ConfigMaps are hashed regardless.
    #[arg(long)]
    pub configmap_values: bool,

    /// Replaced by the default (ConfigMap values hashed); accepted so older
    /// scripts keep working.
    #[arg(long, hide = true, conflicts_with = "configmap_values")]
    pub redact_configmaps: bool,

    /// Extra redaction rules, one per line: `literal:<string>` or
    /// `regex:<pattern>` (group 1, if any, is what is replaced); `#`
    /// comments. An invalid line is a usage error naming the file and line.
    #[arg(long, value_name = "FILE", conflicts_with = "no_redact")]
    pub redact_rules: Option<PathBuf>,

    /// Do not print the summary at the end (pacing, failed steps, the line
    /// naming the bundle); warnings and errors are still printed.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// A subcommand instead of a collection.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands of `kpm-collect` (without one, it collects).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Redact an existing bundle again into a new one (lists, annotations,
    /// last-applied copies, ConfigMap values, logs), with today's rules,
    /// a fresh token key and `--redact-rules`; digests and the manifest are
    /// recomputed. The input is never modified.
    Redact(RedactArgs),
}

/// `kpm-collect redact IN -o OUT`.
#[derive(Debug, clap::Args)]
pub struct RedactArgs {
    /// The bundle to redact (zip or unpacked directory).
    #[arg(value_name = "IN")]
    pub input: PathBuf,

    /// The redacted bundle to write (a zip; never the input).
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: PathBuf,

    /// Overwrite OUT if it exists.
    #[arg(long)]
    pub force: bool,

    /// Keep ConfigMap values (redacted) instead of replacing them by their
    /// digests.
    #[arg(long)]
    pub configmap_values: bool,

    /// Extra redaction rules (same format as for a collection).
    #[arg(long, value_name = "FILE")]
    pub redact_rules: Option<PathBuf>,
}

/// Parses `30s`, `2m`, `1h`, `1500ms` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 30s, 2m, 1500ms"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?}: use ms, s, m or h")),
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 7.0 * 86400.0 {
        return Err(format!(
            "duration {s:?} out of range (must be > 0 and at most a week)"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The largest accepted `--log-bytes`.
pub const MAX_LOG_BYTES: u64 = 16 * 1024 * 1024;

/// Parses `262144`, `256KiB`, `1MiB`, `64k`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?}: expected e.g. 262144, 256KiB, 1MiB"))?;
    let mult = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "ki" | "kib" => 1024,
        "m" | "mb" | "mi" | "mib" => 1024 * 1024,
        _ => return Err(format!("invalid size unit in {s:?}: use KiB or MiB")),
    };
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} too large"))?;
    if bytes == 0 || bytes > MAX_LOG_BYTES {
        return Err(format!("size {s:?} out of range (1 byte to 16MiB)"));
    }
    Ok(bytes)
}

/// The largest accepted `--max-bundle-size` (1 TiB).
pub const MAX_BUNDLE_SIZE: u64 = 1 << 40;

/// Parses `--max-bundle-size`: `500MiB`, `2GiB`, `1048576`; at least 1KiB.
pub fn parse_bundle_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?}: expected e.g. 500MiB, 2GiB"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "ki" | "kib" => 1 << 10,
        "m" | "mb" | "mi" | "mib" => 1 << 20,
        "g" | "gb" | "gi" | "gib" => 1 << 30,
        _ => return Err(format!("invalid size unit in {s:?}: use KiB, MiB or GiB")),
    };
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} too large"))?;
    if !(1 << 10..=MAX_BUNDLE_SIZE).contains(&bytes) {
        return Err(format!("size {s:?} out of range (1KiB to 1TiB)"));
    }
    Ok(bytes)
}

/// Checks a `--selector` the way the API server would refuse it: no empty
/// requirement, no control characters. The server's own parser has the
/// last word (a bad selector is a 400 recorded on the pods steps).
pub fn parse_selector(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty selector".into());
    }
    if t.chars().any(char::is_control) {
        return Err(format!("selector {t:?} has a control character"));
    }
    if t.split(',').any(|req| req.trim().is_empty()) {
        return Err(format!(
            "selector {t:?} has an empty requirement (stray comma)"
        ));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("abc").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("256KiB"), Ok(262_144));
        assert_eq!(parse_bytes("1MiB"), Ok(1_048_576));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("17MiB").is_err());
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("1GiB").is_err());
    }

    #[test]
    fn bundle_sizes_and_selectors() {
        assert_eq!(parse_bundle_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_bundle_size("500MiB"), Ok(500 << 20));
        assert!(parse_bundle_size("100").is_err());
        assert!(parse_bundle_size("2TiB").is_err());
        assert!(parse_bundle_size("lots").is_err());
        assert_eq!(parse_selector(" app=web "), Ok("app=web".into()));
        assert!(parse_selector("").is_err());
        assert!(parse_selector("app=web,").is_err());
        assert!(parse_selector("a=b\u{7}").is_err());
        let a = Args::try_parse_from([
            "kpm-collect",
            "--since",
            "30m",
            "-l",
            "app=web",
            "--exclude-namespace",
            "kube-system",
            "--exclude-namespace",
            "a,b",
            "--max-bundle-size",
            "1GiB",
            "--dry-run",
        ])
        .unwrap();
        assert_eq!(a.since, Some(Duration::from_secs(1800)));
        assert_eq!(a.selector.as_deref(), Some("app=web"));
        assert_eq!(a.exclude_namespaces, ["kube-system", "a", "b"]);
        assert_eq!(a.max_bundle_size, Some(1 << 30));
        assert!(a.dry_run);
    }

    #[test]
    fn defaults_and_repeatable_namespaces() {
        let a = Args::try_parse_from(["kpm-collect", "-n", "shop", "--namespace", "payments,auth"])
            .unwrap();
        assert_eq!(a.namespaces, ["shop", "payments", "auth"]);
        assert_eq!(a.page_size, 500);
        assert_eq!(a.concurrency, 8);
        assert_eq!(a.log_lines, 500);
        assert_eq!(a.log_bytes, 256 * 1024);
        assert_eq!(a.request_timeout, Duration::from_secs(30));
        assert!(a.timeout.is_none());
        assert_eq!(a.qps, Qps::Auto);
        assert_eq!(a.burst, None);
        assert!(Args::try_parse_from(["kpm-collect", "--concurrency", "0"]).is_err());
        let a = Args::try_parse_from(["kpm-collect", "--qps", "20", "--burst", "40"]).unwrap();
        assert_eq!((a.qps, a.burst), (Qps::Fixed(20.0), Some(40)));
        assert_eq!(
            Args::try_parse_from(["kpm-collect", "--qps", "0"])
                .unwrap()
                .qps,
            Qps::Fixed(0.0)
        );
        assert!(Args::try_parse_from(["kpm-collect", "--qps", "fast"]).is_err());
    }
}
