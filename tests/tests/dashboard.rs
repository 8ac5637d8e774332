//! The dashboard in a real browser, used as a person uses it: Debian's
//! headless Chromium, driven by its chromedriver over WebDriver, loads
//! `netop serve`'s page while a process with a known name uploads in a
//! test host. The test clicks the process's row to focus it, clicks range
//! selectors, hovers the chart for its values, clicks pause and checks the
//! canvas's pixels stop changing while the stream goes on (and change again
//! after resume), scrolls back in time while paused, and looks at the page
//! at 1280x800 and at a phone's 390x844 (no sideways scrolling, the
//! process in the table). Screenshots of each step are kept in
//! `target/tmp/dashboard/` as artifacts.
//!
//! Not root: skipped, or a failure when `CI` is set.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use netop_e2e::scratch::ScratchDir;
use netop_e2e::service::{get, renamed_copy, wait_for, Serve};
use netop_e2e::webdriver::{Browser, Element};
use netop_e2e::{begin, Netns, Proc};
use serde_json::{json, Value};

const TRAFFICGEN: &str = env!("CARGO_BIN_EXE_trafficgen");
const NAME: &str = "e2edash";
/// Long enough for every step below; the upload is paced.
const UPLOAD_SECONDS: u64 = 90;
const WAIT: Duration = Duration::from_secs(20);

/// A hash of the chart's pixels: equal hashes, the same picture.
const CANVAS_HASH: &str = "const c = document.getElementById('chart');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let h = 0;
    for (let i = 0; i < d.length; i++) h = (Math.imul(h, 31) + d[i]) | 0;
    return String(h);";

/// The names in the first column of the processes table.
const TABLE_NAMES: &str =
    "return [...document.querySelectorAll('#processes tbody tr')].map(tr => tr.cells[0].textContent);";

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&dir).expect("artifacts directory");
    dir
}

fn shot(browser: &Browser, name: &str) {
    let png = artifacts().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    browser.screenshot(&png).expect("screenshot");
    eprintln!("screenshot: {}", png.display());
}

fn script(browser: &Browser, body: &str) -> Value {
    browser.script(body, &[]).expect("script")
}

fn text(browser: &Browser, css: &str) -> String {
    let v = browser
        .script(
            "return document.querySelector(arguments[0]).textContent;",
            &[json!(css)],
        )
        .expect("script");
    v.as_str().unwrap_or_default().to_string()
}

fn canvas_hash(browser: &Browser) -> String {
    script(browser, CANVAS_HASH)
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The table row of `name`, as an element to click.
fn row_of(browser: &Browser, name: &str) -> Element {
    browser
        .element_by_script(
            "return [...document.querySelectorAll('#processes tbody tr')].find(tr => tr.cells[0].textContent === arguments[0]);",
            &[json!(name)],
        )
        .expect("the process's row")
}

/// Waits until the table lists `NAME`.
fn wait_for_row(browser: &Browser, what: &str) {
    let listed = browser.wait_for(
        what,
        WAIT,
        &format!(
            "return [...document.querySelectorAll('#processes tbody tr')].some(tr => tr.cells[0].textContent === '{NAME}');"
        ),
    );
    if let Err(e) = listed {
        panic!(
            "{e}: {NAME} not in the processes table: {}",
            script(browser, TABLE_NAMES)
        );
    }
}

/// No sideways scrolling: the page is as wide as the viewport.
fn assert_fits(browser: &Browser, what: &str) {
    let v = script(
        browser,
        "return [document.documentElement.scrollWidth, window.innerWidth, document.getElementById('chart').getBoundingClientRect().width];",
    );
    let (scroll, inner, chart) = (
        v[0].as_f64().unwrap_or(f64::MAX),
        v[1].as_f64().unwrap_or(0.0),
        v[2].as_f64().unwrap_or(0.0),
    );
    assert!(
        scroll <= inner && chart > 0.0 && chart <= inner,
        "{what}: the page is {scroll} px wide in a {inner} px viewport (chart {chart} px)"
    );
}

#[test]
fn a_user_focuses_a_process_picks_ranges_pauses_and_scrolls_back_in_chromium() {
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

    // A paced upload that lasts the whole test, so the live chart moves.
    let to = format!("{}:5001", host.ns_addr);
    let seconds = UPLOAD_SECONDS.to_string();
    let mut sink_cmd = host.command(TRAFFICGEN);
    sink_cmd.args([
        "sink",
        "--listen",
        &to,
        "--seconds",
        &seconds,
        "--conns",
        "1",
    ]);
    let mut sink = Proc::spawn("sink", sink_cmd).expect("sink");
    sink.expect_line("ready", Duration::from_secs(10))
        .expect("ready");
    let mut upload_cmd = Command::new(&uploader);
    upload_cmd.args([
        "stream",
        "--to",
        &to,
        "--bind-port",
        "5201",
        "--rate",
        "200000",
        "--seconds",
        &seconds,
    ]);
    let mut upload = Proc::spawn(NAME, upload_cmd).expect("uploader");
    upload
        .expect_line("ready", Duration::from_secs(10))
        .expect("ready");
    upload.send_line("go").expect("go");
    let seen = wait_for(WAIT, || serve.metrics().ok().filter(|m| m.contains(NAME)));
    assert!(seen.is_some(), "{NAME} never reached /metrics");

    let base = format!("http://{}", serve.addr);
    let browser = Browser::start(1280, 800).expect("chromedriver and chromium");
    browser.goto(&format!("{base}/")).expect("page");

    // Live, 5 minutes: the process in the table and the legend, axes
    // with units, and a chart that moves.
    wait_for_row(&browser, "live");
    assert!(
        text(&browser, "#legend").contains(NAME),
        "{NAME} not in the legend: {}",
        text(&browser, "#legend")
    );
    let axes = script(
        &browser,
        "const c = document.getElementById('chart'); return [c.dataset.yaxis, c.dataset.xaxis];",
    );
    let y: Vec<&str> = axes[0].as_str().unwrap_or_default().split('|').collect();
    let x: Vec<&str> = axes[1].as_str().unwrap_or_default().split('|').collect();
    assert!(
        y.len() >= 3 && y.iter().all(|l| l.ends_with("B/s")),
        "the y axis has no rate units: {y:?}"
    );
    assert!(
        x.len() >= 3 && x.iter().all(|l| l.contains(':')),
        "the x axis has no clock times: {x:?}"
    );
    assert_fits(&browser, "1280x800");
    let before = canvas_hash(&browser);
    std::thread::sleep(Duration::from_millis(2500));
    assert_ne!(
        canvas_hash(&browser),
        before,
        "the live chart did not change in 2.5 s"
    );
    shot(&browser, "live-1280x800");

    // Values on hover: near the chart's right edge (the last seconds, of
    // the upload) the tooltip gives the process's rate.
    let canvas = browser.find("#chart").expect("canvas");
    let half = script(
        &browser,
        "return document.getElementById('chart').clientWidth / 2;",
    )
    .as_f64()
    .expect("canvas width");
    browser.hover(&canvas, half as i64 - 16, 0).expect("hover");
    let tip = browser
        .wait_for(
            "the tooltip",
            WAIT,
            "const t = document.getElementById('tip'); return t.style.display === 'block' && t.innerText;",
        )
        .expect("tooltip shown");
    let tip = tip.as_str().unwrap_or_default();
    let value = tip
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{NAME}: ")))
        .unwrap_or_else(|| panic!("the tooltip has no line for {NAME}: {tip:?}"));
    assert!(
        value.ends_with("B/s") && !value.starts_with("0 "),
        "the tooltip's value of {NAME} at the upload: {value:?}"
    );
    shot(&browser, "hover-1280x800");
    browser
        .hover(&browser.find("h1").expect("title"), 0, 0)
        .expect("mouse away");

    // Focus: a click on the process's row.
    browser
        .click(&row_of(&browser, NAME))
        .expect("click the row");
    browser
        .wait_for(
            "focus",
            WAIT,
            &format!("return document.getElementById('chart-title').textContent.startsWith('traffic of {NAME}');"),
        )
        .expect("the chart focused on the process");
    let legend = text(&browser, "#legend");
    assert!(
        legend.contains(&format!("{NAME} received")) && legend.contains(&format!("{NAME} sent")),
        "the focused legend: {legend}"
    );
    let focused = script(
        &browser,
        "return [...document.querySelectorAll('#processes tbody tr.focus')].map(tr => tr.cells[0].textContent);",
    );
    assert_eq!(focused, json!([NAME]), "the focused row");
    let search = script(&browser, "return location.search;");
    assert!(
        search
            .as_str()
            .unwrap_or_default()
            .contains(&format!("focus={NAME}")),
        "the URL does not keep the focus: {search}"
    );
    shot(&browser, "focused-1280x800");
    // A second click shows every process again.
    browser.click(&row_of(&browser, NAME)).expect("click again");
    browser
        .wait_for(
            "unfocus",
            WAIT,
            "return document.getElementById('chart-title').textContent === 'traffic per process';",
        )
        .expect("focus cleared");

    // Range selectors: 30 minutes from memory, 24 hours from the history.
    for (range, source) in [("30m", "memory"), ("24h", "history"), ("5m", "memory")] {
        let button = browser
            .find(&format!("#ranges button[data-range='{range}']"))
            .expect("range button");
        browser.click(&button).expect("click the range");
        browser
            .wait_for(
                range,
                WAIT,
                &format!(
                    "return document.body.dataset.range === '{range}' && document.getElementById('status').textContent.includes('{source}');"
                ),
            )
            .unwrap_or_else(|e| panic!("range {range}: {e}; status {:?}", text(&browser, "#status")));
        let pressed = script(
            &browser,
            "return [...document.querySelectorAll('#ranges button[aria-pressed=true]')].map(b => b.dataset.range);",
        );
        assert_eq!(pressed, json!([range]), "pressed range buttons");
        assert!(
            text(&browser, "#range-label").contains(range),
            "the table's range label"
        );
        if source == "memory" {
            wait_for_row(&browser, range);
        }
        shot(&browser, &format!("range-{range}-1280x800"));
    }

    // Pause: the chart stops moving while the stream goes on.
    let pause = browser.find("#pause").expect("pause button");
    browser.click(&pause).expect("click pause");
    browser
        .wait_for(
            "paused",
            WAIT,
            "return document.getElementById('pause').textContent === 'resume' && document.body.dataset.paused === 'true';",
        )
        .expect("paused");
    let paused = canvas_hash(&browser);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        upload.try_exit().expect("uploader").is_none(),
        "the upload ended: the pause test needs live traffic"
    );
    assert_eq!(
        canvas_hash(&browser),
        paused,
        "the chart changed while paused"
    );
    shot(&browser, "paused-1280x800");

    // Scroll back while paused: the time axis ends a tenth of the range
    // (30 s of 5 minutes) earlier.
    const END: &str = "Number(document.getElementById('chart').dataset.end)";
    let end_before = script(&browser, &format!("return {END};"))
        .as_f64()
        .expect("the axis's end");
    browser.wheel(&canvas, 120).expect("wheel");
    browser
        .wait_for(
            "scrolled back",
            WAIT,
            &format!("return {END} <= {end_before} - 25;"),
        )
        .unwrap_or_else(|e| {
            panic!(
                "{e}: the axis ended at {end_before}, now {}",
                script(&browser, &format!("return {END};"))
            )
        });
    shot(&browser, "scrolled-back-1280x800");

    // Resume: moving again.
    browser.click(&pause).expect("click resume");
    browser
        .wait_for(
            "resumed",
            WAIT,
            "return document.getElementById('pause').textContent === 'pause';",
        )
        .expect("resumed");
    let resumed = canvas_hash(&browser);
    let moved = wait_for(Duration::from_secs(5), || {
        (canvas_hash(&browser) != resumed).then_some(())
    });
    assert!(moved.is_some(), "the chart did not move after resume");

    // A phone: one column, no sideways scrolling, the process listed.
    browser.set_viewport(390, 844).expect("phone viewport");
    browser.goto(&format!("{base}/?range=5m")).expect("page");
    wait_for_row(&browser, "390x844");
    assert_fits(&browser, "390x844");
    shot(&browser, "phone-390x844");

    // The longer ranges' endpoint answers from the database.
    let (status, body) = get(serve.addr, "/api/series?range=24h", &[]).expect("24h series");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"source\":\"history\""), "{body}");
    drop(browser);
    drop(upload);
    drop(sink);
}
