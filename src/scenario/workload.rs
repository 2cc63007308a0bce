//! Workloads: models, each a list of files given explicitly, as the seed
//! suite's linear size grid, or as seeded random sizes.

use crate::engine::{DecisionKey, KeyedRng, domain};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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
    /// Explicit files (stored compactly and shared: see [`FileList`]).
    #[serde(default, skip_serializing_if = "FileList::is_empty")]
    pub files: FileList,
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

/// One file of a [`FileList`], borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FileSpecRef<'a> {
    pub path: &'a str,
    pub size_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
}

/// Paths concatenated in one string; path i ends at byte `ends[i]`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct PathList {
    text: String,
    ends: Vec<usize>,
}

impl PathList {
    fn push(&mut self, path: &str) {
        self.text.push_str(path);
        self.ends.push(self.text.len());
    }
    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
    /// The paths in order (each slice from the previous end, no lookup).
    fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let path = &self.text[start..end];
            start = end;
            path
        })
    }
    fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
    fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct ListedFiles {
    /// Shared with the [`FileSet`]s expanded from this list.
    paths: Arc<PathList>,
    sizes: Vec<u64>,
    priorities: Vec<Option<Priority>>,
}

/// A model's explicit files (`files`, or a `manifest` read into them):
/// about 23 bytes per file (paths in one string, sizes and priorities in
/// vectors) instead of a `String` allocation each, shared by every clone
/// of the scenario and by the [`FileSet`]s made from it, so a sweep point
/// or a plan copies no file. Reads and writes JSON as an array of
/// [`FileSpec`] objects.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FileList(Arc<ListedFiles>);

/// Builds a [`FileList`] one file at a time (no allocation per file).
#[derive(Default)]
pub struct FileListBuilder {
    paths: PathList,
    sizes: Vec<u64>,
    priorities: Vec<Option<Priority>>,
}

impl FileListBuilder {
    pub fn push(&mut self, path: &str, size_bytes: u64, priority: Option<Priority>) {
        self.paths.push(path);
        self.sizes.push(size_bytes);
        self.priorities.push(priority);
    }
    pub fn len(&self) -> usize {
        self.sizes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }
    pub fn finish(mut self) -> FileList {
        self.paths.shrink_to_fit();
        self.sizes.shrink_to_fit();
        self.priorities.shrink_to_fit();
        FileList(Arc::new(ListedFiles { paths: Arc::new(self.paths), sizes: self.sizes, priorities: self.priorities }))
    }
}

impl FileList {
    pub fn len(&self) -> usize {
        self.0.sizes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.sizes.is_empty()
    }
    /// File `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<FileSpecRef<'_>> {
        let l = &*self.0;
        (i < l.sizes.len()).then(|| FileSpecRef {
            path: l.paths.get(i),
            size_bytes: l.sizes[i],
            priority: l.priorities[i],
        })
    }
    pub fn iter(&self) -> impl ExactSizeIterator<Item = FileSpecRef<'_>> + '_ {
        let l = &*self.0;
        l.paths.iter().zip(l.sizes.iter().zip(&l.priorities)).map(|(path, (&size_bytes, &priority))| FileSpecRef {
            path,
            size_bytes,
            priority,
        })
    }

    /// A list of the first `n` files (a copy of them).
    pub fn first(&self, n: usize) -> FileList {
        let mut b = FileListBuilder::default();
        self.iter().take(n).for_each(|f| b.push(f.path, f.size_bytes, f.priority));
        b.finish()
    }

    /// Whether `self` and `other` are one list, shared (not merely equal).
    pub fn is_shared_with(&self, other: &FileList) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Index and the file of the first file whose path length (bytes) or
    /// size fails `ok(path_len, size)`; lengths come from the path ends,
    /// no path is read.
    pub fn find_invalid(&self, ok: impl Fn(usize, u64) -> bool) -> Option<(usize, FileSpecRef<'_>)> {
        let l = &*self.0;
        let mut start = 0;
        let lens = l.paths.ends.iter().map(|&end| {
            let len = end - start;
            start = end;
            len
        });
        let j = lens.zip(&l.sizes).position(|(len, &size)| !ok(len, size))?;
        Some((j, self.get(j).expect("a position of the list")))
    }
}

impl std::fmt::Debug for FileList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<FileSpec> for FileList {
    fn from_iter<I: IntoIterator<Item = FileSpec>>(files: I) -> Self {
        let mut b = FileListBuilder::default();
        for f in files {
            b.push(&f.path, f.size_bytes, f.priority);
        }
        b.finish()
    }
}

impl From<Vec<FileSpec>> for FileList {
    fn from(files: Vec<FileSpec>) -> Self {
        files.into_iter().collect()
    }
}

impl Serialize for FileList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for FileList {
    /// An array of [`FileSpec`] objects (each refused if given as an
    /// array, as `shape::objects` does), read straight into the list.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Files;
        impl<'de> serde::de::Visitor<'de> for Files {
            type Value = FileList;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<FileList, A::Error> {
                let mut b = FileListBuilder::default();
                while let Some(super::shape::Obj(f)) = seq.next_element::<super::shape::Obj<FileSpec>>()? {
                    b.push(&f.path, f.size_bytes, f.priority);
                }
                Ok(b.finish())
            }
        }
        d.deserialize_seq(Files)
    }
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
    /// Explicit paths (shared with the scenario's [`FileList`] they came from).
    Listed(Arc<PathList>),
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
        let mut paths = PathList::default();
        let mut sizes = Vec::new();
        for (path, size, p) in files {
            paths.push(path);
            sizes.push((size, p));
        }
        paths.text.shrink_to_fit();
        self.models.push(ModelFiles { first, paths: Paths::Listed(Arc::new(paths)) });
        self.extend(model, sizes);
    }

    /// Add a model (the next model index) with the files of `list`, file i
    /// with priority `priority(i, its own)`; the paths are shared, not copied.
    fn push_list(&mut self, list: &FileList, priority: impl Fn(usize, Option<Priority>) -> Priority) {
        let model = self.models.len() as u32;
        let first = self.files.len() as u32;
        let l = &*list.0;
        self.models.push(ModelFiles { first, paths: Paths::Listed(Arc::clone(&l.paths)) });
        let files = l.sizes.iter().zip(&l.priorities).enumerate().map(|(i, (&size, &p))| (size, priority(i, p)));
        self.extend(model, files);
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
            Paths::Listed(paths) => paths.get(i).into(),
        }
    }

    /// Call `f(id, path)` for every file in order, stopping at its first
    /// error (listed paths are walked, generated ones written into one
    /// reused buffer).
    pub(super) fn try_for_each_path<E>(&self, mut f: impl FnMut(u32, &str) -> Result<(), E>) -> Result<(), E> {
        use std::fmt::Write as _;
        let mut buf = String::new();
        for (k, m) in self.models.iter().enumerate() {
            let end = self.models.get(k + 1).map_or(self.files.len() as u32, |n| n.first);
            match &m.paths {
                Paths::Pattern { prefix, width, suffix } => {
                    for (i, id) in (m.first..end).enumerate() {
                        buf.clear();
                        write!(buf, "{prefix}{i:0width$}{suffix}").expect("writing to a String cannot fail");
                        f(id, &buf)?;
                    }
                }
                Paths::Listed(paths) => {
                    for (id, path) in (m.first..end).zip(paths.iter()) {
                        f(id, path)?;
                    }
                }
            }
        }
        Ok(())
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
                Paths::Listed(paths) => paths.heap_bytes(),
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
                set.models.push(ModelFiles { first: set.files.len() as u32, paths: Paths::Listed(Arc::default()) });
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
            set.models.push(ModelFiles { first: set.files.len() as u32, paths: Paths::Listed(Arc::default()) });
        }
        let sizes = self.sizes(model, seed);
        if self.linear.is_some() || self.random.is_some() {
            let files = sizes.into_iter().enumerate().map(|(i, size)| (size, self.priority_of(i, None)));
            set.push_pattern(&format!("{}/file_", self.name), 4, ".bin", files);
        } else {
            set.push_list(&self.files, |i, p| self.priority_of(i, p));
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
            files: FileList::default(),
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

    /// A FileList reads and writes JSON as the `Vec<FileSpec>` it
    /// replaces, byte for byte (shard fingerprints hash the scenario's
    /// JSON), refuses an element given as an array, and its clones and the
    /// file sets made from it share its paths.
    #[test]
    fn a_file_list_is_json_of_file_specs_and_shared() {
        let text = r#"[{"path":"a/x.bin","size_bytes":5},{"path":"b","size_bytes":7,"priority":"high"}]"#;
        let list: FileList = serde_json::from_str(text).unwrap();
        let specs: Vec<FileSpec> = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&list).unwrap(), serde_json::to_string(&specs).unwrap());
        assert_eq!(serde_json::to_string(&list).unwrap(), text);
        assert_eq!(list, FileList::from(specs));
        assert_eq!(list.get(1), Some(FileSpecRef { path: "b", size_bytes: 7, priority: Some(Priority::High) }));
        assert_eq!(list.get(2), None);
        let e = serde_json::from_str::<FileList>(r#"[["a", 5]]"#).unwrap_err().to_string();
        assert!(e.contains("invalid type: sequence"), "{e}");
        let e = serde_json::from_str::<FileList>(r#"{"path":"a"}"#).unwrap_err().to_string();
        assert!(e.contains("expected a sequence"), "{e}");
        let copy = list.clone();
        assert!(Arc::ptr_eq(&copy.0, &list.0));
        let m = ModelSpec { files: list.clone(), ..model(None, None) };
        let mut set = FileSet::new();
        m.expand_into(&mut set, 0, 0);
        let Paths::Listed(paths) = &set.models[0].paths else { panic!("listed paths") };
        assert!(Arc::ptr_eq(paths, &list.0.paths));
        assert_eq!((set.path(1), set[1].priority), ("b".into(), Priority::High));
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
