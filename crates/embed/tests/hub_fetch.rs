//! `fetch::hub::download` against a fake hub on 127.0.0.1 that speaks what hf-hub 1.0 asks for:
//! `HEAD`/`GET {endpoint}/{repo}/resolve/{revision}/{path}` with `X-Repo-Commit`, `ETag`
//! (`X-Linked-Etag`/`X-Linked-Size` plus a 302 to a "CDN" URL for the LFS file), `304` on a
//! matching `If-None-Match`, and the hub's `404`/`401` answers. Nothing leaves the loopback.

use std::path::Path;

use graft_embed::{hub_download as download, HubOptions};
use graft_testkit::{FakeFile, FakeHub};

const REPO: &str = "graft-test/tiny-model";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const TOKEN: &str = "hf_graft_test_token";

fn start_hub() -> FakeHub {
    FakeHub::start(REPO, COMMIT, files(), Some(TOKEN))
}

fn options(hub: &FakeHub, cache_dir: &Path, offline: bool) -> HubOptions {
    HubOptions {
        endpoint: Some(hub.endpoint.clone()),
        cache_dir: cache_dir.to_path_buf(),
        offline,
        token: Some(TOKEN.to_string()),
    }
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
    vec![
        FakeFile::bytes("onnx/model.onnx", model_bytes(), true),
        FakeFile::bytes(
            "tokenizer.json",
            br#"{"version":"1.0","model":{"type":"WordPiece","vocab":{"[UNK]":0}}}"#.to_vec(),
            false,
        ),
    ]
}

fn names(files: &[&str]) -> Vec<String> {
    files.iter().map(|f| f.to_string()).collect()
}

#[test]
fn downloads_into_the_cache_then_serves_offline() {
    let hub = start_hub();
    let cache = tempfile::tempdir().unwrap();
    let wanted = names(&["onnx/model.onnx", "tokenizer.json"]);
    let expected = files();

    let paths = download(&options(&hub, cache.path(), false), REPO, "main", &wanted).unwrap();
    assert_eq!(paths.len(), 2);
    for (path, file) in paths.iter().zip(&expected) {
        assert!(
            path.starts_with(cache.path()),
            "{} outside the cache",
            path.display()
        );
        assert!(
            path.ends_with(&file.path),
            "{} is not {}",
            path.display(),
            file.path
        );
        assert_eq!(
            std::fs::read(path).unwrap(),
            file.read(),
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
    let offline = options(&hub, cache.path(), true);
    assert_eq!(download(&offline, REPO, "main", &wanted).unwrap(), paths);
    assert_eq!(download(&offline, REPO, COMMIT, &wanted).unwrap(), paths);
    assert_eq!(
        hub.requests().len(),
        online.len(),
        "offline touched the network"
    );
    for (path, file) in paths.iter().zip(&expected) {
        assert_eq!(std::fs::read(path).unwrap(), file.read());
    }

    // Online again: a conditional HEAD per file (answered 304), nothing downloaded twice.
    assert_eq!(
        download(&options(&hub, cache.path(), false), REPO, "main", &wanted).unwrap(),
        paths
    );
    let again = &hub.requests()[online.len()..];
    assert_eq!(again.len(), 2, "{again:?}");
    assert!(again.iter().all(|r| r.starts_with("HEAD ")), "{again:?}");
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let hub = start_hub();
    let cache = tempfile::tempdir().unwrap();
    let wanted = names(&["tokenizer.json", "onnx/missing.onnx"]);

    let err = download(&options(&hub, cache.path(), false), REPO, "main", &wanted).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("onnx/missing.onnx"), "{msg}");
    assert!(msg.contains(REPO), "{msg}");
    assert!(msg.contains("404"), "{msg}");

    // The 404 is remembered: offline, the cache says the file does not exist upstream.
    let err = download(
        &options(&hub, cache.path(), true),
        REPO,
        "main",
        &names(&["onnx/missing.onnx"]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("onnx/missing.onnx"), "{err}");
}

#[test]
fn offline_with_an_empty_cache_is_an_error() {
    let hub = start_hub();
    let cache = tempfile::tempdir().unwrap();

    let err = download(
        &options(&hub, cache.path(), true),
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
    let hub = start_hub();
    let cache = tempfile::tempdir().unwrap();
    let opts = options(&hub, cache.path(), false);

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
