//! `hactl cluster start --force-alone`: the CLI leaves a marker in the daemon's state
//! directory, and the two-node loop of the daemon (running, or started next) consumes
//! it: the operator says the peer is off.

use std::path::Path;

/// The marker's name in the state directory.
pub const FILE: &str = "force-alone";

/// Leaves the marker (creating the state directory if needed).
pub fn request(state_dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(state_dir)?;
    std::fs::write(state_dir.join(FILE), b"")
}

/// Consumes the marker; true if it was there.
pub fn take(state_dir: &Path) -> std::io::Result<bool> {
    match std::fs::remove_file(state_dir.join(FILE)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_marker_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        assert!(!super::take(&state).unwrap());
        super::request(&state).unwrap();
        assert!(super::take(&state).unwrap());
        assert!(!super::take(&state).unwrap());
    }
}
