//! Decompressing a `.tar.gz` on a second thread while the entries are
//! converted on the first: gunzip is a third of the work of converting a
//! troubleshoot archive and needs nothing from the rest.
//!
//! The decompressed stream passes in chunks through a bounded channel
//! (memory: [`CHUNKS`] × [`CHUNK`]); the chunks are handed back to be
//! refilled, so no fresh memory is touched per chunk. Dropping the reader
//! stops the thread at its next chunk.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Bytes per chunk.
const CHUNK: usize = 1 << 20;
/// Chunks in flight.
const CHUNKS: usize = 4;

/// A reader of what `source` yields, read ahead on another thread.
pub struct ReadAhead {
    full: Receiver<io::Result<Vec<u8>>>,
    empty: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    thread: Option<JoinHandle<()>>,
}

impl ReadAhead {
    /// Starts reading `source` on a new thread.
    pub fn new<R: Read + Send + 'static>(mut source: R) -> io::Result<ReadAhead> {
        let (full_tx, full) = sync_channel::<io::Result<Vec<u8>>>(CHUNKS);
        let (empty, empty_rx) = sync_channel::<Vec<u8>>(CHUNKS + 2);
        let thread = std::thread::Builder::new()
            .name("kpm-gunzip".into())
            .spawn(move || {
                let mut allocated = 0;
                loop {
                    // A chunk handed back, else a new one while fewer than
                    // CHUNKS + 2 exist, else wait for one to come back.
                    let mut chunk = match empty_rx.try_recv() {
                        Ok(c) => c,
                        Err(_) if allocated < CHUNKS + 2 => {
                            allocated += 1;
                            Vec::new()
                        }
                        Err(_) => match empty_rx.recv() {
                            Ok(c) => c,
                            Err(_) => return,
                        },
                    };
                    chunk.resize(CHUNK, 0);
                    match fill(&mut source, &mut chunk) {
                        Ok(0) => return,
                        Ok(n) => {
                            chunk.truncate(n);
                            if full_tx.send(Ok(chunk)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            let _ = full_tx.send(Err(e));
                            return;
                        }
                    }
                }
            })?;
        Ok(ReadAhead {
            full,
            empty,
            current: Vec::new(),
            pos: 0,
            thread: Some(thread),
        })
    }
}

/// Reads until `buf` is full or the source ends; returns the bytes read.
fn fill(source: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match source.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.current.len() {
            let done = std::mem::take(&mut self.current);
            if done.capacity() > 0 {
                let _ = self.empty.try_send(done);
            }
            self.pos = 0;
            match self.full.recv() {
                Ok(Ok(chunk)) => self.current = chunk,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Unblock the thread (its sends and receives fail once our ends
        // are gone), then wait for it: no decompression outlives the reader.
        let (_, dead_full) = sync_channel(0);
        drop(std::mem::replace(&mut self.full, dead_full));
        let (dead_empty, _) = sync_channel(0);
        drop(std::mem::replace(&mut self.empty, dead_empty));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_everything_in_order_and_passes_errors_on() {
        let data: Vec<u8> = (0..(3 * CHUNK + 12_345)).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        ReadAhead::new(io::Cursor::new(data.clone()))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);

        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "corrupt deflate stream",
                    ));
                }
                let n = buf.len().min(self.0);
                self.0 -= n;
                Ok(n)
            }
        }
        let err = ReadAhead::new(Failing(10))
            .unwrap()
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(err.to_string(), "corrupt deflate stream");
    }

    #[test]
    fn dropping_the_reader_early_stops_the_thread() {
        let endless = io::repeat(7);
        let mut r = ReadAhead::new(endless).unwrap();
        let mut buf = [0u8; 10];
        r.read_exact(&mut buf).unwrap();
        drop(r); // joins the thread: the test would hang if it did not stop
    }
}
