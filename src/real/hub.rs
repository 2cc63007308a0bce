//! The Hugging Face Hub's HTTP API, as pure code: no socket, no clock.
//!
//! A Hub-compatible server answers four kinds of requests (see
//! `docs/clients.md` for the clients' sources and what each reads):
//!
//! - `GET /api/models/{repo_id}` and `/api/models/{repo_id}/revision/{rev}`:
//!   model info JSON with `id`, `sha` and `siblings` (`rfilename`, `size`;
//!   with `?blobs=true` also `blobId` and `lfs`). `huggingface_hub` 0.x
//!   lists a snapshot's files from `siblings`.
//! - `GET /api/models/{repo_id}/tree/{rev}[/{dir}]?recursive=…&expand=…`:
//!   a JSON list of `{type, oid, size, path[, lfs]}`, paged by a `Link:
//!   <…>; rel="next"` header (1000 entries a page, 50 with `expand`).
//!   `huggingface_hub` ≥ 1.0 lists a snapshot's files from it.
//! - `HEAD`/`GET /{repo_id}/resolve/{rev}/{path}`: small files are served
//!   with `ETag` = their git blob id (sha1 of `blob {size}\0` + bytes);
//!   large ("LFS") files are answered `302` to the CDN-like listener with
//!   `X-Linked-Etag` = the SHA-256 of the content and `X-Linked-Size`.
//!   Every answer carries `X-Repo-Commit`.
//! - `HEAD`/`GET {cdn}/cdn-lfs/{repo_id}/resolve/{commit}/{path}`: the large
//!   file itself, `ETag` = its SHA-256.
//!
//! The server calls [`route`] on each request target, then [`respond`] with
//! the [`Catalog`] and its [`Endpoints`]; it sends the [`HubResponse`]'s
//! status and headers, and for [`HubBody::File`] applies Range, faults and
//! pacing exactly as for its plain files (Content-Length and Content-Range
//! are its business). File contents are [`Content`]'s, so every digest here
//! matches the bytes served.
//!
//! Repository ids have one or two segments (`gpt2`, `org/name`); a path may
//! be nested (`dir/sub/file.bin`). Segments are percent-decoded after
//! splitting, so `refs%2Fpr%2F1` is one revision and `a%20b.bin` one file.

use super::content::{Content, hex};
use crate::error::{Error, Result};
use crate::scenario::Workload;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::Digest;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// Python's `urllib.parse.quote(s, safe="/")`: what `hf_hub_url` does to a path.
const PATH: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');
/// `quote(s, safe="")`: what `huggingface_hub` does to a revision.
const SEGMENT: &AsciiSet = &PATH.add(b'/');

/// The branch every repository has.
pub const MAIN: &str = "main";
/// Path prefix of the CDN-like listener's URLs.
pub const CDN_PREFIX: &str = "/cdn-lfs";
/// `lastModified`/`createdAt` of every repository: fixed, so bodies are
/// deterministic (`huggingface_hub` parses `%Y-%m-%dT%H:%M:%S.%fZ`).
pub const DATE: &str = "2024-01-01T00:00:00.000Z";

/// Hub behaviour that is not in the workload.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// Files of at least this size are LFS files: SHA-256 ETag and a 302 to
    /// the CDN (default 10 MiB; the Hub refuses plain git files above 10 MB).
    pub lfs_threshold_bytes: u64,
    /// Tree entries per page (default 1000, the Hub's).
    pub tree_page_size: usize,
    /// Tree entries per page with `expand=true` (default 50, the Hub's).
    pub tree_page_size_expand: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig { lfs_threshold_bytes: 10 * 1024 * 1024, tree_page_size: 1000, tree_page_size_expand: 50 }
    }
}

/// Where the listeners are, as `http://host:port` (no trailing slash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// The Hub listener (the clients' `HF_ENDPOINT`); absolute `Link` URLs use it.
    pub hub: String,
    /// The CDN-like listener that large files are redirected to; `None`:
    /// large files are served directly by the Hub listener (no redirect).
    pub cdn: Option<String>,
}

/// A parsed Hub request target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HubRoute {
    /// `/api/models/{repo}[/revision/{rev}][?blobs=true]`; `revision` `None` = `main`.
    ModelInfo { repo: String, revision: Option<String>, blobs: bool },
    /// `/api/models/{repo}/tree/{rev}[/{dir}]?recursive=…&expand=…&cursor=…`.
    Tree { repo: String, revision: String, dir: Option<String>, recursive: bool, expand: bool, cursor: usize },
    /// `/{repo}/resolve/{rev}/{path}`.
    Resolve { repo: String, revision: String, path: String },
    /// `/cdn-lfs/{repo}/resolve/{rev}/{path}` on the CDN-like listener.
    Cdn { repo: String, revision: String, path: String },
}

/// What to send back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubResponse {
    pub status: u16,
    /// In order; without Content-Length, Content-Range and Connection.
    pub headers: Vec<(&'static str, String)>,
    pub body: HubBody,
}

impl HubResponse {
    /// The value of header `name` (ASCII case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HubBody {
    /// No body (redirects): Content-Length 0.
    Empty,
    /// A JSON document.
    Json(Vec<u8>),
    /// File `id` of [`Content`], `size` bytes: serve it (Range, faults, pacing).
    File { id: u32, size: u64 },
}

impl HubBody {
    /// Bytes of the whole body.
    pub fn len(&self) -> u64 {
        match self {
            HubBody::Empty => 0,
            HubBody::Json(b) => b.len() as u64,
            HubBody::File { size, .. } => *size,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Parse a request. `None`: not a Hub request (or not GET/HEAD, or not
/// valid UTF-8 after percent-decoding) — the server answers as for any
/// other path.
pub fn route(method: &str, target: &str) -> Option<HubRoute> {
    if method != "GET" && method != "HEAD" {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = parse_query(query)?;
    if let Some(rest) = path.strip_prefix("/api/models/") {
        return api_route(rest, &query);
    }
    if let Some(rest) = path.strip_prefix(CDN_PREFIX).and_then(|r| r.strip_prefix('/')) {
        let (repo, revision, path) = resolve_parts(rest)?;
        return Some(HubRoute::Cdn { repo, revision, path });
    }
    let (repo, revision, path) = resolve_parts(path.strip_prefix('/')?)?;
    Some(HubRoute::Resolve { repo, revision, path })
}

fn decode(segment: &str) -> Option<String> {
    percent_decode_str(segment).decode_utf8().ok().map(|s| s.into_owned())
}

fn parse_query(query: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(decode(k)?, decode(&v.replace('+', " "))?);
    }
    Some(out)
}

/// `true`/`True`/`1` (httpx sends `true`, requests `True`).
fn flag(query: &BTreeMap<String, String>, key: &str) -> bool {
    query.get(key).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Segments after `/api/models/`.
fn api_route(rest: &str, query: &BTreeMap<String, String>) -> Option<HubRoute> {
    let segs: Vec<&str> = rest.split('/').collect();
    // The repo is one or two segments; the keyword follows it. Two-segment
    // ids are the common case, so they are tried first.
    for n in [2, 1] {
        let Some(keyword) = segs.get(n) else { continue };
        let repo = repo_id(&segs[..n])?;
        match *keyword {
            "revision" if segs.len() == n + 2 && !segs[n + 1].is_empty() => {
                let revision = decode(segs[n + 1])?;
                return Some(HubRoute::ModelInfo { repo, revision: Some(revision), blobs: flag(query, "blobs") });
            }
            "tree" if segs.len() >= n + 2 && !segs[n + 1].is_empty() => {
                let revision = decode(segs[n + 1])?;
                let dir = join_path(&segs[n + 2..])?;
                let cursor = match query.get("cursor") {
                    Some(c) => c.parse().ok()?,
                    None => 0,
                };
                return Some(HubRoute::Tree {
                    repo,
                    revision,
                    dir,
                    recursive: flag(query, "recursive"),
                    expand: flag(query, "expand"),
                    cursor,
                });
            }
            _ => {}
        }
    }
    if (1..=2).contains(&segs.len()) {
        return Some(HubRoute::ModelInfo { repo: repo_id(&segs)?, revision: None, blobs: flag(query, "blobs") });
    }
    None
}

/// `{repo}/resolve/{rev}/{path…}` with a one- or two-segment repo.
fn resolve_parts(rest: &str) -> Option<(String, String, String)> {
    let segs: Vec<&str> = rest.split('/').collect();
    for n in [2, 1] {
        if segs.get(n) == Some(&"resolve") && segs.len() >= n + 3 && !segs[n + 1].is_empty() {
            let path = join_path(&segs[n + 2..])??;
            return Some((repo_id(&segs[..n])?, decode(segs[n + 1])?, path));
        }
    }
    None
}

/// Decoded, non-empty segments joined by `/`; `Some(None)` for no segment
/// at all, `None` for an empty or undecodable one. A single segment may be
/// an encoded path (`dir%2Fsub`, as `list_repo_tree` sends a folder).
fn join_path(segs: &[&str]) -> Option<Option<String>> {
    if segs.is_empty() {
        return Some(None);
    }
    let parts: Option<Vec<String>> = segs.iter().map(|s| decode(s).filter(|d| !d.is_empty())).collect();
    Some(Some(parts?.join("/")))
}

fn repo_id(segs: &[&str]) -> Option<String> {
    let parts: Option<Vec<String>> = segs.iter().map(|s| decode(s).filter(|d| !d.is_empty())).collect();
    Some(parts?.join("/"))
}

/// The digests of one file, computed on first use (a large file's SHA-256
/// reads all its bytes once).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Digests {
    /// Git blob id: of the bytes (small files) or of the LFS pointer (large).
    git_oid: String,
    /// SHA-256 of the bytes (LFS files only).
    sha256: Option<String>,
    /// Size of the LFS pointer text (LFS files only).
    pointer_size: Option<u64>,
}

#[derive(Debug)]
struct Entry {
    path: String,
    size: u64,
    /// Key of the content and of the fault decisions (the workload's file id).
    id: u32,
    lfs: bool,
    digests: OnceLock<Digests>,
}

/// One repository at its single commit.
#[derive(Debug)]
pub struct Repo {
    pub id: String,
    /// Commit id (40 hex), deterministic from the seed and the files.
    pub sha: String,
    /// Sorted by path bytes (git's order for a flat tree).
    files: Vec<Entry>,
    /// Every directory that holds a file, sorted.
    dirs: BTreeSet<String>,
}

/// The repositories a Hub server serves.
#[derive(Debug)]
pub struct Catalog {
    content: Content,
    seed: u64,
    cfg: HubConfig,
    repos: BTreeMap<String, Repo>,
}

/// `huggingface_hub`'s `validate_repo_id`: one or two segments of
/// `[A-Za-z0-9_.-]`, no `--` or `..`, not starting or ending with `-`/`.`,
/// at most 96 characters.
fn check_repo_id(id: &str) -> std::result::Result<(), String> {
    let segs: Vec<&str> = id.split('/').collect();
    let seg_ok = |s: &&str| {
        !s.is_empty()
            && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
            && !s.starts_with(['-', '.'])
            && !s.ends_with(['-', '.'])
    };
    if id.len() > 96 || segs.len() > 2 || !segs.iter().all(seg_ok) || id.contains("--") || id.contains("..") {
        return Err(format!(
            "`{id}` is not a Hub repository id (allowed: `name` or `namespace/name`, each of A-Z a-z 0-9 _ . -, \
             not starting or ending with - or ., no -- or .., at most 96 characters)"
        ));
    }
    Ok(())
}

fn check_path(path: &str) -> std::result::Result<(), String> {
    if path.is_empty() || path.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(format!(
            "`{path}` is not a repository path (allowed: non-empty segments separated by /, no . or ..)"
        ));
    }
    Ok(())
}

fn sha1_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    hex(&h.finalize())
}

/// Git's blob id of `len` bytes produced by `fill(offset, buf)`.
fn git_blob_oid(len: u64, mut fill: impl FnMut(u64, &mut [u8])) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {len}\0").as_bytes());
    let mut buf = vec![0u8; (len.min(1 << 16)) as usize];
    let mut at = 0;
    while at < len {
        let n = (len - at).min(buf.len() as u64) as usize;
        fill(at, &mut buf[..n]);
        h.update(&buf[..n]);
        at += n as u64;
    }
    hex(&h.finalize())
}

/// The Git LFS pointer file of content with SHA-256 `sha256` and `size` bytes.
pub fn lfs_pointer(sha256: &str, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n")
}

impl Catalog {
    /// An empty catalog of content seed `seed`.
    pub fn new(seed: u64, cfg: HubConfig) -> Catalog {
        Catalog { content: Content::new(seed), seed, cfg, repos: BTreeMap::new() }
    }

    /// A repository per workload model: the model's `name` is the repo id,
    /// and a file's path in the repo is its workload path without the
    /// `{name}/` prefix (the generated paths `{name}/file_0000.bin` become
    /// `file_0000.bin`). File ids are the workload's, so contents and fault
    /// decisions match the plain server's.
    pub fn from_workload(workload: &Workload, seed: u64, cfg: HubConfig) -> Result<Catalog> {
        let mut cat = Catalog::new(seed, cfg);
        let files = workload.expand(seed);
        for (m, spec) in workload.models.iter().enumerate() {
            let prefix = format!("{}/", spec.name);
            let mine = files.iter().filter(|f| f.model == m as u32).map(|f| {
                let path = f.path.strip_prefix(&prefix).unwrap_or(&f.path).to_string();
                (path, f.size, f.id)
            });
            cat.add_repo(&spec.name, mine).map_err(|e| match e {
                Error::Scenario { field, message } => {
                    Error::Scenario { field: format!("workload.models[{m}].{field}"), message }
                }
                other => other,
            })?;
        }
        Ok(cat)
    }

    /// Add repository `id` with files `(path, size_bytes, content id)`.
    /// Errors name the field (`name`, `files`) relative to the model.
    pub fn add_repo(&mut self, id: &str, files: impl IntoIterator<Item = (String, u64, u32)>) -> Result<()> {
        check_repo_id(id).map_err(|m| Error::scenario("name", m))?;
        if self.repos.contains_key(id) {
            return Err(Error::scenario("name", format!("repository `{id}` is given twice (allowed: unique names)")));
        }
        let mut by_path: BTreeMap<String, (u64, u32)> = BTreeMap::new();
        for (path, size, fid) in files {
            check_path(&path).map_err(|m| Error::scenario("files", m))?;
            if by_path.insert(path.clone(), (size, fid)).is_some() {
                return Err(Error::scenario("files", format!("path `{path}` is given twice in `{id}`")));
            }
        }
        // A path may not be both a file and a directory.
        for path in by_path.keys() {
            if by_path.range(format!("{path}/")..).next().is_some_and(|(p, _)| p.starts_with(&format!("{path}/"))) {
                return Err(Error::scenario("files", format!("`{path}` in `{id}` is both a file and a directory")));
            }
        }
        let mut commit = Sha1::new();
        commit.update(format!("dlsim-hub-commit\0{}\0{id}\0", self.seed).as_bytes());
        let mut dirs = BTreeSet::new();
        let mut entries = Vec::with_capacity(by_path.len());
        for (path, (size, fid)) in by_path {
            commit.update(format!("{path}\0{size}\0{fid}\0").as_bytes());
            let mut at = 0;
            while let Some(i) = path[at..].find('/') {
                dirs.insert(path[..at + i].to_string());
                at += i + 1;
            }
            let lfs = size >= self.cfg.lfs_threshold_bytes;
            entries.push(Entry { path, size, id: fid, lfs, digests: OnceLock::new() });
        }
        let sha = hex(&commit.finalize());
        self.repos.insert(id.to_string(), Repo { id: id.to_string(), sha, files: entries, dirs });
        Ok(())
    }

    pub fn repo(&self, id: &str) -> Option<&Repo> {
        self.repos.get(id)
    }

    /// Repository ids, sorted.
    pub fn repo_ids(&self) -> impl Iterator<Item = &str> {
        self.repos.keys().map(String::as_str)
    }

    /// Compute every digest now (a server may call this before it listens,
    /// so that no client waits for a large file's SHA-256).
    pub fn precompute(&self) {
        for repo in self.repos.values() {
            for e in &repo.files {
                self.digests(e);
            }
        }
    }

    fn digests<'a>(&self, e: &'a Entry) -> &'a Digests {
        e.digests.get_or_init(|| {
            if e.lfs {
                let sha256 = hex(&self.content.sha256(e.id, e.size));
                let pointer = lfs_pointer(&sha256, e.size);
                let git_oid = sha1_hex(&[format!("blob {}\0", pointer.len()).as_bytes(), pointer.as_bytes()]);
                Digests { git_oid, sha256: Some(sha256), pointer_size: Some(pointer.len() as u64) }
            } else {
                let git_oid = git_blob_oid(e.size, |at, buf| self.content.fill(e.id, at, buf));
                Digests { git_oid, sha256: None, pointer_size: None }
            }
        })
    }

    /// The ETag clients key their cache on: the SHA-256 for LFS files, the
    /// git blob id otherwise (unquoted).
    pub fn etag(&self, repo: &str, path: &str) -> Option<String> {
        let e = self.repos.get(repo)?.file(path)?;
        let d = self.digests(e);
        Some(d.sha256.clone().unwrap_or_else(|| d.git_oid.clone()))
    }
}

impl Repo {
    fn file(&self, path: &str) -> Option<&Entry> {
        self.files.binary_search_by(|e| e.path.as_str().cmp(path)).ok().map(|i| &self.files[i])
    }

    /// Does `revision` name this repository's commit (`main` or the sha)?
    pub fn has_revision(&self, revision: &str) -> bool {
        revision == MAIN || revision == self.sha
    }

    /// Paths and sizes, sorted by path.
    pub fn files(&self) -> impl Iterator<Item = (&str, u64)> {
        self.files.iter().map(|e| (e.path.as_str(), e.size))
    }
}

fn quoted(tag: &str) -> String {
    format!("\"{tag}\"")
}

fn json_response(status: u16, value: &Value, mut headers: Vec<(&'static str, String)>) -> HubResponse {
    headers.insert(0, ("Content-Type", "application/json; charset=utf-8".into()));
    HubResponse { status, headers, body: HubBody::Json(serde_json::to_vec(value).expect("JSON values serialize")) }
}

/// A 404 with the `X-Error-Code` that `hf_raise_for_status` maps to
/// `RepositoryNotFoundError`, `RevisionNotFoundError` or
/// `RemoteEntryNotFoundError`.
fn not_found(code: &'static str, message: String, commit: Option<&str>) -> HubResponse {
    let mut headers = vec![("X-Error-Code", code.to_string()), ("X-Error-Message", message.clone())];
    if let Some(c) = commit {
        headers.push(("X-Repo-Commit", c.to_string()));
    }
    json_response(404, &json!({ "error": message }), headers)
}

/// Look up the repo and check the revision, or the 404 to send.
fn find<'a>(cat: &'a Catalog, repo: &str, revision: &str) -> std::result::Result<&'a Repo, HubResponse> {
    let r = cat.repos.get(repo).ok_or_else(|| not_found("RepoNotFound", "Repository not found".into(), None))?;
    if !r.has_revision(revision) {
        return Err(not_found("RevisionNotFound", format!("Invalid rev id: {revision}"), None));
    }
    Ok(r)
}

/// The response to `route`.
pub fn respond(route: &HubRoute, cat: &Catalog, ends: &Endpoints) -> HubResponse {
    let r = match route {
        HubRoute::ModelInfo { repo, revision, blobs } => {
            find(cat, repo, revision.as_deref().unwrap_or(MAIN)).map(|r| model_info(cat, r, *blobs))
        }
        HubRoute::Tree { repo, revision, dir, recursive, expand, cursor } => find(cat, repo, revision)
            .and_then(|r| tree(cat, r, revision, dir.as_deref(), *recursive, *expand, *cursor, ends)),
        HubRoute::Resolve { repo, revision, path } => {
            find(cat, repo, revision).and_then(|r| resolve(cat, r, path, ends, false))
        }
        HubRoute::Cdn { repo, revision, path } => {
            find(cat, repo, revision).and_then(|r| resolve(cat, r, path, ends, true))
        }
    };
    r.unwrap_or_else(|e| e)
}

fn model_info(cat: &Catalog, r: &Repo, blobs: bool) -> HubResponse {
    let siblings: Vec<Value> = r
        .files
        .iter()
        .map(|e| {
            let mut s = json!({ "rfilename": e.path, "size": e.size });
            if blobs {
                let d = cat.digests(e);
                s["blobId"] = json!(d.git_oid);
                if let (Some(sha), Some(ps)) = (&d.sha256, d.pointer_size) {
                    s["lfs"] = json!({ "sha256": sha, "size": e.size, "pointerSize": ps });
                }
            }
            s
        })
        .collect();
    let author = r.id.split_once('/').map(|(a, _)| a);
    let body = json!({
        "_id": &r.sha[..24],
        "id": r.id,
        "modelId": r.id,
        "author": author,
        "sha": r.sha,
        "lastModified": DATE,
        "createdAt": DATE,
        "private": false,
        "disabled": false,
        "gated": false,
        "downloads": 0,
        "likes": 0,
        "tags": [],
        "siblings": siblings,
        "usedStorage": r.files.iter().map(|e| e.size).sum::<u64>(),
    });
    json_response(200, &body, vec![])
}

#[allow(clippy::too_many_arguments)]
fn tree(
    cat: &Catalog,
    r: &Repo,
    revision: &str,
    dir: Option<&str>,
    recursive: bool,
    expand: bool,
    cursor: usize,
    ends: &Endpoints,
) -> std::result::Result<HubResponse, HubResponse> {
    if let Some(d) = dir
        && !r.dirs.contains(d)
    {
        return Err(not_found("EntryNotFound", format!("{d} does not exist on \"{revision}\""), Some(&r.sha)));
    }
    let prefix = dir.map(|d| format!("{d}/")).unwrap_or_default();
    let wanted = |p: &str| p.strip_prefix(prefix.as_str()).is_some_and(|rest| recursive || !rest.contains('/'));
    // Directories and files merged in path order.
    let mut all: Vec<(&str, Option<&Entry>)> = r
        .dirs
        .iter()
        .filter(|d| wanted(d))
        .map(|d| (d.as_str(), None))
        .chain(r.files.iter().filter(|e| wanted(&e.path)).map(|e| (e.path.as_str(), Some(e))))
        .collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    let page = if expand { cat.cfg.tree_page_size_expand } else { cat.cfg.tree_page_size }.max(1);
    let end = cursor.saturating_add(page).min(all.len());
    let items: Vec<Value> = all
        .get(cursor.min(all.len())..end)
        .unwrap_or(&[])
        .iter()
        .map(|(path, e)| match e {
            None => json!({
                "type": "directory",
                "oid": sha1_hex(&[b"dlsim-tree\0", r.sha.as_bytes(), b"\0", path.as_bytes()]),
                "size": 0,
                "path": path,
            }),
            Some(e) => {
                let d = cat.digests(e);
                let mut v = json!({ "type": "file", "oid": d.git_oid, "size": e.size, "path": e.path });
                if let (Some(sha), Some(ps)) = (&d.sha256, d.pointer_size) {
                    v["lfs"] = json!({ "oid": sha, "size": e.size, "pointerSize": ps });
                }
                v
            }
        })
        .collect();
    let mut headers = vec![];
    if end < all.len() {
        let dir_part = dir.map(|d| format!("/{}", utf8_percent_encode(d, SEGMENT))).unwrap_or_default();
        headers.push((
            "Link",
            format!(
                "<{}/api/models/{}/tree/{}{dir_part}?recursive={recursive}&expand={expand}&cursor={end}>; rel=\"next\"",
                ends.hub,
                r.id,
                utf8_percent_encode(revision, SEGMENT),
            ),
        ));
    }
    Ok(json_response(200, &Value::Array(items), headers))
}

fn resolve(
    cat: &Catalog,
    r: &Repo,
    path: &str,
    ends: &Endpoints,
    on_cdn: bool,
) -> std::result::Result<HubResponse, HubResponse> {
    let entry_missing = || not_found("EntryNotFound", format!("{path} does not exist"), Some(&r.sha));
    let e = r.file(path).ok_or_else(entry_missing)?;
    if on_cdn && !e.lfs {
        return Err(entry_missing());
    }
    let d = cat.digests(e);
    let commit = ("X-Repo-Commit", r.sha.clone());
    let file = HubBody::File { id: e.id, size: e.size };
    let octet = ("Content-Type", "application/octet-stream".to_string());
    let ranges = ("Accept-Ranges", "bytes".to_string());
    match (&d.sha256, &ends.cdn) {
        (None, _) => Ok(HubResponse {
            status: 200,
            headers: vec![octet, ranges, commit, ("ETag", quoted(&d.git_oid))],
            body: file,
        }),
        // The CDN object: the CDN's own ETag is the content's; it also says
        // X-Repo-Commit so that clients which follow a same-host redirect
        // (huggingface_hub 1.x compares host names only) still find it.
        (Some(sha), _) if on_cdn => {
            Ok(HubResponse { status: 200, headers: vec![octet, ranges, commit, ("ETag", quoted(sha))], body: file })
        }
        (Some(sha), Some(cdn)) => {
            let location = format!("{cdn}{CDN_PREFIX}/{}/resolve/{}/{}", r.id, r.sha, utf8_percent_encode(path, PATH));
            Ok(HubResponse {
                status: 302,
                headers: vec![
                    commit,
                    ("ETag", quoted(&d.git_oid)),
                    ("X-Linked-Etag", quoted(sha)),
                    ("X-Linked-Size", e.size.to_string()),
                    ("Location", location),
                ],
                body: HubBody::Empty,
            })
        }
        // No CDN listener: the Hub serves the LFS file itself.
        (Some(sha), None) => Ok(HubResponse {
            status: 200,
            headers: vec![
                octet,
                ranges,
                commit,
                ("ETag", quoted(sha)),
                ("X-Linked-Etag", quoted(sha)),
                ("X-Linked-Size", e.size.to_string()),
            ],
            body: file,
        }),
    }
}

#[cfg(test)]
mod tests {
    //! Each test reads a response the way `huggingface_hub` (2.4.0 unless
    //! said otherwise) parses it: `ModelInfo(**json)`, `RepoFile(**entry)`,
    //! `get_hf_file_metadata` and `_paginate_pages` (see docs/clients.md).
    use super::*;
    use crate::scenario::{FileSpec, ModelSpec, Priority, SizeRange};
    use sha2::Sha256;

    const MIB: u64 = 1024 * 1024;

    fn ends(cdn: bool) -> Endpoints {
        Endpoints { hub: "http://127.0.0.1:8000".into(), cdn: cdn.then(|| "http://127.0.0.2:8001".into()) }
    }

    fn spec(name: &str, files: &[(&str, u64)]) -> ModelSpec {
        ModelSpec {
            name: name.into(),
            priority: Priority::Normal,
            files: files
                .iter()
                .map(|(p, s)| FileSpec { path: p.to_string(), size_bytes: *s, priority: None })
                .collect(),
            linear: None,
            random: None,
            manifest: None,
            file_priorities: vec![],
        }
    }

    /// A small "7B-like" repo: JSON files, a nested file, two large shards
    /// (kept small so the test hashes quickly: threshold 1 MiB).
    fn catalog(seed: u64) -> Catalog {
        let w = Workload {
            models: vec![
                spec(
                    "org/model",
                    &[
                        ("org/model/config.json", 700),
                        ("org/model/model-00001-of-00002.safetensors", 3 * MIB + 5),
                        ("org/model/model-00002-of-00002.safetensors", MIB),
                        ("org/model/tokenizer/a b.json", 1234),
                        ("org/model/tokenizer/sub/vocab.txt", 0),
                    ],
                ),
                spec("gpt2", &[("gpt2/pytorch_model.bin", 2 * MIB)]),
            ],
        };
        Catalog::from_workload(&w, seed, HubConfig { lfs_threshold_bytes: MIB, ..HubConfig::default() }).unwrap()
    }

    fn bytes(seed: u64, id: u32, size: u64) -> Vec<u8> {
        let mut b = vec![0u8; size as usize];
        Content::new(seed).fill(id, 0, &mut b);
        b
    }

    /// Git's blob id, from its definition.
    fn git_oid(data: &[u8]) -> String {
        let mut h = Sha1::new();
        h.update(format!("blob {}\0", data.len()).as_bytes());
        h.update(data);
        hex(&h.finalize())
    }

    fn sha256(data: &[u8]) -> String {
        hex(&Sha256::digest(data))
    }

    fn json_of(r: &HubResponse) -> Value {
        match &r.body {
            HubBody::Json(b) => serde_json::from_slice(b).unwrap(),
            other => panic!("not JSON: {other:?}"),
        }
    }

    /// `huggingface_hub._normalize_etag`: strip `W/` and quotes.
    fn normalize(tag: &str) -> String {
        tag.trim_start_matches("W/").trim_matches('"').to_string()
    }

    #[test]
    fn routes_are_the_urls_huggingface_hub_builds() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let m = |repo: &str, rev: Option<&str>| HubRoute::ModelInfo {
            repo: repo.into(),
            revision: rev.map(String::from),
            blobs: false,
        };
        assert_eq!(route("GET", "/api/models/org/model"), Some(m("org/model", None)));
        assert_eq!(route("GET", "/api/models/gpt2"), Some(m("gpt2", None)));
        assert_eq!(route("GET", "/api/models/org/model/revision/main"), Some(m("org/model", Some("main"))));
        assert_eq!(route("GET", "/api/models/gpt2/revision/refs%2Fpr%2F1"), Some(m("gpt2", Some("refs/pr/1"))));
        assert_eq!(
            route("GET", "/api/models/org/model/revision/main?blobs=True"),
            Some(HubRoute::ModelInfo { repo: "org/model".into(), revision: Some("main".into()), blobs: true })
        );
        // httpx(2) sends lower-case booleans, requests (0.x) `True`/`False`.
        for q in ["recursive=true&expand=false", "recursive=True&expand=False"] {
            assert_eq!(
                route("GET", &format!("/api/models/org/model/tree/{sha}?{q}")),
                Some(HubRoute::Tree {
                    repo: "org/model".into(),
                    revision: sha.into(),
                    dir: None,
                    recursive: true,
                    expand: false,
                    cursor: 0
                })
            );
        }
        // `list_repo_tree(path_in_repo=…)` quotes the folder with safe="".
        assert_eq!(
            route("GET", "/api/models/gpt2/tree/main/tokenizer%2Fsub?expand=true&cursor=50"),
            Some(HubRoute::Tree {
                repo: "gpt2".into(),
                revision: "main".into(),
                dir: Some("tokenizer/sub".into()),
                recursive: false,
                expand: true,
                cursor: 50
            })
        );
        let res = |repo: &str, rev: &str, path: &str| HubRoute::Resolve {
            repo: repo.into(),
            revision: rev.into(),
            path: path.into(),
        };
        assert_eq!(
            route("HEAD", &format!("/org/model/resolve/{sha}/config.json")),
            Some(res("org/model", sha, "config.json"))
        );
        // `hf_hub_url` quotes the filename with safe="/".
        assert_eq!(
            route("GET", "/org/model/resolve/main/tokenizer/a%20b.json"),
            Some(res("org/model", "main", "tokenizer/a b.json"))
        );
        assert_eq!(
            route("GET", "/gpt2/resolve/main/pytorch_model.bin"),
            Some(res("gpt2", "main", "pytorch_model.bin"))
        );
        assert_eq!(
            route("HEAD", &format!("/cdn-lfs/org/model/resolve/{sha}/x.bin?Expires=1")),
            Some(HubRoute::Cdn { repo: "org/model".into(), revision: sha.into(), path: "x.bin".into() })
        );
        // Not Hub requests: the server's own paths, other methods, broken targets.
        for (method, target) in [
            ("GET", "/org/model/file_0000.bin"),
            ("GET", "/_dlsim/stats"),
            ("POST", "/api/models/org/model"),
            ("GET", "/org/model/resolve/main/"),
            ("GET", "/org/model/resolve/main/a//b"),
            ("GET", "/api/models/a/b/c"),
            ("GET", "/api/models/org/model/tree/main?cursor=x"),
            ("GET", "/org/model/resolve/main/%ff.bin"),
        ] {
            assert_eq!(route(method, target), None, "{method} {target}");
        }
    }

    #[test]
    fn model_info_has_what_model_info_and_snapshot_download_read() {
        let cat = catalog(7);
        let r = respond(&route("GET", "/api/models/org/model/revision/main").unwrap(), &cat, &ends(true));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
        let v = json_of(&r);
        let repo = cat.repo("org/model").unwrap();
        assert_eq!(v["id"], "org/model");
        assert_eq!(v["sha"], repo.sha.as_str());
        assert!(repo.sha.len() == 40 && repo.sha.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        // 0.x's snapshot_download: [f.rfilename for f in repo_info.siblings].
        let names: Vec<&str> =
            v["siblings"].as_array().unwrap().iter().map(|s| s["rfilename"].as_str().unwrap()).collect();
        let mut want: Vec<&str> = repo.files().map(|(p, _)| p).collect();
        want.sort();
        assert_eq!(names, want);
        assert!(names.contains(&"tokenizer/sub/vocab.txt"));
        let total: u64 = v["siblings"].as_array().unwrap().iter().map(|s| s["size"].as_u64().unwrap()).sum();
        assert_eq!(total, 700 + 3 * MIB + 5 + MIB + 1234);
        assert_eq!(v["lastModified"], DATE);
        assert!(v["siblings"][0].get("lfs").is_none(), "lfs only with blobs=true");
        // With blobs=true: RepoSibling(blob_id=s["blobId"], lfs=BlobLfsInfo(size, sha256, pointerSize)).
        let v = json_of(&respond(&route("GET", "/api/models/org/model?blobs=true").unwrap(), &cat, &ends(true)));
        let shard = v["siblings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["rfilename"] == "model-00001-of-00002.safetensors")
            .unwrap();
        let data = bytes(7, 1, 3 * MIB + 5);
        assert_eq!(shard["lfs"]["sha256"], sha256(&data).as_str());
        assert_eq!(shard["lfs"]["size"], 3 * MIB + 5);
        let pointer = lfs_pointer(&sha256(&data), 3 * MIB + 5);
        assert_eq!(shard["lfs"]["pointerSize"], pointer.len() as u64);
        assert_eq!(shard["blobId"], git_oid(pointer.as_bytes()).as_str());
        let config = v["siblings"].as_array().unwrap().iter().find(|s| s["rfilename"] == "config.json").unwrap();
        assert_eq!(config["blobId"], git_oid(&bytes(7, 0, 700)).as_str());
        assert!(config.get("lfs").is_none());
    }

    #[test]
    fn tree_entries_are_repo_files_with_git_and_lfs_ids() {
        let cat = catalog(7);
        let sha = cat.repo("org/model").unwrap().sha.clone();
        let t = route("GET", &format!("/api/models/org/model/tree/{sha}?recursive=true&expand=false")).unwrap();
        let r = respond(&t, &cat, &ends(true));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("link"), None, "one page");
        let v = json_of(&r);
        let items = v.as_array().unwrap();
        let paths: Vec<&str> = items.iter().map(|e| e["path"].as_str().unwrap()).collect();
        assert_eq!(
            paths,
            [
                "config.json",
                "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors",
                "tokenizer",
                "tokenizer/a b.json",
                "tokenizer/sub",
                "tokenizer/sub/vocab.txt"
            ]
        );
        // RepoFile(**e) pops path, size, oid and, if present, lfs["size"], lfs["oid"], lfs["pointerSize"];
        // RepoFolder(**e) pops path and oid.
        for e in items {
            assert!(e["oid"].as_str().is_some_and(|o| o.len() == 40), "{e}");
            assert!(e["size"].is_u64());
            assert!(e["type"] == "file" || e["type"] == "directory");
        }
        let file = |p: &str| items.iter().find(|e| e["path"] == p).unwrap();
        assert_eq!(file("tokenizer")["type"], "directory");
        assert_eq!(file("config.json")["oid"], git_oid(&bytes(7, 0, 700)).as_str());
        assert_eq!(file("tokenizer/a b.json")["oid"], git_oid(&bytes(7, 3, 1234)).as_str());
        assert_eq!(file("tokenizer/sub/vocab.txt")["oid"], git_oid(b"").as_str());
        assert_eq!(git_oid(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391", "git's empty blob");
        let shard = file("model-00002-of-00002.safetensors");
        let sha256_2 = sha256(&bytes(7, 2, MIB));
        assert_eq!(shard["lfs"]["oid"], sha256_2.as_str());
        assert_eq!(shard["lfs"]["size"], MIB);
        assert_eq!(shard["size"], MIB);
        assert_eq!(shard["lfs"]["pointerSize"], lfs_pointer(&sha256_2, MIB).len() as u64);
        assert_eq!(shard["oid"], git_oid(lfs_pointer(&sha256_2, MIB).as_bytes()).as_str());
        assert!(file("config.json").get("lfs").is_none());

        // Not recursive: the direct children of the folder only.
        let t = route("GET", "/api/models/org/model/tree/main/tokenizer").unwrap();
        let v = json_of(&respond(&t, &cat, &ends(true)));
        let paths: Vec<&str> = v.as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
        assert_eq!(paths, ["tokenizer/a b.json", "tokenizer/sub"]);
        let t = route("GET", "/api/models/org/model/tree/main/nope").unwrap();
        let r = respond(&t, &cat, &ends(true));
        assert_eq!((r.status, r.header("x-error-code")), (404, Some("EntryNotFound")));
    }

    #[test]
    fn tree_pages_follow_link_next_to_the_whole_listing() {
        let n = 7u32;
        let files: Vec<(String, u64, u32)> = (0..n).map(|i| (format!("d/f{i}.bin"), i as u64, i)).collect();
        for (page, expand) in [(3usize, false), (2, true)] {
            let cfg = HubConfig { tree_page_size: 3, tree_page_size_expand: 2, ..HubConfig::default() };
            let mut cat = Catalog::new(1, cfg);
            cat.add_repo("o/r", files.clone()).unwrap();
            // _paginate_pages: GET, then GET the rel="next" URL until there is none.
            let mut url = format!("http://127.0.0.1:8000/api/models/o/r/tree/main?recursive=true&expand={expand}");
            let mut got = vec![];
            let mut pages = 0;
            loop {
                let target = url.strip_prefix("http://127.0.0.1:8000").unwrap();
                let r = respond(&route("GET", target).unwrap(), &cat, &ends(false));
                let v = json_of(&r);
                assert!(v.as_array().unwrap().len() <= page);
                got.extend(v.as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap().to_string()));
                pages += 1;
                let Some(link) = r.header("link") else { break };
                let (u, rel) = link.split_once(">; ").unwrap();
                assert_eq!(rel, "rel=\"next\"");
                url = u.trim_start_matches('<').to_string();
            }
            let total = n as usize + 1; // the files and directory `d`
            assert_eq!(pages, total.div_ceil(page));
            let mut want: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
            want.insert(0, "d".into());
            assert_eq!(got, want);
        }
    }

    /// `get_hf_file_metadata`: HEAD without following a redirect to another
    /// origin; commit = X-Repo-Commit, etag = X-Linked-Etag or ETag,
    /// location = Location or the URL, size = X-Linked-Size or (unless a
    /// redirect) Content-Length.
    fn metadata(r: &HubResponse, url: &str) -> (String, String, String, u64) {
        let commit = r.header("x-repo-commit").expect("X-Repo-Commit").to_string();
        let etag = normalize(r.header("x-linked-etag").or(r.header("etag")).expect("an ETag"));
        let location = r.header("location").unwrap_or(url).to_string();
        let redirect = (300..400).contains(&r.status);
        let size = match r.header("x-linked-size") {
            Some(s) => s.parse().unwrap(),
            None if !redirect => r.body.len(),
            None => panic!("no size"),
        };
        (commit, etag, location, size)
    }

    #[test]
    fn small_files_are_served_with_their_git_blob_id() {
        let cat = catalog(9);
        let sha = cat.repo("org/model").unwrap().sha.clone();
        for rev in ["main", sha.as_str()] {
            let url = format!("http://127.0.0.1:8000/org/model/resolve/{rev}/tokenizer/a%20b.json");
            let r = respond(&route("HEAD", &url[21..]).unwrap(), &cat, &ends(true));
            assert_eq!(r.status, 200);
            assert_eq!(r.body, HubBody::File { id: 3, size: 1234 });
            assert_eq!(r.header("accept-ranges"), Some("bytes"));
            assert_eq!(r.header("etag"), Some(format!("\"{}\"", git_oid(&bytes(9, 3, 1234))).as_str()));
            assert_eq!(metadata(&r, &url), (sha.clone(), git_oid(&bytes(9, 3, 1234)), url.clone(), 1234));
            assert_eq!(cat.etag("org/model", "tokenizer/a b.json"), Some(git_oid(&bytes(9, 3, 1234))));
        }
    }

    #[test]
    fn large_files_redirect_to_the_cdn_which_serves_them() {
        let cat = catalog(9);
        let sha = cat.repo("gpt2").unwrap().sha.clone();
        let url = format!("http://127.0.0.1:8000/gpt2/resolve/{sha}/pytorch_model.bin");
        let r = respond(&route("HEAD", &url[21..]).unwrap(), &cat, &ends(true));
        assert_eq!(r.status, 302);
        assert_eq!(r.body, HubBody::Empty);
        let digest = sha256(&bytes(9, 5, 2 * MIB));
        let (commit, etag, location, size) = metadata(&r, &url);
        assert_eq!((commit.as_str(), etag.as_str(), size), (sha.as_str(), digest.as_str(), 2 * MIB));
        let cdn = "http://127.0.0.2:8001";
        assert!(location.starts_with(cdn), "{location}");
        // The GET goes to the Location; the CDN listener serves the bytes.
        let c = route("GET", &location[cdn.len()..]).unwrap();
        assert!(matches!(c, HubRoute::Cdn { .. }));
        let r = respond(&c, &cat, &ends(true));
        assert_eq!(r.status, 200);
        assert_eq!(r.body, HubBody::File { id: 5, size: 2 * MIB });
        assert_eq!(r.header("accept-ranges"), Some("bytes"));
        // A client that follows the redirect (1.x: same host name) reads it here.
        assert_eq!(metadata(&r, &location), (sha.clone(), digest.clone(), location.clone(), 2 * MIB));
        // No CDN: the Hub serves the LFS file itself, same metadata.
        let r = respond(&route("HEAD", &url[21..]).unwrap(), &cat, &ends(false));
        assert_eq!(r.status, 200);
        assert_eq!(r.body, HubBody::File { id: 5, size: 2 * MIB });
        assert_eq!(metadata(&r, &url), (sha.clone(), digest, url.clone(), 2 * MIB));
        // Names with escapes survive the trip through Location.
        let mut cat = Catalog::new(3, HubConfig { lfs_threshold_bytes: 1, ..HubConfig::default() });
        cat.add_repo("o/r", [("dir/a b#%.bin".to_string(), 10, 0)]).unwrap();
        let r = respond(&route("GET", "/o/r/resolve/main/dir/a%20b%23%25.bin").unwrap(), &cat, &ends(true));
        let loc = r.header("location").unwrap();
        assert!(loc.ends_with("/dir/a%20b%23%25.bin"), "{loc}");
        let c = route("GET", &loc[cdn.len()..]).unwrap();
        assert_eq!(respond(&c, &cat, &ends(true)).body, HubBody::File { id: 0, size: 10 });
    }

    #[test]
    fn missing_things_are_404_with_the_error_code_clients_map() {
        let cat = catalog(1);
        let sha = cat.repo("org/model").unwrap().sha.clone();
        for (target, code, commit) in [
            ("/api/models/no/such", "RepoNotFound", None),
            ("/api/models/org/model/revision/dev", "RevisionNotFound", None),
            ("/api/models/org/model/tree/dev?recursive=true", "RevisionNotFound", None),
            ("/no/such/resolve/main/x", "RepoNotFound", None),
            ("/org/model/resolve/0000000000000000000000000000000000000000/config.json", "RevisionNotFound", None),
            ("/org/model/resolve/main/nope.json", "EntryNotFound", Some(sha.as_str())),
            // Small files are not on the CDN.
            ("/cdn-lfs/org/model/resolve/main/config.json", "EntryNotFound", Some(sha.as_str())),
        ] {
            let r = respond(&route("GET", target).unwrap(), &cat, &ends(true));
            assert_eq!(r.status, 404, "{target}");
            assert_eq!(r.header("x-error-code"), Some(code), "{target}");
            assert_eq!(r.header("x-repo-commit"), commit, "{target}");
            assert!(json_of(&r)["error"].is_string());
        }
    }

    #[test]
    fn commits_are_deterministic_from_seed_and_files() {
        let a = catalog(5);
        let b = catalog(5);
        let c = catalog(6);
        for id in ["org/model", "gpt2"] {
            assert_eq!(a.repo(id).unwrap().sha, b.repo(id).unwrap().sha);
            assert_ne!(a.repo(id).unwrap().sha, c.repo(id).unwrap().sha);
        }
        assert_ne!(a.repo("org/model").unwrap().sha, a.repo("gpt2").unwrap().sha);
        let mut d = Catalog::new(5, HubConfig::default());
        d.add_repo("gpt2", [("pytorch_model.bin".to_string(), 2 * MIB + 1, 5)]).unwrap();
        assert_ne!(d.repo("gpt2").unwrap().sha, a.repo("gpt2").unwrap().sha, "a size change is a new commit");
        // precompute fills what respond would compute lazily: same answers.
        a.precompute();
        assert_eq!(a.etag("org/model", "config.json"), b.etag("org/model", "config.json"));
    }

    #[test]
    fn workload_models_become_repositories() {
        let w = Workload {
            models: vec![ModelSpec {
                name: "bench".into(),
                priority: Priority::Normal,
                files: Default::default(),
                linear: Some(SizeRange { count: 3, min_size_bytes: 10, max_size_bytes: 40 }),
                random: None,
                manifest: None,
                file_priorities: vec![],
            }],
        };
        let cat = Catalog::from_workload(&w, 42, HubConfig::default()).unwrap();
        assert_eq!(cat.repo_ids().collect::<Vec<_>>(), ["bench"]);
        let files: Vec<(&str, u64)> = cat.repo("bench").unwrap().files().collect();
        assert_eq!(files, [("file_0000.bin", 10), ("file_0001.bin", 20), ("file_0002.bin", 30)]);

        for (name, paths, field) in [
            ("a/b/c", vec!["x"], "workload.models[0].name"),
            ("-a", vec!["x"], "workload.models[0].name"),
            ("a--b", vec!["x"], "workload.models[0].name"),
            ("ok", vec!["a/../b"], "workload.models[0].files"),
            ("ok", vec!["x", "x/y"], "workload.models[0].files"),
            ("ok", vec!["/x"], "workload.models[0].files"),
        ] {
            let w = Workload { models: vec![spec(name, &paths.iter().map(|p| (*p, 1u64)).collect::<Vec<_>>())] };
            match Catalog::from_workload(&w, 1, HubConfig::default()) {
                Err(Error::Scenario { field: f, message }) => {
                    assert_eq!(f, field, "{name} {paths:?}");
                    assert!(message.contains("allowed") || message.contains("both"), "{message}");
                }
                other => panic!("{name} {paths:?}: {other:?}"),
            }
        }
        let w = Workload { models: vec![spec("m", &[("m/x", 1)]), spec("m", &[("m/y", 1)])] };
        assert!(matches!(Catalog::from_workload(&w, 1, HubConfig::default()), Err(Error::Scenario { .. })));
    }
}
