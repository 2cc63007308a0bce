//! Workloads: models, each a list of files given explicitly, as the seed
//! suite's linear size grid, or as seeded random sizes.

use crate::engine::{DecisionKey, KeyedRng, domain};
use serde::{Deserialize, Serialize};

/// Download priority; `High` sorts first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    High,
    Normal,
    Low,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::High, Priority::Normal, Priority::Low];
    pub fn index(self) -> usize {
        self as usize
    }
    pub fn name(self) -> &'static str {
        ["high", "normal", "low"][self as usize]
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    #[serde(deserialize_with = "super::shape::objects")]
    pub models: Vec<ModelSpec>,
}

/// One model (a repository of files). Give exactly one of `files`,
/// `linear`, `random`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    /// Model priority (default `normal`).
    #[serde(default = "normal")]
    pub priority: Priority,
    /// Explicit files.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "super::shape::objects")]
    pub files: Vec<FileSpec>,
    /// File i of `count` has size min + i·(max−min)/count (the seed suite's grid).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::shape::opt_object")]
    pub linear: Option<SizeRange>,
    /// `count` files with sizes drawn log-uniformly in [min, max] from the seed.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::shape::opt_object")]
    pub random: Option<SizeRange>,
    /// A CSV or JSON-lines file listing the files (`path,size[,priority]`),
    /// relative to the scenario file; read streaming into `files` when the
    /// scenario is loaded (see manifest.rs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// For `linear`/`random`: priorities of the first files in order, e.g.
    /// `["high","high","low"]`; the rest get the model's (default empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_priorities: Vec<Priority>,
}

fn normal() -> Priority {
    Priority::Normal
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub path: String,
    #[serde(deserialize_with = "super::units::bytes")]
    pub size_bytes: u64,
    /// Overrides the model's priority (default: the model's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeRange {
    pub count: u32,
    #[serde(deserialize_with = "super::units::bytes")]
    pub min_size_bytes: u64,
    #[serde(deserialize_with = "super::units::bytes")]
    pub max_size_bytes: u64,
}

/// A file of the expanded workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Index in the expanded workload (enqueue order).
    pub id: u32,
    pub model: u32,
    pub path: String,
    pub size: u64,
    /// Priority from the explicit file, the model, or `file_priorities`.
    pub priority: Priority,
}

impl ModelSpec {
    /// Files of this model, in enqueue order. `seed` drives `random` sizes.
    pub fn expand(&self, model: u32, first_id: u32, seed: u64) -> Vec<File> {
        let mk = |i: usize, path: String, size: u64, p: Option<Priority>| File {
            id: first_id + i as u32,
            model,
            path,
            size,
            priority: p.or_else(|| self.file_priorities.get(i).copied()).unwrap_or(self.priority),
        };
        if let Some(r) = &self.linear {
            (0..r.count as usize)
                .map(|i| {
                    let span = (r.max_size_bytes - r.min_size_bytes) as u128;
                    let size = r.min_size_bytes + (span * i as u128 / r.count as u128) as u64;
                    mk(i, format!("{}/file_{i:04}.bin", self.name), size, None)
                })
                .collect()
        } else if let Some(r) = &self.random {
            let rng = KeyedRng::new(seed);
            // libm (a port of musl's) gives the same bits on every platform; std's ln/exp may not.
            let (lo, hi) = (libm::log(r.min_size_bytes as f64), libm::log(r.max_size_bytes as f64));
            (0..r.count as usize)
                .map(|i| {
                    let u = rng.uniform(DecisionKey::new(domain::FILE_SIZE, model as u64, i as u64, 0));
                    let size = (libm::exp(lo + u * (hi - lo)).round() as u64).clamp(r.min_size_bytes, r.max_size_bytes);
                    mk(i, format!("{}/file_{i:04}.bin", self.name), size, None)
                })
                .collect()
        } else {
            self.files.iter().enumerate().map(|(i, f)| mk(i, f.path.clone(), f.size_bytes, f.priority)).collect()
        }
    }
}

impl Workload {
    /// All files of all models, in enqueue order (model order, then file order).
    pub fn expand(&self, seed: u64) -> Vec<File> {
        let mut out = Vec::new();
        for (m, spec) in self.models.iter().enumerate() {
            let files = spec.expand(m as u32, out.len() as u32, seed);
            out.extend(files);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(linear: Option<SizeRange>, random: Option<SizeRange>) -> ModelSpec {
        ModelSpec {
            name: "m".into(),
            priority: Priority::Normal,
            files: vec![],
            linear,
            random,
            manifest: None,
            file_priorities: vec![Priority::High],
        }
    }

    #[test]
    fn linear_grid_matches_the_seed_suite_formula() {
        let m = model(Some(SizeRange { count: 4, min_size_bytes: 100, max_size_bytes: 500 }), None);
        let files = m.expand(2, 10, 0);
        let sizes: Vec<u64> = files.iter().map(|f| f.size).collect();
        assert_eq!(sizes, vec![100, 200, 300, 400]);
        assert_eq!(files[0].path, "m/file_0000.bin");
        assert_eq!(files[3].id, 13);
        assert_eq!(files[0].priority, Priority::High);
        assert_eq!(files[1].priority, Priority::Normal);
    }

    #[test]
    fn random_sizes_are_seeded_and_in_range() {
        let m = model(None, Some(SizeRange { count: 50, min_size_bytes: 1000, max_size_bytes: 1_000_000 }));
        let a = m.expand(0, 0, 1);
        assert_eq!(a, m.expand(0, 0, 1));
        assert_ne!(a, m.expand(0, 0, 2));
        assert!(a.iter().all(|f| (1000..=1_000_000).contains(&f.size)));
    }
}
