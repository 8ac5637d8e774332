//! The database with a fake clock: minutes written, totals read back,
//! folding into hours, retention, restarts within a minute, bad files.

use std::time::Duration;

use super::*;

/// 2025-12-02T00:00:00Z.
const DAY0: i64 = 1_764_633_600;

fn traffic(rx: i64, tx: i64) -> Traffic {
    Traffic {
        rx_bytes: rx,
        tx_bytes: tx,
        rx_packets: rx / 1000,
        tx_packets: tx / 1000,
    }
}

fn minute(start: i64, rows: &[(Label, Traffic)]) -> Minute {
    Minute {
        start,
        traffic: rows.to_vec(),
        dns: vec![(
            "10.0.0.1".to_string(),
            DnsCounts {
                queries: 3,
                failures: 1,
            },
        )],
    }
}

fn curl() -> Label {
    Label::process("curl", "alice", None)
}

fn nginx() -> Label {
    Label::process("nginx", "www-data", Some("docker:web"))
}

fn open(dir: &tempfile::TempDir) -> History {
    History::create(&dir.path().join("sub/history.db"), Retention::default()).expect("create")
}

fn rows_per_tier(h: &History) -> (i64, i64) {
    let count = |tier: i64| -> i64 {
        h.conn
            .query_row(
                "SELECT COUNT(*) FROM traffic WHERE tier = ?1",
                [tier],
                |r| r.get(0),
            )
            .expect("count")
    };
    (count(MINUTE), count(HOUR))
}

fn totals(h: &History, since: i64, until: i64, by: Grouping) -> Vec<(String, i64, i64)> {
    h.totals(&Query { since, until, by })
        .expect("totals")
        .into_iter()
        .map(|t| (t.key, t.traffic.rx_bytes, t.traffic.tx_bytes))
        .collect()
}

#[test]
fn minutes_add_up_by_every_grouping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut h = open(&dir);
    for m in 0..10 {
        let start = DAY0 + m * MINUTE;
        h.write(
            &minute(
                start,
                &[
                    (curl(), traffic(1000, 10)),
                    (nginx(), traffic(200, 5000)),
                    (Label::interface("eth0"), traffic(1200, 5010)),
                    (Label::unknown("kernel"), traffic(7, 0)),
                ],
            ),
            start + MINUTE,
        )
        .expect("write");
    }
    let end = DAY0 + 3600;
    assert_eq!(
        totals(&h, DAY0, end, Grouping::Process),
        vec![
            ("nginx".into(), 2000, 50_000),
            ("curl".into(), 10_000, 100),
            ("unknown".into(), 70, 0)
        ]
    );
    assert_eq!(
        totals(&h, DAY0, end, Grouping::User),
        vec![
            ("www-data".into(), 2000, 50_000),
            ("alice".into(), 10_000, 100)
        ]
    );
    assert_eq!(
        totals(&h, DAY0, end, Grouping::Container),
        vec![
            ("docker:web".into(), 2000, 50_000),
            ("".into(), 10_000, 100)
        ]
    );
    assert_eq!(
        totals(&h, DAY0, end, Grouping::Interface),
        vec![("eth0".into(), 12_000, 50_100)]
    );
    // A period is the rows starting in it: the first three minutes.
    assert_eq!(
        totals(&h, DAY0, DAY0 + 3 * MINUTE, Grouping::Process)[1],
        ("curl".into(), 3000, 30)
    );
    assert_eq!(
        h.dns_totals(DAY0, end).expect("dns"),
        vec![(
            "10.0.0.1".to_string(),
            DnsCounts {
                queries: 30,
                failures: 10
            }
        )]
    );
}

#[test]
fn a_minute_written_again_after_a_restart_is_added_to() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut h = open(&dir);
        // Stopped 20 s into the minute: the part written on the way out.
        h.write(&minute(DAY0 + 20, &[(curl(), traffic(500, 0))]), DAY0 + 20)
            .expect("write");
    }
    let mut h = open(&dir);
    h.write(&minute(DAY0, &[(curl(), traffic(300, 0))]), DAY0 + MINUTE)
        .expect("write");
    assert_eq!(
        totals(&h, DAY0, DAY0 + MINUTE, Grouping::Process),
        vec![("curl".into(), 800, 0)]
    );
    assert_eq!(rows_per_tier(&h), (1, 0));
}

#[test]
fn minutes_older_than_the_retention_fold_into_hours_and_totals_stay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut h = open(&dir);
    // Two minutes an hour for ten days.
    for hour in 0..240 {
        for m in [5, 35] {
            let start = DAY0 + hour * HOUR + m * MINUTE;
            h.write(&minute(start, &[(curl(), traffic(100, 1))]), start + MINUTE)
                .expect("write");
        }
    }
    let now = DAY0 + 240 * HOUR;
    h.age(now).expect("age");
    // Seven days of minutes remain; the three days before are 72 hours.
    let (minutes, hours) = rows_per_tier(&h);
    assert_eq!(minutes, 2 * 7 * 24);
    assert_eq!(hours, 3 * 24);
    assert_eq!(
        totals(&h, DAY0, now, Grouping::Process),
        vec![("curl".into(), 240 * 2 * 100, 240 * 2)]
    );
    // Folding is idempotent: ageing again changes nothing.
    h.age(now).expect("age");
    assert_eq!(rows_per_tier(&h), (minutes, hours));
    assert_eq!(totals(&h, DAY0, now, Grouping::Process)[0].1, 240 * 2 * 100);
    // DNS rows fold the same way.
    assert_eq!(
        h.dns_totals(DAY0, now).expect("dns")[0].1.queries,
        240 * 2 * 3
    );
    // The series: one bucket a day, oldest first.
    let series = h.series(DAY0, now, 86_400).expect("series");
    assert_eq!(series.len(), 10);
    assert!(series.iter().all(|s| s.traffic.rx_bytes == 48 * 100));
}

#[test]
fn hours_older_than_a_year_are_deleted_with_their_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut h = History::create(
        &dir.path().join("h.db"),
        Retention {
            minutes: Duration::from_secs(3600),
            hours: Duration::from_secs(2 * 86_400),
        },
    )
    .expect("create");
    h.write(&minute(DAY0, &[(curl(), traffic(100, 0))]), DAY0 + MINUTE)
        .expect("write");
    h.write(
        &minute(DAY0 + 86_400, &[(nginx(), traffic(100, 0))]),
        DAY0 + 86_400 + MINUTE,
    )
    .expect("write");
    // Three days later curl's hour is gone, nginx's (two days) too only
    // after another day.
    h.age(DAY0 + 2 * 86_400 + 10).expect("age");
    assert_eq!(
        totals(&h, 0, i64::MAX, Grouping::Process),
        vec![("nginx".into(), 100, 0)]
    );
    let labels: i64 = h
        .conn
        .query_row("SELECT COUNT(*) FROM labels", [], |r| r.get(0))
        .expect("labels");
    assert_eq!(labels, 1, "curl's label went with its last row");
    h.age(DAY0 + 3 * 86_400 + 10).expect("age");
    assert!(totals(&h, 0, i64::MAX, Grouping::Process).is_empty());
}

#[test]
fn negative_unknown_changes_net_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut h = open(&dir);
    h.write(
        &minute(DAY0, &[(Label::unknown("owner_gone"), traffic(900, 0))]),
        DAY0 + MINUTE,
    )
    .expect("write");
    h.write(
        &minute(
            DAY0 + MINUTE,
            &[
                (Label::unknown("owner_gone"), traffic(-600, 0)),
                (curl(), traffic(600, 0)),
            ],
        ),
        DAY0 + 2 * MINUTE,
    )
    .expect("write");
    assert_eq!(
        totals(&h, DAY0, DAY0 + HOUR, Grouping::Process),
        vec![("curl".into(), 600, 0), ("unknown".into(), 300, 0)]
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it_and_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nope.db");
    let e = History::open_read_only(&path)
        .expect_err("missing")
        .to_string();
    assert!(
        e.contains(&path.display().to_string()) && e.contains("--history"),
        "{e}"
    );
    assert!(!path.exists(), "reading never creates the file");
}

#[test]
fn a_file_that_is_not_a_history_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "shopping list\n".repeat(100)).expect("write");
    let e = History::open_read_only(&path)
        .expect_err("not a db")
        .to_string();
    assert!(e.contains("not a netop history"), "{e}");
}

#[test]
fn readers_see_what_the_writer_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut h = open(&dir);
    let reader = History::open_read_only(&dir.path().join("sub/history.db")).expect("reader");
    h.write(&minute(DAY0, &[(curl(), traffic(100, 0))]), DAY0 + MINUTE)
        .expect("write");
    assert_eq!(
        totals(&reader, DAY0, DAY0 + HOUR, Grouping::Process),
        vec![("curl".into(), 100, 0)]
    );
}

#[test]
fn a_stopped_writers_file_is_readable_without_write_access_to_its_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sub/history.db");
    {
        let mut h = open(&dir);
        h.write(&minute(DAY0, &[(curl(), traffic(100, 0))]), DAY0 + MINUTE)
            .expect("write");
    }
    // The writer closed: its log was folded in and removed.
    assert!(!dir.path().join("sub/history.db-wal").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o640);
        assert_eq!(mode(&dir.path().join("sub")), 0o750);
        // A reader that may not create files there (as an unprivileged
        // user would be; root ignores modes, so the test cannot drop
        // them): the immutable fallback is what it gets.
        std::fs::set_permissions(
            dir.path().join("sub"),
            std::fs::Permissions::from_mode(0o550),
        )
        .expect("chmod");
    }
    let reader = History::open_read_only(&path).expect("reader");
    assert_eq!(
        totals(&reader, DAY0, DAY0 + HOUR, Grouping::Process),
        vec![("curl".into(), 100, 0)]
    );
}
