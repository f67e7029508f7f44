//! The kubeconfig that points kubectl at the snapshot server.
//!
//! Cluster, context and user are named after the bundle's cluster and
//! context, so `kubectl config current-context` tells which snapshot a shell
//! is looking at. Those names come from the bundle, i.e. from whoever sent
//! it: they are written as YAML double-quoted scalars with every character
//! outside printable ASCII escaped, and cut to 253 bytes, so no name can end
//! its scalar and add keys (a `token`, an `exec` plugin). The user carries
//! the per-run token the server requires ([`crate::guard`]), which is also
//! the first path segment of the `server` URL: kubectl sends no credentials
//! to a plain-HTTP server, but it does keep the URL's path.
//!
//! Where it is written: by default a private per-user directory
//! (`$XDG_RUNTIME_DIR/kpm/`, else `$XDG_CACHE_HOME/kpm/serve/` or
//! `~/.cache/kpm/serve/`, created 0700 and refused unless it is a directory
//! owned by the user and closed to others), never beside the bundle (a
//! bundle unpacked from a tar can ship a symlink there) and never at a
//! predictable shared path. Every write, default path or `--kubeconfig`,
//! goes to a fresh 0600 file created with `O_EXCL` in the target's directory
//! and is renamed over the target; a target that exists and is not a
//! regular file (a planted symlink, a directory, a FIFO) is refused and left
//! untouched.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use kpm_bundle::Manifest;

/// Longest cluster or context name written, in bytes (a DNS subdomain's
/// length; real context names, EKS ARNs included, are far shorter).
pub const MAX_NAME_BYTES: usize = 253;

/// Names used in the kubeconfig: (cluster, context), cut to
/// [`MAX_NAME_BYTES`].
pub fn names(manifest: &Manifest) -> (String, String) {
    let context = manifest
        .cluster
        .context
        .as_deref()
        .map(cut)
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "kpm-snapshot".to_string());
    let cluster = manifest
        .cluster
        .name
        .as_deref()
        .map(cut)
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| context.clone());
    (cluster, context)
}

fn cut(s: &str) -> String {
    let mut end = s.len().min(MAX_NAME_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// A YAML double-quoted scalar in which only printable ASCII appears as
/// itself: `"` and `\` are escaped, every other character as `\xXX`,
/// `\uXXXX` or `\UXXXXXXXX` (YAML 1.1/1.2 escapes that go-yaml reads), so
/// line breaks, NEL, BOM or bidi controls cannot end or disguise the
/// scalar.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// The kubeconfig text for a server at `server`
/// (`http://127.0.0.1:PORT/<token>`) that requires `token`.
pub fn render(manifest: &Manifest, server: &str, token: &str) -> String {
    let (cluster, context) = names(manifest);
    let (cluster, context, server, token) = (
        quote(&cluster),
        quote(&context),
        quote(server),
        quote(token),
    );
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {cluster}\n  \
           cluster:\n    \
             server: {server}\n\
         contexts:\n\
         - name: {context}\n  \
           context:\n    \
             cluster: {cluster}\n    \
             user: {context}\n\
         current-context: {context}\n\
         users:\n\
         - name: {context}\n  \
           user:\n    \
             token: {token}\n\
         preferences: {{}}\n"
    )
}

/// Why the kubeconfig could not be placed or written.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// No private directory could be found or made safe.
    #[error("no private directory for the kubeconfig: {0}; pass --kubeconfig FILE")]
    NoPrivateDir(String),
    /// Writing failed.
    #[error("cannot write kubeconfig {path}: {cause}")]
    Write {
        /// The kubeconfig path.
        path: PathBuf,
        /// What failed, already in the message (not a `source()`).
        cause: std::io::Error,
    },
}

fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

/// The private per-user directory the default kubeconfig goes to, created
/// 0700 when missing; refused when it is a symlink, not owned by the user
/// or open to others and not fixable.
pub fn private_dir() -> Result<PathBuf, KubeconfigError> {
    let dir = if let Some(run) = env_dir("XDG_RUNTIME_DIR").filter(|d| d.is_dir()) {
        run.join("kpm")
    } else if let Some(cache) = env_dir("XDG_CACHE_HOME") {
        cache.join("kpm").join("serve")
    } else if let Some(home) = env_dir("HOME") {
        home.join(".cache").join("kpm").join("serve")
    } else {
        return Err(KubeconfigError::NoPrivateDir(
            "$XDG_RUNTIME_DIR, $XDG_CACHE_HOME and $HOME are unset".into(),
        ));
    };
    ensure_private_dir(&dir)?;
    Ok(dir)
}

/// Makes sure `dir` is a real directory owned by this user with no access
/// for group or others (0700 when created here).
pub fn ensure_private_dir(dir: &Path) -> Result<(), KubeconfigError> {
    let refuse = |why: String| KubeconfigError::NoPrivateDir(format!("{}: {why}", dir.display()));
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => {}
        Err(e) => return Err(refuse(e.to_string())),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| refuse(e.to_string()))?;
    if !meta.file_type().is_dir() {
        return Err(refuse("not a directory (a symlink?)".into()));
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    if meta.uid() != uid {
        return Err(refuse(format!(
            "owned by uid {}, not by this user (uid {uid})",
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| refuse(format!("cannot make it private: {e}")))?;
    }
    Ok(())
}

/// Where the kubeconfig goes when `--kubeconfig` is not given:
/// `<private dir>/<bundle name>-<port>.kubeconfig`. The port keeps two
/// servers apart; the bundle name is reduced to `[A-Za-z0-9._-]`.
pub fn default_path(bundle: &Path, port: u16) -> Result<PathBuf, KubeconfigError> {
    Ok(private_dir()?.join(file_name(bundle, port)))
}

fn file_name(bundle: &Path, port: u16) -> String {
    let stem: String = bundle
        .components()
        .next_back()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let stem = stem.trim_start_matches('_');
    let stem = if stem.is_empty() { "bundle" } else { stem };
    format!("kpm-{stem}-{port}.kubeconfig")
}

/// Writes `text` to `path` as a fresh 0600 file: a temporary file created
/// with `O_EXCL` beside it, then renamed over it. An existing `path` that is
/// not a regular file is refused and left as it is.
pub fn write_private(path: &Path, text: &str) -> Result<(), KubeconfigError> {
    let fail = |source: std::io::Error| KubeconfigError::Write {
        path: path.to_path_buf(),
        cause: source,
    };
    let refuse_non_regular = || {
        match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => Err(fail(std::io::Error::new(
            ErrorKind::AlreadyExists,
            "it exists and is not a regular file (a symlink, a directory or a device); refusing to replace it",
        ))),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(fail(e)),
    }
    };
    refuse_non_regular()?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kubeconfig".into());
    let tmp = dir.join(format!(
        ".{base}.{}.tmp",
        crate::guard::random_hex(8).map_err(fail)?
    ));
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    // Checked again just before the rename, which replaces a link itself
    // and never writes through it.
    if let Err(e) = refuse_non_regular() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(context: Option<&str>, name: Option<&str>) -> Manifest {
        let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        Manifest {
            cluster: kpm_bundle::manifest::ClusterInfo {
                server_version: Some("v1.33.1".into()),
                context: context.map(str::to_string),
                name: name.map(str::to_string),
            },
            ..Manifest::new(("kpm-collect", "0.1.0"), epoch, epoch)
        }
    }

    #[test]
    fn names_follow_the_manifest() {
        assert_eq!(
            names(&manifest(Some("prod-eu"), None)),
            ("prod-eu".into(), "prod-eu".into())
        );
        assert_eq!(
            names(&manifest(Some("admin@prod"), Some("prod"))),
            ("prod".into(), "admin@prod".into())
        );
        assert_eq!(names(&manifest(None, None)).1, "kpm-snapshot");
    }

    #[test]
    fn file_name_is_reduced_to_a_safe_alphabet() {
        assert_eq!(
            file_name(Path::new("/x/incident-42/"), 8080),
            "kpm-incident-42-8080.kubeconfig"
        );
        assert_eq!(file_name(Path::new("b.zip"), 1), "kpm-b_zip-1.kubeconfig");
        assert_eq!(file_name(Path::new("../$(x)\n"), 2), "kpm-x__-2.kubeconfig");
        assert_eq!(file_name(Path::new(""), 3), "kpm-bundle-3.kubeconfig");
    }

    #[test]
    fn private_dir_is_created_0700_and_a_shared_one_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run").join("kpm");
        ensure_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // Ours but open to others: closed again.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        ensure_private_dir(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        // A symlink planted where the directory should be.
        let planted = tmp.path().join("planted");
        std::os::unix::fs::symlink(tmp.path(), &planted).unwrap();
        let err = ensure_private_dir(&planted).unwrap_err().to_string();
        assert!(err.contains("not a directory"), "{err}");
    }

    #[test]
    fn writes_0600_and_never_through_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k.kubeconfig");
        write_private(&path, "one").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one");
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        write_private(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let victim = tmp.path().join("bashrc");
        std::fs::write(&victim, "precious").unwrap();
        let link = tmp.path().join("l.kubeconfig");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = write_private(&link, "evil").unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn rendered_config_is_quoted() {
        let text = render(
            &manifest(Some("arn:aws:eks:eu-west-1:1:cluster/x"), None),
            "http://127.0.0.1:4567",
            "abc123",
        );
        assert!(text.contains("server: \"http://127.0.0.1:4567\""));
        assert!(text.contains("current-context: \"arn:aws:eks:eu-west-1:1:cluster/x\""));
        assert!(text.contains("\n  cluster:\n    server:"));
        assert!(text.contains("\n  user:\n    token: \"abc123\"\n"));
    }

    #[test]
    fn hostile_names_cannot_leave_their_scalar() {
        let hostile = "x\"\n  token: stolen\n  exec: {command: sh}\u{85}\u{2028}\u{1F600}\\";
        let text = render(&manifest(Some(hostile), None), "http://127.0.0.1:1", "t");
        // One line per key: nothing the name carried became a line.
        assert_eq!(text.lines().count(), 17, "{text}");
        assert!(text.is_ascii());
        // Every line starts with a key of ours: none is the name's.
        assert!(text
            .lines()
            .all(|l| !l.trim_start().starts_with("exec") && !l.contains("token: stolen\"")));
        assert!(quote(hostile).ends_with("\\U0001F600\\\\\""));
        assert!(quote(hostile).starts_with("\"x\\\"\\x0A"));
        let long = "a".repeat(10_000);
        assert_eq!(names(&manifest(Some(&long), None)).1.len(), MAX_NAME_BYTES);
    }
}
