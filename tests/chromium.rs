//! Headless Debian chromium for the browser tests (`report/tests/browser.rs`
//! on hand-built models, `tests/analyze_browser.rs` on what the shipped
//! binary writes): one launcher, one console-error filter and one NetLog
//! parser, so both tests judge a page by the same rules.
//!
//! Chromium is required: when it is absent [`run`] panics with instructions
//! instead of letting the test pass silently (CI installs it).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long a page may take before the browser is killed: a wedged browser
/// must fail the test instead of hanging CI.
const TIMEOUT: Duration = Duration::from_secs(60);

/// What chromium printed for one page.
pub struct Run {
    /// `--dump-dom` output: the DOM after the page's scripts ran.
    pub stdout: String,
    /// Chromium's log (`--enable-logging=stderr`): console messages, script
    /// errors, blocked loads.
    pub stderr: String,
}

/// Runs chromium headless on `page` with a fresh `profile` directory and the
/// `extra` flags (window size, `--dump-dom`, `--screenshot=…`,
/// `--log-net-log=…`), killing it after a minute.
///
/// The fixed flags switch off the browser's own background traffic (sync,
/// component updates) so the NetLog only holds what the page asked for.
pub fn run(page: &Path, profile: &Path, extra: &[&str]) -> Run {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} not found: the browser tests need Debian chromium \
         (apt-get install -y chromium); they are not skipped on purpose"
    );
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    // Drain both pipes on threads: a chatty chromium would otherwise block
    // on a full pipe and never exit.
    let stdout = child.stdout.take().expect("chromium stdout is piped");
    let stderr = child.stderr.take().expect("chromium stderr is piped");
    let out_t = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err_t = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let start = Instant::now();
    while child.try_wait().expect("wait for chromium").is_none() {
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {}s", TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Run {
        stdout: out_t.join().expect("chromium stdout reader"),
        stderr: err_t.join().expect("chromium stderr reader"),
    }
}

/// Console messages, script errors, blocked loads and CSP violations
/// chromium logged for the page: a clean report logs none.
pub fn page_problems(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Uncaught")
                || l.contains("net::ERR_")
                || l.contains("Refused to")
                || l.contains("Content Security Policy")
        })
        .collect()
}

/// URLs the page requested, from chromium's NetLog (`--log-net-log=…`),
/// sorted and deduplicated, minus local `file:`/`data:` loads and the
/// browser's own background traffic (update checks, account probes to
/// Google hosts) which no page caused.
pub fn page_requests(netlog: &Path) -> Vec<String> {
    let log = std::fs::read_to_string(netlog).expect("chromium wrote a NetLog");
    let mut urls: Vec<String> = log
        .split("\"url\":\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|u| !u.starts_with("file:") && !u.starts_with("data:"))
        .filter(|u| !is_google_host(u))
        .map(String::from)
        .collect();
    urls.sort();
    urls.dedup();
    urls
}

/// Whether `url` points at a Google host (or a subdomain of one).
fn is_google_host(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':', '?'])
        .next()
        .unwrap_or("");
    ["google.com", "googleapis.com", "gstatic.com"]
        .iter()
        .any(|g| host == *g || host.ends_with(&format!(".{g}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_errors_and_blocked_loads_are_problems() {
        // Line shapes as chromium writes them with --enable-logging=stderr.
        let log = "[1:1:1126/063000.1:INFO:CONSOLE(1)] \"Uncaught Error: x\", source: file:///p (1)\n\
                   [1:1:1126/063000.2:ERROR:network_service.cc(10)] something harmless\n\
                   [1:1:1126/063000.3:INFO:CONSOLE(2)] \"Refused to load the image 'http://x/' because it violates the following Content Security Policy directive\"\n";
        assert_eq!(page_problems(log).len(), 2);
        assert!(page_problems("[1:1:1126/063000.2:WARNING:x.cc(1)] fine\n").is_empty());
    }

    #[test]
    fn netlog_urls_skip_local_and_google_traffic() {
        let dir = tempfile::tempdir().unwrap();
        let netlog = dir.path().join("netlog.json");
        std::fs::write(
            &netlog,
            r#"{"events":[{"params":{"url":"file:///tmp/r.html"}},
               {"params":{"url":"https://update.googleapis.com/service"}},
               {"params":{"url":"https://accounts.google.com/x"}},
               {"params":{"url":"http://127.0.0.1:9/a.png"}},
               {"params":{"url":"http://127.0.0.1:9/a.png"}},
               {"params":{"url":"https://notgoogle.com/b"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            page_requests(&netlog),
            vec!["http://127.0.0.1:9/a.png", "https://notgoogle.com/b"]
        );
    }
}
