//! Lab nodes as separate hosts: besides its network namespace, each node gets its
//! own mount namespace with empty, private `/run`, `/tmp` (and `/var/run` when it is
//! not a link to `/run`) and `/var/lib/heartbeat`, and a `/sys` that shows its own
//! interfaces. Agents' state and pid files (`/run/Dummy-<id>.state`,
//! `/run/resource-agents`, `/var/run/*.pid`) are then per node, as on real machines.
//!
//! The namespaces are held by one long-lived process per node (the "host", running
//! `sleep infinity`); everything started on the node with [`command`] enters that
//! process's namespaces, so a daemon restarted by hand finds the same `/run` its
//! predecessor left (its agents' state files, the resources still running). Killing
//! every process of the node kills the host too: the next [`boot`] gives it fresh,
//! empty directories, as a machine that rebooted.
//!
//! Paths the caller names as `keep` (the lab's config, state and socket
//! directories, which may lie under `/run` or `/tmp`) stay visible in the node: the
//! host's view of them is cloned before the private directories cover them.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::LabError;

/// Where the hosts' pid files live (the host machine's `/run`, which nodes do not see).
const PID_DIR: &str = "/run/hactl-lab";

// From <linux/mount.h> (kept here: not every libc build exports them).
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

fn io_err(what: String) -> impl FnOnce(io::Error) -> LabError {
    move |source| LabError::Io { what, source }
}

fn pid_file(ns: &str) -> PathBuf {
    Path::new(PID_DIR).join(format!("{ns}.pid"))
}

fn cstr(p: &Path) -> Result<CString, LabError> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| LabError::Invalid(format!("path {} contains a NUL byte", p.display())))
}

/// The pid of node `ns`'s host, if it runs (checked: the process is in that
/// network namespace, so a reused pid is not mistaken for it).
pub fn holder(ns: &str) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_file(ns))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let want = std::fs::metadata(Path::new("/run/netns").join(ns)).ok()?;
    let have = std::fs::metadata(format!("/proc/{pid}/ns/net")).ok()?;
    (want.dev() == have.dev() && want.ino() == have.ino()).then_some(pid)
}

/// Removes the pid file of node `ns`'s host (after its namespace was destroyed).
pub(crate) fn forget(ns: &str) {
    if let Err(e) = std::fs::remove_file(pid_file(ns)) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!(ns, error = %e, "cannot remove the lab host's pid file");
        }
    }
}

/// What the host's private directories are: (mount point, tmpfs mode, directories
/// to recreate inside).
fn private_dirs() -> Vec<(PathBuf, &'static str, Vec<PathBuf>)> {
    let mut v = vec![
        (
            PathBuf::from("/run"),
            "mode=0755",
            vec!["/run/resource-agents".into(), "/run/lock".into()],
        ),
        (PathBuf::from("/tmp"), "mode=1777", vec![]),
    ];
    let var_run = Path::new("/var/run");
    if var_run.is_dir() && !var_run.is_symlink() {
        v.push((
            var_run.into(),
            "mode=0755",
            vec!["/var/run/resource-agents".into()],
        ));
    }
    // The agents' HA_VARLIB: keep its layout (cores, lrm, …), not its contents.
    let varlib = Path::new("/var/lib/heartbeat");
    if varlib.is_dir() {
        let subdirs = std::fs::read_dir(varlib)
            .map(|it| {
                it.filter_map(|e| e.ok())
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        v.push((varlib.into(), "mode=0755", subdirs));
    }
    v
}

/// Every ancestor of `p` and `p` itself, shortest first (for `mkdir -p`).
fn with_ancestors(p: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = p
        .ancestors()
        .filter(|a| a.parent().is_some())
        .map(Path::to_path_buf)
        .collect();
    v.reverse();
    v
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn mkdir_ok(p: &CString) -> io::Result<()> {
    // SAFETY: a valid NUL-terminated path; mkdir(2) has no other preconditions.
    if unsafe { libc::mkdir(p.as_ptr(), 0o755) } < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(e);
        }
    }
    Ok(())
}

/// Everything the host's child needs, made before fork (the child may not allocate).
struct Setup {
    netns: File,
    keep: Vec<(CString, Vec<CString>)>,
    private: Vec<(CString, CString, Vec<CString>)>,
    tree_fds: Vec<RawFd>,
}

impl Setup {
    fn new(ns: &str, keep: &[PathBuf]) -> Result<Setup, LabError> {
        let path = Path::new("/run/netns").join(ns);
        let netns = File::open(&path).map_err(io_err(format!("opening {}", path.display())))?;
        let keep = keep
            .iter()
            .map(|k| {
                let dirs = with_ancestors(k)
                    .iter()
                    .map(|a| cstr(a))
                    .collect::<Result<_, _>>()?;
                Ok((cstr(k)?, dirs))
            })
            .collect::<Result<Vec<_>, LabError>>()?;
        let private = private_dirs()
            .into_iter()
            .map(|(dir, mode, inner)| {
                let inner = inner.iter().map(|d| cstr(d)).collect::<Result<_, _>>()?;
                let opts = CString::new(mode)
                    .map_err(|_| LabError::Invalid(format!("tmpfs options {mode:?}")))?;
                Ok((cstr(&dir)?, opts, inner))
            })
            .collect::<Result<Vec<_>, LabError>>()?;
        let tree_fds = Vec::with_capacity(keep.len());
        Ok(Setup {
            netns,
            keep,
            private,
            tree_fds,
        })
    }

    /// Runs in the forked child: enter the node's network, make a private mount
    /// namespace, cover the private directories, bring the kept paths back.
    fn apply(&mut self) -> io::Result<()> {
        // SAFETY (whole function): raw syscalls on NUL-terminated strings made before
        // fork and on file descriptors this child owns; nothing allocates.
        unsafe {
            check(libc::setns(self.netns.as_raw_fd(), libc::CLONE_NEWNET))?;
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(
                c"none".as_ptr(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            // Clone the kept paths while they still show the host's files.
            self.tree_fds.clear();
            for (k, _) in &self.keep {
                let flags = OPEN_TREE_CLONE
                    | libc::O_CLOEXEC as libc::c_uint
                    | libc::AT_RECURSIVE as libc::c_uint;
                let fd = libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, k.as_ptr(), flags);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                self.tree_fds.push(fd as RawFd);
            }
            for (dir, opts, inner) in &self.private {
                check(libc::mount(
                    c"hactl-lab".as_ptr(),
                    dir.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    opts.as_ptr().cast(),
                ))?;
                for d in inner {
                    mkdir_ok(d)?;
                }
            }
            // /sys as this network namespace sees it (what `ip netns exec` does).
            check(libc::umount2(c"/sys".as_ptr(), libc::MNT_DETACH))?;
            check(libc::mount(
                c"sysfs".as_ptr(),
                c"/sys".as_ptr(),
                c"sysfs".as_ptr(),
                0,
                std::ptr::null(),
            ))?;
            for (i, (k, dirs)) in self.keep.iter().enumerate() {
                for d in dirs {
                    mkdir_ok(d)?;
                }
                let r = libc::syscall(
                    libc::SYS_move_mount,
                    self.tree_fds[i],
                    c"".as_ptr(),
                    libc::AT_FDCWD,
                    k.as_ptr(),
                    MOVE_MOUNT_F_EMPTY_PATH,
                );
                if r < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }
}

/// Starts node `ns`'s host unless it runs already; returns its pid. `keep`: absolute
/// host paths that stay visible in the node (used only when a new host starts).
pub fn boot(ns: &str, keep: &[PathBuf]) -> Result<u32, LabError> {
    crate::require_root("starting a lab host")?;
    if let Some(pid) = holder(ns) {
        return Ok(pid);
    }
    if let Some(k) = keep.iter().find(|k| !k.is_absolute() || !k.is_dir()) {
        return Err(LabError::Invalid(format!(
            "kept path {} must be an existing absolute directory",
            k.display()
        )));
    }
    let mut setup = Setup::new(ns, keep)?;
    let mut c = Command::new("sleep");
    c.arg("infinity")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: it outlives the command that booted it and its ^C.
        .process_group(0);
    // SAFETY: the closure only makes syscalls on data prepared before fork.
    unsafe {
        c.pre_exec(move || setup.apply());
    }
    let child = c
        .spawn()
        .map_err(io_err(format!("starting the host of lab node {ns}")))?;
    let pid = child.id();
    std::fs::create_dir_all(PID_DIR).map_err(io_err(format!("creating {PID_DIR}")))?;
    std::fs::write(pid_file(ns), format!("{pid}\n"))
        .map_err(io_err(format!("writing {}", pid_file(ns).display())))?;
    tracing::debug!(ns, pid, "lab host started");
    Ok(pid)
}

/// A command that runs `program` on node `ns`: in its host's network and mount
/// namespaces (see [`boot`]). Fails when the host does not run.
pub fn command(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Result<Command, LabError> {
    let pid = holder(ns)
        .ok_or_else(|| LabError::Invalid(format!("lab node {ns} is not running (no host)")))?;
    let open = |kind: &str| {
        let p = format!("/proc/{pid}/ns/{kind}");
        File::open(&p).map_err(io_err(format!("opening {p}")))
    };
    let (net, mnt) = (open("net")?, open("mnt")?);
    let mut c = Command::new(program);
    // SAFETY: setns(2) and chdir(2) on descriptors and a string made before fork.
    unsafe {
        c.pre_exec(move || {
            check(libc::setns(net.as_raw_fd(), libc::CLONE_NEWNET))?;
            check(libc::setns(mnt.as_raw_fd(), libc::CLONE_NEWNS))?;
            check(libc::chdir(c"/".as_ptr()))
        });
    }
    Ok(c)
}

/// Stops node `ns`'s host (its namespaces go when the last process in them exits).
pub fn power_off(ns: &str) {
    if let Some(pid) = holder(ns) {
        // SAFETY: kill(2) of a pid checked to be this node's host just now.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
    }
    forget(ns);
}
