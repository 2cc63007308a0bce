//! `dlsim run` and `dlsim merge`: simulate every point of a scenario's
//! sweep (or a shard's share of them), each with N replications, and write
//! the report — or the shard's part (see [`crate::shard`]).
//!
//! **Replication seeds.** Replication 0 of a point runs with the point's
//! own seed (so `--replications 1` is the plain run, byte for byte);
//! replication r ≥ 1 runs with the first 64-bit word of the ChaCha stream
//! keyed by (point seed, [`REPLICATION_DOMAIN`], r) — see [`replication_seed`].
//! Each replication is an ordinary run: `dlsim run --seed S` with one of
//! the listed `metadata.seeds` reproduces it alone.

use crate::engine::{DecisionKey, KeyedRng};
use crate::error::{Error, Result};
use crate::par::par_map;
use crate::report::{self, BenchmarkResult, stats};
use crate::scenario::{self, Budget, Estimate, Plan, Scenario};
use crate::shard::{self, Part, Shard};
use crate::{SimOptions, check, simulate};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// What `run` and `merge` print on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdout {
    Table,
    Json,
    Csv,
}

/// The options of `dlsim run`.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub seed: Option<u64>,
    pub out: PathBuf,
    pub format: Stdout,
    pub check: bool,
    pub budget: Budget,
    /// `--shard`: `K/N`, `auto` or `auto/N`.
    pub shard: Option<String>,
    /// `--replications` (overrides `sweep.replications`).
    pub replications: Option<u32>,
}

/// Decision domain of replication seeds (distinct from the engine's).
pub const REPLICATION_DOMAIN: u64 = 0x7265_706c; // "repl"

/// The seed of replication `r` of a point whose own seed is `seed`:
/// `seed` itself for r = 0, else the first word of the ChaCha stream keyed
/// by (seed, [`REPLICATION_DOMAIN`], r).
pub fn replication_seed(seed: u64, r: u32) -> u64 {
    use rand::Rng as _;
    if r == 0 {
        return seed;
    }
    KeyedRng::new(seed).stream(DecisionKey::new(REPLICATION_DOMAIN, r as u64, 0, 0)).next_u64()
}

/// Print on stdout; a full device is an error naming stdout (a closed pipe
/// ends the command quietly in `main`).
fn say(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| Error::Write { path: PathBuf::from("standard output"), source })
}

/// The plans of the points this process runs (all, or a shard's), built
/// and checked one at a time, refusing as soon as one point, or all
/// together times the replications, exceed `budget`. With their point index.
fn plans(
    path: &Path,
    base: &Scenario,
    seed: Option<u64>,
    budget: &Budget,
    trace: bool,
    shard: Option<Shard>,
    replications: u32,
) -> Result<(usize, Vec<(usize, Plan)>)> {
    let mut points = scenario::points(base).map_err(|e| e.in_file(path))?;
    let n = points.total();
    let mut plans = Vec::new();
    let mut total = Estimate::default();
    for i in 0..n {
        if shard.is_some_and(|s| !s.owns(i)) {
            points.skip_next().expect("fewer than total points skipped").map_err(|e| e.in_file(path))?;
            continue;
        }
        let p = points.next().expect("fewer than total points built").map_err(|e| e.in_file(path))?;
        let plan = Plan::new(&p.scenario, seed, budget, trace).map_err(|e| e.in_file(path))?;
        for _ in 0..replications {
            total += *plan.estimate();
        }
        if n > 1 || replications > 1 {
            let what = match (shard, replications) {
                (Some(s), 1) => format!("shard {}/{} of the sweep's {n} points", s.index, s.count),
                (Some(s), r) => format!("shard {}/{} of the sweep's {n} points × {r} replications", s.index, s.count),
                (None, 1) => format!("the sweep's {n} points"),
                (None, r) => format!("the sweep's {n} point(s) × {r} replications"),
            };
            budget.check(&total, &what).map_err(|e| e.in_file(path))?;
        }
        plans.push((i, plan));
    }
    Ok((n, plans))
}

/// The report's JSON (as `run` writes it) and CSV.
fn render(name: &str, seed: u64, results: &[BenchmarkResult]) -> (String, String) {
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "scenario": name,
        "seed": seed,
        "results": results,
    }))
    .expect("results serialize");
    (json, report::csv(results))
}

fn print(
    format: Stdout,
    results: &[BenchmarkResult],
    json: &str,
    csv: &str,
    notes: &[String],
    speed: &str,
) -> Result<()> {
    match format {
        Stdout::Table => {
            let mut text = report::table(results);
            text.push_str(&stats::table(results));
            for n in notes {
                text.push_str(n);
                text.push('\n');
            }
            if !speed.is_empty() {
                text.push_str(speed);
                text.push('\n');
            }
            say(&text)
        }
        Stdout::Json => {
            say(&format!("{json}\n"))?;
            if !speed.is_empty() {
                eprintln!("{speed}");
            }
            Ok(())
        }
        Stdout::Csv => {
            say(csv)?;
            if !speed.is_empty() {
                eprintln!("{speed}");
            }
            Ok(())
        }
    }
}

/// `dlsim run SCENARIO`.
pub fn run(path: &Path, o: &RunOptions) -> Result<ExitCode> {
    let shard = o.shard.as_deref().map(|s| shard::parse(s, |k| std::env::var(k).ok())).transpose()?;
    let base = Scenario::load(path)?;
    let replications = match o.replications {
        Some(r) if !(1..=scenario::MAX_REPLICATIONS).contains(&r) => {
            return Err(Error::flag(
                "--replications",
                format!("must be an integer from 1 to {}, got {r}", scenario::MAX_REPLICATIONS),
            ));
        }
        Some(r) => r,
        None => scenario::replications(&base).map_err(|e| e.in_file(path))?,
    };
    let (total_points, plans) = plans(path, &base, o.seed, &o.budget, o.check, shard, replications)?;
    let runs_of: Vec<(usize, u32)> = (0..plans.len()).flat_map(|p| (0..replications).map(move |r| (p, r))).collect();
    let started = Instant::now();
    let check_runs = o.check;
    let budget = o.budget;
    let runs = par_map(&runs_of, |&(p, r)| -> Result<_> {
        let plan = &plans[p].1;
        let replica;
        let plan = if r == 0 {
            plan
        } else {
            replica = Plan::new(plan.scenario(), Some(replication_seed(plan.seed(), r)), &budget, check_runs)?;
            &replica
        };
        let run = simulate(plan, SimOptions { trace: check_runs });
        plan.check_duration(run.duration)?;
        let verdict = if check_runs { check::check_run(plan.scenario(), &run).err() } else { None };
        Ok((report::from_run(plan.scenario(), &run), verdict))
    });
    let wall = started.elapsed();
    let mut singles: Vec<BenchmarkResult> = Vec::with_capacity(runs.len());
    for (run, &(p, _)) in runs.into_iter().zip(&runs_of) {
        let (result, verdict) = run?;
        if let Some(v) = verdict {
            eprintln!("dlsim: check failed for {} (seed {}): {v}", plans[p].1.name(), result.metadata.seed);
            return Ok(ExitCode::from(1));
        }
        singles.push(result);
    }
    let events: u64 = singles.iter().map(|r| r.metadata.events).sum();
    let n_runs = singles.len();
    let results: Vec<BenchmarkResult> =
        if replications == 1 { singles } else { singles.chunks(replications as usize).map(stats::aggregate).collect() };
    report::check_finite(&results)?;
    let speed = format!(
        "simulated {n_runs} run(s), {events} events in {:.3} s wall ({:.2} M events/s)",
        wall.as_secs_f64(),
        events as f64 / wall.as_secs_f64().max(1e-9) / 1e6
    );
    let seed = scenario::resolve_seed(&base, o.seed);
    let mut notes = Vec::new();
    if o.check {
        notes.push("check: every invariant holds".to_string());
    }
    if let Some(shard) = shard {
        let fp = shard::fingerprint(&base, o.seed, replications);
        let indexed: Vec<(usize, BenchmarkResult)> =
            plans.iter().map(|(i, _)| *i).zip(results.iter().cloned()).collect();
        let part = Part::new(&base.name, seed, fp, shard, total_points, indexed);
        let text = serde_json::to_string_pretty(&part).expect("a part serializes") + "\n";
        for p in report::write_outputs(&o.out, &[(part.file_name(), text.clone().into_bytes())])? {
            notes.push(format!(
                "wrote {} (shard {}/{}: {} of {total_points} points)",
                p.display(),
                shard.index,
                shard.count,
                results.len()
            ));
        }
        let csv = report::csv(&results);
        return print(o.format, &results, text.trim_end(), &csv, &notes, &speed).map(|()| ExitCode::SUCCESS);
    }
    let (json, csv) = render(&base.name, seed, &results);
    let written = report::write_outputs(
        &o.out,
        &[
            (format!("{}.json", base.name), (json.clone() + "\n").into_bytes()),
            (format!("{}.csv", base.name), csv.clone().into_bytes()),
        ],
    )?;
    for p in &written {
        notes.push(format!("wrote {}", p.display()));
    }
    print(o.format, &results, &json, &csv, &notes, &speed)?;
    Ok(ExitCode::SUCCESS)
}

/// `dlsim merge PARTS… --out DIR`: the report files of the whole sweep,
/// byte for byte as the unsharded run writes them.
pub fn merge(parts: &[PathBuf], out: &Path, format: Stdout) -> Result<ExitCode> {
    let (name, seed, results) = shard::merge(parts)?;
    report::check_finite(&results)?;
    let (json, csv) = render(&name, seed, &results);
    let written = report::write_outputs(
        out,
        &[
            (format!("{name}.json"), (json.clone() + "\n").into_bytes()),
            (format!("{name}.csv"), csv.clone().into_bytes()),
        ],
    )?;
    let notes: Vec<String> = written.iter().map(|p| format!("wrote {}", p.display())).collect();
    print(format, &results, &json, &csv, &notes, "")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_seeds_start_with_the_point_seed_and_are_distinct() {
        assert_eq!(replication_seed(42, 0), 42);
        let seeds: Vec<u64> = (0..1000).map(|r| replication_seed(42, r)).collect();
        let mut sorted = seeds.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), seeds.len());
        assert_eq!(replication_seed(42, 7), replication_seed(42, 7));
        assert_ne!(replication_seed(42, 1), replication_seed(43, 1));
    }
}
