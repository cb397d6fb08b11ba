//! The `k` largest items by key, for "newest first, at most N".
//!
//! Invariant: after any sequence of `push` and `merge`, `into_sorted` returns the `k`
//! items with the largest keys, largest first; keys are unique in practice (they end in the
//! ledger sequence number), so the order is total and stable.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Sort key: `(when in ns, seq)`.
pub(crate) type Key = (i64, u64);

#[derive(Debug)]
pub(crate) struct TopK<T> {
    limit: usize,
    heap: BinaryHeap<Reverse<Entry<T>>>,
}

#[derive(Debug)]
struct Entry<T> {
    key: Key,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

impl<T> TopK<T> {
    pub(crate) fn new(limit: usize) -> TopK<T> {
        TopK {
            limit,
            heap: BinaryHeap::new(),
        }
    }

    /// True when an item with `key` would be kept.
    pub(crate) fn would_keep(&self, key: Key) -> bool {
        if self.heap.len() < self.limit {
            return true;
        }
        self.heap
            .peek()
            .is_some_and(|Reverse(smallest)| key > smallest.key)
    }

    pub(crate) fn push(&mut self, key: Key, item: T) {
        if !self.would_keep(key) {
            return;
        }
        self.heap.push(Reverse(Entry { key, item }));
        if self.heap.len() > self.limit {
            self.heap.pop();
        }
    }

    pub(crate) fn merge(&mut self, other: TopK<T>) {
        for Reverse(entry) in other.heap {
            self.push(entry.key, entry.item);
        }
    }

    /// The kept items, largest key first.
    pub(crate) fn into_sorted(self) -> Vec<(Key, T)> {
        let mut entries: Vec<Entry<T>> = self.heap.into_iter().map(|Reverse(e)| e).collect();
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.key));
        entries.into_iter().map(|e| (e.key, e.item)).collect()
    }
}
