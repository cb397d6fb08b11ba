//! A cheap, borrowed view of one Kubernetes audit event: what an audit policy decides on
//! (stage, level, user and groups, verb, object, path), read without building the event.
//!
//! [`peek_unless`] answers only when [`super::decode`] would give exactly one event and no
//! diagnostic at all; anything else (lists, `v1alpha1` events, malformed JSON, values the
//! decoder warns about) is `None`, and the caller decodes the record in full. For an
//! answer, [`Peek::attributes`] equals the decoded event's
//! [`AuditEvent::attributes`](event::AuditEvent::attributes).
//!
//! Two readers stand behind it:
//!
//! - the byte scanner of [`super::scan`], tried first: a conservative hand-written reader
//!   that answers for plain API-server lines, about twice as fast as the serde peek, and
//!   gives up ([`Scan::Unsure`]) on anything unusual;
//! - the serde peek ([`peek_serde_unless`]), the reference, which decides every line the
//!   scanner gives up on: it walks the whole record with the same serde machinery and the
//!   same acceptance rules as [`super::decode`] (every known key type-checked as the decoder
//!   checks it, every other value validated as JSON, duplicate keys resolved the same way),
//!   allocating nothing except long group lists and escaped strings.
//!
//! The scanner's answers equal the serde peek's, and the serde peek's equal the decoder's:
//! the property tests (`tests/it/peek.rs`, `tests/it/scan.rs`) and the `peek_k8s` fuzz
//! target check both.
//!
//! `wanted` is asked at most once per record. The scanner asks it where the serde peek
//! would, with the same attributes; when it said yes and the scanner then gives up, the
//! serde peek runs without asking again (a `wanted` that says yes only lets the peek read
//! on, and an answer is always from the whole record, so the result is the same).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use event::{
    Attributes, Groups, Level, ResourceAttributes, Stage, Timestamp, UserAttributes, uri_path,
};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Text;
use super::scan::{self, Scan};
use crate::limits::{PEEK_GROUPS_INLINE, SOURCE_IPS_MAX};

/// What a policy reads of one Kubernetes audit event, borrowed from the record.
#[derive(Debug, Clone, Default)]
pub struct Peek<'a> {
    pub(super) stage: Option<Stage>,
    pub(super) level: Option<Level>,
    pub(super) uri: Cow<'a, str>,
    pub(super) verb: Cow<'a, str>,
    pub(super) user: PeekUser<'a>,
    pub(super) object: Option<PeekObject<'a>>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct PeekUser<'a> {
    pub(super) name: Cow<'a, str>,
    pub(super) uid: Cow<'a, str>,
    pub(super) groups: Option<GroupList<'a>>,
    pub(super) has_extra: bool,
}

#[derive(Debug, Clone, Default)]
pub(super) struct PeekObject<'a> {
    pub(super) resource: Cow<'a, str>,
    pub(super) namespace: Cow<'a, str>,
    pub(super) name: Cow<'a, str>,
    pub(super) subresource: Cow<'a, str>,
    pub(super) api_group: Option<Cow<'a, str>>,
}

/// A user's groups: the first [`PEEK_GROUPS_INLINE`] in place (no allocation for the usual
/// one to three), all of them in a `Vec` beyond that.
#[derive(Debug, Clone, Default)]
pub(super) struct GroupList<'a> {
    inline: [Cow<'a, str>; PEEK_GROUPS_INLINE],
    len: usize,
    spilled: Vec<Cow<'a, str>>,
}

impl<'a> GroupList<'a> {
    pub(super) fn push(&mut self, group: Cow<'a, str>) {
        if self.spilled.is_empty() {
            if let Some(slot) = self.inline.get_mut(self.len) {
                *slot = group;
                self.len += 1;
                return;
            }
            self.spilled.reserve(self.len + 1);
            self.spilled
                .extend(self.inline.iter_mut().take(self.len).map(std::mem::take));
            self.len = 0;
        }
        self.spilled.push(group);
    }

    pub(super) fn as_slice(&self) -> &[Cow<'a, str>] {
        if self.spilled.is_empty() {
            self.inline.get(..self.len).unwrap_or_default()
        } else {
            &self.spilled
        }
    }
}

impl Peek<'_> {
    /// The attributes of the event [`super::decode`] would give.
    pub fn attributes(&self) -> Attributes<'_> {
        let user = &self.user;
        let empty =
            user.name.is_empty() && user.uid.is_empty() && user.groups.is_none() && !user.has_extra;
        Attributes {
            stage: self.stage,
            level: self.level,
            user: (!empty).then(|| UserAttributes {
                name: &user.name,
                groups: Groups::Borrowed(user.groups.as_ref().map_or(&[][..], GroupList::as_slice)),
            }),
            verb: &self.verb,
            resource: self.object.as_ref().map(|object| ResourceAttributes {
                group: object.api_group.as_deref().unwrap_or_default(),
                resource: &object.resource,
                subresource: &object.subresource,
                namespace: &object.namespace,
                name: &object.name,
            }),
            path: uri_path(&self.uri),
        }
    }
}

/// Reads the policy attributes of `record` (one line, leading whitespace removed) when
/// [`super::decode`] would decode it into exactly one event without any diagnostic; `None`
/// otherwise. Never panics.
pub fn peek(record: &[u8]) -> Option<Peek<'_>> {
    peek_unless(record, &mut |_| true)
}

/// [`peek`], asking `wanted` at most once, with the attributes read so far, at the first key
/// that cannot change them in the API server's field order (`responseStatus`, a body, a
/// timestamp or `annotations`); when it says no, the peek stops there with `None`, sparing
/// the rest of the record (a caller that keeps such events decodes them in full anyway). An
/// answer is always from the whole record: a key repeated after that point still counts.
///
/// The byte scanner ([`super::scan_unless`]) answers first; only when it is unsure does the
/// serde peek ([`peek_serde_unless`]) read the record, without asking `wanted` again if the
/// scanner already did.
pub fn peek_unless<'a>(
    record: &'a [u8],
    wanted: &mut dyn FnMut(&Attributes<'_>) -> bool,
) -> Option<Peek<'a>> {
    if record.first() != Some(&b'{') {
        return None;
    }
    let text = std::str::from_utf8(record).ok()?;
    let mut asked = false;
    let scanned = scan::scan_text(text, &mut |attributes| {
        asked = true;
        wanted(attributes)
    });
    match scanned {
        Scan::Peek(peek) => Some(peek),
        Scan::Decode => None,
        // `wanted` said yes: the serde peek reads on to the end, as it would have.
        Scan::Unsure if asked => serde_peek(text, &mut |_| true),
        Scan::Unsure => serde_peek(text, wanted),
    }
}

/// The serde peek alone: [`peek_unless`] without the byte scanner in front. The reference
/// the scanner is checked against (tests, fuzzing, benchmarks); [`peek_unless`] gives the
/// same answers faster.
pub fn peek_serde_unless<'a>(
    record: &'a [u8],
    wanted: &mut dyn FnMut(&Attributes<'_>) -> bool,
) -> Option<Peek<'a>> {
    if record.first() != Some(&b'{') {
        return None;
    }
    serde_peek(std::str::from_utf8(record).ok()?, wanted)
}

fn serde_peek<'a>(
    text: &'a str,
    wanted: &mut dyn FnMut(&Attributes<'_>) -> bool,
) -> Option<Peek<'a>> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let peek = deserializer
        .deserialize_map(EventPeek {
            wanted,
            asked: false,
        })
        .ok()?;
    deserializer.end().ok()?;
    Some(peek)
}

/// Why the peek gave up; the record is then decoded in full.
const GIVE_UP: &str = "not a plain event: decode it in full";

struct EventPeek<'w> {
    wanted: &'w mut dyn FnMut(&Attributes<'_>) -> bool,
    asked: bool,
}

impl EventPeek<'_> {
    /// Asks `wanted` the first time; false when the peek should stop.
    fn still_wanted(&mut self, peek: &Peek<'_>) -> bool {
        if self.asked {
            return true;
        }
        self.asked = true;
        (self.wanted)(&peek.attributes())
    }
}

impl<'de> Visitor<'de> for EventPeek<'_> {
    type Value = Peek<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an audit event object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Peek<'de>, A::Error> {
        let mut peek = Peek::default();
        let mut kind: Option<Text<'de>> = None;
        let mut api_version: Option<Text<'de>> = None;
        let mut request_received: Option<Text<'de>> = None;
        let mut stage_timestamp: Option<Text<'de>> = None;
        let mut has_identity = false;
        // Each arm accepts exactly what the decoder's arm for the same key accepts, and keeps
        // what a repeated key leaves behind there.
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if matches!(
                key.as_ref(),
                "responseStatus"
                    | "requestObject"
                    | "responseObject"
                    | "requestReceivedTimestamp"
                    | "stageTimestamp"
                    | "annotations"
            ) && !self.still_wanted(&peek)
            {
                return Err(give_up::<A>());
            }
            match key.as_ref() {
                "kind" => kind = map.next_value()?,
                "apiVersion" => api_version = map.next_value()?,
                "level" => {
                    if let Some(Text(text)) = map.next_value::<Option<Text<'de>>>()? {
                        // An unknown level is a warning of the decoder.
                        peek.level = Some(text.parse::<Level>().map_err(|_| give_up::<A>())?);
                    }
                }
                "stage" => {
                    if let Some(Text(text)) = map.next_value::<Option<Text<'de>>>()? {
                        peek.stage = Some(text.parse::<Stage>().map_err(|_| give_up::<A>())?);
                    }
                }
                "auditID" => {
                    map.next_value::<Option<AnyStr>>()?;
                    has_identity = true;
                }
                "requestURI" => {
                    peek.uri = text_or_empty(map.next_value()?);
                    has_identity = true;
                }
                "verb" => {
                    peek.verb = text_or_empty(map.next_value()?);
                    has_identity = true;
                }
                "user" => peek.user = optional::<PeekUser, _>(&mut map)?.unwrap_or_default(),
                "impersonatedUser" => {
                    optional::<PeekUser, _>(&mut map)?;
                }
                "sourceIPs" => {
                    let ips = map.next_value::<Option<StrList>>()?;
                    // More than the limit is a warning of the decoder.
                    if ips.is_some_and(|StrList(count)| count > SOURCE_IPS_MAX) {
                        return Err(give_up::<A>());
                    }
                }
                "userAgent" => {
                    map.next_value::<Option<AnyStr>>()?;
                }
                "objectRef" => peek.object = optional(&mut map)?,
                "responseStatus" => {
                    optional::<PeekStatus, _>(&mut map)?;
                }
                "requestReceivedTimestamp" => request_received = map.next_value()?,
                "stageTimestamp" => stage_timestamp = map.next_value()?,
                "annotations" => {
                    map.next_value::<Option<StrMap<AnyStr>>>()?;
                }
                // An `EventList`, or an event with an `items` key: decoded in full.
                "items" => return Err(give_up::<A>()),
                // Other keys (bodies, `timestamp`, `metadata`, unknown ones) are kept raw.
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !has_identity
            || kind.is_some_and(|Text(kind)| kind == "EventList")
            // v1alpha1 moves the API group out of `objectRef.apiVersion`.
            || api_version.is_some_and(|Text(version)| version == "audit.k8s.io/v1alpha1")
        {
            return Err(give_up::<A>());
        }
        // A timestamp that does not parse is a warning of the decoder.
        for Text(time) in [request_received, stage_timestamp].into_iter().flatten() {
            Timestamp::parse(&time).map_err(|_| give_up::<A>())?;
        }
        Ok(peek)
    }
}

fn give_up<'de, A: MapAccess<'de>>() -> A::Error {
    de::Error::custom(GIVE_UP)
}

fn text_or_empty(text: Option<Text<'_>>) -> Cow<'_, str> {
    text.map(|Text(text)| text).unwrap_or_default()
}

/// An object the peek reads key by key; `Option<Object<T>>` reads it where the value may
/// also be `null` or absent, as the decoder's seeds do.
trait PeekMap<'de>: Sized {
    /// What the value must be, for the error of another JSON type.
    const EXPECTING: &'static str;
    fn read<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// A [`PeekMap`] as a JSON object.
struct Object<T>(T);

impl<'de, T: PeekMap<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: PeekMap<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::EXPECTING)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
                T::read(map).map(Object)
            }
        }
        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

/// The next value of `map`, an optional [`PeekMap`].
fn optional<'de, T: PeekMap<'de>, A: MapAccess<'de>>(map: &mut A) -> Result<Option<T>, A::Error> {
    Ok(map
        .next_value::<Option<Object<T>>>()?
        .map(|Object(value)| value))
}

/// `user` and `impersonatedUser`, as the decoder's `ActorSeed` reads them.
impl<'de> PeekMap<'de> for PeekUser<'de> {
    const EXPECTING: &'static str = "a user object";
    fn read<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut user = PeekUser::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match key.as_ref() {
                "username" => user.name = text_or_empty(map.next_value()?),
                "uid" => user.uid = text_or_empty(map.next_value()?),
                "groups" => {
                    user.groups = map.next_value::<Option<Vec<Text<'de>>>>()?.map(|groups| {
                        let mut list = GroupList::default();
                        for Text(group) in groups {
                            list.push(group);
                        }
                        list
                    });
                }
                "extra" => {
                    user.has_extra = map.next_value::<Option<StrMap<StrList>>>()?.is_some();
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(user)
    }
}

/// `objectRef`, as the decoder's `ObjectRefSeed` reads it.
impl<'de> PeekMap<'de> for PeekObject<'de> {
    const EXPECTING: &'static str = "an objectRef object";
    fn read<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut object = PeekObject::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match key.as_ref() {
                "resource" => object.resource = text_or_empty(map.next_value()?),
                "namespace" => object.namespace = text_or_empty(map.next_value()?),
                "name" => object.name = text_or_empty(map.next_value()?),
                "subresource" => object.subresource = text_or_empty(map.next_value()?),
                "uid" | "apiVersion" | "resourceVersion" => {
                    map.next_value::<Option<AnyStr>>()?;
                }
                "apiGroup" => {
                    object.api_group = map
                        .next_value::<Option<Text<'de>>>()?
                        .map(|Text(group)| group);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(object)
    }
}

/// `responseStatus`, checked as the decoder's `StatusSeed` reads it.
struct PeekStatus;

impl<'de> PeekMap<'de> for PeekStatus {
    const EXPECTING: &'static str = "a responseStatus object";
    fn read<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match key.as_ref() {
                "status" | "reason" | "message" => {
                    map.next_value::<Option<AnyStr>>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(PeekStatus)
    }
}

/// A JSON string, checked and forgotten.
struct AnyStr;

impl<'de> Deserialize<'de> for AnyStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AnyStr, D::Error> {
        struct AnyStrVisitor;
        impl Visitor<'_> for AnyStrVisitor {
            type Value = AnyStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<AnyStr, E> {
                Ok(AnyStr)
            }
        }
        deserializer.deserialize_str(AnyStrVisitor)
    }
}

/// A JSON array of strings, checked and counted.
struct StrList(usize);

impl<'de> Deserialize<'de> for StrList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StrList, D::Error> {
        struct StrListVisitor;
        impl<'de> Visitor<'de> for StrListVisitor {
            type Value = StrList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrList, A::Error> {
                let mut count = 0;
                while seq.next_element::<AnyStr>()?.is_some() {
                    count += 1;
                }
                Ok(StrList(count))
            }
        }
        deserializer.deserialize_seq(StrListVisitor)
    }
}

/// A JSON object with string keys and `V` values, checked and forgotten.
struct StrMap<V>(PhantomData<V>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for StrMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StrMap<V>, D::Error> {
        struct StrMapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for StrMapVisitor<V> {
            type Value = StrMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrMap<V>, A::Error> {
                while map.next_entry::<AnyStr, V>()?.is_some() {}
                Ok(StrMap(PhantomData))
            }
        }
        deserializer.deserialize_map(StrMapVisitor(PhantomData))
    }
}
