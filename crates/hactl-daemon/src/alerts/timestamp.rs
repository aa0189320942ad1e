//! `timestamp-format` as Pacemaker reads it: strftime's conversions in local time,
//! plus `%N` (nanoseconds, `%3N`/`%06N`: that many leading digits, i.e.
//! milliseconds/microseconds). The common conversions are done here; others are
//! written as they are.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Broken-down local time of `secs` since the epoch.
fn local(secs: i64) -> Option<nix::libc::tm> {
    // time_t is i64 on every target the daemon runs on.
    let t: nix::libc::time_t = secs;
    // SAFETY: tm is plain old data (zeroes are a valid value); localtime_r reads
    // `t` and writes only into `tm`, both valid for the call, and is thread-safe.
    unsafe {
        let mut tm: nix::libc::tm = std::mem::zeroed();
        (!nix::libc::localtime_r(&t, &mut tm).is_null()).then_some(tm)
    }
}

/// Formats `at` with `fmt`.
pub fn format(fmt: &str, at: SystemTime) -> String {
    let d = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let nanos = d.subsec_nanos();
    let Some(tm) = local(secs) else {
        return secs.to_string();
    };
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // Optional flags/width before N (Pacemaker: %3N, %06N).
        let mut width = String::new();
        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
            width.push(d);
            chars.next();
        }
        let Some(conv) = chars.next() else {
            out.push('%');
            break;
        };
        conversion(&mut out, conv, &width, &tm, secs, nanos);
    }
    out
}

fn conversion(
    out: &mut String,
    conv: char,
    width: &str,
    tm: &nix::libc::tm,
    secs: i64,
    nanos: u32,
) {
    let _ = match conv {
        'Y' => write!(out, "{}", tm.tm_year + 1900),
        'y' => write!(out, "{:02}", (tm.tm_year + 1900) % 100),
        'm' => write!(out, "{:02}", tm.tm_mon + 1),
        'd' => write!(out, "{:02}", tm.tm_mday),
        'e' => write!(out, "{:2}", tm.tm_mday),
        'H' => write!(out, "{:02}", tm.tm_hour),
        'M' => write!(out, "{:02}", tm.tm_min),
        'S' => write!(out, "{:02}", tm.tm_sec),
        'j' => write!(out, "{:03}", tm.tm_yday + 1),
        's' => write!(out, "{secs}"),
        'z' => {
            let off = tm.tm_gmtoff / 60;
            let sign = if off < 0 { '-' } else { '+' };
            write!(out, "{sign}{:02}{:02}", off.abs() / 60, off.abs() % 60)
        }
        'N' => {
            let digits = width
                .trim_start_matches('0')
                .parse()
                .unwrap_or(9)
                .clamp(1, 9);
            let all = format!("{nanos:09}");
            write!(out, "{}", &all[..digits])
        }
        '%' => write!(out, "%"),
        other => write!(out, "%{width}{other}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pacemaker_default_and_nanoseconds() {
        let at = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let tm = local(1_700_000_000).unwrap();
        let hms = format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec);
        assert_eq!(format("%H:%M:%S.%06N", at), format!("{hms}.123456"));
        assert_eq!(
            format("%3N|%N|%s|%%|%Q", at),
            "123|123456789|1700000000|%|%Q"
        );
        assert_eq!(format("%Y-%m-%d", at).len(), 10);
    }
}
