//! A small FUSE filesystem that loses power: file contents written but not yet
//! fsynced are lost at [`PowerFail::power_off`], as on a machine whose power is cut
//! (the disk keeps only what an fsync made durable). It stands in for a real power
//! cut, which cannot be done to the test machine; everything above it (the kernel's
//! file API, redb, the consensus node) is real.
//!
//! Simplifications, said here so the test claims no more: directory entries (create,
//! mkdir, rename, unlink) are durable at once; only file contents can be lost. Files
//! are opened `direct_io`, so the kernel caches nothing and every read and write
//! reaches this filesystem. A capacity makes writes past it fail with ENOSPC (a full
//! disk).

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

enum Kind {
    Dir(BTreeMap<OsString, u64>),
    File {
        /// What the running system sees (the page cache, as it were).
        data: Vec<u8>,
        /// What an fsync last made durable: all that is left after a power cut.
        durable: Vec<u8>,
    },
}

struct State {
    inodes: HashMap<u64, Kind>,
    next: u64,
    powered: bool,
    /// Total bytes of file contents allowed; writes past it fail with ENOSPC.
    capacity: u64,
    fsyncs: u64,
}

impl State {
    fn used(&self) -> u64 {
        self.inodes
            .values()
            .map(|k| match k {
                Kind::File { data, .. } => data.len() as u64,
                Kind::Dir(_) => 0,
            })
            .sum()
    }

    fn attr(&self, ino: u64) -> Option<FileAttr> {
        let (kind, size, perm) = match self.inodes.get(&ino)? {
            Kind::Dir(_) => (FileType::Directory, 0, 0o755),
            Kind::File { data, .. } => (FileType::RegularFile, data.len() as u64, 0o644),
        };
        Some(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: SystemTime::UNIX_EPOCH,
            mtime: SystemTime::UNIX_EPOCH,
            ctime: SystemTime::UNIX_EPOCH,
            crtime: SystemTime::UNIX_EPOCH,
            kind,
            perm,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }

    fn dir(&mut self, ino: u64) -> Result<&mut BTreeMap<OsString, u64>, Errno> {
        match self.inodes.get_mut(&ino) {
            Some(Kind::Dir(d)) => Ok(d),
            Some(_) => Err(Errno::ENOTDIR),
            None => Err(Errno::ENOENT),
        }
    }

    fn file(&mut self, ino: u64) -> Result<&mut Vec<u8>, Errno> {
        match self.inodes.get_mut(&ino) {
            Some(Kind::File { data, .. }) => Ok(data),
            Some(_) => Err(Errno::EISDIR),
            None => Err(Errno::ENOENT),
        }
    }

    fn add(&mut self, parent: u64, name: &OsStr, kind: Kind) -> Result<FileAttr, Errno> {
        if self.dir(parent)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next;
        self.next += 1;
        self.inodes.insert(ino, kind);
        self.dir(parent)?.insert(name.to_owned(), ino);
        self.attr(ino).ok_or(Errno::EIO)
    }

    /// Sets a file's size; growth counts against the capacity.
    fn resize(&mut self, ino: u64, size: u64) -> Result<(), Errno> {
        let cur = self.file(ino)?.len() as u64;
        if size > cur && self.used() + (size - cur) > self.capacity {
            return Err(Errno::ENOSPC);
        }
        self.file(ino)?.resize(size as usize, 0);
        Ok(())
    }
}

/// The filesystem's state, shared between the mounted session and the test.
#[derive(Clone)]
pub struct PowerFail(Arc<Mutex<State>>);

/// No kernel caching of names or attributes: every lookup asks us.
const TTL: Duration = Duration::ZERO;

impl PowerFail {
    /// Mounts a new, empty filesystem at `at`; unmounted when the session is dropped.
    pub fn mount(at: &Path) -> std::io::Result<(PowerFail, fuser::BackgroundSession)> {
        let mut inodes = HashMap::new();
        inodes.insert(1, Kind::Dir(BTreeMap::new()));
        let fs = PowerFail(Arc::new(Mutex::new(State {
            inodes,
            next: 2,
            powered: true,
            capacity: u64::MAX,
            fsyncs: 0,
        })));
        let mut config = fuser::Config::default();
        config.mount_options = vec![fuser::MountOption::FSName("hactl-powerfail".into())];
        let session = fuser::spawn_mount(fs.clone(), at, &config)?;
        Ok((fs, session))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a bug in this file; the test fails.
        self.0.lock().expect("powerfail state")
    }

    /// Cuts the power: every file keeps only what its last fsync made durable, and
    /// every operation fails with EIO until [`PowerFail::power_on`].
    pub fn power_off(&self) {
        let mut s = self.state();
        s.powered = false;
        for k in s.inodes.values_mut() {
            if let Kind::File { data, durable } = k {
                *data = durable.clone();
            }
        }
    }

    pub fn power_on(&self) {
        self.state().powered = true;
    }

    /// Limits file contents to what they use now plus `free` bytes.
    pub fn set_free_space(&self, free: u64) {
        let mut s = self.state();
        s.capacity = s.used().saturating_add(free);
    }

    /// fsync calls received so far.
    pub fn fsyncs(&self) -> u64 {
        self.state().fsyncs
    }

    /// Runs `f` on the state if the power is on; EIO otherwise.
    fn with<T>(&self, f: impl FnOnce(&mut State) -> Result<T, Errno>) -> Result<T, Errno> {
        let mut s = self.state();
        if !s.powered {
            return Err(Errno::EIO);
        }
        f(&mut s)
    }
}

fn reply_entry(r: Result<FileAttr, Errno>, reply: ReplyEntry) {
    match r {
        Ok(a) => reply.entry(&TTL, &a, Generation(0)),
        Err(e) => reply.error(e),
    }
}

fn reply_empty(r: Result<(), Errno>, reply: ReplyEmpty) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

impl Filesystem for PowerFail {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        reply_entry(
            self.with(|s| {
                let ino = *s.dir(parent.0)?.get(name).ok_or(Errno::ENOENT)?;
                s.attr(ino).ok_or(Errno::ENOENT)
            }),
            reply,
        );
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.with(|s| s.attr(ino.0).ok_or(Errno::ENOENT)) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let r = self.with(|s| {
            if let Some(size) = size {
                s.resize(ino.0, size)?;
            }
            s.attr(ino.0).ok_or(Errno::ENOENT)
        });
        match r {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        reply_entry(
            self.with(|s| s.add(parent.0, name, Kind::Dir(BTreeMap::new()))),
            reply,
        );
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let file = Kind::File {
            data: Vec::new(),
            durable: Vec::new(),
        };
        match self.with(|s| s.add(parent.0, name, file)) {
            Ok(a) => reply.created(
                &TTL,
                &a,
                Generation(0),
                FileHandle(0),
                FopenFlags::FOPEN_DIRECT_IO,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.with(|s| s.file(ino.0).map(|_| ())) {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let r = self.with(|s| {
            let data = s.file(ino.0)?;
            let start = (offset as usize).min(data.len());
            let end = start.saturating_add(size as usize).min(data.len());
            Ok(data[start..end].to_vec())
        });
        match r {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let r = self.with(|s| {
            let end = offset + data.len() as u64;
            if end > s.file(ino.0)?.len() as u64 {
                s.resize(ino.0, end)?;
            }
            s.file(ino.0)?[offset as usize..end as usize].copy_from_slice(data);
            Ok(data.len() as u32)
        });
        match r {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close() makes nothing durable; only fsync does.
        reply.ok();
    }

    fn fsync(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _ds: bool, reply: ReplyEmpty) {
        let r = self.with(|s| {
            s.fsyncs += 1;
            if let Some(Kind::File { data, durable }) = s.inodes.get_mut(&ino.0) {
                *durable = data.clone();
            }
            Ok(())
        });
        reply_empty(r, reply);
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _ds: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(self.with(|_| Ok(())), reply);
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        _mode: i32,
        reply: ReplyEmpty,
    ) {
        let r = self.with(|s| {
            let end = offset + length;
            if end > s.file(ino.0)?.len() as u64 {
                s.resize(ino.0, end)?;
            }
            Ok(())
        });
        reply_empty(r, reply);
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let r = self.with(|s| {
            let names: Vec<(OsString, u64)> =
                s.dir(ino.0)?.iter().map(|(n, i)| (n.clone(), *i)).collect();
            Ok(names
                .into_iter()
                .map(|(n, i)| {
                    let kind = match s.inodes.get(&i) {
                        Some(Kind::Dir(_)) => FileType::Directory,
                        _ => FileType::RegularFile,
                    };
                    (n, i, kind)
                })
                .collect::<Vec<_>>())
        });
        match r {
            Ok(entries) => {
                for (k, (name, i, kind)) in entries.into_iter().enumerate().skip(offset as usize) {
                    if reply.add(INodeNo(i), k as u64 + 1, kind, name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let r = self.with(|s| {
            let ino = s.dir(parent.0)?.remove(name).ok_or(Errno::ENOENT)?;
            s.inodes.remove(&ino);
            Ok(())
        });
        reply_empty(r, reply);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let r = self.with(|s| {
            let ino = *s.dir(parent.0)?.get(name).ok_or(Errno::ENOENT)?;
            if !s.dir(ino)?.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
            s.dir(parent.0)?.remove(name);
            s.inodes.remove(&ino);
            Ok(())
        });
        reply_empty(r, reply);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        _flags: fuser::RenameFlags,
        reply: ReplyEmpty,
    ) {
        let r = self.with(|s| {
            let ino = s.dir(parent.0)?.remove(name).ok_or(Errno::ENOENT)?;
            if let Some(old) = s.dir(newparent.0)?.insert(newname.to_owned(), ino) {
                s.inodes.remove(&old);
            }
            Ok(())
        });
        reply_empty(r, reply);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let (used, cap) = {
            let s = self.state();
            (s.used(), s.capacity)
        };
        let free = cap.saturating_sub(used).min(1 << 40) / 4096;
        reply.statfs(
            free + used / 4096,
            free,
            free,
            1 << 20,
            1 << 20,
            4096,
            255,
            4096,
        );
    }
}
