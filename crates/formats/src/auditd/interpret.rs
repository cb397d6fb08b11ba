//! What `ausearch -i` prints for a field value: architectures, syscall and errno names, file
//! modes, permissions, capabilities, signals, socket addresses, and the decoding of
//! hex-encoded strings. Pure functions over bytes; results go into a caller's buffer.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::tables::{
    CAPABILITIES, ERRNOS, SYSCALLS_AARCH64, SYSCALLS_ARM, SYSCALLS_I386, SYSCALLS_PPC64,
    SYSCALLS_S390X, SYSCALLS_X86_64,
};

/// How a field's value is read, decided by its name and record type like auparse's
/// `typetab.h` and `auparse_interp_adjust_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldClass {
    /// A user id: `unset`, `root`, or a name from ENRICHED or the operator's passwd.
    Uid,
    /// A group id.
    Gid,
    /// A session id (`unset` for 4294967295).
    Session,
    Arch,
    Syscall,
    Exit,
    /// `res`/`result`: `1`/`0` read as yes/no.
    Result,
    Mode,
    Perm,
    /// A capability bitmap in hex.
    CapabilitySet,
    /// One capability number.
    Capability,
    Signal,
    SocketAddress,
    /// A string written quoted, or in hex when it needs encoding.
    Encoded,
    /// `acct`: quoted, hex, or plain.
    Account,
    /// `key`: encoded, several keys joined by 0x01.
    Key,
    /// `proctitle`: encoded, arguments separated by NUL.
    ProcessTitle,
    /// `list` of CONFIG_CHANGE: the rule list (`exit`, `user`, …).
    List,
    /// Anything else: kept as written.
    Plain,
}

/// Record type numbers the classes depend on.
pub(super) mod types {
    pub(crate) const EXECVE: u32 = 1309;
    pub(crate) const AVC: u32 = 1400;
    pub(crate) const USER_TTY: u32 = 1124;
    pub(crate) const TTY: u32 = 1319;
    pub(crate) const KERN_MODULE: u32 = 1330;
    pub(crate) const ADD_GROUP: u32 = 1116;
    pub(crate) const DEL_GROUP: u32 = 1117;
    pub(crate) const GRP_MGMT: u32 = 1132;
    pub(crate) const SYSCALL: u32 = 1300;
    pub(crate) const PATH: u32 = 1302;
    pub(crate) const SOCKADDR: u32 = 1306;
    pub(crate) const CONFIG_CHANGE: u32 = 1305;
    pub(crate) const EOE: u32 = 1320;
    pub(crate) const PROCTITLE: u32 = 1327;
    pub(crate) const LOGIN: u32 = 1006;
    pub(crate) const USER: u32 = 1005;
    pub(crate) const KERNEL: u32 = 2000;
    pub(crate) const FIRST_EVENT: u32 = 1300;
    pub(crate) const FIRST_ANOM_MSG: u32 = 2100;
    pub(crate) const MAC_UNLBL_ALLOW: u32 = 1406;
    pub(crate) const MAC_CALIPSO_DEL: u32 = 1419;
}

/// True when a record of this type ends its event (`common/common.c:
/// audit_is_last_record`): EOE, PROCTITLE, USER, KERNEL, every type between LOGIN and the
/// first kernel event type (userspace and daemon messages), every type from the first anomaly
/// message on, and the NetLabel single-record types.
pub(super) fn is_last_record(record_type: u32) -> bool {
    record_type == types::PROCTITLE
        || record_type == types::EOE
        || (record_type > types::LOGIN && record_type < types::FIRST_EVENT)
        || record_type == types::USER
        || record_type >= types::FIRST_ANOM_MSG
        || record_type == types::KERNEL
        || (types::MAC_UNLBL_ALLOW..=types::MAC_CALIPSO_DEL).contains(&record_type)
}

/// The class of field `name` in a record of type `record_type`.
pub(super) fn classify(record_type: u32, name: &[u8]) -> FieldClass {
    if record_type == types::EXECVE {
        return if name == b"argc" || name.ends_with(b"_len") {
            FieldClass::Plain
        } else if name.first() == Some(&b'a') {
            FieldClass::Encoded
        } else {
            FieldClass::Plain
        };
    }
    match name {
        b"auid" | b"uid" | b"euid" | b"suid" | b"fsuid" | b"ouid" | b"oauid" | b"old-auid"
        | b"iuid" | b"inode_uid" | b"sauid" | b"obj_uid" => FieldClass::Uid,
        b"id" => match record_type {
            types::ADD_GROUP | types::DEL_GROUP | types::GRP_MGMT => FieldClass::Gid,
            _ => FieldClass::Uid,
        },
        b"gid" | b"egid" | b"sgid" | b"fsgid" | b"ogid" | b"obj_gid" | b"igid" | b"new_gid"
        | b"inode_gid" => FieldClass::Gid,
        b"ses" => FieldClass::Session,
        b"arch" => FieldClass::Arch,
        b"syscall" => FieldClass::Syscall,
        b"exit" => FieldClass::Exit,
        b"res" | b"result" => FieldClass::Result,
        b"mode" => FieldClass::Mode,
        b"perm" | b"perm_mask" => FieldClass::Perm,
        b"cap_pi" | b"cap_pp" | b"cap_pe" | b"cap_pa" | b"cap_fp" | b"cap_fi" | b"fp" | b"fi"
        | b"pp" | b"pi" | b"pe" | b"pa" | b"old_pp" | b"old_pi" | b"old_pe" | b"old_pa" => {
            FieldClass::CapabilitySet
        }
        b"capability" => FieldClass::Capability,
        b"sig" => FieldClass::Signal,
        b"saddr" if record_type != types::AVC => FieldClass::SocketAddress,
        b"acct" => FieldClass::Account,
        b"key" => FieldClass::Key,
        b"proctitle" => FieldClass::ProcessTitle,
        b"list" if record_type == types::CONFIG_CHANGE => FieldClass::List,
        b"data" if record_type == types::TTY || record_type == types::USER_TTY => {
            FieldClass::Encoded
        }
        b"msg" if record_type == types::USER_TTY => FieldClass::Encoded,
        b"name" if record_type == types::KERN_MODULE => FieldClass::Encoded,
        b"path" | b"comm" | b"exe" | b"file" | b"watch" | b"cwd" | b"cmd" | b"dir" | b"vm"
        | b"ocomm" | b"grp" | b"new_group" | b"sw" | b"root_dir" | b"device" | b"cgroup"
        | b"old-chardev" | b"new-chardev" | b"old-disk" | b"new-disk" | b"old-fs" | b"new-fs"
        | b"old-net" | b"new-net" | b"old-rng" | b"new-rng" | b"apparmor" | b"operation"
        | b"denied_mask" | b"info" | b"profile" | b"requested_mask" | b"invalid_context"
        | b"name" => FieldClass::Encoded,
        _ => FieldClass::Plain,
    }
}

/// The decoded text of an encoded value written unquoted: hex when it is an even number of
/// hex digits, else `None` (the value is used as written, as auparse does for malformed hex).
/// `(null)`, `(none)` and `?` are never hex.
pub(super) fn decode_hex(value: &[u8], out: &mut Vec<u8>) -> bool {
    if value.is_empty() || !value.len().is_multiple_of(2) {
        return false;
    }
    let start = out.len();
    out.reserve(value.len() / 2);
    for pair in value.chunks_exact(2) {
        match (hex_digit(pair[0]), hex_digit(pair[1])) {
            (Some(high), Some(low)) => out.push(high << 4 | low),
            _ => {
                out.truncate(start);
                return false;
            }
        }
    }
    true
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    }
}

/// Reads a hexadecimal number (no prefix).
pub(super) fn parse_hex(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 16 {
        return None;
    }
    let mut number = 0u64;
    for &byte in value {
        number = number << 4 | u64::from(hex_digit(byte)?);
    }
    Some(number)
}

/// Reads a decimal number, with an optional leading `-`.
pub(super) fn parse_signed(value: &[u8]) -> Option<i64> {
    let (negative, digits) = match value.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut number = 0i64;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        number = number
            .checked_mul(10)?
            .checked_add(i64::from(byte - b'0'))?;
    }
    Some(if negative { -number } else { number })
}

/// An AUDIT_ARCH value and its name.
pub(super) fn arch_name(arch: u32) -> Option<&'static str> {
    Some(match arch {
        0xc000_003e => "x86_64",
        0x4000_0003 => "i386",
        0xc000_00b7 => "aarch64",
        0x4000_0028 => "arm",
        0x0000_0028 => "armeb",
        0xc000_00f3 => "riscv64",
        0x4000_00f3 => "riscv32",
        0x8000_0016 => "s390x",
        0x0000_0016 => "s390",
        0x8000_0015 => "ppc64",
        0xc000_0015 => "ppc64le",
        0x0000_0014 => "ppc",
        _ => return None,
    })
}

/// The syscall table of an architecture, when we have one.
fn syscall_table(arch: u32) -> Option<&'static [(u32, &'static str)]> {
    Some(match arch {
        0xc000_003e => SYSCALLS_X86_64,
        0x4000_0003 => SYSCALLS_I386,
        0xc000_00b7 => SYSCALLS_AARCH64,
        0x4000_0028 | 0x0000_0028 => SYSCALLS_ARM,
        0x8000_0015 | 0xc000_0015 | 0x0000_0014 => SYSCALLS_PPC64,
        0x8000_0016 => SYSCALLS_S390X,
        _ => return None,
    })
}

/// The name of syscall `number` on `arch`.
pub(super) fn syscall_name(arch: u32, number: u64) -> Option<&'static str> {
    let table = syscall_table(arch)?;
    let number = u32::try_from(number).ok()?;
    table
        .binary_search_by_key(&number, |(known, _)| *known)
        .ok()
        .map(|index| table[index].1)
}

/// The errno name and text of `number` (positive).
pub(super) fn errno(number: u64) -> Option<(&'static str, &'static str)> {
    let number = u32::try_from(number).ok()?;
    ERRNOS
        .binary_search_by_key(&number, |(known, _, _)| *known)
        .ok()
        .map(|index| (ERRNOS[index].1, ERRNOS[index].2))
}

/// `exit=-13` as `EACCES(Permission denied)`; false when the value is not a known errno.
pub(super) fn write_exit(value: i64, out: &mut String) -> bool {
    if value >= 0 {
        return false;
    }
    match errno(value.unsigned_abs()) {
        Some((name, text)) => {
            out.push_str(name);
            out.push('(');
            out.push_str(text);
            out.push(')');
            true
        }
        None => false,
    }
}

/// A file mode (`0100755`) as `file,755`, with `suid,`, `sgid,`, `sticky,` when set.
pub(super) fn write_mode(mode: u64, out: &mut String) {
    let kind = match mode & 0o170_000 {
        0o140_000 => "socket",
        0o120_000 => "link",
        0o100_000 => "file",
        0o060_000 => "block",
        0o040_000 => "dir",
        0o020_000 => "character",
        0o010_000 => "fifo",
        _ => "",
    };
    if !kind.is_empty() {
        out.push_str(kind);
        out.push(',');
    }
    if mode & 0o4000 != 0 {
        out.push_str("suid,");
    }
    if mode & 0o2000 != 0 {
        out.push_str("sgid,");
    }
    if mode & 0o1000 != 0 {
        out.push_str("sticky,");
    }
    let _ = write!(out, "{:03o}", mode & 0o777);
}

/// A watch permission mask as `read,write,exec,attr` (0 means all of them).
pub(super) fn write_perm(perm: u64, out: &mut String) {
    let perm = if perm == 0 { 0xf } else { perm };
    let mut first = true;
    for (bit, name) in [(4, "read"), (2, "write"), (1, "exec"), (8, "attr")] {
        if perm & bit != 0 {
            if !first {
                out.push(',');
            }
            out.push_str(name);
            first = false;
        }
    }
}

/// A capability bitmap as a comma-separated list of names; `none` when empty.
pub(super) fn write_capability_set(bits: u64, out: &mut String) {
    if bits == 0 {
        out.push_str("none");
        return;
    }
    let mut first = true;
    for bit in 0..64u32 {
        if bits & (1u64 << bit) == 0 {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        match CAPABILITIES.get(bit as usize) {
            Some(name) => out.push_str(name),
            None => {
                let _ = write!(out, "unknown-capability({bit})");
            }
        }
    }
}

/// One capability's name.
pub(super) fn capability_name(number: u64) -> Option<&'static str> {
    usize::try_from(number)
        .ok()
        .and_then(|index| CAPABILITIES.get(index).copied())
}

/// A signal's name (Linux numbering on x86, arm and most others).
pub(super) fn signal_name(number: u64) -> Option<&'static str> {
    const SIGNALS: [&str; 32] = [
        "SIG0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    usize::try_from(number)
        .ok()
        .filter(|&index| index > 0)
        .and_then(|index| SIGNALS.get(index).copied())
}

/// A socket address read from a `saddr` hex dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SocketAddress {
    Inet { address: Ipv4Addr, port: u16 },
    Inet6 { address: Ipv6Addr, port: u16 },
    Local { path: String },
    Netlink { family: u16, pid: u32 },
    Other { family: u16 },
    Malformed,
}

impl SocketAddress {
    /// Reads the raw `struct sockaddr` bytes: the family is little-endian (host order on every
    /// architecture auditd runs on in practice), ports and IPv4/IPv6 addresses big-endian.
    pub(super) fn from_bytes(bytes: &[u8]) -> SocketAddress {
        let Some(family) = bytes.get(..2).map(|b| u16::from_le_bytes([b[0], b[1]])) else {
            return SocketAddress::Malformed;
        };
        match family {
            1 => {
                let path = &bytes[2..];
                // An abstract socket name starts with NUL; auparse shows it without a marker.
                let path = path.strip_prefix(b"\0").unwrap_or(path);
                let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                SocketAddress::Local {
                    path: String::from_utf8_lossy(&path[..end]).into_owned(),
                }
            }
            2 if bytes.len() >= 8 => SocketAddress::Inet {
                port: u16::from_be_bytes([bytes[2], bytes[3]]),
                address: Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]),
            },
            10 if bytes.len() >= 24 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&bytes[8..24]);
                SocketAddress::Inet6 {
                    port: u16::from_be_bytes([bytes[2], bytes[3]]),
                    address: Ipv6Addr::from(octets),
                }
            }
            16 if bytes.len() >= 8 => SocketAddress::Netlink {
                family,
                pid: u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            },
            2 | 10 | 16 => SocketAddress::Malformed,
            _ => SocketAddress::Other { family },
        }
    }

    /// auparse's rendering: `{ saddr_fam=inet laddr=192.0.2.100 lport=443 }`.
    pub(super) fn write(&self, out: &mut String) {
        let _ = match self {
            SocketAddress::Inet { address, port } => {
                write!(out, "{{ saddr_fam=inet laddr={address} lport={port} }}")
            }
            SocketAddress::Inet6 { address, port } => {
                write!(out, "{{ saddr_fam=inet6 laddr={address} lport={port} }}")
            }
            SocketAddress::Local { path } => write!(out, "{{ saddr_fam=local path={path} }}"),
            SocketAddress::Netlink { family, pid } => {
                write!(
                    out,
                    "{{ saddr_fam=netlink nlnk-fam={family} nlnk-pid={pid} }}"
                )
            }
            SocketAddress::Other { family } => write!(out, "unknown-family({family})"),
            SocketAddress::Malformed => write!(out, "malformed-host"),
        };
    }

    /// The address and port of an IP socket.
    pub(super) fn ip(&self) -> Option<(String, u16)> {
        match self {
            SocketAddress::Inet { address, port } => Some((address.to_string(), *port)),
            SocketAddress::Inet6 { address, port } => Some((address.to_string(), *port)),
            _ => None,
        }
    }
}

/// The name of an audit rule list (libaudit `flagtab.h`), as `ausearch -i` prints `list=`.
pub(super) fn list_name(number: u64) -> Option<&'static str> {
    match number {
        0 => Some("user"),
        1 => Some("task"),
        4 => Some("exit"),
        5 => Some("exclude"),
        6 => Some("filesystem"),
        7 => Some("io_uring"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_rule() {
        let mut out = Vec::new();
        assert!(decode_hex(b"6563686F206869", &mut out));
        assert_eq!(out, b"echo hi");
        out.clear();
        assert!(!decode_hex(b"(null)", &mut out));
        assert!(!decode_hex(b"abc", &mut out));
        assert!(!decode_hex(b"zz", &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn syscalls_per_arch() {
        assert_eq!(syscall_name(0xc000_003e, 59), Some("execve"));
        assert_eq!(syscall_name(0xc000_00b7, 221), Some("execve"));
        assert_eq!(syscall_name(0x4000_0003, 11), Some("execve"));
        assert_eq!(syscall_name(0xc000_003e, 257), Some("openat"));
        assert_eq!(syscall_name(0xc000_003e, 42), Some("connect"));
        assert_eq!(syscall_name(0xc000_003e, 99_999), None);
        assert_eq!(syscall_name(0x1234, 1), None);
        assert_eq!(arch_name(0xc000_003e), Some("x86_64"));
    }

    #[test]
    fn exit_codes_become_errno_names() {
        let mut out = String::new();
        assert!(write_exit(-13, &mut out));
        assert_eq!(out, "EACCES(Permission denied)");
        out.clear();
        assert!(write_exit(-2, &mut out));
        assert_eq!(out, "ENOENT(No such file or directory)");
        assert!(!write_exit(3, &mut String::new()));
        assert!(!write_exit(-99_999, &mut String::new()));
    }

    #[test]
    fn modes_perms_caps_signals() {
        let mut out = String::new();
        write_mode(0o100_755, &mut out);
        assert_eq!(out, "file,755");
        out.clear();
        write_mode(0o104_755, &mut out);
        assert_eq!(out, "file,suid,755");
        out.clear();
        write_mode(0o041_777, &mut out);
        assert_eq!(out, "dir,sticky,777");
        out.clear();
        write_perm(6, &mut out);
        assert_eq!(out, "read,write");
        out.clear();
        write_perm(0, &mut out);
        assert_eq!(out, "read,write,exec,attr");
        out.clear();
        write_capability_set(0x400, &mut out);
        assert_eq!(out, "net_bind_service");
        out.clear();
        write_capability_set(0x3, &mut out);
        assert_eq!(out, "chown,dac_override");
        out.clear();
        write_capability_set(0, &mut out);
        assert_eq!(out, "none");
        assert_eq!(capability_name(21), Some("sys_admin"));
        assert_eq!(signal_name(11), Some("SIGSEGV"));
        assert_eq!(signal_name(0), None);
    }

    #[test]
    fn socket_addresses() {
        let mut bytes = Vec::new();
        assert!(decode_hex(b"020001BBC00002640000000000000000", &mut bytes));
        let address = SocketAddress::from_bytes(&bytes);
        let mut out = String::new();
        address.write(&mut out);
        assert_eq!(out, "{ saddr_fam=inet laddr=192.0.2.100 lport=443 }");
        assert_eq!(address.ip(), Some(("192.0.2.100".into(), 443)));

        bytes.clear();
        assert!(decode_hex(
            b"0A0001BB0000000020010DB800000000000000000000000100000000",
            &mut bytes
        ));
        out.clear();
        SocketAddress::from_bytes(&bytes).write(&mut out);
        assert_eq!(out, "{ saddr_fam=inet6 laddr=2001:db8::1 lport=443 }");

        bytes.clear();
        assert!(decode_hex(
            b"01002F72756E2F73797374656D642F6A6F75726E616C2F736F636B657400",
            &mut bytes
        ));
        out.clear();
        SocketAddress::from_bytes(&bytes).write(&mut out);
        assert_eq!(out, "{ saddr_fam=local path=/run/systemd/journal/socket }");

        out.clear();
        SocketAddress::from_bytes(&[0x02]).write(&mut out);
        assert_eq!(out, "malformed-host");
        out.clear();
        SocketAddress::from_bytes(&[0x11, 0x00, 0, 0]).write(&mut out);
        assert_eq!(out, "unknown-family(17)");
    }

    #[test]
    fn last_record_types() {
        assert!(is_last_record(types::EOE));
        assert!(is_last_record(types::PROCTITLE));
        assert!(is_last_record(1112)); // USER_LOGIN
        assert!(is_last_record(1123)); // USER_CMD
        assert!(is_last_record(1200)); // DAEMON_START
        assert!(is_last_record(2100));
        assert!(is_last_record(1410));
        assert!(!is_last_record(types::SYSCALL));
        assert!(!is_last_record(types::LOGIN));
        assert!(!is_last_record(types::AVC));
        assert!(!is_last_record(1305)); // CONFIG_CHANGE
        assert!(!is_last_record(1701)); // ANOM_ABEND
    }
}
