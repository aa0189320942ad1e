//! Raft storage in sled: the log, the hard state, the configuration state and the last
//! snapshot (the CIB as JSON), all in one tree so a Ready's writes go in one atomic
//! batch.
//!
//! Keys: `hs`, `cs`, `snap` (raft protobuf encodings) and `e` + index (big-endian u64,
//! so the tree's order is the log's order) for entries.

use std::path::Path;

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, StorageError};

use crate::Error;

const KEY_HS: &[u8] = b"hs";
const KEY_CS: &[u8] = b"cs";
const KEY_SNAP: &[u8] = b"snap";
/// Index and term of the founding snapshot of a new cluster.
pub(crate) const INIT_INDEX: u64 = 5;

fn entry_key(index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = b'e';
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

fn store_err(e: impl std::error::Error + Send + Sync + 'static) -> raft::Error {
    raft::Error::Store(StorageError::Other(Box::new(e)))
}

/// sled-backed raft storage. The small pieces of state raft asks for often are cached;
/// entries are read from sled.
pub(crate) struct SledStorage {
    db: sled::Db,
    tree: sled::Tree,
    hs: HardState,
    cs: ConfState,
    snap_meta: SnapshotMetadata,
    /// First and last index of the entries in the tree; `last < first` when empty.
    first: u64,
    last: u64,
    /// Set when raft asked for a snapshot that the stored one cannot serve (it predates
    /// the peer's membership); the node then takes a fresh one.
    snapshot_wanted: std::cell::Cell<bool>,
}

impl SledStorage {
    /// Opens (or creates) the store in `dir`. A fresh store gets `voters` as its
    /// configuration; an existing one keeps what it has.
    pub(crate) fn open(
        dir: &Path,
        voters: &[u64],
        initial_data: &[u8],
    ) -> Result<SledStorage, Error> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Storage(format!("{}: {e}", dir.display())))?;
        let db = sled::Config::new()
            .path(dir)
            // The raft log is small and hot; sled's default cache is 1 GB of budget.
            .cache_capacity(8 * 1024 * 1024)
            .open()
            .map_err(|e| Error::Storage(format!("opening {}: {e}", dir.display())))?;
        let tree = db.open_tree("raft").map_err(sled_err)?;
        let get = |k: &[u8]| tree.get(k).map_err(sled_err);
        let corrupt =
            |what: &str, e: protobuf::ProtobufError| Error::Storage(format!("corrupt {what}: {e}"));
        let hs = match get(KEY_HS)? {
            Some(b) => HardState::parse_from_bytes(&b).map_err(|e| corrupt("hard state", e))?,
            None => HardState::default(),
        };
        let fresh = tree.is_empty();
        let cs = match get(KEY_CS)? {
            Some(b) => ConfState::parse_from_bytes(&b).map_err(|e| corrupt("conf state", e))?,
            None => {
                let mut cs = ConfState::default();
                if fresh {
                    cs.voters = voters.to_vec();
                }
                cs
            }
        };
        let snap_meta = match get(KEY_SNAP)? {
            Some(b) => Snapshot::parse_from_bytes(&b)
                .map_err(|e| corrupt("snapshot", e))?
                .take_metadata(),
            None => SnapshotMetadata::default(),
        };
        let mut s = SledStorage {
            db,
            tree,
            hs,
            cs,
            snap_meta,
            first: 0,
            last: 0,
            snapshot_wanted: std::cell::Cell::new(false),
        };
        s.reload_bounds()?;
        if fresh && !voters.is_empty() {
            // Founders start from an identical snapshot at INIT_INDEX rather than an
            // empty log, so a node added later (whose log is empty) is brought up to
            // date with a snapshot that carries the founding configuration; a log
            // replay from index 1 would miss it.
            let mut snap = Snapshot::default();
            snap.set_data(initial_data.to_vec().into());
            let meta = snap.mut_metadata();
            meta.index = INIT_INDEX;
            meta.term = INIT_INDEX;
            meta.set_conf_state(s.cs.clone());
            s.apply_snapshot(&snap)?;
            s.flush()?;
        }
        Ok(s)
    }

    fn reload_bounds(&mut self) -> Result<(), Error> {
        let first = self
            .tree
            .scan_prefix(b"e")
            .next()
            .transpose()
            .map_err(sled_err)?;
        let last = self
            .tree
            .scan_prefix(b"e")
            .next_back()
            .transpose()
            .map_err(sled_err)?;
        match (first, last) {
            (Some((f, _)), Some((l, _))) => {
                self.first = key_index(&f)?;
                self.last = key_index(&l)?;
            }
            _ => {
                self.first = self.snap_meta.index + 1;
                self.last = self.snap_meta.index;
            }
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn hard_state(&self) -> &HardState {
        &self.hs
    }

    pub(crate) fn conf_state(&self) -> &ConfState {
        &self.cs
    }

    pub(crate) fn snapshot_index(&self) -> u64 {
        self.snap_meta.index
    }

    /// The stored snapshot's data (the CIB as JSON), if there is a snapshot.
    pub(crate) fn snapshot_data(&self) -> Result<Option<Vec<u8>>, Error> {
        match self.tree.get(KEY_SNAP).map_err(sled_err)? {
            Some(b) => {
                let mut s = Snapshot::parse_from_bytes(&b)
                    .map_err(|e| Error::Storage(format!("corrupt snapshot: {e}")))?;
                Ok(Some(s.take_data().to_vec()))
            }
            None => Ok(None),
        }
    }

    /// Appends entries, dropping any conflicting suffix.
    pub(crate) fn append(&mut self, ents: &[Entry]) -> Result<(), Error> {
        let Some(first_new) = ents.first().map(|e| e.index) else {
            return Ok(());
        };
        if first_new <= self.snap_meta.index {
            return Err(Error::Storage(format!(
                "append at {first_new} overwrites compacted log (snapshot at {})",
                self.snap_meta.index
            )));
        }
        let mut batch = sled::Batch::default();
        // Entries past the new ones are from an old term: remove them.
        let new_last = ents.last().map(|e| e.index).unwrap_or(first_new);
        for i in (new_last + 1)..=self.last {
            batch.remove(&entry_key(i));
        }
        for e in ents {
            batch.insert(&entry_key(e.index), e.write_to_bytes().map_err(pb_err)?);
        }
        self.tree.apply_batch(batch).map_err(sled_err)?;
        if self.last < self.first {
            self.first = first_new;
        }
        self.last = new_last;
        Ok(())
    }

    pub(crate) fn set_hard_state(&mut self, hs: &HardState) -> Result<(), Error> {
        self.tree
            .insert(KEY_HS, hs.write_to_bytes().map_err(pb_err)?)
            .map_err(sled_err)?;
        self.hs = hs.clone();
        Ok(())
    }

    pub(crate) fn set_commit(&mut self, commit: u64) -> Result<(), Error> {
        let mut hs = self.hs.clone();
        hs.commit = commit;
        self.set_hard_state(&hs)
    }

    pub(crate) fn set_conf_state(&mut self, cs: &ConfState) -> Result<(), Error> {
        self.tree
            .insert(KEY_CS, cs.write_to_bytes().map_err(pb_err)?)
            .map_err(sled_err)?;
        self.cs = cs.clone();
        Ok(())
    }

    /// Replaces the whole log with a snapshot received from the leader.
    pub(crate) fn apply_snapshot(&mut self, snap: &Snapshot) -> Result<(), Error> {
        let meta = snap.get_metadata();
        if meta.index <= self.snap_meta.index {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for i in self.first..=self.last {
            batch.remove(&entry_key(i));
        }
        let mut hs = self.hs.clone();
        hs.term = hs.term.max(meta.term);
        hs.commit = meta.index;
        batch.insert(KEY_SNAP, snap.write_to_bytes().map_err(pb_err)?);
        batch.insert(KEY_HS, hs.write_to_bytes().map_err(pb_err)?);
        batch.insert(
            KEY_CS,
            meta.get_conf_state().write_to_bytes().map_err(pb_err)?,
        );
        self.tree.apply_batch(batch).map_err(sled_err)?;
        self.hs = hs;
        self.cs = meta.get_conf_state().clone();
        self.snap_meta = meta.clone();
        self.first = meta.index + 1;
        self.last = meta.index;
        Ok(())
    }

    /// Stores a snapshot of the state machine at `index` (which must be applied) and
    /// deletes the log up to it.
    pub(crate) fn compact(
        &mut self,
        index: u64,
        cs: &ConfState,
        data: Vec<u8>,
    ) -> Result<(), Error> {
        if index <= self.snap_meta.index || index > self.last {
            return Ok(());
        }
        let term = raft::Storage::term(self, index).map_err(|e| Error::Storage(e.to_string()))?;
        let mut snap = Snapshot::default();
        snap.set_data(data.into());
        let meta = snap.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(cs.clone());
        let mut batch = sled::Batch::default();
        batch.insert(KEY_SNAP, snap.write_to_bytes().map_err(pb_err)?);
        for i in self.first..=index {
            batch.remove(&entry_key(i));
        }
        self.tree.apply_batch(batch).map_err(sled_err)?;
        self.snap_meta = snap.take_metadata();
        self.first = index + 1;
        Ok(())
    }

    /// Makes everything written so far durable (fsync).
    pub(crate) fn flush(&self) -> Result<(), Error> {
        self.db.flush().map_err(sled_err)?;
        Ok(())
    }

    pub(crate) fn last_index(&self) -> u64 {
        self.last
    }

    /// Whether raft asked for a fresher snapshot since the last call.
    pub(crate) fn take_snapshot_wanted(&self) -> bool {
        self.snapshot_wanted.replace(false)
    }

    #[cfg(test)]
    pub(crate) fn first_index(&self) -> u64 {
        self.first
    }
}

fn key_index(k: &[u8]) -> Result<u64, Error> {
    let b: [u8; 8] = k
        .get(1..9)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| Error::Storage(format!("bad log key {k:?}")))?;
    Ok(u64::from_be_bytes(b))
}

fn sled_err(e: sled::Error) -> Error {
    Error::Storage(e.to_string())
}

fn pb_err(e: protobuf::ProtobufError) -> Error {
    Error::Storage(format!("encoding: {e}"))
}

impl raft::Storage for SledStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(self.hs.clone(), self.cs.clone()))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low < self.first {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last + 1 {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let max = max_size.into();
        let mut out = Vec::with_capacity((high - low) as usize);
        let mut size = 0u64;
        for item in self.tree.range(entry_key(low)..entry_key(high)) {
            let (_, v) = item.map_err(store_err)?;
            let e = Entry::parse_from_bytes(&v).map_err(store_err)?;
            size += v.len() as u64;
            // At least one entry, then stop at the size limit (raft's contract).
            if !out.is_empty() && max.is_some_and(|m| size > m) {
                break;
            }
            out.push(e);
        }
        if out.len() as u64 != (high - low) && max.is_none() {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.snap_meta.index {
            return Ok(self.snap_meta.term);
        }
        if idx < self.first {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if idx > self.last {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        match self.tree.get(entry_key(idx)).map_err(store_err)? {
            Some(v) => Ok(Entry::parse_from_bytes(&v).map_err(store_err)?.term),
            None => Err(raft::Error::Store(StorageError::Unavailable)),
        }
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first)
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last)
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        match self.tree.get(KEY_SNAP).map_err(store_err)? {
            Some(b) => {
                let s = Snapshot::parse_from_bytes(&b).map_err(store_err)?;
                let cs = s.get_metadata().get_conf_state();
                // A peer added after this snapshot would refuse it (it is not in its
                // configuration): ask for a new one and let raft retry.
                let knows_peer = cs.voters.contains(&to) || cs.learners.contains(&to);
                if s.get_metadata().index < request_index || !knows_peer {
                    self.snapshot_wanted.set(true);
                    return Err(raft::Error::Store(
                        StorageError::SnapshotTemporarilyUnavailable,
                    ));
                }
                Ok(s)
            }
            None => {
                self.snapshot_wanted.set(true);
                Err(raft::Error::Store(
                    StorageError::SnapshotTemporarilyUnavailable,
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::Storage as _;

    fn ent(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            data: vec![index as u8; 10].into(),
            ..Default::default()
        }
    }

    #[test]
    fn append_truncate_compact_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = SledStorage::open(dir.path(), &[1, 2, 3], b"{}").unwrap();
            assert_eq!(s.conf_state().voters, vec![1, 2, 3]);
            // A founder starts from the founding snapshot.
            assert_eq!((s.first_index(), s.last_index()), (6, 5));
            assert_eq!(s.term(5).unwrap(), 5);
            s.append(&(6..=15).map(|i| ent(i, 6)).collect::<Vec<_>>())
                .unwrap();
            // A new leader overwrites 13..=15 with 13 only.
            s.append(&[ent(13, 7)]).unwrap();
            assert_eq!(s.last_index(), 13);
            assert_eq!(s.term(13).unwrap(), 7);
            assert!(s.term(14).is_err());
            let got = s
                .entries(7, 10, None, GetEntriesContext::empty(false))
                .unwrap();
            assert_eq!(got.iter().map(|e| e.index).collect::<Vec<_>>(), [7, 8, 9]);
            let one = s
                .entries(7, 10, Some(1), GetEntriesContext::empty(false))
                .unwrap();
            assert_eq!(one.len(), 1, "size limit still returns one entry");
            let hs = HardState {
                term: 7,
                vote: 1,
                commit: 11,
                ..Default::default()
            };
            s.set_hard_state(&hs).unwrap();
            let cs = s.conf_state().clone();
            s.compact(10, &cs, b"cib".to_vec()).unwrap();
            assert_eq!(s.first_index(), 11);
            assert_eq!(
                s.term(10).unwrap(),
                6,
                "term of the snapshot index survives"
            );
            assert!(matches!(
                s.entries(8, 11, None, GetEntriesContext::empty(false)),
                Err(raft::Error::Store(StorageError::Compacted))
            ));
            s.flush().unwrap();
        }
        // Reopen: same state, and `voters` is ignored for an existing store.
        let s = SledStorage::open(dir.path(), &[9], b"{}").unwrap();
        assert_eq!(s.conf_state().voters, vec![1, 2, 3]);
        assert_eq!((s.first_index(), s.last_index()), (11, 13));
        assert_eq!(s.hard_state().commit, 11);
        assert_eq!(s.snapshot_data().unwrap().as_deref(), Some(&b"cib"[..]));
        assert_eq!(s.snapshot(0, 2).unwrap().get_metadata().index, 10);
    }

    #[test]
    fn snapshot_from_leader_replaces_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SledStorage::open(dir.path(), &[], b"{}").unwrap();
        s.append(&(1..=3).map(|i| ent(i, 1)).collect::<Vec<_>>())
            .unwrap();
        let mut snap = Snapshot::default();
        snap.mut_metadata().index = 20;
        snap.mut_metadata().term = 4;
        snap.mut_metadata().mut_conf_state().voters = vec![1, 2];
        snap.set_data(b"x".to_vec().into());
        s.apply_snapshot(&snap).unwrap();
        assert_eq!((s.first_index(), s.last_index()), (21, 20));
        assert_eq!(s.term(20).unwrap(), 4);
        assert_eq!(s.hard_state().commit, 20);
        assert_eq!(s.conf_state().voters, vec![1, 2]);
        s.append(&[ent(21, 4)]).unwrap();
        assert_eq!(s.last_index(), 21);
    }
}
