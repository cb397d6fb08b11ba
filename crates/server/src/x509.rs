//! Just enough DER to name the subject of a verified client certificate: its common names
//! and subject alternative names. rustls has verified the chain before this runs; this only
//! reads names, and returns nothing (never panics) on anything it does not understand.

use crate::auth::PeerIdentity;

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const BOOLEAN: u8 = 0x01;
const CONTEXT_0: u8 = 0xa0;
const CONTEXT_3: u8 = 0xa3;
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// One DER element: its tag and contents, and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (length, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let bytes = usize::from(first & 0x7f);
        if bytes == 0 || bytes > 4 {
            return None;
        }
        let mut length = 0usize;
        for byte in input.get(2..2 + bytes)? {
            length = (length << 8) | usize::from(*byte);
        }
        (length, 2 + bytes)
    };
    let end = header.checked_add(length)?;
    Some((tag, input.get(header..end)?, input.get(end..)?))
}

fn elements(mut input: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (tag, contents, rest) = element(input)?;
        input = rest;
        Some((tag, contents))
    })
}

/// The names of the certificate `der`.
pub(crate) fn peer_identity(der: &[u8]) -> PeerIdentity {
    let mut identity = PeerIdentity::default();
    let _ = read(der, &mut identity);
    identity
}

fn read(der: &[u8], identity: &mut PeerIdentity) -> Option<()> {
    let (_, certificate, _) = element(der)?;
    let (_, tbs, _) = element(certificate)?;
    let mut fields = elements(tbs).peekable();
    if fields.peek().is_some_and(|(tag, _)| *tag == CONTEXT_0) {
        fields.next();
    }
    // serial, signature algorithm, issuer, validity, subject
    let subject = fields.nth(4)?.1;
    for (tag, rdn) in elements(subject) {
        if tag != SET {
            continue;
        }
        for (_, attribute) in elements(rdn) {
            let mut parts = elements(attribute);
            let (OID, oid) = parts.next()? else { continue };
            if oid == OID_COMMON_NAME
                && let Some((_, value)) = parts.next()
            {
                identity
                    .common_names
                    .push(String::from_utf8_lossy(value).into_owned());
            }
        }
    }
    let extensions = fields.find(|(tag, _)| *tag == CONTEXT_3)?.1;
    let (SEQUENCE, extensions, _) = element(extensions)? else {
        return None;
    };
    for (_, extension) in elements(extensions) {
        let mut parts = elements(extension);
        let (OID, oid) = parts.next()? else { continue };
        if oid != OID_SUBJECT_ALT_NAME {
            continue;
        }
        let mut value = parts.next()?;
        if value.0 == BOOLEAN {
            value = parts.next()?;
        }
        if value.0 != OCTET_STRING {
            continue;
        }
        let (_, names, _) = element(value.1)?;
        for (tag, name) in elements(names) {
            match tag {
                // rfc822Name, dNSName, uniformResourceIdentifier
                0x81 | 0x82 | 0x86 => identity
                    .alt_names
                    .push(String::from_utf8_lossy(name).into_owned()),
                // iPAddress
                0x87 => {
                    if let Ok(octets) = <[u8; 4]>::try_from(name) {
                        identity
                            .alt_names
                            .push(std::net::Ipv4Addr::from(octets).to_string());
                    } else if let Ok(octets) = <[u8; 16]>::try_from(name) {
                        identity
                            .alt_names
                            .push(std::net::Ipv6Addr::from(octets).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Some(())
}
