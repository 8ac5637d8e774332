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

#[test]
fn processes_of_one_name_with_two_executables_are_two_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut h = open(&dir);
    let system = Label::process("python3", "alice", None).with_exe(Some("/usr/bin/python3.11"));
    let venv =
        Label::process("python3", "alice", None).with_exe(Some("/home/alice/venv/bin/python3"));
    for m in 0..3 {
        h.write(
            &minute(
                DAY0 + m * MINUTE,
                &[
                    (system.clone(), traffic(100, 1)),
                    (venv.clone(), traffic(5000, 2)),
                ],
            ),
            DAY0 + m * MINUTE + 60,
        )
        .expect("write");
    }
    let q = Query {
        since: DAY0,
        until: DAY0 + HOUR,
        by: Grouping::Process,
    };
    let rows: Vec<(String, String, i64)> = h
        .totals(&q)
        .expect("totals")
        .into_iter()
        .map(|t| (t.key, t.exe, t.traffic.rx_bytes))
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "python3".into(),
                "/home/alice/venv/bin/python3".into(),
                15_000
            ),
            ("python3".into(), "/usr/bin/python3.11".into(), 300),
        ]
    );
    // By user the two add up; the path is a process's only.
    let by_user = h
        .totals(&Query {
            by: Grouping::User,
            ..q
        })
        .expect("totals");
    assert_eq!(by_user.len(), 1);
    assert_eq!(
        (by_user[0].exe.as_str(), by_user[0].traffic.rx_bytes),
        ("", 15_300)
    );
}

/// A version-1 file as netop 0.1's serve left it: labels without paths.
fn version_1_file(path: &std::path::Path) {
    let conn = Connection::open(path).expect("open");
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE labels (
             id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, name TEXT NOT NULL,
             user TEXT NOT NULL, container TEXT NOT NULL,
             UNIQUE (kind, name, user, container));
         CREATE TABLE traffic (
             tier INTEGER NOT NULL, start INTEGER NOT NULL, label INTEGER NOT NULL,
             rx_bytes INTEGER NOT NULL, tx_bytes INTEGER NOT NULL,
             rx_packets INTEGER NOT NULL, tx_packets INTEGER NOT NULL,
             PRIMARY KEY (tier, start, label)) WITHOUT ROWID;
         CREATE TABLE dns (
             tier INTEGER NOT NULL, start INTEGER NOT NULL, resolver TEXT NOT NULL,
             queries INTEGER NOT NULL, failures INTEGER NOT NULL,
             PRIMARY KEY (tier, start, resolver)) WITHOUT ROWID;
         INSERT INTO meta VALUES ('schema', '1');
         INSERT INTO labels VALUES (7, 0, 'curl', 'alice', '');
         INSERT INTO labels VALUES (9, 1, 'eth0', '', '');
         INSERT INTO traffic VALUES (60, {DAY0}, 7, 1000, 10, 1, 1);
         INSERT INTO traffic VALUES (60, {DAY0}, 9, 1000, 10, 1, 1);
         PRAGMA wal_checkpoint(TRUNCATE);"
    ))
    .expect("version 1 tables");
}

#[test]
fn a_version_1_file_is_read_as_it_is_and_migrated_by_the_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("history.db");
    version_1_file(&path);
    let q = Query {
        since: DAY0,
        until: DAY0 + HOUR,
        by: Grouping::Process,
    };
    // A reader needs no write access: the old file is read through a view.
    let old = History::open_read_only(&path).expect("a version-1 file opens");
    let rows = old.totals(&q).expect("totals");
    assert_eq!(
        rows.iter()
            .map(|t| (t.key.as_str(), t.exe.as_str(), t.traffic.rx_bytes))
            .collect::<Vec<_>>(),
        vec![("curl", "", 1000)]
    );
    let version: String = old
        .conn
        .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
            r.get(0)
        })
        .expect("schema");
    assert_eq!(version, "1", "a reader changed the file");
    drop(old);
    // The writer migrates: old rows keep their label (no path), new ones
    // carry theirs, in separate rows.
    let mut h = History::create(&path, Retention::default()).expect("migrated");
    h.write(
        &minute(
            DAY0 + MINUTE,
            &[(curl().with_exe(Some("/usr/bin/curl")), traffic(500, 5))],
        ),
        DAY0 + 2 * MINUTE,
    )
    .expect("write after migration");
    let rows: Vec<(String, String, i64)> = h
        .totals(&q)
        .expect("totals")
        .into_iter()
        .map(|t| (t.key, t.exe, t.traffic.rx_bytes))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("curl".into(), String::new(), 1000),
            ("curl".into(), "/usr/bin/curl".into(), 500),
        ]
    );
    assert_eq!(
        totals(&h, DAY0, DAY0 + HOUR, Grouping::Interface),
        vec![("eth0".to_string(), 1000, 10)],
        "label ids survive the migration"
    );
    drop(h);
    let reopened = History::open_read_only(&path).expect("version 2");
    let version: String = reopened
        .conn
        .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
            r.get(0)
        })
        .expect("schema");
    assert_eq!(version, schema::VERSION.to_string());
}

#[test]
fn a_file_from_a_newer_netop_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(open(&dir));
    let written = dir.path().join("sub/history.db");
    let conn = Connection::open(&written).expect("open");
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema'", [])
        .expect("future schema");
    drop(conn);
    for err in [
        History::open_read_only(&written).expect_err("newer file read"),
        History::create(&written, Retention::default()).expect_err("newer file written"),
    ] {
        assert!(matches!(err, HistoryError::Schema { .. }), "{err}");
    }
}
