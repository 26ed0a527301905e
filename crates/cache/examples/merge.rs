//! What `graft cache status` and `graft cache merge` do: report the parts of a
//! partitioned run and, once all are done, merge them into one readable cache.
//!
//! ```text
//! cargo run -p graft-cache --example merge -- feats/
//! ```

use std::path::PathBuf;

use graft_cache::{Cache, PartState};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: merge CACHE_DIR")?);
    let parts = graft_cache::status(&dir)?;
    for p in &parts {
        println!(
            "part {}: {:?}, {} rows, {} failed",
            p.part, p.state, p.rows, p.failed
        );
    }
    if parts.iter().any(|p| p.state != PartState::Done) {
        return Err("not every part is done yet".into());
    }
    let merged = graft_cache::merge(&dir)?;
    println!("merged {} parts: {} rows", merged.parts, merged.rows);
    let cache = Cache::open(&dir)?;
    cache.verify()?;
    println!("all {} shards verified", cache.manifest().shards.len());
    Ok(())
}
