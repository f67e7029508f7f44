//! `kpm-analyze serve` against hostile clients and hostile bundles: no
//! access without the run's token or from another `Host`, slow and idle
//! connections cannot starve kubectl, huge logs are tailed in bounded
//! memory, bad numbers and selectors answer 400, objects with names no API
//! server accepts are not served, and the kubeconfig is never written
//! through a planted link.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::serve::{pods, rows, serve, write_fixture, Served};
use crate::support::served;
use serde_json::{json, Value};

/// One raw HTTP/1.1 request; returns (status, headers, body).
fn http(s: &Served, host: &str, path: &str, auth: Option<&str>) -> (u16, String, String) {
    let mut c = TcpStream::connect(s.addr).expect("connect");
    let auth = auth
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    c.read_to_string(&mut out).expect("read");
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

fn status_of(body: &str) -> Value {
    // Bodies may be chunked; a Status is small and sent whole.
    let start = body.find('{').unwrap_or(0);
    let end = body.rfind('}').map_or(body.len(), |e| e + 1);
    serde_json::from_str(&body[start..end]).unwrap_or(Value::Null)
}

fn fixture() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let bundle = write_fixture(dir.path());
    (dir, bundle)
}

#[test]
fn token_and_loopback_host_are_required() {
    let (_d, bundle) = fixture();
    let s = serve(&bundle, None, &[]);
    let host = s.addr.to_string();
    let pods = "/api/v1/namespaces/shop/pods";
    // No token, a wrong one, a near miss: 401 as the API server words it.
    for (path, auth) in [
        (pods.to_string(), None),
        (pods.to_string(), Some("0".repeat(64))),
        (format!("/{}x{pods}", s.token), None),
        (format!("/{}{pods}", &s.token[..63]), None),
    ] {
        let (code, _, body) = http(&s, &host, &path, auth.as_deref());
        assert_eq!(code, 401, "{path}");
        let st = status_of(&body);
        assert_eq!(
            (
                st["kind"].as_str(),
                st["reason"].as_str(),
                st["code"].as_u64()
            ),
            (Some("Status"), Some("Unauthorized"), Some(401))
        );
        assert!(!body.contains("web-7c9d8f"), "data leaked without a token");
    }
    // The token as a path prefix (kubectl) or as a bearer header (curl).
    assert_eq!(http(&s, &host, &format!("/{}{pods}", s.token), None).0, 200);
    assert_eq!(http(&s, &host, pods, Some(&s.token)).0, 200);
    for ok_host in [
        format!("localhost:{}", s.addr.port()),
        format!("[::1]:{}", s.addr.port()),
    ] {
        assert_eq!(http(&s, &ok_host, pods, Some(&s.token)).0, 200, "{ok_host}");
    }
    // DNS rebinding: right token, foreign Host → refused before any data.
    for evil in [
        format!("evil.example:{}", s.addr.port()),
        "127.0.0.1:1".to_string(),
        "127.0.0.1".to_string(),
    ] {
        let (code, _, body) = http(&s, &evil, &format!("/{}{pods}", s.token), None);
        assert_eq!(code, 403, "{evil}");
        assert_eq!(status_of(&body)["reason"], "Forbidden");
        assert!(!body.contains("web-7c9d8f"));
    }
    // Health is public, as on an API server.
    assert_eq!(http(&s, &host, "/healthz", None).0, 200);
    // And kubectl, with nothing but the written kubeconfig, works.
    assert_eq!(
        rows(&s.ok(&["get", "pods", "-n", "shop", "-o", "name"])).len(),
        3
    );
    let kc = std::fs::read_to_string(&s.kubeconfig).expect("kubeconfig");
    assert!(kc.contains(&s.token));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&s.kubeconfig)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn slow_and_idle_connections_do_not_starve_kubectl() {
    let (_d, bundle) = fixture();
    let s = served::serve(
        &bundle,
        served::Knobs {
            idle_timeout_ms: Some(700),
            max_connections: Some(8),
            ..served::Knobs::default()
        },
    );
    // Twenty idle connections (more than the limit) and one slowloris that
    // sends a header byte every 100 ms.
    let idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(s.addr).expect("connect"))
        .collect();
    let mut slow = TcpStream::connect(s.addr).expect("connect");
    slow.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let started = Instant::now();
    let mut closed_after = None;
    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for b in request.iter().cycle().take(100) {
        if slow.write_all(&[*b]).is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        let mut buf = [0u8; 256];
        match slow.read(&mut buf) {
            Ok(0) => {
                closed_after = Some(started.elapsed());
                break;
            }
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                closed_after = Some(started.elapsed());
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let closed_after = closed_after.expect("the slowloris connection was never closed");
    assert!(
        closed_after < Duration::from_secs(8),
        "slowloris held {closed_after:?}"
    );
    // Idle connections are closed by the server too.
    for mut c in idle {
        c.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("t");
        let mut buf = [0u8; 16];
        assert!(
            matches!(c.read(&mut buf), Ok(0) | Err(_)),
            "idle connection left open"
        );
    }
    assert_eq!(
        rows(&s.ok(&["get", "pods", "-n", "shop", "-o", "name"])).len(),
        3
    );
}

#[test]
fn many_idle_connections_leave_room_for_kubectl() {
    let (_d, bundle) = fixture();
    let s = serve(&bundle, None, &[]);
    let _idle: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(s.addr).expect("connect"))
        .collect();
    assert_eq!(
        rows(&s.ok(&["get", "pods", "-n", "shop", "-o", "name"])).len(),
        3
    );
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn tail_of_a_300_mb_log_in_bounded_memory() {
    let (_d, bundle) = fixture();
    let log = bundle.join(kpm_bundle::layout::log_path(
        "shop",
        "web-7c9d8f-abcde",
        "web",
        false,
    ));
    // 300 MB of lines, written in pieces, then a known tail.
    let mut f = std::fs::File::create(&log).expect("log");
    let block = "GET /healthz 200 padding-padding-padding-padding-padding\n".repeat(16 * 1024);
    let mut written = 0;
    while written < 300 << 20 {
        f.write_all(block.as_bytes()).expect("write");
        written += block.len();
    }
    for i in 0..20 {
        writeln!(f, "last line {i}").expect("write");
    }
    drop(f);
    let s = serve(&bundle, None, &[]);
    let before = peak_rss_kib();
    let out = s.ok(&["logs", "web-7c9d8f-abcde", "-n", "shop", "--tail=3"]);
    assert_eq!(out, "last line 17\nlast line 18\nlast line 19\n");
    let limited = s.ok(&["logs", "web-7c9d8f-abcde", "-n", "shop", "--limit-bytes=4"]);
    assert_eq!(limited, "GET ");
    let grown = peak_rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "peak RSS grew by {grown} KiB");
}

#[test]
fn out_of_range_numbers_and_bad_selectors_are_400() {
    let (_d, bundle) = fixture();
    let s = serve(&bundle, None, &[]);
    let host = s.addr.to_string();
    let log = "/api/v1/namespaces/shop/pods/web-7c9d8f-abcde/log";
    for query in [
        format!("{log}?sinceSeconds=9223372036854775807"),
        format!("{log}?sinceSeconds=-1"),
        format!("{log}?limitBytes=0"),
        format!("{log}?limitBytes=99999999999999999999999"),
        format!("{log}?tailLines=-7"),
        format!("{log}?tailLines=ten"),
        format!("{log}?sinceTime=yesterday"),
        "/api/v1/pods?limit=abc".to_string(),
        "/api/v1/pods?timeoutSeconds=-1".to_string(),
        "/api/v1/pods?fieldSelector=%C3%A9%5C%C3%A9".to_string(),
        "/api/v1/pods?fieldSelector=spec.nodeName%5C%C3%A9".to_string(),
        "/api/v1/pods?labelSelector=%C3%A9%20in%20(%C3%BC".to_string(),
        "/api/v1/pods?labelSelector=a%3D%C3%A9".to_string(),
    ] {
        let (code, _, body) = http(&s, &host, &query, Some(&s.token));
        assert_eq!(code, 400, "{query}: {body}");
        let st = status_of(&body);
        assert_eq!(st["kind"], "Status", "{query}");
        assert_eq!(st["reason"], "BadRequest", "{query}");
    }
    let (code, _, body) = http(&s, &host, "/api/v1/pods", None);
    assert_eq!((code, status_of(&body)["code"].as_u64()), (401, Some(401)));
    let (code, _, body) = http(&s, &host, &format!("/{}/no/such/path", s.token), None);
    assert_eq!(
        (code, status_of(&body)["reason"].as_str()),
        (404, Some("NotFound"))
    );
}

/// Files under `dir`, recursively.
fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let rd = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in rd.map(|e| e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))) {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn objects_with_invalid_names_are_not_served_and_dump_stays_inside() {
    let (d, bundle) = fixture();
    // Rewrite shop's pods with three an API server would never accept.
    let mut pods = pods();
    for bad in ["../../x", "", "UPPER"] {
        let mut p = pods[1].clone();
        p["metadata"]["name"] = json!(bad);
        pods.push(p);
    }
    let list = json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": pods});
    std::fs::write(
        bundle.join(kpm_bundle::layout::namespaced_path("shop", "pods")),
        serde_json::to_vec(&list).expect("json"),
    )
    .expect("rewrite pods");
    let s = serve(&bundle, None, &[]);
    let run = s.kubectl(&["get", "pods", "-n", "shop", "-o", "name"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        rows(&run.stdout),
        [
            "pod/api-6f7c9d-xk2lp",
            "pod/web-7c9d8f-abcde",
            "pod/worker-5d8b-q7x"
        ]
    );
    assert!(
        run.stderr
            .contains("Warning: kpm: 3 pods left out of this list"),
        "{}",
        run.stderr
    );
    let bad = s.fails(&["get", "pod", "UPPER", "-n", "shop"]);
    assert!(bad.contains("NotFound"), "{bad}");
    // cluster-info dump writes only inside its output directory.
    let out = d.path().join("dump");
    let run = s.kubectl(&[
        "cluster-info",
        "dump",
        "--all-namespaces",
        "--output-directory",
        out.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let mut all = Vec::new();
    walk(d.path(), &mut all);
    let outside: Vec<_> = all
        .iter()
        .filter(|p| !p.starts_with(&out) && !p.starts_with(&bundle))
        .collect();
    assert!(outside.is_empty(), "written outside the dump: {outside:?}");
    let mut dumped = Vec::new();
    walk(&out, &mut dumped);
    assert!(dumped.iter().any(|p| p.ends_with("shop/pods.json")));
    assert!(dumped
        .iter()
        .all(|p| !p.to_string_lossy().contains("UPPER")));
}

#[test]
fn a_planted_symlink_at_the_kubeconfig_path_is_refused() {
    let (d, bundle) = fixture();
    let victim = d.path().join("bashrc");
    std::fs::write(&victim, "precious\n").expect("victim");
    let link = d.path().join("fixture.kubeconfig");
    std::os::unix::fs::symlink(&victim, &link).expect("plant");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let args = kpm_serve::ServeArgs {
        bundle: bundle.clone(),
        port: 0,
        kubeconfig: Some(link.clone()),
        page_size: None,
        latency_ms: None,
        cache_mib: 64,
        fail: vec![],
        no_apf: false,
        idle_timeout_ms: 1000,
        max_connections: 4,
        rbac: None,
    };
    let err = match rt.block_on(kpm_serve::start(args)) {
        Ok(_) => panic!("serve wrote through a planted symlink"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("not a regular file"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious\n"
    );
    assert!(std::fs::symlink_metadata(&link)
        .expect("link")
        .file_type()
        .is_symlink());
}

#[test]
fn default_kubeconfig_goes_to_a_private_directory() {
    use std::os::unix::fs::PermissionsExt;
    let (d, bundle) = fixture();
    let run_dir = d.path().join("run");
    std::fs::create_dir(&run_dir).expect("run dir");
    // A planted link beside the bundle, where old versions wrote.
    let beside = d.path().join("fixture.kubeconfig");
    std::os::unix::fs::symlink(d.path().join("victim"), &beside).expect("plant");
    let mut child = std::process::Command::new(kpm_e2e::bin("kpm-analyze"))
        .arg("serve")
        .arg(&bundle)
        .env("XDG_RUNTIME_DIR", &run_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut text = String::new();
    let mut buf = [0u8; 512];
    let started = Instant::now();
    while !text.contains("export KUBECONFIG=") && started.elapsed() < Duration::from_secs(60) {
        match stdout.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("export KUBECONFIG="))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| panic!("no export line in {text:?}"));
    assert!(path.starts_with(run_dir.join("kpm")), "{}", path.display());
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&run_dir.join("kpm")), 0o700);
    assert!(!d.path().join("victim").exists(), "wrote through the link");
}
