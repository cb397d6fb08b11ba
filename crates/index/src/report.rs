//! The reports of `auditrail report`, as pure functions of a [`Dataset`] and a [`Filter`].
//!
//! Each returns typed rows; the binary formats them.
//!
//! Counting rules, shared by every report:
//! - **A request is counted once**, at its last recorded stage: an event counts when its
//!   stage is `ResponseComplete` or `Panic`, when it has no stage (non-Kubernetes sources),
//!   or when it is a `ResponseStarted` with an error code (the API server writes no later
//!   stage for a request refused during authentication). `RequestReceived` events and the
//!   `ResponseStarted` of a watch or exec are not counted, so a request whose completion
//!   the policy dropped is not counted either.
//! - **A write** is a request whose verb is `create`, `update`, `patch`, `delete` or
//!   `deletecollection`, or whose HTTP method is `POST`, `PUT`, `PATCH` or `DELETE` (DC/OS
//!   and other sources without Kubernetes verbs).
//! - **An error** is a request with a response code of 400 or more.

use std::collections::{HashMap, HashSet};

use arrow_array::Array;
use event::{AuditEvent, Outcome, RawJson, Stage, Timestamp};
use serde_json::Value;

use crate::Dataset;
use crate::dataset::{Accumulate, Chunk, Place, dictionary_mask};
use crate::diff::{PatchOperation, diff};
use crate::error::Result;
use crate::filter::{Filter, TextPattern};
use crate::limits::{RESULT_ROWS_MAX, TOP_ROWS_MAX};
use crate::schema::{Column, DictText, FLAG_ERROR, FLAG_REQUEST, FLAG_WRITE};
use crate::topk::TopK;

/// Kubernetes verbs that change state.
pub const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];
/// HTTP methods that change state.
pub const WRITE_METHODS: [&str; 4] = ["POST", "PUT", "PATCH", "DELETE"];

/// True when the event is counted as one request (see the module documentation).
pub fn is_request(event: &AuditEvent) -> bool {
    request_stage(event.stage.map(Stage::as_str), event.code())
}

/// True when the event is a write (see the module documentation).
pub fn is_write(event: &AuditEvent) -> bool {
    WRITE_VERBS.contains(&event.verb.as_str())
        || event
            .method
            .as_deref()
            .is_some_and(|method| WRITE_METHODS.contains(&method))
}

fn request_stage(stage: Option<&str>, code: Option<u16>) -> bool {
    match stage {
        None => true,
        Some(stage) => {
            stage == Stage::ResponseComplete.as_str()
                || stage == Stage::Panic.as_str()
                || (stage == Stage::ResponseStarted.as_str() && code.is_some_and(|c| c >= 400))
        }
    }
}

/// Requests, writes and errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests.
    pub requests: u64,
    /// Of which writes.
    pub writes: u64,
    /// Of which errors (code ≥ 400).
    pub errors: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.requests += other.requests;
        self.writes += other.writes;
        self.errors += other.errors;
    }
}

/// The columns [`RequestView`] reads.
const REQUEST_COLUMNS: [Column; 1] = [Column::RequestFlags];

/// Per-chunk classification of rows as requests, writes and errors, from the
/// `request_flags` column written with each row (so a report decodes one byte per row
/// instead of the stage, code, verb and method).
struct RequestView<'a> {
    flags: &'a [u8],
}

impl<'a> RequestView<'a> {
    fn new(chunk: &'a Chunk) -> Result<RequestView<'a>> {
        Ok(RequestView {
            flags: chunk.flags()?.values(),
        })
    }

    /// The row's counts when it is a request, `None` when it is not counted.
    fn counts(&self, row: usize) -> Option<Counts> {
        let flags = self.flags.get(row).copied().unwrap_or_default();
        (flags & FLAG_REQUEST != 0).then_some(Counts {
            requests: 1,
            writes: u64::from(flags & FLAG_WRITE != 0),
            errors: u64::from(flags & FLAG_ERROR != 0),
        })
    }
}

fn mask(mask: &[bool], key: Option<usize>) -> bool {
    key.and_then(|key| mask.get(key).copied()).unwrap_or(false)
}

fn with_columns(extra: &[Column]) -> Vec<Column> {
    let mut columns = REQUEST_COLUMNS.to_vec();
    columns.extend_from_slice(extra);
    columns
}

// ---------------------------------------------------------------------------------------
// top-users

/// What `top-users` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// The authenticated user.
    User,
    /// Each group of the authenticated user (a request counts once per group).
    Group,
    /// The user agent.
    UserAgent,
    /// The first source address.
    SourceIp,
    /// The object's resource type.
    Resource,
    /// The object's namespace.
    Namespace,
}

impl Dimension {
    fn column(self) -> Column {
        match self {
            Dimension::User => Column::User,
            Dimension::Group => Column::Groups,
            Dimension::UserAgent => Column::UserAgent,
            Dimension::SourceIp => Column::SourceIp,
            Dimension::Resource => Column::Resource,
            Dimension::Namespace => Column::Namespace,
        }
    }
}

/// One line of `top-users`: a key (`None`: the field is empty, such as an anonymous user or
/// a cluster-scoped object) and its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopRow {
    /// The user, group, agent, address, resource or namespace.
    pub key: Option<String>,
    /// Requests, writes and errors.
    pub counts: Counts,
}

/// Counts per key; keyed by string so that a key already counted costs no allocation.
#[derive(Default)]
struct KeyCounts {
    named: HashMap<String, Counts>,
    none: Option<Counts>,
}

impl KeyCounts {
    /// Adds `counts` to those of `key` (`None`: no value).
    fn count(&mut self, key: Option<&str>, counts: Counts) {
        match key {
            None => self.none.get_or_insert_default().add(counts),
            Some(key) => match self.named.get_mut(key) {
                Some(total) => total.add(counts),
                None => {
                    self.named.insert(key.to_owned(), counts);
                }
            },
        }
    }

    /// Every key with its counts, in no particular order.
    fn into_rows(self) -> impl Iterator<Item = (Option<String>, Counts)> {
        self.none.map(|counts| (None, counts)).into_iter().chain(
            self.named
                .into_iter()
                .map(|(key, counts)| (Some(key), counts)),
        )
    }

    fn add(&mut self, chunk: &Chunk, rows: &[u32], column: Column) -> Result<()> {
        let view = RequestView::new(chunk)?;
        if column == Column::Groups {
            let groups = chunk.list(column)?;
            for row in rows {
                let at = *row as usize;
                let Some(counts) = view.counts(at) else {
                    continue;
                };
                let values = (!groups.is_null(at)).then(|| groups.value(at));
                let strings = values
                    .as_ref()
                    .and_then(|values| values.as_any().downcast_ref::<arrow_array::StringArray>());
                match strings {
                    Some(strings) if !strings.is_empty() => {
                        for group in strings.iter().flatten() {
                            self.count(Some(group), counts);
                        }
                    }
                    _ => self.count(None, counts),
                }
            }
            return Ok(());
        }
        // Count per dictionary code first, then turn codes into strings once per chunk.
        let dict = chunk.dict(column)?;
        let mut per_key = vec![Counts::default(); dict.values.len()];
        let mut null = Counts::default();
        for row in rows {
            let at = *row as usize;
            let Some(counts) = view.counts(at) else {
                continue;
            };
            match dict.key(at).and_then(|key| per_key.get_mut(key)) {
                Some(slot) => slot.add(counts),
                None => null.add(counts),
            }
        }
        self.add_per_key(&dict, per_key, null);
        Ok(())
    }

    /// [`KeyCounts::add`] over every row of the chunk: one pass over the dictionary keys
    /// and the request flags side by side, counting per key without a branch per row.
    fn add_all(&mut self, chunk: &Chunk, column: Column) -> Result<()> {
        // Groups have several keys per row; a chunk too long for `u32` counters (never one
        // of ours) takes the general path.
        if column == Column::Groups || u32::try_from(chunk.len()).is_err() {
            let rows: Vec<u32> = (0..u32::try_from(chunk.len()).unwrap_or(u32::MAX)).collect();
            return self.add(chunk, &rows, column);
        }
        let dict = chunk.dict(column)?;
        let flags = chunk.flags()?.values();
        let keys = dict.array.keys().values();
        let null_bits = dict
            .array
            .nulls()
            .filter(|nulls| nulls.null_count() > 0)
            .map(|nulls| !nulls.inner());
        let null_rows = null_bits.iter().flat_map(|bits| bits.set_indices());
        let mut slots = count_flags(keys, flags, dict.values.len(), null_rows);
        let null = slots.pop().unwrap_or_default();
        self.add_per_key(&dict, slots, null);
        Ok(())
    }

    /// Folds counts per dictionary code (and for NULL) in under their strings; the empty
    /// string counts as no value, like NULL.
    fn add_per_key(&mut self, dict: &DictText<'_>, per_key: Vec<Counts>, null: Counts) {
        for (key, counts) in per_key.into_iter().enumerate() {
            if counts.requests > 0 {
                let value = dict.values.value(key);
                self.count((!value.is_empty()).then_some(value), counts);
            }
        }
        if null.requests > 0 {
            self.count(None, null);
        }
    }

    fn merge(&mut self, other: KeyCounts) {
        for (key, counts) in other.into_rows() {
            self.count(key.as_deref(), counts);
        }
    }
}

/// Each combination of the request flags has a counter per key: `flags & FLAG_MASK` is the
/// counter's place among its key's [`FLAG_COMBINATIONS`].
const FLAG_MASK: u8 = FLAG_REQUEST | FLAG_WRITE | FLAG_ERROR;
const FLAG_COMBINATIONS: usize = FLAG_MASK as usize + 1;
/// Rows are counted in this many interleaved tables (row `i` in table `i % COUNT_LANES`),
/// so that consecutive rows of the same key do not wait on each other's counter.
const COUNT_LANES: usize = 4;
/// Most counters per table for which the lanes are used (256 KiB of counters in all); a
/// wider dictionary is counted in one table.
const COUNT_LANE_CELLS_MAX: usize = 16 * 1024;

/// Requests, writes and errors per dictionary key over rows whose keys and request flags
/// are `keys` and `flags` (the rows in `null_rows` count as NULL), with one entry per
/// dictionary value and then one for NULL (which also takes keys outside the dictionary).
/// One table increment per row, with no branch: the counters are per key and flag
/// combination, folded into [`Counts`] at the end.
fn count_flags(
    keys: &[i32],
    flags: &[u8],
    values: usize,
    null_rows: impl Iterator<Item = usize>,
) -> Vec<Counts> {
    let null_slot = values;
    let width = (values + 1) * FLAG_COMBINATIONS;
    let cell = |key: i32, flags: u8| {
        usize::try_from(key).map_or(null_slot, |key| key.min(null_slot)) * FLAG_COMBINATIONS
            + usize::from(flags & FLAG_MASK)
    };
    let lanes = if width <= COUNT_LANE_CELLS_MAX {
        COUNT_LANES
    } else {
        1
    };
    let mut table = vec![0_u32; width * lanes];
    let rows = keys.len().min(flags.len());
    let (keys, flags) = (&keys[..rows], &flags[..rows]);
    if lanes == COUNT_LANES {
        let (first, rest) = table.split_at_mut(width);
        let (second, rest) = rest.split_at_mut(width);
        let (third, fourth) = rest.split_at_mut(width);
        let bump = |table: &mut [u32], key: i32, flags: u8| {
            if let Some(counter) = table.get_mut(cell(key, flags)) {
                *counter += 1;
            }
        };
        let whole = rows - rows % COUNT_LANES;
        for (key, flags) in keys[..whole]
            .chunks_exact(COUNT_LANES)
            .zip(flags[..whole].chunks_exact(COUNT_LANES))
        {
            bump(first, key[0], flags[0]);
            bump(second, key[1], flags[1]);
            bump(third, key[2], flags[2]);
            bump(fourth, key[3], flags[3]);
        }
        for (key, flags) in keys[whole..].iter().zip(&flags[whole..]) {
            bump(first, *key, *flags);
        }
    } else {
        for (key, flags) in keys.iter().zip(flags) {
            if let Some(counter) = table.get_mut(cell(*key, *flags)) {
                *counter += 1;
            }
        }
    }
    // NULL rows were counted under whatever key their slot holds: move them to NULL. The
    // counters of the first table may wrap here, their sum over the tables does not.
    for row in null_rows.take_while(|row| *row < rows) {
        let combination = usize::from(flags[row] & FLAG_MASK);
        if let Some(counter) = table.get_mut(cell(keys[row], flags[row])) {
            *counter = counter.wrapping_sub(1);
        }
        if let Some(counter) = table.get_mut(null_slot * FLAG_COMBINATIONS + combination) {
            *counter = counter.wrapping_add(1);
        }
    }
    (0..=values)
        .map(|slot| {
            let mut counts = Counts::default();
            for combination in 0..FLAG_COMBINATIONS {
                let at = slot * FLAG_COMBINATIONS + combination;
                let rows = (0..lanes)
                    .filter_map(|lane| table.get(lane * width + at))
                    .fold(0_u32, |sum, count| sum.wrapping_add(*count));
                let flags = combination as u8;
                if flags & FLAG_REQUEST != 0 {
                    counts.requests += u64::from(rows);
                    if flags & FLAG_WRITE != 0 {
                        counts.writes += u64::from(rows);
                    }
                    if flags & FLAG_ERROR != 0 {
                        counts.errors += u64::from(rows);
                    }
                }
            }
            counts
        })
        .collect()
}

struct TopAccumulator {
    column: Column,
    counts: KeyCounts,
}

impl Accumulate for TopAccumulator {
    fn add(&mut self, chunk: &Chunk, rows: &[u32]) -> Result<()> {
        self.counts.add(chunk, rows, self.column)
    }
    fn add_all(&mut self, chunk: &Chunk) -> Result<()> {
        self.counts.add_all(chunk, self.column)
    }
    fn merge(&mut self, other: Self) {
        self.counts.merge(other.counts);
    }
}

/// `top-users --by …`: requests, writes and errors per key, most requests first (then by
/// key), at most `limit` rows.
pub fn top_users(
    dataset: &Dataset,
    filter: &Filter,
    by: Dimension,
    limit: usize,
) -> Result<Vec<TopRow>> {
    let column = by.column();
    let (accumulator, _) = dataset.scan(filter, &with_columns(&[column]), || TopAccumulator {
        column,
        counts: KeyCounts::default(),
    })?;
    let mut rows: Vec<TopRow> = accumulator
        .counts
        .into_rows()
        .map(|(key, counts)| TopRow { key, counts })
        .collect();
    rows.sort_by(|a, b| {
        b.counts
            .requests
            .cmp(&a.counts.requests)
            .then_with(|| a.key.cmp(&b.key))
    });
    rows.truncate(limit.min(TOP_ROWS_MAX));
    Ok(rows)
}

// ---------------------------------------------------------------------------------------
// codes

/// Requests with one response code (`None`: no code recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    /// The code.
    pub code: Option<u16>,
    /// Requests.
    pub requests: u64,
}

/// Requests with a code of one class (`Some(4)` is 4xx).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassRow {
    /// The class digit.
    pub class: Option<u16>,
    /// Requests.
    pub requests: u64,
}

/// Who and what is behind one error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    /// The code (≥ 400).
    pub code: u16,
    /// Requests.
    pub requests: u64,
    /// Users with the most such requests (`None`: anonymous), most first.
    pub top_users: Vec<(Option<String>, u64)>,
    /// Request paths (URI without the query) with the most such requests, most first.
    pub top_paths: Vec<(String, u64)>,
}

/// The `codes` report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CodesReport {
    /// Per code, by code.
    pub codes: Vec<CodeRow>,
    /// Per class, by class.
    pub classes: Vec<ClassRow>,
    /// Per 4xx and 5xx code, by code.
    pub errors: Vec<ErrorDetail>,
}

#[derive(Default)]
struct CodesAccumulator {
    codes: HashMap<Option<u16>, u64>,
    users: HashMap<(u16, Option<String>), u64>,
    paths: HashMap<(u16, String), u64>,
}

impl Accumulate for CodesAccumulator {
    fn add(&mut self, chunk: &Chunk, rows: &[u32]) -> Result<()> {
        let view = RequestView::new(chunk)?;
        let codes = chunk.codes()?;
        let users = chunk.dict(Column::User)?;
        let uris = chunk.strings(Column::Uri)?;
        for row in rows {
            let at = *row as usize;
            if view.counts(at).is_none() {
                continue;
            }
            let code = codes.is_valid(at).then(|| codes.value(at));
            *self.codes.entry(code).or_default() += 1;
            if let Some(code) = code.filter(|code| *code >= 400) {
                let user = users.get(at).map(str::to_owned);
                *self.users.entry((code, user)).or_default() += 1;
                let uri = if uris.is_valid(at) {
                    uris.value(at)
                } else {
                    ""
                };
                let path = uri.split_once('?').map_or(uri, |(path, _)| path);
                *self.paths.entry((code, path.to_owned())).or_default() += 1;
            }
        }
        Ok(())
    }

    fn merge(&mut self, other: Self) {
        for (key, count) in other.codes {
            *self.codes.entry(key).or_default() += count;
        }
        for (key, count) in other.users {
            *self.users.entry(key).or_default() += count;
        }
        for (key, count) in other.paths {
            *self.paths.entry(key).or_default() += count;
        }
    }
}

/// `codes`: requests per code and class, and per error code its top `top` users and paths.
pub fn codes(dataset: &Dataset, filter: &Filter, top: usize) -> Result<CodesReport> {
    let (accumulator, _) = dataset.scan(
        filter,
        &with_columns(&[Column::Code, Column::User, Column::Uri]),
        CodesAccumulator::default,
    )?;
    let top = top.min(TOP_ROWS_MAX);
    let mut report = CodesReport::default();
    let mut classes: HashMap<Option<u16>, u64> = HashMap::new();
    for (code, requests) in &accumulator.codes {
        report.codes.push(CodeRow {
            code: *code,
            requests: *requests,
        });
        *classes.entry(code.map(|code| code / 100)).or_default() += requests;
        if let Some(code) = code.filter(|code| *code >= 400) {
            report.errors.push(ErrorDetail {
                code,
                requests: *requests,
                top_users: ranked(&accumulator.users, code, top),
                top_paths: ranked(&accumulator.paths, code, top),
            });
        }
    }
    report.codes.sort_by_key(|row| row.code);
    report.classes = classes
        .into_iter()
        .map(|(class, requests)| ClassRow { class, requests })
        .collect();
    report.classes.sort_by_key(|row| row.class);
    report.errors.sort_by_key(|row| row.code);
    Ok(report)
}

fn ranked<K: Clone + Ord>(counts: &HashMap<(u16, K), u64>, code: u16, top: usize) -> Vec<(K, u64)> {
    let mut rows: Vec<(K, u64)> = counts
        .iter()
        .filter(|((row_code, _), _)| *row_code == code)
        .map(|((_, key), count)| (key.clone(), *count))
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(top);
    rows
}

// ---------------------------------------------------------------------------------------
// changes and activity

/// One request in `changes` or `activity`: TIMESTAMP USER ACTION OBJECT RESULT and more.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    /// When (`AuditEvent::when`).
    pub time: Option<Timestamp>,
    /// Ledger sequence number.
    pub seq: u64,
    /// The authenticated user.
    pub user: String,
    /// The user it acted as, when impersonating.
    pub impersonated_user: Option<String>,
    /// The verb (or the source's action name).
    pub verb: String,
    /// The HTTP method, when recorded.
    pub method: Option<String>,
    /// Object resource, subresource, namespace and name; empty when not a resource request.
    pub resource: String,
    /// Subresource.
    pub subresource: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The URI as requested.
    pub uri: String,
    /// Response code.
    pub code: Option<u16>,
    /// Outcome.
    pub outcome: Outcome,
    /// First source address.
    pub source_ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
}

impl RequestRow {
    /// Builds the row of an event.
    pub fn from_event(seq: u64, event: &AuditEvent) -> RequestRow {
        let object = event.object.clone().unwrap_or_default();
        RequestRow {
            time: event.when(),
            seq,
            user: event.user.name.clone(),
            impersonated_user: event
                .impersonated_user
                .as_ref()
                .map(|actor| actor.name.clone()),
            verb: event.verb.clone(),
            method: event.method.clone(),
            resource: object.resource,
            subresource: object.subresource,
            namespace: object.namespace,
            name: object.name,
            uri: event.uri.clone(),
            code: event.code(),
            outcome: event.outcome,
            source_ip: event.source_ips.first().cloned(),
            user_agent: event.user_agent.clone(),
        }
    }

    /// ACTION: the verb, else the method.
    pub fn action(&self) -> &str {
        if self.verb.is_empty() {
            self.method.as_deref().unwrap_or_default()
        } else {
            &self.verb
        }
    }

    /// OBJECT: `resource[/subresource] namespace/name` for a resource request (`resource
    /// name` when cluster-scoped), else the URI path.
    pub fn object(&self) -> String {
        if self.resource.is_empty() {
            return self
                .uri
                .split_once('?')
                .map_or(self.uri.as_str(), |(path, _)| path)
                .to_owned();
        }
        let mut text = self.resource.clone();
        if !self.subresource.is_empty() {
            text.push('/');
            text.push_str(&self.subresource);
        }
        if !self.namespace.is_empty() || !self.name.is_empty() {
            text.push(' ');
        }
        if !self.namespace.is_empty() {
            text.push_str(&self.namespace);
            text.push('/');
        }
        text.push_str(&self.name);
        text
    }
}

/// Keeps the newest requests (optionally only writes, optionally of one user as actor or as
/// impersonated user).
struct NewestRequests {
    top: TopK<Place>,
    writes_only: bool,
    user: Option<TextPattern>,
}

impl Accumulate for NewestRequests {
    fn add(&mut self, chunk: &Chunk, rows: &[u32]) -> Result<()> {
        let view = RequestView::new(chunk)?;
        let times = chunk.times()?;
        let seqs = chunk.seqs()?;
        let users = match &self.user {
            Some(pattern) => {
                let user = chunk.dict(Column::User)?;
                let impersonated = chunk.dict(Column::ImpersonatedUser)?;
                let matches = |value: &str| !value.is_empty() && pattern.matches(value);
                Some((
                    user,
                    dictionary_mask(user.values, matches),
                    impersonated,
                    dictionary_mask(impersonated.values, matches),
                ))
            }
            None => None,
        };
        for row in rows {
            let at = *row as usize;
            let Some(counts) = view.counts(at) else {
                continue;
            };
            if self.writes_only && counts.writes == 0 {
                continue;
            }
            if let Some((user, user_mask, impersonated, impersonated_mask)) = &users
                && !mask(user_mask, user.key(at))
                && !mask(impersonated_mask, impersonated.key(at))
            {
                continue;
            }
            let key = (times.when(at).unwrap_or(i64::MIN), seqs.value(at));
            self.top.push(key, chunk.place(*row));
        }
        Ok(())
    }

    fn merge(&mut self, other: Self) {
        self.top.merge(other.top);
    }
}

fn newest_requests(
    dataset: &Dataset,
    filter: &Filter,
    limit: usize,
    writes_only: bool,
    user: Option<&TextPattern>,
) -> Result<Vec<RequestRow>> {
    let limit = limit.min(RESULT_ROWS_MAX);
    let mut extra = vec![Column::Time, Column::StageTime, Column::LedgerSeq];
    if user.is_some() {
        extra.extend([Column::User, Column::ImpersonatedUser]);
    }
    let (accumulator, _) = dataset.scan(filter, &with_columns(&extra), || NewestRequests {
        top: TopK::new(limit),
        writes_only,
        user: user.cloned(),
    })?;
    let places: Vec<Place> = accumulator
        .top
        .into_sorted()
        .into_iter()
        .map(|(_, place)| place)
        .collect();
    let events = dataset.materialize(places.iter().copied())?;
    Ok(events
        .iter()
        .map(|(seq, event)| RequestRow::from_event(*seq, event))
        .collect())
}

/// `changes`: every write the filter selects, newest first, at most `limit`.
pub fn changes(dataset: &Dataset, filter: &Filter, limit: usize) -> Result<Vec<RequestRow>> {
    newest_requests(dataset, filter, limit, true, None)
}

/// `activity --user U`: the requests where `user` is the authenticated user *or* the
/// impersonated one, newest first, at most `limit`. The filter's own `users` are applied
/// too (normally empty). A row's `impersonated_user` shows who acted as whom.
pub fn activity(
    dataset: &Dataset,
    user: &TextPattern,
    filter: &Filter,
    limit: usize,
) -> Result<Vec<RequestRow>> {
    newest_requests(dataset, filter, limit, false, Some(user))
}

// ---------------------------------------------------------------------------------------
// object history

/// One write in the history of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectVersion {
    /// The request.
    pub request: RequestRow,
    /// The object as stored after the write (the response body), else as sent (the request
    /// body of a create or update); `None` when the policy kept no body.
    pub body: Option<RawJson>,
    /// The change from the previous version that had a body, as an RFC 6902 JSON Patch;
    /// `None` for the first version with a body and when this one has none.
    pub diff: Option<Vec<PatchOperation>>,
}

/// `changes --object RESOURCE/NAMESPACE/NAME`: the writes to one object (any subresource)
/// that the filter selects, oldest first, each with the diff from the version before.
pub fn object_history(
    dataset: &Dataset,
    resource: &str,
    namespace: &str,
    name: &str,
    filter: &Filter,
) -> Result<Vec<ObjectVersion>> {
    let events = dataset.object_events(resource, namespace, name)?;
    let mut versions = Vec::new();
    let mut previous: Option<Value> = None;
    for (seq, event) in &events {
        if !filter.matches(event) || !is_request(event) || !is_write(event) {
            continue;
        }
        let body = version_body(event);
        let parsed = body
            .as_ref()
            .and_then(|body| serde_json::from_str::<Value>(body.get()).ok());
        let change = match (&previous, &parsed) {
            (Some(old), Some(new)) => Some(diff(old, new)),
            _ => None,
        };
        if parsed.is_some() {
            previous = parsed;
        }
        versions.push(ObjectVersion {
            request: RequestRow::from_event(*seq, event),
            body,
            diff: change,
        });
    }
    Ok(versions)
}

/// The stored object after the write: the response body unless it is a `Status` (as for a
/// delete or an error), else the request body of a create or update (a full object; a
/// patch body is not).
fn version_body(event: &AuditEvent) -> Option<RawJson> {
    let is_status = |body: &RawJson| {
        serde_json::from_str::<KindOnly>(body.get())
            .map(|kind| kind.kind.as_deref() == Some("Status"))
            .unwrap_or(true)
    };
    if let Some(response) = &event.response_object
        && !is_status(response)
    {
        return Some(response.clone());
    }
    if matches!(event.verb.as_str(), "create" | "update")
        && let Some(request) = &event.request_object
        && !is_status(request)
    {
        return Some(request.clone());
    }
    None
}

#[derive(serde::Deserialize)]
struct KindOnly {
    kind: Option<String>,
}

// ---------------------------------------------------------------------------------------
// chargeback

/// What `chargeback` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargebackBy {
    /// The object's namespace (`None`: cluster-scoped and non-resource requests).
    Namespace,
    /// The authenticated user.
    User,
    /// Each group of the authenticated user.
    Group,
}

/// One line of `chargeback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargebackRow {
    /// The namespace, user or group.
    pub key: Option<String>,
    /// Requests, writes, errors.
    pub counts: Counts,
    /// Distinct authenticated users behind the requests (anonymous not counted).
    pub distinct_users: u64,
}

#[derive(Default)]
struct ChargebackAccumulator {
    by: Option<ChargebackBy>,
    counts: KeyCounts,
    users: HashMap<Option<String>, HashSet<String>>,
}

impl Accumulate for ChargebackAccumulator {
    fn add(&mut self, chunk: &Chunk, rows: &[u32]) -> Result<()> {
        let column = match self.by {
            Some(ChargebackBy::Namespace) | None => Column::Namespace,
            Some(ChargebackBy::User) => Column::User,
            Some(ChargebackBy::Group) => Column::Groups,
        };
        self.counts.add(chunk, rows, column)?;
        let view = RequestView::new(chunk)?;
        let users = chunk.dict(Column::User)?;
        let keys: Vec<Option<String>> = Vec::new();
        let _ = keys;
        for row in rows {
            let at = *row as usize;
            if view.counts(at).is_none() {
                continue;
            }
            let Some(user) = users.get(at).filter(|user| !user.is_empty()) else {
                continue;
            };
            for key in row_keys(chunk, column, at)? {
                let set = self.users.entry(key).or_default();
                if !set.contains(user) {
                    set.insert(user.to_owned());
                }
            }
        }
        Ok(())
    }

    fn merge(&mut self, other: Self) {
        self.counts.merge(other.counts);
        for (key, users) in other.users {
            self.users.entry(key).or_default().extend(users);
        }
    }
}

/// The keys of one row in `column` (several for groups).
fn row_keys(chunk: &Chunk, column: Column, row: usize) -> Result<Vec<Option<String>>> {
    if column == Column::Groups {
        let groups = chunk.list(column)?;
        if groups.is_null(row) {
            return Ok(vec![None]);
        }
        let values = groups.value(row);
        let Some(strings) = values.as_any().downcast_ref::<arrow_array::StringArray>() else {
            return Ok(vec![None]);
        };
        if strings.is_empty() {
            return Ok(vec![None]);
        }
        return Ok(strings
            .iter()
            .flatten()
            .map(|group| Some(group.to_owned()))
            .collect());
    }
    let dict = chunk.dict(column)?;
    Ok(vec![
        dict.get(row)
            .filter(|value| !value.is_empty())
            .map(str::to_owned),
    ])
}

/// `chargeback --by …`: requests, writes and distinct users per key, most requests first.
pub fn chargeback(
    dataset: &Dataset,
    filter: &Filter,
    by: ChargebackBy,
) -> Result<Vec<ChargebackRow>> {
    let column = match by {
        ChargebackBy::Namespace => Column::Namespace,
        ChargebackBy::User => Column::User,
        ChargebackBy::Group => Column::Groups,
    };
    let (accumulator, _) = dataset.scan(filter, &with_columns(&[column, Column::User]), || {
        ChargebackAccumulator {
            by: Some(by),
            ..ChargebackAccumulator::default()
        }
    })?;
    let mut rows: Vec<ChargebackRow> = accumulator
        .counts
        .into_rows()
        .map(|(key, counts)| ChargebackRow {
            distinct_users: accumulator
                .users
                .get(&key)
                .map_or(0, |users| users.len() as u64),
            key,
            counts,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.counts
            .requests
            .cmp(&a.counts.requests)
            .then_with(|| a.key.cmp(&b.key))
    });
    rows.truncate(TOP_ROWS_MAX);
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count_flags` against a count row by row, for a narrow dictionary (four tables) and
    /// a wide one (one table), with NULL rows, keys outside the dictionary, every flag
    /// combination and row counts that are not a multiple of the tables.
    #[test]
    fn count_flags_matches_a_count_row_by_row() {
        for (values, rows) in [(0, 7), (1, 1), (5, 1003), (300, 4099), (5000, 20_001)] {
            let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ values as u64;
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let mut keys = Vec::new();
            let mut flags = Vec::new();
            let mut nulls = Vec::new();
            for row in 0..rows {
                let draw = next();
                // Mostly in range, sometimes negative or past the end.
                let key = match draw % 50 {
                    0 => -1,
                    1 => i32::try_from(values + 3).unwrap(),
                    _ => i32::try_from((draw >> 8) % (values as u64 + 1)).unwrap(),
                };
                keys.push(key);
                flags.push(u8::try_from((draw >> 32) % 16).unwrap());
                if draw % 17 == 0 {
                    nulls.push(row);
                }
            }
            let mut expected = vec![Counts::default(); values + 1];
            for (row, key) in keys.iter().enumerate() {
                let slot = if nulls.contains(&row) {
                    values
                } else {
                    usize::try_from(*key).map_or(values, |key| key.min(values))
                };
                let request = RequestView { flags: &flags }.counts(row);
                if let Some(counts) = request {
                    expected[slot].add(counts);
                }
            }
            let counted = count_flags(&keys, &flags, values, nulls.iter().copied());
            assert_eq!(counted, expected, "{values} values, {rows} rows");
        }
    }
}
