//! ISO 8601 dates as Pacemaker's date expressions write them (`2005-001`,
//! `2020-01-01`, `2005-W03-4`, `2005-020T12:30:00Z`), durations (`<duration
//! hours="1"/>`) and `<date_spec>` fields, as seconds since the Unix epoch.
//!
//! No clock here: the time a rule is evaluated at is an input (the scheduler's
//! `now`). A date without a UTC offset is read as UTC (Pacemaker reads it in the
//! local time zone of the machine evaluating it; cluster machines in different
//! zones would disagree, so hactl fixes one).

use crate::Attrs;

const DAY: i64 = 86_400;

/// Fields a `<duration>` may set (each a whole number).
pub const DURATION_FIELDS: &[&str] = &[
    "years", "months", "weeks", "days", "hours", "minutes", "seconds",
];

/// Fields a `<date_spec>` may set (each a number or a range `a-b`).
pub const SPEC_FIELDS: &[&str] = &[
    "years",
    "months",
    "monthdays",
    "hours",
    "minutes",
    "seconds",
    "yeardays",
    "weekdays",
    "weeks",
    "weekyears",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// 1 = Monday … 7 = Sunday.
fn weekday(days: i64) -> i64 {
    (days + 3).rem_euclid(7) + 1
}

/// The day number of Monday of ISO week 1 of `y`.
fn iso_week1_monday(y: i64) -> i64 {
    let jan4 = days_from_civil(y, 1, 4);
    jan4 - (weekday(jan4) - 1)
}

/// ISO week-numbering year and week of a day.
fn iso_week(days: i64) -> (i64, i64) {
    let (y, _, _) = civil_from_days(days);
    let mut wy = y;
    if days >= iso_week1_monday(y + 1) {
        wy = y + 1;
    } else if days < iso_week1_monday(y) {
        wy = y - 1;
    }
    (wy, (days - iso_week1_monday(wy)) / 7 + 1)
}

fn num(s: &str, digits: std::ops::RangeInclusive<usize>) -> Option<i64> {
    if !digits.contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The day number of the date part: `YYYY-MM-DD`, `YYYY-DDD` or `YYYY-Www-D`.
fn parse_date(s: &str) -> Option<i64> {
    let (y, rest) = s.split_once('-')?;
    let y = num(y, 4..=4)?;
    if let Some(w) = rest.strip_prefix('W') {
        let (w, d) = w.split_once('-').unwrap_or((w, "1"));
        let (w, d) = (num(w, 2..=2)?, num(d, 1..=1)?);
        let last = iso_week(days_from_civil(y, 12, 28)).1;
        if !(1..=last).contains(&w) || !(1..=7).contains(&d) {
            return None;
        }
        return Some(iso_week1_monday(y) + (w - 1) * 7 + d - 1);
    }
    match rest.split_once('-') {
        Some((m, d)) => {
            let (m, d) = (num(m, 2..=2)?, num(d, 2..=2)?);
            if !(1..=12).contains(&m) || !(1..=days_in_month(y, m)).contains(&d) {
                return None;
            }
            Some(days_from_civil(y, m, d))
        }
        None => {
            let doy = num(rest, 3..=3)?;
            let len = if is_leap(y) { 366 } else { 365 };
            (1..=len)
                .contains(&doy)
                .then(|| days_from_civil(y, 1, 1) + doy - 1)
        }
    }
}

/// Seconds of `HH[:MM[:SS]]` and the UTC offset after it (`Z`, `+hh[:mm]`).
fn parse_time(s: &str) -> Option<(i64, i64)> {
    let (clock, offset) = match s.find(['Z', 'z', '+', '-']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let mut parts = clock.split(':');
    let h = num(parts.next()?, 2..=2)?;
    let m = parts.next().map_or(Some(0), |p| num(p, 2..=2))?;
    // Fractions of a second are dropped.
    let whole = |p: &str| {
        let (w, frac) = p.split_once('.').unwrap_or((p, "0"));
        (!frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()))
            .then(|| num(w, 2..=2))
            .flatten()
    };
    let sec = parts.next().map_or(Some(0), whole)?;
    if parts.next().is_some() || h > 24 || m > 59 || sec > 60 {
        return None;
    }
    let off = match offset.as_bytes().first() {
        None => 0,
        Some(b'Z' | b'z') if offset.len() == 1 => 0,
        Some(sign @ (b'+' | b'-')) => {
            let body = &offset[1..];
            let (oh, om) = body.split_once(':').unwrap_or((body, "00"));
            let o = num(oh, 2..=2)? * 3600 + num(om, 2..=2)? * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        Some(_) => return None,
    };
    Some((h * 3600 + m * 60 + sec, off))
}

/// Seconds since the epoch of an ISO 8601 date with an optional time (`T` or a
/// space between them); `None` when it is not one.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let days = parse_date(date)?;
    let (secs, offset) = match time {
        Some(t) => parse_time(t)?,
        None => (0, 0),
    };
    Some(days * DAY + secs - offset)
}

/// `2023-11-14 22:13:20Z`: how crm_simulate prints a time.
pub fn format_utc(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(DAY));
    let s = t.rem_euclid(DAY);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// A whole-number field of a duration or date spec.
fn field(fields: &Attrs, name: &str) -> Option<Result<i64, ()>> {
    fields
        .get(name)
        .map(|v| v.trim().parse::<i64>().map_err(|_| ()))
}

/// `start` plus a `<duration>`: calendar fields (years, months) move the date,
/// keeping the day of the month where the month has it (else its last day).
pub fn add_duration(start: i64, duration: &Attrs) -> Option<i64> {
    let get = |k| field(duration, k).transpose().ok().map(|v| v.unwrap_or(0));
    let months = get("years")? * 12 + get("months")?;
    let days = start.div_euclid(DAY);
    let secs = start.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + (m - 1) + months;
    let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) + 1);
    let nd = d.min(days_in_month(ny, nm));
    let moved = days_from_civil(ny, nm, nd) * DAY + secs;
    Some(
        moved
            + get("weeks")? * 7 * DAY
            + get("days")? * DAY
            + get("hours")? * 3600
            + get("minutes")? * 60
            + get("seconds")?,
    )
}

/// A date spec field's range: `a` or `a-b` (inclusive).
fn range(v: &str) -> Option<(i64, i64)> {
    let v = v.trim();
    match v.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => {
            let a = v.parse().ok()?;
            Some((a, a))
        }
    }
}

/// Checks a duration's or date spec's fields: known names, readable values.
pub fn check_fields(fields: &Attrs, allowed: &[&str], ranges: bool) -> Result<(), String> {
    for (k, v) in fields {
        if !allowed.contains(&k.as_str()) {
            return Err(format!("unknown field {k} (known: {})", allowed.join(", ")));
        }
        let ok = if ranges {
            range(v).is_some()
        } else {
            v.trim().parse::<i64>().is_ok()
        };
        if !ok {
            return Err(format!(
                "{k}={v:?} is not a number{}",
                if ranges { " or range a-b" } else { "" }
            ));
        }
    }
    Ok(())
}

/// Whether time `t` matches every field of a `<date_spec>` (an empty spec matches).
pub fn spec_matches(t: i64, spec: &Attrs) -> bool {
    let days = t.div_euclid(DAY);
    let secs = t.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    let (wy, w) = iso_week(days);
    let value = |k: &str| -> i64 {
        match k {
            "years" => y,
            "months" => m,
            "monthdays" => d,
            "hours" => secs / 3600,
            "minutes" => secs / 60 % 60,
            "seconds" => secs % 60,
            "yeardays" => days - days_from_civil(y, 1, 1) + 1,
            "weekdays" => weekday(days),
            "weeks" => w,
            _ => wy, // "weekyears"; check_fields refuses any other name
        }
    };
    spec.iter().all(|(k, v)| {
        range(v).is_some_and(|(lo, hi)| {
            let x = value(k);
            lo <= x && x <= hi
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(kv: &[(&str, &str)]) -> Attrs {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn date_forms_read_as_utc_seconds() {
        // 2005-01-20 (day 20) in all three forms.
        let want = 1_106_179_200;
        assert_eq!(parse_datetime("2005-020"), Some(want));
        assert_eq!(parse_datetime("2005-01-20"), Some(want));
        assert_eq!(parse_datetime("2005-W03-4"), Some(want));
        assert_eq!(parse_datetime("2005-020T12:30"), Some(want + 45_000));
        assert_eq!(parse_datetime("2005-01-20 12:30:00Z"), Some(want + 45_000));
        assert_eq!(
            parse_datetime("2005-01-20T12:30:00+02:00"),
            Some(want + 37_800)
        );
        assert_eq!(parse_datetime("1970-01-01"), Some(0));
        assert_eq!(parse_datetime("1970-01-01t00:00:00.5z"), Some(0));
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13:20Z");
        for bad in [
            "",
            "2005",
            "2005-13-01",
            "2005-02-30",
            "2005-367",
            "x-01-01",
            "2005-01-01T25",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn durations_move_calendar_fields_first() {
        let jan31 = parse_datetime("2004-01-31").unwrap();
        let feb29 = parse_datetime("2004-02-29").unwrap();
        assert_eq!(add_duration(jan31, &attrs(&[("months", "1")])), Some(feb29));
        assert_eq!(
            add_duration(jan31, &attrs(&[("years", "1"), ("hours", "2")])),
            Some(parse_datetime("2005-01-31T02:00").unwrap())
        );
        assert_eq!(add_duration(jan31, &attrs(&[("days", "x")])), None);
    }

    #[test]
    fn date_specs_match_fields_and_ranges() {
        // 2005-01-20 was a Thursday (weekday 4), ISO week 3.
        let t = parse_datetime("2005-01-20T12:30:15").unwrap();
        assert!(spec_matches(t, &attrs(&[("hours", "12")])));
        assert!(!spec_matches(t, &attrs(&[("hours", "11")])));
        assert!(spec_matches(
            t,
            &attrs(&[("hours", "9-17"), ("weekdays", "1-5")])
        ));
        assert!(!spec_matches(t, &attrs(&[("weekdays", "6-7")])));
        assert!(spec_matches(
            t,
            &attrs(&[("yeardays", "20"), ("weeks", "3"), ("weekyears", "2005")])
        ));
        assert!(spec_matches(
            t,
            &attrs(&[("minutes", "30"), ("seconds", "15"), ("monthdays", "20")])
        ));
        assert!(check_fields(&attrs(&[("moon", "1")]), SPEC_FIELDS, true).is_err());
        assert!(check_fields(&attrs(&[("hours", "a-b")]), SPEC_FIELDS, true).is_err());
        // 2005-01-01 belongs to ISO week 53 of 2004.
        let jan1 = parse_datetime("2005-01-01").unwrap();
        assert!(spec_matches(
            jan1,
            &attrs(&[("weeks", "53"), ("weekyears", "2004")])
        ));
    }
}
