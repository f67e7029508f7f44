//! Serialized items of one list, waiting for the writer.
//!
//! A list is written as one zip entry, and the zip takes one entry at a
//! time, so the items of a list being read must wait somewhere until the
//! list is complete (several lists are read at once). Small lists wait in
//! memory; past [`MEMORY_LIMIT`] bytes the items move to an anonymous
//! temporary file, so a 5,000-node list or a namespace with 100,000 events
//! costs disk, not memory, and peak memory stays flat with cluster size.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

/// Bytes of items a list keeps in memory before spilling to disk. With
/// `--concurrency` lists read at once plus as many queued for the writer,
/// at most about 16 × 512 KiB = 8 MiB of items wait in memory by default.
pub const MEMORY_LIMIT: usize = 512 * 1024;

/// Items, each stored as a 4-byte little-endian length and the bytes.
#[derive(Debug, Default)]
pub struct Items {
    memory: Vec<u8>,
    file: Option<BufWriter<File>>,
    count: u64,
    limit: usize,
}

impl Items {
    /// An empty buffer that spills past `limit` bytes.
    pub fn with_limit(limit: usize) -> Items {
        Items {
            limit,
            ..Items::default()
        }
    }

    /// An empty buffer that spills past [`MEMORY_LIMIT`].
    pub fn new() -> Items {
        Items::with_limit(MEMORY_LIMIT)
    }

    /// Items pushed.
    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether the items went to disk.
    #[cfg(test)]
    pub fn spilled(&self) -> bool {
        self.file.is_some()
    }

    /// Appends one serialized item.
    pub fn push(&mut self, item: &[u8]) -> io::Result<()> {
        let len =
            u32::try_from(item.len()).map_err(|_| io::Error::other("item larger than 4 GiB"))?;
        match &mut self.file {
            Some(f) => {
                f.write_all(&len.to_le_bytes())?;
                f.write_all(item)?;
            }
            None => {
                self.memory.extend_from_slice(&len.to_le_bytes());
                self.memory.extend_from_slice(item);
                if self.memory.len() > self.limit {
                    let mut f = BufWriter::new(tempfile::tempfile()?);
                    f.write_all(&self.memory)?;
                    self.memory = Vec::new();
                    self.file = Some(f);
                }
            }
        }
        self.count += 1;
        Ok(())
    }

    /// Forgets every item (a list restarted from scratch).
    pub fn clear(&mut self) {
        *self = Items::with_limit(self.limit);
    }

    /// Hands every item, in order, to `each`; stops at its first error.
    /// The outer error is a failure to read the temporary file back.
    pub fn drain<E>(
        self,
        mut each: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> io::Result<Result<(), E>> {
        let mut reader = self.into_reader()?;
        while let Some(item) = reader.next_item()? {
            if let Err(e) = each(item) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// Reads the items back one at a time, in order.
    pub fn into_reader(self) -> io::Result<ItemReader> {
        let source = match self.file {
            None => Source::Memory {
                bytes: self.memory,
                at: 0,
            },
            Some(w) => {
                let mut file = w.into_inner().map_err(|e| e.into_error())?;
                file.seek(SeekFrom::Start(0))?;
                Source::File {
                    reader: BufReader::new(file),
                    buf: Vec::new(),
                }
            }
        };
        Ok(ItemReader {
            source,
            left: self.count,
        })
    }
}

/// Items of an [`Items`] read back in order, one borrowed at a time.
#[derive(Debug)]
pub struct ItemReader {
    source: Source,
    left: u64,
}

#[derive(Debug)]
enum Source {
    Memory {
        bytes: Vec<u8>,
        at: usize,
    },
    File {
        reader: BufReader<File>,
        buf: Vec<u8>,
    },
}

impl ItemReader {
    /// The next item, `None` after the last; an error when the temporary
    /// file cannot be read back.
    pub fn next_item(&mut self) -> io::Result<Option<&[u8]>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        match &mut self.source {
            Source::Memory { bytes, at } => {
                let rest = bytes.get(*at..).unwrap_or_default();
                let Some((item, tail)) = split_item(rest) else {
                    return Err(io::Error::other("spooled items cut short"));
                };
                *at = bytes.len() - tail.len();
                Ok(Some(item))
            }
            Source::File { reader, buf } => {
                let mut len = [0u8; 4];
                reader.read_exact(&mut len)?;
                buf.resize(u32::from_le_bytes(len) as usize, 0);
                reader.read_exact(buf)?;
                Ok(Some(buf))
            }
        }
    }
}

fn split_item(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = bytes.get(..4)?;
    let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
    let rest = bytes.get(4..)?;
    Some((rest.get(..len)?, rest.get(len..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(items: Items) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        items
            .drain(|b| {
                out.push(b.to_vec());
                Ok::<(), ()>(())
            })
            .unwrap()
            .unwrap();
        out
    }

    fn pods(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                format!(r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"web-{i}","namespace":"shop"}}}}"#)
                    .into_bytes()
            })
            .collect()
    }

    #[test]
    fn small_lists_stay_in_memory() {
        let mut items = Items::new();
        for p in pods(3) {
            items.push(&p).unwrap();
        }
        assert!(!items.spilled());
        assert_eq!(items.len(), 3);
        assert_eq!(collect(items), pods(3));
    }

    #[test]
    fn large_lists_spill_to_disk_in_order() {
        let mut items = Items::with_limit(256);
        for p in pods(50) {
            items.push(&p).unwrap();
        }
        assert!(items.spilled());
        assert_eq!(collect(items), pods(50));
    }

    #[test]
    fn clear_forgets_and_stops_on_error() {
        let mut items = Items::with_limit(256);
        for p in pods(50) {
            items.push(&p).unwrap();
        }
        items.clear();
        assert_eq!(items.len(), 0);
        assert!(!items.spilled());
        items.push(b"{}").unwrap();
        items.push(b"[]").unwrap();
        let mut seen = 0;
        let r = items
            .drain(|_| {
                seen += 1;
                Err("disk full")
            })
            .unwrap();
        assert_eq!((r, seen), (Err("disk full"), 1));
    }
}
