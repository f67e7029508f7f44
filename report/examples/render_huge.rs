//! Rendering cost on a report the size of a 150,000-pod cluster (3,000
//! incidents × 40 consequences, 200,000 timeline entries, 5,000 nodes).
//! A benchmark, not a test: `cargo run --release -p kpm-report --example render_huge`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

fn main() -> Result<(), kpm_report::RenderError> {
    let report = common::huge();
    let renderer = kpm_report::Renderer::new(None)?;
    let t = Instant::now();
    let html = renderer.html(&report)?;
    println!("html: {} bytes in {:?}", html.len(), t.elapsed());
    let t = Instant::now();
    let md = renderer.markdown(&report)?;
    println!(
        "markdown: {} chars in {:?}",
        md.chars().count(),
        t.elapsed()
    );
    let t = Instant::now();
    let small = renderer.html(&common::crashloop())?;
    println!(
        "html (small report): {} bytes in {:?}",
        small.len(),
        t.elapsed()
    );
    Ok(())
}
