//! `netop setup` end to end: the built binary in a pseudo-terminal
//! (expectrl), answered as a user types, then the file it wrote read back
//! by the config parser; `--reset`; and the refusal without a terminal.
//! No privileges needed (interfaces and their counters are readable).

use std::process::Command;
use std::time::Duration;

use expectrl::{Eof, Expect, Session};
use predicates::prelude::*;

fn setup(config: &std::path::Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_netop"));
    cmd.arg("setup")
        .args(extra)
        .env("NETOP_CONFIG", config)
        .env_remove("RUST_LOG");
    cmd
}

#[test]
fn issue_14_setup_asks_writes_the_config_and_reset_removes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("netop").join("config.toml");
    let mut session = Session::spawn(setup(&config, &[])).expect("spawn in a pty");
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    session
        .expect("Interfaces (current traffic):")
        .expect("the interface list");
    // The loopback interface is listed with its address.
    session.expect("127.0.0.1").expect("lo's address");
    session.expect("Default interface").expect("question 1");
    session.send_line("lo").expect("answer");
    session
        .expect("Default snapshot format")
        .expect("question 2");
    session.send_line("yaml").expect("a wrong answer");
    session.expect("please answer one of").expect("asked again");
    session.send_line("json").expect("answer");
    session.expect("Show containers").expect("question 3");
    session.send_line("y").expect("answer");
    session.expect("Theme").expect("question 4");
    session.send_line("classic").expect("answer");
    session
        .expect(format!("wrote {}", config.display()).as_str())
        .expect("the path");
    session.expect(Eof).expect("exit");

    let text = std::fs::read_to_string(&config).expect("the config file");
    let parsed = netop::config::parse(&text, &config).expect("a valid config");
    assert_eq!(parsed.interface.as_deref(), Some("lo"));
    assert_eq!(parsed.format, Some(netop::config::Format::Json));
    assert_eq!(parsed.containers, Some(true));
    assert_eq!(parsed.theme.as_deref(), Some("classic"));

    // A second run offers to keep it.
    let mut session = Session::spawn(setup(&config, &[])).expect("spawn in a pty");
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    session.expect("exists; replace it?").expect("the question");
    session.send_line("n").expect("answer");
    session.expect("nothing written").expect("kept");
    session.expect(Eof).expect("exit");
    assert_eq!(std::fs::read_to_string(&config).expect("still there"), text);

    assert_cmd::Command::from_std(setup(&config, &["--reset"]))
        .assert()
        .success()
        .stdout(format!("removed {}\n", config.display()));
    assert!(!config.exists());
    assert_cmd::Command::from_std(setup(&config, &["--reset"]))
        .assert()
        .success()
        .stdout(predicate::str::starts_with("no config file at"));
}

#[test]
fn issue_14_setup_refuses_without_a_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    assert_cmd::Command::from_std(setup(&config, &[]))
        .write_stdin("0\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("needs a terminal"))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    assert!(!config.exists());
}
