//! The kernel's watchdog device (`/dev/watchdog`: hardware, or the `softdog` module
//! where there is none), configured in `cluster.toml`:
//!
//! ```toml
//! [settings]
//! watchdog = "/dev/watchdog"
//! watchdog_timeout = "5s"   # whole seconds; default 5 s (SBD's default)
//! ```
//!
//! The controller feeds it ([`hactl_controller::watchdog::feed`]) and stops feeding
//! to self-fence.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hactl_controller::watchdog::{Watchdog, WatchdogError};
use nix::libc::c_int;

/// SBD's default `SBD_WATCHDOG_TIMEOUT`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

// <linux/watchdog.h>: WDIOC_KEEPALIVE = _IOR('W', 5, int), WDIOC_SETTIMEOUT =
// _IOWR('W', 6, int).
nix::ioctl_read!(wdioc_keepalive, b'W', 5, c_int);
nix::ioctl_readwrite!(wdioc_settimeout, b'W', 6, c_int);

/// The watchdog settings of `cluster.toml`: `None` without `watchdog`.
pub fn from_settings(
    settings: &toml::Table,
) -> Result<Option<(PathBuf, Duration)>, crate::DaemonError> {
    let Some(path) = settings.get("watchdog") else {
        return Ok(None);
    };
    let bad = |what: String| crate::DaemonError::Config(what);
    let path = path
        .as_str()
        .ok_or_else(|| bad(format!("settings.watchdog must be a path, not {path}")))?;
    let timeout = match settings.get("watchdog_timeout") {
        None => DEFAULT_TIMEOUT,
        Some(v) => v
            .as_str()
            .and_then(hactl_model::values::parse_interval_ms)
            .map(Duration::from_millis)
            .ok_or_else(|| {
                bad(format!(
                    "settings.watchdog_timeout {v} is not a duration such as \"5s\""
                ))
            })?,
    };
    Ok(Some((PathBuf::from(path), timeout)))
}

/// An open, armed watchdog device.
pub struct DevWatchdog {
    file: File,
    path: String,
    timeout: Duration,
}

impl DevWatchdog {
    /// Opens (and so arms) the device and sets its timeout.
    pub fn open(path: &Path, timeout: Duration) -> Result<DevWatchdog, WatchdogError> {
        let shown = path.display().to_string();
        let secs = c_int::try_from(timeout.as_secs())
            .ok()
            .filter(|s| (1..=3600).contains(s) && timeout.subsec_nanos() == 0)
            .ok_or(WatchdogError::BadTimeout(timeout))?;
        let open_err = |source| WatchdogError::Open {
            path: shown.clone(),
            source,
        };
        // Checked before opening: opening a real device arms it.
        let meta = std::fs::metadata(path).map_err(open_err)?;
        if !meta.file_type().is_char_device() {
            return Err(open_err(std::io::Error::other("not a character device")));
        }
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(open_err)?;
        let mut wd = DevWatchdog {
            file,
            path: shown.clone(),
            timeout,
        };
        let mut set = secs;
        // SAFETY: the descriptor is open for the whole call and `set` is a live,
        // exclusively borrowed c_int, which is what WDIOC_SETTIMEOUT reads and writes.
        match unsafe { wdioc_settimeout(wd.file.as_raw_fd(), &mut set) } {
            // The driver may round: it wrote back what it set.
            Ok(_) => wd.timeout = Duration::from_secs(u64::try_from(set.max(1)).unwrap_or(1)),
            Err(e) => {
                // Already armed: disarm before giving up on it.
                if let Err(d) = Box::new(wd).disarm() {
                    tracing::warn!(path = %shown, error = %d, "watchdog not disarmed after a failed setup");
                }
                return Err(WatchdogError::SetTimeout {
                    path: shown,
                    secs,
                    source: e.into(),
                });
            }
        }
        Ok(wd)
    }
}

impl Watchdog for DevWatchdog {
    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn keepalive(&mut self) -> Result<(), WatchdogError> {
        let mut dummy: c_int = 0;
        // SAFETY: the descriptor is open for the whole call and `dummy` is a live,
        // exclusively borrowed c_int, which WDIOC_KEEPALIVE may write.
        unsafe { wdioc_keepalive(self.file.as_raw_fd(), &mut dummy) }
            .map(|_| ())
            .map_err(|e| WatchdogError::Keepalive(e.into()))
    }

    fn disarm(mut self: Box<Self>) -> Result<(), WatchdogError> {
        // The magic close: 'V', then close, stops the timer (unless the driver was
        // built with nowayout, which keeps it running on purpose).
        self.file
            .write_all(b"V")
            .and_then(|()| self.file.flush())
            .map_err(WatchdogError::Disarm)?;
        tracing::debug!(path = %self.path, "watchdog magic close");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No watchdog device exists on the machines these tests run on (and loading
    /// `softdog` would reset the machine on expiry), so only the refusals are tested
    /// here; the feeding and self-fencing logic is tested through the controller's
    /// observable watchdog (`hactl-controller/tests/runtime.rs`).
    #[test]
    fn refuses_what_is_not_a_watchdog() {
        let dir = std::env::temp_dir();
        let e = DevWatchdog::open(&dir.join("no-such-watchdog"), DEFAULT_TIMEOUT)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("no-such-watchdog"), "{e}");
        let f = tempfile_in(&dir);
        let e = DevWatchdog::open(&f, DEFAULT_TIMEOUT)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("not a character device"), "{e}");
        assert_eq!(
            std::fs::read(&f).map(|b| b.len()).ok(),
            Some(0),
            "left as it was"
        );
        let e = DevWatchdog::open(Path::new("/dev/null"), Duration::from_millis(1500))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("whole seconds"), "{e}");
        // /dev/null is a character device, but not a watchdog.
        let e = DevWatchdog::open(Path::new("/dev/null"), DEFAULT_TIMEOUT)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("setting its timeout"), "{e}");
    }

    fn tempfile_in(dir: &Path) -> PathBuf {
        let p = dir.join(format!("hactl-wd-test-{}", std::process::id()));
        std::fs::write(&p, b"").ok();
        p
    }

    #[test]
    fn settings_parse() {
        let t: toml::Table =
            toml::from_str("watchdog = \"/dev/watchdog\"\nwatchdog_timeout = \"10s\"")
                .unwrap_or_default();
        assert_eq!(
            from_settings(&t).ok().flatten(),
            Some((PathBuf::from("/dev/watchdog"), Duration::from_secs(10)))
        );
        let t: toml::Table = toml::from_str("watchdog = \"/dev/watchdog\"").unwrap_or_default();
        assert_eq!(
            from_settings(&t).ok().flatten().map(|(_, t)| t),
            Some(DEFAULT_TIMEOUT)
        );
        let t: toml::Table =
            toml::from_str("watchdog = \"/dev/watchdog\"\nwatchdog_timeout = \"soon\"")
                .unwrap_or_default();
        assert!(from_settings(&t).is_err());
        assert!(from_settings(&toml::Table::new()).ok().flatten().is_none());
    }
}
