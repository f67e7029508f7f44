//! Real kubectl's discovery and `explain` against `kpm_serve`: aggregated
//! discovery answers in two requests with nothing on stderr, and `kubectl
//! explain` reads the generated OpenAPI documents offline.

use crate::support::serve::{rows, serve, write_fixture, Served};

fn fixture() -> (tempfile::TempDir, Served) {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = serve(&write_fixture(dir.path()), None, &[]);
    (dir, s)
}

/// The URL paths kubectl requested, from its `-v=6` log.
fn requested(stderr: &str, token: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains("\"Response\""))
        .filter_map(|l| {
            let url = l.split("url=\"").nth(1)?.split('"').next()?;
            let path = url.split(token).nth(1)?;
            Some(path.split('?').next().unwrap_or(path).to_string())
        })
        .collect()
}

#[test]
fn serve_api_resources_uses_aggregated_discovery_without_warnings() {
    let (_d, s) = fixture();
    let out = s.ok(&["api-resources", "-o", "wide"]);
    let lines = rows(&out);
    assert!(
        lines.contains(&"pods po v1 true Pod get,list,watch all".to_string()),
        "{out}"
    );
    assert!(
        lines
            .contains(&"deployments deploy apps/v1 true Deployment get,list,watch all".to_string()),
        "{out}"
    );
    // Two requests, the aggregated documents, and no per-group fallback.
    let run = s.kubectl(&["api-resources", "-v=6"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        requested(&run.stderr, &s.token),
        ["/api", "/apis"],
        "{}",
        run.stderr
    );
    // Everyday commands print nothing on stderr.
    s.ok(&["get", "all", "-A"]);
    s.ok(&["get", "deploy,svc,ing,hpa", "-A"]);
}

#[test]
fn serve_explain_works_offline() {
    let (_d, s) = fixture();
    let out = s.ok(&["explain", "pod.spec.containers.livenessProbe"]);
    let lines = rows(&out);
    assert_eq!(
        lines[..3],
        ["KIND: Pod", "VERSION: v1", "FIELD: livenessProbe <Probe>"],
        "{out}"
    );
    assert!(
        lines.contains(&"periodSeconds <integer>".to_string()),
        "{out}"
    );
    assert!(
        out.contains("Periodic probe of container liveness."),
        "{out}"
    );
    let out = s.ok(&["explain", "deployment.spec", "--recursive"]);
    let lines = rows(&out);
    assert_eq!(
        lines[..4],
        [
            "GROUP: apps",
            "KIND: Deployment",
            "VERSION: v1",
            "FIELD: spec <DeploymentSpec>"
        ],
        "{out}"
    );
    for field in [
        "replicas <integer>",
        "selector <LabelSelector> -required-",
        "template <PodTemplateSpec> -required-",
        "containers <[]Container> -required-",
        "livenessProbe <Probe>",
    ] {
        assert!(lines.contains(&field.to_string()), "{field}: {out}");
    }
    // The Swagger 2.0 form kubectl reads as protobuf.
    let out = s.ok(&[
        "explain",
        "pod.spec.containers.livenessProbe",
        "--output=plaintext-openapiv2",
    ]);
    let lines = rows(&out);
    assert!(
        lines.contains(&"RESOURCE: livenessProbe <Object>".to_string()),
        "{out}"
    );
    assert!(
        lines.contains(&"periodSeconds <integer>".to_string()),
        "{out}"
    );
    let err = s.fails(&["explain", "pod.spec.nosuchfield"]);
    assert_eq!(err.trim(), "error: field \"nosuchfield\" does not exist");
}
