//! Serves a bundle until Ctrl-C: `cargo run -p kpm-serve --example serve_bundle -- BUNDLE [--port N]`.
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: kpm_serve::ServeArgs,
}

fn main() -> anyhow::Result<()> {
    kpm_serve::run(Cli::parse().args)
}
