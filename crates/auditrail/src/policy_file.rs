//! Reading a policy file for a command.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use policy::{Policy, Warning};

use crate::input::eprintln_clear;
use crate::limits::POLICY_FILE_BYTES_MAX;

/// A policy read from a file, with what loading it said.
#[derive(Debug)]
pub(crate) struct LoadedPolicy {
    pub(crate) path: PathBuf,
    pub(crate) policy: Policy,
    pub(crate) warnings: Vec<Warning>,
}

impl LoadedPolicy {
    /// Reads and compiles the policy at `path`; an invalid policy is an error listing every
    /// problem with its line.
    pub(crate) fn load(path: &Path) -> Result<LoadedPolicy> {
        let shown = path.display();
        let file = std::fs::File::open(path)
            .with_context(|| format!("cannot open policy file {shown}: check the --policy path"))?;
        let mut text = String::new();
        file.take(POLICY_FILE_BYTES_MAX + 1)
            .read_to_string(&mut text)
            .with_context(|| format!("cannot read policy file {shown} (is it UTF-8 text?)"))?;
        if text.len() as u64 > POLICY_FILE_BYTES_MAX {
            anyhow::bail!("policy file {shown} is larger than {POLICY_FILE_BYTES_MAX} bytes");
        }
        let loaded = Policy::load(&text).with_context(|| format!("policy file {shown}"))?;
        Ok(LoadedPolicy {
            path: path.to_owned(),
            policy: loaded.policy,
            warnings: loaded.warnings,
        })
    }

    /// Prints the loader's warnings on standard error as `file: warning: …`.
    pub(crate) fn print_warnings(&self) {
        for warning in &self.warnings {
            eprintln_clear(&format!("{}: warning: {warning}", self.path.display()));
        }
    }
}
