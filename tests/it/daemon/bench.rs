//! `convstore bench` as a command: the shape of what `--http` and `--baseline` print, on
//! a tiny workload (no figure's value is asserted: they are the machine's).

use std::time::Duration;

use serde_json::Value;

use crate::fixtures::daemon::Convstore;

/// A workload small enough for a debug build.
const TINY: [&str; 12] = [
    "--conversations",
    "6",
    "--messages",
    "2",
    "--long-messages",
    "20",
    "--reads",
    "6",
    "--concurrency",
    "3",
    "--content-bytes",
    "50",
];

const LIMIT: Duration = Duration::from_secs(300);

async fn bench(extra: &[&str]) -> Value {
    let (status, printed, log) = Convstore::new("bench")
        .args(TINY)
        .args(extra)
        .output(LIMIT)
        .await;
    assert!(status.success(), "{status}\n{log}");
    serde_json::from_str(&printed).unwrap_or_else(|e| panic!("{e}: {printed}\n{log}"))
}

fn positive_number(report: &Value, figure: &str) -> f64 {
    let value = report[figure].as_f64();
    assert!(
        value.is_some_and(|v| v.is_finite() && v > 0.0),
        "{figure}: {:?} in {report}",
        report[figure]
    );
    value.unwrap_or_default()
}

#[actix_rt::test]
async fn http_puts_every_call_beside_its_in_process_twin() {
    let report = bench(&["--http"]).await;
    for (in_process, over_http) in [
        ("save_p50_ms", "http_save_p50_ms"),
        ("save_p99_ms", "http_save_p99_ms"),
        ("history_p50_ms", "http_history_p50_ms"),
        ("history_p99_ms", "http_history_p99_ms"),
        ("history_reads_s_conc", "http_history_reads_s_conc"),
        ("save_rate_conc", "http_save_rate_conc"),
    ] {
        positive_number(&report, in_process);
        positive_number(&report, over_http);
    }
    let added = report["http_save_added_p50_ms"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let expected = report["http_save_p50_ms"].as_f64().unwrap_or_default()
        - report["save_p50_ms"].as_f64().unwrap_or_default();
    assert!((added - expected).abs() < 1e-9, "{report}");
    let ratio = positive_number(&report, "http_saves_conc_ratio");
    let expected = report["http_save_rate_conc"].as_f64().unwrap_or_default()
        / report["save_rate_conc"].as_f64().unwrap_or(1.0);
    assert!((ratio - expected).abs() < 1e-9, "{report}");
}

#[actix_rt::test]
async fn a_baseline_gives_every_figure_its_ratio() {
    let report = bench(&[
        "--baseline",
        env!("CARGO_BIN_EXE_convstore"),
        "--repeat",
        "2",
    ])
    .await;
    let this = report["this"]["median"]
        .as_object()
        .expect("this build's medians");
    assert_eq!(report["this"]["runs"], 2, "{report}");
    assert_eq!(report["baseline"]["runs"], 2, "{report}");
    let numeric: Vec<&String> = this
        .iter()
        .filter(|(_, value)| value.is_number())
        .map(|(figure, _)| figure)
        .collect();
    assert!(numeric.len() >= 10, "{report}");
    for figure in numeric {
        let ours = this[figure].as_f64().unwrap_or_default();
        let theirs = report["baseline"]["median"][figure].as_f64();
        let ratio = report["ratio"][figure].as_f64();
        match theirs.filter(|theirs| *theirs != 0.0) {
            Some(theirs) => {
                let ratio = ratio.unwrap_or(f64::NAN);
                assert!(
                    (ratio - ours / theirs).abs() <= 1e-9 * ratio.abs(),
                    "{figure}: {report}"
                );
            }
            // A zero (a figure too small to show at this size) has no ratio.
            None => assert_eq!(report["ratio"][figure], Value::Null, "{figure}: {report}"),
        }
    }
}

#[actix_rt::test]
async fn a_missing_baseline_is_refused_by_name() {
    let (status, _, log) = Convstore::new("bench")
        .args(TINY)
        .args(["--baseline", "/no/such/convstore"])
        .output(LIMIT)
        .await;
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("--baseline /no/such/convstore: no such file"),
        "{log}"
    );
}
