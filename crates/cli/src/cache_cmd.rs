//! `graft cache status | merge | verify`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use graft_cache::{merge, status, Cache, PartState};

#[derive(Subcommand)]
pub enum CacheCommand {
    /// Parts done, in progress and missing, with rows and failures per part.
    Status {
        /// The shared output directory.
        dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check every part and write the top-level manifest (no feature data is copied).
    Merge {
        /// The shared output directory.
        dir: PathBuf,
    },
    /// Re-read every shard: checksums, shapes, no id twice.
    Verify {
        /// A cache directory.
        dir: PathBuf,
    },
}

pub fn cache(cmd: CacheCommand) -> Result<u8> {
    match cmd {
        CacheCommand::Status { dir, json } => {
            let parts = status(&dir)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&parts)?);
            } else {
                for p in &parts {
                    let state = match p.state {
                        PartState::Done => "done",
                        PartState::InProgress => "in progress",
                        PartState::Missing => "missing",
                    };
                    let owner = p
                        .owner
                        .as_deref()
                        .map(|o| format!("  ({o})"))
                        .unwrap_or_default();
                    println!(
                        "part {:>4}  {:<12} {:>10} rows {:>8} failed{owner}",
                        p.part.to_string(),
                        state,
                        p.rows,
                        p.failed
                    );
                }
                let done = parts.iter().filter(|p| p.state == PartState::Done).count();
                println!("{done}/{} parts done", parts.len());
            }
            Ok(if parts.iter().all(|p| p.state == PartState::Done) {
                0
            } else {
                1
            })
        }
        CacheCommand::Merge { dir } => {
            let r = merge(&dir)?;
            println!(
                "merged {} parts: {} rows in {} shards, {} failed inputs; {}",
                r.parts,
                r.rows,
                r.shards,
                r.failed,
                dir.join("manifest.json").display()
            );
            Ok(0)
        }
        CacheCommand::Verify { dir } => {
            let cache = Cache::open(&dir)?;
            cache.verify()?;
            println!(
                "{}: {} rows, {} shards, all checksums match",
                dir.display(),
                cache.manifest().rows,
                cache.manifest().shards.len()
            );
            Ok(0)
        }
    }
}
