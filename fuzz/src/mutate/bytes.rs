//! Byte- and line-level mutations: they know nothing of the format, so
//! they find what the format's parser does with garbage.

use crate::rng::Rng;

/// Bytes that sit at boundaries of text formats and integer types.
const INTERESTING: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'\n', b'/', b'=',
    b'!', b'%', b'?', b'&', b'.', b'-', b'+', b'e', b'0', b'9', 0x1b, 0xc3, 0xe2,
];

/// One random byte-level mutation of `input`.
pub fn mutate(rng: &mut Rng, input: &[u8], others: &[&[u8]], dict: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    let len = v.len();
    let at = rng.below(len + 1);
    match rng.below(12) {
        0 if len > 0 => {
            let i = rng.below(len);
            v[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            v[i] = rng.next_u64() as u8;
        }
        2 if len > 0 => {
            let i = rng.below(len);
            v[i] = *rng.pick(INTERESTING).unwrap_or(&0);
        }
        3 => {
            let n = rng.small(64);
            let ins: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            v.splice(at..at, ins);
        }
        4 | 5 => {
            if let Some(tok) = rng.pick(dict) {
                v.splice(at..at, tok.iter().copied());
            }
        }
        6 if len > 0 => {
            let start = rng.below(len);
            let n = rng.small(len - start);
            v.drain(start..start + n);
        }
        7 if len > 0 => {
            let start = rng.below(len);
            let n = rng.small(len - start);
            let chunk = v[start..start + n].to_vec();
            for _ in 0..1 + rng.below(3) {
                v.splice(at..at, chunk.iter().copied());
            }
        }
        8 => {
            if let Some(other) = rng.pick(others) {
                // Splice: this input's head, another seed's tail.
                let j = rng.below(other.len() + 1);
                v.truncate(at);
                v.extend_from_slice(&other[j..]);
            }
        }
        9 => {
            if let Some(other) = rng.pick(others) {
                let j = rng.below(other.len() + 1);
                let n = rng.small(other.len() - j + 1).min(other.len() - j);
                v.splice(at..at, other[j..j + n].iter().copied());
            }
        }
        10 => v.truncate(at),
        _ => {
            let edges = [
                "-1",
                "0",
                "4294967296",
                "9223372036854775807",
                "-9223372036854775809",
            ];
            let e = rng.pick(&edges).copied().unwrap_or("0");
            v.splice(at..at, e.bytes());
        }
    }
    v
}

/// A line-level mutation: lines swapped, repeated, taken from another seed
/// or cut at a dictionary token.
pub fn mutate_lines(rng: &mut Rng, input: &[u8], others: &[&[u8]], dict: &[Vec<u8>]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = input.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    let n = lines.len();
    let i = rng.below(n);
    match rng.below(5) {
        0 if n > 1 => {
            let j = rng.below(n);
            lines.swap(i, j);
        }
        1 => {
            let l = lines[i].clone();
            lines.insert(i, l);
        }
        2 => {
            let other = rng.pick(others).copied().unwrap_or(b"");
            let theirs: Vec<&[u8]> = other.split(|&b| b == b'\n').collect();
            if let Some(l) = rng.pick(&theirs) {
                lines[i] = l.to_vec();
            }
        }
        3 => {
            // Replace a token-delimited piece of the line by a dictionary token.
            let line = &mut lines[i];
            let at = rng.below(line.len() + 1);
            let end = (at + rng.small(16)).min(line.len());
            if let Some(tok) = rng.pick(dict) {
                line.splice(at..end, tok.iter().copied());
            }
        }
        _ => {
            let line = mutate(rng, &lines[i], others, dict);
            lines[i] = line;
        }
    }
    lines.join(&b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mutation_survives_empty_and_tiny_inputs() {
        let dict = vec![b"tok".to_vec()];
        let mut rng = Rng::new(5);
        for i in 0..5000 {
            let input: &[u8] = match i % 3 {
                0 => b"",
                1 => b"x",
                _ => b"a=b\nc",
            };
            let _ = mutate(&mut rng, input, &[b"", b"zz"], &dict);
            let _ = mutate_lines(&mut rng, input, &[b"", b"q\nr"], &dict);
        }
    }
}
