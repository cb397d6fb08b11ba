//! The difference between two versions of an object, as an RFC 6902 JSON Patch.
//!
//! JSON Patch is what `kubectl` users already read (`kubectl patch --type json`), it names
//! each changed field by its JSON Pointer path, and applying it to the old version gives the
//! new one. Objects are compared key by key; arrays of equal length element by element;
//! arrays whose length changed are replaced whole (a minimal array diff costs more than it
//! helps on Kubernetes objects, whose lists are short).
//!
//! Invariant: applying [`diff`]`(old, new)` to `old` gives `new` (tested by a round trip).

use serde::Serialize;
use serde_json::Value;

use crate::limits::{DIFF_DEPTH_MAX, DIFF_OPERATIONS_MAX};

/// One JSON Patch operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum PatchOperation {
    /// A field that the new version adds.
    Add {
        /// JSON Pointer (RFC 6901).
        path: String,
        /// The new value.
        value: Value,
    },
    /// A field that the new version drops.
    Remove {
        /// JSON Pointer (RFC 6901).
        path: String,
    },
    /// A field whose value changed.
    Replace {
        /// JSON Pointer (RFC 6901).
        path: String,
        /// The new value.
        value: Value,
    },
}

/// The JSON Patch that turns `old` into `new`; empty when they are equal. Past
/// [`DIFF_OPERATIONS_MAX`] operations the patch is one replacement of the whole document.
pub fn diff(old: &Value, new: &Value) -> Vec<PatchOperation> {
    let mut operations = Vec::new();
    diff_into(old, new, &mut String::new(), 0, &mut operations);
    if operations.len() > DIFF_OPERATIONS_MAX {
        return vec![PatchOperation::Replace {
            path: String::new(),
            value: new.clone(),
        }];
    }
    operations
}

fn diff_into(
    old: &Value,
    new: &Value,
    path: &mut String,
    depth: usize,
    out: &mut Vec<PatchOperation>,
) {
    if old == new || out.len() > DIFF_OPERATIONS_MAX {
        return;
    }
    match (old, new) {
        (Value::Object(old_map), Value::Object(new_map)) if depth < DIFF_DEPTH_MAX => {
            for (key, old_value) in old_map {
                let length = path.len();
                push_token(path, key);
                match new_map.get(key) {
                    Some(new_value) => diff_into(old_value, new_value, path, depth + 1, out),
                    None => out.push(PatchOperation::Remove { path: path.clone() }),
                }
                path.truncate(length);
            }
            for (key, new_value) in new_map {
                if !old_map.contains_key(key) {
                    let length = path.len();
                    push_token(path, key);
                    out.push(PatchOperation::Add {
                        path: path.clone(),
                        value: new_value.clone(),
                    });
                    path.truncate(length);
                }
            }
        }
        (Value::Array(old_items), Value::Array(new_items))
            if old_items.len() == new_items.len() && depth < DIFF_DEPTH_MAX =>
        {
            for (at, (old_item, new_item)) in old_items.iter().zip(new_items).enumerate() {
                let length = path.len();
                push_token(path, &at.to_string());
                diff_into(old_item, new_item, path, depth + 1, out);
                path.truncate(length);
            }
        }
        _ => out.push(PatchOperation::Replace {
            path: path.clone(),
            value: new.clone(),
        }),
    }
}

/// Appends `/token` with RFC 6901 escaping (`~` → `~0`, `/` → `~1`).
fn push_token(path: &mut String, token: &str) {
    path.push('/');
    for c in token.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            other => path.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(document: &mut Value, operations: &[PatchOperation]) {
        for operation in operations {
            let (path, value) = match operation {
                PatchOperation::Add { path, value } | PatchOperation::Replace { path, value } => {
                    (path, Some(value.clone()))
                }
                PatchOperation::Remove { path } => (path, None),
            };
            if path.is_empty() {
                *document = value.unwrap();
                continue;
            }
            let (parent, last) = path.rsplit_once('/').unwrap();
            let last = last.replace("~1", "/").replace("~0", "~");
            let target = document.pointer_mut(parent).unwrap();
            match (target, value) {
                (Value::Object(map), Some(value)) => {
                    map.insert(last, value);
                }
                (Value::Object(map), None) => {
                    map.remove(&last);
                }
                (Value::Array(items), Some(value)) => items[last.parse::<usize>().unwrap()] = value,
                _ => panic!("unexpected target"),
            }
        }
    }

    #[test]
    fn patch_turns_old_into_new() {
        let old = json!({
            "metadata": {"name": "web", "labels": {"app": "web", "a/b": "x"}},
            "spec": {"replicas": 2, "ports": [80, 443], "args": ["a"]}
        });
        let new = json!({
            "metadata": {"name": "web", "labels": {"app": "web2"}, "annotations": {"x": "1"}},
            "spec": {"replicas": 3, "ports": [80, 8443], "args": ["a", "b"]}
        });
        let patch = diff(&old, &new);
        let mut operations: Vec<Value> = serde_json::to_value(&patch)
            .unwrap()
            .as_array()
            .unwrap()
            .clone();
        operations.sort_by_key(|operation| operation["path"].as_str().unwrap().to_owned());
        assert_eq!(
            Value::Array(operations),
            json!([
                {"op": "add", "path": "/metadata/annotations", "value": {"x": "1"}},
                {"op": "replace", "path": "/metadata/labels/app", "value": "web2"},
                {"op": "remove", "path": "/metadata/labels/a~1b"},
                {"op": "replace", "path": "/spec/args", "value": ["a", "b"]},
                {"op": "replace", "path": "/spec/ports/1", "value": 8443},
                {"op": "replace", "path": "/spec/replicas", "value": 3}
            ])
        );
        let mut document = old.clone();
        apply(&mut document, &patch);
        assert_eq!(document, new);
        assert!(diff(&new, &new).is_empty());
    }
}
