//! `fetch::hub::download` against a fake hub on 127.0.0.1 that speaks what hf-hub 1.0 asks for:
//! `HEAD`/`GET {endpoint}/{repo}/resolve/{revision}/{path}` with `X-Repo-Commit`, `ETag`
//! (`X-Linked-Etag`/`X-Linked-Size` plus a 302 to a "CDN" URL for the LFS file), `304` on a
//! matching `If-None-Match`, and the hub's `404`/`401` answers. Nothing leaves the loopback.

use std::path::Path;
use std::sync::{Arc, Mutex, Once};
use std::thread::JoinHandle;

use graft_embed::{hub_download as download, HubOptions};
use sha2::{Digest, Sha256};
use tiny_http::{Header, Method, Request, Response, Server};

const REPO: &str = "graft-test/tiny-model";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const TOKEN: &str = "hf_graft_test_token";

/// One file of the fake repo.
struct FakeFile {
    path: &'static str,
    bytes: Vec<u8>,
    /// sha256 of the bytes: the blob name hf-hub keys its cache on.
    etag: String,
    /// Served like an LFS file: a 302 to the "CDN" carrying `X-Linked-*` headers.
    lfs: bool,
}

/// A fake hub serving `REPO` on 127.0.0.1; stops when dropped.
struct FakeHub {
    server: Arc<Server>,
    endpoint: String,
    /// `METHOD url` of each request, plus ` auth` when it carried the expected token.
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

impl FakeHub {
    fn start() -> FakeHub {
        keep_loopback_off_proxies();
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let endpoint = format!("http://127.0.0.1:{port}");
        let log = Arc::new(Mutex::new(Vec::new()));
        let files = Arc::new(files());
        let thread = {
            let (server, endpoint, log) = (server.clone(), endpoint.clone(), log.clone());
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    serve(request, &endpoint, &files, &log);
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

    fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn options(&self, cache_dir: &Path, offline: bool) -> HubOptions {
        HubOptions {
            endpoint: Some(self.endpoint.clone()),
            cache_dir: cache_dir.to_path_buf(),
            offline,
            token: Some(TOKEN.to_string()),
        }
    }
}

/// If the environment sets a proxy, make sure requests to the loopback server bypass it.
fn keep_loopback_off_proxies() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let proxied = [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ]
        .iter()
        .any(|k| std::env::var_os(k).is_some());
        if proxied {
            for key in ["NO_PROXY", "no_proxy"] {
                let old = std::env::var(key).unwrap_or_default();
                std::env::set_var(key, format!("{old},127.0.0.1,localhost"));
            }
        }
    });
}

/// 100 KB of deterministic pseudo-random bytes.
fn model_bytes() -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..100 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect()
}

fn files() -> Vec<FakeFile> {
    let file = |path, bytes: Vec<u8>, lfs| FakeFile {
        path,
        etag: hex::encode(Sha256::digest(&bytes)),
        bytes,
        lfs,
    };
    vec![
        file("onnx/model.onnx", model_bytes(), true),
        file(
            "tokenizer.json",
            br#"{"version":"1.0","model":{"type":"WordPiece","vocab":{"[UNK]":0}}}"#.to_vec(),
            false,
        ),
    ]
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

/// Answers one request the way huggingface.co does for a public model repo.
fn serve(request: Request, endpoint: &str, files: &[FakeFile], log: &Mutex<Vec<String>>) {
    let url = request.url().to_string();
    let authed =
        request_header(&request, "Authorization").as_deref() == Some(&format!("Bearer {TOKEN}"));
    log.lock().unwrap().push(format!(
        "{} {url}{}",
        request.method(),
        if authed { " auth" } else { "" }
    ));
    let method_ok = matches!(request.method(), Method::Head | Method::Get);
    let commit = header("X-Repo-Commit", COMMIT);

    // The "CDN" an LFS file redirects to.
    if let Some(etag) = url.strip_prefix("/cdn/") {
        let response = match files.iter().find(|f| f.etag == etag) {
            Some(f) if method_ok => {
                Response::from_data(f.bytes.clone()).with_chunked_threshold(usize::MAX)
            }
            _ => Response::from_data(Vec::new()).with_status_code(404),
        };
        let _ = request.respond(response);
        return;
    }

    // /{owner}/{name}/resolve/{revision}/{path}
    let parts: Vec<&str> = url.trim_start_matches('/').splitn(5, '/').collect();
    let response = match parts.as_slice() {
        [owner, name, "resolve", revision, path] if method_ok => {
            if format!("{owner}/{name}") != REPO {
                // The hub answers 401 for repos that do not exist (or are private).
                Response::from_data(Vec::new())
                    .with_status_code(401)
                    .with_header(header("X-Error-Code", "RepoNotFound"))
                    .with_header(header("X-Error-Message", "Repository not found"))
            } else if *revision != "main" && *revision != COMMIT {
                Response::from_data(Vec::new())
                    .with_status_code(404)
                    .with_header(header("X-Error-Code", "RevisionNotFound"))
            } else if let Some(f) = files.iter().find(|f| f.path == *path) {
                let quoted = format!("\"{}\"", f.etag);
                if request_header(&request, "If-None-Match").as_deref() == Some(quoted.as_str()) {
                    Response::from_data(Vec::new())
                        .with_status_code(304)
                        .with_header(commit)
                        .with_header(header("ETag", &quoted))
                } else if f.lfs {
                    // Like the hub: HEAD/GET on an LFS file is a 302 to the CDN; the linked
                    // headers carry the blob's etag and size.
                    Response::from_data(Vec::new())
                        .with_status_code(302)
                        .with_header(commit)
                        .with_header(header("Location", &format!("{endpoint}/cdn/{}", f.etag)))
                        .with_header(header("ETag", "\"pointer-file-etag\""))
                        .with_header(header("X-Linked-Etag", &quoted))
                        .with_header(header("X-Linked-Size", &f.bytes.len().to_string()))
                } else {
                    Response::from_data(f.bytes.clone())
                        .with_chunked_threshold(usize::MAX)
                        .with_header(commit)
                        .with_header(header("ETag", &quoted))
                }
            } else {
                Response::from_data(Vec::new())
                    .with_status_code(404)
                    .with_header(commit)
                    .with_header(header("X-Error-Code", "EntryNotFound"))
                    .with_header(header("X-Error-Message", "Entry not found"))
            }
        }
        _ => Response::from_data(Vec::new()).with_status_code(404),
    };
    let _ = request.respond(response);
}

fn names(files: &[&str]) -> Vec<String> {
    files.iter().map(|f| f.to_string()).collect()
}

#[test]
fn downloads_into_the_cache_then_serves_offline() {
    let hub = FakeHub::start();
    let cache = tempfile::tempdir().unwrap();
    let wanted = names(&["onnx/model.onnx", "tokenizer.json"]);
    let expected = files();

    let paths = download(&hub.options(cache.path(), false), REPO, "main", &wanted).unwrap();
    assert_eq!(paths.len(), 2);
    for (path, file) in paths.iter().zip(&expected) {
        assert!(
            path.starts_with(cache.path()),
            "{} outside the cache",
            path.display()
        );
        assert!(
            path.ends_with(file.path),
            "{} is not {}",
            path.display(),
            file.path
        );
        assert_eq!(
            std::fs::read(path).unwrap(),
            file.bytes,
            "{} differs",
            file.path
        );
    }
    let online = hub.requests();
    assert!(
        online.iter().all(|r| r.ends_with(" auth")),
        "token not sent: {online:?}"
    );
    assert!(
        !online.iter().any(|r| r.contains("/api/")),
        "unexpected API call: {online:?}"
    );
    assert!(online.contains(&format!("HEAD /{REPO}/resolve/main/onnx/model.onnx auth")));
    assert!(
        online.iter().any(|r| r.starts_with("GET /cdn/")),
        "LFS redirect not followed: {online:?}"
    );
    assert!(online.contains(&format!("GET /{REPO}/resolve/main/tokenizer.json auth")));

    // Offline: same files from the cache, no request at all, by branch or by commit.
    let offline = hub.options(cache.path(), true);
    assert_eq!(download(&offline, REPO, "main", &wanted).unwrap(), paths);
    assert_eq!(download(&offline, REPO, COMMIT, &wanted).unwrap(), paths);
    assert_eq!(
        hub.requests().len(),
        online.len(),
        "offline touched the network"
    );
    for (path, file) in paths.iter().zip(&expected) {
        assert_eq!(std::fs::read(path).unwrap(), file.bytes);
    }

    // Online again: a conditional HEAD per file (answered 304), nothing downloaded twice.
    assert_eq!(
        download(&hub.options(cache.path(), false), REPO, "main", &wanted).unwrap(),
        paths
    );
    let again = &hub.requests()[online.len()..];
    assert_eq!(again.len(), 2, "{again:?}");
    assert!(again.iter().all(|r| r.starts_with("HEAD ")), "{again:?}");
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let hub = FakeHub::start();
    let cache = tempfile::tempdir().unwrap();
    let wanted = names(&["tokenizer.json", "onnx/missing.onnx"]);

    let err = download(&hub.options(cache.path(), false), REPO, "main", &wanted).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("onnx/missing.onnx"), "{msg}");
    assert!(msg.contains(REPO), "{msg}");
    assert!(msg.contains("404"), "{msg}");

    // The 404 is remembered: offline, the cache says the file does not exist upstream.
    let err = download(
        &hub.options(cache.path(), true),
        REPO,
        "main",
        &names(&["onnx/missing.onnx"]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("onnx/missing.onnx"), "{err}");
}

#[test]
fn offline_with_an_empty_cache_is_an_error() {
    let hub = FakeHub::start();
    let cache = tempfile::tempdir().unwrap();

    let err = download(
        &hub.options(cache.path(), true),
        REPO,
        "main",
        &names(&["onnx/model.onnx"]),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("onnx/model.onnx") && msg.contains(REPO),
        "{msg}"
    );
    assert!(msg.contains("without --offline"), "{msg}");
    assert!(
        hub.requests().is_empty(),
        "offline touched the network: {:?}",
        hub.requests()
    );
}

#[test]
fn unknown_repo_and_bad_arguments_are_errors() {
    let hub = FakeHub::start();
    let cache = tempfile::tempdir().unwrap();
    let opts = hub.options(cache.path(), false);

    let err = download(
        &opts,
        "graft-test/no-such-model",
        "main",
        &names(&["tokenizer.json"]),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("graft-test/no-such-model") && msg.contains("401") && msg.contains("HF_TOKEN"),
        "{msg}"
    );

    assert!(download(&opts, REPO, "main", &names(&["../escape"])).is_err());
    assert!(download(&opts, "a/b/c", "main", &names(&["tokenizer.json"])).is_err());
    assert!(download(&opts, REPO, "main", &[]).unwrap().is_empty());
    assert_eq!(hub.requests().len(), 1, "{:?}", hub.requests());
}
