//! Every `testdata/` scenario survives a round trip through the writer and
//! reader: unpacked directory → zip → identical files and a clean verify.

use std::path::{Path, PathBuf};

use kpm_bundle::{Bundle, BundleWriter};

fn scenario_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_scenario_round_trips_through_a_zip() {
    let dirs = scenario_dirs();
    assert!(
        dirs.len() >= 20,
        "expected the testdata scenarios, found {}",
        dirs.len()
    );
    let tmp = tempfile::tempdir().unwrap();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let source = Bundle::open(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(source.verify().is_empty(), "{name}: {:?}", source.verify());
        assert!(
            source.unlisted_files().is_empty(),
            "{name}: unlisted {:?}",
            source.unlisted_files()
        );

        let zip_path = tmp.path().join(format!("{name}.zip"));
        let mut writer = BundleWriter::create_zip(&zip_path, false).unwrap();
        for entry in source.entries().filter(|e| *e != "manifest.json") {
            writer
                .write_entry(entry, &source.read_bytes(entry).unwrap())
                .unwrap();
        }
        writer.finish(source.manifest().clone()).unwrap();

        let copy = Bundle::open(&zip_path).unwrap();
        assert!(copy.verify().is_empty(), "{name}: {:?}", copy.verify());
        assert_eq!(
            copy.manifest(),
            source.manifest(),
            "{name}: manifest differs"
        );
        let a: Vec<&str> = source.entries().collect();
        let b: Vec<&str> = copy.entries().collect();
        assert_eq!(a, b, "{name}: entry lists differ");
        for entry in a {
            assert_eq!(
                source.read_bytes(entry).unwrap(),
                copy.read_bytes(entry).unwrap(),
                "{name}: {entry} differs"
            );
        }
    }
}
