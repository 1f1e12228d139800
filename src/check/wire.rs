//! The probe's wire format: its plain greeting lines and its JSON lines,
//! how they are written, read and bounded. The checks that run over it
//! are in `probe`.
//!
//! ```text
//! donor  -> "RSRSYNC-PROBE 1 tls=<ssl-mode>\n"                 (plain)
//! joiner -> "RSRSYNC-PROBE-OK 1 tls=<ssl-mode> cn=<CN>\n"      (plain)
//!           (both stop here when one side has TLS and the other not)
//! -- TLS handshake when enabled: the joiner's CN is checked by the donor
//!    in VERIFY_IDENTITY, as it is from the published `ready` line --
//! donor  -> {"rsrsync","protocol","host","files","bytes":{class: n}}
//! joiner -> the same about itself, plus "room": its verdict on receiving
//!           the donor's bytes
//! donor  -> {"room": its verdict on receiving the joiner's bytes}
//! ```
//!
//! Every line is bounded (256 bytes plain, 16 KiB JSON). The greeting's
//! first byte is not a frame kind, so a real rsrsync joiner in the middle
//! of an SST refuses the probe at once.

use std::io::{Read, Write};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Map, Value, json};

use super::report::{ClassBytes, class_key, class_of_key};

/// Version of the probe exchange itself.
const PROBE_VERSION: u32 = 1;
const GREETING: &str = "RSRSYNC-PROBE";
const ANSWER: &str = "RSRSYNC-PROBE-OK";
const PLAIN_MAX: usize = 256;
const JSON_MAX: usize = 16 << 10;

/// What one side says about itself.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Hello {
    pub(super) rsrsync: String,
    pub(super) protocol: u64,
    pub(super) host: String,
    pub(super) files: u64,
    pub(super) bytes: ClassBytes,
}

/// A joiner's verdict on receiving a donor's bytes.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RoomVerdict {
    pub(super) fits: bool,
    pub(super) needed: u64,
    pub(super) available: u64,
}

/// The donor's greeting, in the clear.
pub(super) fn greeting_line(mode: &str) -> String {
    format!("{GREETING} {PROBE_VERSION} tls={mode}")
}

/// The joiner's answer to a greeting, in the clear.
pub(super) fn answer_line(mode: &str, cn: &str) -> String {
    format!("{ANSWER} {PROBE_VERSION} tls={mode} cn={cn}")
}

pub(super) fn is_greeting(line: &str) -> bool {
    line.starts_with(&format!("{GREETING} "))
}

pub(super) fn is_answer(line: &str) -> bool {
    line.starts_with(&format!("{ANSWER} "))
}

/// The ssl-mode a greeting or an answer names (`DISABLED` if none).
pub(super) fn tls_of(line: &str) -> &str {
    field(line, "tls").unwrap_or("DISABLED")
}

/// The CN an answer names (empty if none).
pub(super) fn cn_of(line: &str) -> &str {
    field(line, "cn").unwrap_or("")
}

/// `tls=<MODE>` and the rest (`cn=` last: a CN may hold spaces).
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    let rest = &line[start..];
    if name == "cn" {
        return Some(rest);
    }
    Some(rest.split(' ').next().unwrap_or(rest))
}

/// A hello line, with the joiner's `room` verdict when it has one.
pub(super) fn hello_json(hello: &Hello, room: Option<&RoomVerdict>) -> Value {
    let bytes: Map<String, Value> = hello
        .bytes
        .iter()
        .map(|(class, n)| (class_key(*class).to_string(), json!(n)))
        .collect();
    let mut value = json!({
        "rsrsync": hello.rsrsync,
        "protocol": hello.protocol,
        "host": hello.host,
        "files": hello.files,
        "bytes": bytes,
    });
    if let (Some(room), Some(map)) = (room, value.as_object_mut()) {
        map.insert("room".into(), verdict_json(room));
    }
    value
}

/// The donor's last line: its verdict on receiving the joiner's bytes.
pub(super) fn room_json(room: &RoomVerdict) -> Value {
    json!({"room": verdict_json(room)})
}

fn verdict_json(v: &RoomVerdict) -> Value {
    json!({"fits": v.fits, "needed": v.needed, "available": v.available})
}

pub(super) fn parse_hello(value: &Value) -> Result<Hello> {
    let text = |key: &str| -> Result<String> {
        let s = value
            .get(key)
            .and_then(Value::as_str)
            .with_context(|| format!("no '{key}' in the peer's hello"))?;
        Ok(s.chars().filter(|c| !c.is_control()).take(64).collect())
    };
    let number = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_u64)
            .with_context(|| format!("no '{key}' in the peer's hello"))
    };
    let mut bytes = ClassBytes::new();
    if let Some(map) = value.get("bytes").and_then(Value::as_object) {
        for (key, n) in map {
            // Classes a newer peer knows and we do not are left out.
            if let (Some(class), Some(n)) = (class_of_key(key), n.as_u64()) {
                bytes.insert(class, n);
            }
        }
    }
    Ok(Hello {
        rsrsync: text("rsrsync")?,
        protocol: number("protocol")?,
        host: text("host")?,
        files: number("files")?,
        bytes,
    })
}

/// The `room` verdict of a line, if it has a well-formed one.
pub(super) fn parse_room(line: &Value) -> Option<RoomVerdict> {
    let value = line.get("room")?;
    Some(RoomVerdict {
        fits: value.get("fits")?.as_bool()?,
        needed: value.get("needed")?.as_u64()?,
        available: value.get("available")?.as_u64()?,
    })
}

/// Reads one `\n`-terminated line of at most `max` bytes, a byte at a
/// time so that nothing after it (a TLS handshake) is consumed. `None`
/// when the peer closed before sending anything.
fn read_line<R: Read>(input: &mut R, max: usize) -> Result<Option<String>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match input.read(&mut byte) {
            Ok(0) if line.is_empty() => return Ok(None),
            Ok(0) => bail!("the connection ended inside a line"),
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => {
                ensure!(line.len() < max, "a line longer than {max} bytes");
                line.push(byte[0]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("reading"),
        }
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// Reads a greeting or an answer; `None` when the peer closed at once.
pub(super) fn read_plain<R: Read>(input: &mut R) -> Result<Option<String>> {
    read_line(input, PLAIN_MAX)
}

pub(super) fn read_json<R: Read>(input: &mut R) -> Result<Value> {
    let line = read_line(input, JSON_MAX)?.context("the peer closed the connection")?;
    serde_json::from_str(&line).context("the peer sent a malformed line")
}

pub(super) fn write_line<W: Write>(output: &mut W, line: &str) -> Result<()> {
    output
        .write_all(format!("{line}\n").as_bytes())
        .and_then(|()| output.flush())
        .context("writing to the peer")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Class;

    #[test]
    fn hello_round_trips_and_ignores_unknown_classes() {
        let hello = Hello {
            rsrsync: "0.1.0".into(),
            protocol: 1,
            host: "db1".into(),
            files: 3,
            bytes: ClassBytes::from([(Class::Data, 10), (Class::Binlog, 2)]),
        };
        let mut value = hello_json(
            &hello,
            Some(&RoomVerdict {
                fits: true,
                needed: 1,
                available: 2,
            }),
        );
        assert_eq!(parse_hello(&value).expect("parses"), hello);
        assert_eq!(
            parse_room(&value),
            Some(RoomVerdict {
                fits: true,
                needed: 1,
                available: 2
            })
        );
        value["bytes"]["future"] = json!(5);
        value["host"] = json!("evil\u{1b}[2Jhost");
        let parsed = parse_hello(&value).expect("parses");
        assert_eq!(parsed.bytes.len(), 2);
        assert_eq!(parsed.host, "evil[2Jhost", "control characters dropped");
        assert!(parse_hello(&json!({"host": "x"})).is_err());
    }

    #[test]
    fn the_donors_room_line() {
        let room = RoomVerdict {
            fits: false,
            needed: 7,
            available: 3,
        };
        let line = room_json(&room);
        assert_eq!(
            line.to_string(),
            r#"{"room":{"available":3,"fits":false,"needed":7}}"#
        );
        assert_eq!(parse_room(&line), Some(room));
        assert_eq!(parse_room(&json!({"room": {"fits": true}})), None);
    }

    #[test]
    fn plain_lines_are_bounded() {
        let mut input = &b"RSRSYNC-PROBE 1 tls=DISABLED\nrest"[..];
        assert_eq!(
            read_line(&mut input, 64).expect("line").as_deref(),
            Some("RSRSYNC-PROBE 1 tls=DISABLED")
        );
        assert_eq!(input, b"rest", "nothing after the line is consumed");
        assert!(read_line(&mut &[b'x'; 300][..], 256).is_err());
        assert_eq!(read_line(&mut &b""[..], 8).expect("eof"), None);
        assert!(read_line(&mut &b"abc"[..], 8).is_err(), "cut inside a line");
    }

    #[test]
    fn greeting_and_answer_lines() {
        let greeting = greeting_line("REQUIRED");
        assert_eq!(greeting, "RSRSYNC-PROBE 1 tls=REQUIRED");
        assert!(is_greeting(&greeting) && !is_answer(&greeting));
        assert_eq!(tls_of(&greeting), "REQUIRED");
        let answer = answer_line("VERIFY_CA", "My Node 1");
        assert_eq!(answer, "RSRSYNC-PROBE-OK 1 tls=VERIFY_CA cn=My Node 1");
        assert!(is_answer(&answer) && !is_greeting(&answer));
        assert_eq!(tls_of(&answer), "VERIFY_CA");
        assert_eq!(cn_of(&answer), "My Node 1");
        assert_eq!(cn_of("RSRSYNC-PROBE-OK 1 tls=REQUIRED cn="), "");
        assert_eq!(tls_of("RSRSYNC-PROBE 1"), "DISABLED");
        assert_eq!(cn_of("RSRSYNC-PROBE-OK 1 tls=REQUIRED"), "");
    }
}
