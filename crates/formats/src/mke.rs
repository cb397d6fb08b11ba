//! mke audit records (being written).
