//! The snapshot server as a benchmark fixture: `kpm-analyze serve` started
//! as a child on a free loopback port, waited for, and stopped with its
//! peak RSS; plus real kubectl commands timed against it.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::env::Env;
use crate::measure::{self, Measured, Probe, Running};

/// A running `kpm-analyze serve`.
pub struct Server {
    running: Running,
    /// Kubeconfig the server wrote; pass it to kubectl and kpm-collect.
    pub kubeconfig: PathBuf,
    /// From spawn until the port accepted connections (bundle opened and
    /// indexed).
    pub startup: Duration,
    log: PathBuf,
}

/// What serving cost, known once the server is stopped.
#[derive(Debug, Clone, Copy)]
pub struct Stopped {
    /// Whole lifetime, start-up included.
    pub measured: Measured,
    /// Start-up only.
    pub startup: Duration,
}

/// A port that was free a moment ago. The server binds it right after; a
/// collision shows up as a start-up failure naming the port.
fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(l.local_addr()
        .context("loopback port has no address")?
        .port())
}

/// How long a large bundle may take to open before we give up.
const STARTUP_LIMIT: Duration = Duration::from_secs(600);

impl Server {
    /// Starts `kpm-analyze serve` on `bundle`, writing its kubeconfig and
    /// log into `dir`, and waits until it accepts connections.
    /// `latency_ms` passes the server's test knob that delays every
    /// request, to imitate a remote API server.
    pub fn start(env: &Env, bundle: &Path, dir: &Path, latency_ms: Option<u64>) -> Result<Server> {
        let port = free_port()?;
        let kubeconfig = dir.join("kubeconfig");
        let log = dir.join("serve.log");
        let log_file = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let log_err = log_file.try_clone().context("cannot share the serve log")?;
        let mut cmd = Command::new(env.bin("kpm-analyze")?);
        cmd.arg("serve")
            .arg(bundle)
            .args(["--port", &port.to_string()])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err);
        if let Some(ms) = latency_ms {
            cmd.args(["--latency-ms", &ms.to_string()]);
        }
        let started = Instant::now();
        let running = Running::spawn(&mut cmd, "kpm-analyze serve")?;
        loop {
            if running.has_exited() {
                let m = running.wait()?;
                bail!(
                    "kpm-analyze serve exited during start-up ({m}); log {}:\n{}",
                    log.display(),
                    tail(&log)
                );
            }
            if kubeconfig.is_file() && TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if started.elapsed() > STARTUP_LIMIT {
                running.interrupt()?;
                let _ = running.wait();
                bail!("kpm-analyze serve not listening on port {port} after {STARTUP_LIMIT:?}; log {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Server {
            running,
            kubeconfig,
            startup: started.elapsed(),
            log,
        })
    }

    /// Stops the server (SIGINT, as Ctrl-C) and returns its cost. Peak RSS
    /// is the larger of `VmHWM` read just before and the kernel's
    /// `ru_maxrss` after, so nothing allocated during shutdown is missed.
    pub fn stop(self) -> Result<Stopped> {
        let hwm = self.running.current_hwm_kib().unwrap_or(0);
        if !self.running.has_exited() {
            self.running.interrupt()?;
        }
        let mut measured = self.running.wait()?;
        measured.max_rss_kib = measured.max_rss_kib.max(hwm);
        Ok(Stopped {
            measured,
            startup: self.startup,
        })
    }

    /// The server's log, for error messages.
    pub fn log(&self) -> &Path {
        &self.log
    }
}

/// The last lines of a log file, for error messages.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// One timed kubectl command.
#[derive(Debug, Clone)]
pub struct KubectlRun {
    /// Arguments after `--kubeconfig`.
    pub args: Vec<String>,
    /// Cost of each repetition.
    pub runs: Vec<Measured>,
    /// Lines kubectl printed on the last repetition (a sanity check that
    /// the command returned the data, not an error).
    pub stdout_lines: usize,
}

impl KubectlRun {
    /// Median wall time of the repetitions.
    pub fn median_wall(&self) -> Duration {
        let walls: Vec<Duration> = self.runs.iter().map(|m| m.wall).collect();
        measure::median(&walls).unwrap_or_default()
    }

    /// The command as a user would type it.
    pub fn display(&self) -> String {
        format!("kubectl {}", self.args.join(" "))
    }
}

/// Runs `kubectl --kubeconfig K ARGS` `reps` times, each measured; fails
/// when kubectl does, showing its stderr.
pub fn kubectl(
    env: &Env,
    kubeconfig: &Path,
    args: &[&str],
    reps: usize,
    dir: &Path,
) -> Result<KubectlRun> {
    let kubectl = env.kubectl()?;
    let out_path = dir.join("kubectl.out");
    let err_path = dir.join("kubectl.err");
    let mut runs = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let out = std::fs::File::create(&out_path)
            .with_context(|| format!("cannot create {}", out_path.display()))?;
        let err = std::fs::File::create(&err_path)
            .with_context(|| format!("cannot create {}", err_path.display()))?;
        let mut probe = Probe::new(kubectl, "kubectl")?;
        probe
            .cmd()
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .stdout(out)
            .stderr(err);
        let m = probe.run()?;
        if !m.success() {
            bail!(
                "kubectl {} failed ({m}):\n{}",
                args.join(" "),
                tail(&err_path)
            );
        }
        runs.push(m);
    }
    let stdout_lines = std::fs::read_to_string(&out_path)
        .map(|s| s.lines().count())
        .unwrap_or(0);
    Ok(KubectlRun {
        args: args.iter().map(|s| s.to_string()).collect(),
        runs,
        stdout_lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_bindable() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind(("127.0.0.1", port)).unwrap();
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = std::env::temp_dir().join(format!("kpm-bench-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("log");
        let text: String = (1..=40).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&f, text).unwrap();
        let t = tail(&f);
        assert!(t.starts_with("line 26"), "{t}");
        assert!(t.ends_with("line 40"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
