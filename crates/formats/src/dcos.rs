//! dcos audit records (being written).
