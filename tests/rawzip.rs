//! A zip writer by hand, for tests that need zips no honest writer makes:
//! duplicate names, central-directory records sharing one local header
//! (the overlapping-entry bomb), and deflate streams of gigabytes written
//! in a few megabytes without compressing gigabytes at test time.
//!
//! Shared by `bundle/tests/hostile.rs` and the `hostile_bundle` end-to-end
//! tests. Sizes stay under 4 GiB, so no Zip64 records are written.

use std::io::{self, Write};

/// Where a local header was written, so other records can point at it.
#[derive(Debug, Clone, Copy)]
pub struct Local {
    offset: u32,
    method: u16,
    crc: u32,
    compressed: u32,
    size: u32,
}

/// A zip being written to `W`.
pub struct RawZip<W: Write> {
    out: W,
    written: u64,
    central: Vec<u8>,
    records: u16,
}

impl<W: Write> RawZip<W> {
    /// A zip written to `out` from its first byte.
    pub fn new(out: W) -> Self {
        RawZip {
            out,
            written: 0,
            central: Vec::new(),
            records: 0,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn local_header(&mut self, name: &str, l: &Local) -> io::Result<()> {
        let mut h = Vec::with_capacity(30 + name.len());
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&20u16.to_le_bytes()); // version needed
        h.extend_from_slice(&0u16.to_le_bytes()); // flags
        h.extend_from_slice(&l.method.to_le_bytes());
        h.extend_from_slice(&[0, 0, 0x21, 0]); // time, date (1980-01-01)
        h.extend_from_slice(&l.crc.to_le_bytes());
        h.extend_from_slice(&l.compressed.to_le_bytes());
        h.extend_from_slice(&l.size.to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // extra
        h.extend_from_slice(name.as_bytes());
        self.put(&h)
    }

    /// A central-directory record named `name` for the data at `l`.
    pub fn record(&mut self, name: &str, l: &Local) {
        let c = &mut self.central;
        c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        c.extend_from_slice(&(0x0300u16 | 20).to_le_bytes()); // made by: unix
        c.extend_from_slice(&20u16.to_le_bytes());
        c.extend_from_slice(&0u16.to_le_bytes());
        c.extend_from_slice(&l.method.to_le_bytes());
        c.extend_from_slice(&[0, 0, 0x21, 0]);
        c.extend_from_slice(&l.crc.to_le_bytes());
        c.extend_from_slice(&l.compressed.to_le_bytes());
        c.extend_from_slice(&l.size.to_le_bytes());
        c.extend_from_slice(&(name.len() as u16).to_le_bytes());
        c.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attrs
        c.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
        c.extend_from_slice(&l.offset.to_le_bytes());
        c.extend_from_slice(name.as_bytes());
        self.records += 1;
    }

    /// A stored (uncompressed) entry.
    pub fn stored(&mut self, name: &str, data: &[u8]) -> io::Result<Local> {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let l = Local {
            offset: self.offset(),
            method: 0,
            crc: crc.sum(),
            compressed: data.len() as u32,
            size: data.len() as u32,
        };
        self.local_header(name, &l)?;
        self.put(data)?;
        self.record(name, &l);
        Ok(l)
    }

    /// A deflated entry inflating to `stream`'s content, with the right
    /// size and CRC: an honest entry, however large.
    pub fn deflated(&mut self, name: &str, stream: &Deflate) -> io::Result<Local> {
        let l = Local {
            offset: self.offset(),
            method: 8,
            crc: stream.crc.sum(),
            compressed: stream.compressed_len() as u32,
            size: stream.inflated as u32,
        };
        self.local_header(name, &l)?;
        for part in &stream.parts {
            for _ in 0..part.repeat {
                self.out.write_all(&part.bytes)?;
                self.written += part.bytes.len() as u64;
            }
        }
        self.put(&[0x03, 0x00])?; // final empty fixed-Huffman block
        self.record(name, &l);
        Ok(l)
    }

    fn offset(&self) -> u32 {
        u32::try_from(self.written).expect("test zips stay under 4 GiB")
    }

    /// Writes the central directory and its end record; returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        let start = self.offset();
        let central = std::mem::take(&mut self.central);
        self.put(&central)?;
        let mut e = Vec::new();
        e.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        e.extend_from_slice(&[0; 4]); // disk numbers
        e.extend_from_slice(&self.records.to_le_bytes());
        e.extend_from_slice(&self.records.to_le_bytes());
        e.extend_from_slice(&(central.len() as u32).to_le_bytes());
        e.extend_from_slice(&start.to_le_bytes());
        e.extend_from_slice(&0u16.to_le_bytes());
        self.put(&e)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A deflate stream built from independently compressed blocks, each
/// repeated: 1 MiB of zeros compresses to about a kilobyte, so repeating
/// it 2,048 times is 2 GiB inflated in 2 MB.
#[derive(Default)]
pub struct Deflate {
    parts: Vec<Part>,
    /// Bytes the stream inflates to.
    pub inflated: u64,
    crc: flate2::Crc,
}

fn copy(crc: &flate2::Crc) -> flate2::Crc {
    let mut c = flate2::Crc::new();
    c.combine(crc);
    c
}

struct Part {
    bytes: Vec<u8>,
    repeat: u64,
}

impl Deflate {
    /// Appends `data`, `repeat` times.
    pub fn then(mut self, data: &[u8], repeat: u64) -> Self {
        // A full flush ends the block byte-aligned with no reference to
        // earlier data, so the block can be repeated as it is.
        let mut c = flate2::Compress::new(flate2::Compression::best(), false);
        // Room for incompressible data and the flush marker.
        let mut bytes = Vec::with_capacity(data.len() + data.len() / 64 + 1024);
        c.compress_vec(data, &mut bytes, flate2::FlushCompress::Full)
            .expect("deflate");
        assert_eq!(c.total_in(), data.len() as u64, "deflate took all input");
        self.parts.push(Part { bytes, repeat });
        // CRC of `repeat` copies by doubling: no pass over gigabytes.
        let mut power = flate2::Crc::new();
        power.update(data);
        let mut n = repeat;
        while n > 0 {
            if n & 1 == 1 {
                self.crc.combine(&power);
            }
            let twice = copy(&power);
            power.combine(&twice);
            n >>= 1;
        }
        self.inflated += data.len() as u64 * repeat;
        self
    }

    /// Compressed bytes, final block included.
    pub fn compressed_len(&self) -> u64 {
        self.parts
            .iter()
            .map(|p| p.bytes.len() as u64 * p.repeat)
            .sum::<u64>()
            + 2
    }
}
