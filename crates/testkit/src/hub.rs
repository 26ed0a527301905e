//! A loopback server that answers like the Hugging Face hub does for a public model repo,
//! for testing hub downloads without leaving 127.0.0.1:
//! `HEAD`/`GET /{repo}/resolve/{revision}/{path}` with `X-Repo-Commit` and `ETag`; an LFS
//! file is a 302 to a "CDN" URL carrying `X-Linked-Etag`/`X-Linked-Size`; a matching
//! `If-None-Match` is a 304; an unknown repo a 401, an unknown revision or file a 404.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};
use tiny_http::{Header, Method, Request, Response, ResponseBox, Server};

/// One file of the fake repo.
pub struct FakeFile {
    /// Path inside the repo.
    pub path: String,
    body: Body,
    /// sha256 of the bytes: the blob name hf-hub keys its cache on.
    pub etag: String,
    size: u64,
    /// Served like an LFS file: a 302 to the "CDN" with `X-Linked-*` headers.
    pub lfs: bool,
}

enum Body {
    Bytes(Vec<u8>),
    File(PathBuf),
}

impl FakeFile {
    /// A file held in memory.
    pub fn bytes(path: &str, bytes: Vec<u8>, lfs: bool) -> Self {
        FakeFile {
            path: path.into(),
            etag: hex::encode(Sha256::digest(&bytes)),
            size: bytes.len() as u64,
            body: Body::Bytes(bytes),
            lfs,
        }
    }

    /// A file served from disk (never held in memory), whose sha256 is `sha256`.
    pub fn on_disk(path: &str, file: PathBuf, sha256: &str, lfs: bool) -> Self {
        let size = std::fs::metadata(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .len();
        FakeFile {
            path: path.into(),
            body: Body::File(file),
            etag: sha256.into(),
            size,
            lfs,
        }
    }

    /// The file's bytes.
    pub fn read(&self) -> Vec<u8> {
        match &self.body {
            Body::Bytes(b) => b.clone(),
            Body::File(p) => std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        }
    }

    fn response(&self) -> ResponseBox {
        match &self.body {
            Body::Bytes(b) => Response::from_data(b.clone())
                .with_chunked_threshold(usize::MAX)
                .boxed(),
            Body::File(p) => Response::from_file(std::fs::File::open(p).expect("the file opens"))
                .with_chunked_threshold(usize::MAX)
                .boxed(),
        }
    }
}

/// A fake hub serving one repo on 127.0.0.1; stops when dropped.
pub struct FakeHub {
    server: Arc<Server>,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    log: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Repo {
    name: String,
    commit: String,
    files: Vec<FakeFile>,
    token: Option<String>,
}

impl FakeHub {
    /// Serves `files` as repo `repo` at `commit` (also reachable as `main`); requests that
    /// carry `Bearer token` are logged with ` auth`.
    pub fn start(repo: &str, commit: &str, files: Vec<FakeFile>, token: Option<&str>) -> FakeHub {
        keep_loopback_off_proxies();
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let endpoint = format!("http://127.0.0.1:{port}");
        let log = Arc::new(Mutex::new(Vec::new()));
        let repo = Arc::new(Repo {
            name: repo.into(),
            commit: commit.into(),
            files,
            token: token.map(str::to_string),
        });
        let thread = {
            let (server, endpoint, log) = (server.clone(), endpoint.clone(), log.clone());
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    serve(request, &endpoint, &repo, &log);
                }
            })
        };
        FakeHub {
            server,
            endpoint,
            log,
            thread: Some(thread),
        }
    }

    /// `METHOD url` of every request so far (` auth` appended when it carried the token).
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// If the environment sets a proxy, makes requests to the loopback bypass it (in this
/// process and the children it starts).
pub fn keep_loopback_off_proxies() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for key in ["NO_PROXY", "no_proxy"] {
            let old = std::env::var(key).unwrap_or_default();
            // Tests run single-process set-up here before any thread reads the variable.
            std::env::set_var(key, format!("{old},127.0.0.1,localhost"));
        }
    });
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn request_header(request: &Request, name: &'static str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str().to_string())
}

fn empty(status: u16) -> ResponseBox {
    Response::from_data(Vec::new())
        .with_status_code(status)
        .boxed()
}

fn serve(request: Request, endpoint: &str, repo: &Repo, log: &Mutex<Vec<String>>) {
    let url = request.url().to_string();
    let authed = repo.token.as_ref().is_some_and(|t| {
        request_header(&request, "Authorization").as_deref() == Some(&format!("Bearer {t}"))
    });
    if let Ok(mut log) = log.lock() {
        log.push(format!(
            "{} {url}{}",
            request.method(),
            if authed { " auth" } else { "" }
        ));
    }
    let method_ok = matches!(request.method(), Method::Head | Method::Get);
    let commit = header("X-Repo-Commit", &repo.commit);

    // The "CDN" an LFS file redirects to.
    if let Some(etag) = url.strip_prefix("/cdn/") {
        let response = match repo.files.iter().find(|f| f.etag == etag) {
            Some(f) if method_ok => f
                .response()
                .with_header(header("ETag", &format!("\"{}\"", f.etag))),
            _ => empty(404),
        };
        let _ = request.respond(response);
        return;
    }

    // /{owner}/{name}/resolve/{revision}/{path}
    let parts: Vec<&str> = url.trim_start_matches('/').splitn(5, '/').collect();
    let response = match parts.as_slice() {
        [owner, name, "resolve", revision, path] if method_ok => {
            if format!("{owner}/{name}") != repo.name {
                // The hub answers 401 for repos that do not exist (or are private).
                empty(401)
                    .with_header(header("X-Error-Code", "RepoNotFound"))
                    .with_header(header("X-Error-Message", "Repository not found"))
            } else if *revision != "main" && *revision != repo.commit {
                empty(404).with_header(header("X-Error-Code", "RevisionNotFound"))
            } else if let Some(f) = repo.files.iter().find(|f| f.path == *path) {
                let quoted = format!("\"{}\"", f.etag);
                if request_header(&request, "If-None-Match").as_deref() == Some(quoted.as_str()) {
                    empty(304)
                        .with_header(commit)
                        .with_header(header("ETag", &quoted))
                } else if f.lfs {
                    empty(302)
                        .with_header(commit)
                        .with_header(header("Location", &format!("{endpoint}/cdn/{}", f.etag)))
                        .with_header(header("ETag", "\"pointer-file-etag\""))
                        .with_header(header("X-Linked-Etag", &quoted))
                        .with_header(header("X-Linked-Size", &f.size.to_string()))
                } else {
                    f.response()
                        .with_header(commit)
                        .with_header(header("ETag", &quoted))
                }
            } else {
                empty(404)
                    .with_header(commit)
                    .with_header(header("X-Error-Code", "EntryNotFound"))
                    .with_header(header("X-Error-Message", "Entry not found"))
            }
        }
        _ => empty(404),
    };
    let _ = request.respond(response);
}
