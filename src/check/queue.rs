//! The checker's model of the download queue: which file may be dispatched.

use super::{Check, fail};
use crate::scenario::{FileSet, Priority, PriorityRule, Scenario, Scheduling};

/// The original's per-file rule, re-derived from the schema docs (not the
/// core's code): a file named `*.json`, `*.yaml`, `*.yml` or `*.txt`
/// (extension of the last path component, any ASCII case) is HIGH; else
/// below 100 MiB = 104 857 600 bytes NORMAL; else LOW.
pub fn by_file_type(path: &str, size: u64) -> Priority {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rfind('.').map(|i| &name[i + 1..]);
    let config = ext.is_some_and(|e| ["json", "yaml", "yml", "txt"].iter().any(|c| e.eq_ignore_ascii_case(c)));
    match size {
        _ if config => Priority::High,
        0..104_857_600 => Priority::Normal,
        _ => Priority::Low,
    }
}

/// `(priority, tiebreak, enqueue order)`: smaller goes first.
type Key = (Priority, u64, u32);

pub(super) struct QueueModel {
    sequential: bool,
    global_limit: u32,
    model_limit: u32,
    keys: Vec<Key>,
    file_model: Vec<u32>,
    /// Per model: its files' keys, sorted, and the index of the first
    /// still queued (a dispatch takes only its model's first key, so the
    /// queue shrinks from the front).
    queued: Vec<(Vec<Key>, usize)>,
    active: Vec<u32>,
    remaining: Vec<u32>,
    total_active: u32,
    /// Models by `(model priority, model order)`.
    model_order: Vec<u32>,
}

impl QueueModel {
    pub(super) fn new(s: &Scenario, files: &FileSet) -> Self {
        let c = &s.client;
        let n = s.workload.models.len();
        let mut q = QueueModel {
            sequential: c.scheduling == Scheduling::SequentialModels,
            global_limit: c.max_concurrent_downloads,
            model_limit: c.max_concurrent_files_per_model,
            keys: Vec::with_capacity(files.len()),
            file_model: Vec::with_capacity(files.len()),
            queued: Vec::new(),
            active: vec![0; n],
            remaining: vec![0; n],
            total_active: 0,
            model_order: (0..n as u32).collect(),
        };
        q.model_order.sort_by_key(|m| (s.workload.models[*m as usize].priority, *m));
        // Each model's keys collected, then its set built at once (a sort and
        // a bulk build instead of one insert per file).
        let mut keys: Vec<Vec<Key>> = vec![Vec::new(); n];
        for f in files.iter() {
            let key = match c.priority_rule {
                PriorityRule::Model => (f.priority, 0, f.id),
                PriorityRule::ByFileType => (by_file_type(&files.path(f.id), f.size), f.size, f.id),
            };
            q.keys.push(key);
            q.file_model.push(f.model);
            if let Some(k) = keys.get_mut(f.model as usize) {
                k.push(key);
                q.remaining[f.model as usize] += 1;
            }
        }
        q.queued = keys
            .into_iter()
            .map(|mut k| {
                k.sort_unstable(); // keys are unique: each ends with its file id
                (k, 0)
            })
            .collect();
        q
    }

    /// Sequential mode: the first model in run order with files not ended.
    fn current_model(&self) -> Option<u32> {
        self.model_order.iter().copied().find(|m| self.remaining[*m as usize] > 0)
    }

    /// Model `m`'s first queued key.
    fn first_queued(&self, m: u32) -> Option<Key> {
        let (keys, head) = &self.queued[m as usize];
        keys.get(*head).copied()
    }

    /// The file the queue must dispatch next if a global slot is free.
    fn head(&self) -> Option<(Key, u32)> {
        let eligible = |m: u32| self.active[m as usize] < self.model_limit;
        if self.sequential {
            let m = self.current_model()?;
            let k = self.first_queued(m)?;
            eligible(m).then_some((k, m))
        } else {
            (0..self.queued.len() as u32)
                .filter(|m| eligible(*m))
                .filter_map(|m| self.first_queued(m).map(|k| (k, m)))
                .min()
        }
    }

    pub(super) fn dispatch(&mut self, file: u32, model: u32, priority: Priority) -> Check {
        let key = self.keys[file as usize];
        let m = self.file_model[file as usize];
        if model != m || priority != key.0 {
            return fail(
                "dispatch names the file's model and priority",
                format!("file {file}: model {model} priority {priority:?}, expected {m} {:?}", key.0),
            );
        }
        if self.total_active >= self.global_limit {
            return fail(
                "global concurrency limit",
                format!("{} files active, limit {}", self.total_active + 1, self.global_limit),
            );
        }
        if self.active[m as usize] >= self.model_limit {
            return fail(
                "per-model concurrency limit",
                format!("model {m}: {} files active, limit {}", self.active[m as usize] + 1, self.model_limit),
            );
        }
        if self.sequential && self.current_model() != Some(m) {
            return fail(
                "sequential_models: one model at a time, in priority-then-FIFO order",
                format!("file {file} of model {m} dispatched while model {:?} is current", self.current_model()),
            );
        }
        match self.head() {
            Some((head, hm)) if head != key => {
                let (invariant, why) = if head.0 < key.0 {
                    ("priority: no dispatch while a higher-priority file waits for the slot", "higher priority")
                } else {
                    ("FIFO by enqueue order within a priority", "earlier")
                };
                return fail(
                    invariant,
                    format!("file {file} {key:?} dispatched before {why} file {} {head:?} of model {hm}", head.2),
                );
            }
            None => return fail("every file dispatched once", format!("file {file} is not queued")),
            _ => {}
        }
        // `key` is the head, so its model's first queued key.
        self.queued[m as usize].1 += 1;
        self.active[m as usize] += 1;
        self.total_active += 1;
        Ok(())
    }

    pub(super) fn ended(&mut self, file: u32) {
        let m = self.file_model[file as usize] as usize;
        self.active[m] -= 1;
        self.remaining[m] -= 1;
        self.total_active -= 1;
    }

    /// No slot stays free while a file that may take it waits.
    pub(super) fn work_conserving(&self) -> Check {
        if self.total_active < self.global_limit
            && let Some((k, m)) = self.head()
        {
            return fail(
                "dispatch is work-conserving",
                format!(
                    "file {} of model {m} waits with {} of {} slots busy",
                    k.2, self.total_active, self.global_limit
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::by_file_type;
    use crate::scenario::Priority::{High, Low, Normal};

    #[test]
    fn the_file_type_rule_on_a_table_of_cases() {
        let mib = 1u64 << 20;
        let cases = [
            ("config.json", 200 * mib, High),
            ("m/tokenizer.YAML", 1, High),
            ("a/b/c.yml", 100 * mib, High),
            ("README.Txt", 0, High),
            ("weights.bin", 100 * mib - 1, Normal),
            ("weights.bin", 100 * mib, Low),
            ("json", 5, Normal),
            ("model.json.bin", 5, Normal),
            ("dir.json/weights", 5, Normal),
            ("noext", 101 * mib, Low),
        ];
        for (path, size, want) in cases {
            assert_eq!(by_file_type(path, size), want, "{path} {size}");
        }
    }
}
