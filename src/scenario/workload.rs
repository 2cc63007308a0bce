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

/// A file of the expanded workload, with its path (see [`FileSet::named`]).
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

/// A file of the expanded workload as the simulator holds it: 24 bytes, its
/// path kept once per model in its [`FileSet`] (generated on demand for
/// `linear`/`random` models).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMeta {
    /// Index in the expanded workload (enqueue order).
    pub id: u32,
    pub model: u32,
    pub size: u64,
    /// Priority from the explicit file, the model, or `file_priorities`.
    pub priority: Priority,
}

/// How one model's file paths are made.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Paths {
    /// File i (0-based in the model) is `{prefix}{i:0width$}{suffix}`:
    /// distinct for distinct i, so unique within the model by construction.
    Pattern { prefix: String, width: usize, suffix: String },
    /// Explicit paths, concatenated; file i's ends at byte `ends[i]`.
    Listed { text: String, ends: Vec<usize> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ModelFiles {
    first: u32,
    paths: Paths,
}

/// The expanded workload, in enqueue order: one [`FileMeta`] per file
/// (`Deref`s to `[FileMeta]`), paths stored once per model or generated on
/// demand ([`FileSet::path`]). Shared (`Arc`) by the plan, the policy core
/// and the run record, never copied per file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileSet {
    files: Vec<FileMeta>,
    models: Vec<ModelFiles>,
}

impl std::ops::Deref for FileSet {
    type Target = [FileMeta];
    fn deref(&self) -> &[FileMeta] {
        &self.files
    }
}

impl FileSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a model (the next model index) whose file i is
    /// `{prefix}{i:0width$}{suffix}`, with `(size, priority)` per file.
    pub fn push_pattern(
        &mut self,
        prefix: &str,
        width: usize,
        suffix: &str,
        files: impl IntoIterator<Item = (u64, Priority)>,
    ) {
        let model = self.models.len() as u32;
        let first = self.files.len() as u32;
        self.models.push(ModelFiles {
            first,
            paths: Paths::Pattern { prefix: prefix.to_string(), width, suffix: suffix.to_string() },
        });
        self.extend(model, files);
    }

    /// Add a model (the next model index) with explicit `(path, size, priority)` files.
    pub fn push_listed<'a>(&mut self, files: impl IntoIterator<Item = (&'a str, u64, Priority)>) {
        let model = self.models.len() as u32;
        let first = self.files.len() as u32;
        let (mut text, mut ends) = (String::new(), Vec::new());
        let mut sizes = Vec::new();
        for (path, size, p) in files {
            text.push_str(path);
            ends.push(text.len());
            sizes.push((size, p));
        }
        text.shrink_to_fit();
        self.models.push(ModelFiles { first, paths: Paths::Listed { text, ends } });
        self.extend(model, sizes);
    }

    fn extend(&mut self, model: u32, files: impl IntoIterator<Item = (u64, Priority)>) {
        let it = files.into_iter();
        self.files.reserve(it.size_hint().0);
        for (size, priority) in it {
            let id = self.files.len() as u32;
            self.files.push(FileMeta { id, model, size, priority });
        }
    }

    /// Path of file `id`.
    pub fn path(&self, id: u32) -> std::borrow::Cow<'_, str> {
        let f = &self.files[id as usize];
        let m = &self.models[f.model as usize];
        let i = (id - m.first) as usize;
        match &m.paths {
            Paths::Pattern { prefix, width, suffix } => format!("{prefix}{i:0width$}{suffix}").into(),
            Paths::Listed { text, ends } => {
                let start = if i == 0 { 0 } else { ends[i - 1] };
                text[start..ends[i]].into()
            }
        }
    }

    /// Whether paths are unique by construction (one model of generated
    /// paths), so no check is needed.
    pub(super) fn paths_unique_by_construction(&self) -> bool {
        matches!(self.models.as_slice(), [ModelFiles { paths: Paths::Pattern { .. }, .. }])
    }

    /// Every file with its path, materialised (for the real runtime's
    /// small workloads).
    pub fn named(&self) -> Vec<File> {
        self.files
            .iter()
            .map(|f| File {
                id: f.id,
                model: f.model,
                path: self.path(f.id).into_owned(),
                size: f.size,
                priority: f.priority,
            })
            .collect()
    }

    /// Heap bytes held (files and paths), for the per-file memory account.
    pub fn heap_bytes(&self) -> usize {
        let paths: usize = self
            .models
            .iter()
            .map(|m| match &m.paths {
                Paths::Pattern { prefix, suffix, .. } => prefix.capacity() + suffix.capacity(),
                Paths::Listed { text, ends } => text.capacity() + ends.capacity() * std::mem::size_of::<usize>(),
            })
            .sum();
        self.files.capacity() * std::mem::size_of::<FileMeta>()
            + self.models.capacity() * std::mem::size_of::<ModelFiles>()
            + paths
    }
}

impl From<Vec<File>> for FileSet {
    /// Files given with their paths (ids must be their indices, models in
    /// order); each model's paths are listed.
    fn from(files: Vec<File>) -> Self {
        let mut set = FileSet::new();
        let mut i = 0;
        while i < files.len() {
            let model = files[i].model;
            let j = files[i..].iter().position(|f| f.model != model).map_or(files.len(), |k| i + k);
            while (set.models.len() as u32) < model {
                set.models.push(ModelFiles {
                    first: set.files.len() as u32,
                    paths: Paths::Listed { text: String::new(), ends: Vec::new() },
                });
            }
            set.push_listed(files[i..j].iter().map(|f| (f.path.as_str(), f.size, f.priority)));
            i = j;
        }
        debug_assert!(set.files.iter().zip(&files).all(|(a, b)| a.id == b.id && a.model == b.model));
        set
    }
}

impl ModelSpec {
    fn priority_of(&self, i: usize, p: Option<Priority>) -> Priority {
        p.or_else(|| self.file_priorities.get(i).copied()).unwrap_or(self.priority)
    }

    /// Sizes of this model's files, in enqueue order. `seed` drives `random` sizes.
    fn sizes(&self, model: u32, seed: u64) -> Vec<u64> {
        if let Some(r) = &self.linear {
            (0..r.count as usize)
                .map(|i| {
                    let span = (r.max_size_bytes - r.min_size_bytes) as u128;
                    r.min_size_bytes + (span * i as u128 / r.count as u128) as u64
                })
                .collect()
        } else if let Some(r) = &self.random {
            let rng = KeyedRng::new(seed);
            // libm (a port of musl's) gives the same bits on every platform; std's ln/exp may not.
            let (lo, hi) = (libm::log(r.min_size_bytes as f64), libm::log(r.max_size_bytes as f64));
            (0..r.count as usize)
                .map(|i| {
                    let u = rng.uniform(DecisionKey::new(domain::FILE_SIZE, model as u64, i as u64, 0));
                    (libm::exp(lo + u * (hi - lo)).round() as u64).clamp(r.min_size_bytes, r.max_size_bytes)
                })
                .collect()
        } else {
            self.files.iter().map(|f| f.size_bytes).collect()
        }
    }

    /// Files of this model, in enqueue order, with their paths. `seed` drives `random` sizes.
    pub fn expand(&self, model: u32, first_id: u32, seed: u64) -> Vec<File> {
        let mut set = FileSet::new();
        self.expand_into(&mut set, model, seed);
        set.named()
            .into_iter()
            .filter(|f| f.model == model)
            .map(|f| File { id: first_id + (f.id - set.models[model as usize].first), ..f })
            .collect()
    }

    /// Append this model (index `model`, the set's next) to `set`.
    fn expand_into(&self, set: &mut FileSet, model: u32, seed: u64) {
        while (set.models.len() as u32) < model {
            set.models.push(ModelFiles {
                first: set.files.len() as u32,
                paths: Paths::Listed { text: String::new(), ends: Vec::new() },
            });
        }
        let sizes = self.sizes(model, seed);
        if self.linear.is_some() || self.random.is_some() {
            let files = sizes.into_iter().enumerate().map(|(i, size)| (size, self.priority_of(i, None)));
            set.push_pattern(&format!("{}/file_", self.name), 4, ".bin", files);
        } else {
            set.push_listed(
                self.files
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.path.as_str(), f.size_bytes, self.priority_of(i, f.priority))),
            );
        }
    }
}

impl Workload {
    /// All files of all models with their paths, in enqueue order (model
    /// order, then file order). The simulator uses the compact [`Self::file_set`].
    pub fn expand(&self, seed: u64) -> Vec<File> {
        self.file_set(seed).named()
    }

    /// All files of all models, in enqueue order, as a compact [`FileSet`].
    pub fn file_set(&self, seed: u64) -> FileSet {
        let mut set = FileSet::new();
        for (m, spec) in self.models.iter().enumerate() {
            spec.expand_into(&mut set, m as u32, seed);
        }
        set
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
