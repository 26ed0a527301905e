//! Getting a backbone's files from a Hugging Face hub model repo, or from a mirror that serves
//! the hub's `resolve/` layout, through hf-hub's on-disk cache.
//!
//! What hf-hub 1.0 does for each file (what a mirror, or a test server, has to serve):
//!
//! 1. `HEAD {endpoint}/{repo}/resolve/{revision}/{path}` (the revision percent-encoded as one
//!    path segment). Only relative redirects are followed; an absolute one (to a CDN) is read
//!    as is. When the file is already cached for that revision the request carries
//!    `If-None-Match: "{etag}"`, and a `304` reuses the cache. A success or redirect must carry
//!    `X-Repo-Commit` (the commit sha) and `X-Linked-Etag` or `ETag` (names the blob);
//!    `X-Linked-Size` or `Content-Length` give the size; `X-Xet-Hash` switches to a Xet
//!    transfer (`GET {endpoint}/api/models/{repo}/xet-read-token/{revision}`, then hf-xet).
//!    A `404` means "no such file" and is remembered in the cache (`.no_exist/`).
//! 2. Unless `blobs/{etag}` is cached: `GET` the same URL (redirects followed, no `Range`)
//!    into `blobs/{etag}.incomplete` under a lock file, renamed to `blobs/{etag}` once complete,
//!    so a file is never seen half-written. An interrupted download starts over next time.
//! 3. `snapshots/{commit}/{path}` is symlinked to the blob; `refs/{revision}` records the commit.
//!
//! No `/api/...` call is made for a plain (non-Xet) file. Requests answered 408/429/5xx or
//! failing to connect are retried with backoff; if they keep failing, a cached copy is used.
//! hf-hub reads `HF_ENDPOINT` (when no endpoint is given), `HF_TOKEN`, `HF_TOKEN_PATH`,
//! `$HF_HOME/token` (when no token is given) and the usual proxy variables; it does not read
//! `HF_HUB_OFFLINE`, so callers map that onto [`HubOptions::offline`] themselves.

use std::path::PathBuf;

use hf_hub::{HFClient, HFError, HFRepositorySync, RepoTypeModel};

use crate::error::EmbedError;

/// Where and how to reach a Hugging Face hub (or a mirror serving its layout).
#[derive(Debug, Clone)]
pub struct HubOptions {
    /// Hub base URL; `None` uses hf-hub's resolution (`HF_ENDPOINT`, else `https://huggingface.co`).
    pub endpoint: Option<String>,
    /// hf-hub cache root (`models--{owner}--{name}/` folders go inside).
    pub cache_dir: PathBuf,
    /// Use only the cache; never touch the network.
    pub offline: bool,
    /// Access token; `None` uses hf-hub's resolution (`HF_TOKEN`, `HF_TOKEN_PATH`, `$HF_HOME/token`).
    pub token: Option<String>,
}

/// Downloads `files` of model repo `repo` at `revision` and returns their local paths, in order.
///
/// Files go through hf-hub's cache, so a download becomes visible only once complete and a
/// cached file is not fetched again (a HEAD still checks the revision unless `revision` is a
/// commit sha). Offline, only the cache is used and a missing file is an error that says so.
pub fn download(
    opts: &HubOptions,
    repo: &str,
    revision: &str,
    files: &[String],
) -> crate::Result<Vec<PathBuf>> {
    let (owner, name) = split_repo(repo).map_err(|reason| EmbedError::Download {
        what: format!("hub repo `{repo}`"),
        reason,
    })?;
    if revision.trim().is_empty() {
        return Err(EmbedError::Download {
            what: format!("hub repo `{repo}`"),
            reason: "empty revision; give a branch, tag or commit sha (e.g. `main`)".into(),
        });
    }
    for file in files {
        check_file_path(file).map_err(|reason| EmbedError::Download {
            what: what(repo, revision, file),
            reason,
        })?;
    }
    if files.is_empty() {
        return Ok(Vec::new());
    }

    let (handle, endpoint) = client(opts, repo, owner, name)?;
    files
        .iter()
        .map(|file| {
            handle
                .download_file()
                .filename(file.clone())
                .revision(revision)
                .local_files_only(opts.offline)
                .send()
                .map_err(|err| EmbedError::Download {
                    what: what(repo, revision, file),
                    reason: reason(&err, opts, &endpoint, repo, revision, file),
                })
        })
        .collect()
}

/// Builds the blocking hf-hub handle for `repo`; also returns the endpoint it resolved.
fn client(
    opts: &HubOptions,
    repo: &str,
    owner: &str,
    name: &str,
) -> crate::Result<(HFRepositorySync<RepoTypeModel>, String)> {
    let mut builder = HFClient::builder()
        .cache_dir(opts.cache_dir.clone())
        .user_agent(concat!("graft/", env!("CARGO_PKG_VERSION"), "; hf-hub/1"));
    if let Some(endpoint) = &opts.endpoint {
        builder = builder.endpoint(endpoint.clone());
    }
    if let Some(token) = &opts.token {
        builder = builder.token(token.clone());
    }
    let fail = |reason: String| EmbedError::Download {
        what: format!("hub repo `{repo}`"),
        reason,
    };
    let client = builder.build().map_err(|e| {
        let source = match &opts.endpoint {
            Some(endpoint) => format!("hub endpoint `{endpoint}`"),
            None => "HF_ENDPOINT".to_string(),
        };
        fail(format!(
            "cannot set up the hub client ({source}): {}",
            chain(&e)
        ))
    })?;
    let endpoint = client.endpoint().to_string();
    let client = hf_hub::HFClientSync::from_inner(client)
        .map_err(|e| fail(format!("cannot start the hub client: {}", chain(&e))))?;
    Ok((client.model(owner, name), endpoint))
}

/// `what` of a download error: the file, the repo and the revision.
fn what(repo: &str, revision: &str, file: &str) -> String {
    format!("`{file}` from hub repo `{repo}` at revision `{revision}`")
}

/// Splits `owner/name` (or a bare `name`), rejecting anything else.
fn split_repo(repo: &str) -> Result<(&str, &str), String> {
    let parts: Vec<&str> = repo.split('/').collect();
    let bad = parts.len() > 2
        || parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == "..");
    if bad || repo.chars().any(|c| c.is_whitespace() || c == '\\') {
        return Err("not a hub repo id; expected `owner/name`".into());
    }
    Ok(hf_hub::split_id(repo))
}

/// Rejects file paths that are empty, absolute or climb out of the repo.
fn check_file_path(file: &str) -> Result<(), String> {
    let bad_part = file
        .split('/')
        .any(|p| p.is_empty() || p == "." || p == "..");
    if file.is_empty() || bad_part || file.contains('\\') {
        return Err("not a repo file path; expected a relative path like `onnx/model.onnx`".into());
    }
    Ok(())
}

/// Turns an hf-hub error into a reason that says what failed and what to do.
fn reason(
    err: &HFError,
    opts: &HubOptions,
    endpoint: &str,
    repo: &str,
    revision: &str,
    file: &str,
) -> String {
    let url = format!("{endpoint}/{repo}/resolve/{revision}/{file}");
    let cache = opts.cache_dir.display();
    match err {
        HFError::LocalEntryNotFound { .. } => format!(
            "not in the hub cache {cache} and --offline forbids the network; \
             run once without --offline to download it"
        ),
        HFError::EntryNotFound { .. } if opts.offline => format!(
            "the hub cache {cache} records that the repo has no such file at this revision \
             (an earlier download got HTTP 404); check the file path and revision"
        ),
        HFError::EntryNotFound { .. } => format!(
            "HTTP 404 for {url}: the repo, revision or file does not exist; check all three"
        ),
        HFError::RepoNotFound { .. } => format!("HTTP 404 for {url}: no such repo on {endpoint}"),
        HFError::RevisionNotFound { .. } => {
            format!("HTTP 404 for {url}: no revision `{revision}` in the repo")
        }
        HFError::AuthRequired { context } => format!(
            "HTTP {} for {url}: the repo does not exist, or it is private/gated and needs a token \
             (set HF_TOKEN to a token with access){}",
            context.status.as_u16(),
            server_message(context.server_message.as_deref()),
        ),
        HFError::Forbidden { context } => format!(
            "HTTP {} for {url}: access denied; a gated model needs its terms accepted on the hub \
             and HF_TOKEN set to a token of that account{}",
            context.status.as_u16(),
            server_message(context.server_message.as_deref()),
        ),
        HFError::RateLimited { retry_after, context } => format!(
            "HTTP {} for {url}: rate limited by the hub; retry {}, or set HF_TOKEN for a higher limit",
            context.status.as_u16(),
            retry_after.map_or("later".to_string(), |d| format!("in {} s", d.as_secs())),
        ),
        HFError::Http { context } | HFError::Conflict { context } => {
            let hint = if context.status.is_server_error() {
                "; the hub (or mirror) failed even after retries, try again later"
            } else {
                ""
            };
            format!(
                "HTTP {} for {}{}{hint}",
                context.status,
                context.url,
                server_message(context.server_message.as_deref()),
            )
        }
        HFError::Request { source, .. } => {
            if source.is_connect() {
                format!(
                    "cannot connect to {endpoint} ({}); check the network, set HTTPS_PROXY \
                     (and NO_PROXY) if you are behind a proxy, or set HF_ENDPOINT to a reachable \
                     hub mirror",
                    root_cause(source)
                )
            } else if source.is_timeout() {
                format!(
                    "timed out talking to {endpoint} ({}); check the network, HTTPS_PROXY \
                     and HF_ENDPOINT, then try again",
                    root_cause(source)
                )
            } else {
                format!(
                    "network error talking to {endpoint} ({}); check HTTPS_PROXY and \
                     HF_ENDPOINT, then try again (a partial download restarts from scratch)",
                    chain(source)
                )
            }
        }
        HFError::MalformedResponse { what, .. } => format!(
            "{endpoint} does not answer like a Hugging Face hub for {url} ({what}); HF_ENDPOINT \
             must point at the hub or at a mirror serving its `resolve/` layout with ETag and \
             X-Repo-Commit headers"
        ),
        HFError::Xet { .. } => format!(
            "the file is stored with Xet and its Xet transfer failed ({}); check the network and \
             HTTPS_PROXY (Xet storage is on other hosts than {endpoint})",
            chain(err)
        ),
        HFError::CacheLockTimeout { path } => format!(
            "timed out waiting for the cache lock {}; another download of this file is running, \
             or a stale lock was left behind",
            path.display()
        ),
        HFError::Io(e) => format!("cannot write to the hub cache {cache}: {e}"),
        _ => chain(err),
    }
}

/// `: {message}` when the server said something, else nothing.
fn server_message(message: Option<&str>) -> String {
    match message {
        Some(m) if !m.trim().is_empty() => format!(" (hub says: {})", m.trim()),
        _ => String::new(),
    }
}

/// The innermost source of an error (for a refused connection: the OS error).
fn root_cause(err: &dyn std::error::Error) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// An error and its sources, joined by `: ` (reqwest's own message hides the cause).
fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}
