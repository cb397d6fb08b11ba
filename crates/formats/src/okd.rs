//! okd audit records (being written).
