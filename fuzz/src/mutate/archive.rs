//! Archive-aware mutations: a zip, tar or tar.gz is decoded into its
//! members, one member is changed (content, name, type, duplicate, gone)
//! and the archive is written again in the same format, so the mutation
//! reaches the bundle reader past the container's checksums.

use std::io::{Cursor, Read, Write};

use crate::rng::Rng;

/// Decoding stops past this many bytes or members.
const MAX_DECODED: u64 = 64 << 20;
const MAX_MEMBERS: usize = 20_000;

/// What an archive member is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A symbolic link to the target.
    Symlink(String),
}

/// One member of an archive.
#[derive(Debug, Clone)]
pub struct Member {
    /// Path inside the archive.
    pub name: String,
    /// Regular file or link.
    pub kind: Kind,
    /// Contents (empty for links).
    pub data: Vec<u8>,
}

/// The container formats the bundle reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A zip (kpm's own bundles).
    Zip,
    /// An uncompressed tar (how this crate ships folder captures).
    Tar,
    /// A gzip-compressed tar (troubleshoot support bundles).
    TarGz,
}

/// The format of `bytes`, from its magic numbers.
pub fn format_of(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(b"PK") {
        Some(Format::Zip)
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        Some(Format::TarGz)
    } else if bytes.get(257..262) == Some(b"ustar") {
        Some(Format::Tar)
    } else {
        None
    }
}

/// Mutates one member of an archive (`None` when it does not decode).
pub fn mutate(rng: &mut Rng, input: &[u8], others: &[&[u8]], dict: &[Vec<u8>]) -> Option<Vec<u8>> {
    let format = format_of(input)?;
    let mut members = decode(format, input)?;
    if members.is_empty() {
        return None;
    }
    let i = rng.below(members.len());
    match rng.below(10) {
        0..=4 => {
            let data = &members[i].data;
            let new = super::json::mutate(rng, data, others, dict)
                .unwrap_or_else(|| super::bytes::mutate(rng, data, others, dict));
            members[i].data = new;
        }
        5 => {
            let tok = rng
                .pick(dict)
                .map(|t| String::from_utf8_lossy(t).into_owned());
            let m = &mut members[i];
            m.name = match rng.below(3) {
                0 => format!("{}{}", m.name, tok.unwrap_or_default()),
                1 => tok.unwrap_or_default(),
                _ => m.name.replacen('/', "/../", 1),
            };
        }
        6 => {
            let copy = members[i].clone();
            members.push(copy);
        }
        7 => {
            members.remove(i);
        }
        8 => {
            let j = rng.below(members.len());
            let target = members[j].name.clone();
            members[i].kind = Kind::Symlink(target);
            members[i].data.clear();
        }
        _ => {
            let j = rng.below(members.len());
            let copy = members[j].data.clone();
            members[i].data = copy;
        }
    }
    encode(format, &members, rng.one_in(2))
}

/// The members of an archive, or `None` when it does not decode within
/// the limits.
pub fn decode(format: Format, bytes: &[u8]) -> Option<Vec<Member>> {
    match format {
        Format::Zip => decode_zip(bytes),
        Format::Tar => decode_tar(bytes),
        Format::TarGz => {
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(bytes)
                .take(MAX_DECODED)
                .read_to_end(&mut raw)
                .ok()?;
            decode_tar(&raw)
        }
    }
}

fn decode_zip(bytes: &[u8]) -> Option<Vec<Member>> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
    let mut out = Vec::new();
    let mut total = 0u64;
    for i in 0..zip.len().min(MAX_MEMBERS) {
        let mut f = zip.by_index(i).ok()?;
        let name = f.name().ok()?.into_owned();
        let mut data = Vec::new();
        (&mut f)
            .take(MAX_DECODED - total)
            .read_to_end(&mut data)
            .ok()?;
        total += data.len() as u64;
        out.push(Member {
            name,
            kind: Kind::File,
            data,
        });
    }
    Some(out)
}

fn decode_tar(bytes: &[u8]) -> Option<Vec<Member>> {
    let mut archive = tar::Archive::new(bytes);
    let mut out = Vec::new();
    let mut total = 0u64;
    for entry in archive.entries().ok()?.take(MAX_MEMBERS) {
        let mut e = entry.ok()?;
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let kind = match e.header().entry_type() {
            tar::EntryType::Symlink => {
                let target = e.link_name_bytes().unwrap_or_default();
                Kind::Symlink(String::from_utf8_lossy(&target).into_owned())
            }
            t if t.is_file() => Kind::File,
            _ => continue,
        };
        let mut data = Vec::new();
        (&mut e)
            .take(MAX_DECODED - total)
            .read_to_end(&mut data)
            .ok()?;
        total += data.len() as u64;
        out.push(Member { name, kind, data });
    }
    Some(out)
}

/// Writes `members` as an archive of `format`; zip entries are stored or
/// deflated as `deflate` says. Members the writer refuses (a duplicate zip
/// name) are left out.
pub fn encode(format: Format, members: &[Member], deflate: bool) -> Option<Vec<u8>> {
    match format {
        Format::Zip => encode_zip(members, deflate),
        Format::Tar => encode_tar(members),
        Format::TarGz => {
            let tar = encode_tar(members)?;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&tar).ok()?;
            gz.finish().ok()
        }
    }
}

fn encode_zip(members: &[Member], deflate: bool) -> Option<Vec<u8>> {
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for m in members {
        let ok = match &m.kind {
            Kind::File => w.start_file(m.name.as_str(), options).is_ok(),
            Kind::Symlink(t) => w.add_symlink(m.name.as_str(), t.as_str(), options).is_ok(),
        };
        if ok && m.kind == Kind::File {
            w.write_all(&m.data).ok()?;
        }
    }
    Some(w.finish().ok()?.into_inner())
}

fn encode_tar(members: &[Member]) -> Option<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        let appended = match &m.kind {
            Kind::File => {
                h.set_size(m.data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, &m.name, m.data.as_slice())
            }
            Kind::Symlink(t) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, &m.name, t)
            }
        };
        // tar refuses some paths (`..`, absolute): leave those out.
        let _ = appended;
    }
    b.into_inner().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_round_trip_and_mutants_still_decode() {
        let members = vec![
            Member {
                name: "manifest.json".into(),
                kind: Kind::File,
                data: br#"{"formatVersion":1}"#.to_vec(),
            },
            Member {
                name: "cluster/nodes.json".into(),
                kind: Kind::File,
                data: br#"{"items":[]}"#.to_vec(),
            },
        ];
        for format in [Format::Zip, Format::Tar, Format::TarGz] {
            let bytes = encode(format, &members, true).unwrap();
            assert_eq!(format_of(&bytes), Some(format));
            let back = decode(format, &bytes).unwrap();
            assert_eq!(back.len(), 2);
            assert_eq!(back[1].data, members[1].data);
            let mut rng = Rng::new(9);
            let decoded = (0..50)
                .filter_map(|_| mutate(&mut rng, &bytes, &[], &[b"x".to_vec()]))
                .filter(|m| decode(format, m).is_some())
                .count();
            assert!(decoded > 25, "{format:?}: {decoded} of 50 mutants decode");
        }
    }
}
