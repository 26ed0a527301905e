//! End-to-end test of `examples/slurm/embed.sbatch` on a real single-node Slurm
//! cluster started inside the test's temp dir (slurmctld + slurmd, authenticated by
//! the machine's munged): an array job embeds real images part by part, `graft cache
//! merge` joins the parts, and the result equals a single-machine run; then a task is
//! requeued mid-way and its part resumes from its committed shards.
//!
//! Needs root and `slurm-wlm` + `munge` (`cargo xtask setup` installs them) and the
//! runtime and default models in GRAFT_HOME. It fails (never skips) without them.
//! Every daemon and port stays on this machine: the node and controller are 127.0.0.1.

mod common;

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

const SETUP_HINT: &str = "run `cargo xtask setup` as root (it installs slurm-wlm and munge)";
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/slurm/embed.sbatch"
);
/// The controller keeps finished jobs this long; `scontrol show job` reads them back.
const MIN_JOB_AGE_SECS: u32 = 600;

// ---------------------------------------------------------------------------
// Machine prerequisites.

fn program(name: &str) -> PathBuf {
    find_program(name).unwrap_or_else(|| panic!("`{name}` is not installed: {SETUP_HINT}"))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn require_slurm() {
    assert!(is_root(), "the Slurm test starts slurmctld/slurmd and needs root; {SETUP_HINT}, then run the test as root");
    let missing: Vec<&str> = [
        "sbatch",
        "squeue",
        "sinfo",
        "scontrol",
        "scancel",
        "slurmctld",
        "slurmd",
        "munged",
        "munge",
    ]
    .into_iter()
    .filter(|p| find_program(p).is_none())
    .collect();
    assert!(
        missing.is_empty(),
        "Slurm is not installed (missing {}): {SETUP_HINT}",
        missing.join(", ")
    );
}

fn output(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes sure a munged serves /run/munge: reuses a running one (from an earlier run or
/// the system), else writes /etc/munge/munge.key if absent and starts munged as `munge`.
/// A munged this test starts is left running for the next run, like a system service.
fn ensure_munge() {
    let works = || {
        output(Command::new(program("munge")).arg("-n"))
            .status
            .success()
    };
    if works() {
        return;
    }
    let key = Path::new("/etc/munge/munge.key");
    if !key.exists() {
        std::fs::create_dir_all("/etc/munge").unwrap();
        let mut bytes = vec![0u8; 1024];
        std::io::Read::read_exact(&mut File::open("/dev/urandom").unwrap(), &mut bytes).unwrap();
        std::fs::write(key, &bytes).unwrap();
        assert!(
            output(Command::new("chown").args([
                "munge:munge",
                "/etc/munge",
                "/etc/munge/munge.key"
            ]))
            .status
            .success(),
            "cannot chown the munge key: is the `munge` user there? {SETUP_HINT}"
        );
        assert!(
            output(Command::new("chmod").args(["400", "/etc/munge/munge.key"]))
                .status
                .success()
        );
        assert!(output(Command::new("chmod").args(["700", "/etc/munge"]))
            .status
            .success());
    }
    for dir in ["/run/munge", "/var/lib/munge", "/var/log/munge"] {
        std::fs::create_dir_all(dir).unwrap();
        assert!(output(Command::new("chown").args(["munge:munge", dir]))
            .status
            .success());
    }
    // munged forks into the background once it serves; runuser returns then.
    let out = output(
        Command::new(program("runuser"))
            .args(["-u", "munge", "--"])
            .arg(program("munged"))
            .arg("--force"),
    );
    assert!(
        out.status.success(),
        "munged did not start:\n{}\n{}",
        text(&out),
        std::fs::read_to_string("/var/log/munge/munged.log").unwrap_or_default()
    );
    let started = Instant::now();
    while !works() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "munged started but `munge -n` still fails:\n{}",
            std::fs::read_to_string("/var/log/munge/munged.log").unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A TCP port nobody listens on right now (the kernel picks it).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn short_hostname() -> String {
    let out = Command::new("hostname")
        .arg("-s")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| stdout(&o));
    let name = out.unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default()
    });
    name.trim()
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------------------
// The cluster.

/// slurmctld + slurmd in the foreground, configured and logging under `dir`; stopped
/// by pid (jobs cancelled first) when dropped, also when the test panics.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
    daemons: Vec<(&'static str, Child)>,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let dir = dir.join("slurm");
        for sub in ["state", "spool", "log"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let host = short_hostname();
        assert!(!host.is_empty(), "no host name");
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mem_mb = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .map_or(4000, |kb| (kb / 1024 * 9 / 10).min(4000));
        let ctld_port = free_port();
        let d_port = std::iter::repeat_with(free_port)
            .find(|p| *p != ctld_port)
            .unwrap();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let d = dir.display();
        let conf = format!(
            "# Single-node test cluster written by tests/slurm.rs.\n\
             ClusterName=graft{pid}x{nanos}\n\
             SlurmctldHost={host}(127.0.0.1)\n\
             SlurmctldPort={ctld_port}\n\
             SlurmdPort={d_port}\n\
             SlurmUser=root\n\
             SlurmdUser=root\n\
             AuthType=auth/munge\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_Core\n\
             AccountingStorageType=accounting_storage/none\n\
             JobAcctGatherType=jobacct_gather/none\n\
             JobCompType=jobcomp/none\n\
             MpiDefault=none\n\
             MailProg=/bin/true\n\
             ReturnToService=2\n\
             KillWait=5\n\
             MinJobAge={MIN_JOB_AGE_SECS}\n\
             StateSaveLocation={d}/state\n\
             SlurmdSpoolDir={d}/spool\n\
             SlurmctldPidFile={d}/slurmctld.pid\n\
             SlurmdPidFile={d}/slurmd.pid\n\
             SlurmctldLogFile={d}/log/slurmctld.log\n\
             SlurmdLogFile={d}/log/slurmd.log\n\
             NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN\n\
             PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
            pid = std::process::id(),
        );
        let conf_path = dir.join("slurm.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut cluster = Cluster {
            dir: dir.clone(),
            conf: conf_path,
            daemons: Vec::new(),
        };
        for (name, args) in [
            ("slurmctld", vec!["-D"]),
            ("slurmd", vec!["-D", "-N", host.as_str()]),
        ] {
            let log = File::create(dir.join("log").join(format!("{name}.stderr"))).unwrap();
            let child = Command::new(program(name))
                .args(&args)
                .env("SLURM_CONF", &cluster.conf)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
            cluster.daemons.push((name, child));
        }
        // Ready when the node reports idle.
        let started = Instant::now();
        loop {
            let exited = cluster.daemons.iter_mut().find_map(|(name, child)| {
                child
                    .try_wait()
                    .unwrap()
                    .map(|s| format!("{name} exited at start ({s})"))
            });
            if let Some(exited) = exited {
                panic!("{exited}\n{}", cluster.logs());
            }
            let out = output(cluster.cmd("sinfo").args(["-h", "-N", "-o", "%t"]));
            if out.status.success() && stdout(&out).trim() == "idle" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(45),
                "the Slurm node did not become idle within 45 s (sinfo: {:?})\n{}",
                stdout(&out).trim(),
                cluster.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!(
            "slurm: cluster up in {:.1}s ({host}, {cpus} CPUs, ports {ctld_port}/{d_port})",
            started.elapsed().as_secs_f64()
        );
        cluster
    }

    /// A Slurm client or daemon command pointed at this cluster's configuration.
    fn cmd(&self, name: &str) -> Command {
        let mut cmd = Command::new(program(name));
        cmd.env("SLURM_CONF", &self.conf);
        cmd
    }

    /// Runs a client command that must succeed; returns its stdout.
    fn ok(&self, name: &str, args: &[&str]) -> String {
        let mut cmd = self.cmd(name);
        cmd.args(args);
        self.ok_cmd(cmd)
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok_cmd(&self, mut cmd: Command) -> String {
        let out = output(&mut cmd);
        assert!(
            out.status.success(),
            "{cmd:?} failed\n{}\n{}",
            text(&out),
            self.logs()
        );
        stdout(&out)
    }

    /// The daemons' logs and the queue, for failure messages.
    fn logs(&self) -> String {
        let mut s = String::new();
        for name in [
            "slurmctld.log",
            "slurmd.log",
            "slurmctld.stderr",
            "slurmd.stderr",
        ] {
            let body = std::fs::read_to_string(self.dir.join("log").join(name))
                .unwrap_or_else(|e| format!("({e})"));
            let lines: Vec<&str> = body.lines().collect();
            s += &format!(
                "--- {name} (last 40 lines) ---\n{}\n",
                lines[lines.len().saturating_sub(40)..].join("\n")
            );
        }
        if let Ok(out) = self
            .cmd("squeue")
            .args(["-h", "-o", "%i %T %r"])
            .stdin(Stdio::null())
            .output()
        {
            s += &format!("--- squeue ---\n{}", stdout(&out));
        }
        s
    }

    /// `(task id, JobState, Restarts, ExitCode)` of every task of array job `job`.
    fn tasks(&self, job: &str) -> Vec<(u32, String, u32, String)> {
        let text = self.ok("scontrol", &["-o", "show", "job", job]);
        let mut tasks: Vec<_> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let field = |k: &str| {
                    line.split_whitespace()
                        .find_map(|w| w.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
                        .unwrap_or_default()
                        .to_string()
                };
                let id = field("ArrayTaskId")
                    .parse()
                    .unwrap_or_else(|_| panic!("not one array task: {line}"));
                (
                    id,
                    field("JobState"),
                    field("Restarts").parse().unwrap_or(0),
                    field("ExitCode"),
                )
            })
            .collect();
        tasks.sort();
        tasks
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Cancel whatever is still queued or running (this private cluster only holds
        // this test's jobs), give the steps a moment to end, then stop the daemons.
        if self
            .daemons
            .iter_mut()
            .all(|(_, c)| matches!(c.try_wait(), Ok(None)))
        {
            let _ = self
                .cmd("scancel")
                .arg("--user=root")
                .stdin(Stdio::null())
                .output();
            let until = Instant::now() + Duration::from_secs(15);
            while Instant::now() < until {
                match self
                    .cmd("squeue")
                    .args(["-h", "-o", "%i"])
                    .stdin(Stdio::null())
                    .output()
                {
                    Ok(o) if o.status.success() && o.stdout.iter().all(u8::is_ascii_whitespace) => {
                        break
                    }
                    Ok(_) => std::thread::sleep(Duration::from_millis(200)),
                    Err(_) => break,
                }
            }
        }
        for (_, child) in self.daemons.iter_mut().rev() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .stdin(Stdio::null())
                .output();
            let until = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------
// Data and graft.

/// Copies `per_class` Fashion-MNIST test PNGs per class into `dest/CLASS/` when
/// `cargo xtask setup` wrote them, else writes synthetic images; returns the count.
fn write_corpus(dest: &Path, per_class: usize) -> usize {
    let fashion = home().join("data/fashion-mnist/test");
    let mut classes: Vec<PathBuf> = std::fs::read_dir(&fashion)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    classes.sort();
    let mut n = 0;
    for class in &classes {
        let mut files: Vec<PathBuf> = std::fs::read_dir(class)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "png"))
            .collect();
        files.sort();
        let out = dest.join(class.file_name().unwrap());
        std::fs::create_dir_all(&out).unwrap();
        for f in files.iter().take(per_class) {
            std::fs::copy(f, out.join(f.file_name().unwrap())).unwrap();
            n += 1;
        }
    }
    if n < per_class * 10 {
        eprintln!(
            "slurm: no Fashion-MNIST PNGs in {}; using synthetic images",
            fashion.display()
        );
        let _ = std::fs::remove_dir_all(dest);
        return write_images(dest, per_class * 5, 0).len();
    }
    n
}

/// The single-machine reference cache.
fn reference(out: &Path, data: &Path) {
    let o = run(&[
        "embed",
        "--model",
        "efficientnet-lite0",
        "--device",
        "cpu",
        "--out",
        out.to_str().unwrap(),
        data.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "reference run failed\n{}", text(&o));
}

/// `sbatch` of the example with the test's environment (passed through by --export=ALL).
/// The example asks for 4 CPUs and 4G per task, more than this node has: the command
/// line overrides both so that two tasks run at a time with one thread each.
fn sbatch(
    cluster: &Cluster,
    dir: &Path,
    extra_graft_args: &str,
    args: &[&str],
    data: &Path,
    out: &Path,
) -> Command {
    let mut cmd = cluster.cmd("sbatch");
    cmd.current_dir(dir)
        .env("GRAFT", env!("CARGO_BIN_EXE_graft"))
        .env("GRAFT_HOME", home())
        .env("GRAFT_DEVICE", "cpu")
        .env("GRAFT_EXTRA_ARGS", extra_graft_args)
        .args([
            "--parsable",
            "--export=ALL",
            "--cpus-per-task=1",
            "--mem=500M",
        ])
        .args(args)
        .arg(SCRIPT)
        .arg(data)
        .arg(out)
        .stdin(Stdio::null());
    cmd
}

/// The last JSON line (`graft embed --json` summary) of an array task's log.
fn task_summary(dir: &Path, job: &str, task: u32) -> serde_json::Value {
    let path = dir.join(format!("graft-embed-{job}_{task}.log"));
    let log = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    log.lines()
        .rev()
        .find_map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .filter(|v| v.is_object())
        })
        .unwrap_or_else(|| panic!("no JSON summary in {}:\n{log}", path.display()))
}

/// status (all parts done), merge, verify, and the same rows as `reference`.
fn merge_and_compare(out: &Path, reference: &Path, parts: usize) -> serde_json::Value {
    let status = run(&["cache", "status", out.to_str().unwrap()]);
    assert!(
        status.status.success(),
        "not every part is done\n{}",
        text(&status)
    );
    assert!(
        stdout(&status).contains(&format!("{parts}/{parts} parts done")),
        "{}",
        text(&status)
    );
    let json = run(&["cache", "status", "--json", out.to_str().unwrap()]);
    let parts_json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let merge = run(&["cache", "merge", out.to_str().unwrap()]);
    assert!(merge.status.success(), "merge failed\n{}", text(&merge));
    let verify = run(&["cache", "verify", out.to_str().unwrap()]);
    assert!(verify.status.success(), "verify failed\n{}", text(&verify));
    let (want, got) = (cache_rows(reference), cache_rows(out));
    assert_eq!(
        got.len(),
        want.len(),
        "merged cache has {} rows, the single-machine run {}",
        got.len(),
        want.len()
    );
    let diff = max_abs_diff(&want, &got);
    assert!(
        diff <= 1e-5,
        "merged Slurm parts differ from the single-machine run by {diff}"
    );
    parts_json
}

fn manifest_rows(part_dir: &Path) -> Option<(u64, bool)> {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(part_dir.join("manifest.json")).ok()?).ok()?;
    Some((
        m["rows"].as_u64()?,
        m["complete"].as_bool().unwrap_or(false),
    ))
}

// ---------------------------------------------------------------------------

#[test]
fn slurm_array_embeds_parts_that_merge_to_the_single_machine_result_and_requeued_tasks_resume() {
    require_slurm();
    require_setup();
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ensure_munge();
    let cluster = Cluster::start(dir);

    // 1. Four array tasks over ~40 images, then status, merge and compare.
    let data = dir.join("data");
    let n = write_corpus(&data, 4);
    let reference_dir = dir.join("reference");
    reference(&reference_dir, &data);
    let out = dir.join("features");
    let mut child = sbatch(
        &cluster,
        dir,
        "--json",
        &["--wait", "--array=0-3"],
        &data,
        &out,
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!(
                "`sbatch --wait --array=0-3` did not finish within 60 s\n{}",
                cluster.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let submitted = child.wait_with_output().unwrap();
    assert!(
        submitted.status.success(),
        "the array job failed\n{}\n{}",
        text(&submitted),
        cluster.logs()
    );
    let job = stdout(&submitted)
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(
        job.parse::<u64>().is_ok(),
        "sbatch --parsable printed {job:?}"
    );
    let tasks = cluster.tasks(&job);
    assert_eq!(
        tasks.iter().map(|t| t.0).collect::<Vec<_>>(),
        [0, 1, 2, 3],
        "{tasks:?}"
    );
    assert!(
        tasks.iter().all(|t| t.1 == "COMPLETED" && t.3 == "0:0"),
        "{tasks:?}"
    );
    let mut embedded = 0;
    for task in 0..4 {
        let s = task_summary(dir, &job, task);
        assert_eq!(
            s["embedded"].as_u64().unwrap() + s["other_parts"].as_u64().unwrap(),
            n as u64,
            "task {task} saw another corpus: {s}"
        );
        embedded += s["embedded"].as_u64().unwrap();
    }
    assert_eq!(
        embedded, n as u64,
        "every image embedded by exactly one task"
    );
    merge_and_compare(&out, &reference_dir, 4);
    eprintln!(
        "slurm: array of 4 over {n} images merged and matched in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // 2. Requeue a task once its part has committed a shard; it must resume from there.
    let data2 = dir.join("data2");
    let n2 = write_corpus(&data2, 60);
    let reference2 = dir.join("reference2");
    reference(&reference2, &data2);
    let out2 = dir.join("features2");
    let started = Instant::now();
    let job2 = cluster.ok_cmd(sbatch(
        &cluster,
        dir,
        "--json --batch-size 4 --shard-rows 8 --prep-threads 1",
        &["--array=0-3"],
        &data2,
        &out2,
    ));
    let job2 = job2.trim().split(';').next().unwrap().to_string();
    let (task, rows_before) = loop {
        let hit =
            (0..4u32).find_map(
                |i| match manifest_rows(&out2.join(format!("part-{i}-of-4"))) {
                    Some((rows, false)) if rows > 0 => Some((i, rows)),
                    _ => None,
                },
            );
        if let Some(hit) = hit {
            break hit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no part committed a shard within 60 s\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let task_id = format!("{job2}_{task}");
    cluster.ok("scontrol", &["requeue", &task_id]);
    eprintln!("slurm: requeued {task_id} with {rows_before} rows committed in its part");
    // A requeued job waits ~2 minutes (BeginTime) before it may start again: make it
    // eligible now. Then wait for the whole array to leave the queue.
    loop {
        let queue = cluster.ok("squeue", &["-h", "-j", &job2, "-o", "%i %T %r"]);
        if queue.trim().is_empty() {
            break;
        }
        for line in queue.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() == 3 && f[0] == task_id && f[1] == "PENDING" && f[2] == "BeginTime" {
                cluster.ok(
                    "scontrol",
                    &["update", &format!("JobId={task_id}"), "StartTime=now"],
                );
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the requeued array did not finish within 120 s:\n{queue}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let tasks = cluster.tasks(&job2);
    assert!(
        tasks.iter().all(|t| t.1 == "COMPLETED" && t.3 == "0:0"),
        "{tasks:?}\n{}",
        cluster.logs()
    );
    let restarts: Vec<(u32, u32)> = tasks.iter().map(|t| (t.0, t.2)).collect();
    assert!(
        restarts.contains(&(task, 1)),
        "task {task} was requeued once: {restarts:?}"
    );
    let parts = merge_and_compare(&out2, &reference2, 4);
    // The rerun of the requeued task kept the committed shards and embedded the rest.
    let s = task_summary(dir, &job2, task);
    let part_rows = parts[task as usize]["rows"].as_u64().unwrap();
    let (skipped, embedded) = (
        s["skipped"].as_u64().unwrap(),
        s["embedded"].as_u64().unwrap(),
    );
    assert!(skipped >= rows_before, "the requeued task recomputed committed rows ({rows_before} committed before the requeue): {s}");
    assert!(embedded > 0, "the requeued task found its part already finished: the requeue came too late to test resuming: {s}");
    assert_eq!(skipped + embedded, part_rows, "{s}");
    assert_eq!(s["rows"].as_u64(), Some(part_rows), "{s}");
    let total: u64 = parts
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(total, n2 as u64);
    eprintln!(
        "slurm: requeue test over {n2} images: task {task} resumed ({skipped} rows kept, {embedded} embedded) in {:.1}s; total {:.1}s",
        started.elapsed().as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    drop(cluster);
}
