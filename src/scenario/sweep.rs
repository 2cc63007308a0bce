//! Sweeps: one scenario file expanding to several runs that differ in one
//! knob (or a few). A knob is a dotted path into the scenario with all
//! defaults filled in, so any field can be swept.

use super::schema::Scenario;
use crate::error::{Error, Result};
use serde_json::Value;

/// One run of a sweep: its result name and its validated scenario.
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

/// Set `dotted.path` in `root`; the path must already exist (all defaults
/// are filled in), else the knob is unknown.
fn set_knob(root: &mut Value, knob: &str, value: Value, field: &str) -> Result<()> {
    let pointer = format!("/{}", knob.replace('.', "/"));
    match root.pointer_mut(&pointer) {
        Some(slot) => {
            *slot = value;
            Ok(())
        }
        None => Err(Error::scenario(
            field,
            format!(
                "unknown knob {knob:?}: use a dotted path to an existing field, e.g. \"client.max_concurrent_downloads\""
            ),
        )),
    }
}

/// Expand a scenario into its runs: itself if it has no sweep, else one
/// validated scenario per sweep point, in sweep order.
pub fn expand_points(base: &Scenario) -> Result<Vec<SweepPoint>> {
    let Some(sweep) = &base.sweep else {
        return Ok(vec![SweepPoint { name: base.name.clone(), scenario: base.clone() }]);
    };
    let mut template = base.clone();
    template.sweep = None;
    let template = serde_json::to_value(&template).expect("a scenario always serializes");

    let mut specs: Vec<(String, Vec<(String, Value)>)> = Vec::new();
    match (&sweep.knob, sweep.points.is_empty()) {
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
            for (i, v) in sweep.values.iter().enumerate() {
                let name = sweep.names.get(i).cloned().unwrap_or_else(|| format!("{}_{}", base.name, value_label(v)));
                specs.push((name, vec![(knob.clone(), v.clone())]));
            }
        }
        (None, false) => {
            for p in &sweep.points {
                specs.push((p.name.clone(), p.set.iter().map(|(k, v)| (k.clone(), v.clone())).collect()));
            }
        }
        _ => {
            return Err(Error::scenario("sweep", "give either `knob` with `values`, or `points`"));
        }
    }

    let mut out = Vec::with_capacity(specs.len());
    let mut seen = std::collections::BTreeSet::new();
    for (i, (name, sets)) in specs.into_iter().enumerate() {
        if !seen.insert(name.clone()) {
            return Err(Error::scenario(format!("sweep point {i}"), format!("duplicate result name {name:?}")));
        }
        let mut v = template.clone();
        for (knob, value) in sets {
            set_knob(&mut v, &knob, value, &format!("sweep point {i} ({name})"))?;
        }
        v["name"] = Value::String(name.clone());
        let scenario = Scenario::from_value(v).map_err(|e| match e {
            Error::Scenario { field, message } => {
                Error::Scenario { field, message: format!("{message} (in sweep point {name:?})") }
            }
            other => other,
        })?;
        out.push(SweepPoint { name, scenario });
    }
    Ok(out)
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
