//! Number formatting: IEC sizes (KiB, MiB) for byte totals in the pretty
//! snapshot, as the user guide's sample shows them.

/// `0 B`, `999 B`, `1.0 KiB`, `332.0 KiB`, `1.1 MiB`, ...
pub fn iec_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iec_sizes() {
        assert_eq!(iec_bytes(0), "0 B");
        assert_eq!(iec_bytes(1023), "1023 B");
        assert_eq!(iec_bytes(1024), "1.0 KiB");
        assert_eq!(iec_bytes(340_000), "332.0 KiB");
        assert_eq!(iec_bytes(1_200_000), "1.1 MiB");
        assert_eq!(iec_bytes(u64::MAX), "16.0 EiB");
    }
}
