//! Never half way: injected 403/500/timeouts, a whole-run timeout and Ctrl-C
//! all leave a valid bundle with what was collected and the failures
//! recorded.

#[path = "collect_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use kpm_bundle::Outcome;
use support::*;

#[test]
fn injected_failures_are_recorded_and_the_run_goes_on() {
    let src = kpm_e2e::testdata().join("crashloop");
    let served = serve(
        &src,
        Knobs {
            fail: vec![
                "shop/secrets=403".into(),
                "events=500".into(),
                "configmaps=timeout".into(),
                "nodes.metrics.k8s.io=404".into(),
            ],
            ..Knobs::default()
        },
    );
    let out = served.dir.path().join("failures.zip");
    let run = collect(&served, &out, &["--request-timeout", "2s"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("secret-rotation checks will be skipped"),
        "{stderr}"
    );

    let got = open_verified(&out);
    let m = got.manifest();
    let secrets = step(m, "secrets", Some("shop"));
    assert_eq!(
        (secrets.outcome, secrets.http_status),
        (Outcome::Forbidden, Some(403))
    );
    assert!(!got.contains("namespaces/shop/secrets.json"));
    // Only shop was refused.
    assert_eq!(step(m, "secrets", Some("default")).outcome, Outcome::Ok);
    let events = step(m, "events", Some("shop"));
    assert_eq!(
        (events.outcome, events.http_status),
        (Outcome::Error, Some(500))
    );
    let cms = step(m, "configmaps", Some("shop"));
    assert_eq!(cms.outcome, Outcome::Timeout, "{cms:?}");
    let metrics = step(m, "metrics/nodes", None);
    assert_eq!(
        (metrics.outcome, metrics.http_status),
        (Outcome::NotFound, Some(404))
    );
    // Everything else is there.
    assert_eq!(step(m, "pods", Some("shop")).outcome, Outcome::Ok);
    assert!(got.contains("namespaces/shop/pods.json"));
    assert!(!m.collection.timed_out && !m.collection.interrupted);
}

#[test]
fn whole_run_timeout_writes_a_valid_partial_bundle() {
    let src = kpm_e2e::testdata().join("crashloop");
    let served = serve(&src, Knobs::latency_ms(400));
    let out = served.dir.path().join("timeout.zip");
    let started = Instant::now();
    let run = collect(
        &served,
        &out,
        &["--timeout", "2s", "--concurrency", "2", "--qps", "0"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let got = open_verified(&out);
    let m = got.manifest();
    assert!(m.collection.timed_out);
    let unfinished: Vec<_> = m
        .steps
        .iter()
        .filter(|s| s.outcome == Outcome::Timeout)
        .collect();
    assert!(
        !unfinished.is_empty(),
        "no step marked timeout: {:#?}",
        m.steps
    );
    assert!(unfinished
        .iter()
        .all(|s| s.path.is_none() || got.contains(s.path.as_deref().unwrap_or(""))));
    // What finished is in the bundle.
    assert!(got.contains("cluster/version.json"));
}

#[test]
fn ctrl_c_writes_a_partial_bundle_that_opens() {
    let src = kpm_e2e::testdata().join("crashloop");
    let served = serve(&src, Knobs::latency_ms(300));
    let out = served.dir.path().join("interrupted.zip");
    let child = collect_cmd(&served, &out, &["--concurrency", "2", "--qps", "0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(2500));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code().is_some(),
        "killed by the signal instead of finishing: {stderr}"
    );
    let got = open_verified(&out);
    let m = got.manifest();
    assert!(m.collection.interrupted, "{stderr}");
    assert!(m
        .steps
        .iter()
        .any(|s| s.message.as_deref() == Some("not collected: interrupted (Ctrl-C or SIGTERM)")));
    assert!(!out.with_extension("zip.partial").exists());
}

#[test]
fn refuses_to_overwrite_without_force() {
    let src = kpm_e2e::testdata().join("healthy");
    let served = serve(&src, Knobs::default());
    let out = served.dir.path().join("exists.zip");
    std::fs::write(&out, b"keep me").unwrap();
    let run = collect(&served, &out, &[]);
    assert_eq!(run.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&run.stderr).contains("--force"));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    let run = collect(&served, &out, &["--force"]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    open_verified(&out);
}

#[test]
fn unreachable_server_and_missing_kubeconfig_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kc = dir.path().join("kc");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: gone\nclusters:\n- name: gone\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: gone\n  context:\n    cluster: gone\n    user: u\nusers:\n- name: u\n  user:\n    token: t\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("x.zip");
    let run = std::process::Command::new(collect_bin())
        .arg("--kubeconfig")
        .arg(&kc)
        .arg("-o")
        .arg(&out)
        .env("HOME", dir.path())
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("cannot reach the API server"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(!out.exists());

    let run = std::process::Command::new(collect_bin())
        .arg("-o")
        .arg(&out)
        .env("HOME", dir.path())
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("no kubeconfig found"), "{stderr}");
}

#[test]
fn tls_failure_exits_3_with_one_line() {
    // An HTTPS client against the plain-HTTP snapshot server: the handshake
    // fails.
    let src = kpm_e2e::testdata().join("healthy");
    let served = serve(&src, Knobs::default());
    let text = std::fs::read_to_string(&served.kubeconfig).unwrap();
    let tls = text.replace("http://127.0.0.1", "https://127.0.0.1");
    assert_ne!(
        text, tls,
        "served kubeconfig has no http server line:\n{text}"
    );
    let kc = served.dir.path().join("tls-kubeconfig");
    std::fs::write(&kc, tls).unwrap();
    let out = served.dir.path().join("tls.zip");
    let run = std::process::Command::new(collect_bin())
        .arg("--kubeconfig")
        .arg(&kc)
        .arg("-o")
        .arg(&out)
        .env("HOME", served.dir.path())
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("TLS handshake"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(!out.exists());
}

#[test]
fn expired_credentials_exit_3_with_one_line() {
    // A minimal API server that rejects every request the way the API
    // server rejects an expired token.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;
            let _ = write!(
                conn,
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: prod\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: prod\n  context:\n    cluster: prod\n    user: u\nusers:\n- name: u\n  user:\n    token: expired-token\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("x.zip");
    let run = std::process::Command::new(collect_bin())
        .arg("--kubeconfig")
        .arg(&kc)
        .arg("-o")
        .arg(&out)
        .env("HOME", dir.path())
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("rejected the credentials (HTTP 401 Unauthorized)"),
        "{stderr}"
    );
    assert!(stderr.contains("\"prod\""), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(!out.exists() && !dir.path().join("x.zip.partial").exists());
}
