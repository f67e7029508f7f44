//! Fuzzing on stable Rust for every surface of kpm that reads bytes a
//! stranger chose: the bundle reader (zip, tar.gz, folders), the manifest,
//! each kind's list loading, quantities and selectors, serve's request
//! handling and the report renderers.
//!
//! cargo-fuzz needs a nightly toolchain; this crate needs none. It is a
//! coverage-free mutational fuzzer: a deterministic PRNG ([`rng`]) drives a
//! mutation engine ([`mutate`]) over seeds read in place from `testdata/`,
//! `../shared/corpus/` and `fuzz/seeds/<target>/` ([`corpus`]); the
//! [`runner`] runs each input under `catch_unwind` and writes any input
//! that panics to `fuzz/artifacts/<target>/crash-<sha256>`. See
//! `docs/security.md` ("Fuzzing").

pub mod corpus;
pub mod mutate;
pub mod rng;
pub mod runner;
pub mod targets;
