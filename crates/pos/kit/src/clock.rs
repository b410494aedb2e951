//! Local times as POS APIs write them: a UTC offset from a connection setting, and an instant
//! written at that offset.
//!
//! Why it exists: a POS often wants a payment's time in the restaurant's own offset
//! (`2022-04-05T15:12:58.658+03:00`), and the offset is a connection setting written by a
//! person (`+03:00`, `-0530`, `Z`). Reading and writing them is the same for every POS.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// Parses `+03:00`, `-05:30`, `+0000`, `Z`/`UTC`; anything else is `None`.
pub fn parse_offset(s: &str) -> Option<UtcOffset> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Some(UtcOffset::UTC);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1i8, &s[1..]),
        b'-' => (-1i8, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i8 = digits[..2].parse().ok()?;
    let m: i8 = digits[2..].parse().ok()?;
    UtcOffset::from_hms(sign * h, sign * m, 0).ok()
}

const MILLIS: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
);

/// `at` written at `offset` with milliseconds: `2022-04-05T15:12:58.658+03:00`.
pub fn at_offset(at: OffsetDateTime, offset: UtcOffset) -> String {
    at.to_offset(offset)
        .format(MILLIS)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_as_people_write_them() {
        let hm = |h, m| UtcOffset::from_hms(h, m, 0).ok();
        for (text, want) in [
            ("+03:00", hm(3, 0)),
            (" -0530 ", hm(-5, -30)),
            ("+00:00", Some(UtcOffset::UTC)),
            ("Z", Some(UtcOffset::UTC)),
            ("utc", Some(UtcOffset::UTC)),
            ("03:00", None),
            ("+3", None),
            ("+03:0x", None),
            ("", None),
        ] {
            assert_eq!(parse_offset(text), want, "{text:?}");
        }
    }

    #[test]
    fn an_instant_at_an_offset() {
        let t = OffsetDateTime::from_unix_timestamp(1_649_160_778).unwrap();
        let t = t + time::Duration::milliseconds(658);
        assert_eq!(
            at_offset(t, parse_offset("+03:00").unwrap()),
            "2022-04-05T15:12:58.658+03:00"
        );
        assert_eq!(
            at_offset(t, UtcOffset::UTC),
            "2022-04-05T12:12:58.658+00:00"
        );
    }
}
