//! Real kubectl's watching commands against `kpm_serve`: `get -w` prints
//! the snapshot and keeps waiting (a snapshot never changes), `rollout
//! status` reports a healthy Deployment as rolled out and keeps waiting on
//! a stuck one until its timeout, and `wait` ends with kubectl's own
//! timeout message.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::serve::{rows, serve, write_fixture, Run, Served};

fn scenario(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("testdata")
        .join(name)
}

/// Runs kubectl until its output holds `until` (or 30 s pass), then kills
/// it: a watch on a snapshot never ends by itself. Returns what it printed
/// and whether the text showed up while it was still running.
fn watch_until(s: &Served, args: &[&str], until: &str) -> (Run, bool) {
    let mut child = Command::new(kpm_e2e::kubectl())
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", s.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl starts");
    let out = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = {
        let out = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                out.lock().expect("lock").extend_from_slice(&buf[..n]);
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = false;
    let mut still_running = false;
    while Instant::now() < deadline {
        seen = String::from_utf8_lossy(&out.lock().expect("lock")).contains(until);
        if seen {
            // Give it a moment: a watch refused or closed would end kubectl.
            std::thread::sleep(Duration::from_millis(500));
            still_running = child.try_wait().expect("wait").is_none();
            break;
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let status = child.wait().expect("kubectl ends");
    reader.join().expect("reader");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let stdout = String::from_utf8_lossy(&out.lock().expect("lock")).into_owned();
    (
        Run {
            code: status.code(),
            stdout,
            stderr,
        },
        seen && still_running,
    )
}

#[test]
fn serve_get_watch_prints_the_state_and_keeps_watching() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = serve(&write_fixture(dir.path()), None, &[]);
    let (run, open) = watch_until(&s, &["get", "pods", "-n", "shop", "-w"], "worker-5d8b-q7x");
    assert!(open, "kubectl get -w ended: {}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stderr, "");
    assert_eq!(
        rows(&run.stdout),
        [
            "NAME READY STATUS RESTARTS AGE",
            "api-6f7c9d-xk2lp 1/2 CrashLoopBackOff 7 (3m ago) 3h",
            "web-7c9d8f-abcde 1/1 Running 0 24h",
            "worker-5d8b-q7x 0/1 Pending 0 10m",
        ]
    );
    // Every namespace, and one object (whose initial event kubectl drops).
    let (run, open) = watch_until(&s, &["get", "pods", "-A", "--watch"], "worker-5d8b-q7x");
    assert!(open, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(rows(&run.stdout).len(), 4, "{}", run.stdout);
    let (run, open) = watch_until(
        &s,
        &["get", "pod", "web-7c9d8f-abcde", "-n", "shop", "-w"],
        "web-7c9d8f-abcde",
    );
    assert!(open, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(rows(&run.stdout).len(), 2, "{}", run.stdout);
    // The list as watch events (kubectl prints the list as ADDED events,
    // then waits for changes after the list's version).
    let (run, open) = watch_until(
        &s,
        &[
            "get",
            "pods",
            "-n",
            "shop",
            "-w",
            "--output-watch-events",
            "-o",
            "json",
        ],
        "worker-5d8b-q7x",
    );
    assert!(open, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout.matches("\"ADDED\"").count(), 3, "{}", run.stdout);
}

#[test]
fn serve_get_watch_ends_at_the_request_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = serve(&write_fixture(dir.path()), None, &[]);
    let started = Instant::now();
    let run = s.kubectl(&["get", "pods", "-n", "shop", "-w", "--request-timeout=2s"]);
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(run.stdout.contains("web-7c9d8f-abcde"), "{}", run.stdout);
    assert_eq!(run.stderr, "", "code {:?}", run.code);
}

#[test]
fn serve_rollout_status_and_wait_report_the_snapshot() {
    let s = serve(&scenario("crashloop"), None, &[]);
    assert_eq!(
        s.ok(&["rollout", "status", "deployment/catalog", "-n", "shop"]),
        "deployment \"catalog\" successfully rolled out\n"
    );
    // Past its progress deadline: kubectl says so at once.
    let run = s.kubectl(&["rollout", "status", "deployment/checkout", "-n", "shop"]);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stderr,
        "error: deployment \"checkout\" exceeded its progress deadline\n"
    );
    // A condition the snapshot does not meet: kubectl's own timeout.
    let run = s.kubectl(&[
        "wait",
        "--for=condition=Available",
        "deployment/checkout",
        "-n",
        "shop",
        "--timeout=2s",
    ]);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stderr,
        "error: timed out waiting for the condition on deployments/checkout\n"
    );
    assert_eq!(
        s.ok(&[
            "wait",
            "--for=condition=Available",
            "deployment/catalog",
            "-n",
            "shop",
            "--timeout=2s"
        ]),
        "deployment.apps/catalog condition met\n"
    );
}

#[test]
fn serve_rollout_status_waits_on_a_rollout_still_in_progress() {
    // dns-down: coredns has no available replica, within its deadline.
    let s = serve(&scenario("dns-down"), None, &[]);
    let started = Instant::now();
    let run = s.kubectl(&[
        "rollout",
        "status",
        "deployment/coredns",
        "-n",
        "kube-system",
        "--timeout=2s",
    ]);
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        "Waiting for deployment \"coredns\" rollout to finish: 0 of 2 updated replicas are available...\n"
    );
    assert_eq!(run.stderr, "error: timed out waiting for the condition\n");
}

#[test]
fn serve_every_scenario_watches_and_reports_rollouts() {
    let scenarios = kpm_e2e::scenarios();
    assert!(!scenarios.is_empty(), "no scenario bundles under testdata/");
    for dir in scenarios {
        let name = dir.display().to_string();
        let s = serve(&dir, None, &[]);
        // `get pods -A -w` prints exactly the list, then keeps watching.
        let listed = rows(&s.ok(&["get", "pods", "-A", "--no-headers"]));
        let Some(last) = listed.last() else { continue };
        let last_name = last.split(' ').nth(1).unwrap_or("").to_string();
        let (run, open) = watch_until(&s, &["get", "pods", "-A", "-w", "--no-headers"], &last_name);
        assert!(open, "{name}: {}\n{}", run.stdout, run.stderr);
        assert_eq!(rows(&run.stdout), listed, "{name}");
        // Every Deployment's rollout is reported from the snapshot: rolled
        // out, past its deadline, or still waiting at the timeout.
        for d in rows(&s.ok(&["get", "deploy", "-A", "--no-headers"])) {
            let mut f = d.split(' ');
            let (ns, deploy) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
            let target = format!("deployment/{deploy}");
            let run = s.kubectl(&["rollout", "status", &target, "-n", ns, "--timeout=1s"]);
            let rolled_out = format!("deployment \"{deploy}\" successfully rolled out\n");
            let outcome_ok = match run.code {
                Some(0) => run.stdout == rolled_out && run.stderr.is_empty(),
                _ => {
                    run.stderr
                        == format!(
                            "error: deployment \"{deploy}\" exceeded its progress deadline\n"
                        )
                        || run.stderr == "error: timed out waiting for the condition\n"
                }
            };
            assert!(
                outcome_ok,
                "{name}: rollout status {ns}/{deploy}: {}\n{}",
                run.stdout, run.stderr
            );
        }
    }
}
