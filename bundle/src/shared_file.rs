//! A cloneable, buffered reader over one open file, for concurrent zip reads.
//!
//! `ZipArchive<R>` is `Clone` when `R` is, and a clone shares the parsed
//! central directory. With a reader that reads at an explicit offset
//! (`pread`) instead of moving a shared cursor, every clone keeps its own
//! position: threads decompress different entries at the same time without
//! a lock and without reopening the file or re-reading the directory.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

/// Read-ahead per clone: zip local headers are read in small pieces.
const BUFFER: usize = 64 * 1024;

/// A file read at explicit offsets; clones share the handle, not the cursor.
#[derive(Debug)]
pub(crate) struct SharedFile {
    file: Arc<File>,
    len: u64,
    /// Offset of the next byte `read` returns.
    pos: u64,
    /// Bytes read ahead, starting at `buf_start`.
    buf: Vec<u8>,
    buf_start: u64,
}

impl SharedFile {
    /// Wraps an open file; its length is read once.
    pub(crate) fn new(file: File) -> io::Result<SharedFile> {
        let len = file.metadata()?.len();
        Ok(SharedFile {
            file: Arc::new(file),
            len,
            pos: 0,
            buf: Vec::new(),
            buf_start: 0,
        })
    }

    fn buffered(&self) -> Option<&[u8]> {
        let offset = self.pos.checked_sub(self.buf_start)?;
        let offset = usize::try_from(offset).ok()?;
        self.buf.get(offset..).filter(|rest| !rest.is_empty())
    }
}

impl Clone for SharedFile {
    /// Same file and position, empty buffer (so clones never share state).
    fn clone(&self) -> SharedFile {
        SharedFile {
            file: Arc::clone(&self.file),
            len: self.len,
            pos: self.pos,
            buf: Vec::new(),
            buf_start: 0,
        }
    }
}

#[cfg(unix)]
fn read_at(file: &File, out: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, out, offset)
}

#[cfg(windows)]
fn read_at(file: &File, out: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, out, offset)
}

impl Read for SharedFile {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if let Some(rest) = self.buffered() {
            let n = rest.len().min(out.len());
            out[..n].copy_from_slice(&rest[..n]);
            self.pos += n as u64;
            return Ok(n);
        }
        // Large reads (inflate input) bypass the buffer.
        if out.len() >= BUFFER {
            let n = read_at(&self.file, out, self.pos)?;
            self.pos += n as u64;
            return Ok(n);
        }
        self.buf.resize(BUFFER, 0);
        let n = read_at(&self.file, &mut self.buf, self.pos)?;
        self.buf.truncate(n);
        self.buf_start = self.pos;
        let n = n.min(out.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SharedFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        self.pos = target;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, SharedFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
        let f = SharedFile::new(File::open(&path).unwrap()).unwrap();
        (dir, f)
    }

    #[test]
    fn clones_keep_their_own_position() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (_dir, mut a) = file_with(&data);
        a.seek(SeekFrom::Start(1000)).unwrap();
        let mut b = a.clone();
        let mut x = [0u8; 10];
        a.read_exact(&mut x).unwrap();
        assert_eq!(&x, &data[1000..1010]);
        b.seek(SeekFrom::Current(5)).unwrap();
        b.read_exact(&mut x).unwrap();
        assert_eq!(&x, &data[1005..1015]);
        a.read_exact(&mut x).unwrap();
        assert_eq!(&x, &data[1010..1020], "a is not moved by b");
    }

    #[test]
    fn reads_whole_file_through_small_and_large_reads() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let (_dir, mut f) = file_with(&data);
        let mut small = [0u8; 3];
        f.read_exact(&mut small).unwrap();
        let mut rest = Vec::new();
        f.read_to_end(&mut rest).unwrap();
        assert_eq!(small.as_slice(), &data[..3]);
        assert_eq!(rest.as_slice(), &data[3..]);
        assert_eq!(f.seek(SeekFrom::End(-10)).unwrap(), data.len() as u64 - 10);
        assert!(f.seek(SeekFrom::Current(-(data.len() as i64))).is_err());
    }
}
