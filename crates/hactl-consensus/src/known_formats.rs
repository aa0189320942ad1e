//! The entry format each member last announced, kept on disk so that a restarted node
//! still knows it before the member is heard again.
//!
//! The leader writes the lowest format every member reads ([`crate::format`]). A
//! member it has not heard since it started used to count as the oldest format
//! ([`LEGACY_FORMAT`]): after a restart with its peer down (two nodes that lost power,
//! one started with `--force-alone`) every change that needs a newer format was refused
//! until the peer came back, and the DC's batches that carried its transition record
//! with operation results were lost whole.
//!
//! Why remember rather than let an unknown member not count: a member on an older
//! build that is down while the leader restarts must still find a log it can read when
//! it returns (the rolling-upgrade rule, docs/architecture.md). What it last announced
//! is the best knowledge there is of what it reads; a node is upgraded (or rolled
//! back) only by restarting it, and it then announces its new format before it is sent
//! anything new. Only a member this node has never heard from counts as the oldest
//! format. A rollback made while the member was down can still meet entries it cannot
//! read: it then stops applying and says so (`Status::stalled`), it never skips them.
//!
//! A member never heard from is not yet a reason to refuse a change that needs a
//! newer format: right after founding (or a start, or an addition) its first report
//! is usually a heartbeat away, and refusing meant that the DC's first transition
//! records were lost (and its batches of results with them, re-planned in a busy
//! loop). While such a member may still report ([`KnownFormats::awaited`]: within
//! [`KnownFormats::wait`] of this start or of its joining the configuration), the
//! node holds the proposal and decides when the report comes: written if every
//! member reads the format, refused if one announces an older one. Nothing is ever
//! written in a format a member has not announced (unknown still counts as
//! [`LEGACY_FORMAT`] for what is written), so the rolling-upgrade rule holds; only the
//! answer waits. Founders are not assumed to run the same build: `hactl cluster
//! setup` does not check it, and the founding snapshot is in the legacy format for
//! that reason. A member silent for the whole wait is taken as down and as the
//! oldest format: the proposal is then refused as before.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::format::LEGACY_FORMAT;
use crate::rejoin::write_durably;
use crate::{Error, NodeId};

const FILE: &str = "member-formats";

/// Each member's last announced highest readable format, as on disk.
#[derive(Debug)]
pub(crate) struct KnownFormats {
    path: PathBuf,
    by_member: BTreeMap<NodeId, u32>,
    /// How long a member never heard from may take to announce its format.
    wait: Duration,
    /// When this node started: members of the configuration then are awaited from it.
    started: Instant,
    /// Members that joined the configuration since, and when.
    joined: HashMap<NodeId, Instant>,
}

impl KnownFormats {
    /// Reads the file in `data_dir` (none yet: nothing known). A damaged file is an
    /// error: guessing could write entries a member cannot read. A member never
    /// heard from is awaited for `wait` from now (or from its joining).
    pub(crate) fn load(data_dir: &Path, wait: Duration) -> Result<KnownFormats, Error> {
        let path = data_dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::Storage(format!("{}: {e}", path.display()))),
        };
        let by_member = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| parse_line(l).ok_or_else(|| bad_line(&path, l)))
            .collect::<Result<_, _>>()?;
        Ok(KnownFormats {
            path,
            by_member,
            wait,
            started: Instant::now(),
            joined: HashMap::new(),
        })
    }

    /// The format `id` last announced, if it ever did.
    pub(crate) fn get(&self, id: NodeId) -> Option<u32> {
        self.by_member.get(&id).copied()
    }

    /// `id` joined the configuration now: it is awaited from now on.
    pub(crate) fn joined(&mut self, id: NodeId, now: Instant) {
        self.joined.insert(id, now);
    }

    /// Whether `id` has never announced a format but may still do so soon (see the
    /// module doc): a proposal that only it keeps from a newer format waits.
    pub(crate) fn awaited(&self, id: NodeId, now: Instant) -> bool {
        let since = self.joined.get(&id).copied().unwrap_or(self.started);
        self.get(id).is_none() && now < since + self.wait
    }

    /// `id` announces `format`: kept, and written to disk when it changed (rarely:
    /// a member's first report, an upgrade).
    pub(crate) fn note(&mut self, id: NodeId, format: u32) -> Result<(), Error> {
        let format = format.max(LEGACY_FORMAT);
        if self.by_member.insert(id, format) == Some(format) {
            return Ok(());
        }
        let text: String = self
            .by_member
            .iter()
            .map(|(id, f)| format!("{id} {f}\n"))
            .collect();
        write_durably(&self.path, Some(&text))
    }
}

fn parse_line(l: &str) -> Option<(NodeId, u32)> {
    let (id, f) = l.trim().split_once(' ')?;
    Some((id.parse().ok()?, f.trim().parse().ok()?))
}

fn bad_line(path: &Path, l: &str) -> Error {
    Error::Storage(format!(
        "{}: not \"<member id> <format>\": {l:?}",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(1);

    #[test]
    fn a_members_format_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut k = KnownFormats::load(dir.path(), WAIT).unwrap();
        assert_eq!(k.get(2), None);
        k.note(2, 4).unwrap();
        k.note(3, 3).unwrap();
        let k = KnownFormats::load(dir.path(), WAIT).unwrap();
        assert_eq!((k.get(2), k.get(3), k.get(4)), (Some(4), Some(3), None));
    }

    /// A member never heard from is awaited for the wait from this start (or from its
    /// joining), no longer once it announced a format or the wait is over.
    #[test]
    fn a_member_never_heard_from_is_awaited_for_a_while() {
        let dir = tempfile::tempdir().unwrap();
        let mut k = KnownFormats::load(dir.path(), WAIT).unwrap();
        let now = Instant::now();
        assert!(k.awaited(2, now));
        assert!(
            !k.awaited(2, now + WAIT),
            "silent for the whole wait: taken as down"
        );
        k.joined(3, now + WAIT);
        assert!(k.awaited(3, now + WAIT), "awaited from its joining");
        k.note(2, 4).unwrap();
        assert!(!k.awaited(2, now), "announced: nothing to wait for");
    }

    #[test]
    fn a_damaged_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "2 4\n3 four\n").unwrap();
        let e = KnownFormats::load(dir.path(), WAIT).unwrap_err();
        assert!(e.to_string().contains("four"), "{e}");
    }
}
