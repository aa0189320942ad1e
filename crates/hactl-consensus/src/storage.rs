//! Raft storage in redb: the log, the hard state, the configuration state and the last
//! snapshot (the CIB as JSON), in one database file (`raft.redb` in the data dir).
//!
//! Tables: `meta` holds `hs`, `cs`, `snap` (raft protobuf encodings); `log` maps an
//! index to its entry.
//!
//! Durability: every change is committed at once but without fsync
//! ([`redb::Durability::None`]), so it is visible to reads right away; [`Storage::flush`]
//! commits with [`redb::Durability::Immediate`], which makes the database's current
//! state durable as a whole. A crash (or power loss) before a flush leaves the state of
//! the previous flush: the changes of one Ready become durable together or not at all.
//!
//! Damage: the file is opened with redb's integrity check (the checksum of every page
//! is verified), and the Raft log is checked against its own invariants and the hard
//! state ([`check_invariants`]). A store that fails either is refused with
//! [`Error::Damaged`]. Flushes use redb's two-phase commit, so redb never rolls back
//! to an older commit to get past damage to the newest one.
//!
//! Space: compaction deletes the log up to the snapshot, then redb's own compaction
//! moves the live pages to the start of the file and truncates the rest, so the file
//! stays a small multiple of the CIB (docs/benchmarks.md, "Raft state size").

use std::path::{Path, PathBuf};

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, StorageError};
use redb::{ReadableDatabase as _, ReadableTable as _, TableDefinition};

use crate::Error;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const KEY_HS: &str = "hs";
const KEY_CS: &str = "cs";
/// Index of the last membership change `KEY_CS` includes (absent in older stores: 0).
const KEY_CS_INDEX: &str = "cs_index";
const KEY_SNAP: &str = "snap";
/// The database file inside the node's data dir.
pub(crate) const DB_FILE: &str = "raft.redb";
/// Index and term of the founding snapshot of a new cluster.
pub(crate) const INIT_INDEX: u64 = 5;

fn store_err(e: impl std::error::Error + Send + Sync + 'static) -> raft::Error {
    raft::Error::Store(StorageError::Other(Box::new(e)))
}

/// redb-backed raft storage. The small pieces of state raft asks for often are cached;
/// entries are read from the database.
pub(crate) struct Storage {
    db: redb::Database,
    path: PathBuf,
    hs: HardState,
    cs: ConfState,
    /// The last log index whose membership change `cs` already includes: replaying the
    /// log after a restart must not apply those again (see `conf_index`).
    cs_index: u64,
    snap_meta: SnapshotMetadata,
    /// First and last index of the entries in the log; `last < first` when empty.
    first: u64,
    last: u64,
    /// Log entries deleted since redb last compacted the file.
    deleted_since_compaction: u64,
    /// Set when raft asked for a snapshot that the stored one cannot serve (it predates
    /// the peer's membership); the node then takes a fresh one.
    snapshot_wanted: std::cell::Cell<bool>,
}

/// What an existing database file holds, read at open.
struct Loaded {
    hs: Option<HardState>,
    cs: Option<ConfState>,
    cs_index: u64,
    snap_meta: Option<SnapshotMetadata>,
    /// Every log entry's key and decoded entry, in index order.
    log: Vec<(u64, Entry)>,
}

impl Loaded {
    /// Nothing at all was ever stored: a node that never ran (or never got anything
    /// from a leader).
    fn is_fresh(&self) -> bool {
        self.hs.is_none() && self.cs.is_none() && self.snap_meta.is_none() && self.log.is_empty()
    }
}

impl Storage {
    /// Opens (or creates) the store in `dir`. A fresh store gets `voters` as its
    /// configuration; an existing one keeps what it has. A damaged store is refused
    /// with [`Error::Damaged`].
    pub(crate) fn open(dir: &Path, voters: &[u64], initial_data: &[u8]) -> Result<Storage, Error> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Storage(format!("{}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        refuse_old_sled_store(dir, &path)?;
        let damaged = |detail: String| Error::Damaged {
            path: path.clone(),
            detail,
        };
        let db = redb::Database::builder()
            // The store is small (a snapshot and at most `compact_after` entries).
            .set_cache_size(8 * 1024 * 1024)
            // Verify every page's checksum on open: a file damaged on disk is refused
            // instead of read (a plain open may panic on it).
            .set_check_integrity_on_open(true)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::Storage(redb::StorageError::Corrupted(d)) => damaged(d),
                e => Error::Storage(format!("opening {}: {e}", path.display())),
            })?;
        let loaded = load(&db).map_err(|e| damaged(e.to_string()))?;
        check_invariants(&loaded).map_err(damaged)?;
        let fresh = loaded.is_fresh();
        let mut s = Storage {
            db,
            path: path.clone(),
            hs: loaded.hs.unwrap_or_default(),
            cs: loaded.cs.unwrap_or_default(),
            cs_index: loaded.cs_index,
            snap_meta: loaded.snap_meta.unwrap_or_default(),
            first: 0,
            last: 0,
            deleted_since_compaction: 0,
            snapshot_wanted: std::cell::Cell::new(false),
        };
        match (loaded.log.first(), loaded.log.last()) {
            (Some((f, _)), Some((l, _))) => (s.first, s.last) = (*f, *l),
            _ => (s.first, s.last) = (s.snap_meta.index + 1, s.snap_meta.index),
        }
        if fresh {
            s.cs.voters = voters.to_vec();
        }
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

    /// Commits `f`'s writes now, without fsync: visible to reads at once, durable at the
    /// next [`Storage::flush`].
    fn write(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> Result<(), Error> {
        let mut tx = self.db.begin_write().map_err(db_err)?;
        tx.set_durability(redb::Durability::None).map_err(db_err)?;
        f(&tx).map_err(db_err)?;
        tx.commit().map_err(db_err)
    }

    fn read_meta(&self, key: &str) -> Result<Option<Vec<u8>>, redb::Error> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(META)?;
        let v = t.get(key)?.map(|v| v.value().to_vec());
        Ok(v)
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
        match self.read_meta(KEY_SNAP).map_err(db_err)? {
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
        let encoded = ents
            .iter()
            .map(|e| Ok((e.index, e.write_to_bytes().map_err(pb_err)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        let new_last = ents.last().map(|e| e.index).unwrap_or(first_new);
        let old_last = self.last;
        self.write(|tx| {
            let mut log = tx.open_table(LOG)?;
            // Entries past the new ones are from an old term: remove them.
            for i in (new_last + 1)..=old_last {
                log.remove(i)?;
            }
            for (i, b) in &encoded {
                log.insert(*i, b.as_slice())?;
            }
            Ok(())
        })?;
        if self.last < self.first {
            self.first = first_new;
        }
        self.last = new_last;
        Ok(())
    }

    pub(crate) fn set_hard_state(&mut self, hs: &HardState) -> Result<(), Error> {
        let b = hs.write_to_bytes().map_err(pb_err)?;
        self.write(|tx| {
            tx.open_table(META)?.insert(KEY_HS, b.as_slice())?;
            Ok(())
        })?;
        self.hs = hs.clone();
        Ok(())
    }

    pub(crate) fn set_commit(&mut self, commit: u64) -> Result<(), Error> {
        let mut hs = self.hs.clone();
        hs.commit = commit;
        self.set_hard_state(&hs)
    }

    /// Stores the membership as of log index `index` (every membership change up to it
    /// included).
    pub(crate) fn set_conf_state(&mut self, cs: &ConfState, index: u64) -> Result<(), Error> {
        let b = cs.write_to_bytes().map_err(pb_err)?;
        self.write(|tx| {
            let mut m = tx.open_table(META)?;
            m.insert(KEY_CS, b.as_slice())?;
            m.insert(KEY_CS_INDEX, index.to_be_bytes().as_slice())?;
            Ok(())
        })?;
        self.cs = cs.clone();
        self.cs_index = index;
        Ok(())
    }

    /// The last log index whose membership change the stored membership includes. A
    /// node restarts with the stored membership and replays the log from its snapshot;
    /// applying those changes again would walk the membership through states it is no
    /// longer in (after a forced single voter, a configuration with this node alone,
    /// where it would elect itself).
    pub(crate) fn conf_index(&self) -> u64 {
        self.cs_index
    }

    /// Replaces the whole log with a snapshot received from the leader.
    pub(crate) fn apply_snapshot(&mut self, snap: &Snapshot) -> Result<(), Error> {
        let meta = snap.get_metadata();
        if meta.index <= self.snap_meta.index {
            return Ok(());
        }
        let mut hs = self.hs.clone();
        hs.term = hs.term.max(meta.term);
        hs.commit = meta.index;
        let snap_b = snap.write_to_bytes().map_err(pb_err)?;
        let hs_b = hs.write_to_bytes().map_err(pb_err)?;
        let cs_b = meta.get_conf_state().write_to_bytes().map_err(pb_err)?;
        self.write(|tx| {
            let mut log = tx.open_table(LOG)?;
            log.retain(|_, _| false)?;
            let mut m = tx.open_table(META)?;
            m.insert(KEY_SNAP, snap_b.as_slice())?;
            m.insert(KEY_HS, hs_b.as_slice())?;
            m.insert(KEY_CS, cs_b.as_slice())?;
            m.insert(KEY_CS_INDEX, meta.index.to_be_bytes().as_slice())?;
            Ok(())
        })?;
        self.deleted_since_compaction += self.last.saturating_sub(self.first) + 1;
        self.hs = hs;
        self.cs = meta.get_conf_state().clone();
        self.cs_index = meta.index;
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
        let snap_b = snap.write_to_bytes().map_err(pb_err)?;
        self.write(|tx| {
            tx.open_table(META)?.insert(KEY_SNAP, snap_b.as_slice())?;
            tx.open_table(LOG)?.retain_in(..=index, |_, _| false)?;
            Ok(())
        })?;
        self.deleted_since_compaction += index + 1 - self.first;
        self.snap_meta = snap.take_metadata();
        self.first = index + 1;
        Ok(())
    }

    /// Makes everything written so far durable (fsync), as one atomic step.
    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        let mut tx = self.db.begin_write().map_err(db_err)?;
        // Immediate is redb's default durability; said here because it is the point.
        tx.set_durability(redb::Durability::Immediate)
            .map_err(db_err)?;
        // Two-phase commit (data fsynced before the header that points at it): the
        // newest commit is then always whole, and redb reports damage to it instead of
        // falling back to the commit before, which would silently forget what this
        // node acknowledged. Costs a second fsync per flush.
        tx.set_two_phase_commit(true);
        tx.commit().map_err(db_err)?;
        self.maybe_shrink()
    }

    /// After the log was compacted, moves redb's live pages to the start of the file
    /// and truncates the free space at its end: deleting entries frees pages for reuse
    /// but does not shrink the file.
    fn maybe_shrink(&mut self) -> Result<(), Error> {
        if self.deleted_since_compaction < SHRINK_AFTER_DELETED {
            return Ok(());
        }
        self.deleted_since_compaction = 0;
        let before = file_len(&self.path);
        self.db
            .compact(redb::CompactionMode::Balanced)
            .map_err(db_err)?;
        tracing::debug!(path = %self.path.display(), before, after = file_len(&self.path), "raft store file compacted");
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

/// Deleted log entries after which the file is compacted (at the next flush).
const SHRINK_AFTER_DELETED: u64 = 500;

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// A data dir that holds a sled store (hactl before the move to redb) and no redb file
/// would otherwise be taken for a fresh node, which would found a new cluster.
fn refuse_old_sled_store(dir: &Path, path: &Path) -> Result<(), Error> {
    if !path.exists() && dir.join("conf").exists() && dir.join("db").exists() {
        return Err(Error::Storage(format!(
            "{} holds a Raft store in the old sled format, which this hactl does not read; \
             remove the directory and add this node to the cluster again",
            dir.display()
        )));
    }
    Ok(())
}

/// Reads everything at open (the store is small: a snapshot and at most
/// `compact_after` entries). Creates the tables of a new file.
fn load(db: &redb::Database) -> Result<Loaded, Error> {
    let tx = db.begin_write().map_err(db_err)?;
    let loaded = {
        let meta = tx.open_table(META).map_err(db_err)?;
        let log = tx.open_table(LOG).map_err(db_err)?;
        let get = |k: &str| -> Result<Option<Vec<u8>>, Error> {
            Ok(meta.get(k).map_err(db_err)?.map(|v| v.value().to_vec()))
        };
        let pb = |what: &'static str| {
            move |e: protobuf::ProtobufError| Error::Storage(format!("{what} does not decode: {e}"))
        };
        let hs = get(KEY_HS)?
            .map(|b| HardState::parse_from_bytes(&b).map_err(pb("hard state")))
            .transpose()?;
        let cs = get(KEY_CS)?
            .map(|b| ConfState::parse_from_bytes(&b).map_err(pb("conf state")))
            .transpose()?;
        let cs_index = match get(KEY_CS_INDEX)? {
            None => 0,
            Some(b) => u64::from_be_bytes(b.as_slice().try_into().map_err(|_| {
                Error::Storage(format!("conf state index has {} bytes, not 8", b.len()))
            })?),
        };
        let snap_meta = get(KEY_SNAP)?
            .map(|b| Snapshot::parse_from_bytes(&b).map_err(pb("snapshot")))
            .transpose()?
            .map(|mut s| s.take_metadata());
        let mut entries = Vec::new();
        for item in log.iter().map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            let e = Entry::parse_from_bytes(v.value()).map_err(pb("log entry"))?;
            entries.push((k.value(), e));
        }
        Loaded {
            hs,
            cs,
            cs_index,
            snap_meta,
            log: entries,
        }
    };
    tx.commit().map_err(db_err)?;
    Ok(loaded)
}

/// The Raft log's own invariants, and its agreement with the hard state and the
/// snapshot. A store that lost its tail (a truncated file rolled back by a repair)
/// or holds altered entries breaks one of these; starting from it could undo
/// committed changes, so the node refuses to.
fn check_invariants(l: &Loaded) -> Result<(), String> {
    if l.is_fresh() {
        return Ok(());
    }
    let hs =
        l.hs.as_ref()
            .ok_or("the hard state is missing but other Raft state is present")?;
    let snap = l.snap_meta.clone().unwrap_or_default();
    let mut expect = snap.index + 1;
    let mut prev_term = snap.term;
    for (k, e) in &l.log {
        if *k != e.index {
            return Err(format!("log key {k} holds the entry for index {}", e.index));
        }
        if *k != expect {
            return Err(format!(
                "log is not contiguous: expected index {expect} (snapshot at {}), found {k}",
                snap.index
            ));
        }
        if e.term < prev_term {
            return Err(format!(
                "log term goes back at index {k}: {} after {prev_term}",
                e.term
            ));
        }
        expect += 1;
        prev_term = e.term;
    }
    let last = expect - 1;
    if hs.commit > last {
        return Err(format!(
            "the hard state says index {} is committed but the log ends at {last}: \
             committed entries are missing",
            hs.commit
        ));
    }
    if hs.commit < snap.index {
        return Err(format!(
            "the snapshot is at index {} but the hard state's commit is {}",
            snap.index, hs.commit
        ));
    }
    if prev_term > hs.term {
        return Err(format!(
            "log term {prev_term} is newer than the hard state's term {}",
            hs.term
        ));
    }
    if l.snap_meta.is_some() && snap.get_conf_state().voters.is_empty() {
        return Err("the snapshot has no voters".into());
    }
    Ok(())
}

fn db_err(e: impl Into<redb::Error>) -> Error {
    Error::Storage(e.into().to_string())
}

fn pb_err(e: protobuf::ProtobufError) -> Error {
    Error::Storage(format!("encoding: {e}"))
}

impl raft::Storage for Storage {
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
        let tx = self.db.begin_read().map_err(store_err)?;
        let log = tx.open_table(LOG).map_err(store_err)?;
        for item in log.range(low..high).map_err(store_err)? {
            let (_, v) = item.map_err(store_err)?;
            let e = Entry::parse_from_bytes(v.value()).map_err(store_err)?;
            size += v.value().len() as u64;
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
        let tx = self.db.begin_read().map_err(store_err)?;
        let log = tx.open_table(LOG).map_err(store_err)?;
        let bytes = log.get(idx).map_err(store_err)?.map(|v| v.value().to_vec());
        match bytes {
            Some(b) => Ok(Entry::parse_from_bytes(&b).map_err(store_err)?.term),
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
        match self.read_meta(KEY_SNAP).map_err(store_err)? {
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
            let mut s = Storage::open(dir.path(), &[1, 2, 3], b"{}").unwrap();
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
        let s = Storage::open(dir.path(), &[9], b"{}").unwrap();
        assert_eq!(s.conf_state().voters, vec![1, 2, 3]);
        assert_eq!((s.first_index(), s.last_index()), (11, 13));
        assert_eq!(s.hard_state().commit, 11);
        assert_eq!(s.snapshot_data().unwrap().as_deref(), Some(&b"cib"[..]));
        assert_eq!(s.snapshot(0, 2).unwrap().get_metadata().index, 10);
    }

    #[test]
    fn snapshot_from_leader_replaces_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Storage::open(dir.path(), &[], b"{}").unwrap();
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

    /// A store with a founding snapshot, entries 6..=40 in many flushes (as a running
    /// node writes them) and the commit at 40; closed cleanly.
    fn written_store(dir: &Path) -> PathBuf {
        written_store_open(dir).path.clone()
    }

    /// The same, still open (so the file is what a crash right now would leave).
    fn written_store_open(dir: &Path) -> Storage {
        let mut s = Storage::open(dir, &[1, 2, 3], b"{}").unwrap();
        for i in 6..=40 {
            s.append(&[ent(i, 6)]).unwrap();
            s.set_hard_state(&HardState {
                term: 6,
                vote: 1,
                commit: i,
                ..Default::default()
            })
            .unwrap();
            s.flush().unwrap();
        }
        s
    }

    fn assert_damaged(dir: &Path, what: &str) -> String {
        match Storage::open(dir, &[1, 2, 3], b"{}") {
            Err(e @ Error::Damaged { .. }) => e.to_string(),
            Err(e) => panic!("{what}: refused, but not as damage: {e}"),
            Ok(s) => panic!(
                "{what}: opened as if intact (log {}..={}, commit {})",
                s.first, s.last, s.hs.commit
            ),
        }
    }

    #[test]
    fn truncated_store_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = written_store(dir.path());
        let len = std::fs::metadata(&path).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 4096).unwrap();
        drop(f);
        let msg = assert_damaged(dir.path(), "file truncated by 4 KiB");
        assert!(
            msg.contains("raft.redb") && msg.contains("Refusing to start"),
            "{msg}"
        );
    }

    /// Flips a bit in every copy of entry `n`'s data (ten bytes of `n`, as
    /// `written_store` writes it) in a store file's bytes.
    fn flip_a_bit_in_entry(bytes: &mut [u8], n: u8) {
        let needle = [n; 10];
        let at: Vec<usize> = bytes
            .windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == needle)
            .map(|(i, _)| i)
            .collect();
        assert!(!at.is_empty(), "entry {n} not found in the file");
        for i in at {
            bytes[i + 3] ^= 0x10;
        }
    }

    #[test]
    fn flipped_bytes_in_a_committed_entry_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = written_store(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        // Entry 23's data is ten bytes of 23: flip a bit in every copy of it.
        flip_a_bit_in_entry(&mut bytes, 23);
        std::fs::write(&path, bytes).unwrap();
        assert_damaged(dir.path(), "a bit flipped in entry 23");
    }

    #[test]
    fn damage_to_the_newest_commit_is_refused_not_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        // The file as a crash right after the last flush leaves it: entry 40 is only
        // in the newest commit. Rolling back to the commit before it would give a
        // consistent store (log and commit at 39) that forgot entry 40, which this node
        // acknowledged to the leader.
        let s = written_store_open(dir.path());
        let path = s.path.clone();
        let mut bytes = std::fs::read(&path).unwrap();
        drop(s);
        flip_a_bit_in_entry(&mut bytes, 40);
        std::fs::write(&path, bytes).unwrap();
        assert_damaged(dir.path(), "a bit flipped in the newest commit");
    }

    #[test]
    fn log_shorter_than_the_commit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = written_store(dir.path());
        // A consistent, checksummed file that lost its last 8 entries but kept the
        // hard state (the commit at 40): the node must not start and forget them.
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(LOG)
            .unwrap()
            .retain_in(33.., |_, _| false)
            .unwrap();
        tx.commit().unwrap();
        drop(db);
        let msg = assert_damaged(dir.path(), "log ends at 32, commit 40");
        assert!(msg.contains("committed entries are missing"), "{msg}");
    }

    #[test]
    fn a_store_from_before_redb_is_refused_not_refounded() {
        let dir = tempfile::tempdir().unwrap();
        // What sled 0.34 leaves in a data dir.
        std::fs::write(dir.path().join("conf"), b"segment_size: 524288").unwrap();
        std::fs::write(dir.path().join("db"), b"sled").unwrap();
        match Storage::open(dir.path(), &[1, 2, 3], b"{}") {
            Err(Error::Storage(m)) => assert!(m.contains("old sled format"), "{m}"),
            Err(e) => panic!("refused for another reason: {e}"),
            Ok(_) => panic!("a sled store was taken for a fresh one"),
        }
        assert!(!dir.path().join(DB_FILE).exists());
    }

    #[test]
    fn gap_in_the_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = written_store(dir.path());
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(LOG).unwrap().remove(20).unwrap();
        tx.commit().unwrap();
        drop(db);
        let msg = assert_damaged(dir.path(), "entry 20 missing");
        assert!(msg.contains("not contiguous"), "{msg}");
    }
}
