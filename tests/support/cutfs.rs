//! A file system that can lose power: a FUSE file system, held in memory, that keeps every
//! write since its file's last `fsync` apart and drops it on a *cut* — what an SD card behind
//! the kernel's page cache keeps when the power goes, and what a SIGKILL does not show (a
//! killed process leaves its writes in the page cache, which the kernel writes out anyway).
//!
//! Why FUSE (`fuser`, no libfuse: as root it mounts with mount(2) itself), not a `qemu-system`
//! guest killed without shutdown: the cut lands at an instant the test chooses, hundreds of
//! times in a few minutes, and what was lost is known exactly; a guest needs a kernel and an
//! image built for it, boots for seconds per cut, and loses whatever its virtual disk's cache
//! mode happens to lose. It is the approach of Jepsen's LazyFS.
//!
//! **What survives a cut** (the model, stated so a test's verdict can be read against it):
//! - a file's *data* only as of its last `fsync` / `fdatasync` (writes, truncations and
//!   growth after it are lost: a file appended to and never synced comes back short, or
//!   empty — as ext4's delayed allocation leaves it);
//! - *names* (create, unlink, rename, mkdir) as of the last `fsync` or `fsyncdir` of anything
//!   on the file system — a journalling file system commits its whole running transaction on
//!   any fsync, which is what ext4 in its default `data=ordered` mode does. A name created
//!   and never followed by any sync is lost, whatever its data.
//!
//! Cutting needs the file system unmounted (the kernel's own caches of it must go too):
//! [`CutFs::cut`] unmounts, drops what was not synced and mounts it again at the same path.
//! Whoever had files open there must be gone first (the daemon killed with SIGKILL).

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use fuser::{
    FileAttr, FileType, Filesystem, MountOption, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow,
};

/// Attributes and entries are never cached by the kernel for longer than this: the daemon is
/// the only writer, but a cut must not meet a stale size.
const TTL: Duration = Duration::from_secs(0);
const ROOT: u64 = fuser::FUSE_ROOT_ID;
/// The size this file system says it has (the daemon checks free space).
const CAPACITY_BYTES: u64 = 4 << 30;
const BLOCK: u64 = 4096;

/// One file or directory.
#[derive(Debug, Clone)]
struct Node {
    kind: FileType,
    perm: u16,
    mtime: SystemTime,
    /// A file's bytes as the running system sees them.
    data: Vec<u8>,
    /// A file's bytes as of its last fsync: what a cut leaves.
    durable: Vec<u8>,
    /// Byte ranges written (or zero-filled by growth) since the last fsync.
    dirty: Vec<(usize, usize)>,
    /// A directory's entries as the running system sees them.
    entries: BTreeMap<OsString, u64>,
}

impl Node {
    fn new(kind: FileType, perm: u16) -> Node {
        Node {
            kind,
            perm,
            mtime: SystemTime::now(),
            data: Vec::new(),
            durable: Vec::new(),
            dirty: Vec::new(),
            entries: BTreeMap::new(),
        }
    }

    /// Sets a file's length (a truncation or a growth, zero-filled): a change the next
    /// fsync makes durable.
    fn set_len(&mut self, len: usize) {
        let old = self.data.len();
        self.data.resize(len, 0);
        self.dirty.push((old.min(len), len));
        self.mtime = SystemTime::now();
    }

    /// Writes `bytes` at `at`, growing the file as needed.
    fn write_at(&mut self, at: usize, bytes: &[u8]) {
        let end = at + bytes.len();
        if end > self.data.len() {
            self.data.resize(end, 0);
        }
        self.data[at..end].copy_from_slice(bytes);
        self.dirty.push((at, end));
        self.mtime = SystemTime::now();
    }

    fn sync_data(&mut self) {
        let len = self.data.len();
        self.durable.resize(len, 0);
        for (start, end) in self.dirty.drain(..) {
            let (start, end) = (start.min(len), end.min(len));
            self.durable[start..end].copy_from_slice(&self.data[start..end]);
        }
    }
}

/// What a cut does and has done, for a test's report.
#[derive(Debug, Default, Clone, Copy)]
pub struct CutStats {
    /// Cuts so far.
    pub cuts: u64,
    /// File fsyncs and directory fsyncs seen.
    pub fsyncs: u64,
    /// Bytes written and never synced that the cuts dropped (counted as written: a byte
    /// written twice counts twice), over all cuts.
    pub dropped_bytes: u64,
    /// Names a cut dropped or brought back, over all cuts.
    pub dropped_names: u64,
}

/// The disk: every node, and the names as of the last journal commit.
#[derive(Debug)]
struct Disk {
    nodes: HashMap<u64, Node>,
    next_ino: u64,
    /// Every directory's entries as of the last fsync of anything.
    durable_names: HashMap<u64, BTreeMap<OsString, u64>>,
    stats: CutStats,
}

impl Disk {
    fn new() -> Disk {
        let mut nodes = HashMap::new();
        nodes.insert(ROOT, Node::new(FileType::Directory, 0o755));
        let mut durable_names = HashMap::new();
        durable_names.insert(ROOT, BTreeMap::new());
        Disk {
            nodes,
            next_ino: ROOT + 1,
            durable_names,
            stats: CutStats::default(),
        }
    }

    /// Any fsync commits the names (the journal).
    fn commit_names(&mut self) {
        self.durable_names = self
            .nodes
            .iter()
            .filter(|(_, n)| n.kind == FileType::Directory)
            .map(|(ino, n)| (*ino, n.entries.clone()))
            .collect();
    }

    /// The power goes: everything not synced is gone.
    fn cut(&mut self) {
        self.stats.cuts += 1;
        let mut dropped_names = 0u64;
        for (ino, node) in self.nodes.iter_mut() {
            match node.kind {
                FileType::Directory => {
                    let durable = self.durable_names.get(ino).cloned().unwrap_or_default();
                    dropped_names += node
                        .entries
                        .iter()
                        .filter(|(name, i)| durable.get(*name) != Some(i))
                        .count() as u64;
                    dropped_names += durable
                        .keys()
                        .filter(|name| !node.entries.contains_key(*name))
                        .count() as u64;
                    node.entries = durable;
                }
                _ => {
                    let lost = node.dirty.iter().map(|(s, e)| e - s).sum::<usize>();
                    self.stats.dropped_bytes += lost as u64;
                    node.data = node.durable.clone();
                    node.dirty.clear();
                }
            }
        }
        self.stats.dropped_names += dropped_names;
        // Nodes no durable name reaches are gone (never-synced creations, unlinked files).
        let mut reachable = vec![ROOT];
        let mut seen = std::collections::HashSet::from([ROOT]);
        while let Some(ino) = reachable.pop() {
            if let Some(node) = self.nodes.get(&ino) {
                for child in node.entries.values() {
                    if seen.insert(*child) {
                        reachable.push(*child);
                    }
                }
            }
        }
        self.nodes.retain(|ino, _| seen.contains(ino));
        self.commit_names();
    }

    fn attr(&self, ino: u64) -> Option<FileAttr> {
        let node = self.nodes.get(&ino)?;
        let size = match node.kind {
            FileType::Directory => BLOCK,
            _ => node.data.len() as u64,
        };
        Some(FileAttr {
            ino,
            size,
            blocks: size.div_ceil(512),
            atime: node.mtime,
            mtime: node.mtime,
            ctime: node.mtime,
            crtime: node.mtime,
            kind: node.kind,
            perm: node.perm,
            nlink: if node.kind == FileType::Directory {
                2
            } else {
                1
            },
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: BLOCK as u32,
            flags: 0,
        })
    }

    fn child(&self, parent: u64, name: &OsStr) -> Option<u64> {
        self.nodes.get(&parent)?.entries.get(name).copied()
    }

    /// Makes `name` in `parent`; its attributes.
    fn make(
        &mut self,
        parent: u64,
        name: &OsStr,
        kind: FileType,
        mode: u32,
    ) -> Result<FileAttr, i32> {
        let dir = self.nodes.get(&parent).ok_or(libc::ENOENT)?;
        if dir.kind != FileType::Directory {
            return Err(libc::ENOTDIR);
        }
        if dir.entries.contains_key(name) {
            return Err(libc::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes
            .insert(ino, Node::new(kind, (mode & 0o7777) as u16));
        self.nodes
            .get_mut(&parent)
            .expect("checked")
            .entries
            .insert(name.to_os_string(), ino);
        Ok(self.attr(ino).expect("made"))
    }

    fn used_bytes(&self) -> u64 {
        self.nodes.values().map(|n| n.data.len() as u64).sum()
    }
}

/// The file system as fuser serves it.
struct Served(Arc<Mutex<Disk>>);

impl Served {
    fn disk(&self) -> std::sync::MutexGuard<'_, Disk> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Filesystem for Served {
    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        let disk = self.disk();
        match disk.child(parent, name).and_then(|ino| disk.attr(ino)) {
            Some(attr) => reply.entry(&TTL, &attr, 0),
            None => reply.error(libc::ENOENT),
        }
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        match self.disk().attr(ino) {
            Some(attr) => reply.attr(&TTL, &attr),
            None => reply.error(libc::ENOENT),
        }
    }

    fn setattr(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<u64>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<u32>,
        reply: ReplyAttr,
    ) {
        let mut disk = self.disk();
        let Some(node) = disk.nodes.get_mut(&ino) else {
            return reply.error(libc::ENOENT);
        };
        if let Some(mode) = mode {
            node.perm = (mode & 0o7777) as u16;
        }
        if let Some(size) = size {
            node.set_len(size as usize);
        }
        let attr = disk.attr(ino).expect("exists");
        reply.attr(&TTL, &attr);
    }

    fn mkdir(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        match self.disk().make(parent, name, FileType::Directory, mode) {
            Ok(attr) => reply.entry(&TTL, &attr, 0),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        match self.disk().make(parent, name, FileType::RegularFile, mode) {
            Ok(attr) => reply.created(&TTL, &attr, 0, 0, 0),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEmpty) {
        let mut disk = self.disk();
        match disk
            .nodes
            .get_mut(&parent)
            .and_then(|d| d.entries.remove(name))
        {
            // The node stays until a cut: a durable name may still point at it.
            Some(_) => reply.ok(),
            None => reply.error(libc::ENOENT),
        }
    }

    fn rmdir(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEmpty) {
        let mut disk = self.disk();
        let Some(ino) = disk.child(parent, name) else {
            return reply.error(libc::ENOENT);
        };
        if disk.nodes.get(&ino).is_some_and(|n| !n.entries.is_empty()) {
            return reply.error(libc::ENOTEMPTY);
        }
        disk.nodes
            .get_mut(&parent)
            .expect("parent")
            .entries
            .remove(name);
        reply.ok();
    }

    fn rename(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: u32,
        reply: ReplyEmpty,
    ) {
        let mut disk = self.disk();
        let Some(ino) = disk.child(parent, name) else {
            return reply.error(libc::ENOENT);
        };
        if !disk.nodes.contains_key(&newparent) {
            return reply.error(libc::ENOENT);
        }
        if flags & libc::RENAME_NOREPLACE != 0 && disk.child(newparent, newname).is_some() {
            return reply.error(libc::EEXIST);
        }
        if flags & libc::RENAME_EXCHANGE != 0 {
            return reply.error(libc::EINVAL);
        }
        disk.nodes
            .get_mut(&parent)
            .expect("parent")
            .entries
            .remove(name);
        disk.nodes
            .get_mut(&newparent)
            .expect("checked")
            .entries
            .insert(newname.to_os_string(), ino);
        reply.ok();
    }

    fn open(&mut self, _req: &Request<'_>, ino: u64, _flags: i32, reply: ReplyOpen) {
        if self.disk().nodes.contains_key(&ino) {
            reply.opened(0, 0);
        } else {
            reply.error(libc::ENOENT);
        }
    }

    fn read(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        size: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyData,
    ) {
        let disk = self.disk();
        let Some(node) = disk.nodes.get(&ino) else {
            return reply.error(libc::ENOENT);
        };
        let start = (offset.max(0) as usize).min(node.data.len());
        let end = (start + size as usize).min(node.data.len());
        reply.data(&node.data[start..end]);
    }

    fn write(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        data: &[u8],
        _write_flags: u32,
        flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyWrite,
    ) {
        let mut disk = self.disk();
        let Some(len) = disk.nodes.get(&ino).map(|n| n.data.len()) else {
            return reply.error(libc::ENOENT);
        };
        let start = if flags & libc::O_APPEND != 0 {
            len
        } else {
            offset.max(0) as usize
        };
        // Only a write that grows the file can fill the card (summed only then).
        let growth = (start + data.len()).saturating_sub(len) as u64;
        if growth > 0 && disk.used_bytes() + growth > CAPACITY_BYTES {
            return reply.error(libc::ENOSPC);
        }
        disk.nodes
            .get_mut(&ino)
            .expect("checked")
            .write_at(start, data);
        reply.written(data.len() as u32);
    }

    fn flush(&mut self, _req: &Request<'_>, _ino: u64, _fh: u64, _lo: u64, reply: ReplyEmpty) {
        // close() is not a sync: nothing becomes durable here.
        reply.ok();
    }

    fn fsync(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut disk = self.disk();
        disk.stats.fsyncs += 1;
        if let Some(node) = disk.nodes.get_mut(&ino) {
            node.sync_data();
        }
        disk.commit_names();
        reply.ok();
    }

    fn fsyncdir(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        _fh: u64,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut disk = self.disk();
        disk.stats.fsyncs += 1;
        disk.commit_names();
        reply.ok();
    }

    fn readdir(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        mut reply: ReplyDirectory,
    ) {
        let disk = self.disk();
        let Some(dir) = disk.nodes.get(&ino) else {
            return reply.error(libc::ENOENT);
        };
        let mut all = vec![
            (ino, FileType::Directory, OsString::from(".")),
            (ROOT, FileType::Directory, OsString::from("..")),
        ];
        for (name, child) in &dir.entries {
            let kind = disk
                .nodes
                .get(child)
                .map_or(FileType::RegularFile, |n| n.kind);
            all.push((*child, kind, name.clone()));
        }
        for (i, (child, kind, name)) in all.into_iter().enumerate().skip(offset.max(0) as usize) {
            if reply.add(child, (i + 1) as i64, kind, &name) {
                break;
            }
        }
        reply.ok();
    }

    fn statfs(&mut self, _req: &Request<'_>, _ino: u64, reply: ReplyStatfs) {
        let disk = self.disk();
        let blocks = CAPACITY_BYTES / BLOCK;
        let free = blocks.saturating_sub(disk.used_bytes().div_ceil(BLOCK));
        reply.statfs(
            blocks,
            free,
            free,
            1 << 20,
            1 << 20,
            BLOCK as u32,
            255,
            BLOCK as u32,
        );
    }

    fn access(&mut self, _req: &Request<'_>, ino: u64, _mask: i32, reply: ReplyEmpty) {
        if self.disk().nodes.contains_key(&ino) {
            reply.ok();
        } else {
            reply.error(libc::ENOENT);
        }
    }

    fn fallocate(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        length: i64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        if mode != 0 {
            return reply.error(libc::EOPNOTSUPP);
        }
        let mut disk = self.disk();
        let Some(node) = disk.nodes.get_mut(&ino) else {
            return reply.error(libc::ENOENT);
        };
        let end = (offset + length).max(0) as usize;
        if end > node.data.len() {
            node.set_len(end);
        }
        reply.ok();
    }
}

/// A mounted file system that can lose power.
pub struct CutFs {
    disk: Arc<Mutex<Disk>>,
    path: PathBuf,
    session: Option<fuser::BackgroundSession>,
}

impl CutFs {
    /// An empty file system mounted at `path` (an existing, empty directory).
    pub fn mount(path: &Path) -> CutFs {
        let mut fs = CutFs {
            disk: Arc::new(Mutex::new(Disk::new())),
            path: path.to_path_buf(),
            session: None,
        };
        fs.mount_again();
        fs
    }

    fn mount_again(&mut self) {
        let options = [
            MountOption::FSName("tracegate-cutfs".into()),
            MountOption::RW,
            MountOption::NoAtime,
        ];
        let session = fuser::spawn_mount2(Served(self.disk.clone()), &self.path, &options)
            .unwrap_or_else(|e| {
                panic!(
                    "cannot mount the power-cut file system at {} ({e}): the power-cut tests \
                     need /dev/fuse and root (or fusermount3)",
                    self.path.display()
                )
            });
        self.session = Some(session);
    }

    /// The power goes and comes back: unmounts (whoever used it must be gone), drops every
    /// write and name not synced, mounts again.
    pub fn cut(&mut self) {
        if let Some(session) = self.session.take() {
            session.join();
        }
        self.disk.lock().unwrap_or_else(|e| e.into_inner()).cut();
        self.mount_again();
    }

    /// What the cuts dropped so far.
    pub fn stats(&self) -> CutStats {
        self.disk.lock().unwrap_or_else(|e| e.into_inner()).stats
    }
}

impl Drop for CutFs {
    fn drop(&mut self) {
        // Unmounted without waiting for the serving thread: a test that panicked may leave a
        // process holding a file here, and a join would hang the suite instead of failing it.
        drop(self.session.take());
    }
}

#[cfg(test)]
mod tests {
    //! The model, without a mount: what a cut keeps.
    use super::*;

    fn file(disk: &mut Disk, name: &str) -> u64 {
        disk.make(ROOT, OsStr::new(name), FileType::RegularFile, 0o644)
            .unwrap()
            .ino
    }

    fn write(disk: &mut Disk, ino: u64, at: usize, bytes: &[u8]) {
        disk.nodes.get_mut(&ino).unwrap().write_at(at, bytes);
    }

    fn fsync(disk: &mut Disk, ino: u64) {
        disk.nodes.get_mut(&ino).unwrap().sync_data();
        disk.commit_names();
    }

    fn data(disk: &Disk, name: &str) -> Option<Vec<u8>> {
        let ino = disk.child(ROOT, OsStr::new(name))?;
        Some(disk.nodes[&ino].data.clone())
    }

    #[test]
    fn a_write_survives_only_once_its_file_was_synced() {
        let mut disk = Disk::new();
        let a = file(&mut disk, "a");
        write(&mut disk, a, 0, b"synced");
        fsync(&mut disk, a);
        write(&mut disk, a, 6, b" and not");
        write(&mut disk, a, 0, b"S");
        disk.cut();
        assert_eq!(data(&disk, "a").unwrap(), b"synced");
        assert_eq!(disk.stats.dropped_bytes, 9);
    }

    #[test]
    fn another_files_sync_commits_names_but_not_this_files_data() {
        let mut disk = Disk::new();
        let seq = file(&mut disk, "outbox.db.seq");
        write(&mut disk, seq, 0, b"1000");
        let wal = file(&mut disk, "outbox.db-wal");
        write(&mut disk, wal, 0, b"frame");
        fsync(&mut disk, wal);
        disk.cut();
        // The mark's name is there (the journal committed it), its bytes are not: the empty
        // file a power cut leaves behind.
        assert_eq!(data(&disk, "outbox.db.seq").unwrap(), b"");
        assert_eq!(data(&disk, "outbox.db-wal").unwrap(), b"frame");
    }

    #[test]
    fn a_name_never_followed_by_a_sync_is_gone_and_an_unsynced_rename_undone() {
        let mut disk = Disk::new();
        let key = file(&mut disk, "gateway.key.tmp");
        write(&mut disk, key, 0, b"secret");
        fsync(&mut disk, key);
        // Renamed into place, the directory never synced, nothing synced after it.
        let name = disk
            .nodes
            .get_mut(&ROOT)
            .unwrap()
            .entries
            .remove(OsStr::new("gateway.key.tmp"))
            .unwrap();
        disk.nodes
            .get_mut(&ROOT)
            .unwrap()
            .entries
            .insert("gateway.key".into(), name);
        file(&mut disk, "never-synced");
        disk.cut();
        assert_eq!(data(&disk, "gateway.key.tmp").unwrap(), b"secret");
        assert!(data(&disk, "gateway.key").is_none());
        assert!(data(&disk, "never-synced").is_none());
        assert_eq!(disk.stats.dropped_names, 3);
        assert_eq!(disk.nodes.len(), 2, "the unreachable node is gone");
    }

    #[test]
    fn a_truncation_is_undone_unless_synced() {
        let mut disk = Disk::new();
        let a = file(&mut disk, "a");
        write(&mut disk, a, 0, b"0123456789");
        fsync(&mut disk, a);
        disk.nodes.get_mut(&a).unwrap().set_len(4);
        disk.cut();
        assert_eq!(data(&disk, "a").unwrap(), b"0123456789");
        disk.nodes.get_mut(&a).unwrap().set_len(4);
        fsync(&mut disk, a);
        disk.cut();
        assert_eq!(data(&disk, "a").unwrap(), b"0123");
    }
}
