//! Fashion-MNIST from Debian's `dataset-fashion-mnist` package, decoded from IDX and
//! written as class-per-folder PNGs: `data/<name>/<split>/<class>/<index:05>.png`.
//!
//! `<index>` is the image's position in the original IDX file, so a file can always be
//! traced back to the upstream data. The subset is stratified and deterministic: for each
//! class, the first `per_class` images of that class in file order.
//!
//! The package is fetched with `apt-get download` + `dpkg-deb -x` (no root needed) unless it
//! is installed; its four `.gz` files are kept under `downloads/fashion-mnist/`.

use graft_cache::GraftHome;
use std::{
    fs,
    io::Read,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, ensure, Context, Result};

use crate::util;

/// Fashion-MNIST's class names in label order, with `/` replaced (T-shirt/top).
pub const CLASS_NAMES: [&str; 10] = [
    "T-shirt_top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle_boot",
];

/// The Debian package that ships the data set.
const DEB_PACKAGE: &str = "dataset-fashion-mnist";
/// Where the package puts its files (inside the `.deb` and when installed).
const PACKAGE_DIR: &str = "usr/share/datasets/fashion-mnist";
/// The four IDX files (names checked against the package's file list).
const SOURCE_FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// One split of the upstream data and the folder it is written to.
#[derive(Debug, Clone, Copy)]
pub struct Split {
    /// Output folder name (`train`, `test`).
    pub name: &'static str,
    /// Upstream file prefix (`train`, `t10k`).
    pub source: &'static str,
}

/// Upstream train split.
pub const TRAIN: Split = Split {
    name: "train",
    source: "train",
};
/// Upstream test split.
pub const TEST: Split = Split {
    name: "test",
    source: "t10k",
};

/// Makes sure `data/<name>/` holds `per_class` images per class (0 = all) of each split,
/// rebuilding it when it is missing, incomplete or was made with other settings.
pub fn ensure_subset(
    home: &GraftHome,
    name: &str,
    per_class: usize,
    splits: &[Split],
) -> Result<()> {
    let dest = home.data().join(name);
    let marker = dest.join(".complete");
    let split_names: Vec<&str> = splits.iter().map(|s| s.name).collect();
    let spec = format!(
        "format=1\nsource={DEB_PACKAGE}\nper_class={per_class}\nsplits={}\n",
        split_names.join(",")
    );
    if let Some(found) = util::read_marker(&marker) {
        if found.starts_with(&spec) {
            let counts = found[spec.len()..].trim().replace('\n', ", ");
            util::step(name, format!("up to date ({counts}) in {}", dest.display()));
            return Ok(());
        }
    }

    let started = std::time::Instant::now();
    let source = source_dir(home)?;
    let staging = util::staging_dir(&home.data(), name)?;
    let mut counts = String::new();
    for split in splits {
        let images = read_gz(&source.join(format!("{}-images-idx3-ubyte.gz", split.source)))?;
        let labels = read_gz(&source.join(format!("{}-labels-idx1-ubyte.gz", split.source)))?;
        let images = Images::parse(&images)
            .with_context(|| format!("{}: bad IDX image file", split.source))?;
        let labels = parse_labels(&labels)
            .with_context(|| format!("{}: bad IDX label file", split.source))?;
        ensure!(
            images.count == labels.len(),
            "{}: {} images but {} labels",
            split.source,
            images.count,
            labels.len()
        );
        let written = write_split(&staging.join(split.name), &images, labels, per_class)?;
        counts.push_str(&format!("{}={written}\n", split.name));
    }
    fs::write(staging.join(".complete"), format!("{spec}{counts}"))
        .with_context(|| format!("cannot write the marker in {}", staging.display()))?;
    util::publish_dir(&staging, &dest)?;
    util::step(
        name,
        format!(
            "wrote {} in {:.1}s to {}",
            counts.trim().replace('\n', ", "),
            started.elapsed().as_secs_f64(),
            dest.display()
        ),
    );
    Ok(())
}

/// Writes the selected images of one split; returns how many.
fn write_split(dir: &Path, images: &Images<'_>, labels: &[u8], per_class: usize) -> Result<usize> {
    for class in CLASS_NAMES {
        let class_dir = dir.join(class);
        fs::create_dir_all(&class_dir)
            .with_context(|| format!("cannot create {}", class_dir.display()))?;
    }
    let mut taken = [0usize; CLASS_NAMES.len()];
    let mut written = 0;
    for (index, &label) in labels.iter().enumerate() {
        let class = CLASS_NAMES
            .get(usize::from(label))
            .with_context(|| format!("image {index} has label {label}, expected 0-9"))?;
        let slot = &mut taken[usize::from(label)];
        if per_class != 0 && *slot >= per_class {
            continue;
        }
        *slot += 1;
        let path = dir.join(class).join(format!("{index:05}.png"));
        image::save_buffer_with_format(
            &path,
            images.image(index),
            images.cols,
            images.rows,
            image::ExtendedColorType::L8,
            image::ImageFormat::Png,
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        written += 1;
    }
    Ok(written)
}

/// Grey-scale images in IDX format (magic 0x00000803: unsigned bytes, 3 dimensions).
struct Images<'a> {
    count: usize,
    rows: u32,
    cols: u32,
    pixels: &'a [u8],
}

impl<'a> Images<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Images<'a>> {
        ensure!(bytes.len() >= 16, "shorter than its header");
        let magic = be_u32(bytes, 0);
        ensure!(magic == 0x0803, "magic {magic:#010x}, expected 0x00000803");
        let count = be_u32(bytes, 4) as usize;
        let rows = be_u32(bytes, 8);
        let cols = be_u32(bytes, 12);
        let expected = count
            .checked_mul(rows as usize)
            .and_then(|n| n.checked_mul(cols as usize))
            .context("image dimensions overflow")?;
        let pixels = &bytes[16..];
        ensure!(
            pixels.len() == expected,
            "{} pixel bytes, header says {count}x{rows}x{cols}",
            pixels.len()
        );
        Ok(Images {
            count,
            rows,
            cols,
            pixels,
        })
    }

    fn image(&self, index: usize) -> &'a [u8] {
        let size = self.rows as usize * self.cols as usize;
        &self.pixels[index * size..(index + 1) * size]
    }
}

/// Labels in IDX format (magic 0x00000801: unsigned bytes, 1 dimension).
fn parse_labels(bytes: &[u8]) -> Result<&[u8]> {
    ensure!(bytes.len() >= 8, "shorter than its header");
    let magic = be_u32(bytes, 0);
    ensure!(magic == 0x0801, "magic {magic:#010x}, expected 0x00000801");
    let count = be_u32(bytes, 4) as usize;
    let labels = &bytes[8..];
    ensure!(
        labels.len() == count,
        "{} label bytes, header says {count}",
        labels.len()
    );
    Ok(labels)
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn read_gz(path: &Path) -> Result<Vec<u8>> {
    let file = fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot decompress {}", path.display()))?;
    Ok(bytes)
}

fn has_all_sources(dir: &Path) -> bool {
    SOURCE_FILES.iter().all(|f| dir.join(f).is_file())
}

/// The folder holding the four `.gz` files: the installed package, an earlier download,
/// or a fresh `apt-get download`.
fn source_dir(home: &GraftHome) -> Result<PathBuf> {
    let installed = Path::new("/").join(PACKAGE_DIR);
    if has_all_sources(&installed) {
        return Ok(installed);
    }
    let kept = home.downloads().join("fashion-mnist");
    if has_all_sources(&kept) {
        return Ok(kept);
    }

    let staging = util::staging_dir(&home.downloads(), "fashion-mnist")?;
    apt_download(&staging)?;
    let deb = fs::read_dir(&staging)
        .with_context(|| format!("cannot list {}", staging.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .with_context(|| format!("apt-get download left no .deb in {}", staging.display()))?;
    let unpacked = staging.join("x");
    util::run_captured(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked))?;
    let files = unpacked.join(PACKAGE_DIR);
    if !has_all_sources(&files) {
        bail!(
            "{} does not contain {} under {PACKAGE_DIR}",
            deb.display(),
            SOURCE_FILES.join(", ")
        );
    }
    let keep = staging.join("keep");
    fs::rename(&files, &keep).with_context(|| format!("cannot move {}", files.display()))?;
    util::publish_dir(&keep, &kept)?;
    fs::remove_dir_all(&staging).with_context(|| format!("cannot remove {}", staging.display()))?;
    Ok(kept)
}

/// `apt-get download` into `dir`; refreshes the package lists first when they are
/// missing and this process may do so (root).
fn apt_download(dir: &Path) -> Result<()> {
    let download = || {
        util::run_captured(
            Command::new("apt-get")
                .args(["download", DEB_PACKAGE])
                .current_dir(dir),
        )
    };
    match download() {
        Ok(_) => Ok(()),
        Err(first) if util::is_root() => {
            util::step(
                "fashion-mnist",
                "apt-get download failed; refreshing package lists",
            );
            util::run_captured(Command::new("apt-get").arg("update")).context(first.to_string())?;
            download().map(drop)
        }
        Err(first) => Err(first.context(format!(
            "cannot download {DEB_PACKAGE}; if the package lists are missing, run \
             `sudo apt-get update` and try again"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_idx_headers() {
        let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3];
        images.extend(0..12u8);
        let parsed = Images::parse(&images).unwrap();
        assert_eq!((parsed.count, parsed.rows, parsed.cols), (2, 2, 3));
        assert_eq!(parsed.image(1), &[6, 7, 8, 9, 10, 11]);
        assert!(Images::parse(&images[..20]).is_err());

        let labels = [0, 0, 8, 1, 0, 0, 0, 3, 9, 0, 4];
        assert_eq!(parse_labels(&labels).unwrap(), &[9, 0, 4]);
        assert!(parse_labels(&labels[..10]).is_err());
    }
}
