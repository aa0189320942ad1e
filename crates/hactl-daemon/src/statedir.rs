//! The state directory holds the replicated CIB, fence devices' passwords included:
//! it is the daemon's own and private (0700, files 0600), however it was created.
//! A non-root user once read a fence password from a directory made with the
//! default umask (systemd's `StateDirectory=` was the only thing that set a mode).

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use crate::DaemonError;

/// Creates `dir` private, or makes an existing one private, with everything in it.
/// Files created later land inside a 0700 directory, unreachable to others.
pub(crate) fn make_private(dir: &Path) -> Result<(), DaemonError> {
    let io = |what: &str, p: &Path| {
        let what = format!("{what} {}", p.display());
        move |source| DaemonError::Io { what, source }
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("creating", dir))?;
    restrict(dir).map_err(io("making private", dir))
}

/// chmod 0700 on directories and 0600 on files, recursively; symbolic links are
/// not followed (a link in the state directory is not ours to change the target of).
fn restrict(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = if meta.is_dir() { 0o700 } else { 0o600 };
    if meta.permissions().mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            restrict(&entry?.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
    }

    #[test]
    fn new_and_existing_state_dirs_end_private() {
        let t = tempfile::tempdir().expect("tempdir");
        let fresh = t.path().join("var/lib/hactl");
        make_private(&fresh).expect("create");
        assert_eq!(mode(&fresh), 0o700);

        // As a default umask leaves them: a readable directory, database and log.
        let old = t.path().join("old");
        std::fs::create_dir_all(old.join("raft")).expect("mkdir");
        std::fs::write(old.join("raft/db"), "fence password").expect("write");
        for (p, m) in [(&old, 0o755), (&old.join("raft"), 0o755)] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod");
        }
        std::fs::set_permissions(old.join("raft/db"), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        make_private(&old).expect("tighten");
        assert_eq!(mode(&old), 0o700);
        assert_eq!(mode(&old.join("raft")), 0o700);
        assert_eq!(mode(&old.join("raft/db")), 0o600);
    }
}
