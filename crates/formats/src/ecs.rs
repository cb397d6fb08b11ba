//! Elastic Common Schema encoding.
