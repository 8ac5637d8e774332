//! The man page `netop.1`, built from the clap definitions in `netop-cli`
//! (name, synopsis, options: clap_mangen) plus the sections clap has no
//! field for (modes, keys, output formats, exit status, files,
//! environment, examples), written here with roff. The exit status and
//! the examples come from the same constants `--help` prints.

use clap_mangen::roff::{bold, italic, roman, Roff};
use clap_mangen::Man;

/// The whole page as roff source.
pub fn render() -> anyhow::Result<String> {
    // Without `after_help`: the examples and exit codes get sections of
    // their own below instead of clap_mangen's catch-all EXTRA.
    let cmd = netop_cli::bare_command();
    let version = cmd.get_version().unwrap_or_default().to_string();
    let man = Man::new(cmd)
        .source(format!("netop {version}"))
        .manual("User Commands");
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    description().to_writer(&mut out)?;
    modes().to_writer(&mut out)?;
    man.render_options_section(&mut out)?;
    subcommands().to_writer(&mut out)?;
    keys().to_writer(&mut out)?;
    formats().to_writer(&mut out)?;
    exit_status().to_writer(&mut out)?;
    permissions().to_writer(&mut out)?;
    files().to_writer(&mut out)?;
    environment().to_writer(&mut out)?;
    examples().to_writer(&mut out)?;
    see_also().to_writer(&mut out)?;
    let page = String::from_utf8(out)?;
    Ok(one_preamble(&page))
}

/// Each roff rendering starts with the same apostrophe preamble (two
/// lines); the page needs it once.
fn one_preamble(page: &str) -> String {
    let preamble: String = page.lines().take(2).map(|l| format!("{l}\n")).collect();
    let rest = &page[preamble.len()..];
    format!("{preamble}{}", rest.replace(&preamble, ""))
}

fn section(roff: &mut Roff, title: &str) {
    roff.control("SH", [title]);
}

/// A tagged paragraph: `tag` in bold, then the text.
fn item(roff: &mut Roff, tag: &str, text: &str) {
    roff.control("TP", []);
    roff.text([bold(tag)]);
    roff.text([roman(text)]);
}

fn paragraph(roff: &mut Roff, text: &str) {
    roff.control("PP", []);
    roff.text([roman(text)]);
}

fn description() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "DESCRIPTION");
    r.text([roman(
        "netop shows which processes use the network, who they talk to, and how much \
         bandwidth each one takes. It captures packet headers with libpcap, finds the \
         socket and process behind each flow (an eBPF event source, netlink sock_diag \
         and /proc on Linux) and adds up bytes per process, including connections that \
         live for a few milliseconds.",
    )]);
    paragraph(
        &mut r,
        "Bytes are counted as the interface counts them: the IP packet plus the \
         interface's link-layer header (14 bytes on Ethernet, veth and loopback). \
         Traffic whose owner could not be found is reported as unknown, split by reason \
         (forwarded, no_listener, kernel, owner_gone, namespace).",
    );
    r
}

fn modes() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "MODES");
    item(
        &mut r,
        "monitor",
        "The default without --duration: a full-screen view with Process, Connection, \
         Interface and DNS tabs, refreshed every --interval seconds. Needs a terminal.",
    );
    item(
        &mut r,
        "snapshot (--duration SECONDS)",
        "Collect for SECONDS, print one table in the --format chosen, exit. Made for \
         pipelines, cron jobs and scripts. Ctrl-C ends it early and prints what was \
         collected.",
    );
    item(
        &mut r,
        "DNS log (--duration SECONDS --dns-log)",
        "A snapshot of the DNS queries of the period, with the process that asked, \
         instead of the process table.",
    );
    item(
        &mut r,
        "stream (--format ndjson)",
        "One JSON object a line per --interval (per-process deltas and totals, unknown by \
         reason, interfaces), until stopped or for --duration. A closed pipe ends it \
         with status 0.",
    );
    item(
        &mut r,
        "service (netop serve)",
        "Capture continuously, keep per-process history in a database, serve /metrics \
         and a live dashboard over HTTP. See SUBCOMMANDS.",
    );
    item(
        &mut r,
        "history (netop history)",
        "Per-process totals of a past period from the database netop serve keeps; no \
         root needed. See SUBCOMMANDS.",
    );
    item(
        &mut r,
        "diagnostics (--diagnostics)",
        "Print whether netop may capture, whether it can see other users' processes and \
         other network namespaces, and how it finds socket owners here (events, \
         tracepoint or polling, and why), then exit.",
    );
    r
}

/// `netop serve` and `netop history` with their options, from their clap
/// definitions (the capture flags they share are the global ones above).
fn subcommands() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "SUBCOMMANDS");
    let cmd = netop_cli::bare_command();
    for sub in cmd.get_subcommands() {
        let name = sub.get_name();
        r.control("SS", [format!("netop {name}").as_str()]);
        if let Some(about) = sub.get_about() {
            r.text([roman(about.to_string())]);
        }
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" {
                continue;
            }
            let takes_value = arg.get_action().takes_values();
            let mut tag = format!("--{long}");
            if let Some(value) = arg
                .get_value_names()
                .and_then(|v| v.first())
                .filter(|_| takes_value)
            {
                tag.push_str(&format!(" <{value}>"));
            }
            let mut text = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .filter(|_| takes_value)
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            if !defaults.is_empty() {
                text.push_str(&format!(" [default: {}]", defaults.join(", ")));
            }
            let values: Vec<String> = arg
                .get_possible_values()
                .iter()
                .filter(|_| takes_value)
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_string())
                .collect();
            if !values.is_empty() {
                text.push_str(&format!(" [possible values: {}]", values.join(", ")));
            }
            item(&mut r, &tag, &text);
        }
    }
    paragraph(
        &mut r,
        "netop serve listens on 127.0.0.1:9474 unless told: / is the dashboard, /metrics \
         the Prometheus text format or OpenMetrics (by the Accept header), /api/series, \
         /api/live and /api/dns what the dashboard reads. After start-up it runs as the \
         user netop (or nobody), keeping only the capabilities its capture thread needs. \
         Ctrl-C and SIGTERM write the minute in progress and exit 0.",
    );
    r
}

fn keys() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "KEYS");
    r.text([roman("In the monitor:")]);
    for (key, action) in [
        (
            "q, Ctrl-C",
            "quit (the terminal is restored, also on SIGTERM)",
        ),
        (
            "Tab, Shift-Tab, 1-4",
            "next or previous view: Process, Connection, Interface, DNS",
        ),
        (
            "/",
            "filter by process name, remote address or DNS name; Enter applies, Esc cancels",
        ),
        ("Esc", "clear the active filter"),
        ("s, S", "next sort column, reverse the order"),
        ("Up, Down, PgUp, PgDn, Home, End", "move the selection"),
        (
            "Enter",
            "expand or collapse a process into its sockets and connections",
        ),
        ("?", "help; the mouse wheel scrolls and a click selects"),
        (
            "w",
            "Process and Connection views: sparklines, or 2 s, 10 s and 40 s average rates",
        ),
        (
            "p",
            "pin or unpin the selected process (by name) or connection (by remote endpoint): \
             kept on top, saved in the config file",
        ),
        ("t", "next theme (saved in the config file)"),
        (
            "e, E",
            "export the current view to a timestamped TSV or JSON file in the working \
             directory (or export_dir)",
        ),
        ("n", "ports as service names or numbers"),
    ] {
        item(&mut r, key, action);
    }
    r
}

fn formats() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "OUTPUT FORMATS");
    item(
        &mut r,
        "tsv",
        "A header row \"pid process rx_bytes tx_bytes rx_packets tx_packets\", then one \
         row per process, sorted by rx_bytes + tx_bytes, descending. Traffic without an \
         owner is one row with pid \"-\" and name \"unknown\". No comments, no colours.",
    );
    item(
        &mut r,
        "json",
        "An array of objects with the same fields in the same order; the unknown row has \
         \"pid\": null and a \"reasons\" array splitting its bytes by why they have no owner. \
         On macOS, a process that others moved bytes for (PKTAP's delegated traffic) has a \
         \"delegates\" array of their pids and names.",
    );
    item(
        &mut r,
        "pretty",
        "The same table for people, with IEC units and a TOTAL line.",
    );
    paragraph(
        &mut r,
        "With --containers, TSV gains a last container column, JSON a \"container\" field \
         and pretty a CONTAINER column. With --dns-log the columns are time, pid, process, \
         query, type, response, latency_ms, resolver and status.",
    );
    r
}

fn exit_status() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "EXIT STATUS");
    for line in netop_cli::EXIT_CODES.lines().skip(1) {
        if let Some((code, meaning)) = line.trim().split_once(' ') {
            item(&mut r, code, meaning.trim());
        }
    }
    r
}

fn permissions() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "PERMISSIONS");
    r.text([roman(
        "Capture needs root, or CAP_NET_RAW and CAP_NET_ADMIN. The eBPF event source \
         needs CAP_BPF and CAP_PERFMON; seeing the sockets of other users' processes \
         needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH. The distribution packages give \
         these capabilities to ",
    )]);
    r.text([
        bold("/usr/bin/netop"),
        roman(", which only members of the group "),
    ]);
    r.text([
        bold("netop"),
        roman(
            " may run (root:netop, mode 0750): add a user with \"usermod -aG netop USER\" \
             and log in again. Others get \"Permission denied\" from their shell.",
        ),
    ]);
    r
}

fn files() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "FILES");
    for (file, what) in [
        (
            "/proc/net, /proc/PID/fd, /proc/PID/comm, /proc/PID/cgroup",
            "sockets, their owners, process names and containers",
        ),
        (
            "/sys/kernel/btf/vmlinux",
            "the kernel's BTF, needed by the eBPF event source",
        ),
        (
            "/sys/class/net/*/statistics",
            "interface counters (the Interface view)",
        ),
        (
            "/etc/resolv.conf, /run/systemd/resolve/",
            "the configured DNS resolvers",
        ),
        ("/run/netns", "named network namespaces"),
        (
            "/var/lib/netop/history.db",
            "netop serve's history (SQLite), read by netop history",
        ),
        (
            "/usr/lib/systemd/system/netop.service",
            "the systemd unit of netop serve (installed disabled by the packages)",
        ),
        (
            "$XDG_CONFIG_HOME/netop/config.toml, ~/.config/netop/config.toml",
            "the user's config file (under sudo, the invoking user's); see the README's \
             \"The config file\" for its keys",
        ),
        (
            "/etc/netop/config.toml",
            "the system-wide config file, used when the user has none",
        ),
        (
            "/etc/services",
            "service names of ports (a built-in table without it)",
        ),
    ] {
        item(&mut r, file, what);
    }
    r
}

fn environment() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "ENVIRONMENT");
    item(
        &mut r,
        "NO_COLOR",
        "when set to any value, no colour (as --no-color)",
    );
    item(
        &mut r,
        "NETOP_CONFIG",
        "the config file to read instead of the usual places (it must exist)",
    );
    for (flag, var) in netop_cli::ENVIRONMENT {
        item(
            &mut r,
            var,
            &format!(
                "the value of --{flag} when the command line gives none (over the config file)"
            ),
        );
    }
    item(
        &mut r,
        "RUST_LOG",
        "diagnostics on stderr, e.g. RUST_LOG=debug (default: warnings; none under the monitor)",
    );
    r
}

fn examples() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "EXAMPLES");
    r.control("nf", []);
    for line in netop_cli::EXAMPLES.lines().skip(1) {
        if line.is_empty() {
            r.control("fi", []);
            r.control("PP", []);
            r.control("nf", []);
        } else {
            r.text([roman(line)]);
        }
    }
    r.control("fi", []);
    r
}

fn see_also() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "SEE ALSO");
    r.text([
        italic("tcpdump"),
        roman("(8), "),
        italic("pcap"),
        roman("(3PCAP), "),
        italic("capabilities"),
        roman("(7), "),
        italic("setcap"),
        roman("(8)"),
    ]);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Long options in `--help` (hidden ones are in neither).
    fn help_options() -> Vec<String> {
        let help = netop_cli::command().render_long_help().to_string();
        long_options(&help)
    }

    /// The long options that start a line (an option's tag), from help
    /// text or roff with its escapes removed.
    fn long_options(text: &str) -> Vec<String> {
        let plain = text
            .replace("\\-", "-")
            .replace("\\fB", "")
            .replace("\\fR", "")
            .replace("\\fI", "");
        let mut found: Vec<String> = plain
            .lines()
            .filter_map(|line| {
                let line = line.trim_start();
                let line = line.split_once(", ").map_or(line, |(_, rest)| rest);
                let name = line.strip_prefix("--")?;
                let name: String = name
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                (!name.is_empty()).then_some(name)
            })
            .collect();
        found.sort();
        found.dedup();
        found
    }

    #[test]
    fn man_page_lists_the_options_help_lists() {
        let page = render().expect("man page");
        let options = page.split(".SH OPTIONS").nth(1).expect("OPTIONS section");
        let options = options.split("\n.SH ").next().unwrap_or_default();
        let tagged: Vec<&str> = options
            .lines()
            .skip_while(|l| *l != ".TP")
            .collect::<Vec<_>>();
        let man = long_options(&tagged.join("\n"));
        assert_eq!(man, help_options());
        assert!(man.contains(&"completions".to_string()), "{man:?}");
    }

    #[test]
    fn man_page_has_the_guides_sections() {
        let page = render().expect("man page");
        for title in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "MODES",
            "OPTIONS",
            "KEYS",
            "\"OUTPUT FORMATS\"",
            "\"EXIT STATUS\"",
            "FILES",
            "ENVIRONMENT",
            "EXAMPLES",
        ] {
            assert!(page.contains(&format!(".SH {title}\n")), "no {title}");
        }
        assert_eq!(page.matches(".ie \\n(.g").count(), 1, "one preamble");
        assert!(page.contains(".B 3\n") || page.contains("\\fB3\\fR"));
    }
}
