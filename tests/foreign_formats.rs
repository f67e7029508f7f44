//! Other tools' captures as they are attached to tickets
//! (`../shared/corpus/foreign/`): every troubleshoot support bundle (archive
//! or folder) and the `kubectl cluster-info dump` open in `kpm-analyze` and
//! in `serve`, convert into bundles that `--verify` accepts, and give the
//! findings their kpm-layout counterparts (`../shared/corpus/kpm/`) give.
//! The damaged archive and a truncated one fail clearly with exit 3.
//!
//! Fails (never skips) when the corpus is missing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kpm_model::Report;

fn corpus() -> PathBuf {
    let dir = kpm_e2e::workspace_root().join("../shared/corpus");
    assert!(
        dir.join("foreign").is_dir() && dir.join("kpm").is_dir(),
        "the real-world corpus is missing at {}: these tests need it",
        dir.display()
    );
    dir
}

/// Each foreign sample and its kpm-layout counterpart (from the corpus
/// README's table), if it has one.
fn samples() -> Vec<(PathBuf, Option<PathBuf>)> {
    let c = corpus();
    let f = |p: &str| c.join("foreign").join(p);
    let k = |p: &str| Some(c.join("kpm").join(p));
    vec![
        (
            f("troubleshoot/k3d-k3s-1.24-2022.tar.gz"),
            k("k3d-restarts-recovered"),
        ),
        (f("troubleshoot/kurl-3node-2022"), k("kurl-velero-bad-args")),
        (
            f("troubleshoot/k3s-1.20-kots-dev-2021.tar.gz"),
            k("k3s-hostport-imagepull-hostpath"),
        ),
        (
            f("troubleshoot/k3s-1.33-llm-demo-2025-09"),
            k("k3s-cpu-pending-crashloop"),
        ),
        (
            f("troubleshoot/kind-1.33-llm-test-2025-08"),
            k("kind-crashloop-oom"),
        ),
        (
            f("troubleshoot/k3s-1.32-wg-easy-2025.tar.gz"),
            k("k3s-wg-easy-startup-noise"),
        ),
        (f("troubleshoot/k3s-1.31-baseline-2025.tar.gz"), None),
        (f("cluster-info-dump/aks-2020"), k("aks-tunnelfront-down")),
    ]
}

fn analyze(args: &[&Path]) -> Output {
    Command::new(kpm_e2e::bin("kpm-analyze"))
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("kpm-analyze runs: {e}"))
}

fn report(bundle: &Path) -> Report {
    let out = analyze(&[bundle]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}: exit {:?}\n{}",
        bundle.display(),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{}: report is not JSON: {e}", bundle.display()))
}

/// `(rule, object, severity)` of every finding: "same rules on the same
/// objects". An original can hold more than its layout-only counterpart:
/// kpm reads the ReplicaSets troubleshoot 0.121 wrote under
/// `statefulsets-errors.json/`, so a remark about a workload may name the
/// Deployment where the counterpart could only name its ReplicaSet; both
/// are written as the Deployment here.
fn findings(r: &Report) -> BTreeSet<(String, String, String)> {
    r.findings
        .iter()
        .map(|f| {
            (
                f.rule.clone(),
                owner_of_replicaset(&f.object.to_string()),
                f.severity.as_str().to_string(),
            )
        })
        .collect()
}

/// `ReplicaSet/ns/web-7c9d8f6b5` → `Deployment/ns/web` (the pod-template
/// hash suffix the Deployment controller appends).
fn owner_of_replicaset(object: &str) -> String {
    let Some(rest) = object.strip_prefix("ReplicaSet/") else {
        return object.to_string();
    };
    match rest.rsplit_once('-') {
        Some((deployment, hash))
            if (6..=10).contains(&hash.len())
                && hash.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            format!("Deployment/{deployment}")
        }
        _ => object.to_string(),
    }
}

#[test]
fn every_foreign_sample_gives_the_findings_of_its_counterpart() {
    for (sample, counterpart) in samples() {
        assert!(sample.exists(), "{} is missing", sample.display());
        let got = report(&sample);
        assert!(
            got.collection.steps_total > 0,
            "{}: no collection steps",
            sample.display()
        );
        if let Some(kpm) = counterpart {
            let want = report(&kpm);
            let (got, want) = (findings(&got), findings(&want));
            let only_foreign: Vec<_> = got.difference(&want).collect();
            let only_kpm: Vec<_> = want.difference(&got).collect();
            assert!(
                only_foreign.is_empty() && only_kpm.is_empty(),
                "{} vs {}:\n only from the original: {only_foreign:#?}\n only from the counterpart: {only_kpm:#?}",
                sample.display(),
                kpm.display()
            );
        }
    }
}

#[test]
fn converted_bundles_verify_and_record_their_source() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    for (i, (sample, _)) in samples().into_iter().enumerate() {
        let out_zip = dir.path().join(format!("converted-{i}.zip"));
        let out = Command::new(kpm_e2e::bin("kpm-analyze"))
            .arg("convert")
            .arg(&sample)
            .arg("-o")
            .arg(&out_zip)
            .output()
            .unwrap_or_else(|e| panic!("kpm-analyze convert runs: {e}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{}: {stderr}", sample.display());
        assert!(stderr.contains("converted from a "), "{stderr}");
        let bundle = kpm_bundle::Bundle::open(&out_zip)
            .unwrap_or_else(|e| panic!("{}: {e}", out_zip.display()));
        assert!(
            bundle.converted_from().is_none(),
            "a converted zip is a kpm bundle"
        );
        let manifest = bundle.manifest();
        assert!(manifest.tool.name.contains("converted by kpm"));
        assert!(
            manifest.steps.iter().any(|s| s.what == "conversion"
                && s.message
                    .as_deref()
                    .is_some_and(|m| m.contains("collection time"))),
            "{}: the manifest does not say where the collection time comes from",
            sample.display()
        );
        let damage = bundle.verify();
        assert!(damage.is_empty(), "{}: {damage:?}", out_zip.display());
        // --verify through the CLI: no damage listed.
        let verified = report_with(&out_zip, &["--verify"]);
        assert!(verified.damage.is_empty(), "{:?}", verified.damage);
        // Converting again refuses to overwrite without --force.
        let again = Command::new(kpm_e2e::bin("kpm-analyze"))
            .arg("convert")
            .arg(&sample)
            .arg("-o")
            .arg(&out_zip)
            .output()
            .unwrap_or_else(|e| panic!("kpm-analyze convert runs: {e}"));
        assert_ne!(again.status.code(), Some(0));
    }
}

fn report_with(bundle: &Path, extra: &[&str]) -> Report {
    let out = Command::new(kpm_e2e::bin("kpm-analyze"))
        .arg(bundle)
        .args(extra)
        .args(["--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("kpm-analyze runs: {e}"));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\n{}",
            bundle.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn damaged_captures_fail_clearly_with_exit_3() {
    let broken = corpus().join("foreign/troubleshoot/broken-missing-version.tar.gz");
    let out = analyze(&[&broken]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("cluster-resources/"),
        "names what was expected: {stderr}"
    );
    assert!(
        stderr.contains("analysis.json"),
        "names what was found: {stderr}"
    );

    // A truncated download of a good archive.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let good = corpus().join("foreign/troubleshoot/k3s-1.32-wg-easy-2025.tar.gz");
    let bytes = std::fs::read(&good).unwrap_or_else(|e| panic!("{}: {e}", good.display()));
    let truncated = dir.path().join("support-bundle.tar.gz");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap_or_else(|e| panic!("{e}"));
    let out = analyze(&[&truncated]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("support-bundle.tar.gz"), "{stderr}");

    // A folder that is neither format.
    let empty = dir.path().join("not-a-bundle");
    std::fs::create_dir(&empty).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(empty.join("notes.txt"), "hello").unwrap_or_else(|e| panic!("{e}"));
    let out = analyze(&[&empty]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("notes.txt"), "{stderr}");
}

/// `kubectl get pods -A -o wide`, `get events -A`, `describe` and `logs
/// --previous` print the same against `serve` of a troubleshoot archive as
/// against its kpm counterpart.
#[test]
fn kubectl_sees_a_troubleshoot_archive_as_its_counterpart() {
    let c = corpus();
    let archive = c.join("foreign/troubleshoot/k3d-k3s-1.24-2022.tar.gz");
    let kpm = c.join("kpm/k3d-restarts-recovered");
    let a = crate::support::serve::serve(&archive, None, &[]);
    let b = crate::support::serve::serve(&kpm, None, &[]);
    for args in [
        &["get", "pods", "-A", "-o", "wide"][..],
        &["get", "events", "-A"],
        &["get", "nodes"],
        &["get", "svc", "-A"],
        &[
            "-n",
            "kube-system",
            "describe",
            "pod",
            "coredns-b96499967-tncf4",
        ],
        &[
            "-n",
            "kube-system",
            "logs",
            "coredns-b96499967-tncf4",
            "--previous",
        ],
        &[
            "-n",
            "default",
            "logs",
            "nginx-deployment-7986654d4-ztx2g",
            "-c",
            "nginx",
        ],
    ] {
        let (x, y) = (a.kubectl(args), b.kubectl(args));
        assert_eq!(
            x.code, y.code,
            "kubectl {args:?}: {}\n{}",
            x.stderr, y.stderr
        );
        assert_eq!(x.stdout, y.stdout, "kubectl {args:?}");
        assert!(
            !x.stdout.is_empty() || x.code != Some(0),
            "kubectl {args:?} printed nothing"
        );
    }
}

/// `kpm-analyze serve INPUT` run as a user runs it: the binary, its default
/// private kubeconfig directory (`$XDG_RUNTIME_DIR/kpm/`), and kubectl
/// pointed at it only through the `export KUBECONFIG=…` line it printed.
/// The child is killed when this is dropped.
struct CliServe {
    child: std::process::Child,
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for CliServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `kpm-analyze serve input` and reads its stdout until it says how
/// to use it; panics with its stderr when it exits first.
fn cli_serve(input: &Path) -> CliServe {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let run_dir = dir.path().join("run");
    std::fs::create_dir(&run_dir).unwrap_or_else(|e| panic!("{e}"));
    let stderr_path = dir.path().join("serve.stderr");
    let stderr = std::fs::File::create(&stderr_path).unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(kpm_e2e::bin("kpm-analyze"))
        .arg("serve")
        .arg(input)
        .env("XDG_RUNTIME_DIR", &run_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("kpm-analyze serve starts: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut printed = String::new();
    let mut lines = std::io::BufReader::new(stdout);
    while !printed.contains("export KUBECONFIG=") {
        let mut line = String::new();
        match lines.read_line(&mut line) {
            Ok(0) | Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "kpm-analyze serve {} ended ({status:?}) before printing how to use it:\n{printed}\n{}",
                    input.display(),
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            }
            Ok(_) => printed.push_str(&line),
        }
    }
    let kubeconfig = printed
        .lines()
        .find_map(|l| l.strip_prefix("export KUBECONFIG="))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no export line in {printed:?}"));
    assert!(
        kubeconfig.starts_with(run_dir.join("kpm")),
        "the kubeconfig is in the private directory: {}",
        kubeconfig.display()
    );
    CliServe {
        child,
        kubeconfig,
        dir,
    }
}

impl CliServe {
    /// kubectl with `KUBECONFIG` as printed (no `--kubeconfig` flag).
    fn kubectl(&self, args: &[&str]) -> crate::support::serve::Run {
        let out = Command::new(kpm_e2e::kubectl())
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("kubectl runs: {e}"));
        crate::support::serve::Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The per-run token, from the server URL the kubeconfig names
    /// (`http://127.0.0.1:PORT/<token>`).
    fn token(&self) -> String {
        let text = std::fs::read_to_string(&self.kubeconfig)
            .unwrap_or_else(|e| panic!("{}: {e}", self.kubeconfig.display()));
        text.lines()
            .find_map(|l| l.trim().strip_prefix("server: "))
            .map(|s| s.trim_matches('"'))
            .and_then(|url| url.strip_prefix("http://"))
            .and_then(|rest| rest.split_once('/'))
            .map(|(_, token)| token.to_string())
            .unwrap_or_else(|| panic!("no server URL with a token in {text}"))
    }
}

/// What kubectl prints against the CLI `serve` of `foreign` equals what it
/// prints against the in-process server of its kpm counterpart, for each
/// command; and the token flow holds: the printed kubeconfig is private,
/// a request without the token is refused, `get --raw /<token>/…` works.
///
/// With `ages_estimated` (a capture that records no collection time, whose
/// estimate need not be the counterpart's), relative times ("4m30s",
/// "3d10h") are compared as placeholders; everything else exactly.
fn same_through_the_cli(foreign: &Path, kpm: &Path, ages_estimated: bool, commands: &[&[&str]]) {
    let a = cli_serve(foreign);
    let said = std::fs::read_to_string(a.dir.path().join("serve.stderr")).unwrap_or_default();
    assert!(
        said.contains(&format!("{}: served read-only at", foreign.display())),
        "{said}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&a.kubeconfig)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mode, 0o600, "{}", a.kubeconfig.display());
    let b = crate::support::serve::serve(kpm, None, &[]);
    for args in commands {
        let (x, y) = (a.kubectl(args), b.kubectl(args));
        assert_eq!(
            x.code, y.code,
            "kubectl {args:?}: {}\n{}",
            x.stderr, y.stderr
        );
        if ages_estimated {
            assert_eq!(
                without_ages(&x.stdout),
                without_ages(&y.stdout),
                "kubectl {args:?}"
            );
        } else {
            assert_eq!(x.stdout, y.stdout, "kubectl {args:?}");
        }
        assert_eq!(x.stderr, y.stderr, "kubectl {args:?}");
        assert!(
            !x.stdout.is_empty() || !x.stderr.is_empty(),
            "kubectl {args:?} printed nothing"
        );
    }
    let without = a.kubectl(&["get", "--raw", "/api/v1/namespaces/kube-system/pods"]);
    assert_ne!(without.code, Some(0), "served without the token");
    let token = a.token();
    let with = a.kubectl(&[
        "get",
        "--raw",
        &format!("/{token}/api/v1/namespaces/kube-system/pods"),
    ]);
    assert_eq!(with.code, Some(0), "{}", with.stderr);
    assert!(with.stdout.contains("\"PodList\""), "{}", with.stdout);
}

/// Rows of kubectl output (spaces collapsed) with every relative time
/// (`12d`, `3d10h`, `(4m30s ago)`) replaced by `?`.
fn without_ages(text: &str) -> Vec<String> {
    let is_age = |w: &str| {
        w.starts_with(|c: char| c.is_ascii_digit())
            && w.ends_with(|c: char| "smhdy".contains(c))
            && w.chars().all(|c| c.is_ascii_digit() || "smhdy".contains(c))
    };
    crate::support::serve::rows(text)
        .into_iter()
        .map(|row| {
            row.split(' ')
                .map(|word| {
                    let core = word.trim_matches(|c| c == '(' || c == ')' || c == ',');
                    if is_age(core) {
                        word.replace(core, "?")
                    } else {
                        word.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The CLI `serve` of a troubleshoot archive answers `get pods -A -o wide`,
/// `describe`, `logs --previous` and `get events` as its counterpart does.
#[test]
fn the_serve_command_serves_a_troubleshoot_archive() {
    let c = corpus();
    same_through_the_cli(
        &c.join("foreign/troubleshoot/k3d-k3s-1.24-2022.tar.gz"),
        &c.join("kpm/k3d-restarts-recovered"),
        false,
        &[
            &["get", "pods", "-A", "-o", "wide"],
            &["get", "events", "-A"],
            &[
                "-n",
                "kube-system",
                "describe",
                "pod",
                "coredns-b96499967-tncf4",
            ],
            &[
                "-n",
                "kube-system",
                "logs",
                "coredns-b96499967-tncf4",
                "--previous",
            ],
        ],
    );
}

/// The CLI `serve` of a `kubectl cluster-info dump` folder: the same
/// objects as its counterpart; its logs were never fetched (every
/// `logs.txt` holds a `Request log error`) and it has no previous logs,
/// so `logs --previous` of a restarting container fails as it does on the
/// counterpart, which has no logs at all. The dump records no collection
/// time and the counterpart's was chosen by hand (4 s later than the
/// converter's estimate), so relative times are not compared.
#[test]
fn the_serve_command_serves_a_cluster_info_dump() {
    let c = corpus();
    same_through_the_cli(
        &c.join("foreign/cluster-info-dump/aks-2020"),
        &c.join("kpm/aks-tunnelfront-down"),
        true,
        &[
            &["get", "pods", "-A", "-o", "wide"],
            &["get", "events", "-A"],
            &["get", "nodes"],
            &[
                "-n",
                "kube-system",
                "describe",
                "pod",
                "tunnelfront-6869944cf6-j2zsk",
            ],
            &[
                "-n",
                "kube-system",
                "logs",
                "tunnelfront-6869944cf6-j2zsk",
                "--previous",
            ],
            &["-n", "kube-system", "logs", "tunnelfront-6869944cf6-j2zsk"],
        ],
    );
}

/// `kpm-analyze serve` of the damaged archive exits 3 with the message
/// `kpm-analyze` gives for it.
#[test]
fn serve_of_a_damaged_archive_exits_3_with_the_same_message() {
    let broken = corpus().join("foreign/troubleshoot/broken-missing-version.tar.gz");
    let analysed = analyze(&[&broken]);
    let served = Command::new(kpm_e2e::bin("kpm-analyze"))
        .arg("serve")
        .arg(&broken)
        .output()
        .unwrap_or_else(|e| panic!("kpm-analyze serve runs: {e}"));
    let stderr = String::from_utf8_lossy(&served.stderr);
    assert_eq!(served.status.code(), Some(3), "{stderr}");
    assert!(served.stdout.is_empty(), "printed a kubeconfig for nothing");
    // The reason kpm-analyze gives (after its own prefix) is in serve's.
    let reason = String::from_utf8_lossy(&analysed.stderr);
    let reason = reason
        .lines()
        .find(|l| l.contains("cluster-resources/"))
        .and_then(|l| l.split_once(&*broken.display().to_string()).map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no reason in {reason}"));
    assert!(stderr.contains(reason), "{stderr}\nlacks{reason}");
}

/// `kubectl cluster-info dump -o yaml --output-directory`: the corpus's
/// AKS dump written as kubectl writes it with `-o yaml` (every list as
/// YAML in `<name>.yaml`, the `logs.txt` files as they are), in a temporary
/// folder, gives the findings and the objects of the JSON dump.
#[test]
fn a_yaml_cluster_info_dump_reads_as_the_json_one() {
    let json_dump = corpus().join("foreign/cluster-info-dump/aks-2020");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let yaml_dump = dir.path().join("aks-2020-yaml");
    let mut lists = 0;
    copy_as_yaml(&json_dump, &yaml_dump, &mut lists);
    assert!(lists > 10, "only {lists} lists written as YAML");
    let (want, got) = (report(&json_dump), report(&yaml_dump));
    assert!(!want.findings.is_empty());
    assert_eq!(findings(&got), findings(&want));
    let (a, b) = (open(&json_dump), open(&yaml_dump));
    assert_eq!(
        a.converted_from(),
        Some(kpm_bundle::foreign::Format::ClusterInfoDump)
    );
    assert_eq!(b.converted_from(), a.converted_from());
    let entries = |bundle: &kpm_bundle::Bundle| -> BTreeSet<String> {
        bundle
            .entries()
            .filter(|e| *e != "manifest.json")
            .map(str::to_string)
            .collect()
    };
    // The same files, but for the replication controllers kept under
    // `foreign/` by their own names (`.yaml` here).
    let renamed: BTreeSet<String> = entries(&b)
        .into_iter()
        .map(|e| {
            match e
                .strip_prefix("foreign/")
                .and_then(|r| r.strip_suffix(".yaml"))
            {
                Some(stem) => format!("foreign/{stem}.json"),
                None => e,
            }
        })
        .collect();
    assert_eq!(renamed, entries(&a));
    let kpm_lists = entries(&a);
    let kpm_lists = kpm_lists.iter().filter(|e| !e.starts_with("foreign/"));
    for entry in kpm_lists.filter(|e| e.ends_with(".json")) {
        let value = |bundle: &kpm_bundle::Bundle| -> serde_json::Value {
            let bytes = bundle
                .read_bytes(entry)
                .unwrap_or_else(|e| panic!("{entry}: {e}"));
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{entry}: {e}"))
        };
        assert_eq!(value(&b), value(&a), "{entry}");
    }
}

fn open(path: &Path) -> kpm_bundle::Bundle {
    kpm_bundle::Bundle::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Copies the dump at `from` to `to`, every `*.json` list written as YAML
/// under `*.yaml` (as `kubectl cluster-info dump -o yaml` names them).
fn copy_as_yaml(from: &Path, to: &Path, lists: &mut usize) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    let children = std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    for child in children {
        let child = child.unwrap_or_else(|e| panic!("{e}"));
        let path = child.path();
        let name = child.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            copy_as_yaml(&path, &to.join(&name), lists);
        } else if let Some(stem) = name.strip_suffix(".json") {
            let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
            let value: serde_json::Value =
                serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let yaml = serde_saphyr::to_string(&value)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!yaml.trim_start().starts_with('{'), "block YAML expected");
            std::fs::write(to.join(format!("{stem}.yaml")), yaml).unwrap_or_else(|e| panic!("{e}"));
            *lists += 1;
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// The kubelet Summaries in a troubleshoot archive's `node-metrics/`, read
/// straight from the archive: `(node, usageNanoCores, workingSetBytes)` and
/// per pod `((namespace, name), (sum of its containers' nanocores, bytes))`
/// over the pods whose every container has both figures.
type Summaries = (
    Vec<(String, u64, u64)>,
    std::collections::BTreeMap<(String, String), (u64, u64)>,
);

fn node_summaries(archive: &Path) -> Summaries {
    let file = std::fs::File::open(archive).unwrap_or_else(|e| panic!("{e}"));
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let (mut nodes, mut pods) = (Vec::new(), std::collections::BTreeMap::new());
    for entry in tar.entries().unwrap_or_else(|e| panic!("{e}")) {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let path = entry.path().unwrap_or_else(|e| panic!("{e}")).into_owned();
        if path.parent().and_then(Path::file_name) != Some("node-metrics".as_ref()) {
            continue;
        }
        let s: serde_json::Value =
            serde_json::from_reader(entry).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let n = |v: &serde_json::Value, p: &str| v.pointer(p).and_then(serde_json::Value::as_u64);
        let node = &s["node"];
        nodes.push((
            node["nodeName"].as_str().unwrap_or_default().to_string(),
            n(node, "/cpu/usageNanoCores").unwrap_or_else(|| panic!("no node cpu")),
            n(node, "/memory/workingSetBytes").unwrap_or_else(|| panic!("no node memory")),
        ));
        for pod in s["pods"].as_array().into_iter().flatten() {
            let containers = pod["containers"].as_array().cloned().unwrap_or_default();
            let figures: Option<Vec<(u64, u64)>> = containers
                .iter()
                .map(|c| {
                    Some((
                        n(c, "/cpu/usageNanoCores")?,
                        n(c, "/memory/workingSetBytes")?,
                    ))
                })
                .collect();
            let Some(figures) = figures.filter(|f| !f.is_empty()) else {
                continue;
            };
            let key = (
                pod["podRef"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                pod["podRef"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
            let sum = figures
                .iter()
                .fold((0, 0), |(c, m), (dc, dm)| (c + dc, m + dm));
            pods.insert(key, sum);
        }
    }
    (nodes, pods)
}

/// `kubectl top` against `serve` of a troubleshoot archive with
/// `node-metrics/` prints each node's and pod's usage from the kubelet
/// Summaries (CPU in millicores rounded up, memory in MiB rounded down, as
/// kubectl prints quantities), and the analyzer reads them (no "no node
/// metrics" gap in its coverage). The archives without `node-metrics/`
/// have no metrics API, as before.
#[test]
fn troubleshoot_node_metrics_are_what_kubectl_top_shows() {
    let c = corpus();
    let mut checked_pods = 0;
    for name in [
        "k3s-1.32-wg-easy-2025.tar.gz",
        "k3s-1.31-baseline-2025.tar.gz",
    ] {
        let archive = c.join("foreign/troubleshoot").join(name);
        let (nodes, pods) = node_summaries(&archive);
        assert!(!nodes.is_empty(), "{name}: no node-metrics in the archive");
        let served = crate::support::serve::serve(&archive, None, &[]);
        let top = served.kubectl(&["top", "node", "--no-headers"]);
        assert_eq!(top.code, Some(0), "{name}: {}", top.stderr);
        // NAME CPU(cores) CPU(%) MEMORY(bytes) MEMORY(%)
        let rows = crate::support::serve::rows(&top.stdout);
        for (node, nanos, bytes) in &nodes {
            let want = [
                node.clone(),
                format!("{}m", nanos.div_ceil(1_000_000)),
                format!("{}Mi", bytes / (1 << 20)),
            ];
            let found = rows.iter().any(|r| {
                let w: Vec<&str> = r.split(' ').collect();
                w.len() == 5 && [w[0], w[1], w[3]] == [&want[0], &want[1], &want[2]]
            });
            assert!(found, "{name}: no {want:?} in\n{}", top.stdout);
        }
        let top = served.kubectl(&["top", "pod", "-A", "--no-headers"]);
        assert_eq!(top.code, Some(0), "{name}: {}", top.stderr);
        let rows = crate::support::serve::rows(&top.stdout);
        assert_eq!(rows.len(), pods.len(), "{name}:\n{}", top.stdout);
        for ((ns, pod), (nanos, bytes)) in &pods {
            let row = format!(
                "{ns} {pod} {}m {}Mi",
                nanos.div_ceil(1_000_000),
                bytes / (1 << 20)
            );
            assert!(rows.contains(&row), "{name}: no `{row}` in\n{}", top.stdout);
            checked_pods += 1;
        }
        let gaps = top_gaps(&report(&archive));
        assert!(
            gaps.is_empty(),
            "{name}: the analyzer misses metrics: {gaps:?}"
        );
    }
    assert!(checked_pods > 5, "only {checked_pods} pods checked");
    let without = c.join("foreign/troubleshoot/k3d-k3s-1.24-2022.tar.gz");
    let served = crate::support::serve::serve(&without, None, &[]);
    let top = served.kubectl(&["top", "node"]);
    assert_ne!(top.code, Some(0), "metrics from nowhere: {}", top.stdout);
    assert_eq!(top_gaps(&report(&without)).len(), 2);
}

/// The coverage gaps of the usage checks (`kubectl top` node and pods).
fn top_gaps(r: &Report) -> Vec<String> {
    r.coverage
        .iter()
        .filter(|g| g.check.contains("kubectl top"))
        .map(|g| format!("{}: {}", g.check, g.reason))
        .collect()
}

/// `(namespace, name)` of every item in the troubleshoot list files at
/// `cluster-resources/<name>/*.json` (namespaced) or `<name>.json`.
fn troubleshoot_items(folder: &Path, name: &str) -> BTreeSet<(String, String)> {
    let dir = folder.join("cluster-resources");
    let files: Vec<PathBuf> = if dir.join(name).is_dir() {
        std::fs::read_dir(dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .map(|e| e.unwrap_or_else(|e| panic!("{e}")).path())
            .collect()
    } else {
        vec![dir.join(format!("{name}.json"))]
    };
    let mut items = BTreeSet::new();
    for file in files {
        let text = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let list: serde_json::Value =
            serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for item in list["items"].as_array().into_iter().flatten() {
            let meta = &item["metadata"];
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            items.insert((text(&meta["namespace"]), text(&meta["name"])));
        }
    }
    items
}

/// The kinds around the workloads (#18) a troubleshoot capture holds are
/// what kubectl lists against `serve` of it: NetworkPolicies, StorageClasses
/// and PriorityClasses item for item, empty CronJob / quota / LimitRange /
/// VolumeAttachment lists as empty (exit 0, not "not collected"); PDBs, whose listing
/// failed in the capture (`pod-disruption-budgets-errors.json`), and webhook
/// configurations, which troubleshoot never collects, as not collected.
#[test]
fn kubectl_lists_the_kinds_around_the_workloads_of_a_troubleshoot_capture() {
    let folder = corpus().join("foreign/troubleshoot/kind-1.33-llm-test-2025-08");
    let served = crate::support::serve::serve(&folder, None, &[]);
    let columns = "custom-columns=NS:.metadata.namespace,NAME:.metadata.name";
    for (resource, name) in [
        ("networkpolicies", "network-policy"),
        ("storageclasses", "storage-classes"),
        ("priorityclasses", "priorityclasses"),
        ("cronjobs", "cronjobs"),
        ("resourcequotas", "resource-quota"),
        ("limitranges", "limitranges"),
        ("volumeattachments", "volumeattachments"),
    ] {
        let want = troubleshoot_items(&folder, name);
        let run = served.kubectl(&["get", resource, "-A", "-o", columns, "--no-headers"]);
        assert_eq!(run.code, Some(0), "{resource}: {}", run.stderr);
        let got: BTreeSet<(String, String)> = run
            .stdout
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(ns, n)| (ns.replace("<none>", ""), n.trim().to_string()))
            .collect();
        assert_eq!(got, want, "{resource}");
    }
    assert_eq!(
        troubleshoot_items(&folder, "network-policy").len(),
        2,
        "the capture's NetworkPolicies"
    );
    for resource in ["poddisruptionbudgets", "validatingwebhookconfigurations"] {
        let stderr = served.fails(&["get", resource, "-A"]);
        assert!(
            stderr.contains("was not collected in this snapshot"),
            "{stderr}"
        );
    }
    let describe = served.ok(&["describe", "storageclass", "standard"]);
    assert!(describe.contains("rancher.io/local-path"), "{describe}");
}

/// A 2022 archive (troubleshoot v0.50) named the quota folder
/// `resource-quotas` and listed PDBs as `policy/v1beta1`: both read as
/// collected (empty), not as missing.
#[test]
fn an_old_troubleshoot_archive_lists_quotas_and_pdbs() {
    let archive = corpus().join("foreign/troubleshoot/k3d-k3s-1.24-2022.tar.gz");
    let served = crate::support::serve::serve(&archive, None, &[]);
    for resource in ["resourcequotas", "poddisruptionbudgets", "cronjobs"] {
        let run = served.kubectl(&["get", resource, "-A"]);
        assert_eq!(run.code, Some(0), "{resource}: {}", run.stderr);
        assert!(run.stderr.contains("No resources found"), "{resource}");
    }
    let classes = served.ok(&["get", "storageclasses", "-o", "name"]);
    assert_eq!(classes.trim(), "storageclass.storage.k8s.io/local-path");
}
