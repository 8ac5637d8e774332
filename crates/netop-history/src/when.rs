//! `--since` and `--until`: a moment as `netop history` takes it. Either a
//! duration before now (`90s`, `30m`, `24h`, `7d`, `2w`), `now`, or a
//! date and time (`2026-11-30`, `2026-11-30T08:00`, `2026-11-30T08:00:15`)
//! in local time unless it ends in `Z` or an offset (`+01:00`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};

/// Unix seconds for `text`, given the time now and the local time zone.
pub fn parse<Tz: TimeZone>(text: &str, now: i64, local: &Tz) -> Result<i64, String> {
    let text = text.trim();
    if text == "now" {
        return Ok(now);
    }
    if let Some(ago) = ago(text) {
        return ago.map(|secs| now - secs);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    for with_zone in ["%Y-%m-%dT%H:%M%#z", "%Y-%m-%dT%H:%M%Z"] {
        if let Ok(t) = DateTime::parse_from_str(text, with_zone) {
            return Ok(t.timestamp());
        }
    }
    if let Some(bare) = text.strip_suffix('Z') {
        if let Some(t) = naive(bare) {
            return Ok(t.and_utc().timestamp());
        }
    }
    let t = naive(text).ok_or_else(|| {
        format!(
            "'{text}' is not a time: use a duration before now (30m, 24h, 7d), now, \
             or a date and time (2026-11-30 or 2026-11-30T08:00)"
        )
    })?;
    local
        .from_local_datetime(&t)
        .earliest()
        .map(|t| t.timestamp())
        .ok_or_else(|| format!("'{text}' does not exist in the local time zone"))
}

/// A duration before now: digits and one unit.
fn ago(text: &str) -> Option<Result<i64, String>> {
    let unit = text.chars().last()?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    let digits = &text[..text.len() - 1];
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(
        digits
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .ok_or_else(|| format!("'{text}' is too long ago")),
    )
}

fn naive(text: &str) -> Option<NaiveDateTime> {
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, Utc};

    use super::*;

    const NOW: i64 = 1_764_666_000; // 2025-12-02T09:00:00Z

    #[test]
    fn durations_before_now() {
        assert_eq!(parse("24h", NOW, &Utc), Ok(NOW - 86_400));
        assert_eq!(parse("7d", NOW, &Utc), Ok(NOW - 7 * 86_400));
        assert_eq!(parse("30m", NOW, &Utc), Ok(NOW - 1800));
        assert_eq!(parse("now", NOW, &Utc), Ok(NOW));
    }

    #[test]
    fn dates_in_local_time_unless_zoned() {
        let paris = FixedOffset::east_opt(3600).expect("offset");
        assert_eq!(
            parse("2025-12-02T08:00", NOW, &Utc),
            Ok(NOW - 3600),
            "UTC as the local zone"
        );
        assert_eq!(parse("2025-12-02T09:00", NOW, &paris), Ok(NOW - 3600));
        assert_eq!(parse("2025-12-02T08:00Z", NOW, &paris), Ok(NOW - 3600));
        assert_eq!(
            parse("2025-12-02T08:00:00+00:00", NOW, &paris),
            Ok(NOW - 3600)
        );
        assert_eq!(parse("2025-12-02", NOW, &Utc), Ok(NOW - 9 * 3600));
    }

    #[test]
    fn nonsense_is_an_error_naming_the_forms() {
        for bad in [
            "yesterday",
            "24",
            "h",
            "-5h",
            "2025-13-01",
            "99999999999999999d",
        ] {
            let e = parse(bad, NOW, &Utc).expect_err(bad);
            assert!(e.contains(bad), "{e}");
        }
    }
}
