//! The witness's rule, and the table that keeps it across restarts.
//!
//! Per cluster the witness keeps who holds the grant (if anyone) and a generation
//! number. The rule:
//!
//! * **ask** from node X: granted when nobody holds the grant, or X does (a repeated
//!   ask, e.g. after a lost reply); refused while another node holds it. Every grant
//!   bumps the generation.
//! * **release** from X with generation g: the grant is dropped only if X holds it
//!   *and* g is the current generation. A release sent before a later grant to X
//!   (delayed in the network, or from before a new loss) does nothing.
//!
//! Why this is enough: the granted node makes itself the only Raft voter, which cannot
//! be undone; the other node, refused, can never continue alone from the old
//! two-voter configuration (it would lack the survivor's writes). The grant is
//! released only by its holder, once the other node is a voter again (it caught up
//! from the holder), and from then on either may be granted. The table is written
//! (fsynced, renamed) before an answer goes out, so a witness that restarts cannot
//! grant the other node what it granted before.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The table's state for one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    pub holder: Option<String>,
    pub generation: u64,
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub granted: bool,
    pub holder: Option<String>,
    pub generation: u64,
}

#[derive(Debug, Error)]
pub enum GrantsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: malformed witness state {text:?} (expected `generation [holder]`)")]
    Malformed { path: PathBuf, text: String },
    #[error(transparent)]
    Write(#[from] hactl_net::PkiError),
}

/// The grants of every cluster this witness serves, one file per cluster in `dir`.
#[derive(Debug)]
pub struct Grants {
    dir: PathBuf,
    by_cluster: HashMap<String, Grant>,
}

impl Grants {
    /// Loads every `CLUSTER.grant` file of `dir` (created, mode 0700, if missing).
    pub fn open(dir: &Path) -> Result<Grants, GrantsError> {
        let io = |source| GrantsError::Io {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut by_cluster = HashMap::new();
        for e in std::fs::read_dir(dir).map_err(io)? {
            let path = e.map_err(io)?.path();
            let Some(cluster) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".grant"))
            else {
                continue;
            };
            by_cluster.insert(cluster.to_string(), read(&path)?);
        }
        Ok(Grants {
            dir: dir.to_path_buf(),
            by_cluster,
        })
    }

    pub fn get(&self, cluster: &str) -> Grant {
        self.by_cluster.get(cluster).cloned().unwrap_or_default()
    }

    /// `node` of `cluster` asks to continue alone.
    pub fn ask(&mut self, cluster: &str, node: &str) -> Result<Reply, GrantsError> {
        let mut g = self.get(cluster);
        if g.holder.as_deref().is_some_and(|h| h != node) {
            return Ok(reply(false, &g));
        }
        g.holder = Some(node.to_string());
        g.generation += 1;
        self.store(cluster, g.clone())?;
        Ok(reply(true, &g))
    }

    /// `node` gives the grant of `generation` back.
    pub fn release(
        &mut self,
        cluster: &str,
        node: &str,
        generation: u64,
    ) -> Result<Reply, GrantsError> {
        let mut g = self.get(cluster);
        if g.holder.as_deref() == Some(node) && g.generation == generation {
            g.holder = None;
            self.store(cluster, g.clone())?;
        }
        Ok(reply(false, &g))
    }

    pub fn query(&self, cluster: &str) -> Reply {
        reply(false, &self.get(cluster))
    }

    /// Durable before it counts: the answer goes out only after this returns.
    fn store(&mut self, cluster: &str, g: Grant) -> Result<(), GrantsError> {
        let text = match &g.holder {
            Some(h) => format!("{} {h}\n", g.generation),
            None => format!("{}\n", g.generation),
        };
        hactl_net::pki::write_file(&self.file(cluster), text.as_bytes(), 0o600)?;
        // The rename is durable only once the directory is synced.
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| GrantsError::Io {
                path: self.dir.clone(),
                source,
            })?;
        self.by_cluster.insert(cluster.to_string(), g);
        Ok(())
    }

    fn file(&self, cluster: &str) -> PathBuf {
        self.dir.join(format!("{cluster}.grant"))
    }
}

fn reply(granted: bool, g: &Grant) -> Reply {
    Reply {
        granted,
        holder: g.holder.clone(),
        generation: g.generation,
    }
}

fn read(path: &Path) -> Result<Grant, GrantsError> {
    let text = std::fs::read_to_string(path).map_err(|source| GrantsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let malformed = || GrantsError::Malformed {
        path: path.to_path_buf(),
        text: text.clone(),
    };
    let mut words = text.split_whitespace();
    let generation = words
        .next()
        .and_then(|w| w.parse::<u64>().ok())
        .ok_or_else(malformed)?;
    let holder = words.next().map(str::to_string);
    if words.next().is_some() {
        return Err(malformed());
    }
    Ok(Grant { holder, generation })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_per_cluster_until_it_releases_the_current_grant() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Grants::open(dir.path()).unwrap();
        let a = g.ask("web", "n1").unwrap();
        assert!(a.granted);
        assert!(!g.ask("web", "n2").unwrap().granted);
        // Another cluster is independent.
        assert!(g.ask("db", "n2").unwrap().granted);
        // A repeated ask is granted again, with a new generation...
        let again = g.ask("web", "n1").unwrap();
        assert!(again.granted && again.generation > a.generation);
        // ...so a release of the older grant (sent before it) does nothing.
        g.release("web", "n1", a.generation).unwrap();
        assert!(!g.ask("web", "n2").unwrap().granted);
        // Only the holder releases.
        g.release("web", "n2", again.generation).unwrap();
        assert!(!g.ask("web", "n2").unwrap().granted);
        g.release("web", "n1", again.generation).unwrap();
        assert!(g.ask("web", "n2").unwrap().granted);
    }

    #[test]
    fn a_restarted_witness_keeps_its_grants() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Grants::open(dir.path()).unwrap();
        let first = g.ask("web", "n1").unwrap();
        drop(g);
        let mut g = Grants::open(dir.path()).unwrap();
        assert_eq!(g.query("web").holder.as_deref(), Some("n1"));
        assert!(!g.ask("web", "n2").unwrap().granted);
        assert!(g.ask("web", "n1").unwrap().generation > first.generation);
    }

    #[test]
    fn a_malformed_state_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("web.grant"), "n1 7\n").unwrap();
        assert!(matches!(
            Grants::open(dir.path()),
            Err(GrantsError::Malformed { .. })
        ));
    }
}
