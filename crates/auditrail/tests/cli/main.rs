//! End-to-end tests of the `auditrail` program: each runs the built binary on files in a
//! temporary directory and checks its output, standard error and exit code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auditd_differential;
mod collect;
mod convert;
mod deploy;
mod policy_check;
mod prometheus;
mod prune;
mod query;
mod report;
mod serve;
mod serve_query;
mod sql;
mod trail;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The sample files of the formats crate.
pub(crate) fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../formats/tests/data/k8s")
        .join(name)
}

/// The example policy at the repository root.
pub(crate) fn example_policy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policy.yaml")
}

/// Runs `auditrail ARGS` with `stdin` as standard input, with a fresh data directory.
pub(crate) fn run(args: &[&str], stdin: &[u8]) -> Output {
    let data = tempfile::tempdir().unwrap();
    run_in(data.path(), args, stdin)
}

/// Runs `auditrail ARGS` on the data directory `data`.
pub(crate) fn run_in(data: &Path, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_auditrail"))
        .args(args)
        .env("AUDITRAIL_DATA", data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}
