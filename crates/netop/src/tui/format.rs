//! How numbers look in the monitor: base-10 rates and sizes (1 KB = 1000
//! bytes, as network bandwidth is counted; the guide's unit table), compact
//! rates for narrow columns, RTT, and sparklines auto-scaled to the samples
//! shown.

/// `999 B/s`, `1.0 KB/s`, `2.1 MB/s`, `1.0 GB/s`.
pub fn rate(bytes_per_sec: u64) -> String {
    format!("{}/s", size(bytes_per_sec))
}

/// `0 B`, `999 B`, `1.0 KB`, `128.5 MB`, `1.2 GB`, `3.4 TB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1000.0;
    let mut unit = 0;
    // Round first, so 999_999 shows as 1.0 MB rather than 1000.0 KB.
    while (v * 10.0).round() / 10.0 >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A rate in at most five characters, for cells beside a sparkline:
/// `0`, `999`, `12K`, `2.1M`, `340K`, `1.5G`.
pub fn compact(bytes_per_sec: u64) -> String {
    const UNITS: [char; 4] = ['K', 'M', 'G', 'T'];
    if bytes_per_sec < 1000 {
        return bytes_per_sec.to_string();
    }
    let mut v = bytes_per_sec as f64 / 1000.0;
    let mut unit = 0;
    while v.round() >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if v < 9.95 {
        format!("{v:.1}{}", UNITS[unit])
    } else {
        format!("{:.0}{}", v, UNITS[unit])
    }
}

/// Round-trip time from microseconds: `0.5ms`, `12ms`, `1.2s`.
pub fn rtt(us: u32) -> String {
    match us {
        0..=9_999 => format!("{:.1}ms", f64::from(us) / 1000.0),
        10_000..=999_999 => format!("{}ms", (us + 500) / 1000),
        _ => format!("{:.1}s", f64::from(us) / 1_000_000.0),
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `width` samples as block characters, scaled to the largest of
/// them (the guide: relative to the visible window). All-zero samples draw
/// as the lowest bar; any non-zero sample is at least the second bar, so
/// a trickle stays visible next to a burst.
pub fn sparkline(samples: &[u64], width: usize) -> String {
    let shown = &samples[samples.len().saturating_sub(width)..];
    let max = shown.iter().copied().max().unwrap_or(0);
    let mut out: String = std::iter::repeat_n(BARS[0], width - shown.len()).collect();
    for &v in shown {
        let level = if max == 0 || v == 0 {
            0
        } else {
            // 1..=7 for non-zero values.
            1 + ((v as u128 * 6 + max as u128 / 2) / max as u128) as usize
        };
        out.push(BARS[level.min(7)]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_follow_the_guides_base_10_table() {
        assert_eq!(rate(0), "0 B/s");
        assert_eq!(rate(999), "999 B/s");
        assert_eq!(rate(1_000), "1.0 KB/s");
        assert_eq!(rate(999_999), "1.0 MB/s");
        assert_eq!(rate(2_100_000), "2.1 MB/s");
        assert_eq!(rate(1_000_000_000), "1.0 GB/s");
        assert_eq!(size(128_500_000), "128.5 MB");
        assert_eq!(size(u64::MAX), "18446.7 PB");
    }

    #[test]
    fn compact_rates_fit_five_columns() {
        for (n, s) in [
            (0, "0"),
            (999, "999"),
            (1_000, "1.0K"),
            (12_000, "12K"),
            (340_000, "340K"),
            (999_700, "1.0M"),
            (2_100_000, "2.1M"),
            (u64::MAX, "18446744T"),
        ] {
            assert_eq!(compact(n), s);
        }
        for n in [0, 9, 999, 1_499, 99_999, 999_999, 9_999_999_999] {
            assert!(compact(n).chars().count() <= 5, "{n}: {}", compact(n));
        }
    }

    #[test]
    fn rtt_and_thousands() {
        assert_eq!(rtt(500), "0.5ms");
        assert_eq!(rtt(12_000), "12ms");
        assert_eq!(rtt(1_200_000), "1.2s");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(100), "100");
    }

    #[test]
    fn sparklines_scale_to_the_visible_maximum() {
        assert_eq!(sparkline(&[0, 0, 0], 3), "▁▁▁");
        assert_eq!(sparkline(&[1, 2, 4, 8], 4), "▃▄▅█");
        // Only the visible samples count: the big old one is cut off.
        assert_eq!(sparkline(&[1000, 1, 1], 2), "██");
        // Short histories are padded on the left.
        assert_eq!(sparkline(&[5], 3), "▁▁█");
        assert_eq!(sparkline(&[1, 1_000_000], 2), "▂█");
    }
}
