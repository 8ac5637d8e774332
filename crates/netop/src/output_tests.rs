//! Golden tests of the three snapshot formats. Set `UPDATE_GOLDEN=1` to
//! rewrite the files after a deliberate change of the output contract.

use std::path::PathBuf;

use netop_core::flow::Counters;
use netop_core::ProcessReport;

use super::*;

fn rows() -> Vec<ProcessReport> {
    let row = |pid: Option<u32>, name: &str, c: [u64; 4]| ProcessReport {
        pid,
        name: name.to_string(),
        user: "alice".to_string(),
        counters: Counters {
            rx_bytes: c[0],
            tx_bytes: c[1],
            rx_packets: c[2],
            tx_packets: c[3],
        },
        reasons: Vec::new(),
    };
    vec![
        row(Some(1842), "chrome", [1_200_000, 340_000, 800, 200]),
        row(Some(5678), "curl", [50_000, 10_000, 100, 50]),
        row(None, "unknown", [45_000, 0, 30, 0]),
    ]
}

fn render(format: Format, rows: &[ProcessReport]) -> String {
    let mut out = Vec::new();
    write_table(format, rows, &mut out).expect("write");
    String::from_utf8(out).expect("utf-8")
}

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

#[test]
fn tsv_matches_golden() {
    golden("snapshot.tsv", &render(Format::Tsv, &rows()));
}

#[test]
fn json_matches_golden() {
    golden("snapshot.json", &render(Format::Json, &rows()));
}

#[test]
fn pretty_matches_golden() {
    golden("snapshot.pretty.txt", &render(Format::Pretty, &rows()));
}

#[test]
fn empty_tables_are_still_well_formed() {
    assert_eq!(
        render(Format::Tsv, &[]),
        format!("{}\n", COLUMNS.join("\t"))
    );
    assert_eq!(render(Format::Json, &[]), "[]\n");
    assert!(render(Format::Pretty, &[]).contains("TOTAL"));
}

#[test]
fn names_with_control_characters_cannot_break_a_row() {
    let mut r = rows();
    r[0].name = "evil\tname\n\x1b[31m".to_string();
    let tsv = render(Format::Tsv, &r);
    assert_eq!(tsv.lines().count(), 4);
    assert!(tsv.lines().all(|l| l.split('\t').count() == 6));
    assert!(!tsv.contains('\x1b'));
    let json: serde_json::Value = serde_json::from_str(&render(Format::Json, &r)).expect("json");
    assert_eq!(json[0]["process"], "evil\tname\n\x1b[31m");
    assert!(!render(Format::Pretty, &r).contains('\x1b'));
}

#[test]
fn json_fields_are_the_contract() {
    let json: serde_json::Value =
        serde_json::from_str(&render(Format::Json, &rows())).expect("json");
    let obj = json[0].as_object().expect("object");
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    let mut expected = COLUMNS.to_vec();
    expected.sort_unstable();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort_unstable();
    assert_eq!(keys_sorted, expected);
    assert!(json[2]["pid"].is_null());
}

#[test]
fn json_unknown_object_carries_its_reasons() {
    use netop_core::UnknownReason;
    let mut rows = rows();
    let unknown = rows.last_mut().expect("unknown row");
    let part = |rx: u64, p: u64| Counters {
        rx_bytes: rx,
        rx_packets: p,
        ..Counters::default()
    };
    unknown.reasons = vec![
        (UnknownReason::NoListener, part(40_000, 20)),
        (UnknownReason::Kernel, part(5_000, 10)),
    ];
    golden("snapshot.reasons.json", &render(Format::Json, &rows));
    let tsv = render(Format::Tsv, &rows);
    assert_eq!(
        tsv,
        render(Format::Tsv, &self::rows()),
        "TSV keeps one unknown row"
    );
    let pretty = render(Format::Pretty, &rows);
    assert_eq!(pretty, render(Format::Pretty, &self::rows()), "pretty too");
}
