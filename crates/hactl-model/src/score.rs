//! Pacemaker scores: integers clamped to ±INFINITY (1,000,000), where -INFINITY wins
//! over +INFINITY. This arithmetic is what makes "must not" constraints absolute.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A placement score. Always within `[-INFINITY, INFINITY]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Score(i64);

impl Score {
    pub const INFINITY_VALUE: i64 = 1_000_000;
    pub const INFINITY: Score = Score(Self::INFINITY_VALUE);
    pub const NEG_INFINITY: Score = Score(-Self::INFINITY_VALUE);
    pub const ZERO: Score = Score(0);

    /// Clamps an integer into the score range.
    pub const fn new(v: i64) -> Score {
        if v >= Self::INFINITY_VALUE {
            Self::INFINITY
        } else if v <= -Self::INFINITY_VALUE {
            Self::NEG_INFINITY
        } else {
            Score(v)
        }
    }

    pub const fn value(self) -> i64 {
        self.0
    }

    pub const fn is_infinite(self) -> bool {
        self.0 == Self::INFINITY_VALUE || self.0 == -Self::INFINITY_VALUE
    }

    pub const fn is_pos_infinity(self) -> bool {
        self.0 == Self::INFINITY_VALUE
    }

    pub const fn is_neg_infinity(self) -> bool {
        self.0 == -Self::INFINITY_VALUE
    }

    /// Pacemaker's addition: -INFINITY absorbs everything, then +INFINITY, else a
    /// clamped sum.
    #[allow(clippy::should_implement_trait)]
    pub const fn add(self, other: Score) -> Score {
        if self.is_neg_infinity() || other.is_neg_infinity() {
            Self::NEG_INFINITY
        } else if self.is_pos_infinity() || other.is_pos_infinity() {
            Self::INFINITY
        } else {
            Score::new(self.0 + other.0)
        }
    }

    /// Multiplies by a factor (used for colocation influence); infinities stay infinite
    /// in their sign unless the factor is zero.
    pub fn scale(self, factor: f64) -> Score {
        if factor == 0.0 {
            return Score::ZERO;
        }
        if self.is_infinite() {
            let pos = (self.0 > 0) == (factor > 0.0);
            return if pos {
                Self::INFINITY
            } else {
                Self::NEG_INFINITY
            };
        }
        Score::new((self.0 as f64 * factor) as i64)
    }
}

impl std::ops::Add for Score {
    type Output = Score;
    fn add(self, rhs: Score) -> Score {
        Score::add(self, rhs)
    }
}

impl std::ops::AddAssign for Score {
    fn add_assign(&mut self, rhs: Score) {
        *self = Score::add(*self, rhs);
    }
}

impl std::ops::Neg for Score {
    type Output = Score;
    fn neg(self) -> Score {
        Score(-self.0)
    }
}

impl From<i64> for Score {
    fn from(v: i64) -> Score {
        Score::new(v)
    }
}

/// The score string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid score {0:?}: expected an integer, INFINITY, +INFINITY or -INFINITY")]
pub struct ScoreParseError(pub String);

impl FromStr for Score {
    type Err = ScoreParseError;
    fn from_str(s: &str) -> Result<Score, ScoreParseError> {
        let t = s.trim();
        let (neg, body) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        if body.eq_ignore_ascii_case("INFINITY") || body.eq_ignore_ascii_case("inf") {
            return Ok(if neg {
                Score::NEG_INFINITY
            } else {
                Score::INFINITY
            });
        }
        // Pacemaker reads a score's leading integer, so CIBs in the wild carry values
        // like `priority="1.0"`; accept a decimal fraction and drop it.
        let body = match body.split_once('.') {
            Some((int, frac)) if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) => {
                int
            }
            _ => body,
        };
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ScoreParseError(s.to_string()));
        }
        // Saturate instead of failing on huge numbers: Pacemaker clamps too.
        let v: i64 = body.parse().unwrap_or(i64::MAX / 2);
        Ok(Score::new(if neg { -v } else { v }))
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_pos_infinity() {
            f.write_str("INFINITY")
        } else if self.is_neg_infinity() {
            f.write_str("-INFINITY")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl Serialize for Score {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_infinite() {
            s.collect_str(self)
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Score {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Score, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Score;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or INFINITY / -INFINITY")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Score, E> {
                Ok(Score::new(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Score, E> {
                Ok(Score::new(v.min(i64::MAX as u64) as i64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Score, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infinity_arithmetic() {
        assert_eq!(Score::INFINITY + Score::NEG_INFINITY, Score::NEG_INFINITY);
        assert_eq!(Score::NEG_INFINITY + Score::INFINITY, Score::NEG_INFINITY);
        assert_eq!(Score::INFINITY + Score::new(-5), Score::INFINITY);
        assert_eq!(Score::new(999_999) + Score::new(5), Score::INFINITY);
        assert_eq!(Score::new(-999_999) + Score::new(-5), Score::NEG_INFINITY);
        assert_eq!(Score::new(3) + Score::new(4), Score::new(7));
    }

    #[test]
    fn parse_and_print() {
        for (s, v) in [
            ("INFINITY", Score::INFINITY),
            ("+INFINITY", Score::INFINITY),
            ("-INFINITY", Score::NEG_INFINITY),
            ("-inf", Score::NEG_INFINITY),
            ("100", Score::new(100)),
            ("-5", Score::new(-5)),
            ("+7", Score::new(7)),
            ("5000000", Score::INFINITY),
            ("1.0", Score::new(1)),
            ("-2.5", Score::new(-2)),
        ] {
            assert_eq!(s.parse::<Score>().unwrap(), v, "{s}");
        }
        for bad in ["", "abc", "1.", ".5", "1.5x", "--3", "INF INITY"] {
            assert!(bad.parse::<Score>().is_err(), "{bad}");
        }
        assert_eq!(Score::NEG_INFINITY.to_string(), "-INFINITY");
        assert_eq!(Score::new(-3).to_string(), "-3");
    }

    #[test]
    fn serde_round_trip() {
        let j = serde_json::to_string(&vec![Score::INFINITY, Score::new(4)]).unwrap();
        assert_eq!(j, r#"["INFINITY",4]"#);
        let back: Vec<Score> = serde_json::from_str(&j).unwrap();
        assert_eq!(back, vec![Score::INFINITY, Score::new(4)]);
    }
}
