//! Sweeps beyond one machine: `dlsim run --shard K/N` runs points K, K+N,
//! K+2N, … of a sweep (seeds unchanged: a point runs exactly as in the
//! whole sweep) and writes them as a *part*; `dlsim merge PARTS… --out DIR`
//! checks the parts belong together and cover every point once, and writes
//! the report files byte for byte as the unsharded run writes them.
//!
//! `--shard auto` takes K and N from the batch system: Slurm job arrays
//! (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`, `SLURM_ARRAY_TASK_COUNT`)
//! or Kubernetes Indexed Jobs (`JOB_COMPLETION_INDEX`, with N from
//! `auto/N` or `DLSIM_SHARD_COUNT`, as Kubernetes does not export the
//! completion count).

use crate::error::{Error, Result};
use crate::report::BenchmarkResult;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// This process's share of a sweep: points `index`, `index + count`, ….
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Most shards of one sweep.
pub const MAX_SHARDS: u32 = 1_000_000;

impl Shard {
    /// Does this shard run point `i`?
    pub fn owns(&self, i: usize) -> bool {
        i % self.count as usize == self.index as usize
    }
}

fn bad(message: impl Into<String>) -> Error {
    Error::flag("--shard", message)
}

fn number(text: &str, what: &str) -> Result<u32> {
    text.trim()
        .parse::<u32>()
        .map_err(|_| bad(format!("{what} must be an integer from 0 to {MAX_SHARDS}, got {text:?}")))
}

fn check(index: u32, count: u32, from: &str) -> Result<Shard> {
    if count == 0 || count > MAX_SHARDS {
        return Err(bad(format!("{from}: the shard count must be from 1 to {MAX_SHARDS}, got {count}")));
    }
    if index >= count {
        return Err(bad(format!("{from}: the shard index must be from 0 to {} (count − 1), got {index}", count - 1)));
    }
    Ok(Shard { index, count })
}

/// Parse `--shard`: `K/N` (0 ≤ K < N), `auto` or `auto/N`; `env` reads an
/// environment variable (a parameter, so tests need not set the process's).
pub fn parse(spec: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard> {
    let spec = spec.trim();
    let (head, count) = match spec.split_once('/') {
        Some((h, n)) => (h.trim(), Some(number(n, "N in K/N")?)),
        None => (spec, None),
    };
    if head != "auto" {
        let Some(count) = count else {
            return Err(bad(format!("expected K/N (e.g. 0/4: points 0, 4, 8, …), auto or auto/N; got {spec:?}")));
        };
        return check(number(head, "K in K/N")?, count, "K/N");
    }
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let slurm = var("SLURM_ARRAY_TASK_ID");
    let k8s = var("JOB_COMPLETION_INDEX");
    match (slurm, k8s) {
        (Some(_), Some(_)) => Err(bad(
            "auto: both SLURM_ARRAY_TASK_ID (Slurm) and JOB_COMPLETION_INDEX (Kubernetes) are set; give --shard K/N",
        )),
        (Some(id), None) => {
            let num = |name: &str, v: &str| {
                v.trim().parse::<u32>().map_err(|_| bad(format!("auto: {name}={v:?} is not a non-negative integer")))
            };
            let id = num("SLURM_ARRAY_TASK_ID", &id)?;
            let Some(n) = var("SLURM_ARRAY_TASK_COUNT") else {
                return Err(bad(
                    "auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not (Slurm sets both for a job array)",
                ));
            };
            let n = num("SLURM_ARRAY_TASK_COUNT", &n)?;
            let min = var("SLURM_ARRAY_TASK_MIN").map(|v| num("SLURM_ARRAY_TASK_MIN", &v)).transpose()?.unwrap_or(0);
            if let Some(step) = var("SLURM_ARRAY_TASK_STEP")
                && num("SLURM_ARRAY_TASK_STEP", &step)? != 1
            {
                return Err(bad(format!(
                    "auto: the job array has step {step}; use a contiguous array such as --array=0-{}",
                    n.saturating_sub(1)
                )));
            }
            if let Some(max) = var("SLURM_ARRAY_TASK_MAX") {
                let max = num("SLURM_ARRAY_TASK_MAX", &max)?;
                if max.checked_sub(min).map(|d| d as u64 + 1) != Some(n as u64) {
                    return Err(bad(format!(
                        "auto: the job array {min}-{max} is not {n} contiguous tasks (SLURM_ARRAY_TASK_COUNT); \
                         use e.g. --array=0-{}",
                        n.saturating_sub(1)
                    )));
                }
            }
            if let Some(c) = count
                && c != n
            {
                return Err(bad(format!("auto/{c}: the Slurm job array has {n} tasks (SLURM_ARRAY_TASK_COUNT)")));
            }
            let Some(k) = id.checked_sub(min) else {
                return Err(bad(format!("auto: SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}")));
            };
            check(k, n, "auto (Slurm)")
        }
        (None, Some(index)) => {
            let index = index
                .trim()
                .parse::<u32>()
                .map_err(|_| bad(format!("auto: JOB_COMPLETION_INDEX={index:?} is not a non-negative integer")))?;
            let from_env = var("DLSIM_SHARD_COUNT")
                .map(|v| {
                    v.trim().parse::<u32>().map_err(|_| bad(format!("auto: DLSIM_SHARD_COUNT={v:?} is not an integer")))
                })
                .transpose()?;
            let n = match (count, from_env) {
                (Some(c), Some(e)) if c != e => {
                    return Err(bad(format!("auto/{c} disagrees with DLSIM_SHARD_COUNT={e}")));
                }
                (Some(c), _) | (None, Some(c)) => c,
                (None, None) => {
                    return Err(bad(
                        "auto: JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) gives the index but not the count; \
                         give --shard auto/N or set DLSIM_SHARD_COUNT to the Job's completions",
                    ));
                }
            };
            check(index, n, "auto (Kubernetes)")
        }
        (None, None) => Err(bad(
            "auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) \
             is set; give --shard K/N",
        )),
    }
}

/// Version of the part format.
const PART_FORMAT: u32 = 1;

/// One shard's results: what `run --shard` writes and `merge` reads.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    pub dlsim_part: u32,
    /// The scenario's name (the report files are `<scenario>.json`/`.csv`).
    pub scenario: String,
    /// The report's top-level `seed`.
    pub seed: u64,
    /// SHA-256 of the resolved scenario and the flags that change results
    /// (`--seed`, `--replications`): parts of different runs never merge.
    pub fingerprint: String,
    pub shard: Shard,
    /// Points in the whole sweep.
    pub points: usize,
    /// The point index of each result.
    pub indices: Vec<usize>,
    pub results: Vec<BenchmarkResult>,
}

impl Part {
    pub fn new(
        scenario: &str,
        seed: u64,
        fingerprint: String,
        shard: Shard,
        points: usize,
        indexed: Vec<(usize, BenchmarkResult)>,
    ) -> Part {
        let (indices, results) = indexed.into_iter().unzip();
        Part {
            dlsim_part: PART_FORMAT,
            scenario: scenario.to_string(),
            seed,
            fingerprint,
            shard,
            points,
            indices,
            results,
        }
    }

    /// The part's file name: `<scenario>.part-K-of-N.json`.
    pub fn file_name(&self) -> String {
        format!("{}.part-{}-of-{}.json", self.scenario, self.shard.index, self.shard.count)
    }
}

/// Fingerprint of a run: SHA-256 over the resolved scenario's JSON and the
/// flags that change its results.
pub fn fingerprint(scenario: &crate::Scenario, seed: Option<u64>, replications: u32) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(serde_json::to_vec(scenario).expect("a scenario serializes"));
    h.update(format!("\n--seed {seed:?}\n--replications {replications}\n").as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn read_part(path: &Path) -> Result<Part> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    let part: Part = serde_json::from_str(&text).map_err(|e| {
        Error::Other(format!("{} is not a dlsim part (written by `dlsim run --shard K/N`): {e}", path.display()))
    })?;
    if part.dlsim_part != PART_FORMAT {
        return Err(Error::Other(format!(
            "{}: part format {} (this dlsim reads {PART_FORMAT})",
            path.display(),
            part.dlsim_part
        )));
    }
    if part.indices.len() != part.results.len() || part.indices.iter().any(|&i| i >= part.points || !part.shard.owns(i))
    {
        return Err(Error::Other(format!("{}: its point indices do not belong to its shard", path.display())));
    }
    Ok(part)
}

/// The parts given (files, or directories holding `*.part-*-of-*.json`).
fn part_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|source| Error::Read { path: p.clone(), source })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains(".part-") && n.ends_with(".json"))
                })
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(Error::Other(format!("{} holds no part (*.part-K-of-N.json)", p.display())));
            }
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Merge parts into the results of the whole sweep, in point order, with
/// the scenario's name and the report's seed. Every shard must be present
/// exactly once, all from the same run.
pub fn merge(inputs: &[PathBuf]) -> Result<(String, u64, Vec<BenchmarkResult>)> {
    let files = part_files(inputs)?;
    let mut parts: Vec<(PathBuf, Part)> = Vec::new();
    for f in files {
        let p = read_part(&f)?;
        parts.push((f, p));
    }
    let Some((first_path, first)) = parts.first() else {
        return Err(Error::Other("merge: no part given".into()));
    };
    let count = first.shard.count;
    let mut seen: Vec<Option<&Path>> = vec![None; count as usize];
    for (path, p) in &parts {
        if p.fingerprint != first.fingerprint || p.scenario != first.scenario || p.shard.count != count {
            return Err(Error::Other(format!(
                "merge: {} and {} come from different runs (scenario {:?} vs {:?}, {} vs {} shards, or a different \
                 scenario file, --seed or --replications)",
                first_path.display(),
                path.display(),
                first.scenario,
                p.scenario,
                first.shard.count,
                p.shard.count
            )));
        }
        if let Some(other) = seen[p.shard.index as usize] {
            return Err(Error::Other(format!(
                "merge: shard {}/{count} given twice ({} and {})",
                p.shard.index,
                other.display(),
                path.display()
            )));
        }
        seen[p.shard.index as usize] = Some(path);
    }
    let missing: Vec<String> =
        seen.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(k, _)| format!("{k}/{count}")).take(10).collect();
    if !missing.is_empty() {
        return Err(Error::Other(format!(
            "merge: missing shard(s) {} of {:?} (run `dlsim run SCENARIO --shard K/N` for each)",
            missing.join(", "),
            first.scenario
        )));
    }
    let (name, seed, points) = (first.scenario.clone(), first.seed, first.points);
    let mut slots: Vec<Option<BenchmarkResult>> = (0..points).map(|_| None).collect();
    for (path, p) in parts {
        for (i, r) in p.indices.into_iter().zip(p.results) {
            if slots[i].replace(r).is_some() {
                return Err(Error::Other(format!("merge: point {i} appears twice (in {})", path.display())));
            }
        }
    }
    let results: Option<Vec<BenchmarkResult>> = slots.into_iter().collect();
    let results = results.ok_or_else(|| Error::Other("merge: the parts do not cover every point".into()))?;
    Ok((name, seed, results))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn explicit_shards() {
        assert_eq!(parse("2/5", env(&[])).unwrap(), Shard { index: 2, count: 5 });
        for bad in ["5/5", "1/0", "x/2", "3", "-1/2", "1/2/3"] {
            let e = parse(bad, env(&[])).unwrap_err().to_string();
            assert!(e.contains("--shard"), "{bad}: {e}");
        }
        let s = Shard { index: 1, count: 3 };
        assert_eq!((0..9).filter(|&i| s.owns(i)).collect::<Vec<_>>(), vec![1, 4, 7]);
    }

    #[test]
    fn slurm_arrays() {
        let v = [("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        assert_eq!(parse("auto", env(&v)).unwrap(), Shard { index: 3, count: 4 });
        // --array=1-4: ids are 1-based.
        let v = [
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "4"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
        ];
        assert_eq!(parse("auto", env(&v)).unwrap(), Shard { index: 0, count: 4 });
        let e = parse("auto", env(&[("SLURM_ARRAY_TASK_ID", "1")])).unwrap_err().to_string();
        assert!(e.contains("SLURM_ARRAY_TASK_COUNT"), "{e}");
        let v = [("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_COUNT", "3"), ("SLURM_ARRAY_TASK_STEP", "2")];
        assert!(parse("auto", env(&v)).unwrap_err().to_string().contains("step 2"));
        let v = [("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_COUNT", "3")];
        assert!(parse("auto/4", env(&v)).unwrap_err().to_string().contains("3 tasks"));
        let v = [
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "4"),
        ];
        assert!(parse("auto", env(&v)).unwrap_err().to_string().contains("not 2 contiguous"));
    }

    #[test]
    fn kubernetes_indexed_jobs() {
        let v = [("JOB_COMPLETION_INDEX", "2")];
        assert_eq!(parse("auto/3", env(&v)).unwrap(), Shard { index: 2, count: 3 });
        let v2 = [("JOB_COMPLETION_INDEX", "2"), ("DLSIM_SHARD_COUNT", "3")];
        assert_eq!(parse("auto", env(&v2)).unwrap(), Shard { index: 2, count: 3 });
        assert!(parse("auto", env(&v)).unwrap_err().to_string().contains("DLSIM_SHARD_COUNT"));
        assert!(parse("auto/4", env(&v2)).unwrap_err().to_string().contains("disagrees"));
        assert!(parse("auto/2", env(&v)).unwrap_err().to_string().contains("from 0 to 1"));
    }

    #[test]
    fn auto_without_a_batch_system_or_with_both_is_an_error() {
        assert!(parse("auto", env(&[])).unwrap_err().to_string().contains("neither"));
        let v = [("JOB_COMPLETION_INDEX", "0"), ("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_COUNT", "1")];
        assert!(parse("auto", env(&v)).unwrap_err().to_string().contains("both"));
    }
}
