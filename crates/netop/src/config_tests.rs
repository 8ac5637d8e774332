//! The config file: parsing and its one-line errors, where it is looked
//! for, the precedence table, and saving that keeps the user's comments.

use std::path::{Path, PathBuf};

use netop_cli::{Args, Explicit, SortColumn};

use super::layer::apply;
use super::locate::{check_owner, passwd_entry, Env, SudoUser};
use super::save::{update_text, write_atomic, Prefs};
use super::*;

const FILE: &str = "/home/alice/.config/netop/config.toml";

fn parse_ok(text: &str) -> Config {
    parse(text, Path::new(FILE)).expect("valid config")
}

fn parse_err(text: &str) -> ConfigError {
    parse(text, Path::new(FILE)).expect_err("invalid config")
}

#[test]
fn a_full_file_parses() {
    let c = parse_ok(
        r#"
# my settings
interface = "eth0"
interval = 2.5
sort = "name"
format = "json"
theme = "light"
columns = ["user", "conns"]
containers = true
dns = false
events = false

[pins]
processes = ["firefox"]
remotes = ["140.82.121.4:443"]

[alerts]
rate = "2MB"
bell = false
processes = { curl = "500K", rsync = 100000 }
"#,
    );
    assert_eq!(c.interface.as_deref(), Some("eth0"));
    assert_eq!(c.interval, Some(2.5));
    assert_eq!(c.sort, Some(Sort::Name));
    assert_eq!(c.format, Some(Format::Json));
    assert_eq!(c.theme.as_deref(), Some("light"));
    assert_eq!(c.columns, Some(vec![Column::User, Column::Conns]));
    assert_eq!(
        (c.containers, c.dns, c.events),
        (Some(true), Some(false), Some(false))
    );
    assert_eq!(c.pins.processes, vec!["firefox"]);
    assert_eq!(c.pins.remotes, vec!["140.82.121.4:443"]);
    assert_eq!(c.alerts.rate, Some(2_000_000));
    assert_eq!(c.alerts.bell, Some(false));
    assert_eq!(c.alerts.processes.get("curl"), Some(&500_000));
    assert_eq!(c.alerts.processes.get("rsync"), Some(&100_000));
}

#[test]
fn an_empty_file_is_all_defaults() {
    assert_eq!(parse_ok(""), Config::default());
}

#[test]
fn an_unknown_key_names_file_line_and_key() {
    let e = parse_err("sort = \"pid\"\ncolour = \"red\"\n");
    assert_eq!(e.line, Some(2));
    assert_eq!(e.key.as_deref(), Some("colour"));
    let line = e.to_string();
    assert!(
        line.starts_with(&format!("config file {FILE} line 2, key 'colour': ")),
        "{line}"
    );
    assert!(line.contains("unknown field"), "{line}");
    assert!(!line.contains('\n'), "one line: {line}");
}

#[test]
fn an_unknown_key_in_a_table_is_named_with_its_table() {
    let e = parse_err("[alerts]\nrate = 1000\nthreshold = 5\n");
    assert_eq!(
        (e.line, e.key.as_deref()),
        (Some(3), Some("alerts.threshold"))
    );
}

#[test]
fn a_wrong_type_names_the_key() {
    let e = parse_err("interface = \"lo\"\n\ncontainers = \"yes\"\n");
    assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("containers")));
    assert!(e.message.contains("invalid type"), "{e}");
}

#[test]
fn out_of_range_and_unknown_values_are_errors() {
    let e = parse_err("interval = 90\n");
    assert_eq!((e.line, e.key.as_deref()), (Some(1), Some("interval")));
    assert!(e.message.contains("out of range"), "{e}");
    let e = parse_err("sort = \"size\"\n");
    assert!(e.message.contains("unknown variant"), "{e}");
    let e = parse_err("theme = \"neon\"\n");
    assert!(e.message.contains("unknown theme"), "{e}");
    let e = parse_err("[alerts]\nrate = \"fast\"\n");
    assert_eq!(e.key.as_deref(), Some("alerts.rate"));
}

#[test]
fn a_syntax_error_is_one_line_with_its_line_number() {
    let e = parse_err("sort = \"pid\"\ninterval = = 2\n");
    assert_eq!(e.line, Some(2));
    assert!(!e.to_string().contains('\n'), "{e}");
}

#[test]
fn an_unreadable_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A directory where the file should be: reading it fails for anyone.
    let path = dir.path().join("config.toml");
    std::fs::create_dir(&path).expect("mkdir");
    let e = load(&path).expect_err("unreadable");
    assert!(
        e.to_string()
            .starts_with(&format!("config file {}", path.display())),
        "{e}"
    );
    assert!(e.message.contains("cannot read"), "{e}");
}

fn env() -> Env {
    Env {
        explicit: None,
        xdg_config_home: Some(PathBuf::from("/home/alice/.xdg")),
        home: Some(PathBuf::from("/home/alice")),
        sudo_user: None,
        euid: 1000,
    }
}

#[test]
fn the_user_file_comes_first_then_the_system_one() {
    assert_eq!(
        env().candidates(),
        vec![
            PathBuf::from("/home/alice/.xdg/netop/config.toml"),
            PathBuf::from("/etc/netop/config.toml")
        ]
    );
    let no_xdg = Env {
        xdg_config_home: None,
        ..env()
    };
    assert_eq!(
        no_xdg.user_path(),
        Some(PathBuf::from("/home/alice/.config/netop/config.toml"))
    );
    let explicit = Env {
        explicit: Some(PathBuf::from("/tmp/n.toml")),
        ..env()
    };
    assert_eq!(explicit.candidates(), vec![PathBuf::from("/tmp/n.toml")]);
}

#[test]
fn under_sudo_the_invoking_users_file_is_used() {
    let passwd = "root:x:0:0:root:/root:/bin/bash\nbob:x:1001:1001:Bob,,,:/home/bob:/bin/zsh\n";
    let bob = passwd_entry(passwd, "bob").expect("bob");
    assert_eq!(bob.uid, 1001);
    assert_eq!(bob.home, PathBuf::from("/home/bob"));
    assert_eq!(passwd_entry(passwd, "eve"), None);
    let sudo = Env {
        xdg_config_home: Some(PathBuf::from("/root/.config")),
        home: Some(PathBuf::from("/root")),
        sudo_user: Some(bob),
        euid: 0,
        explicit: None,
    };
    assert_eq!(
        sudo.user_path(),
        Some(PathBuf::from("/home/bob/.config/netop/config.toml"))
    );
}

#[test]
fn as_root_a_file_of_another_user_is_refused() {
    let path = Path::new(FILE);
    let root = Env { euid: 0, ..env() };
    assert!(check_owner(path, 0, &root).is_ok());
    let e = check_owner(path, 1000, &root).expect_err("another user's file");
    assert!(e.message.contains("owned by uid 1000"), "{e}");
    let sudo = Env {
        sudo_user: Some(SudoUser {
            name: "alice".into(),
            uid: 1000,
            home: "/home/alice".into(),
        }),
        ..root.clone()
    };
    assert!(
        check_owner(path, 1000, &sudo).is_ok(),
        "the sudo user's own file"
    );
    assert!(check_owner(path, 1002, &sudo).is_err());
    // Not root: whatever the user can read is theirs to use.
    assert!(check_owner(path, 1002, &env()).is_ok());
}

/// Args as the command line (and environment) would give them.
fn args(argv: &[&str]) -> Args {
    Args::try_parse_layered(std::iter::once("netop").chain(argv.iter().copied()))
        .expect("valid command line")
}

#[test]
fn precedence_defaults_then_file_then_environment_then_flags() {
    let file = parse_ok("sort = \"name\"\ninterval = 5\ntheme = \"light\"\n");
    // (command line, explicit-as-env ids, expected sort, interval, theme)
    type Case<'a> = (&'a [&'a str], &'a [&'a str], SortColumn, f64, &'a str);
    let cases: [Case; 4] = [
        (&[], &[], SortColumn::Name, 5.0, "light"),
        (&["--sort", "pid"], &[], SortColumn::Pid, 5.0, "light"),
        (&["--interval", "2"], &[], SortColumn::Name, 2.0, "light"),
        (
            &["--theme", "classic", "--sort", "traffic"],
            &[],
            SortColumn::Traffic,
            5.0,
            "classic",
        ),
    ];
    for (argv, _, sort, interval, theme) in cases {
        let mut a = args(argv);
        apply(&file, &mut a);
        assert_eq!(a.sort, sort, "{argv:?}");
        assert_eq!(a.interval, interval, "{argv:?}");
        assert_eq!(a.power.theme.as_deref(), Some(theme), "{argv:?}");
    }
    // Without a file: the defaults.
    let mut a = args(&[]);
    apply(&Config::default(), &mut a);
    assert_eq!(
        (a.sort, a.interval, a.power.theme.clone()),
        (SortColumn::Traffic, 1.0, None)
    );
}

#[test]
fn the_environment_beats_the_file() {
    // An environment value is explicit (clap's EnvVariable source); the
    // file does not override it.
    let file = parse_ok("sort = \"name\"\n");
    let mut a = args(&[]);
    a.sort = SortColumn::Connections;
    a.power.explicit = Explicit::from_ids(&["sort"]);
    apply(&file, &mut a);
    assert_eq!(a.sort, SortColumn::Connections);
}

#[test]
fn switches_from_the_file() {
    let file =
        parse_ok("containers = true\ndns = false\nevents = false\n[alerts]\nrate = \"1M\"\n");
    let mut a = args(&[]);
    let extras = apply(&file, &mut a);
    assert!(a.containers && a.no_dns && a.no_events);
    assert_eq!(a.power.alert, Some(1_000_000));
    assert!(extras.bell);
    let mut a = args(&["--alert", "5K"]);
    apply(&file, &mut a);
    assert_eq!(a.power.alert, Some(5_000));
}

const COMMENTED: &str = r#"# netop settings, by hand
sort = "pid"   # what I like
interval = 2

[pins]
# my browser
processes = ["firefox"] # always on top
"#;

#[test]
fn saving_keeps_comments_and_other_keys() {
    let prefs = Prefs {
        sort: Some("name"),
        theme: Some("monochrome".into()),
        pinned_processes: vec!["firefox".into(), "curl".into()],
        pinned_remotes: vec!["1.2.3.4:443".into()],
    };
    let out = update_text(COMMENTED, &prefs).expect("updated");
    assert!(out.starts_with("# netop settings, by hand\n"), "{out}");
    assert!(out.contains("sort = \"name\"   # what I like"), "{out}");
    assert!(out.contains("interval = 2\n"), "{out}");
    assert!(out.contains("# my browser\n"), "{out}");
    assert!(out.contains("# always on top"), "{out}");
    let back = parse_ok(&out);
    assert_eq!(back.sort, Some(Sort::Name));
    assert_eq!(back.theme.as_deref(), Some("monochrome"));
    assert_eq!(back.pins.processes, vec!["firefox", "curl"]);
    assert_eq!(back.pins.remotes, vec!["1.2.3.4:443"]);
    assert_eq!(back.interval, Some(2.0));
}

#[test]
fn saving_is_atomic_and_only_into_an_existing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    let prefs = Prefs {
        sort: Some("pid"),
        ..Prefs::default()
    };
    assert!(
        !save::save(&path, &prefs).expect("no file: nothing"),
        "reported a save"
    );
    assert!(
        !path.exists(),
        "netop created a config file nobody asked for"
    );
    std::fs::write(&path, COMMENTED).expect("write");
    write_atomic(&path, b"sort = \"name\"\n").expect("atomic write");
    assert!(save::save(&path, &prefs).expect("saved"));
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "sort = \"pid\"\n"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name() != "config.toml")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn the_owner_mode_comes_from_the_file_unless_a_flag_says() {
    let file = parse_ok("owners = \"tracepoint\"\n");
    let mut a = args(&[]);
    apply(&file, &mut a);
    assert_eq!(a.owners, netop_cli::OwnersChoice::Tracepoint);
    let mut a = args(&["--owners", "polling"]);
    a.power.explicit = Explicit::from_ids(&["owners"]);
    apply(&file, &mut a);
    assert_eq!(a.owners, netop_cli::OwnersChoice::Polling);
    assert!(
        parse("owners = \"ebpf\"\n", Path::new("netop.toml")).is_err(),
        "an unknown mode is refused"
    );
}
