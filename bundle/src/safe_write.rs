//! Writing an output file without following a planted link.
//!
//! kpm writes files next to things strangers send (reports next to a bundle,
//! `serve`'s kubeconfig, collector output). A path there may already exist as
//! a symlink to `~/.bashrc`, a fifo that blocks the writer forever, or a
//! directory. [`create_new_or_replace`] never opens the target path itself:
//! it writes a private temporary file (created with `O_EXCL`, mode 0600, a
//! random name) in the same directory and renames it over the target, so the
//! file is either the old one or the complete new one, and a symlink at the
//! target is refused beforehand (and, if planted after the check, replaced by
//! the rename rather than followed).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why an output file was not written. Every variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum SafeWriteError {
    /// The target exists and is not a regular file.
    #[error("refusing to write {}: it exists and is a {what}, not a regular file", path.display())]
    NotRegularFile {
        /// The target path.
        path: PathBuf,
        /// `symlink`, `directory`, `fifo`, `socket`, `device`...
        what: &'static str,
    },
    /// The target path names no file (`/`, `..`).
    #[error("cannot write {}: the path does not name a file", path.display())]
    NoFileName {
        /// The target path.
        path: PathBuf,
    },
    /// Creating, writing, flushing or renaming failed.
    #[error("cannot {action} {}: {cause}", path.display())]
    Io {
        /// What was being done (`create a temporary file in`, `write`...).
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The I/O error, already in the message (not a `source()`, so an
        /// error chain says it once).
        cause: std::io::Error,
    },
}

/// What kind of non-regular file `meta` describes.
fn kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_symlink() {
        return "symlink";
    }
    if t.is_dir() {
        return "directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "fifo";
        }
        if t.is_socket() {
            return "socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "device";
        }
    }
    "special file"
}

/// Refuses a target that exists and is not a regular file (a symlink is
/// judged itself, never what it points to).
pub fn check_target(path: &Path) -> Result<(), SafeWriteError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => Ok(()),
        Ok(meta) => Err(SafeWriteError::NotRegularFile {
            path: path.to_path_buf(),
            what: kind(&meta),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SafeWriteError::Io {
            action: "inspect",
            path: path.to_path_buf(),
            cause: source,
        }),
    }
}

/// Writes `bytes` to `path` atomically and without following links: a new
/// file is created with mode 0600 (reports and kubeconfigs hold cluster
/// data); an existing regular file is replaced and keeps its permissions; an
/// existing symlink, directory, fifo or other special file is refused with
/// [`SafeWriteError::NotRegularFile`].
pub fn create_new_or_replace(path: &Path, bytes: &[u8]) -> Result<(), SafeWriteError> {
    check_target(path)?;
    if path.file_name().is_none() {
        return Err(SafeWriteError::NoFileName {
            path: path.to_path_buf(),
        });
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let io = |action: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| SafeWriteError::Io {
            action,
            path: p,
            cause: source,
        }
    };
    // tempfile creates with O_EXCL and mode 0600 under a random name, and
    // removes the file if anything below fails.
    let mut tmp = tempfile::Builder::new()
        .prefix(".kpm-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io("create a temporary file in", dir))?;
    tmp.write_all(bytes).map_err(io("write", tmp.path()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        // Replacing a regular file (checked above): keep the mode its owner
        // chose. A race that swapped it meanwhile only loses that nicety.
        if meta.file_type().is_file() {
            let _ = tmp.as_file().set_permissions(meta.permissions());
        }
    }
    tmp.as_file().sync_all().map_err(io("flush", tmp.path()))?;
    tmp.persist(path).map_err(|e| SafeWriteError::Io {
        action: "rename the temporary file onto",
        path: path.to_path_buf(),
        cause: e.error,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".kpm-"))
            .collect()
    }

    #[test]
    fn creates_then_replaces_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report.html");
        create_new_or_replace(&out, b"one").unwrap();
        create_new_or_replace(&out, b"two").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"two");
        assert!(leftovers(dir.path()).is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&out).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
            create_new_or_replace(&out, b"three").unwrap();
            let mode = std::fs::metadata(&out).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_symlink_and_leaves_its_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("bashrc");
        std::fs::write(&victim, b"original").unwrap();
        let link = dir.path().join("incident.kubeconfig");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = create_new_or_replace(&link, b"evil").unwrap_err();
        assert!(matches!(
            err,
            SafeWriteError::NotRegularFile {
                what: "symlink",
                ..
            }
        ));
        assert!(err.to_string().contains("incident.kubeconfig"), "{err}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"original");
        // A dangling link is refused too: writing would create its target.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(create_new_or_replace(&dangling, b"x").is_err());
        assert!(!dir.path().join("nowhere").exists());
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn refuses_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let err = create_new_or_replace(dir.path(), b"x").unwrap_err();
        assert!(matches!(
            err,
            SafeWriteError::NotRegularFile {
                what: "directory",
                ..
            }
        ));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_fifo_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("report.md");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo failed");
        let err = create_new_or_replace(&fifo, b"x").unwrap_err();
        assert!(matches!(
            err,
            SafeWriteError::NotRegularFile { what: "fifo", .. }
        ));
        assert!(err.to_string().contains("report.md"));
    }

    #[test]
    fn missing_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("no/such/dir/report.json");
        let err = create_new_or_replace(&out, b"x").unwrap_err();
        assert!(err.to_string().contains("no/such/dir"), "{err}");
    }
}
