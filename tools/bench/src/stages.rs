//! The benchmark stages a subcommand runs, each adding its Markdown
//! sections to the output.

use anyhow::Result;

use crate::data::{self, Spec};
use crate::env::Env;
use crate::prepared::{gen_table, prepare, prepare_all, Prepared};
use crate::{analyze, collect, diff, foreign, injected, Global, Output};

/// `diff`: each size's BEFORE (the usual bundle) and AFTER (the same
/// cluster an hour later with a fraction `perturb` of its apps changed),
/// the diff timed against the analysis.
pub(crate) fn diff_all(
    env: &Env,
    g: &Global,
    out: &mut Output,
    sizes: &[String],
    perturb: f64,
) -> Result<()> {
    let mut benches = Vec::new();
    for size in sizes {
        let before = prepare(env, g, size)?;
        let spec = Spec {
            size: size.clone(),
            seed: g.seed,
            failure_rate: g.failure_rate,
            perturb,
        };
        let after = data::ensure(env, &spec, g.regen)?;
        benches.push(diff::run(
            env,
            size,
            &before.path,
            &after.path,
            before.stats.pods,
            g.reps,
        )?);
    }
    out.section(
        "kpm-analyze diff vs kpm-analyze",
        &diff::table(&benches).render(),
    );
    Ok(())
}

/// Fails when an analysis missed one of its bundle's injected failures.
pub(crate) fn require_recall(analyses: &[analyze::Analysis]) -> Result<()> {
    injected::require_all_found(
        analyses
            .iter()
            .filter_map(|a| a.recall.as_ref().map(|r| (a.size.as_str(), r))),
    )
}

/// `all`: every stage over its sizes, each preparing its bundles once and
/// reporting its own failure so one broken component does not hide the
/// figures of the others.
pub(crate) fn run_all(
    env: &Env,
    g: &Global,
    out: &mut Output,
    sizes: &[String],
    collect_sizes: &[String],
    serve_size: &str,
) -> Result<()> {
    let serve = [serve_size.to_string()];
    let mut unique: Vec<String> = Vec::new();
    for s in sizes.iter().chain(collect_sizes).chain(&serve) {
        if !unique.contains(s) {
            unique.push(s.clone());
        }
    }
    let prepared = prepare_all(env, g, &unique)?;
    out.section("Bundles", &gen_table(&prepared).render());
    let pick = |names: &[String]| -> Vec<Prepared> {
        prepared
            .iter()
            .filter(|p| names.contains(&p.size))
            .cloned()
            .collect()
    };
    let chosen = pick(sizes);
    let analyses = match analyze_all(env, g, &chosen) {
        Ok(a) => {
            report_analyses(out, &a);
            if let Err(e) = require_recall(&a) {
                out.section("Injected failures", &format!("FAILED: {e:#}\n"));
            }
            a
        }
        Err(e) => {
            out.section("kpm-analyze --format html", &format!("FAILED: {e:#}\n"));
            Vec::new()
        }
    };
    match floor_all(env, &chosen, &analyses) {
        Ok(f) => out.section("Raw floor vs analysis", &analyze::floor_table(&f).render()),
        Err(e) => out.section("Raw floor vs analysis", &format!("FAILED: {e:#}\n")),
    }
    for p in pick(&serve) {
        match collect::serve(env, &p.size, &p.path, &p.stats, g.reps) {
            Ok(b) => out.section(
                "kubectl against kpm-analyze serve",
                &collect::serve_table(&[b]).render(),
            ),
            Err(e) => out.section(
                "kubectl against kpm-analyze serve",
                &format!("FAILED: {e:#}\n"),
            ),
        }
    }
    if let Err(e) = collect_all(env, out, &pick(collect_sizes), None, &[]) {
        out.section(
            "kpm-collect vs kubectl cluster-info dump",
            &format!("FAILED: {e:#}\n"),
        );
    }
    Ok(())
}

/// `foreign`: each size's zip and its troubleshoot archive, analysed.
pub(crate) fn foreign_all(env: &Env, g: &Global, out: &mut Output, sizes: &[String]) -> Result<()> {
    let prepared = prepare_all(env, g, sizes)?;
    out.section("Bundles", &gen_table(&prepared).render());
    let comparisons = prepared
        .iter()
        .map(|p| foreign::compare(env, &p.size, &p.path, &p.stats, g.reps, g.regen))
        .collect::<Result<Vec<_>>>()?;
    let mut body = foreign::table(&comparisons).render();
    let note = foreign::dropped_note(&comparisons);
    if !note.is_empty() {
        body.push('\n');
        body.push_str(&note);
    }
    out.section("kpm-analyze: troubleshoot archive vs kpm zip", &body);
    Ok(())
}

/// Analyses every prepared bundle.
pub(crate) fn analyze_all(
    env: &Env,
    g: &Global,
    prepared: &[Prepared],
) -> Result<Vec<analyze::Analysis>> {
    prepared
        .iter()
        .map(|p| analyze::run(env, &p.size, &p.path, &p.stats, g.reps))
        .collect()
}

/// Adds the analysis table and its growth curve to the output.
pub(crate) fn report_analyses(out: &mut Output, analyses: &[analyze::Analysis]) {
    out.section(
        "kpm-analyze --format html",
        &analyze::table(analyses).render(),
    );
    let growth = analyze::growth(analyses);
    if !growth.is_empty() {
        out.section(
            "Growth of analysis time with pods",
            &analyze::growth_table(&growth).render(),
        );
    }
}

/// The raw parse floor of every prepared bundle, next to its analysis.
pub(crate) fn floor_all(
    env: &Env,
    prepared: &[Prepared],
    analyses: &[analyze::Analysis],
) -> Result<Vec<analyze::Floor>> {
    prepared
        .iter()
        .map(|p| {
            analyze::floor(
                env,
                &p.size,
                &p.path,
                analyses.iter().find(|a| a.size == p.size),
            )
        })
        .collect()
}

/// kpm-collect against kubectl cluster-info dump for every prepared bundle,
/// with what each gathered.
pub(crate) fn collect_all(
    env: &Env,
    out: &mut Output,
    prepared: &[Prepared],
    latency_ms: Option<u64>,
    collect_args: &[String],
) -> Result<()> {
    let benches = prepared
        .iter()
        .map(|p| collect::collect(env, &p.size, &p.path, &p.stats, latency_ms, collect_args))
        .collect::<Result<Vec<_>>>()?;
    out.section(
        "kpm-collect vs kubectl cluster-info dump",
        &collect::collect_table(&benches).render(),
    );
    for b in &benches {
        let mut body = collect::gathered_table(b).render();
        if !b.shortfalls.is_empty() {
            body.push_str(&format!("\nShortfalls: {}\n", b.shortfalls.join("; ")));
        }
        out.section(&format!("What each gathered ({})", b.size), &body);
    }
    Ok(())
}
