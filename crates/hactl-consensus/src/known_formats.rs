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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::format::LEGACY_FORMAT;
use crate::rejoin::write_durably;
use crate::{Error, NodeId};

const FILE: &str = "member-formats";

/// Each member's last announced highest readable format, as on disk.
#[derive(Debug)]
pub(crate) struct KnownFormats {
    path: PathBuf,
    by_member: BTreeMap<NodeId, u32>,
}

impl KnownFormats {
    /// Reads the file in `data_dir` (none yet: nothing known). A damaged file is an
    /// error: guessing could write entries a member cannot read.
    pub(crate) fn load(data_dir: &Path) -> Result<KnownFormats, Error> {
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
        Ok(KnownFormats { path, by_member })
    }

    /// The format `id` last announced, if it ever did.
    pub(crate) fn get(&self, id: NodeId) -> Option<u32> {
        self.by_member.get(&id).copied()
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

    #[test]
    fn a_members_format_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut k = KnownFormats::load(dir.path()).unwrap();
        assert_eq!(k.get(2), None);
        k.note(2, 4).unwrap();
        k.note(3, 3).unwrap();
        let k = KnownFormats::load(dir.path()).unwrap();
        assert_eq!((k.get(2), k.get(3), k.get(4)), (Some(4), Some(3), None));
    }

    #[test]
    fn a_damaged_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "2 4\n3 four\n").unwrap();
        let e = KnownFormats::load(dir.path()).unwrap_err();
        assert!(e.to_string().contains("four"), "{e}");
    }
}
