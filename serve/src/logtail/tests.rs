use super::*;
use std::io::Write;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The kubelet's order on a whole text: tail, since, limit.
fn reference(text: &[u8], plan: &Plan) -> Vec<u8> {
    if plan.empty {
        return Vec::new();
    }
    let mut lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
    if let Some(n) = plan.tail_lines {
        let skip = lines.len().saturating_sub(n as usize);
        lines.drain(..skip);
    }
    if let Some(since) = plan.since {
        lines.retain(|l| line_time(&l[..l.len().min(HEAD_MAX)]).is_none_or(|t| t >= since));
    }
    let mut out = lines.concat();
    if let Some(l) = plan.limit_bytes {
        out.truncate(l as usize);
    }
    out
}

fn plans() -> Vec<Plan> {
    let since = Some(at("2025-03-01T11:59:00Z"));
    let mut out = Vec::new();
    for tail_lines in [None, Some(0), Some(1), Some(2), Some(5), Some(1000)] {
        for limit_bytes in [None, Some(1), Some(30), Some(100_000)] {
            for since in [None, since] {
                out.push(Plan {
                    tail_lines,
                    since,
                    limit_bytes,
                    empty: false,
                });
            }
        }
    }
    out
}

fn texts() -> Vec<Vec<u8>> {
    let long = "x".repeat(CHUNK + 17);
    vec![
        b"".to_vec(),
        b"one line without newline".to_vec(),
        b"starting\nlistening on :8080\npanic: nil map\n".to_vec(),
        b"2025-03-01T11:50:00Z old\n2025-03-01T11:59:30Z new\nplain\n\n2025-03-01T11:58:59.999Z just before".to_vec(),
        format!("2025-03-01T11:50:00Z {long}\n{long}\n2025-03-01T11:59:59Z {long}\nend").into_bytes(),
        "é\u{1b}[2J\n\u{0}\n".repeat(3).into_bytes(),
    ]
}

#[test]
fn file_and_zip_streams_match_the_whole_text_semantics() {
    let dir = tempfile::tempdir().unwrap();
    for (t, text) in texts().into_iter().enumerate() {
        let file = dir.path().join(format!("{t}.log"));
        std::fs::write(&file, &text).unwrap();
        let zip = dir.path().join(format!("{t}.zip"));
        let mut w = zip::ZipWriter::new(File::create(&zip).unwrap());
        w.start_file("logs/a/b/c.log", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&text).unwrap();
        w.finish().unwrap();
        for plan in plans() {
            let want = reference(&text, &plan);
            let from_file = LogStream {
                source: LogSource::File(File::open(&file).unwrap()),
                plan: plan.clone(),
            }
            .collect();
            assert_eq!(from_file, want, "file, text {t}, {plan:?}");
            let source = LogFiles::new(&zip).open("logs/a/b/c.log").unwrap();
            let from_zip = LogStream {
                source,
                plan: plan.clone(),
            }
            .collect();
            assert_eq!(from_zip, want, "zip, text {t}, {plan:?}");
        }
    }
}

#[test]
fn tail_of_a_huge_sparse_file_reads_only_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    let mut f = File::create(&path).unwrap();
    f.set_len(8 << 30).unwrap();
    f.seek(SeekFrom::End(0)).unwrap();
    for i in 0..20 {
        writeln!(f, "line {i}").unwrap();
    }
    drop(f);
    let body = LogStream {
        source: LogSource::File(File::open(&path).unwrap()),
        plan: Plan {
            tail_lines: Some(3),
            ..Plan::default()
        },
    }
    .collect();
    assert_eq!(body, b"line 17\nline 18\nline 19\n");
}

#[test]
fn a_client_that_leaves_stops_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    std::fs::write(&path, vec![b'a'; CHUNK * 4]).unwrap();
    let mut calls = 0;
    LogStream {
        source: LogSource::File(File::open(&path).unwrap()),
        plan: Plan::default(),
    }
    .run(&mut |_| {
        calls += 1;
        false
    })
    .unwrap();
    assert_eq!(calls, 1);
}

#[test]
fn unsafe_or_linked_entries_are_not_opened() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), "s").unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret"), dir.path().join("logs/x.log")).unwrap();
    let files = LogFiles::new(dir.path());
    assert!(files.open("../secret").is_err());
    assert!(files.open("logs/x.log").is_err());
}
