//! `auditrail policy check`: validate a policy and, over recorded events, tell what each rule
//! would keep and at what volume — the dry run users tune their policy with.

use std::io::Write;

use anyhow::{Context, Result};
use comfy_table::{Cell, CellAlignment};
use event::Level;
use policy::{DropReason, Verdict};
use serde::Serialize;

use crate::Status;
use crate::cli::{CommonArgs, PolicyCheckArgs, ReportOutput};
use crate::input::{self, InputStats, ReadOptions};
use crate::policy_file::LoadedPolicy;

/// Events and bytes.
#[derive(Debug, Default, Clone, Copy, Serialize)]
struct Volume {
    events: u64,
    bytes: u64,
}

impl Volume {
    fn add(&mut self, bytes: u64) {
        self.events += 1;
        self.bytes += bytes;
    }
}

#[derive(Debug, Serialize)]
struct RuleReport {
    index: usize,
    line: Option<usize>,
    level: Level,
    rule: String,
    /// Events the rule matched, with their input size.
    matched: Volume,
    /// Matched but dropped because their stage is omitted.
    omitted_stage: Volume,
    /// Kept, with their size after the policy (as audit.k8s.io/v1 JSON).
    kept: Volume,
}

#[derive(Debug, Serialize)]
struct PatternReport {
    pattern: String,
    dropped: Volume,
}

#[derive(Debug, Serialize)]
struct Report {
    policy: String,
    valid: bool,
    warnings: Vec<String>,
    input: Option<InputStats>,
    rules: Vec<RuleReport>,
    ignored_endpoints: Vec<PatternReport>,
    no_rule_matched: Volume,
    before: Volume,
    after: Volume,
}

pub(crate) fn run(args: &PolicyCheckArgs, common: &CommonArgs) -> Result<Status> {
    let loaded = LoadedPolicy::load(&args.policy)?;
    if args.output == ReportOutput::Table {
        loaded.print_warnings();
    }
    let policy = &loaded.policy;
    let mut report = Report {
        policy: loaded.path.display().to_string(),
        valid: true,
        warnings: loaded.warnings.iter().map(ToString::to_string).collect(),
        input: None,
        rules: policy
            .rules()
            .map(|rule| RuleReport {
                index: rule.index,
                line: rule.line,
                level: rule.level,
                rule: rule.description.to_owned(),
                matched: Volume::default(),
                omitted_stage: Volume::default(),
                kept: Volume::default(),
            })
            .collect(),
        ignored_endpoints: (0..policy.ignored_endpoints_len())
            .map(|index| PatternReport {
                pattern: policy
                    .ignored_endpoint(index)
                    .unwrap_or_default()
                    .to_owned(),
                dropped: Volume::default(),
            })
            .collect(),
        no_rule_matched: Volume::default(),
        before: Volume::default(),
        after: Volume::default(),
    };
    let mut status = Status::Success;
    if !args.inputs.is_empty() {
        let mut scratch = Vec::new();
        let stats = input::read_inputs(
            &args.inputs,
            {
                let mut options =
                    ReadOptions::new(args.from.input_format(), common.quiet, &args.accounts)?;
                options.keep_malformed = false;
                options
            },
            |batch| {
                for (event, &bytes_in) in batch.events.iter_mut().zip(&batch.input_bytes) {
                    report.before.add(bytes_in);
                    let verdict = policy.apply(event);
                    scratch.clear();
                    if verdict.is_kept() {
                        formats::k8s::encode(event, &mut scratch);
                        report.after.add(scratch.len() as u64);
                    }
                    record(&mut report, verdict, bytes_in, scratch.len() as u64);
                }
                Ok(())
            },
        )?;
        if stats.malformed > 0 {
            status = Status::BadInput;
        }
        report.input = Some(stats);
    }
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    match args.output {
        ReportOutput::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
        ReportOutput::Table => write_table(&mut stdout, &report)?,
    }
    stdout.flush().context("cannot write to standard output")?;
    Ok(status)
}

fn record(report: &mut Report, verdict: Verdict, bytes_in: u64, bytes_out: u64) {
    match verdict {
        Verdict::Keep { rule, .. } => {
            if let Some(row) = report.rules.get_mut(rule) {
                row.matched.add(bytes_in);
                row.kept.add(bytes_out);
            }
        }
        Verdict::Drop {
            reason: DropReason::IgnoredEndpoint { pattern },
            ..
        } => {
            if let Some(row) = report.ignored_endpoints.get_mut(pattern) {
                row.dropped.add(bytes_in);
            }
        }
        Verdict::Drop {
            reason: DropReason::NoRuleMatched,
            ..
        } => report.no_rule_matched.add(bytes_in),
        Verdict::Drop { rule, reason } => {
            if let Some(row) = rule.and_then(|rule| report.rules.get_mut(rule)) {
                row.matched.add(bytes_in);
                if matches!(reason, DropReason::OmittedStage(_)) {
                    row.omitted_stage.add(bytes_in);
                }
            }
        }
    }
}

fn write_table(out: &mut impl Write, report: &Report) -> Result<()> {
    let rules = report.rules.len();
    writeln!(
        out,
        "policy {}: valid, {rules} rule{}",
        report.policy,
        if rules == 1 { "" } else { "s" }
    )?;
    let Some(input) = &report.input else {
        writeln!(
            out,
            "give recorded events (files or -) to see what each rule would keep"
        )?;
        return Ok(());
    };
    let mut table = crate::report::terminal_table();
    table.set_header([
        "RULE",
        "LINE",
        "LEVEL",
        "MATCHED",
        "BYTES IN",
        "STAGE-OMITTED",
        "KEPT",
        "BYTES OUT",
        "SHARE OUT",
        "MATCHES",
    ]);
    let share = |bytes: u64| percent(bytes, report.after.bytes);
    for rule in &report.rules {
        table.add_row(numeric_row([
            rule.index.to_string(),
            rule.line.map_or_else(String::new, |line| line.to_string()),
            rule.level.to_string(),
            rule.matched.events.to_string(),
            human_bytes(rule.matched.bytes),
            rule.omitted_stage.events.to_string(),
            rule.kept.events.to_string(),
            human_bytes(rule.kept.bytes),
            share(rule.kept.bytes),
            rule.rule.clone(),
        ]));
    }
    for pattern in &report.ignored_endpoints {
        table.add_row(numeric_row([
            "ignored".to_owned(),
            String::new(),
            "-".to_owned(),
            pattern.dropped.events.to_string(),
            human_bytes(pattern.dropped.bytes),
            String::new(),
            "0".to_owned(),
            human_bytes(0),
            share(0),
            format!("auditrail.ignoredEndpoints {}", pattern.pattern),
        ]));
    }
    table.add_row(numeric_row([
        "-".to_owned(),
        String::new(),
        "None".to_owned(),
        report.no_rule_matched.events.to_string(),
        human_bytes(report.no_rule_matched.bytes),
        String::new(),
        "0".to_owned(),
        human_bytes(0),
        share(0),
        "no rule matched (default level None)".to_owned(),
    ]));
    writeln!(out, "{table}")?;
    writeln!(
        out,
        "before: {} events, {}; after: {} events, {} ({} of the volume kept); {} records read, {} malformed",
        report.before.events,
        human_bytes(report.before.bytes),
        report.after.events,
        human_bytes(report.after.bytes),
        percent(report.after.bytes, report.before.bytes),
        input.records,
        input.malformed,
    )?;
    if report.before.events == 0 {
        writeln!(out, "no events were read: check the input files and --from")?;
    }
    Ok(())
}

fn numeric_row(values: [String; 10]) -> Vec<Cell> {
    values
        .into_iter()
        .enumerate()
        .map(|(column, value)| {
            let cell = Cell::new(value);
            if matches!(column, 0 | 1 | 3 | 4 | 5 | 6 | 7 | 8) {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        })
        .collect()
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".to_owned();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
