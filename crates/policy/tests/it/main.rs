//! The policy crate's integration tests, in one binary: upstream conformance, validation
//! (with snapshots of the error messages), `apply`, and properties.

// Helpers outside `#[test]` functions panic on broken fixtures, as the tests themselves do.
#![allow(clippy::unwrap_used)]

mod apply;
mod conformance;
mod prefilter;
mod properties;
mod validation;

/// Shared YAML fragments.
mod policy_yaml {
    /// The `apiVersion` and `kind` lines every test policy starts with.
    pub(crate) const HEADER: &str = "apiVersion: audit.k8s.io/v1\nkind: Policy\n";
}
