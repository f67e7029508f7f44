//! Measuring processes: wall time and peak resident set size.
//!
//! Benchmarks measure whole processes, the way a user experiences them, so
//! start-up, bundle opening and exit are included. Peak RSS comes from the
//! kernel, not from sampling: `wait4` returns the child's `rusage`, whose
//! `ru_maxrss` (KiB on Linux) is the high-water mark of that one child. A
//! process still running (the snapshot server) is read from `VmHWM` in
//! `/proc/<pid>/status` before it is stopped.
//!
//! Why a launcher: on Linux `ru_maxrss` survives `execve` — the kernel
//! folds the high-water mark of the pre-exec address space into it. std
//! spawns with `vfork` semantics, so a child spawned directly by this
//! harness reports at least the harness's own peak RSS (which grows while
//! it counts objects in a large bundle). [`Probe`] therefore runs every
//! measured command under `kpm-bench exec`, a freshly exec'd tiny process
//! whose own small address space is the only thing inherited.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// What one measured process cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// From spawn to reaped.
    pub wall: Duration,
    /// Peak resident set size in KiB (`ru_maxrss`).
    pub max_rss_kib: u64,
    /// User plus system CPU time, to tell CPU-bound from waiting.
    pub cpu: Duration,
    /// Exit code, `None` when killed by a signal.
    pub exit_code: Option<i32>,
}

impl Measured {
    /// Peak RSS in MiB, for tables.
    pub fn max_rss_mib(&self) -> f64 {
        self.max_rss_kib as f64 / 1024.0
    }

    /// Whether the process exited with status 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

impl fmt::Display for Measured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wall {:.3} s, cpu {:.3} s, peak RSS {:.1} MiB, exit {}",
            self.wall.as_secs_f64(),
            self.cpu.as_secs_f64(),
            self.max_rss_mib(),
            self.exit_code
                .map_or_else(|| "signal".to_string(), |c| c.to_string())
        )
    }
}

/// A spawned child whose start time is known, waiting to be reaped with
/// [`Running::wait`].
pub struct Running {
    child: Child,
    started: Instant,
    what: String,
}

impl Running {
    /// Spawns `cmd`, remembering the start time. `what` names it in errors.
    pub fn spawn(cmd: &mut Command, what: &str) -> Result<Running> {
        let started = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {what} ({cmd:?})"))?;
        Ok(Running {
            child,
            started,
            what: what.to_string(),
        })
    }

    /// Process id, for `/proc` and signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the child has already exited (without reaping it).
    pub fn has_exited(&self) -> bool {
        let mut info: libc::siginfo_t = unsafe_zeroed_siginfo();
        let pid = self.pid() as libc::id_t;
        // SAFETY: `info` is a valid, writable siginfo_t; WNOWAIT leaves the
        // child waitable so `wait` can still collect its rusage.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        // SAFETY: si_pid is valid to read after waitid filled (or zeroed) it.
        rc == 0 && unsafe { info.si_pid() } != 0
    }

    /// Peak RSS so far of the running child (`VmHWM`), in KiB.
    pub fn current_hwm_kib(&self) -> Option<u64> {
        vm_hwm_kib(&format!("/proc/{}/status", self.pid()))
    }

    /// Asks the child to stop like Ctrl-C would (SIGINT).
    pub fn interrupt(&self) -> Result<()> {
        let pid = libc::pid_t::try_from(self.pid()).context("pid out of range")?;
        // SAFETY: plain syscall on our own child's pid.
        if unsafe { libc::kill(pid, libc::SIGINT) } != 0 {
            return Err(io::Error::last_os_error())
                .with_context(|| format!("cannot interrupt {}", self.what));
        }
        Ok(())
    }

    /// Reaps the child and returns what it cost.
    pub fn wait(self) -> Result<Measured> {
        let pid = libc::pid_t::try_from(self.pid()).context("pid out of range")?;
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain old data; zero is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: pointers are to live locals; pid is our own child,
            // which std has not reaped (we never call Child::wait).
            let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            if rc == pid {
                break;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err).with_context(|| format!("wait4 on {} (pid {pid})", self.what));
            }
        }
        let wall = self.started.elapsed();
        let exit_code = if libc::WIFEXITED(status) {
            Some(libc::WEXITSTATUS(status))
        } else {
            None
        };
        Ok(Measured {
            wall,
            max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
            cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
            exit_code,
        })
    }
}

fn unsafe_zeroed_siginfo() -> libc::siginfo_t {
    // SAFETY: siginfo_t is plain old data; all-zero is valid and is what
    // waitid documents as "no child ready" for si_pid.
    unsafe { std::mem::zeroed() }
}

fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u64::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

/// Runs `cmd` as a direct child to completion and measures it. A non-zero
/// exit is returned, not an error. Peak RSS includes this process's own
/// peak (see the module doc): use [`Probe`] for figures that matter.
#[cfg(test)]
pub fn run(cmd: &mut Command, what: &str) -> Result<Measured> {
    Running::spawn(cmd, what)?.wait()
}

/// The launcher writes the measurement to the file this variable names.
pub const RESULT_ENV: &str = "KPM_BENCH_RESULT";

/// A command measured through the `kpm-bench exec` launcher, so its peak
/// RSS is its own. Configure it (args, stdio, env) through [`Probe::cmd`].
pub struct Probe {
    cmd: Command,
    result: PathBuf,
    what: String,
}

impl Probe {
    /// Runs `program` under this executable's `exec` launcher.
    pub fn new(program: impl AsRef<OsStr>, what: &str) -> Result<Probe> {
        let exe = std::env::current_exe().context("cannot locate the kpm-bench executable")?;
        Ok(Probe::with_launcher(&exe, program, what))
    }

    /// Runs `program` under `launcher exec --` (a kpm-bench binary).
    pub fn with_launcher(launcher: &Path, program: impl AsRef<OsStr>, what: &str) -> Probe {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let result = std::env::temp_dir().join(format!(
            "kpm-bench-{}-{}.json",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut cmd = Command::new(launcher);
        cmd.args(["exec", "--"])
            .arg(program)
            .env(RESULT_ENV, &result);
        Probe {
            cmd,
            result,
            what: what.to_string(),
        }
    }

    /// The command, to add arguments and set stdio.
    pub fn cmd(&mut self) -> &mut Command {
        &mut self.cmd
    }

    /// Runs to completion and returns the command's own cost (the
    /// launcher's start-up is not included in the wall time). A non-zero
    /// exit is returned, not an error.
    pub fn run(mut self) -> Result<Measured> {
        let _ = std::fs::remove_file(&self.result);
        let launcher = Running::spawn(&mut self.cmd, &self.what)?.wait()?;
        let text = std::fs::read_to_string(&self.result).with_context(|| {
            format!("launcher of {} left no measurement ({launcher})", self.what)
        })?;
        let _ = std::fs::remove_file(&self.result);
        serde_json::from_str(&text)
            .with_context(|| format!("launcher of {} wrote {text:?}", self.what))
    }

    /// Runs with stderr captured to `stderr_log`, failing (with the stderr
    /// tail) unless the command exits 0.
    pub fn run_ok(mut self, stderr_log: &Path) -> Result<Measured> {
        let log = std::fs::File::create(stderr_log)
            .with_context(|| format!("cannot create {}", stderr_log.display()))?;
        self.cmd.stderr(log);
        let what = self.what.clone();
        let m = self.run()?;
        if !m.success() {
            let text = std::fs::read_to_string(stderr_log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            bail!(
                "{what} failed ({m}); stderr in {}:\n{}",
                stderr_log.display(),
                lines[lines.len().saturating_sub(15)..].join("\n")
            );
        }
        Ok(m)
    }
}

/// Body of `kpm-bench exec -- PROGRAM ARGS…`: runs the program with the
/// inherited stdio, writes its [`Measured`] to `$KPM_BENCH_RESULT` and
/// returns the exit code to exit with.
pub fn launch(command: &[OsString]) -> Result<i32> {
    let result =
        std::env::var_os(RESULT_ENV).with_context(|| format!("{RESULT_ENV} is not set"))?;
    let (program, args) = command
        .split_first()
        .context("exec needs a program to run")?;
    let mut cmd = Command::new(program);
    cmd.args(args).env_remove(RESULT_ENV);
    let m = Running::spawn(&mut cmd, &program.to_string_lossy())?.wait()?;
    let json = serde_json::to_vec(&m).context("cannot encode the measurement")?;
    std::fs::write(&result, json)
        .with_context(|| format!("cannot write {}", Path::new(&result).display()))?;
    Ok(m.exit_code.unwrap_or(128))
}

/// `VmHWM` (peak RSS, KiB) from a `/proc/<pid>/status`-format file.
pub fn vm_hwm_kib(status_file: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status_file).ok()?;
    parse_vm_hwm(&text)
}

/// Parses the `VmHWM:` line of a `/proc/<pid>/status` text.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut parts = line.split_whitespace().skip(1);
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => Some(value),
        Some(_) => None,
    }
}

/// Peak RSS of this very process, in KiB.
pub fn self_hwm_kib() -> Option<u64> {
    vm_hwm_kib("/proc/self/status")
}

/// Median of a non-empty slice of durations (upper median for even counts).
pub fn median(values: &[Duration]) -> Option<Duration> {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    #[test]
    fn child_peak_rss_reflects_its_allocation() {
        // dd allocates and fills one block of `bs` bytes: its peak RSS must
        // be at least that, and a tiny `true` must stay far below.
        let mut big = Command::new("dd");
        big.args(["if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"])
            .stderr(Stdio::null());
        let big = run(&mut big, "dd").unwrap();
        assert!(big.success());
        assert!(big.max_rss_kib >= 64 * 1024, "{big}");
        // The launcher path (small figures for small programs even under a
        // big parent) is tested in tests/launcher.rs against the binary.
    }

    #[test]
    fn wall_time_covers_the_child_lifetime() {
        let m = run(Command::new("sleep").arg("0.2"), "sleep").unwrap();
        assert!(m.wall >= Duration::from_millis(200), "{m}");
        assert!(
            m.cpu < Duration::from_millis(150),
            "sleep should not burn cpu: {m}"
        );
    }

    #[test]
    fn exit_codes_and_signals_are_reported() {
        let m = run(Command::new("sh").args(["-c", "exit 3"]), "sh").unwrap();
        assert_eq!(m.exit_code, Some(3));
        assert!(!m.success());

        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        // A test run started in the background of a shell without job
        // control inherits SIGINT ignored, and `sleep` would then outlive
        // the interrupt: give the child the default disposition.
        // SAFETY: `signal` is async-signal-safe, as pre_exec requires.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        let running = Running::spawn(&mut cmd, "sleep").unwrap();
        assert!(!running.has_exited());
        running.interrupt().unwrap();
        let m = running.wait().unwrap();
        assert_eq!(m.exit_code, None, "killed by SIGINT");
        assert!(m.wall < Duration::from_secs(10));
    }

    #[test]
    fn parses_proc_status_high_water_mark() {
        let status = "Name:\tkpm-analyze\nVmPeak:\t  812344 kB\nVmSize:\t  812300 kB\nVmHWM:\t  153260 kB\nVmRSS:\t  150012 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(153_260));
        assert_eq!(parse_vm_hwm("Name:\tx\nVmRSS:\t 1 kB\n"), None);
        assert!(self_hwm_kib().unwrap() > 0);
    }

    #[test]
    fn median_picks_the_middle() {
        let d = |ms| Duration::from_millis(ms);
        assert_eq!(median(&[d(30), d(10), d(20)]), Some(d(20)));
        assert_eq!(median(&[]), None);
    }
}
