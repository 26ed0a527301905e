//! `cargo xtask setup`: everything a fresh Debian 12 machine needs for the demo and the
//! tests. Each step is idempotent, prints one line when there is nothing to do, and fails
//! with a non-zero exit when it cannot do its job.

use graft_cache::GraftHome;
use std::{fmt, path::PathBuf, process::Command, str::FromStr};

use anyhow::{bail, Result};

use crate::{fashion, util};

/// Debian packages the export recipes and the Python helpers need.
const SYSTEM_PACKAGES: [&str; 3] = ["python3-torch", "python3-venv", "python3-pip"];
/// What must import under `/usr/bin/python3` for the system step to count as done
/// (`ensurepip` is what `python3-venv` adds on Debian).
const SYSTEM_PROBE: &str = "import torch, pip, ensurepip";
/// Debian packages of the single-node Slurm cluster that `tests/slurm.rs` starts to run
/// `examples/slurm/embed.sbatch` for real.
const SLURM_PACKAGES: [&str; 2] = ["slurm-wlm", "munge"];
/// Programs those packages provide that the Slurm test runs.
const SLURM_PROGRAMS: [&str; 9] = [
    "sbatch",
    "squeue",
    "sinfo",
    "scontrol",
    "scancel",
    "slurmctld",
    "slurmd",
    "munged",
    "munge",
];
/// Models `setup` fetches.
pub const MODELS: [&str; 2] = ["efficientnet-lite0", "all-minilm-l6-v2"];

/// One step of `setup`, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Debian packages (PyTorch for the export recipes, venv and pip; Slurm and munge
    /// for the Slurm example's test).
    System,
    /// Release build of `graft`, ONNX Runtime (`graft setup`) and the models.
    Graft,
    /// Fashion-MNIST PNG subset.
    Fashion,
    /// The three photos of the top-1 test.
    Photos,
    /// The labelled text data set.
    Text,
}

impl Step {
    /// All steps in order.
    pub const ALL: [Step; 5] = [
        Step::System,
        Step::Graft,
        Step::Fashion,
        Step::Photos,
        Step::Text,
    ];

    fn name(self) -> &'static str {
        match self {
            Step::System => "system",
            Step::Graft => "graft",
            Step::Fashion => "fashion",
            Step::Photos => "photos",
            Step::Text => "text",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Step {
    type Err = String;

    fn from_str(s: &str) -> Result<Step, String> {
        Step::ALL
            .into_iter()
            .find(|step| step.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
                format!("unknown step `{s}` (steps: {})", names.join(", "))
            })
    }
}

/// Fashion-MNIST images per class and split by default (2,000 train, 2,000 test).
pub const DEFAULT_FASHION_PER_CLASS: usize = 200;
/// Texts per label and split by default (20news: 2,000 train, 2,000 test).
pub const DEFAULT_TEXT_PER_CLASS: usize = 100;

/// Settings of the data steps.
#[derive(Debug, Clone, Copy)]
pub struct DataOptions {
    /// Fashion-MNIST images per class in each split (0 = all).
    pub fashion_per_class: usize,
    /// Texts per label in each split (0 = all).
    pub text_per_class: usize,
}

impl Default for DataOptions {
    fn default() -> DataOptions {
        DataOptions {
            fashion_per_class: DEFAULT_FASHION_PER_CLASS,
            text_per_class: DEFAULT_TEXT_PER_CLASS,
        }
    }
}

/// Runs `steps` in their canonical order.
pub fn run(home: &GraftHome, steps: &[Step], data: DataOptions) -> Result<()> {
    util::step("home", home.root().display());
    for step in Step::ALL.into_iter().filter(|s| steps.contains(s)) {
        match step {
            Step::System => system()?,
            Step::Graft => graft(home)?,
            Step::Fashion => fashion::ensure_subset(
                home,
                "fashion-mnist",
                data.fashion_per_class,
                &[fashion::TRAIN, fashion::TEST],
            )?,
            Step::Photos => crate::photos::ensure(home)?,
            Step::Text => crate::text::ensure(home, data.text_per_class)?,
        }
    }
    Ok(())
}

/// Step 1: the Debian packages, installed with apt-get when `/usr/bin/python3` cannot
/// import what they provide or the Slurm programs are missing (`cargo xtask test` runs
/// this step too).
pub fn system() -> Result<()> {
    python_packages()?;
    slurm()
}

/// PyTorch, venv and pip for `/usr/bin/python3`.
fn python_packages() -> Result<()> {
    let probe = || succeeds_python(SYSTEM_PROBE);
    if probe() {
        util::step(
            "system",
            format!("ok ({} present)", SYSTEM_PACKAGES.join(", ")),
        );
        return Ok(());
    }
    let install = format!("apt-get install -y {}", SYSTEM_PACKAGES.join(" "));
    if !util::is_root() {
        bail!(
            "/usr/bin/python3 cannot `{SYSTEM_PROBE}`; install the system packages as root, \
             then run this again:\n    sudo apt-get update && sudo {install}"
        );
    }
    util::step(
        "system",
        format!("installing {}", SYSTEM_PACKAGES.join(", ")),
    );
    apt_install(&SYSTEM_PACKAGES)?;
    if !probe() {
        bail!("installed {install} but /usr/bin/python3 still cannot `{SYSTEM_PROBE}`");
    }
    Ok(())
}

/// Slurm (controller, node daemon, client commands) and munge, for the test that runs
/// the Slurm example on a one-machine cluster. Only installs: the test writes its own
/// configuration and starts and stops the daemons itself.
pub fn slurm() -> Result<()> {
    let missing = || -> Vec<&str> {
        SLURM_PROGRAMS
            .into_iter()
            .filter(|p| find_program(p).is_none())
            .collect()
    };
    let absent = missing();
    if absent.is_empty() {
        util::step(
            "slurm",
            format!("ok ({} present)", SLURM_PACKAGES.join(", ")),
        );
        return Ok(());
    }
    let install = format!("apt-get install -y {}", SLURM_PACKAGES.join(" "));
    if !util::is_root() {
        bail!(
            "Slurm is not installed (no {}); install it as root, then run this again:\n    \
             sudo apt-get update && sudo {install}",
            absent.join(", ")
        );
    }
    util::step("slurm", format!("installing {}", SLURM_PACKAGES.join(", ")));
    apt_install(&SLURM_PACKAGES)?;
    let absent = missing();
    if !absent.is_empty() {
        bail!("ran `{install}` but {} still missing", absent.join(", "));
    }
    Ok(())
}

/// `apt-get install -y PACKAGES`, refreshing the package lists and retrying once when
/// the first attempt fails (a fresh machine may have none).
fn apt_install(packages: &[&str]) -> Result<()> {
    let apt_install = || {
        let mut cmd = Command::new("apt-get");
        cmd.args(["install", "-y"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    if util::run(&mut apt_install()).is_err() {
        util::step(
            "system",
            "install failed; refreshing package lists and retrying",
        );
        util::run(
            Command::new("apt-get")
                .arg("update")
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
        util::run(&mut apt_install())?;
    }
    Ok(())
}

/// `name` in `PATH`, or in the sbin directories a non-login root shell may lack.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn succeeds_python(code: &str) -> bool {
    util::succeeds(Command::new("/usr/bin/python3").args(["-c", code]))
}

/// Builds the release `graft` binary.
pub fn build_graft(home: &GraftHome) -> Result<()> {
    util::run(util::cargo(home).args(["build", "--release", "-p", "graft-cli"]))
}

/// Step 2: the release binary, ONNX Runtime and the models (graft skips what it has).
pub fn graft(home: &GraftHome) -> Result<()> {
    build_graft(home)?;
    util::run(util::graft(home)?.arg("setup"))?;
    for model in MODELS {
        util::run(util::graft(home)?.args(["models", "fetch", model]))?;
    }
    Ok(())
}
