//! Sweeps: one scenario file expanding to several runs that differ in one
//! knob (or a few). A knob is a dotted path into the scenario with all
//! defaults filled in, so any field can be swept.

use super::preset::{NAMES, Preset};
use super::schema::{BandwidthLimit, Scenario};
use super::validate::excerpt;
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::BTreeSet;

/// Largest number of points in one sweep.
pub const MAX_POINTS: usize = 100_000;

/// Most replications (seeds) per point.
pub const MAX_REPLICATIONS: u32 = 10_000;

/// The replications a scenario asks for (`sweep.replications`, default 1),
/// checked against [`MAX_REPLICATIONS`].
pub fn replications(base: &Scenario) -> Result<u32> {
    let n = base.sweep.as_ref().map_or(1, |s| s.replications);
    if !(1..=MAX_REPLICATIONS).contains(&n) {
        return Err(Error::scenario(
            "sweep.replications",
            format!("must be an integer from 1 to {MAX_REPLICATIONS}, got {n}"),
        ));
    }
    Ok(n)
}

/// One run of a sweep: its result name and its validated scenario (its
/// `seed` is the point's own: the base seed unless the point sets `seed`).
#[derive(Clone, Debug)]
pub struct SweepPoint {
    pub name: String,
    pub scenario: Scenario,
}

fn value_label(v: &Value) -> String {
    match v {
        Value::Null => "unlimited".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn pointer(knob: &str) -> String {
    format!("/{}", knob.replace('.', "/"))
}

/// Array elements whose paths [`nearest`] suggests from: the first few.
const KNOB_SPACE_ELEMENTS: usize = 3;

/// Every dotted path of `v` (array elements: the first few only).
fn paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    let mut push = |k: String, child: &Value| {
        let p = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
        out.push(p.clone());
        paths(child, &p, out);
    };
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| push(k.clone(), c)),
        Value::Array(a) => a.iter().take(KNOB_SPACE_ELEMENTS).enumerate().for_each(|(i, c)| push(i.to_string(), c)),
        _ => {}
    }
}

/// The knob path nearest to `knob` by edit distance, if any is close.
fn nearest(full: &Value, knob: &str) -> Option<String> {
    let mut all = Vec::new();
    paths(full, "", &mut all);
    all.into_iter()
        .filter(|p| p != "name" && p != "sweep")
        .map(|p| (strsim::levenshtein(knob, &p), p))
        .min()
        .filter(|(d, _)| *d <= knob.chars().count().max(6) / 2)
        .map(|(_, p)| p)
}

/// The scenario's JSON with every optional section filled in, so that each
/// documented knob path exists (e.g. `client.bandwidth_limit.rate_bps`).
fn knob_space(template: &Value) -> Value {
    let mut full = template.clone();
    if full.pointer("/client/bandwidth_limit").is_some_and(Value::is_null) {
        let limit: BandwidthLimit =
            serde_json::from_value(serde_json::json!({"rate_bps": 1.0})).expect("a rate alone is a valid limit");
        full["client"]["bandwidth_limit"] = serde_json::to_value(limit).expect("a limit serializes");
    }
    full
}

/// Set `dotted.path` in `root`. The path must be a field of the schema
/// (`full`); an optional section that is `null` in `root` becomes an
/// object holding just this field (the rest take their defaults).
fn set_knob(root: &mut Value, full: &Value, knob: &str, value: Value, field: &str) -> Result<()> {
    if full.pointer(&pointer(knob)).is_none() || knob == "sweep" || knob.starts_with("sweep.") {
        let hint = match nearest(full, knob) {
            Some(p) => format!("did you mean {p:?}?"),
            None => "use a dotted path to a scenario field, e.g. \"client.max_concurrent_downloads\"".into(),
        };
        return Err(Error::scenario(field, format!("unknown knob {:?}: {hint}", excerpt(knob))));
    }
    let segs: Vec<&str> = knob.split('.').collect();
    let mut slot = root;
    for (i, seg) in segs.iter().enumerate() {
        if slot.is_null() {
            *slot = Value::Object(serde_json::Map::new());
        }
        let last = i + 1 == segs.len();
        slot = match slot {
            Value::Object(m) if last => {
                m.insert((*seg).to_string(), value);
                return Ok(());
            }
            Value::Object(m) => m.entry(seg.to_string()).or_insert(Value::Null),
            Value::Array(a) => {
                let i: usize = seg.parse().expect("the path exists in the schema, so this is an index");
                if last {
                    a[i] = value;
                    return Ok(());
                }
                &mut a[i]
            }
            _ => unreachable!("the path exists in the schema, so every prefix is an object or array"),
        };
    }
    unreachable!("a knob has at least one segment")
}

/// The knob that swaps the whole client for a tool's preset.
const PRESET_KNOB: &str = "client.preset";

/// A point's `client.preset`: the client becomes that preset's, keeping
/// what a preset does not decide (the bandwidth limit and the CPU model),
/// as `dlsim compare` does; `null` keeps the scenario's own client.
fn set_preset(root: &mut Value, value: Value, field: &str) -> Result<()> {
    if value.is_null() {
        return Ok(());
    }
    let Some(p) = value.as_str().and_then(Preset::parse) else {
        let got = excerpt(&value.to_string());
        return Err(Error::scenario(field, format!("client.preset must be one of {NAMES} or null, got {got}")));
    };
    let mut client = serde_json::to_value(p.client()).expect("a client serializes");
    for keep in ["bandwidth_limit", "cpu"] {
        if let Some(v) = root.pointer(&format!("/client/{keep}")) {
            client[keep] = v.clone();
        }
    }
    root["client"] = client;
    Ok(())
}

/// The points of a sweep, built and validated one at a time as they are
/// asked for (never all at once): a sweep of many points costs the memory
/// of the points kept, not of all of them.
pub struct Points<'a> {
    base: &'a Scenario,
    /// The base without its sweep, as JSON: what each point is built from.
    /// When no knob touches `workload`, each model's listed files are cut
    /// to the first few (enough for [`nearest`]'s suggestions) and every
    /// point gets the base's lists themselves, shared ([`FileList`](super::FileList) is an
    /// `Arc`), instead of writing and reading them all again.
    template: Value,
    /// Points share the base's file lists (no knob touches `workload`).
    shared_files: bool,
    full: Value,
    n: usize,
    next: usize,
    seen: BTreeSet<String>,
    /// No knob and no points (a sweep giving only `replications`): the base alone.
    single: bool,
}

impl Points<'_> {
    /// Points in the sweep (1 without a sweep).
    pub fn total(&self) -> usize {
        self.n
    }

    /// Pass over the next point without building it (its name is still
    /// checked for duplicates): what a shard does with others' points.
    /// `None` after the last point.
    pub fn skip_next(&mut self) -> Option<Result<()>> {
        if self.next >= self.n {
            return None;
        }
        let i = self.next;
        self.next += 1;
        if self.base.sweep.is_none() || self.single {
            return Some(Ok(()));
        }
        let (name, _) = self.spec(i);
        if !self.seen.insert(name.clone()) {
            let at = format!("sweep point {i} ({})", excerpt(&name));
            return Some(Err(Error::scenario(at, format!("duplicate result name {:?}", excerpt(&name)))));
        }
        Some(Ok(()))
    }

    fn spec(&self, i: usize) -> (String, Vec<(String, Value)>) {
        let sweep = self.base.sweep.as_ref().expect("a sweep has points");
        match &sweep.knob {
            Some(knob) => {
                let v = &sweep.values[i];
                // A preset sweep's `null` is the scenario's own client.
                let label = if knob == PRESET_KNOB && v.is_null() { "own".to_string() } else { value_label(v) };
                let name = sweep.names.get(i).cloned().unwrap_or_else(|| format!("{}_{label}", self.base.name));
                (name, vec![(knob.clone(), v.clone())])
            }
            None => {
                let p = &sweep.points[i];
                (p.name.clone(), p.set.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            }
        }
    }

    fn build(&mut self, i: usize) -> Result<SweepPoint> {
        let (name, sets) = self.spec(i);
        let at = format!("sweep point {i} ({})", excerpt(&name));
        if !self.seen.insert(name.clone()) {
            return Err(Error::scenario(at, format!("duplicate result name {:?}", excerpt(&name))));
        }
        let mut v = self.template.clone();
        // A preset first, so that knobs set next to it in a point override it.
        let (preset, sets): (Vec<_>, Vec<_>) = sets.into_iter().partition(|(k, _)| k == PRESET_KNOB);
        for (_, value) in preset {
            set_preset(&mut v, value, &at)?;
        }
        for (knob, value) in sets {
            set_knob(&mut v, &self.full, &knob, value, &at)?;
        }
        v["name"] = Value::String(name.clone());
        let mut scenario = Scenario::from_value(v).map_err(|e| match e {
            Error::Scenario { field, message } => {
                Error::Scenario { field, message: format!("{message} (in sweep point {:?})", excerpt(&name)) }
            }
            other => other,
        })?;
        if self.shared_files {
            // The workload is the base's, untouched by any knob, and the
            // base's lists passed validation in full.
            let base = &self.base.workload.models;
            assert_eq!(scenario.workload.models.len(), base.len(), "no knob touches the workload");
            for (m, b) in scenario.workload.models.iter_mut().zip(base) {
                m.files = b.files.clone();
            }
        }
        Ok(SweepPoint { name, scenario })
    }
}

impl Iterator for Points<'_> {
    type Item = Result<SweepPoint>;
    fn next(&mut self) -> Option<Result<SweepPoint>> {
        if self.next >= self.n {
            return None;
        }
        let i = self.next;
        self.next += 1;
        if self.base.sweep.is_none() || self.single {
            return Some(Ok(SweepPoint { name: self.base.name.clone(), scenario: self.base.clone() }));
        }
        Some(self.build(i))
    }
}

/// Check a scenario's sweep and return its points, to be built one by one:
/// itself if it has no sweep, else one scenario per sweep point, in sweep
/// order. A point runs with its own `seed` (a sweep over `seed`, or a point
/// that sets it); its name is its result name and cannot be set as a knob.
pub fn points(base: &Scenario) -> Result<Points<'_>> {
    let empty = || Points {
        base,
        template: Value::Null,
        shared_files: false,
        full: Value::Null,
        n: 1,
        next: 0,
        seen: BTreeSet::new(),
        single: true,
    };
    let Some(sweep) = &base.sweep else {
        return Ok(empty());
    };
    replications(base)?;
    if sweep.knob.is_none() && sweep.points.is_empty() && sweep.values.is_empty() && sweep.names.is_empty() {
        if sweep.replications > 1 {
            return Ok(empty());
        }
        return Err(Error::scenario(
            "sweep",
            "give either `knob` with `values`, or `points` (or `replications` > 1 alone)",
        ));
    }
    let n = match (&sweep.knob, sweep.points.is_empty()) {
        (Some(knob), true) => {
            if sweep.values.is_empty() {
                return Err(Error::scenario("sweep.values", "must list at least one value"));
            }
            if !sweep.names.is_empty() && sweep.names.len() != sweep.values.len() {
                return Err(Error::scenario(
                    "sweep.names",
                    format!("must have one name per value ({}), got {}", sweep.values.len(), sweep.names.len()),
                ));
            }
            if knob == "name" {
                return Err(Error::scenario(
                    "sweep.knob",
                    "a point's result name cannot be swept: give the names in `sweep.names`",
                ));
            }
            sweep.values.len()
        }
        (None, false) => {
            for (i, p) in sweep.points.iter().enumerate() {
                if p.set.contains_key("name") {
                    return Err(Error::scenario(
                        format!("sweep.points[{i}].set.name"),
                        "a point's result name is its `name` (beside `set`), not a knob",
                    ));
                }
            }
            sweep.points.len()
        }
        _ => {
            return Err(Error::scenario("sweep", "give either `knob` with `values`, or `points`"));
        }
    };
    if n > MAX_POINTS {
        return Err(Error::scenario("sweep", format!("at most {MAX_POINTS} points, got {n}")));
    }
    let touches_workload = |knob: &str| knob == "workload" || knob.starts_with("workload.");
    let shared_files = !(sweep.knob.as_deref().is_some_and(touches_workload)
        || sweep.points.iter().any(|p| p.set.keys().any(|k| touches_workload(k))));
    let mut template = base.clone();
    template.sweep = None;
    if shared_files {
        for m in &mut template.workload.models {
            m.files = m.files.first(KNOB_SPACE_ELEMENTS);
        }
    }
    let template = serde_json::to_value(&template).expect("a scenario always serializes");
    let full = knob_space(&template);
    Ok(Points { base, template, shared_files, full, n, next: 0, seen: BTreeSet::new(), single: false })
}

/// All points of a scenario, built at once (for small embedded sweeps such
/// as the seed suite's; the CLI builds them one by one with [`points`]).
pub fn expand_points(base: &Scenario) -> Result<Vec<SweepPoint>> {
    points(base)?.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"{"name":"s","workload":{"models":[{"name":"m","files":[{"path":"a","size_bytes":10}]}]}}"#;

    fn with_sweep(sweep: &str) -> Result<Vec<SweepPoint>> {
        let text = format!("{},\"sweep\":{sweep}}}", &BASE[..BASE.len() - 1]);
        expand_points(&Scenario::from_json(&text)?)
    }

    #[test]
    fn knob_sweep_sets_each_value_and_names_points() {
        let pts = with_sweep(r#"{"knob":"client.max_concurrent_downloads","values":[1,2]}"#).unwrap();
        assert_eq!(pts.len(), 2);
        assert_eq!(pts[1].name, "s_2");
        assert_eq!(pts[1].scenario.client.max_concurrent_downloads, 2);
        let pts = with_sweep(r#"{"knob":"server.bandwidth_bps","values":[1048576,null]}"#).unwrap();
        assert_eq!(pts[1].name, "s_unlimited");
        assert_eq!(pts[1].scenario.server.bandwidth_bps, None);
    }

    #[test]
    fn unknown_knob_and_bad_value_are_errors_naming_the_field() {
        let e = with_sweep(r#"{"knob":"client.nope","values":[1]}"#).unwrap_err().to_string();
        assert!(e.contains("unknown knob \"client.nope\""), "{e}");
        let e = with_sweep(r#"{"knob":"client.max_concurent_downloads","values":[1]}"#).unwrap_err().to_string();
        assert!(e.contains("did you mean \"client.max_concurrent_downloads\""), "{e}");
        let e = with_sweep(r#"{"knob":"client.max_concurrent_downloads","values":[0]}"#).unwrap_err().to_string();
        assert!(e.contains("client.max_concurrent_downloads"), "{e}");
    }

    #[test]
    fn points_set_several_knobs() {
        let pts = with_sweep(r#"{"points":[{"name":"p","set":{"client.split":2,"network.rtt_ms":5}}]}"#).unwrap();
        assert_eq!(pts[0].scenario.client.split, 2);
        assert_eq!(pts[0].scenario.network.rtt_ms, 5.0);
    }
}

#[cfg(test)]
mod more_tests {
    use super::*;

    const BASE: &str =
        r#"{"name":"s","seed":7,"workload":{"models":[{"name":"m","files":[{"path":"a","size_bytes":10}]}]}}"#;

    fn with_sweep(sweep: &str) -> Result<Vec<SweepPoint>> {
        let text = format!("{},\"sweep\":{sweep}}}", &BASE[..BASE.len() - 1]);
        expand_points(&Scenario::from_json(&text)?)
    }

    #[test]
    fn each_point_keeps_its_own_seed() {
        let pts = with_sweep(r#"{"knob":"seed","values":[1,2,3]}"#).unwrap();
        assert_eq!(pts.iter().map(|p| p.scenario.seed).collect::<Vec<_>>(), vec![1, 2, 3]);
        let pts = with_sweep(r#"{"points":[{"name":"a","set":{"seed":1}},{"name":"b","set":{}}]}"#).unwrap();
        assert_eq!((pts[0].scenario.seed, pts[1].scenario.seed), (1, 7));
    }

    #[test]
    fn optional_fields_can_be_swept() {
        let pts = with_sweep(r#"{"knob":"server.write_quantum_bytes","values":[8192,null]}"#).unwrap();
        assert_eq!(pts[0].scenario.server.write_quantum_bytes, Some(8192));
        assert_eq!(pts[1].scenario.server.write_quantum_bytes, None);
        let pts = with_sweep(r#"{"knob":"client.bandwidth_limit.rate_bps","values":[1000]}"#).unwrap();
        assert_eq!(pts[0].scenario.client.bandwidth_limit.as_ref().map(|l| l.rate_bps), Some(1000.0));
    }

    #[test]
    fn a_name_set_by_a_point_is_refused() {
        let e = with_sweep(r#"{"points":[{"name":"a","set":{"name":"b"}}]}"#).unwrap_err().to_string();
        assert!(e.contains("sweep.points[0].set.name"), "{e}");
        let e = with_sweep(r#"{"knob":"name","values":["x"]}"#).unwrap_err().to_string();
        assert!(e.contains("sweep.names"), "{e}");
    }

    #[test]
    fn a_sweep_over_presets_swaps_the_client_and_keeps_its_limit() {
        let base = r#"{"name":"s","client":{"max_concurrent_downloads":3,"bandwidth_limit":{"rate_bps":1000}},
            "sweep":{"knob":"client.preset","values":["aria2","curl",null]},
            "workload":{"models":[{"name":"m","files":[{"path":"a","size_bytes":10}]}]}}"#;
        let pts = expand_points(&Scenario::from_json(base).unwrap()).unwrap();
        let names: Vec<&str> = pts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["s_aria2", "s_curl", "s_own"]);
        let aria = Preset::Aria2.client();
        let c = &pts[0].scenario.client;
        assert_eq!(c.preset, Some(Preset::Aria2));
        assert_eq!(c.max_concurrent_downloads, aria.max_concurrent_downloads);
        assert_eq!(c.per_file_overhead_ms, aria.per_file_overhead_ms);
        assert_eq!(c.bandwidth_limit.as_ref().map(|b| b.rate_bps), Some(1000.0));
        assert_eq!(pts[1].scenario.client.max_concurrent_downloads, Preset::Curl.client().max_concurrent_downloads);
        // null: the scenario's own client.
        assert_eq!(pts[2].scenario.client.max_concurrent_downloads, 3);
        assert_eq!(pts[2].scenario.client.preset, None);
    }

    #[test]
    fn knobs_next_to_a_preset_in_a_point_override_it_and_a_bad_preset_is_named() {
        let base = r#"{"name":"s","sweep":{"points":[{"name":"a","set":{"client.split":4,"client.preset":"aria2"}}]},
            "workload":{"models":[{"name":"m","files":[{"path":"a","size_bytes":10}]}]}}"#;
        let pts = expand_points(&Scenario::from_json(base).unwrap()).unwrap();
        assert_eq!(pts[0].scenario.client.split, 4);
        assert_eq!(pts[0].scenario.client.min_split_size_bytes, Preset::Aria2.client().min_split_size_bytes);
        let bad = base.replace("\"aria2\"", "\"wget\"");
        let e = expand_points(&Scenario::from_json(&bad).unwrap()).unwrap_err().to_string();
        assert!(e.contains("client.preset") && e.contains("huggingface_hub") && e.contains("wget"), "{e}");
    }
}

#[cfg(test)]
mod shared_file_tests {
    use super::*;

    /// A model of 5 listed files (more than the knob space keeps) and a
    /// generated one, swept by `sweep`.
    fn base(sweep: &str) -> Scenario {
        let files: Vec<String> = (1..=5).map(|i| format!(r#"{{"path":"f{i}","size_bytes":{}}}"#, i * 100)).collect();
        Scenario::from_json(&format!(
            r#"{{"name":"s","workload":{{"models":[{{"name":"m","files":[{}]}},
            {{"name":"g","linear":{{"count":2,"min_size_bytes":1,"max_size_bytes":9}}}}]}},"sweep":{sweep}}}"#,
            files.join(",")
        ))
        .unwrap()
    }

    /// The point the scenario's JSON gives, files included: the base
    /// without its sweep, `knob` set to `value`, `name` set, read back.
    fn from_json(base: &Scenario, name: &str, knob: &str, value: Value) -> Scenario {
        let mut b = base.clone();
        b.sweep = None;
        let mut v = serde_json::to_value(&b).unwrap();
        *v.pointer_mut(&pointer(knob)).unwrap() = value;
        v["name"] = Value::String(name.into());
        Scenario::from_value(v).unwrap()
    }

    #[test]
    fn points_share_the_file_lists_when_no_knob_touches_the_workload() {
        let knob = "client.max_concurrent_downloads";
        let b = base(&format!(r#"{{"knob":"{knob}","values":[1,7]}}"#));
        let pts = expand_points(&b).unwrap();
        for (p, v) in pts.iter().zip([1, 7]) {
            assert!(p.scenario.workload.models[0].files.is_shared_with(&b.workload.models[0].files));
            assert_eq!(p.scenario.workload.models[0].files.len(), 5);
            let want = from_json(&b, &p.name, knob, Value::from(v));
            assert_eq!(serde_json::to_string(&p.scenario).unwrap(), serde_json::to_string(&want).unwrap());
        }
    }

    #[test]
    fn a_workload_knob_rebuilds_the_files_from_json() {
        let knob = "workload.models.0.files.4.size_bytes";
        let b = base(&format!(r#"{{"knob":"{knob}","values":[3,4]}}"#));
        let pts = expand_points(&b).unwrap();
        for (p, v) in pts.iter().zip([3u64, 4]) {
            let files = &p.scenario.workload.models[0].files;
            assert!(!files.is_shared_with(&b.workload.models[0].files));
            assert_eq!(files.get(4).map(|f| f.size_bytes), Some(v));
            let want = from_json(&b, &p.name, knob, Value::from(v));
            assert_eq!(serde_json::to_string(&p.scenario).unwrap(), serde_json::to_string(&want).unwrap());
        }
        // A point setting a workload knob among others: rebuilt too.
        let b = base(
            r#"{"points":[{"name":"a","set":{"client.split":2}},{"name":"b","set":{"workload.models.1.linear.count":3}}]}"#,
        );
        let pts = expand_points(&b).unwrap();
        assert!(!pts[0].scenario.workload.models[0].files.is_shared_with(&b.workload.models[0].files));
        assert_eq!(pts[1].scenario.workload.models[1].linear.as_ref().map(|r| r.count), Some(3));
    }

    #[test]
    fn a_mistyped_knob_is_still_told_the_nearest_file_field() {
        // Not a workload knob (`workloads.`), so the files are cut for the
        // knob space; the suggestion is among the files kept.
        let b = base(r#"{"knob":"workloads.models.0.files.2.size_bytes","values":[1]}"#);
        let e = expand_points(&b).unwrap_err().to_string();
        assert!(e.contains("did you mean \"workload.models.0.files.2.size_bytes\"?"), "{e}");
        // A bad value for a non-workload knob names its field as before.
        let b = base(r#"{"knob":"client.split","values":[0]}"#);
        let e = expand_points(&b).unwrap_err().to_string();
        assert!(e.contains("client.split") && e.contains("(in sweep point \"s_0\")"), "{e}");
    }
}
