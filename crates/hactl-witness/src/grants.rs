//! The witness's rule, and the table that keeps it across restarts.
//!
//! Per cluster the witness keeps which half of the voters holds the grant (if any: the
//! node that asked first and the half it named, itself alone in a two-node cluster)
//! and a generation number. The rule:
//!
//! * **ask** from node X naming its half S and its log end: while nobody holds the
//!   grant, the first ask *claims* it for S (in memory, for [`CLAIM_WINDOW`]); the
//!   claim becomes the grant once every node of S asked naming S, each sealed against
//!   the other half (until then the askers get `waiting`, a node naming another half
//!   is told the claimed one). The grant names the node of S with the greatest log end
//!   (Raft's order; the smallest name among equals) as its holder: the one node that
//!   forces the new configuration ([`hactl_consensus::AloneProof`]'s module says why
//!   that keeps every committed entry). A claim not complete in time is dropped: no
//!   node forced anything on it. While a grant is held, X in its half is granted again
//!   (a repeated ask, a lost reply); anyone else is refused. Every grant bumps the
//!   generation. A node continues with the half that holds the grant, never the one it
//!   named: two different halves never continue. A half of one (two voters) completes
//!   its claim with its first ask.
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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    pub granted: bool,
    /// The node that forces the granted half's configuration (the others follow it).
    pub holder: Option<String>,
    pub side: Vec<String>,
    pub generation: u64,
    /// Claimed for the asker's half (`side`), waiting for the rest of it to ask.
    pub waiting: bool,
}

/// How long a claim waits for the rest of its half to ask.
pub const CLAIM_WINDOW: Duration = Duration::from_secs(5);

/// What a node asks with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ask {
    /// Its half, itself included (empty: itself alone).
    pub side: Vec<String>,
    /// Its log end as its seal took effect: (last term, last index).
    pub log: (u64, u64),
}

/// A half that asked first, waiting for the rest of it (memory only: nothing was
/// granted on it, so a restarted witness may forget it).
#[derive(Debug, Clone)]
struct Claim {
    side: Vec<String>,
    logs: BTreeMap<String, (u64, u64)>,
    until: Instant,
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
    claims: HashMap<String, Claim>,
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
            claims: HashMap::new(),
        })
    }

    pub fn get(&self, cluster: &str) -> Grant {
        self.by_cluster.get(cluster).cloned().unwrap_or_default()
    }

    /// `node` of `cluster` asks that its half continue (the rule above), at `now`.
    pub fn ask(
        &mut self,
        cluster: &str,
        node: &str,
        ask: &Ask,
        now: Instant,
    ) -> Result<Reply, GrantsError> {
        let mut g = self.get(cluster);
        if g.holder.is_some() {
            if !g.side.iter().any(|n| n == node) {
                return Ok(reply(false, &g));
            }
            g.generation += 1;
            self.store(cluster, g.clone())?;
            return Ok(reply(true, &g));
        }
        let mut side: Vec<String> = ask.side.clone();
        side.push(node.to_string());
        side.sort_unstable();
        side.dedup();
        let claim = self
            .claims
            .entry(cluster.to_string())
            .and_modify(|c| {
                if now >= c.until {
                    *c = Claim::new(side.clone(), now);
                }
            })
            .or_insert_with(|| Claim::new(side.clone(), now));
        let waiting = |c: &Claim| Reply {
            side: c.side.clone(),
            waiting: c.side.iter().any(|n| n == node),
            ..Reply::default()
        };
        if claim.side != side {
            // Another half claimed it, or this node sees its half otherwise: it must
            // seal against the complement of the claimed half and ask naming it.
            return Ok(waiting(claim));
        }
        claim.logs.insert(node.to_string(), ask.log);
        if claim.logs.len() < claim.side.len() {
            return Ok(waiting(claim));
        }
        let holder = claim
            .logs
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(n, _)| n.clone());
        g.holder = holder;
        g.side = claim.side.clone();
        g.generation += 1;
        self.claims.remove(cluster);
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

    /// What the witness holds for `cluster` (a claim in progress shows as nobody's).
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
        waiting: false,
    }
}

impl Claim {
    fn new(side: Vec<String>, now: Instant) -> Claim {
        Claim {
            side,
            logs: BTreeMap::new(),
            until: now + CLAIM_WINDOW,
        }
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

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// An ask of a node alone (two voters), at `now`.
    fn alone(g: &mut Grants, cluster: &str, node: &str, now: Instant) -> Reply {
        g.ask(cluster, node, &Ask::default(), now).unwrap()
    }

    fn half(g: &mut Grants, node: &str, side: &[&str], log: (u64, u64), now: Instant) -> Reply {
        let ask = Ask {
            side: names(side),
            log,
        };
        g.ask("web", node, &ask, now).unwrap()
    }

    #[test]
    fn one_holder_per_cluster_until_it_releases_the_current_grant() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Grants::open(dir.path()).unwrap();
        let now = Instant::now();
        let a = alone(&mut g, "web", "n1", now);
        assert!(a.granted);
        assert!(!alone(&mut g, "web", "n2", now).granted);
        // Another cluster is independent.
        assert!(alone(&mut g, "db", "n2", now).granted);
        // A repeated ask is granted again, with a new generation...
        let again = alone(&mut g, "web", "n1", now);
        assert!(again.granted && again.generation > a.generation);
        // ...so a release of the older grant (sent before it) does nothing.
        g.release("web", "n1", a.generation).unwrap();
        assert!(!alone(&mut g, "web", "n2", now).granted);
        // Only the holder releases.
        g.release("web", "n2", again.generation).unwrap();
        assert!(!alone(&mut g, "web", "n2", now).granted);
        g.release("web", "n1", again.generation).unwrap();
        assert!(alone(&mut g, "web", "n2", now).granted);
    }

    #[test]
    fn a_restarted_witness_keeps_its_grants() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Grants::open(dir.path()).unwrap();
        let now = Instant::now();
        let first = alone(&mut g, "web", "n1", now);
        drop(g);
        let mut g = Grants::open(dir.path()).unwrap();
        assert_eq!(g.query("web").holder.as_deref(), Some("n1"));
        assert!(!alone(&mut g, "web", "n2", now).granted);
        assert!(alone(&mut g, "web", "n1", now).generation > first.generation);
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

    #[test]
    fn a_half_is_granted_once_all_of_it_asked_to_its_most_up_to_date_node() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Grants::open(dir.path()).unwrap();
        let now = Instant::now();
        let abc = ["n1", "n2", "n3"];
        // n2 claims for its half; it waits for n1 and n3.
        let r = half(&mut g, "n2", &abc, (4, 20), now);
        assert!(r.waiting && !r.granted && r.side == names(&abc));
        // The other half is refused while the claim stands, whatever it names.
        let r = half(&mut g, "n4", &["n4", "n5", "n6"], (4, 30), now);
        assert!(!r.waiting && !r.granted && r.side == names(&abc));
        // n1 sees its half otherwise: told the claimed half, not counted.
        let r = half(&mut g, "n1", &["n1", "n2", "n4"], (5, 9), now);
        assert!(r.waiting && r.side == names(&abc));
        assert!(half(&mut g, "n1", &abc, (5, 9), now).waiting);
        // The last of the half: granted; the holder is the greatest log end (term
        // first), the one node that forces.
        let r = half(&mut g, "n3", &abc, (4, 25), now);
        assert!(r.granted && r.side == names(&abc));
        assert_eq!(r.holder.as_deref(), Some("n1"));
        // Kept across a restart; the half's nodes are granted again, the other not.
        drop(g);
        let mut g = Grants::open(dir.path()).unwrap();
        assert!(half(&mut g, "n2", &abc, (4, 20), now).granted);
        assert!(!half(&mut g, "n5", &["n4", "n5", "n6"], (9, 9), now).granted);
        // Any node of the half releases the current grant; then the other half may
        // claim it.
        let cur = g.query("web").generation;
        g.release("web", "n4", cur).unwrap();
        assert!(
            g.query("web").holder.is_some(),
            "the other half released it"
        );
        g.release("web", "n3", cur).unwrap();
        assert!(half(&mut g, "n4", &["n4", "n5", "n6"], (9, 9), now).waiting);
    }

    #[test]
    fn a_claim_not_completed_in_time_is_dropped_and_equal_logs_pick_the_smallest_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Grants::open(dir.path()).unwrap();
        let t0 = Instant::now();
        // n3 of {n3, n4} claims, n4 never asks.
        assert!(half(&mut g, "n3", &["n3", "n4"], (2, 7), t0).waiting);
        let later = t0 + CLAIM_WINDOW;
        // Expired: the other half claims and completes it.
        assert!(half(&mut g, "n2", &["n1", "n2"], (2, 7), later).waiting);
        let r = half(&mut g, "n1", &["n1", "n2"], (2, 7), later);
        assert!(r.granted && r.holder.as_deref() == Some("n1"));
        assert!(!half(&mut g, "n3", &["n3", "n4"], (2, 7), later).granted);
    }

    #[test]
    fn a_state_file_from_before_halves_reads_as_a_half_of_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("web.grant"), "4 n1\n").unwrap();
        let mut g = Grants::open(dir.path()).unwrap();
        let now = Instant::now();
        assert_eq!(g.query("web").side, names(&["n1"]));
        assert!(!alone(&mut g, "web", "n2", now).granted);
        assert!(alone(&mut g, "web", "n1", now).granted);
    }
}
