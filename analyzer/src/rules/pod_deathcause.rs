//! Which log lines explain a container's death.
//!
//! The last line a process prints is rarely why it died: Node.js prints its
//! version after the stack, a JVM prints dozens of `at …` frames after the
//! exception, a Go panic is followed by goroutine dumps. A human scans the
//! tail for the exception, panic or fatal line and reads a line or two
//! around it; this module does the same on a numbered log tail. It only
//! classifies text: reading the log is the caller's (through the context's
//! log API).

use kpm_model::LogLine;

/// Lines quoted before the decisive line (what the process was doing).
pub const CONTEXT_BEFORE: usize = 2;
/// Lines of a Go panic or Node.js exception that follow and locate it.
pub const CONTEXT_AFTER: usize = 1;

/// How strongly one line says why a process failed; `0` says nothing.
///
/// The ranks, highest first: a Go `panic:` / `fatal error:` or a JVM
/// `Caused by:` (the root of a chain); an exception line
/// (`java.lang.IllegalStateException: …`, `KeyError: 'X'`, Node's
/// `Error: …`, `Exception in thread "main" …`) or an nginx `[emerg]`;
/// `FATAL`/`CRITICAL`/`PANIC` or a klog `F…` line; `ERROR`/`error:` or a klog
/// `E…` line; a plain `error` word; `failed`/`Killed`/`exiting` wording.
/// Stack frames and the Python `Traceback` header never win: they locate the
/// failure, they do not state it.
pub fn score(line: &str) -> u8 {
    let t = line.trim_end();
    if t.trim().is_empty() || is_stack_frame(t) {
        return 0;
    }
    let body = strip_prefix_noise(t);
    if body.starts_with("panic: ") || body.starts_with("fatal error: ") {
        return 6;
    }
    if body.starts_with("Caused by: ") {
        return 6;
    }
    if body.starts_with("Exception in thread ")
        || is_exception_line(body)
        || contains_any(t, &["[emerg]", "[alert]", "[crit]"])
    {
        return 5;
    }
    if has_word(t, &["FATAL", "Fatal", "CRITICAL", "PANIC", "fatal:"])
        || t.contains("level=fatal")
        || t.contains("\"level\":\"fatal\"")
        || is_klog(t, 'F')
    {
        return 4;
    }
    if has_word(t, &["ERROR", "ERR", "[error]"])
        || contains_any(
            t,
            &["Error:", "error:", "level=error", "\"level\":\"error\""],
        )
        || is_klog(t, 'E')
    {
        return 3;
    }
    if has_word(t, &["error", "Error", "errors"]) {
        return 2;
    }
    if has_word(
        t,
        &["failed", "Failed", "Killed", "killed", "exiting", "Exiting"],
    ) {
        return 1;
    }
    0
}

/// The decisive line of a log tail and its context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeathCause {
    /// The line that says why the process died.
    pub line: LogLine,
    /// That line with up to [`CONTEXT_BEFORE`] lines before and
    /// [`CONTEXT_AFTER`] after it, blank lines skipped, in file order.
    pub excerpt: Vec<LogLine>,
}

/// The line of `lines` (a tail, in file order) that best explains a death:
/// the highest [`score`], the last of equals (closest to the death). `None`
/// when no line says anything about a failure.
pub fn pick(lines: &[LogLine]) -> Option<DeathCause> {
    let mut best: Option<(usize, u8)> = None;
    for (i, l) in lines.iter().enumerate() {
        let s = score(&l.text);
        if s > 0 && best.is_none_or(|(_, b)| s >= b) {
            best = Some((i, s));
        }
    }
    let (i, _) = best?;
    let line = lines.get(i)?.clone();
    let mut excerpt: Vec<LogLine> = lines
        .get(..i)
        .unwrap_or_default()
        .iter()
        .rev()
        .filter(|l| !l.text.trim().is_empty())
        .take(CONTEXT_BEFORE)
        .cloned()
        .collect();
    excerpt.reverse();
    excerpt.push(line.clone());
    excerpt.extend(
        lines
            .get(i + 1..)
            .unwrap_or_default()
            .iter()
            .filter(|l| !l.text.trim().is_empty())
            .take(CONTEXT_AFTER)
            .cloned(),
    );
    Some(DeathCause { line, excerpt })
}

/// `    at com.shop.Main.run(Main.java:42)`, `  File "/app/x.py", line 3`,
/// `goroutine 1 [running]:`, `main.main()`, `\t/app/main.go:12 +0x1d`,
/// `    ... 12 more`, the Python `Traceback (most recent call last):` header.
fn is_stack_frame(t: &str) -> bool {
    let s = t.trim_start();
    let indented = s.len() < t.len();
    (indented && (s.starts_with("at ") || s.starts_with("File \"") || s.starts_with("...")))
        || s.starts_with("goroutine ")
        || s.starts_with("Traceback (most recent call last)")
        || (t.starts_with('\t') && s.starts_with('/'))
        || (s.ends_with(')') && s.contains(".go:"))
}

/// A line's text after a leading timestamp or bracketed prefix such as
/// `2026-11-20T14:26:52Z `, `[Sat Aug  9 22:57:59 UTC 2025] ` or `14:26:52 `.
pub fn strip_prefix_noise(t: &str) -> &str {
    let mut s = t.trim_start();
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((_, after)) = rest.split_once("] ") {
            s = after;
        }
    }
    if let Some((first, rest)) = s.split_once(' ') {
        let timestamp = first.bytes().next().is_some_and(|b| b.is_ascii_digit())
            && first.bytes().any(|b| b == b':' || b == b'-');
        if timestamp {
            s = rest.trim_start();
        }
    }
    s
}

/// `SomethingError: …`, `java.io.IOException: …`, `KeyError: 'X'`,
/// `Error: …` (Node), `ValueError` alone: a type name ending in `Error` or
/// `Exception` at the start, followed by `:` or the end of the line.
fn is_exception_line(body: &str) -> bool {
    let end = body.find([':', ' ']).unwrap_or(body.len());
    let name = body.get(..end).unwrap_or_default();
    let rest = body.get(end..).unwrap_or_default();
    let typed = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'$');
    let ends = name.ends_with("Error") || name.ends_with("Exception");
    typed && ends && (rest.is_empty() || rest.starts_with(':'))
}

/// klog's `E0912 10:41:23.738713       1 run.go:72] …` for `level` E or F.
fn is_klog(t: &str, level: char) -> bool {
    let mut chars = t.chars();
    chars.next() == Some(level)
        && chars.by_ref().take(4).filter(char::is_ascii_digit).count() == 4
        && chars.next() == Some(' ')
}

fn contains_any(t: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| t.contains(n))
}

/// Whether `t` holds one of `words` delimited by non-alphanumerics.
fn has_word(t: &str, words: &[&str]) -> bool {
    words.iter().any(|w| {
        t.match_indices(w).any(|(i, _)| {
            let before = t.get(..i).and_then(|s| s.chars().next_back());
            let after = t.get(i + w.len()..).and_then(|s| s.chars().next());
            let edge = |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphanumeric());
            edge(before) && edge(after)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(text: &str) -> Vec<LogLine> {
        text.lines()
            .enumerate()
            .map(|(i, l)| LogLine {
                number: i + 1,
                text: l.to_string(),
            })
            .collect()
    }

    fn decisive(text: &str) -> String {
        pick(&numbered(text))
            .map(|d| d.line.text)
            .unwrap_or_default()
    }

    #[test]
    fn node_exception_not_the_version_line() {
        let log = "\
> checkout@2.3.1 start
> node server.js

/app/server.js:12
    throw new Error('DATABASE_URL is not set');
    ^

Error: DATABASE_URL is not set
    at Object.<anonymous> (/app/server.js:12:11)
    at Module._compile (node:internal/modules/cjs/loader:1256:14)
    at Module._extensions..js (node:internal/modules/cjs/loader:1310:10)
    at node:internal/main/run_main_module:23:47

Node.js v18.17.1";
        assert_eq!(decisive(log), "Error: DATABASE_URL is not set");
        let d = pick(&numbered(log)).unwrap();
        // Context: the throw site before, the first frame after.
        let texts: Vec<&str> = d.excerpt.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "    throw new Error('DATABASE_URL is not set');",
                "    ^",
                "Error: DATABASE_URL is not set",
                "    at Object.<anonymous> (/app/server.js:12:11)",
            ]
        );
        assert_eq!(d.line.number, 8);
    }

    #[test]
    fn jvm_root_cause_is_the_last_caused_by() {
        let log = "\
2026-11-20 14:26:50.120  INFO 1 --- [main] o.s.b.StartupInfoLogger : Starting OrderService v1.8.0
2026-11-20 14:26:52.871 ERROR 1 --- [main] o.s.boot.SpringApplication : Application run failed
org.springframework.beans.factory.BeanCreationException: Error creating bean with name 'dataSource'
\tat org.springframework.beans.factory.support.AbstractAutowireCapableBeanFactory.initializeBean(AbstractAutowireCapableBeanFactory.java:1804)
\tat org.springframework.boot.SpringApplication.run(SpringApplication.java:1306)
Caused by: org.springframework.beans.BeanInstantiationException: Failed to instantiate [com.zaxxer.hikari.HikariDataSource]
\tat org.springframework.beans.BeanUtils.instantiateClass(BeanUtils.java:185)
Caused by: java.net.UnknownHostException: orders-db.shop.svc.cluster.local
\tat java.base/java.net.InetAddress$CachedAddresses.get(InetAddress.java:801)
\t... 42 common frames omitted";
        assert_eq!(
            decisive(log),
            "Caused by: java.net.UnknownHostException: orders-db.shop.svc.cluster.local"
        );
    }

    #[test]
    fn go_panic_with_signal_line_after() {
        let log = "\
I1120 14:26:51.002311       1 main.go:48] starting controller
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1234]

goroutine 1 [running]:
main.(*Controller).Run(0x0)
\t/src/controller.go:88 +0x1d
main.main()
\t/src/main.go:52 +0x2a";
        let d = pick(&numbered(log)).unwrap();
        assert_eq!(
            d.line.text,
            "panic: runtime error: invalid memory address or nil pointer dereference"
        );
        assert_eq!(
            d.excerpt.last().map(|l| l.text.as_str()),
            Some("[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1234]")
        );
    }

    #[test]
    fn python_traceback_names_the_exception_line() {
        let log = "\
INFO:     Started server process [1]
Traceback (most recent call last):
  File \"/app/main.py\", line 8, in <module>
    settings = Settings()
  File \"/app/config.py\", line 21, in __init__
    self.db_url = os.environ[\"DATABASE_URL\"]
  File \"/usr/local/lib/python3.12/os.py\", line 714, in __getitem__
    raise KeyError(key) from None
KeyError: 'DATABASE_URL'";
        assert_eq!(decisive(log), "KeyError: 'DATABASE_URL'");
    }

    #[test]
    fn nginx_emerg_and_klog_fatal() {
        let log = "\
/docker-entrypoint.sh: Configuration complete; ready for start up
2026/11/20 14:26:52 [emerg] 1#1: host not found in upstream \"api:8080\" in /etc/nginx/conf.d/default.conf:7
nginx: [emerg] host not found in upstream \"api:8080\" in /etc/nginx/conf.d/default.conf:7";
        assert!(decisive(log).starts_with("nginx: [emerg] host not found"));
        let klog = "\
I1120 14:26:50.100000       1 server.go:100] Version: v0.7.1
E1120 14:26:51.200000       1 client.go:40] failed to list nodes: Unauthorized
F1120 14:26:52.300000       1 server.go:120] unable to start: failed to sync cache";
        assert!(decisive(klog).starts_with("F1120"));
    }

    #[test]
    fn shell_script_error_with_the_cause_line_before_it() {
        let log = "\
Starting Backend API Server v3.2.1
Environment: production
Initializing database connection...
nc: bad address 'postgres-service.database'
ERROR: Failed to connect to database: connection refused
Database connection failed after 3 retries";
        let d = pick(&numbered(log)).unwrap();
        assert_eq!(
            d.line.text,
            "ERROR: Failed to connect to database: connection refused"
        );
        assert!(d
            .excerpt
            .iter()
            .any(|l| l.text == "nc: bad address 'postgres-service.database'"));
    }

    #[test]
    fn near_misses_say_nothing() {
        for quiet in [
            "GET /healthz 200 0.4ms",
            "processed 0 errors in batch 12",
            "level=info msg=\"error budget at 99.9%\"",
            "Terror alert level: green",
            "ErrorPageHandler registered",
            "    at com.shop.Main.run(Main.java:42)",
            "Traceback (most recent call last):",
            "E1 is the name of the test case",
        ] {
            assert!(score(quiet) <= 2, "{quiet:?} scored {}", score(quiet));
        }
        assert_eq!(score("GET /healthz 200 0.4ms"), 0);
        assert_eq!(score("ErrorPageHandler registered"), 0);
        assert!(pick(&numbered("starting\nlistening on :8080\n")).is_none());
    }
}
