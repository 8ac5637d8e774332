//! Reading: totals over a period grouped one way (`netop history`), and
//! per-bucket series (the dashboard's longer ranges).

use rusqlite::params;

use crate::{History, HistoryError, Kind, Traffic};

/// How `netop history` groups its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// By process name and executable; traffic without an owner is one
    /// `unknown` row.
    Process,
    /// Processes by user.
    User,
    /// Processes by container (`""`: in none).
    Container,
    /// By interface.
    Interface,
}

/// A period, as Unix seconds: rows starting in `[since, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    pub since: i64,
    pub until: i64,
    pub by: Grouping,
}

/// One group's traffic in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Total {
    /// The process name, user, container (`""` for none) or interface.
    pub key: String,
    /// By process: the executable's path (`""` when unknown, for the
    /// unknown row and for rows written before paths were kept); `""` in
    /// the other groupings.
    pub exe: String,
    pub traffic: Traffic,
}

/// One process's traffic in one bucket of a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Unix seconds at the bucket's start.
    pub start: i64,
    pub process: String,
    pub traffic: Traffic,
}

impl History {
    /// Totals per group in the period, sorted by total bytes (largest
    /// first), then by key. Rows are whole minutes (whole hours beyond the
    /// minute retention), counted when they start in the period.
    pub fn totals(&self, q: &Query) -> Result<Vec<Total>, HistoryError> {
        let (kinds, column, exe) = match q.by {
            Grouping::Process => (
                "0, 2",
                "CASE kind WHEN 2 THEN 'unknown' ELSE name END",
                "CASE kind WHEN 2 THEN '' ELSE exe END",
            ),
            Grouping::User => ("0", "user", "''"),
            Grouping::Container => ("0", "container", "''"),
            Grouping::Interface => ("1", "name", "''"),
        };
        let sql = format!(
            "SELECT {column} AS key, {exe} AS path,
                    SUM(rx_bytes), SUM(tx_bytes), SUM(rx_packets), SUM(tx_packets)
             FROM traffic JOIN labels ON labels.id = traffic.label
             WHERE start >= ?1 AND start < ?2 AND kind IN ({kinds})
             GROUP BY key, path"
        );
        let result = (|| -> rusqlite::Result<Vec<Total>> {
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![q.since, q.until], |r| {
                Ok(Total {
                    key: r.get(0)?,
                    exe: r.get(1)?,
                    traffic: Traffic {
                        rx_bytes: r.get(2)?,
                        tx_bytes: r.get(3)?,
                        rx_packets: r.get(4)?,
                        tx_packets: r.get(5)?,
                    },
                })
            })?;
            rows.collect()
        })();
        let mut totals = result.map_err(|e| self.sql(e))?;
        totals.retain(|t| !t.traffic.is_zero());
        totals.sort_by(|a, b| {
            b.traffic
                .total_bytes()
                .cmp(&a.traffic.total_bytes())
                .then_with(|| a.key.cmp(&b.key))
                .then_with(|| a.exe.cmp(&b.exe))
        });
        Ok(totals)
    }

    /// Per-process traffic in buckets of `step` seconds (a multiple of 60)
    /// over `[since, until)`, oldest first; `unknown` is one process.
    pub fn series(&self, since: i64, until: i64, step: i64) -> Result<Vec<Sample>, HistoryError> {
        let step = step.max(crate::MINUTE);
        let result = (|| -> rusqlite::Result<Vec<Sample>> {
            let mut stmt = self.conn.prepare_cached(
                "SELECT start - (start % ?3) AS bucket,
                        CASE kind WHEN 2 THEN 'unknown' ELSE name END AS process,
                        SUM(rx_bytes), SUM(tx_bytes), SUM(rx_packets), SUM(tx_packets)
                 FROM traffic JOIN labels ON labels.id = traffic.label
                 WHERE start >= ?1 AND start < ?2 AND kind IN (?4, ?5)
                 GROUP BY bucket, process
                 ORDER BY bucket, process",
            )?;
            let rows = stmt.query_map(
                params![
                    since,
                    until,
                    step,
                    Kind::Process as i64,
                    Kind::Unknown as i64
                ],
                |r| {
                    Ok(Sample {
                        start: r.get(0)?,
                        process: r.get(1)?,
                        traffic: Traffic {
                            rx_bytes: r.get(2)?,
                            tx_bytes: r.get(3)?,
                            rx_packets: r.get(4)?,
                            tx_packets: r.get(5)?,
                        },
                    })
                },
            )?;
            rows.collect()
        })();
        result.map_err(|e| self.sql(e))
    }

    /// DNS queries and failures per resolver in the period.
    pub fn dns_totals(
        &self,
        since: i64,
        until: i64,
    ) -> Result<Vec<(String, crate::DnsCounts)>, HistoryError> {
        let result = (|| -> rusqlite::Result<Vec<(String, crate::DnsCounts)>> {
            let mut stmt = self.conn.prepare_cached(
                "SELECT resolver, SUM(queries), SUM(failures) FROM dns
                 WHERE start >= ?1 AND start < ?2 GROUP BY resolver ORDER BY resolver",
            )?;
            let rows = stmt.query_map(params![since, until], |r| {
                Ok((
                    r.get(0)?,
                    crate::DnsCounts {
                        queries: r.get(1)?,
                        failures: r.get(2)?,
                    },
                ))
            })?;
            rows.collect()
        })();
        result.map_err(|e| self.sql(e))
    }
}
