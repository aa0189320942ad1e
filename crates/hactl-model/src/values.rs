//! Small value types that the CIB spells as strings: booleans, intervals, roles,
//! on-fail policies, order kinds. Parsers accept what Pacemaker accepts.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::ModelError;

/// Pacemaker's boolean spellings: true/false, yes/no, on/off, y/n, 1/0.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" | "1" => Some(true),
        "false" | "no" | "off" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// The longest duration accepted anywhere (a year, ISO `P1Y`). Pacemaker keeps
/// intervals in 32 bits of milliseconds; we keep 64, but a timeout of 10^20 s is a
/// typo, and adding it to a clock wraps the deadline (a start then fails at once).
pub const MAX_DURATION_MS: u64 = 365 * 86_400_000;

/// Parses an interval into milliseconds; `None` for anything malformed, negative or
/// longer than [`MAX_DURATION_MS`].
///
/// Accepts a bare number (seconds, as Pacemaker does), a number with a unit
/// (`ms`, `msec`, `s`, `sec`, `m`, `min`, `h`, `hr`, `us`), and ISO 8601 durations
/// of the form `PT1H2M3S` / `P1D`.
pub fn parse_interval_ms(s: &str) -> Option<u64> {
    parse_unbounded_ms(s).filter(|ms| *ms <= MAX_DURATION_MS)
}

fn parse_unbounded_ms(s: &str) -> Option<u64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    if let Some(rest) = t.strip_prefix('P').or_else(|| t.strip_prefix('p')) {
        return parse_iso_duration_ms(rest);
    }
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return None;
    }
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1000.0,
        "ms" | "msec" | "msecs" => 1.0,
        "us" | "usec" | "usecs" => 0.001,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000.0,
        "d" | "day" | "days" => 86_400_000.0,
        _ => return None,
    };
    let v: f64 = num.parse().ok()?;
    let ms = (v * mult).round();
    // `as u64` saturates: anything that does not fit is refused rather than clamped.
    if !ms.is_finite() || ms < 0.0 || ms >= u64::MAX as f64 {
        return None;
    }
    Some(ms as u64)
}

fn parse_iso_duration_ms(rest: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut in_time = false;
    let mut num = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c {
            'T' | 't' => in_time = true,
            '0'..='9' => num.push(c),
            _ => {
                let v: u64 = num.parse().ok()?;
                num.clear();
                let ms = match (c.to_ascii_uppercase(), in_time) {
                    ('Y', false) => 365 * 86_400_000,
                    ('M', false) => 30 * 86_400_000,
                    ('W', false) => 7 * 86_400_000,
                    ('D', false) => 86_400_000,
                    // Pacemaker also reads hours and seconds before the `T`
                    // (`P40S`); only `M` needs it to mean minutes.
                    ('H', _) => 3_600_000,
                    ('M', true) => 60_000,
                    ('S', _) => 1000,
                    _ => return None,
                };
                total = total.checked_add(v.checked_mul(ms)?)?;
                any = true;
            }
        }
    }
    if !num.is_empty() || !any {
        return None;
    }
    Some(total)
}

/// Formats milliseconds the way an operator writes them (`30s`, `1500ms`, `0`).
pub fn format_interval_ms(ms: u64) -> String {
    if ms == 0 {
        "0".into()
    } else if ms.is_multiple_of(60_000) && ms >= 60_000 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($var:ident => $($s:literal)|+),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub enum $name { $($var),+ }

        impl $name {
            /// Every accepted spelling, first one canonical.
            pub const NAMES: &'static [&'static str] = &[$($($s),+),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => [$($s),+][0]),+ }
            }
        }
        impl FromStr for $name {
            type Err = ModelError;
            fn from_str(s: &str) -> Result<Self, ModelError> {
                let l = s.trim().to_ascii_lowercase();
                $( if [$($s),+].iter().any(|x| x.eq_ignore_ascii_case(&l)) { return Ok($name::$var); } )+
                Err(ModelError::BadValue {
                    what: stringify!($name),
                    value: s.to_string(),
                    expected: [$($($s),+),+].join(", "),
                })
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl TryFrom<String> for $name {
            type Error = ModelError;
            fn try_from(s: String) -> Result<Self, ModelError> { s.parse() }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String { v.as_str().to_string() }
        }
    };
}

string_enum!(
    /// The kind of an alert's event (`CRM_alert_kind`, an alert's `select_kind`).
    AlertKind {
        Node => "node",
        Fencing => "fencing",
        Resource => "resource",
        Attribute => "attribute",
    }
);

string_enum!(
    /// A resource role (`Unpromoted`/`Promoted` for promotable clones; the old
    /// spellings `Slave`/`Master` parse too).
    Role {
        Stopped => "Stopped",
        Started => "Started",
        Unpromoted => "Unpromoted" | "Slave",
        Promoted => "Promoted" | "Master",
    }
);

string_enum!(
    /// What happens to a resource that needs a ticket when the ticket is revoked
    /// (`rsc_ticket`'s `loss-policy`).
    LossPolicy {
        Stop => "stop",
        Demote => "demote",
        Fence => "fence",
        Freeze => "freeze",
    }
);

string_enum!(
    /// What to do when an operation fails (the op's `on-fail`).
    OnFail {
        Ignore => "ignore",
        Block => "block",
        Stop => "stop",
        Restart => "restart",
        Standby => "standby",
        Fence => "fence" | "stonith",
        Demote => "demote",
        RestartContainer => "restart-container",
    }
);

impl OnFail {
    /// Whether a failed stop may recover this way: Pacemaker refuses stop, standby and
    /// demote there (a configuration error; the scheduler falls back to fencing or
    /// blocking, `hactl cluster verify` reports it).
    pub fn allowed_for_stop(self) -> bool {
        !matches!(self, OnFail::Stop | OnFail::Standby | OnFail::Demote)
    }
}

/// Whether a failure of operation `op` can recover by demoting: only a promote or a
/// recurring monitor of the Promoted role (elsewhere Pacemaker resets `on-fail=demote`
/// to the default).
pub fn demote_recovers(op: &str, interval_ms: u64, role: Option<Role>) -> bool {
    op == "promote" || (op == "monitor" && interval_ms > 0 && role == Some(Role::Promoted))
}

string_enum!(
    /// Order constraint kind.
    OrderKind {
        Mandatory => "Mandatory",
        Optional => "Optional",
        Serialize => "Serialize",
    }
);

string_enum!(
    /// Actions that order constraints can name.
    OrderAction {
        Start => "start",
        Stop => "stop",
        Promote => "promote",
        Demote => "demote",
    }
);

string_enum!(
    /// What a partition without quorum does with its resources.
    NoQuorumPolicy {
        Stop => "stop",
        Freeze => "freeze",
        Ignore => "ignore",
        Demote => "demote",
        Suicide => "suicide" | "fence",
    }
);

string_enum!(
    /// How a location rule combines its expressions.
    BoolOp {
        And => "and",
        Or => "or",
    }
);

string_enum!(
    /// Comparison in a rule expression.
    ExprOp {
        Lt => "lt",
        Gt => "gt",
        Lte => "lte",
        Gte => "gte",
        Eq => "eq",
        Ne => "ne",
        Defined => "defined",
        NotDefined => "not_defined",
    }
);

string_enum!(
    /// How rule expression values are compared.
    ValueType {
        String => "string",
        Integer => "integer",
        Number => "number",
        Version => "version",
    }
);

string_enum!(
    /// What a resource needs before it may start (`requires` meta attribute).
    Requires {
        Nothing => "nothing",
        Quorum => "quorum",
        Fencing => "fencing",
        Unfencing => "unfencing",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval_ms("0"), Some(0));
        assert_eq!(parse_interval_ms("10"), Some(10_000));
        assert_eq!(parse_interval_ms("30s"), Some(30_000));
        assert_eq!(parse_interval_ms("1500ms"), Some(1500));
        assert_eq!(parse_interval_ms("2m"), Some(120_000));
        assert_eq!(parse_interval_ms("1h"), Some(3_600_000));
        assert_eq!(parse_interval_ms("PT1M30S"), Some(90_000));
        assert_eq!(parse_interval_ms("P1D"), Some(86_400_000));
        assert_eq!(parse_interval_ms("P1Y"), Some(MAX_DURATION_MS));
        // Pacemaker reads seconds and hours without the `T` (the scheduler case
        // `intervals` has a `P40S` monitor); `P1M` stays a month.
        assert_eq!(parse_interval_ms("P40S"), Some(40_000));
        assert_eq!(parse_interval_ms("P1H"), Some(3_600_000));
        assert_eq!(parse_interval_ms("P1M"), Some(30 * 86_400_000));
        for bad in ["", "s", "10x", "-5", "PT", "P1X", "1.2.3"] {
            assert_eq!(parse_interval_ms(bad), None, "{bad}");
        }
        assert_eq!(format_interval_ms(30_000), "30s");
        assert_eq!(format_interval_ms(120_000), "2m");
        assert_eq!(format_interval_ms(1500), "1500ms");
    }

    /// A timeout of 10^20 s once wrapped the DC's deadline (a 7 s start then failed
    /// at once on every node): durations past a year are refused, however spelled.
    #[test]
    fn absurd_durations_are_refused() {
        for bad in [
            "99999999999999999999s",
            "99999999999999999999",
            "1e400",
            "18446744073709551615ms",
            "366d",
            "P2Y",
            "PT99999999999999999H",
        ] {
            assert_eq!(parse_interval_ms(bad), None, "{bad}");
        }
        assert_eq!(parse_interval_ms("365d"), Some(MAX_DURATION_MS));
    }

    #[test]
    fn enums_accept_legacy_spellings() {
        assert_eq!("Master".parse::<Role>().unwrap(), Role::Promoted);
        assert_eq!("stonith".parse::<OnFail>().unwrap(), OnFail::Fence);
        assert_eq!(
            "mandatory".parse::<OrderKind>().unwrap(),
            OrderKind::Mandatory
        );
        let e = "sometimes".parse::<OnFail>().unwrap_err().to_string();
        assert!(e.contains("ignore, block"), "{e}");
    }

    #[test]
    fn bools() {
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
