//! Never half way: injected 403/500/timeouts, a whole-run timeout and Ctrl-C
//! all leave a valid bundle with what was collected and the failures
//! recorded.

use std::time::{Duration, Instant};

use crate::support::collect::*;
use kpm_bundle::Outcome;

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
    let stderr = collect_ok(&served, &out, &["--request-timeout", "2s"]);
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
    collect_ok(&served, &out, &["--force"]);
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

/// The `version` step's message, where the collector records its pacing.
fn pacing(m: &kpm_bundle::Manifest) -> String {
    step(m, "version", None).message.clone().unwrap_or_default()
}

#[test]
fn auto_qps_follows_the_servers_priority_and_fairness() {
    let src = kpm_e2e::testdata().join("crashloop");
    // The snapshot server sends the APF headers by default, like a real
    // API server: no client-side limit.
    let served = serve(&src, Knobs::default());
    let out = served.dir.path().join("apf.zip");
    let stderr = collect_ok(&served, &out, &[]);
    let got = open_verified(&out);
    let mode = pacing(got.manifest());
    assert!(
        mode.starts_with(
            "client rate limit: off (--qps auto: the server runs API Priority and Fairness"
        ),
        "{mode}"
    );
    assert!(stderr.contains(&mode), "{stderr}");

    // Without them, the fixed fallback.
    let served = serve(
        &src,
        Knobs {
            no_apf: true,
            ..Knobs::default()
        },
    );
    let out = served.dir.path().join("no-apf.zip");
    collect_ok(&served, &out, &[]);
    let mode = pacing(open_verified(&out).manifest());
    assert_eq!(
        mode,
        "client rate limit: 50 qps, burst 100 (--qps auto: the server sent no API Priority and Fairness headers)"
    );

    // An explicit --qps wins over the headers.
    let out = served.dir.path().join("fixed.zip");
    let run = collect(&served, &out, &["--qps", "200"]);
    assert_eq!(run.status.code(), Some(0));
    assert_eq!(
        pacing(open_verified(&out).manifest()),
        "client rate limit: 200 qps, burst 400 (--qps 200)"
    );
}

#[test]
fn too_many_requests_is_retried_after_the_servers_delay() {
    let src = kpm_e2e::testdata().join("crashloop");
    let source = open_verified(&src);
    let served = serve(
        &src,
        Knobs {
            // Two APF rejections, then served; events rejected every time.
            fail: vec!["shop/pods=429x2".into(), "shop/events=429".into()],
            ..Knobs::default()
        },
    );
    let out = served.dir.path().join("retried.zip");
    let started = Instant::now();
    let stderr = collect_ok(&served, &out, &[]);
    // Retry-After: 1 was honoured: events waited 4 × 1 s before giving up.
    assert!(started.elapsed() >= Duration::from_secs(4));

    let got = open_verified(&out);
    let m = got.manifest();
    let pods = step(m, "pods", Some("shop"));
    assert_eq!(pods.outcome, Outcome::Ok, "{pods:?}");
    assert_eq!(
        pods.message.as_deref(),
        Some("succeeded after 2 retries (the server answered 429 or 5xx with Retry-After)")
    );
    assert_eq!(
        names(&items(&got, "namespaces/shop/pods.json")),
        names(&items(&source, "namespaces/shop/pods.json"))
    );
    let events = step(m, "events", Some("shop"));
    assert_eq!(
        (events.outcome, events.http_status),
        (Outcome::Error, Some(429))
    );
    assert_eq!(
        events.message.as_deref(),
        Some("Too many requests, please try again later. (gave up after 5 attempts: the server kept asking to retry later)")
    );
    assert!(!got.contains("namespaces/shop/events.json"));
    assert!(
        stderr.contains("requests retried after 429/503 Retry-After"),
        "{stderr}"
    );
}

#[test]
fn expired_continue_token_restarts_the_list_once() {
    let src = kpm_e2e::testdata().join("crashloop");
    let source = open_verified(&src);
    let served = serve(
        &src,
        Knobs {
            // shop: the first continue request finds its token expired; the
            // fresh read pages through. kube-system: every continue expires.
            fail: vec!["shop/pods=410x1".into(), "kube-system/pods=410".into()],
            ..Knobs::default()
        },
    );
    let out = served.dir.path().join("expired.zip");
    // One item per page, so every list of more than one item continues.
    collect_ok(&served, &out, &["--page-size", "1"]);

    let got = open_verified(&out);
    let m = got.manifest();
    let shop = step(m, "pods", Some("shop"));
    assert_eq!(shop.outcome, Outcome::Ok, "{shop:?}");
    assert!(
        shop.message
            .as_deref()
            .unwrap_or("")
            .starts_with("the continue token expired while paging (HTTP 410 Expired)"),
        "{shop:?}"
    );
    // Every pod once: the abandoned first page was dropped.
    let shop_pods = items(&got, "namespaces/shop/pods.json");
    assert_eq!(
        names(&shop_pods),
        names(&items(&source, "namespaces/shop/pods.json"))
    );
    assert_eq!(shop.items, shop_pods.len() as u64);

    let system = step(m, "pods", Some("kube-system"));
    assert_eq!(
        (system.outcome, system.http_status),
        (Outcome::Error, Some(410))
    );
    assert!(system
        .message
        .as_deref()
        .unwrap_or("")
        .starts_with("The provided continue parameter is too old"));

    // Node allocation counted the restarted namespace's pods once.
    let mut expected = 0u64;
    for ns in ["shop", "ingress-nginx"] {
        for p in items(&got, &format!("namespaces/{ns}/pods.json")) {
            let bound = p
                .pointer("/spec/nodeName")
                .and_then(|v| v.as_str())
                .is_some_and(|n| !n.is_empty());
            let phase = p
                .pointer("/status/phase")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            if bound && phase != "Succeeded" && phase != "Failed" {
                expected += 1;
            }
        }
    }
    let derived: serde_json::Value = got.read_json("derived/node-allocation.json").unwrap();
    let counted: u64 = derived["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["nonTerminatedPods"].as_u64().unwrap_or(0))
        .sum();
    assert!(expected > 0);
    assert_eq!(counted, expected);
    let alloc = step(m, "node-allocation", None);
    assert!(
        alloc
            .message
            .as_deref()
            .unwrap_or("")
            .contains("undercounts: pods of kube-system could not be read"),
        "{alloc:?}"
    );
}
