//! `convstore bench --baseline PATH`: the same workload run by another build of
//! convstore (the binary at PATH, given this command line without `--baseline` and
//! `--repeat`), one of its runs after each of this build's (in alternating order, so
//! that a drift of the machine's load favours neither), and each figure's ratio.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use super::report::{Summary, shown};

/// Flags of this command line that the baseline's is given without.
const NOT_PASSED: [&str; 2] = ["--baseline", "--repeat"];

/// Another build of convstore, and the command line it runs.
pub struct Baseline {
    binary: PathBuf,
    args: Vec<OsString>,
}

impl Baseline {
    /// The binary at `binary`, to run this process's command line (minus [`NOT_PASSED`]).
    pub fn new(binary: &Path) -> Result<Baseline, String> {
        if !binary.is_file() {
            return Err(format!("--baseline {}: no such file", binary.display()));
        }
        Ok(Baseline {
            binary: binary.to_path_buf(),
            args: passed_on(std::env::args_os().skip(1)),
        })
    }

    /// One run of the baseline: the JSON report it printed.
    pub async fn run(&self) -> Result<Value, String> {
        let mut command = std::process::Command::new(&self.binary);
        command.args(&self.args);
        let shown = format!("{} {:?}", self.binary.display(), self.args);
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .map_err(|e| format!("{shown}: {e}"))?
            .map_err(|e| format!("{shown}: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "{shown}: {}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("{shown}: its report is not JSON: {e}"))
    }
}

/// `args` without the flags of [`NOT_PASSED`] and their values.
fn passed_on(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut kept = Vec::new();
    let mut skip_value = false;
    for arg in args {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        let text = arg.to_string_lossy();
        if NOT_PASSED.contains(&text.as_ref()) {
            skip_value = true;
        } else if !NOT_PASSED
            .iter()
            .any(|flag| text.starts_with(&format!("{flag}=")))
        {
            kept.push(arg);
        }
    }
    kept
}

/// This build's runs beside the baseline's.
#[derive(Debug, Serialize)]
pub struct Comparison {
    /// This build's figures.
    pub this: Summary,
    /// The baseline's figures.
    pub baseline: Summary,
    /// Each figure's median, this build's over the baseline's (above 1: more per second,
    /// or more milliseconds); `null` where the baseline has no such figure.
    pub ratio: Map<String, Value>,
}

impl Comparison {
    /// The comparison of this build's `runs` with the baseline's.
    pub fn of(this: &[Value], baseline: &[Value]) -> Comparison {
        let (this, baseline) = (Summary::of(this), Summary::of(baseline));
        let ratio = this
            .median
            .iter()
            .filter(|(_, value)| value.is_number())
            .map(|(key, value)| {
                let theirs = baseline.median.get(key).and_then(Value::as_f64);
                let ratio = theirs
                    .zip(value.as_f64())
                    .and_then(|(theirs, ours)| serde_json::Number::from_f64(ours / theirs))
                    .map_or(Value::Null, Value::Number);
                (key.clone(), ratio)
            })
            .collect();
        Comparison {
            this,
            baseline,
            ratio,
        }
    }

    /// The comparison as a table: each figure's medians and their ratio.
    pub fn table(&self) -> String {
        let mut out = format!(
            "figure                          this ({} runs)      baseline ({} runs)  ratio\n",
            self.this.runs, self.baseline.runs
        );
        for (key, ours) in &self.this.median {
            let theirs = self.baseline.median.get(key).unwrap_or(&Value::Null);
            let ratio = self.ratio.get(key).unwrap_or(&Value::Null);
            out.push_str(&format!(
                "{key:<32}{:<19}{:<20}{}\n",
                shown(ours),
                shown(theirs),
                shown(ratio)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_baseline_gets_the_command_line_without_baseline_and_repeat() {
        let args = [
            "--db-url",
            "x",
            "bench",
            "--baseline",
            "/b",
            "--repeat",
            "3",
            "--reads=5",
            "--repeat=2",
            "--baseline=/c",
            "--http",
        ]
        .map(OsString::from);
        let kept: Vec<String> = passed_on(args)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(kept, ["--db-url", "x", "bench", "--reads=5", "--http"]);
    }

    #[test]
    fn every_figure_gets_its_ratio() {
        let this = [json!({"backend": "sqlite", "rate": 30.0, "only_here": 1.0})];
        let baseline = [
            json!({"backend": "sqlite", "rate": 20.0}),
            json!({"rate": 10.0}),
        ];
        let comparison = Comparison::of(&this, &baseline);
        assert_eq!(comparison.ratio["rate"], json!(2.0));
        assert_eq!(comparison.ratio["only_here"], Value::Null);
        assert!(!comparison.ratio.contains_key("backend"));
        assert!(comparison.table().contains("2.000"));
    }
}
