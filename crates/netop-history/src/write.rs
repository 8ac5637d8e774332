//! Writing a minute and ageing the tiers, each in one transaction.

use rusqlite::{params, OptionalExtension, Transaction};

use crate::{History, HistoryError, Label, Minute, HOUR, MINUTE};

impl History {
    /// Adds `minute` to the database (rows of the same minute already
    /// there, from a run stopped and restarted within it, are added to),
    /// then, once an hour, folds and deletes old rows; all in one
    /// transaction. `now` is Unix seconds.
    pub fn write(&mut self, minute: &Minute, now: i64) -> Result<(), HistoryError> {
        let maintain = self.maintained != Some(now.div_euclid(HOUR));
        let retention = self.retention;
        let result = (|| -> rusqlite::Result<()> {
            let tx = self.conn.transaction()?;
            let start = minute.start - minute.start.rem_euclid(MINUTE);
            for (label, t) in minute.traffic.iter().filter(|(_, t)| !t.is_zero()) {
                let id = label_id(&tx, label)?;
                tx.prepare_cached(
                    "INSERT INTO traffic (tier, start, label, rx_bytes, tx_bytes, rx_packets, tx_packets)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (tier, start, label) DO UPDATE SET
                       rx_bytes = rx_bytes + excluded.rx_bytes,
                       tx_bytes = tx_bytes + excluded.tx_bytes,
                       rx_packets = rx_packets + excluded.rx_packets,
                       tx_packets = tx_packets + excluded.tx_packets",
                )?
                .execute(params![
                    MINUTE,
                    start,
                    id,
                    t.rx_bytes,
                    t.tx_bytes,
                    t.rx_packets,
                    t.tx_packets
                ])?;
            }
            for (resolver, d) in minute
                .dns
                .iter()
                .filter(|(_, d)| d.queries != 0 || d.failures != 0)
            {
                tx.prepare_cached(
                    "INSERT INTO dns (tier, start, resolver, queries, failures)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (tier, start, resolver) DO UPDATE SET
                       queries = queries + excluded.queries,
                       failures = failures + excluded.failures",
                )?
                .execute(params![MINUTE, start, resolver, d.queries, d.failures])?;
            }
            if maintain {
                age(&tx, now, retention)?;
            }
            tx.commit()
        })();
        result.map_err(|e| self.sql(e))?;
        if maintain {
            self.maintained = Some(now.div_euclid(HOUR));
        }
        Ok(())
    }

    /// Folds and deletes old rows now (also done by [`History::write`]
    /// once an hour).
    pub fn age(&mut self, now: i64) -> Result<(), HistoryError> {
        let retention = self.retention;
        let result = (|| -> rusqlite::Result<()> {
            let tx = self.conn.transaction()?;
            age(&tx, now, retention)?;
            tx.commit()
        })();
        result.map_err(|e| self.sql(e))
    }

    /// The file's size in bytes: the database plus its write-ahead log.
    pub fn size(&self) -> u64 {
        let wal = {
            let mut p = self.path.clone().into_os_string();
            p.push("-wal");
            std::path::PathBuf::from(p)
        };
        [self.path.as_path(), wal.as_path()]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Bytes of the database's pages in use (free pages, which SQLite
    /// reuses before it grows the file, left out).
    pub fn used_bytes(&self) -> Result<u64, HistoryError> {
        let pragma = |name: &str| -> rusqlite::Result<i64> {
            self.conn
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
        };
        let used = (|| {
            Ok::<i64, rusqlite::Error>(
                (pragma("page_count")? - pragma("freelist_count")?) * pragma("page_size")?,
            )
        })();
        used.map(|b| b.max(0) as u64).map_err(|e| self.sql(e))
    }

    /// Copies the write-ahead log into the database file and empties it
    /// (SQLite does so itself every 1000 pages; for measuring sizes).
    pub fn checkpoint(&mut self) -> Result<(), HistoryError> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .map_err(|e| self.sql(e))
    }
}

/// The id of `label`, added when new.
fn label_id(tx: &Transaction<'_>, label: &Label) -> rusqlite::Result<i64> {
    let key = params![
        label.kind as i64,
        label.name,
        label.user,
        label.container,
        label.exe
    ];
    if let Some(id) = tx
        .prepare_cached(
            "SELECT id FROM labels
             WHERE kind = ?1 AND name = ?2 AND user = ?3 AND container = ?4 AND exe = ?5",
        )?
        .query_row(key, |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    tx.prepare_cached(
        "INSERT INTO labels (kind, name, user, container, exe) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(key)?;
    Ok(tx.last_insert_rowid())
}

/// Folds minute rows older than the minute retention (whole hours only)
/// into hour rows, deletes hour rows older than the hour retention, and
/// labels no row uses any more.
fn age(tx: &Transaction<'_>, now: i64, retention: crate::Retention) -> rusqlite::Result<()> {
    let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let fold_before = now.saturating_sub(secs(retention.minutes)).div_euclid(HOUR) * HOUR;
    let delete_before = now.saturating_sub(secs(retention.hours));
    tx.execute(
        "INSERT INTO traffic (tier, start, label, rx_bytes, tx_bytes, rx_packets, tx_packets)
         SELECT ?1, start - (start % ?1), label, SUM(rx_bytes), SUM(tx_bytes), SUM(rx_packets), SUM(tx_packets)
         FROM traffic WHERE tier = ?2 AND start < ?3
         GROUP BY start - (start % ?1), label
         ON CONFLICT (tier, start, label) DO UPDATE SET
           rx_bytes = rx_bytes + excluded.rx_bytes,
           tx_bytes = tx_bytes + excluded.tx_bytes,
           rx_packets = rx_packets + excluded.rx_packets,
           tx_packets = tx_packets + excluded.tx_packets",
        params![HOUR, MINUTE, fold_before],
    )?;
    tx.execute(
        "DELETE FROM traffic WHERE tier = ?1 AND start < ?2",
        params![MINUTE, fold_before],
    )?;
    tx.execute(
        "INSERT INTO dns (tier, start, resolver, queries, failures)
         SELECT ?1, start - (start % ?1), resolver, SUM(queries), SUM(failures)
         FROM dns WHERE tier = ?2 AND start < ?3
         GROUP BY start - (start % ?1), resolver
         ON CONFLICT (tier, start, resolver) DO UPDATE SET
           queries = queries + excluded.queries,
           failures = failures + excluded.failures",
        params![HOUR, MINUTE, fold_before],
    )?;
    tx.execute(
        "DELETE FROM dns WHERE tier = ?1 AND start < ?2",
        params![MINUTE, fold_before],
    )?;
    let deleted = tx.execute(
        "DELETE FROM traffic WHERE tier = ?1 AND start < ?2",
        params![HOUR, delete_before],
    )?;
    tx.execute(
        "DELETE FROM dns WHERE tier = ?1 AND start < ?2",
        params![HOUR, delete_before],
    )?;
    if deleted > 0 {
        // One scan of the traffic table (the subquery is built once).
        tx.execute(
            "DELETE FROM labels WHERE id NOT IN (SELECT DISTINCT label FROM traffic)",
            [],
        )?;
    }
    Ok(())
}
