//! Streaming bundle writer.
//!
//! Entries are streamed straight into the zip (or files of a directory) while
//! their SHA-256 is computed, so memory does not grow with cluster size. The
//! manifest is written last, with the digests of everything before it, and a
//! zip is written under a temporary name and renamed into place only once it
//! is complete: a half-written bundle never masquerades as a finished one.
//! The temporary file is created new (`O_EXCL`, mode 0600, a random name in
//! the destination's directory), and a destination that exists and is not a
//! regular file (a planted symlink, a fifo) is refused: a bundle is never
//! written through a link.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::ZipWriter;

use crate::error::{BundleError, Result};
use crate::file_index::FileIndex;
use crate::layout::{self, is_safe_entry_path};
use crate::manifest::{FileRecord, Manifest, Step, StreamedManifest};

enum Sink {
    Zip {
        // Boxed: the zip writer is large and the directory variant is tiny.
        zip: Box<ZipWriter<BufWriter<File>>>,
        /// Removed when the writer is dropped before `finish`.
        temp: tempfile::TempPath,
        dest: PathBuf,
    },
    Dir {
        root: PathBuf,
    },
}

/// How the entries of a zip bundle are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Deflate at a fast level: bundles that are kept and sent.
    #[default]
    Deflated,
    /// Not compressed: a private temporary bundle read once and deleted
    /// (a converted foreign capture), where deflating and inflating again
    /// cost more time than the disk they save.
    Stored,
}

impl Compression {
    fn method(self) -> zip::CompressionMethod {
        match self {
            Compression::Deflated => zip::CompressionMethod::Deflated,
            Compression::Stored => zip::CompressionMethod::Stored,
        }
    }

    fn level(self, deflated: i64) -> Option<i64> {
        match self {
            Compression::Deflated => Some(deflated),
            Compression::Stored => None,
        }
    }
}

/// Writes one bundle, entry by entry. Call [`BundleWriter::finish`] to write
/// the manifest and make the bundle visible under its final name.
pub struct BundleWriter {
    sink: Sink,
    files: FileIndex,
    compression: Compression,
}

fn write_err(path: impl AsRef<Path>, source: std::io::Error) -> BundleError {
    BundleError::Write {
        path: path.as_ref().display().to_string(),
        cause: source,
    }
}

fn zip_err(path: &Path, err: zip::result::ZipError) -> BundleError {
    match err {
        zip::result::ZipError::Io(source) => write_err(path, source),
        other => write_err(path, std::io::Error::other(other.to_string())),
    }
}

impl BundleWriter {
    /// Starts a zip bundle at `dest`. Refuses to replace an existing file
    /// unless `overwrite`. The zip is written to `<dest>.partial` until
    /// [`BundleWriter::finish`].
    pub fn create_zip(dest: impl Into<PathBuf>, overwrite: bool) -> Result<BundleWriter> {
        let dest = dest.into();
        if dest.exists() && !overwrite {
            return Err(BundleError::AlreadyExists { path: dest });
        }
        crate::safe_write::check_target(&dest)
            .map_err(|e| write_err(&dest, std::io::Error::other(e)))?;
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (file, temp) = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".partial")
            .tempfile_in(dir)
            .map_err(|e| write_err(dir, e))?
            .into_parts();
        let zip = Box::new(ZipWriter::new(BufWriter::with_capacity(256 * 1024, file)));
        Ok(BundleWriter {
            sink: Sink::Zip { zip, temp, dest },
            files: FileIndex::default(),
            compression: Compression::default(),
        })
    }

    /// Starts an unpacked bundle in directory `root` (as `testdata/` stores
    /// them). An existing directory is emptied first when `overwrite`.
    pub fn create_dir(root: impl Into<PathBuf>, overwrite: bool) -> Result<BundleWriter> {
        let root = root.into();
        if root.exists() {
            if !overwrite {
                return Err(BundleError::AlreadyExists { path: root });
            }
            fs::remove_dir_all(&root).map_err(|e| write_err(&root, e))?;
        }
        fs::create_dir_all(&root).map_err(|e| write_err(&root, e))?;
        Ok(BundleWriter {
            sink: Sink::Dir { root },
            files: FileIndex::default(),
            compression: Compression::default(),
        })
    }

    /// Sets how the zip's entries are compressed (no effect on a
    /// directory bundle); [`Compression::Deflated`] unless set.
    pub fn with_compression(mut self, compression: Compression) -> BundleWriter {
        self.compression = compression;
        self
    }

    /// Starts streaming one entry. Only one entry can be open at a time; it is
    /// recorded when [`EntryWriter::finish`] is called.
    pub fn start_entry(&mut self, path: &str) -> Result<EntryWriter<'_>> {
        self.start_entry_sized(path, None)
    }

    /// [`BundleWriter::start_entry`] for an entry of a known size. An entry
    /// known to stay under 4 GiB is written without the Zip64 extra field,
    /// which the zip writer would otherwise keep in memory for every entry
    /// until the end (a bundle has a log file per container).
    fn start_entry_sized(&mut self, path: &str, size: Option<u64>) -> Result<EntryWriter<'_>> {
        if !is_safe_entry_path(path) || path == layout::MANIFEST {
            return Err(BundleError::UnsafePath {
                file: path.to_string(),
            });
        }
        if self.files.contains(path) {
            return Err(BundleError::DuplicateEntry {
                file: path.to_string(),
            });
        }
        let target = match &mut self.sink {
            Sink::Zip { zip, temp, .. } => {
                let options = SimpleFileOptions::default()
                    .compression_method(self.compression.method())
                    .compression_level(self.compression.level(2))
                    .large_file(size.is_none_or(|n| n >= u64::from(u32::MAX)));
                zip.start_file(path, options)
                    .map_err(|e| zip_err(temp, e))?;
                EntryTarget::Zip(zip)
            }
            Sink::Dir { root } => {
                let full = root.join(path);
                if let Some(parent) = full.parent() {
                    fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
                }
                let file = File::create(&full).map_err(|e| write_err(&full, e))?;
                EntryTarget::File(BufWriter::new(file))
            }
        };
        Ok(EntryWriter {
            target,
            hasher: Sha256::new(),
            size: 0,
            path: path.to_string(),
            files: &mut self.files,
        })
    }

    /// Writes a whole entry from bytes.
    pub fn write_entry(&mut self, path: &str, bytes: &[u8]) -> Result<FileRecord> {
        let mut entry = self.start_entry_sized(path, Some(bytes.len() as u64))?;
        entry.write_all(bytes).map_err(|e| write_err(path, e))?;
        entry.finish()
    }

    /// Writes a value as pretty JSON (the way `kubectl get -o json` prints).
    pub fn write_json<T: Serialize + ?Sized>(
        &mut self,
        path: &str,
        value: &T,
    ) -> Result<FileRecord> {
        let mut entry = self.start_entry(path)?;
        serde_json::to_writer_pretty(&mut entry, value)
            .map_err(|e| write_err(path, std::io::Error::other(e)))?;
        entry.write_all(b"\n").map_err(|e| write_err(path, e))?;
        entry.finish()
    }

    /// Starts a Kubernetes `List` entry whose items are pushed one at a time,
    /// so a list of any size streams through constant memory.
    pub fn start_list(
        &mut self,
        path: &str,
        list_kind: &str,
        api_version: &str,
        resource_version: Option<&str>,
    ) -> Result<ListWriter<'_>> {
        let mut entry = self.start_entry(path)?;
        let header = serde_json::json!({
            "kind": list_kind,
            "apiVersion": api_version,
            "metadata": match resource_version {
                Some(rv) => serde_json::json!({ "resourceVersion": rv }),
                None => serde_json::json!({}),
            },
        });
        let mut text = serde_json::to_string(&header)
            .map_err(|e| write_err(path, std::io::Error::other(e)))?;
        // Re-open the object to append the items array.
        text.pop();
        text.push_str(",\"items\":[");
        entry
            .write_all(text.as_bytes())
            .map_err(|e| write_err(path, e))?;
        Ok(ListWriter { entry, count: 0 })
    }

    /// The record of `path`, when it was written.
    pub fn file(&self, path: &str) -> Option<FileRecord> {
        self.files.get(path)
    }

    /// Writes `manifest.json` (with `files` and `format_version` filled in
    /// from what was written) and completes the bundle. Returns its path.
    pub fn finish(self, manifest: Manifest) -> Result<PathBuf> {
        self.finish_with_steps(manifest, std::iter::empty())
    }

    /// [`BundleWriter::finish`] with `more_steps` recorded after the
    /// manifest's own, taken from the iterator while `manifest.json` is
    /// written: a collector keeps its (possibly 100,000s of) steps on disk
    /// and never holds them all in memory.
    pub fn finish_with_steps(
        mut self,
        mut manifest: Manifest,
        more_steps: impl Iterator<Item = Step>,
    ) -> Result<PathBuf> {
        manifest.format_version = layout::FORMAT_VERSION;
        // Streamed, not built in memory first, steps and files included.
        let files = std::mem::take(&mut self.files);
        let compression = self.compression;
        let mut streamed = Some(StreamedManifest::new(&manifest, more_steps, files.sorted()));
        let mut write_manifest = |out: &mut dyn Write, at: &Path| -> Result<()> {
            let mut out = BufWriter::with_capacity(64 * 1024, out);
            if let Some(streamed) = streamed.take() {
                serde_json::to_writer_pretty(&mut out, &streamed)
                    .map_err(|e| write_err(at, std::io::Error::other(e)))?;
            }
            out.flush().map_err(|e| write_err(at, e))
        };
        match self.sink {
            Sink::Zip { zip, temp, dest } => {
                let mut zip = *zip;
                let options = SimpleFileOptions::default()
                    .compression_method(compression.method())
                    .large_file(true);
                zip.start_file(layout::MANIFEST, options)
                    .map_err(|e| zip_err(&temp, e))?;
                write_manifest(&mut zip, &temp)?;
                let buffered = zip.finish().map_err(|e| zip_err(&temp, e))?;
                let file = buffered
                    .into_inner()
                    .map_err(|e| write_err(&temp, e.into_error()))?;
                file.sync_all().map_err(|e| write_err(&temp, e))?;
                drop(file);
                temp.persist(&dest).map_err(|e| write_err(&dest, e.error))?;
                Ok(dest)
            }
            Sink::Dir { root } => {
                let path = root.join(layout::MANIFEST);
                let mut file = File::create(&path).map_err(|e| write_err(&path, e))?;
                write_manifest(&mut file, &path)?;
                Ok(root)
            }
        }
    }
}

enum EntryTarget<'a> {
    Zip(&'a mut ZipWriter<BufWriter<File>>),
    File(BufWriter<File>),
}

/// One entry being streamed; implements [`Write`].
pub struct EntryWriter<'a> {
    target: EntryTarget<'a>,
    hasher: Sha256,
    size: u64,
    path: String,
    files: &'a mut FileIndex,
}

impl Write for EntryWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = match &mut self.target {
            EntryTarget::Zip(zip) => zip.write(buf)?,
            EntryTarget::File(file) => file.write(buf)?,
        };
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.target {
            EntryTarget::Zip(zip) => zip.flush(),
            EntryTarget::File(file) => file.flush(),
        }
    }
}

impl EntryWriter<'_> {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Completes the entry and records its size and digest.
    pub fn finish(mut self) -> Result<FileRecord> {
        if let EntryTarget::File(file) = &mut self.target {
            file.flush().map_err(|e| write_err(&self.path, e))?;
        }
        let digest: [u8; 32] = self.hasher.finalize().into();
        self.files.insert(&self.path, self.size, digest);
        Ok(FileRecord {
            size: self.size,
            sha256: hex(&digest),
        })
    }
}

/// A Kubernetes `List` being streamed item by item.
pub struct ListWriter<'a> {
    entry: EntryWriter<'a>,
    count: u64,
}

impl ListWriter<'_> {
    /// Appends one item.
    pub fn push<T: Serialize + ?Sized>(&mut self, item: &T) -> Result<()> {
        let path = self.entry.path.clone();
        if self.count > 0 {
            self.entry
                .write_all(b",")
                .map_err(|e| write_err(&path, e))?;
        }
        serde_json::to_writer(&mut self.entry, item)
            .map_err(|e| write_err(&path, std::io::Error::other(e)))?;
        self.count += 1;
        Ok(())
    }

    /// Appends one item that is already serialized JSON.
    pub fn push_raw(&mut self, json: &[u8]) -> Result<()> {
        let path = self.entry.path.clone();
        if self.count > 0 {
            self.entry
                .write_all(b",")
                .map_err(|e| write_err(&path, e))?;
        }
        self.entry
            .write_all(json)
            .map_err(|e| write_err(&path, e))?;
        self.count += 1;
        Ok(())
    }

    /// Items pushed so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Closes the list and records the entry.
    pub fn finish(mut self) -> Result<FileRecord> {
        let path = self.entry.path.clone();
        self.entry
            .write_all(b"]}\n")
            .map_err(|e| write_err(&path, e))?;
        self.entry.finish()
    }
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// SHA-256 of bytes as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}
