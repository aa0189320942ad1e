//! The witness's rule, and the table that keeps it across restarts.
//!
//! Per cluster the witness keeps which half of the voters holds the grant (if any: the
//! node that asked first and the half it named, itself alone in a two-node cluster)
//! and a generation number. The rule:
//!
//! * **ask** from node X naming its half S: granted when nobody holds the grant (the
//!   half S then holds it), or X is in the half that holds it (a repeated ask, a lost
//!   reply, or X's partner asking); refused otherwise. Every grant bumps the
//!   generation. A node granted continues with the half that holds the grant, not the
//!   one it named: two different halves never continue.
//! * **release** from X with generation g: the grant is dropped only if X is in the
//!   half that holds it *and* g is the current generation. A release sent before a
//!   later grant (delayed in the network, or from before a new loss) does nothing.
//!
//! Why this is enough: the granted half makes itself the Raft voters, which cannot be
//! undone; the other half, refused, can never continue from the old configuration (it
//! would lack the granted half's writes). The grant is released only from the granted
//! half, once every node is a voter again (caught up from them), and from then on
//! either half may be granted. The table is written (fsynced, renamed) before an
//! answer goes out, so a witness that restarts cannot grant the other half what it
//! granted before.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The table's state for one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// The node that asked first.
    pub holder: Option<String>,
    /// The half holding the grant, sorted, the holder included (empty: nobody).
    pub side: Vec<String>,
    pub generation: u64,
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub granted: bool,
    pub holder: Option<String>,
    pub side: Vec<String>,
    pub generation: u64,
}

#[derive(Debug, Error)]
pub enum GrantsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: malformed witness state {text:?} (expected `generation [holder [node,node...]]`)"
    )]
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

    /// `node` of `cluster` asks that its half `side` (empty: itself alone) continue.
    pub fn ask(
        &mut self,
        cluster: &str,
        node: &str,
        side: &[String],
    ) -> Result<Reply, GrantsError> {
        let mut g = self.get(cluster);
        if g.holder.is_some() && !g.side.iter().any(|n| n == node) {
            return Ok(reply(false, &g));
        }
        if g.holder.is_none() {
            let mut side: Vec<String> = side.to_vec();
            side.push(node.to_string());
            side.sort_unstable();
            side.dedup();
            g.holder = Some(node.to_string());
            g.side = side;
        }
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
        if g.side.iter().any(|n| n == node) && g.generation == generation {
            g.holder = None;
            g.side.clear();
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
            Some(h) => format!("{} {h} {}\n", g.generation, g.side.join(",")),
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
        side: g.side.clone(),
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
    // A file written before halves (two-node clusters only) names the holder alone.
    let side = match (&holder, words.next()) {
        (Some(h), None) => vec![h.clone()],
        (Some(h), Some(s)) => {
            let side: Vec<String> = s.split(',').map(str::to_string).collect();
            if !side.contains(h) || side.iter().any(String::is_empty) {
                return Err(malformed());
            }
            side
        }
        (None, _) => Vec::new(),
    };
    if words.next().is_some() {
        return Err(malformed());
    }
    Ok(Grant {
        holder,
        side,
        generation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_per_cluster_until_it_releases_the_current_grant() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Grants::open(dir.path()).unwrap();
        let a = g.ask("web", "n1", &[]).unwrap();
        assert!(a.granted);
        assert!(!g.ask("web", "n2", &[]).unwrap().granted);
        // Another cluster is independent.
        assert!(g.ask("db", "n2", &[]).unwrap().granted);
        // A repeated ask is granted again, with a new generation...
        let again = g.ask("web", "n1", &[]).unwrap();
        assert!(again.granted && again.generation > a.generation);
        // ...so a release of the older grant (sent before it) does nothing.
        g.release("web", "n1", a.generation).unwrap();
        assert!(!g.ask("web", "n2", &[]).unwrap().granted);
        // Only the holder releases.
        g.release("web", "n2", again.generation).unwrap();
        assert!(!g.ask("web", "n2", &[]).unwrap().granted);
        g.release("web", "n1", again.generation).unwrap();
        assert!(g.ask("web", "n2", &[]).unwrap().granted);
    }

    #[test]
    fn a_restarted_witness_keeps_its_grants() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Grants::open(dir.path()).unwrap();
        let first = g.ask("web", "n1", &[]).unwrap();
        drop(g);
        let mut g = Grants::open(dir.path()).unwrap();
        assert_eq!(g.query("web").holder.as_deref(), Some("n1"));
        assert!(!g.ask("web", "n2", &[]).unwrap().granted);
        assert!(g.ask("web", "n1", &[]).unwrap().generation > first.generation);
    }

    #[test]
    fn a_malformed_state_file_is_refused() {
        for text in ["n1 7\n", "7 n1 n2,n3\n", "7 n1 n1,,n2\n", "7 n1 n1,n2 x\n"] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("web.grant"), text).unwrap();
            assert!(
                matches!(Grants::open(dir.path()), Err(GrantsError::Malformed { .. })),
                "{text:?}"
            );
        }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_half_of_four_holds_the_grant_its_partner_too_the_other_half_never() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Grants::open(dir.path()).unwrap();
        let a = g.ask("web", "n1", &names(&["n1", "n2"])).unwrap();
        assert!(a.granted);
        assert_eq!(a.side, names(&["n1", "n2"]));
        // The other half is refused, whichever half it names.
        for (node, side) in [("n3", ["n3", "n4"]), ("n4", ["n4", "n2"])] {
            let r = g.ask("web", node, &names(&side)).unwrap();
            assert!(!r.granted, "{node}");
            assert_eq!(r.side, names(&["n1", "n2"]));
        }
        // The partner is granted the same half, even naming another one.
        let b = g.ask("web", "n2", &names(&["n2", "n3"])).unwrap();
        assert!(b.granted && b.side == names(&["n1", "n2"]));
        // Kept across a restart, in the file's format.
        drop(g);
        let mut g = Grants::open(dir.path()).unwrap();
        assert_eq!(g.query("web").side, names(&["n1", "n2"]));
        assert!(!g.ask("web", "n3", &names(&["n3", "n4"])).unwrap().granted);
        // The partner releases the current grant; then the other half may be granted.
        let cur = g.query("web").generation;
        g.release("web", "n3", cur).unwrap();
        assert!(
            g.query("web").holder.is_some(),
            "the other half released it"
        );
        g.release("web", "n2", cur).unwrap();
        assert!(g.ask("web", "n3", &names(&["n3", "n4"])).unwrap().granted);
    }

    #[test]
    fn a_state_file_from_before_halves_reads_as_a_half_of_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("web.grant"), "4 n1\n").unwrap();
        let mut g = Grants::open(dir.path()).unwrap();
        assert_eq!(g.query("web").side, names(&["n1"]));
        assert!(!g.ask("web", "n2", &[]).unwrap().granted);
        assert!(g.ask("web", "n1", &[]).unwrap().granted);
    }
}
