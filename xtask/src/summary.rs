//! `cargo test` run with its output passed through, added up, and its
//! failures kept for the end of the run.
//!
//! CI keeps only the tail of a run's output, and after the tests come the
//! Python tests and fuzzing, which print thousands of lines. A failed test's
//! name and panic message would be long gone from that tail, so `cargo xtask
//! test` prints them again as its last lines (see [`Failure::recap`]).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// How many lines of a failed test's output the recap shows.
const RECAP_LINES: usize = 10;

/// One failed test: its name and what it printed.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Failure {
    pub(crate) name: String,
    output: Vec<String>,
}

impl Failure {
    /// The name and the lines around the panic (or the last lines when
    /// there is no panic), at most [`RECAP_LINES`].
    pub(crate) fn recap(&self) -> Vec<&str> {
        let start = match self.output.iter().position(|l| l.contains("panicked at")) {
            Some(at) => at.saturating_sub(2),
            None => self.output.len().saturating_sub(RECAP_LINES),
        };
        self.output
            .iter()
            .skip(start)
            .take(RECAP_LINES)
            .map(String::as_str)
            .collect()
    }
}

/// What a `cargo test` run's output added up to.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
    pub(crate) ignored: u64,
    pub(crate) failures: Vec<Failure>,
    /// Whether cargo exited with success.
    pub(crate) success: bool,
    /// Output of the failure being read (`---- NAME stdout ----`).
    open: Option<Failure>,
}

impl Tally {
    /// Reads one line of `cargo test`'s standard output.
    pub(crate) fn line(&mut self, line: &str) {
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|rest| rest.strip_suffix(" stdout ----"))
        {
            self.close();
            self.open = Some(Failure {
                name: name.to_string(),
                output: Vec::new(),
            });
            return;
        }
        if line == "failures:" || line.starts_with("test result: ") {
            self.close();
        }
        if let Some(open) = self.open.as_mut() {
            open.output.push(line.to_string());
        }
        if let Some(result) = line.strip_prefix("test result: ") {
            self.passed += count(result, "passed");
            self.failed += count(result, "failed");
            self.ignored += count(result, "ignored");
        }
    }

    fn close(&mut self) {
        if let Some(failure) = self.open.take() {
            self.failures.push(failure);
        }
    }
}

/// The number before `word` in a `test result:` line's `;`-separated parts.
fn count(result: &str, word: &str) -> u64 {
    result
        .split(';')
        .find_map(|part| {
            part.trim()
                .strip_suffix(word)?
                .trim()
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Runs `cargo test`, passing its output through, and ends with one line
/// adding up every test binary's `test result:` line, so the last line
/// says what the whole suite did (not what the last binary did). Returns
/// the tally; fails only when cargo itself could not be run or read.
pub(crate) fn run(cmd: &mut Command) -> Result<Tally> {
    eprintln!("xtask: {cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start cargo test")?;
    let stdout = child.stdout.take().context("cargo test has no stdout")?;
    let mut tally = Tally::default();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo test output")?;
        println!("{line}");
        tally.line(&line);
    }
    tally.close();
    let status = child.wait().context("waiting for cargo test")?;
    println!(
        "{} passed, {} failed, {} skipped",
        tally.passed, tally.failed, tally.ignored
    );
    tally.success = status.success();
    Ok(tally)
}

/// The last lines of `cargo xtask test`: each failed test of each pass
/// again, then an error when a pass failed.
pub(crate) fn finish(passes: &[(&str, &Tally)]) -> Result<()> {
    let mut failed = Vec::new();
    for (pass, tally) in passes {
        for failure in &tally.failures {
            println!("xtask: FAILED in the {pass} pass: {}", failure.name);
            for line in failure.recap() {
                println!("    {line}");
            }
        }
        if !tally.success {
            failed.push(if tally.failures.is_empty() {
                format!("{pass} pass (no test reported a failure: a test binary crashed or did not build; see its output)")
            } else {
                format!("{pass} pass ({} failed)", tally.failures.len())
            });
        }
    }
    if !failed.is_empty() {
        bail!("cargo test failed: {}", failed.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
running 2 tests
test a::fine ... ok
test a::broken ... FAILED

failures:

---- a::broken stdout ----
starting
sent 10 datagrams
thread 'a::broken' panicked at tests/a.rs:9:5:
assertion `left == right` failed
  left: 1
 right: 2
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    a::broken

test result: FAILED. 1 passed; 1 failed; 3 ignored; 0 measured; 0 filtered out; finished in 0.01s
";

    #[test]
    fn a_failed_test_is_kept_with_its_panic() {
        let mut tally = Tally::default();
        OUTPUT.lines().for_each(|l| tally.line(l));
        tally.close();
        assert_eq!((tally.passed, tally.failed, tally.ignored), (1, 1, 3));
        assert_eq!(tally.failures.len(), 1);
        let failure = &tally.failures[0];
        assert_eq!(failure.name, "a::broken");
        let recap = failure.recap();
        assert_eq!(recap[0], "starting");
        assert!(recap[2].starts_with("thread 'a::broken' panicked at tests/a.rs:9:5"));
        assert!(recap.contains(&"  left: 1"));
        assert!(!recap.iter().any(|l| l.contains("failures:")));
    }

    #[test]
    fn a_passing_run_keeps_nothing() {
        let mut tally = Tally::default();
        [
            "running 1 test",
            "test x ... ok",
            "test result: ok. 1 passed; 0 failed; 0 ignored",
        ]
        .iter()
        .for_each(|l| tally.line(l));
        tally.close();
        assert_eq!(tally.passed, 1);
        assert!(tally.failures.is_empty());
    }

    #[test]
    fn without_a_panic_the_last_lines_are_kept() {
        let failure = Failure {
            name: "t".into(),
            output: (0..30).map(|i| format!("line {i}")).collect(),
        };
        let recap = failure.recap();
        assert_eq!(recap.len(), RECAP_LINES);
        assert_eq!(recap[RECAP_LINES - 1], "line 29");
    }
}
