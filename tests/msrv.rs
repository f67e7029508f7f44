//! The declared minimum Rust version is the one the dependency tree needs:
//! the root `Cargo.toml`'s `[workspace.package] rust-version` must be at
//! least the highest `rust_version` any dependency in `cargo metadata`
//! declares, every workspace package that declares one must declare that
//! one (`rust-version.workspace = true`), and the README must state it. A
//! dependency update that raises the bar fails here instead of on a user's
//! older toolchain.

use std::process::Command;

use serde_json::Value;

/// `1.89` / `1.89.0` → `(1, 89, 0)`; `None` for anything else.
fn parse(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.trim().split('.').map(str::parse::<u64>);
    let major = parts.next()?.ok()?;
    let minor = parts.next().unwrap_or(Ok(0)).ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    parts.next().is_none().then_some((major, minor, patch))
}

/// `cargo metadata` of the workspace (the locked resolve: every package a
/// build or test of the workspace compiles, on any platform).
fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(kpm_e2e::workspace_root())
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

/// `rust-version` of `[workspace.package]` in the root `Cargo.toml`.
fn workspace_rust_version() -> (u64, u64, u64) {
    let path = kpm_e2e::workspace_root().join("Cargo.toml");
    let text = std::fs::read_to_string(&path).expect("root Cargo.toml");
    let section = text
        .split_once("[workspace.package]")
        .map(|(_, rest)| rest.split("\n[").next().unwrap_or(""))
        .expect("Cargo.toml has [workspace.package]");
    let value = section
        .lines()
        .filter_map(|l| l.trim().strip_prefix("rust-version"))
        .filter_map(|l| l.trim().strip_prefix('='))
        .map(|v| v.trim().trim_matches('"').to_string())
        .next()
        .expect("[workspace.package] declares rust-version");
    parse(&value).unwrap_or_else(|| panic!("Cargo.toml: rust-version {value:?}"))
}

#[test]
fn declared_rust_version_covers_every_dependency() {
    let m = metadata();
    let members: Vec<&str> = m["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let packages = m["packages"].as_array().expect("packages");
    let version_of = |p: &Value| {
        let name = p["name"].as_str().unwrap_or("?");
        p["rust_version"].as_str().map(|v| {
            let parsed = parse(v).unwrap_or_else(|| panic!("{name}: rust_version {v:?}"));
            (
                parsed,
                format!("{name} {} needs {v}", p["version"].as_str().unwrap_or("?")),
            )
        })
    };
    let (needed, why) = packages
        .iter()
        .filter(|p| !members.contains(&p["id"].as_str().unwrap_or("")))
        .filter_map(version_of)
        .max()
        .expect("some dependency declares a rust_version");
    let declared = workspace_rust_version();
    assert!(
        declared >= needed,
        "Cargo.toml declares rust-version {declared:?}, lower than the dependency tree needs: {why}"
    );
    for p in packages
        .iter()
        .filter(|p| members.contains(&p["id"].as_str().unwrap_or("")))
    {
        if let Some((v, what)) = version_of(p) {
            assert_eq!(v, declared, "{what}: use rust-version.workspace = true");
        }
    }
    let (major, minor, _) = declared;
    let readme =
        std::fs::read_to_string(kpm_e2e::workspace_root().join("README.md")).expect("README.md");
    let stated = format!("Rust toolchain ({major}.{minor}+");
    assert!(
        readme.contains(&stated),
        "README.md does not say {stated:?} (the declared rust-version)"
    );
}

#[test]
fn versions_parse() {
    assert_eq!(parse("1.89"), Some((1, 89, 0)));
    assert_eq!(parse("1.88.0"), Some((1, 88, 0)));
    assert!(parse("1.89") > parse("1.88.9"));
    assert_eq!(parse("1.x"), None);
    assert_eq!(parse("1.2.3.4"), None);
}
