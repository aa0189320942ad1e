//! OCF exit codes (also used for the systemd and LSB classes after mapping) and
//! Pacemaker's names for them.

pub const SUCCESS: i32 = 0;
pub const ERR_GENERIC: i32 = 1;
pub const ERR_ARGS: i32 = 2;
pub const ERR_UNIMPLEMENTED: i32 = 3;
pub const ERR_PERM: i32 = 4;
pub const ERR_INSTALLED: i32 = 5;
pub const ERR_CONFIGURED: i32 = 6;
pub const NOT_RUNNING: i32 = 7;
pub const RUNNING_PROMOTED: i32 = 8;
pub const FAILED_PROMOTED: i32 = 9;

/// Pacemaker's name for an rc.
pub fn name(rc: i32) -> &'static str {
    match rc {
        SUCCESS => "ok",
        ERR_GENERIC => "error",
        ERR_ARGS => "invalid parameter",
        ERR_UNIMPLEMENTED => "unimplemented feature",
        ERR_PERM => "insufficient privileges",
        ERR_INSTALLED => "not installed",
        ERR_CONFIGURED => "not configured",
        NOT_RUNNING => "not running",
        RUNNING_PROMOTED => "promoted",
        FAILED_PROMOTED => "promoted (failed)",
        _ => "unknown",
    }
}

/// Maps a raw agent exit code the way Pacemaker does: 0–9 keep their meaning,
/// anything else is a generic error.
pub fn from_exit(code: i32) -> i32 {
    if (0..=9).contains(&code) {
        code
    } else {
        ERR_GENERIC
    }
}
