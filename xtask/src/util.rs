//! Shared plumbing: where things live (project root, Graft home, the release binary) and
//! how commands are run (printed first, exit status always checked).

use graft_cache::GraftHome;
use std::{
    ffi::OsStr,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, Context, Result};

/// The workspace root (the parent of `xtask/`).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(1)
        .unwrap_or_else(|| Path::new("."))
        .to_path_buf()
}

/// Prints `$ command` and runs it with inherited stdio; fails unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = display(cmd);
    println!("$ {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Prints `$ command`, runs it with stdout and stderr captured and returns stdout.
/// On failure the error carries the tail of both streams.
pub fn run_captured(cmd: &mut Command) -> Result<String> {
    let shown = display(cmd);
    println!("$ {shown}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start `{shown}`"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!(
            "`{shown}` failed ({})\n--- stdout (tail) ---\n{}\n--- stderr (tail) ---\n{}",
            out.status,
            tail(&stdout, 40),
            tail(&stderr, 40)
        );
    }
    Ok(stdout)
}

/// Runs a probe silently; true when it starts and exits 0.
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A command line as a shell would take it (arguments with odd characters quoted),
/// with paths under the project root shown relative to it.
pub fn display(cmd: &Command) -> String {
    let root = project_root();
    let program = Path::new(cmd.get_program());
    let program = program.strip_prefix(&root).unwrap_or(program);
    std::iter::once(program.as_os_str())
        .chain(cmd.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `cargo` (the one running xtask, when known), started in the project root, with
/// `GRAFT_HOME` set to the resolved home.
pub fn cargo(home: &GraftHome) -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(program);
    cmd.current_dir(project_root())
        .env("GRAFT_HOME", home.root());
    cmd
}

/// Cargo's target directory: `CARGO_TARGET_DIR` (relative to the project root) or `target/`.
pub fn target_dir() -> PathBuf {
    let root = project_root();
    match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// The release build of the `graft` binary.
pub fn graft_path() -> PathBuf {
    target_dir().join("release").join("graft")
}

/// A `Command` for the release `graft` binary with `GRAFT_HOME` set, started in the
/// project root. Fails if the binary has not been built.
pub fn graft(home: &GraftHome) -> Result<Command> {
    let path = graft_path();
    if !path.is_file() {
        bail!(
            "{} does not exist; build it with `cargo build --release -p graft-cli` \
             (or run `cargo xtask setup`)",
            path.display()
        );
    }
    let mut cmd = Command::new(path);
    cmd.current_dir(project_root())
        .env("GRAFT_HOME", home.root());
    Ok(cmd)
}

/// The Python used for downloads and helper scripts: Debian's `/usr/bin/python3` (the one
/// `setup` provisions) when present, else `python3` from `PATH`.
pub fn python() -> PathBuf {
    let system = Path::new("/usr/bin/python3");
    if system.is_file() {
        system.to_path_buf()
    } else {
        PathBuf::from("python3")
    }
}

/// True when running as root (so `apt-get install` can work).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Reads a marker file; `None` if it does not exist or cannot be read.
pub fn read_marker(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

/// A fresh staging directory `<parent>/.<name>.tmp-<pid>` for building `<parent>/<name>`;
/// stale staging directories of the same name from killed runs are removed first.
pub fn staging_dir(parent: &Path, name: &str) -> Result<PathBuf> {
    fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let prefix = format!(".{name}.");
    let entries =
        fs::read_dir(parent).with_context(|| format!("cannot list {}", parent.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", parent.display()))?;
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if file_name.starts_with(&prefix)
            && (file_name.contains(".tmp-") || file_name.contains(".old-"))
        {
            remove_any(&entry.path())?;
        }
    }
    let dir = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Moves a finished staging directory to `dest`, replacing whatever was there. The new
/// content appears under `dest` in one rename, so a killed run never leaves a half-written
/// directory at `dest`.
pub fn publish_dir(staging: &Path, dest: &Path) -> Result<()> {
    if dest.exists() {
        let name = dest
            .file_name()
            .with_context(|| format!("{} has no file name", dest.display()))?
            .to_string_lossy()
            .into_owned();
        let parent = dest
            .parent()
            .with_context(|| format!("{} has no parent", dest.display()))?;
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        fs::rename(dest, &old).with_context(|| format!("cannot move {} aside", dest.display()))?;
        remove_any(&old)?;
    }
    fs::rename(staging, dest)
        .with_context(|| format!("cannot rename {} to {}", staging.display(), dest.display()))
}

fn remove_any(path: &Path) -> Result<()> {
    let result = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    result.with_context(|| format!("cannot remove {}", path.display()))
}

/// Prints one status line of a setup step.
pub fn step(name: &str, message: impl std::fmt::Display) {
    println!("==> {name}: {message}");
}

/// The first file in `downloads/` whose name starts with `prefix` and ends with `suffix`.
pub fn find_download(home: &GraftHome, prefix: &str, suffix: &str) -> Result<Option<PathBuf>> {
    let downloads = home.downloads();
    if !downloads.is_dir() {
        return Ok(None);
    }
    let mut found: Vec<PathBuf> = fs::read_dir(&downloads)
        .with_context(|| format!("cannot list {}", downloads.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with(prefix) && n.ends_with(suffix)
            })
        })
        .collect();
    found.sort();
    Ok(found.into_iter().next())
}

/// `python3 -m pip download --no-deps --only-binary=:all: [extra] REQUIREMENT` into a
/// staging folder, then moves the one file pip wrote into `dir` (so an interrupted download
/// never leaves a truncated archive there). Returns the archive's path.
pub fn pip_download(requirement: &str, extra: &[&str], dir: &Path) -> Result<PathBuf> {
    let staging = staging_dir(dir, "pip")?;
    run_captured(
        Command::new(python())
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
            .args(extra)
            .arg(requirement)
            .arg("-d")
            .arg(&staging),
    )
    .with_context(|| format!("cannot download {requirement} with pip"))?;
    let mut files: Vec<PathBuf> = fs::read_dir(&staging)
        .with_context(|| format!("cannot list {}", staging.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let file = match (files.pop(), files.is_empty()) {
        (Some(file), true) => file,
        _ => bail!("pip left not exactly one file in {}", staging.display()),
    };
    let name = file
        .file_name()
        .with_context(|| format!("{} has no file name", file.display()))?;
    let dest = dir.join(name);
    fs::rename(&file, &dest).with_context(|| format!("cannot move {}", file.display()))?;
    fs::remove_dir_all(&staging).with_context(|| format!("cannot remove {}", staging.display()))?;
    Ok(dest)
}
