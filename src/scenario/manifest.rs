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
//! scenario file's directory. Errors name the file, the line (the one a
//! row starts on, counting line feeds) and the field.

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

/// The format of `path`: by extension, else by its first non-blank byte;
/// and the line feeds in the blank bytes read to find it.
fn format_of(path: &Path, reader: &mut impl BufRead) -> std::io::Result<(Format, u64)> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => return Ok((Format::Csv, 0)),
        Some("jsonl" | "ndjson" | "json") => return Ok((Format::JsonLines, 0)),
        _ => {}
    }
    let mut lines = 0;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok((Format::Csv, lines));
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => return Ok((if buf[i] == b'{' { Format::JsonLines } else { Format::Csv }, lines)),
            None => {
                let n = buf.len();
                lines += buf.iter().filter(|&&b| b == b'\n').count() as u64;
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
    // Lines passed over to find the format.
    let (format, skipped) = format_of(path, &mut reader).map_err(|e| format!("cannot read manifest {shown}: {e}"))?;
    let mut files = FileListBuilder::default();
    let mut push = |line: u64, (path, size, priority): Row<'_>| -> std::result::Result<(), String> {
        if files.len() as u64 >= limit {
            return Err(format!("{shown} line {line}: more files than the {MAX_FILES} a workload may have in all"));
        }
        files.push(path, size, priority);
        Ok(())
    };
    match format {
        Format::Csv => read_csv(path, reader, 1 + skipped, &mut push)?,
        Format::JsonLines => read_json_lines(path, reader, skipped, &mut push)?,
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

/// Longest CSV row, bytes (its fields as read): far above a 4096-byte path
/// and a size, low enough that a quote left open does not read the rest of
/// the file into one field.
const MAX_ROW_BYTES: usize = 1 << 16;

/// A UTF-8 byte order mark, skipped at the start of a CSV manifest.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// The fields of one CSV row.
struct Fields<'a> {
    text: &'a str,
    /// Where each field ends in `text` (every one a char boundary).
    ends: &'a [usize],
}

impl<'a> Fields<'a> {
    /// The row `bytes`/`ends` (as csv-core reads it), or `None` if it is
    /// not UTF-8 text.
    fn new(bytes: &'a [u8], ends: &'a [usize]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        ends.iter().all(|&e| text.is_char_boundary(e)).then_some(Fields { text, ends })
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..*self.ends.get(i)?])
    }

    fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// A header row: names `path` and `size` (or `size_bytes`), perhaps `priority`.
fn header(record: &Fields<'_>) -> Option<Columns> {
    let find = |names: &[&str]| record.iter().position(|f| names.contains(&f.trim().to_ascii_lowercase().as_str()));
    let (path, size) = (find(&["path"])?, find(&["size", "size_bytes"])?);
    let known = |f: &str| matches!(f.trim().to_ascii_lowercase().as_str(), "path" | "size" | "size_bytes" | "priority");
    record.iter().all(known).then_some(Columns { path, size, priority: find(&["priority"]) })
}

/// Bytes at the start of `buf` that lie between rows: line ends (`\n`,
/// `\r\n`, `\r`), blank lines and `#` comment lines. Adds the line feeds
/// passed to `feeds`; `in_comment` carries a comment over buffer ends.
fn between_rows(buf: &[u8], feeds: &mut u64, in_comment: &mut bool) -> usize {
    let mut n = 0;
    while let Some(&b) = buf.get(n) {
        match b {
            b'\n' => {
                *feeds += 1;
                *in_comment = false;
            }
            b'\r' => *in_comment = false,
            _ if *in_comment => {}
            b'#' => *in_comment = true,
            _ => break,
        }
        n += 1;
    }
    n
}

/// Read CSV rows with csv-core (RFC 4180: `,`, `"` quoting with `""`
/// inside, `\n`/`\r\n`/`\r` line ends). Blank lines and comments are
/// skipped here rather than by the parser, so that each row's line is the
/// line its first byte is on: 1 + the line feeds the parser has read (it
/// counts them, quoted ones included) + those skipped here and before
/// (`first_line` is the line `reader` starts at).
fn read_csv(
    path: &Path,
    mut reader: impl BufRead,
    first_line: u64,
    push: &mut impl FnMut(u64, Row<'_>) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    use csv_core::ReadRecordResult as R;
    let shown = path.display();
    let mut parser = csv_core::Reader::new();
    // Line feeds not read by the parser.
    let mut skipped = first_line - 1;
    let io_error = |line: u64, e: std::io::Error| format!("{shown} line {line}: {e}");
    if reader.fill_buf().map_err(|e| io_error(first_line, e))?.starts_with(BOM) {
        reader.consume(BOM.len());
    }
    let (mut bytes, mut ends) = (vec![0u8; 1024], vec![0usize; 4]);
    let (mut n_bytes, mut n_ends) = (0, 0);
    // The line the row being read starts on; `None` between rows.
    let mut row: Option<u64> = None;
    let mut in_comment = false;
    let mut columns: Option<Columns> = None;
    loop {
        let buf = reader.fill_buf().map_err(|e| io_error(parser.line() + skipped, e))?;
        let mut n_skip = 0;
        if row.is_none() {
            if buf.is_empty() {
                return Ok(());
            }
            n_skip = between_rows(buf, &mut skipped, &mut in_comment);
            if n_skip == buf.len() {
                reader.consume(n_skip);
                continue;
            }
            row = Some(parser.line() + skipped);
        }
        let start = row.expect("set above");
        let (result, n_in, n_out, n_end) =
            parser.read_record(&buf[n_skip..], &mut bytes[n_bytes..], &mut ends[n_ends..]);
        reader.consume(n_skip + n_in);
        n_bytes += n_out;
        n_ends += n_end;
        match result {
            R::InputEmpty => {}
            R::OutputFull if bytes.len() >= MAX_ROW_BYTES => {
                return Err(format!(
                    "{shown} line {start}: a row longer than {MAX_ROW_BYTES} bytes (a quoted field left open?)"
                ));
            }
            R::OutputFull => bytes.resize(bytes.len() * 2, 0),
            R::OutputEndsFull => ends.resize(ends.len() * 2, 0),
            R::End => return Ok(()),
            R::Record => {
                let fields = Fields::new(&bytes[..n_bytes], &ends[..n_ends])
                    .ok_or_else(|| format!("{shown} line {start}: not UTF-8 text"))?;
                (n_bytes, n_ends, row) = (0, 0, None);
                let cols = match columns {
                    Some(c) => c,
                    None => {
                        let found = header(&fields);
                        let c = found.unwrap_or(Columns { path: 0, size: 1, priority: Some(2) });
                        columns = Some(c);
                        if found.is_some() {
                            continue;
                        }
                        c
                    }
                };
                push(start, csv_row(&shown, start, cols, &fields)?)?;
            }
        }
    }
}

/// The file one CSV row lists (`line`: the row's, for errors).
fn csv_row<'a>(
    shown: &impl std::fmt::Display,
    line: u64,
    cols: Columns,
    record: &Fields<'a>,
) -> std::result::Result<Row<'a>, String> {
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
    Ok((file_path, size, prio))
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

/// `skipped`: the lines before the one `reader` starts at.
fn read_json_lines(
    path: &Path,
    mut reader: impl BufRead,
    skipped: u64,
    push: &mut impl FnMut(u64, Row<'_>) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let shown = path.display();
    let mut text = String::new();
    let mut line: u64 = skipped;
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

    /// The line of `rows[bad]` when `rows` are joined by `end`: 1 plus the
    /// line feeds before it.
    fn line_of(rows: &[&str], bad: usize, end: &str) -> usize {
        1 + rows[..bad].iter().map(|r| r.matches('\n').count() + end.matches('\n').count()).sum::<usize>()
    }

    #[test]
    fn errors_name_the_line_the_bad_row_starts_on() {
        // Each case: rows (comments, blank lines, a quoted path spanning
        // lines, a header) and the index of the bad one (size 0).
        let cases: [(&[&str], usize); 7] = [
            (&["x,0"], 0),
            (&["# c", "", "x,0"], 2),
            (&["", "", "", "a,1", "# c", "", "# d", "x,0"], 7),
            (&["path,size", "\"a\nb\",1", "x,0"], 2),
            (&["\"a\n\n# not a comment\n\",1", "", "x,0"], 2),
            (&["# only, comments", "\"p,\"\"q\"\"\n\",2", "# c", "x,0", "y,1"], 3),
            (&["\"x\n\",0", "a,1"], 0),
        ];
        for (k, (rows, bad)) in cases.iter().enumerate() {
            for end in ["\n", "\r\n"] {
                let text = rows.iter().map(|r| format!("{r}{end}")).collect::<String>();
                let e = read(&write(&format!("l{k}.csv"), &text), 10).unwrap_err();
                let want = format!("l{k}.csv line {}, field `size`: must be ≥ 1 byte, got 0", line_of(rows, *bad, end));
                assert!(e.contains(&want), "{text:?}: {e} (want {want})");
            }
        }
        // The last row without a line end; a byte order mark; blank lines
        // before the format is told by content; JSON lines likewise.
        let e = read(&write("noend.csv", "a,1\n\nx,0"), 10).unwrap_err();
        assert!(e.contains("noend.csv line 3, field `size`"), "{e}");
        let e = read(&write("bom.csv", "\u{feff}# c\nx,0\n"), 10).unwrap_err();
        assert!(e.contains("bom.csv line 2, field `size`"), "{e}");
        let blank = " \n".repeat(READ_BUFFER_BYTES);
        let e = read(&write("blank.list", &format!("{blank}x,0\n")), 10).unwrap_err();
        assert!(e.contains(&format!("blank.list line {}, field `size`", READ_BUFFER_BYTES + 1)), "{e}");
        let e = read(&write("blank.jsonl.list", &format!("{blank}{{\"path\":\"x\",\"size\":0}}\n")), 10).unwrap_err();
        assert!(e.contains(&format!("line {}, field `size`", READ_BUFFER_BYTES + 1)), "{e}");
        // A quoted field spans lines, its path keeps them; a quote left
        // open is named at the line it opened on.
        let a = read(&write("nl.csv", "# c\n\"a\r\nb\",3\n"), 10).unwrap();
        assert_eq!(a.get(0).map(|f| (f.path, f.size_bytes)), Some(("a\r\nb", 3)));
        let open = format!("a,1\n\"b,1\n{}", "c,1\n".repeat(READ_BUFFER_BYTES));
        let e = read(&write("open.csv", &open), u64::MAX).unwrap_err();
        assert!(e.contains("open.csv line 2: a row longer than"), "{e}");
    }

    #[test]
    fn a_row_that_is_not_utf8_is_named_by_its_line() {
        let dir = std::env::temp_dir().join(format!("dlsim-manifest-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("latin1.csv");
        std::fs::write(&p, b"a,1\n\n# c\n\xe9.bin,1\n").unwrap();
        let e = read(&p, 10).unwrap_err();
        assert!(e.contains("latin1.csv line 4: not UTF-8 text"), "{e}");
    }
}
