//! `netop history`: totals of a past period from the database `netop
//! serve` keeps. It reads only: no capture, no root (a user who is not
//! root first drops the capabilities a packaged binary holds, so it never
//! reads a database it could not read itself), and a missing or
//! unreadable file is one line naming the path and the fix.

use std::io::{self, Write};

use netop_cli::{Grouping, HistoryArgs};
use netop_history::{when, History, Query};

use crate::failure::Failure;
use crate::output::history::{self, Period};
use crate::platform;

fn grouping(by: Grouping) -> netop_history::Grouping {
    match by {
        Grouping::Process => netop_history::Grouping::Process,
        Grouping::User => netop_history::Grouping::User,
        Grouping::Container => netop_history::Grouping::Container,
        Grouping::Interface => netop_history::Grouping::Interface,
    }
}

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| t.to_string())
}

pub fn run(args: &HistoryArgs) -> Result<(), Failure> {
    // A packaged binary's file capabilities must not read for its user
    // what the user could not; root reads what it likes anyway.
    platform::drop_capabilities_unless_root()?;
    let now = chrono::Utc::now().timestamp();
    let local = chrono::Local;
    let since = when::parse(&args.since, now, &local)
        .map_err(|e| Failure::Usage(format!("--since: {e}")))?;
    let until = when::parse(&args.until, now, &local)
        .map_err(|e| Failure::Usage(format!("--until: {e}")))?;
    if since >= until {
        return Err(Failure::Usage(format!(
            "--since ({}) must be before --until ({})",
            rfc3339(since),
            rfc3339(until)
        )));
    }
    let db = History::open_read_only(&args.history).map_err(|e| Failure::Runtime(e.into()))?;
    let rows = db
        .totals(&Query {
            since,
            until,
            by: grouping(args.by),
        })
        .map_err(|e| Failure::Runtime(e.into()))?;
    let period = Period {
        since: rfc3339(since),
        until: rfc3339(until),
    };
    let mut out = io::stdout().lock();
    match history::write(args.format, args.by, &period, &rows, &mut out) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::Runtime(anyhow::anyhow!(
            "cannot write output: {e}"
        ))),
    }?;
    let _ = out.flush();
    Ok(())
}
