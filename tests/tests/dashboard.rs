//! The dashboard in a real browser: Debian's headless Chromium loads
//! `netop serve`'s page while a process with a known name uploads in a
//! test host, and the DOM must show it: in the processes table and the
//! chart's legend, for the ranges the URL selects, paused, and focused on
//! the process (the page keeps its state in the URL, so the states a
//! click reaches are loaded directly: `--dump-dom` cannot click).
//! Screenshots at 1280x800 and at a phone's 390x844 are kept in
//! `target/tmp/dashboard/` as artifacts.
//!
//! Not root: skipped, or a failure when `CI` is set.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::Duration;

use netop_e2e::scratch::ScratchDir;
use netop_e2e::service::{chromium, get, renamed_copy, wait_for, Serve};
use netop_e2e::{begin, Netns, Proc, Scenario, Tolerance, Transport};

const TRAFFICGEN: &str = env!("CARGO_BIN_EXE_trafficgen");
const NAME: &str = "e2edash";
/// Virtual time Chromium gives the page to fetch and draw.
const BUDGET_MS: u32 = 5000;

/// The text inside the element with `id` (its first `<tbody>`, for a table).
fn section<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or(dom.len());
    let rest = &dom[start..];
    let end = rest
        .find("</table>")
        .or_else(|| rest.find("</div>"))
        .unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn chromium_shows_the_process_in_the_chart_and_the_table() {
    let Some(_session) = begin().expect("privileged session") else {
        return;
    };
    let host = Netns::create("dash", 72).expect("test host");
    let scratch = ScratchDir::new("dashboard").expect("scratch");
    let db = scratch.path().join("history/netop.db");
    let uploader = renamed_copy(Path::new(TRAFFICGEN), scratch.path(), NAME).expect("copy");
    let serve = Serve::start(&[
        "--interface",
        &host.host_if,
        "--history",
        db.to_str().expect("utf-8"),
    ])
    .expect("netop serve");

    let to = format!("{}:5001", host.ns_addr);
    let mut sink_cmd = host.command(TRAFFICGEN);
    sink_cmd.args(["sink", "--listen", &to, "--seconds", "30", "--conns", "1"]);
    let mut sink = Proc::spawn("sink", sink_cmd).expect("sink");
    sink.expect_line("ready", Duration::from_secs(10))
        .expect("ready");
    let mut scenario = Scenario::new(&host, &uploader);
    scenario
        .client(
            "upload",
            Transport::Tcp,
            [5201],
            Tolerance::within(2.0),
            [
                "stream",
                "--to",
                &to,
                "--bind-port",
                "5201",
                "--rate",
                "500000",
                "--seconds",
                "3",
            ],
        )
        .expect("uploader");
    scenario.run(None).expect("workload");
    let seen = wait_for(Duration::from_secs(20), || {
        serve.metrics().ok().filter(|m| m.contains(NAME))
    });
    assert!(seen.is_some(), "{NAME} never reached /metrics");

    // The longer ranges come from the history database, read by the HTTP
    // threads under their Landlock rules and without capabilities.
    let (status, body) = get(serve.addr, "/api/series?range=24h", &[]).expect("24h series");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"source\":\"history\""), "{body}");

    let base = format!("http://{}", serve.addr);
    for range in ["5m", "30m", "1h"] {
        let dom = chromium(&format!("{base}/?range={range}&paused=1"), BUDGET_MS, None)
            .expect("chromium");
        assert!(
            dom.contains(&format!("data-range=\"{range}\""))
                && dom.contains("data-paused=\"true\""),
            "range {range}, paused, not in the page's state:\n{dom}"
        );
        let table = section(&dom, "processes");
        assert!(
            table.contains(&format!("<td title=\"{NAME}\">{NAME}</td>")),
            "{range}: {NAME} not in the table:\n{table}"
        );
        let legend = section(&dom, "legend");
        assert!(
            legend.contains(NAME),
            "{range}: {NAME} not in the chart's legend:\n{legend}"
        );
        assert!(
            dom.contains("id=\"pause\" aria-pressed=\"true\"") && dom.contains(">resume</button>"),
            "pause not pressed:\n{dom}"
        );
    }
    // Focused on the process: the chart draws its received and sent.
    let dom = chromium(
        &format!("{base}/?range=5m&paused=1&focus={NAME}"),
        BUDGET_MS,
        None,
    )
    .expect("chromium");
    assert!(dom.contains(&format!("traffic of {NAME}")), "{dom}");
    assert!(
        section(&dom, "legend").contains(&format!("{NAME} sent")),
        "{dom}"
    );
    assert!(
        dom.contains("class=\"focus\""),
        "the table row is not marked:\n{dom}"
    );

    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&artifacts).expect("artifacts directory");
    for (width, height) in [(1280, 800), (390, 844)] {
        let png = artifacts.join(format!("dashboard-{width}x{height}.png"));
        let _ = std::fs::remove_file(&png);
        chromium(
            &format!("{base}/?range=5m&paused=1"),
            BUDGET_MS,
            Some((&png, width, height)),
        )
        .expect("screenshot");
        let bytes = std::fs::read(&png).expect("screenshot written");
        assert!(
            bytes.starts_with(b"\x89PNG"),
            "{} is not a PNG",
            png.display()
        );
        eprintln!("screenshot: {}", png.display());
    }
    drop(sink);
}
