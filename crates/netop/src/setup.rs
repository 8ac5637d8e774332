//! `netop setup`: the interactive first run. It lists the interfaces
//! with their addresses and current traffic (kernel counters read twice,
//! a second apart), asks four questions (default interface, snapshot
//! format, containers, theme), writes the config file and prints its path.
//! `--reset` removes the file. Without a terminal it refuses: a script
//! should write the file itself.
//!
//! It runs before any capture and needs no privileges. Under sudo the file
//! goes to the invoking user's config directory and is given to them.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::Context;
use netop::config::locate::Env;
use netop_cli::SetupArgs;
use netop_core::InterfaceInfo;

use crate::failure::Failure;
use crate::platform;

pub fn run(args: &SetupArgs) -> Result<(), Failure> {
    let env = Env::current();
    let path = env
        .user_path()
        .context("no config directory: set HOME or XDG_CONFIG_HOME")?;
    let mut out = io::stdout().lock();
    if args.reset {
        match std::fs::remove_file(&path) {
            Ok(()) => writeln!(out, "removed {}", path.display()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                writeln!(out, "no config file at {}", path.display())
            }
            Err(e) => {
                return Err(Failure::Runtime(anyhow::anyhow!(
                    "cannot remove {}: {e}",
                    path.display()
                )))
            }
        }
        .context("writing to stdout")?;
        return Ok(());
    }
    if !io::stdin().is_terminal() || !io::stdout().is_terminal() {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "netop setup asks questions and needs a terminal; write {} yourself instead (see the README, \"The config file\")",
            path.display()
        )));
    }
    let interfaces = platform::interfaces_with_rates();
    let mut input = io::stdin().lock();
    let answers = ask(&mut input, &mut out, &interfaces, &path).context("reading the answers")?;
    let Some(text) = answers else {
        writeln!(out, "nothing written").context("writing to stdout")?;
        return Ok(());
    };
    write_config(&path, &text, &env).with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(out, "wrote {}", path.display()).context("writing to stdout")?;
    Ok(())
}

/// One interface as listed: name, state, addresses, rates.
pub fn describe(i: &InterfaceInfo, rate: Option<(u64, u64)>) -> String {
    let addrs: Vec<String> = i.addrs.iter().map(ToString::to_string).collect();
    let traffic = match rate {
        Some((rx, tx)) => format!(
            "↓{} ↑{}",
            netop::tui::format::rate(rx),
            netop::tui::format::rate(tx)
        ),
        None => "traffic unknown".to_string(),
    };
    format!(
        "{:<12} {:<4} {:<36} {traffic}",
        i.name,
        if i.up { "up" } else { "down" },
        if addrs.is_empty() {
            "(no address)".to_string()
        } else {
            addrs.join(", ")
        }
    )
}

/// The questions; `None` when the user keeps an existing file.
fn ask(
    input: &mut impl BufRead,
    out: &mut impl Write,
    interfaces: &[(InterfaceInfo, Option<(u64, u64)>)],
    path: &Path,
) -> io::Result<Option<String>> {
    writeln!(
        out,
        "netop setup: a few questions, saved to {}",
        path.display()
    )?;
    if path.exists()
        && !yes_no(
            input,
            out,
            &format!("{} exists; replace it?", path.display()),
            false,
        )?
    {
        return Ok(None);
    }
    writeln!(out, "\nInterfaces (current traffic):")?;
    writeln!(out, "  0  all interfaces")?;
    for (n, (i, rate)) in interfaces.iter().enumerate() {
        writeln!(out, "  {:<2} {}", n + 1, describe(i, *rate))?;
    }
    let interface = loop {
        let answer = prompt(input, out, "Default interface (number or name) [0 = all]: ")?;
        if answer.is_empty() || answer == "0" {
            break None;
        }
        if let Ok(n) = answer.parse::<usize>() {
            if let Some((i, _)) = interfaces.get(n.wrapping_sub(1)) {
                break Some(i.name.clone());
            }
        } else if interfaces.iter().any(|(i, _)| i.name == answer) {
            break Some(answer);
        }
        writeln!(out, "  no interface {answer:?}")?;
    };
    let format = choose(
        input,
        out,
        "Default snapshot format",
        &["tsv", "json", "pretty"],
    )?;
    let containers = yes_no(input, out, "Show containers (--containers)?", false)?;
    let theme = choose(input, out, "Theme", &netop_cli::THEMES)?;
    let mut text = String::from(
        "# netop settings, written by `netop setup` (`netop setup --reset` removes this file).\n\
         # Every key is in the README's \"The config file\"; flags and NETOP_* variables win.\n",
    );
    if let Some(name) = interface {
        text.push_str(&format!("interface = {}\n", toml_string(&name)));
    }
    text.push_str(&format!("format = \"{format}\"\n"));
    text.push_str(&format!("containers = {containers}\n"));
    text.push_str(&format!("theme = \"{theme}\"\n"));
    Ok(Some(text))
}

fn prompt(input: &mut impl BufRead, out: &mut impl Write, question: &str) -> io::Result<String> {
    write!(out, "{question}")?;
    out.flush()?;
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "input ended"));
    }
    Ok(line.trim().to_string())
}

/// One of `choices` (the first by default).
fn choose(
    input: &mut impl BufRead,
    out: &mut impl Write,
    question: &str,
    choices: &[&'static str],
) -> io::Result<&'static str> {
    loop {
        let answer = prompt(
            input,
            out,
            &format!("{question} ({}) [{}]: ", choices.join("/"), choices[0]),
        )?;
        if answer.is_empty() {
            return Ok(choices[0]);
        }
        if let Some(c) = choices.iter().find(|c| c.eq_ignore_ascii_case(&answer)) {
            return Ok(c);
        }
        writeln!(out, "  please answer one of: {}", choices.join(", "))?;
    }
}

fn yes_no(
    input: &mut impl BufRead,
    out: &mut impl Write,
    question: &str,
    default: bool,
) -> io::Result<bool> {
    let hint = if default { "Y/n" } else { "y/N" };
    loop {
        match prompt(input, out, &format!("{question} ({hint}): "))?
            .to_lowercase()
            .as_str()
        {
            "" => return Ok(default),
            "y" | "yes" => return Ok(true),
            "n" | "no" => return Ok(false),
            _ => writeln!(out, "  please answer y or n")?,
        }
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    toml_edit::Value::from(s).to_string().trim().to_string()
}

/// Writes the file (atomically), creating its directory; under sudo both
/// are given to the invoking user.
fn write_config(path: &Path, text: &str, env: &Env) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let created = !dir.exists();
    std::fs::create_dir_all(dir)?;
    netop::config::save::write_atomic(path, text.as_bytes())?;
    if let Some(user) = &env.sudo_user {
        let gid = std::fs::metadata(&user.home)
            .map(|m| std::os::unix::fs::MetadataExt::gid(&m))
            .ok();
        if created {
            std::os::unix::fs::chown(dir, Some(user.uid), gid)?;
        }
        std::os::unix::fs::chown(path, Some(user.uid), gid)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(name: &str) -> InterfaceInfo {
        InterfaceInfo {
            index: 2,
            name: name.into(),
            up: true,
            addrs: vec!["192.0.2.5".parse().expect("ip")],
            ..Default::default()
        }
    }

    #[test]
    fn answers_become_a_config_file_the_parser_accepts() {
        let interfaces = vec![(iface("lo"), Some((10, 20))), (iface("eth0"), None)];
        let mut input = io::Cursor::new("9\n2\nxml\njson\ny\nlight\n");
        let mut out = Vec::new();
        let text = ask(
            &mut input,
            &mut out,
            &interfaces,
            Path::new("/nonexistent/c.toml"),
        )
        .expect("answers")
        .expect("a file");
        let screen = String::from_utf8(out).expect("utf-8");
        assert!(
            screen.contains("eth0") && screen.contains("192.0.2.5"),
            "{screen}"
        );
        assert!(screen.contains("no interface \"9\""), "{screen}");
        assert!(screen.contains("please answer one of"), "{screen}");
        let config = netop::config::parse(&text, Path::new("c.toml")).expect("valid");
        assert_eq!(config.interface.as_deref(), Some("eth0"));
        assert_eq!(config.format, Some(netop::config::Format::Json));
        assert_eq!(config.containers, Some(true));
        assert_eq!(config.theme.as_deref(), Some("light"));
    }

    #[test]
    fn defaults_on_enter() {
        let mut input = io::Cursor::new("\n\n\n\n");
        let text = ask(
            &mut input,
            &mut Vec::new(),
            &[],
            Path::new("/nonexistent/c.toml"),
        )
        .expect("answers")
        .expect("a file");
        let config = netop::config::parse(&text, Path::new("c.toml")).expect("valid");
        assert_eq!(config.interface, None);
        assert_eq!(config.format, Some(netop::config::Format::Tsv));
        assert_eq!(config.containers, Some(false));
        assert_eq!(config.theme.as_deref(), Some("default"));
    }
}
