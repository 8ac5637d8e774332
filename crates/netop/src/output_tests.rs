//! Golden tests of the three snapshot formats, as the guide has them and
//! with `--containers`. Set `UPDATE_GOLDEN=1` to rewrite the files after a
//! deliberate change of the output contract.

use std::path::PathBuf;

use netop_core::flow::Counters;
use netop_core::{Container, ProcessReport};

use super::*;

const PLAIN: TableOptions = TableOptions { containers: false };
const CONTAINERS: TableOptions = TableOptions { containers: true };

/// The guide's example rows; curl runs in a Docker container (shown only
/// with `--containers`).
fn rows() -> Vec<ProcessReport> {
    let row = |pid: Option<u32>, name: &str, c: [u64; 4]| ProcessReport {
        pid,
        start_time: 0,
        name: name.to_string(),
        user: "alice".to_string(),
        container: (name == "curl").then(|| Container {
            runtime: "docker".to_string(),
            name: "3f2a1b4c5d6e".to_string(),
        }),
        exe: None,
        counters: Counters {
            rx_bytes: c[0],
            tx_bytes: c[1],
            rx_packets: c[2],
            tx_packets: c[3],
        },
        reasons: Vec::new(),
        delegates: Vec::new(),
    };
    vec![
        row(Some(1842), "chrome", [1_200_000, 340_000, 800, 200]),
        row(Some(5678), "curl", [50_000, 10_000, 100, 50]),
        row(None, "unknown", [45_000, 0, 30, 0]),
    ]
}

fn render(format: Format, rows: &[ProcessReport]) -> String {
    render_with(format, PLAIN, rows)
}

fn render_with(format: Format, options: TableOptions, rows: &[ProcessReport]) -> String {
    let mut out = Vec::new();
    write_table(format, options, rows, &mut out).expect("write");
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
fn tsv_with_containers_matches_golden() {
    golden(
        "snapshot.containers.tsv",
        &render_with(Format::Tsv, CONTAINERS, &rows()),
    );
}

#[test]
fn json_with_containers_matches_golden() {
    golden(
        "snapshot.containers.json",
        &render_with(Format::Json, CONTAINERS, &rows()),
    );
}

#[test]
fn pretty_with_containers_matches_golden() {
    golden(
        "snapshot.containers.pretty.txt",
        &render_with(Format::Pretty, CONTAINERS, &rows()),
    );
}

#[test]
fn containers_add_exactly_one_last_column_and_field() {
    let tsv = render_with(Format::Tsv, CONTAINERS, &rows());
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(lines[0], format!("{}\t{CONTAINER}", COLUMNS.join("\t")));
    assert!(lines.iter().all(|l| l.split('\t').count() == 7));
    assert!(lines[2].ends_with("\tdocker:3f2a1b4c5d6e"), "{}", lines[2]);
    assert!(lines[1].ends_with("\t-") && lines[3].ends_with("\t-"));

    let json: serde_json::Value =
        serde_json::from_str(&render_with(Format::Json, CONTAINERS, &rows())).expect("json");
    let keys: Vec<&str> = json[1]
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), COLUMNS.len() + 1);
    assert_eq!(json[1]["container"], "docker:3f2a1b4c5d6e");
    assert!(json[0]["container"].is_null());
    assert!(json[2]["container"].is_null(), "unknown is in no container");

    // Without the flag nothing says "container", even for curl.
    for format in [Format::Tsv, Format::Json, Format::Pretty] {
        let plain = render(format, &rows()).to_lowercase();
        assert!(!plain.contains("container") && !plain.contains("docker"));
    }
}

#[test]
fn container_names_cannot_break_a_row() {
    let mut r = rows();
    r[0].container = Some(Container {
        runtime: "lxc".to_string(),
        name: "a\tb\nc".to_string(),
    });
    let tsv = render_with(Format::Tsv, CONTAINERS, &r);
    assert_eq!(tsv.lines().count(), 4);
    assert!(tsv.lines().all(|l| l.split('\t').count() == 7));
    let pretty = render_with(Format::Pretty, CONTAINERS, &r);
    assert!(pretty.contains("lxc:a?b?c"), "{pretty}");
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
