//! Linux audit records (being written).
