//! Logs streamed from the bundle in bounded memory.
//!
//! A stored log can be any size (a workload controls what it writes, and a
//! hostile bundle can hold a 4 GiB entry), so a log is never read whole:
//! it is read in [`CHUNK`]-byte pieces and handed to the HTTP body as it
//! goes. The options are applied in the kubelet's order (`ReadLogs` in
//! `pkg/kubelet/kuberuntime/logs`): find where the last `tailLines` lines
//! start, drop lines older than `sinceSeconds`/`sinceTime`, stop after
//! `limitBytes` bytes (cut exactly there, as its limited writer does).
//!
//! Finding the tail: in an unpacked bundle the file is scanned backwards
//! from its end, so `--tail=10` on a 4 GiB log reads a few kilobytes. A zip
//! entry is compressed and cannot be read backwards: it is read twice,
//! once to count lines and once to skip to the tail, which costs time
//! proportional to its size but never memory.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use zip::ZipArchive;

/// Bytes read per step, and the largest piece handed to the body.
pub const CHUNK: usize = 64 * 1024;

/// Longest line start read to find a line's timestamp.
const HEAD_MAX: usize = 64;

/// A file shared by clones that read at their own position (`pread`), so
/// one opened zip archive serves concurrent log requests.
#[derive(Clone)]
pub struct PosFile {
    file: Arc<File>,
    pos: u64,
}

impl Read for PosFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PosFile {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek out of range");
        self.pos = match to {
            SeekFrom::Start(p) => p,
            SeekFrom::End(d) => self
                .file
                .metadata()?
                .len()
                .checked_add_signed(d)
                .ok_or_else(invalid)?,
            SeekFrom::Current(d) => self.pos.checked_add_signed(d).ok_or_else(invalid)?,
        };
        Ok(self.pos)
    }
}

/// Opens log entries of one bundle: files under a directory, or entries of
/// a zip whose central directory is read once.
pub struct LogFiles {
    root: PathBuf,
    zip: OnceLock<Result<ZipArchive<PosFile>, String>>,
}

/// Where one log's bytes are.
pub enum LogSource {
    /// A file of an unpacked bundle.
    File(File),
    /// An entry of a zip bundle.
    Zip(Box<ZipArchive<PosFile>>, String),
}

impl LogFiles {
    /// For the bundle at `root` (a zip file or a directory).
    pub fn new(root: &Path) -> LogFiles {
        LogFiles {
            root: root.to_path_buf(),
            zip: OnceLock::new(),
        }
    }

    /// Opens the log stored at `entry` (a path the bundle lists).
    pub fn open(&self, entry: &str) -> Result<LogSource, String> {
        if !kpm_bundle::layout::is_safe_entry_path(entry) {
            return Err(format!("{entry}: not a safe bundle path"));
        }
        if self.root.is_dir() {
            return std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(self.root.join(entry))
                .map(LogSource::File)
                .map_err(|e| format!("{entry}: {e}"));
        }
        let archive = self
            .zip
            .get_or_init(|| {
                let file = File::open(&self.root).map_err(|e| e.to_string())?;
                ZipArchive::new(PosFile {
                    file: Arc::new(file),
                    pos: 0,
                })
                .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| format!("{}: {e}", self.root.display()))?;
        Ok(LogSource::Zip(Box::new(archive.clone()), entry.to_string()))
    }
}

/// What part of a log to send.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Only the last this many lines.
    pub tail_lines: Option<u64>,
    /// Lines with an RFC 3339 timestamp before this are left out.
    pub since: Option<DateTime<Utc>>,
    /// At most this many bytes.
    pub limit_bytes: Option<u64>,
    /// Send nothing (a previous instance that ended before `since`).
    pub empty: bool,
}

/// A log ready to be streamed.
pub struct LogStream {
    /// Where it is.
    pub source: LogSource,
    /// What part of it.
    pub plan: Plan,
}

impl std::fmt::Debug for LogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStream")
            .field("plan", &self.plan)
            .finish()
    }
}

/// Receives pieces of the body; false when the client is gone.
pub type Out<'a> = dyn FnMut(&[u8]) -> bool + 'a;

impl LogStream {
    /// Sends the selected bytes to `out`, piece by piece.
    pub fn run(self, out: &mut Out<'_>) -> std::io::Result<()> {
        if self.plan.empty || self.plan.tail_lines == Some(0) {
            return Ok(());
        }
        let mut pipe = Pipe::new(&self.plan);
        match self.source {
            LogSource::File(mut f) => {
                if let Some(n) = self.plan.tail_lines {
                    let len = f.metadata()?.len();
                    let start = tail_start(&f, len, n)?;
                    f.seek(SeekFrom::Start(start))?;
                }
                pump(&mut f, &mut pipe, out)
            }
            LogSource::Zip(mut archive, name) => {
                let mut zip_err =
                    |e: zip::result::ZipError| std::io::Error::other(format!("{name}: {e}"));
                if let Some(n) = self.plan.tail_lines {
                    let lines = count_lines(&mut archive.by_name(&name).map_err(&mut zip_err)?)?;
                    pipe.skip_lines = lines.saturating_sub(n);
                }
                let mut entry = archive.by_name(&name).map_err(&mut zip_err)?;
                pump(&mut entry, &mut pipe, out)
            }
        }
    }

    /// The whole selected body (tests).
    #[cfg(test)]
    pub fn collect(self) -> Vec<u8> {
        let mut body = Vec::new();
        let _ = self.run(&mut |b| {
            body.extend_from_slice(b);
            true
        });
        body
    }
}

/// Where the last `n` lines of a file of `len` bytes start, read backwards
/// in [`CHUNK`] pieces. A final newline ends the last line rather than
/// starting an empty one.
pub fn tail_start(f: &File, len: u64, n: u64) -> std::io::Result<u64> {
    if n == 0 {
        return Ok(len);
    }
    let mut end = len;
    let mut last = [0u8; 1];
    if len > 0 {
        f.read_exact_at(&mut last, len - 1)?;
        if last[0] == b'\n' {
            end -= 1;
        }
    }
    let mut buf = vec![0u8; CHUNK];
    let mut found = 0u64;
    while end > 0 {
        let start = end.saturating_sub(CHUNK as u64);
        let piece = buf.get_mut(..(end - start) as usize).unwrap_or_default();
        f.read_exact_at(piece, start)?;
        for (i, b) in piece.iter().enumerate().rev() {
            if *b == b'\n' {
                found += 1;
                if found == n {
                    return Ok(start + i as u64 + 1);
                }
            }
        }
        end = start;
    }
    Ok(0)
}

/// Lines in a stream: newlines, plus one for a last line without one.
fn count_lines(r: &mut dyn Read) -> std::io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let (mut lines, mut last) = (0u64, b'\n');
    loop {
        let n = r.read(&mut buf)?;
        let Some(piece) = buf.get(..n).filter(|p| !p.is_empty()) else {
            break;
        };
        lines += piece.iter().filter(|b| **b == b'\n').count() as u64;
        last = piece.last().copied().unwrap_or(last);
    }
    Ok(lines + u64::from(last != b'\n'))
}

fn pump(r: &mut dyn Read, pipe: &mut Pipe, out: &mut Out<'_>) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = r.read(&mut buf)?;
        let Some(piece) = buf.get(..n).filter(|p| !p.is_empty()) else {
            break;
        };
        if !pipe.push(piece, out) {
            return Ok(());
        }
    }
    pipe.finish(out);
    Ok(())
}

/// The stages after the tail start: skip lines (zip), since, limit.
struct Pipe {
    skip_lines: u64,
    since: Option<DateTime<Utc>>,
    /// Start of the current line while deciding whether it is kept.
    head: Vec<u8>,
    at_line_start: bool,
    keep_line: bool,
    left: Option<u64>,
}

impl Pipe {
    fn new(plan: &Plan) -> Pipe {
        Pipe {
            skip_lines: 0,
            since: plan.since,
            head: Vec::with_capacity(HEAD_MAX),
            at_line_start: true,
            keep_line: true,
            left: plan.limit_bytes,
        }
    }

    /// Passes one piece on; false once nothing more will be sent.
    fn push(&mut self, mut piece: &[u8], out: &mut Out<'_>) -> bool {
        while self.skip_lines > 0 {
            match piece.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    self.skip_lines -= 1;
                    piece = piece.get(i + 1..).unwrap_or_default();
                }
                None => return true,
            }
        }
        let Some(since) = self.since else {
            return self.emit(piece, out);
        };
        while !piece.is_empty() {
            if self.at_line_start {
                let room = HEAD_MAX - self.head.len();
                let (take, ended) = match piece.iter().take(room).position(|b| *b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (room.min(piece.len()), false),
                };
                let (now, rest) = piece.split_at(take);
                self.head.extend_from_slice(now);
                piece = rest;
                if ended || self.head.len() == HEAD_MAX {
                    if !self.decide(since, out) {
                        return false;
                    }
                    self.at_line_start = ended;
                }
            } else {
                let (now, rest, ended) = match piece.iter().position(|b| *b == b'\n') {
                    Some(i) => {
                        let (a, b) = piece.split_at(i + 1);
                        (a, b, true)
                    }
                    None => (piece, &[][..], false),
                };
                if self.keep_line && !self.emit(now, out) {
                    return false;
                }
                piece = rest;
                self.at_line_start = ended;
            }
        }
        true
    }

    /// Decides on the line whose start is in `head`, sending it if kept.
    fn decide(&mut self, since: DateTime<Utc>, out: &mut Out<'_>) -> bool {
        self.keep_line = line_time(&self.head).is_none_or(|t| t >= since);
        let head = std::mem::take(&mut self.head);
        let more = !self.keep_line || self.emit(&head, out);
        self.head = head;
        self.head.clear();
        more
    }

    fn finish(&mut self, out: &mut Out<'_>) {
        if let (Some(since), false) = (self.since, self.head.is_empty()) {
            self.decide(since, out);
        }
    }

    fn emit(&mut self, piece: &[u8], out: &mut Out<'_>) -> bool {
        let piece = match self.left {
            Some(left) => {
                let n = piece.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                self.left = Some(left - n as u64);
                piece.get(..n).unwrap_or_default()
            }
            None => piece,
        };
        (piece.is_empty() || out(piece)) && self.left != Some(0)
    }
}

/// The RFC 3339 timestamp a line starts with, if any.
fn line_time(head: &[u8]) -> Option<DateTime<Utc>> {
    let first = head
        .split(|b| b.is_ascii_whitespace())
        .find(|w| !w.is_empty())?;
    let first = std::str::from_utf8(first).ok()?;
    DateTime::parse_from_rfc3339(first)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests;
