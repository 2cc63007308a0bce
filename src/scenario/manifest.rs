//! Manifests: a model's files listed in a file of their own,
//! `workload.models[].manifest: "FILE"`, read streaming (one line at a
//! time, never the whole file in memory) into the model's `files`.
//!
//! Two formats, by extension (`.csv`; `.jsonl`, `.ndjson`, `.json`) or,
//! for any other name, by the first non-blank byte (`{` = JSON lines):
//!
//! - **CSV**: `path,size[,priority]` per line (RFC 4180 quoting for paths
//!   with commas). A first line naming the columns (`path`, `size` or
//!   `size_bytes`, optional `priority`, in any order) is a header; without
//!   one the columns are in that order. Blank lines and lines starting with
//!   `#` are skipped.
//! - **JSON lines**: one object per line, `{"path": "a.bin", "size": "10 MiB",
//!   "priority": "high"}` (`size_bytes` is accepted for `size`).
//!
//! Sizes accept what the scenario's byte fields accept (units.rs): `1048576`,
//! `9.98e9`, `10 MiB`, `9.98 GB`. A relative FILE is relative to the
//! scenario file's directory. Errors name the file, the line and the field.

use super::Scenario;
use super::units;
use super::validate::{MAX_FILES, excerpt};
use super::workload::{FileList, FileListBuilder, Priority};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::io::BufRead;
use std::path::Path;

/// Longest path in a manifest, bytes (as for explicit files).
const MAX_PATH_BYTES: usize = 4096;

/// Bytes read from a manifest at a time.
const READ_BUFFER_BYTES: usize = 1 << 16;

/// Replace every model's `manifest` by the files it lists. `base`: the
/// directory relative names are resolved against (the scenario file's).
pub(super) fn resolve(s: &mut Scenario, base: &Path) -> Result<()> {
    let mut total: u64 = 0;
    for (i, m) in s.workload.models.iter_mut().enumerate() {
        let Some(name) = m.manifest.take() else {
            total += m.files.len() as u64;
            continue;
        };
        let field = format!("workload.models[{i}].manifest");
        if !m.files.is_empty() || m.linear.is_some() || m.random.is_some() {
            return Err(Error::scenario(
                field,
                "give either `manifest` or one of `files`, `linear`, `random`, not both",
            ));
        }
        if name.trim().is_empty() {
            return Err(Error::scenario(field, "must name a file (CSV or JSON lines), got an empty string"));
        }
        let path = base.join(&name);
        let limit = MAX_FILES.saturating_sub(total);
        m.files = read(&path, limit).map_err(|message| Error::scenario(&field, message))?;
        if m.files.is_empty() {
            return Err(Error::scenario(field, format!("{} lists no file", path.display())));
        }
        total += m.files.len() as u64;
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Csv,
    JsonLines,
}

/// The format of `path`: by extension, else by its first non-blank byte.
fn format_of(path: &Path, reader: &mut impl BufRead) -> std::io::Result<Format> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => return Ok(Format::Csv),
        Some("jsonl" | "ndjson" | "json") => return Ok(Format::JsonLines),
        _ => {}
    }
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(Format::Csv);
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => return Ok(if buf[i] == b'{' { Format::JsonLines } else { Format::Csv }),
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

/// One file read from a manifest: path, size, priority.
type Row<'a> = (&'a str, u64, Option<Priority>);

/// The files `path` lists (at most `limit`), or a message naming the
/// file, the line and the field at fault.
fn read(path: &Path, limit: u64) -> std::result::Result<FileList, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read manifest {shown}: {e}"))?;
    let mut reader = std::io::BufReader::with_capacity(READ_BUFFER_BYTES, file);
    let format = format_of(path, &mut reader).map_err(|e| format!("cannot read manifest {shown}: {e}"))?;
    let mut files = FileListBuilder::default();
    let mut push = |line: u64, (path, size, priority): Row<'_>| -> std::result::Result<(), String> {
        if files.len() as u64 >= limit {
            return Err(format!("{shown} line {line}: more files than the {MAX_FILES} a workload may have in all"));
        }
        files.push(path, size, priority);
        Ok(())
    };
    match format {
        Format::Csv => read_csv(path, reader, &mut push)?,
        Format::JsonLines => read_json_lines(path, reader, &mut push)?,
    }
    Ok(files.finish())
}

fn check_path(path: &str) -> std::result::Result<(), String> {
    if path.is_empty() || path.len() > MAX_PATH_BYTES {
        return Err(format!("must be 1 to {MAX_PATH_BYTES} bytes long, got {} bytes", path.len()));
    }
    Ok(())
}

fn check_size(size: u64) -> std::result::Result<u64, String> {
    if size == 0 {
        return Err("must be ≥ 1 byte, got 0".into());
    }
    Ok(size)
}

fn priority(text: &str) -> std::result::Result<Option<Priority>, String> {
    if text.is_empty() {
        return Ok(None); // the common case: no priority column, or an empty field
    }
    match text.trim() {
        "" => Ok(None),
        "high" => Ok(Some(Priority::High)),
        "normal" => Ok(Some(Priority::Normal)),
        "low" => Ok(Some(Priority::Low)),
        other => Err(format!(
            "{:?} is not a priority (allowed: high, normal, low, or empty for the model's)",
            excerpt(other)
        )),
    }
}

/// Column positions of path, size and priority.
#[derive(Clone, Copy)]
struct Columns {
    path: usize,
    size: usize,
    priority: Option<usize>,
}

/// A header row: names `path` and `size` (or `size_bytes`), perhaps `priority`.
fn header(record: &csv::StringRecord) -> Option<Columns> {
    let find = |names: &[&str]| record.iter().position(|f| names.contains(&f.trim().to_ascii_lowercase().as_str()));
    let (path, size) = (find(&["path"])?, find(&["size", "size_bytes"])?);
    let known = |f: &str| matches!(f.trim().to_ascii_lowercase().as_str(), "path" | "size" | "size_bytes" | "priority");
    record.iter().all(known).then_some(Columns { path, size, priority: find(&["priority"]) })
}

fn read_csv(
    path: &Path,
    reader: impl std::io::Read,
    push: &mut impl FnMut(u64, Row<'_>) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let shown = path.display();
    // csv's buffer as large as the BufReader's, so that reads bypass the
    // latter instead of being copied through it.
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .buffer_capacity(READ_BUFFER_BYTES)
        .from_reader(reader);
    let mut record = csv::StringRecord::new();
    let mut columns: Option<Columns> = None;
    loop {
        let more = csv.read_record(&mut record).map_err(|e| {
            let line = e.position().map_or(String::new(), |p| format!(" line {}", p.line()));
            let what = match e.kind() {
                csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_string(),
                _ => e.to_string(),
            };
            format!("{shown}{line}: {what}")
        })?;
        if !more {
            return Ok(());
        }
        let line = record.position().map_or(0, |p| p.line());
        let cols = match columns {
            Some(c) => c,
            None => {
                let found = header(&record);
                let c = found.unwrap_or(Columns { path: 0, size: 1, priority: Some(2) });
                columns = Some(c);
                if found.is_some() {
                    continue;
                }
                c
            }
        };
        let at = |field: &str, message: String| format!("{shown} line {line}, field `{field}`: {message}");
        let width = 2 + cols.priority.is_some() as usize;
        if record.len() < 2 || record.len() > width.max(cols.path.max(cols.size) + 1) {
            return Err(format!(
                "{shown} line {line}: expected {} comma-separated fields (path,size[,priority]), got {}",
                if width == 2 { "2".to_string() } else { "2 or 3".to_string() },
                record.len()
            ));
        }
        let file_path = record.get(cols.path).unwrap_or_default();
        check_path(file_path).map_err(|m| at("path", m))?;
        let size_text = record.get(cols.size).unwrap_or_default();
        // Plain digits first: the common case, without trimming (digits have
        // nothing to trim) or the unit parser's exact decimal arithmetic.
        let size = size_text
            .parse::<u64>()
            .or_else(|_| {
                let t = size_text.trim();
                t.parse::<u64>().or_else(|_| units::bytes_from_str(t))
            })
            .and_then(check_size)
            .map_err(|m| at("size", m))?;
        let prio =
            priority(cols.priority.and_then(|i| record.get(i)).unwrap_or_default()).map_err(|m| at("priority", m))?;
        push(line, (file_path, size, prio))?;
    }
}

/// One line of a JSON-lines manifest.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    path: String,
    #[serde(alias = "size_bytes", deserialize_with = "units::bytes")]
    size: u64,
    #[serde(default)]
    priority: Option<Priority>,
}

fn read_json_lines(
    path: &Path,
    mut reader: impl BufRead,
    push: &mut impl FnMut(u64, Row<'_>) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let shown = path.display();
    let mut text = String::new();
    let mut line: u64 = 0;
    loop {
        text.clear();
        line += 1;
        let n = reader.read_line(&mut text).map_err(|e| format!("{shown} line {line}: {e}"))?;
        if n == 0 {
            return Ok(());
        }
        let trimmed = text.trim();
        if trimmed.is_empty() {
            continue;
        }
        let mut de = serde_json::Deserializer::from_str(trimmed);
        let entry: Entry = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.to_string().replace("struct Entry", "an object {\"path\", \"size\", \"priority\"}");
            if field == "." || field == "?" {
                format!("{shown} line {line}: {message}")
            } else {
                format!("{shown} line {line}, field `{field}`: {message}")
            }
        })?;
        de.end().map_err(|e| format!("{shown} line {line}: one JSON object per line: {e}"))?;
        let at = |field: &str, message: String| format!("{shown} line {line}, field `{field}`: {message}");
        check_path(&entry.path).map_err(|m| at("path", m))?;
        let size = check_size(entry.size).map_err(|m| at("size", m))?;
        push(line, (&entry.path, size, entry.priority))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("dlsim-manifest-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn csv_with_and_without_header_and_units() {
        let a = read(&write("a.csv", "path,size,priority\nx.bin,10 MiB,high\n\"y,z.bin\",9.98e3,\n"), 10).unwrap();
        assert_eq!(a.len(), 2);
        let (a0, a1) = (a.get(0).unwrap(), a.get(1).unwrap());
        assert_eq!((a0.path, a0.size_bytes, a0.priority), ("x.bin", 10 << 20, Some(Priority::High)));
        assert_eq!((a1.path, a1.size_bytes, a1.priority), ("y,z.bin", 9980, None));
        let b = read(&write("b.csv", "# comment\nx.bin,5\n\ny.bin,1 kB\n"), 10).unwrap();
        assert_eq!(b.iter().map(|f| f.size_bytes).collect::<Vec<_>>(), vec![5, 1000]);
        // Digits with blanks around them take the trimmed path; a blank
        // priority is the model's, a padded one is read.
        let d = read(&write("d.csv", "x, 12 ,\ny,\t3\t, low \nz,+4,  \n"), 10).unwrap();
        let d: Vec<_> = d.iter().map(|f| (f.size_bytes, f.priority)).collect();
        assert_eq!(d, [(12, None), (3, Some(Priority::Low)), (4, None)]);
        let e = read(&write("e.csv", "x, 1 2 \n"), 10).unwrap_err();
        assert!(e.contains("line 1, field `size`"), "{e}");
        let c = read(&write("c.txt", "size,path\n7,q\n"), 10).unwrap();
        let c0 = c.get(0).unwrap();
        assert_eq!((c0.path, c0.size_bytes), ("q", 7));
    }

    #[test]
    fn json_lines_by_extension_and_by_content() {
        let a = read(
            &write(
                "a.jsonl",
                "{\"path\":\"x\",\"size\":\"2 KiB\"}\n\n{\"path\":\"y\",\"size_bytes\":3,\"priority\":\"low\"}\n",
            ),
            10,
        )
        .unwrap();
        assert_eq!(a.iter().map(|f| f.size_bytes).collect::<Vec<_>>(), vec![2048, 3]);
        assert_eq!(a.get(1).unwrap().priority, Some(Priority::Low));
        let b = read(&write("b.list", "  {\"path\":\"x\",\"size\":1}\n"), 10).unwrap();
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let p = write("bad.csv", "path,size\nx,1\ny,lots\n");
        let e = read(&p, 10).unwrap_err();
        assert!(e.contains("bad.csv line 3, field `size`") && e.contains("not a byte count"), "{e}");
        let e = read(&write("zero.csv", "x,0\n"), 10).unwrap_err();
        assert!(e.contains("line 1, field `size`: must be ≥ 1"), "{e}");
        let e = read(&write("prio.csv", "x,1,urgent\n"), 10).unwrap_err();
        assert!(e.contains("line 1, field `priority`") && e.contains("high, normal, low"), "{e}");
        let e = read(&write("wide.csv", "x,1,high,extra\n"), 10).unwrap_err();
        assert!(e.contains("line 1: expected 2 or 3"), "{e}");
        let e =
            read(&write("bad.jsonl", "{\"path\":\"x\",\"size\":1}\n{\"path\":\"y\",\"size\":true}\n"), 10).unwrap_err();
        assert!(e.contains("bad.jsonl line 2, field `size`"), "{e}");
        let e = read(&write("unknown.jsonl", "{\"path\":\"x\",\"size\":1,\"sha\":2}\n"), 10).unwrap_err();
        assert!(e.contains("line 1") && e.contains("sha"), "{e}");
        let e = read(&write("many.csv", "a,1\nb,1\nc,1\n"), 2).unwrap_err();
        assert!(e.contains("line 3") && e.contains("more files than"), "{e}");
        let e = read(Path::new("/nonexistent/m.csv"), 2).unwrap_err();
        assert!(e.contains("cannot read manifest /nonexistent/m.csv"), "{e}");
    }
}
