//! The native option-file parser: one my.cnf file, read from any `Read`,
//! turned into the option lines `my_print_defaults` would print for it.
//!
//! It reproduces mysys' `search_default_file_with_ext` (MariaDB 10.11) as
//! observed with `my_print_defaults` on Debian 12, quirks included, because
//! mariadbd reads its own configuration with the same code:
//!
//! - A "line" is what `fgets` returns into mysys' 4095-byte buffer: at most
//!   4094 bytes, so a longer physical line is read as several lines, each
//!   parsed on its own and counted on its own in error line numbers. A NUL
//!   byte ends a line's text.
//! - Whitespace is latin1's: TAB, LF, VT, FF, CR, space and 0xA0.
//! - Blank lines and lines whose first non-blank byte is `#` or `;` are
//!   comments. In an option line, `#` outside quotes starts a comment; `;`
//!   does not.
//! - `[name]` starts a group: the name ends at the first `]`, keeps leading
//!   blanks and loses trailing ones; text after the `]` is ignored.
//! - `name = value`: both sides trimmed; one pair of matching outer quotes
//!   removed; then `\n \t \r \b \s \\ \" \'` are unescaped (any other
//!   backslash, and a final one, stays). `name` alone has no value.
//! - `!include FILE` and `!includedir DIR` (the keyword must be followed by
//!   a blank; other `!` lines are ignored). mysys cuts the last character
//!   off the argument before trimming it, which is the newline on ordinary
//!   lines but a real character on a last line without one.
//! - Errors (no group yet, `[` without `]`, `!include` without a name) stop
//!   the file; the items read before the error stand, as in mysys, where an
//!   included file's options before its error are kept.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, anyhow, bail};

/// The largest option file we read. mysys has no limit; ours keeps a
/// hostile or mistaken file (a log, a device) from filling memory.
pub(crate) const MAX_FILE_BYTES: u64 = 16 << 20;

/// `fgets(buff, sizeof(buff) - 1, fp)` with `char buff[4096]`.
const FGETS_MAX: usize = 4094;

/// One thing a file says, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// An option as `my_print_defaults` prints it (`--name=value` or
    /// `--name`), under the group it appeared in, at `line` (counted as
    /// mysys counts lines in its messages: `fgets` pieces).
    Option {
        group: String,
        option: String,
        line: usize,
    },
    /// `!include PATH` at `line`.
    Include { path: Vec<u8>, line: usize },
    /// `!includedir PATH` at `line`.
    IncludeDir { path: Vec<u8>, line: usize },
}

/// The items of one file, and the error that stopped it early, if any.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) items: Vec<Item>,
    pub(crate) error: Option<anyhow::Error>,
    /// How many bytes the file had (for the reader's overall budget).
    pub(crate) bytes: usize,
}

/// Reads one option file (at most [`MAX_FILE_BYTES`]) and parses it. `name`
/// only labels messages. With `directives` false (mysys' include depth is
/// exhausted) `!` lines are skipped with a warning, whatever they say.
pub(crate) fn parse<R: Read>(input: R, name: &Path, directives: bool) -> anyhow::Result<Parsed> {
    let mut data = Vec::new();
    input
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("reading {}", name.display()))?;
    if data.len() as u64 > MAX_FILE_BYTES {
        bail!(
            "{} is larger than {} MiB; refusing to read it as an option file",
            name.display(),
            MAX_FILE_BYTES >> 20
        );
    }
    Ok(parse_bytes(&data, name, directives))
}

fn parse_bytes(data: &[u8], name: &Path, directives: bool) -> Parsed {
    let mut items = Vec::new();
    let mut group: Option<String> = None;
    let fail = |line: usize, what: String| anyhow!("{}:{line}: {what}", name.display());
    for (index, raw) in fgets_lines(data).enumerate() {
        let line = index + 1;
        let text = raw.split(|&b| b == 0).next().unwrap_or_default();
        let body = trim_start(text);
        match body.first() {
            None | Some(b'#' | b';') => {}
            Some(b'!') if !directives => log::warn!(
                "{}:{line}: skipping '{}': includes are nested more than {} deep",
                name.display(),
                lossy(trim_end(body)),
                super::native::MAX_INCLUDE_DEPTH
            ),
            Some(b'!') => match directive(&body[1..]) {
                Ok(Some(Directive::Include(path))) => items.push(Item::Include { path, line }),
                Ok(Some(Directive::IncludeDir(path))) => {
                    items.push(Item::IncludeDir { path, line })
                }
                Ok(None) => {}
                Err(keyword) => {
                    let what = format!("'!{keyword}' needs a file or directory name after it");
                    return stopped(items, fail(line, what), data.len());
                }
            },
            Some(b'[') => match body[1..].iter().position(|&b| b == b']') {
                Some(end) => group = Some(lossy(trim_end(&body[1..1 + end]))),
                None => {
                    let what = "group header without a closing ']'".to_owned();
                    return stopped(items, fail(line, what), data.len());
                }
            },
            Some(_) => match &group {
                Some(group) => items.push(Item::Option {
                    group: group.clone(),
                    option: lossy(&option(body)),
                    line,
                }),
                None => {
                    // Only the name: the value may be a password.
                    let name = body.split(|&b| b == b'=').next().unwrap_or_default();
                    let what = format!(
                        "option '{}' comes before any [group] header",
                        lossy(trim_end(name))
                    );
                    return stopped(items, fail(line, what), data.len());
                }
            },
        }
    }
    Parsed {
        items,
        error: None,
        bytes: data.len(),
    }
}

fn stopped(items: Vec<Item>, error: anyhow::Error, bytes: usize) -> Parsed {
    Parsed {
        items,
        error: Some(error),
        bytes,
    }
}

/// Splits like repeated `fgets` into a 4095-byte buffer: each piece ends
/// after a newline or after [`FGETS_MAX`] bytes, whichever comes first.
fn fgets_lines(mut rest: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let limit = rest.len().min(FGETS_MAX);
        let end = rest[..limit]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(limit, |i| i + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        Some(line)
    })
}

enum Directive {
    Include(Vec<u8>),
    IncludeDir(Vec<u8>),
}

/// Parses what follows `!`. `Ok(None)`: not a directive mysys knows (it
/// ignores those). `Err(keyword)`: the directive has no argument.
fn directive(rest: &[u8]) -> Result<Option<Directive>, &'static str> {
    let rest = trim_start(rest);
    // `includedir` first: `include` is a prefix of it.
    if let Some(arg) = after_keyword(rest, b"includedir") {
        let path = argument(arg).ok_or("includedir")?;
        return Ok(Some(Directive::IncludeDir(path.to_vec())));
    }
    if let Some(arg) = after_keyword(rest, b"include") {
        let path = argument(arg).ok_or("include")?;
        return Ok(Some(Directive::Include(path.to_vec())));
    }
    Ok(None)
}

/// The text after `keyword` if a blank follows it (end of text is not one).
fn after_keyword<'a>(text: &'a [u8], keyword: &[u8]) -> Option<&'a [u8]> {
    let rest = text.strip_prefix(keyword)?;
    rest.first().is_some_and(|&b| is_space(b)).then_some(rest)
}

/// mysys' `get_argument`: skip blanks, drop the last byte (meant to be the
/// newline), trim trailing blanks; nothing left is an error.
fn argument(text: &[u8]) -> Option<&[u8]> {
    let text = trim_start(text);
    let (_, without_last) = text.split_last()?;
    let arg = trim_end(without_last);
    (!arg.is_empty()).then_some(arg)
}

/// Turns an option line (first byte not blank) into `--name[=value]`.
fn option(body: &[u8]) -> Vec<u8> {
    let body = &body[..comment_start(body)];
    let mut out = b"--".to_vec();
    match body.iter().position(|&b| b == b'=') {
        None => out.extend_from_slice(trim_end(body)),
        Some(eq) => {
            out.extend_from_slice(trim_end(&body[..eq]));
            out.push(b'=');
            unescape_into(unquote(trim_start(trim_end(&body[eq + 1..]))), &mut out);
        }
    }
    out
}

/// Where a `#` comment starts, outside `'…'`/`"…"`; inside quotes a
/// backslash protects the next quote character.
fn comment_start(text: &[u8]) -> usize {
    let mut quote = None;
    let mut escaped = false;
    for (i, &b) in text.iter().enumerate() {
        if (b == b'\'' || b == b'"') && !escaped {
            match quote {
                None => quote = Some(b),
                Some(q) if q == b => quote = None,
                Some(_) => {}
            }
        }
        if quote.is_none() && b == b'#' {
            return i;
        }
        escaped = quote.is_some() && b == b'\\' && !escaped;
    }
    text.len()
}

/// Removes one pair of matching outer quotes from a value of two bytes or more.
fn unquote(value: &[u8]) -> &[u8] {
    match value {
        [first @ (b'"' | b'\''), inner @ .., last] if first == last => inner,
        _ => value,
    }
}

fn unescape_into(value: &[u8], out: &mut Vec<u8>) {
    let mut bytes = value.iter();
    while let Some(&b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            // A final backslash stays as it is.
            None => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'r') => out.push(b'\r'),
            Some(b'b') => out.push(0x08),
            Some(b's') => out.push(b' '),
            Some(&c @ (b'"' | b'\'' | b'\\')) => out.push(c),
            Some(&c) => out.extend_from_slice(&[b'\\', c]),
        }
    }
}

/// latin1 `my_isspace`, checked byte by byte against `my_print_defaults`.
fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0xa0)
}

fn trim_start(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(text.len());
    &text[start..]
}

fn trim_end(text: &[u8]) -> &[u8] {
    let end = text
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(0, |i| i + 1);
    &text[..end]
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    //! Expected outputs were taken from `my_print_defaults` 10.11.19 run
    //! on the same bytes.
    use super::*;

    fn parsed(data: &[u8]) -> Parsed {
        parse(data, Path::new("t.cnf"), true).expect("in-memory input within the size limit")
    }

    /// The options of a file that parses without error.
    fn options(data: &[u8]) -> Vec<String> {
        let parsed = parsed(data);
        if let Some(err) = parsed.error {
            panic!("unexpected parse error: {err:#}");
        }
        parsed
            .items
            .into_iter()
            .filter_map(|item| match item {
                Item::Option { option, .. } => Some(option),
                _ => None,
            })
            .collect()
    }

    fn groups(data: &[u8]) -> Vec<String> {
        parsed(data)
            .items
            .into_iter()
            .filter_map(|item| match item {
                Item::Option { group, .. } => Some(group),
                _ => None,
            })
            .collect()
    }

    fn error(data: &[u8]) -> String {
        let err = parsed(data).error.expect("a parse error");
        format!("{err:#}")
    }

    #[test]
    fn names_and_values_are_trimmed() {
        assert_eq!(
            options(b"[m]\nkey1 = value1  \nkey_2=v2\n  key3   \nk4\t=\ttab\t\nk5 =   \n"),
            ["--key1=value1", "--key_2=v2", "--key3", "--k4=tab", "--k5="]
        );
        // latin1 blanks: VT, FF, CR and 0xA0 are trimmed too, 0x85 is not.
        assert_eq!(
            options(b"[m]\nk1=\x0bv\x0c\r\nk2=\xa0v\xa0\nk3=\x85v\x85\n"),
            ["--k1=v", "--k2=v", "--k3=\u{fffd}v\u{fffd}"]
        );
        // Spaces inside a name stay; a repeated `=` belongs to the value.
        assert_eq!(
            options(b"[m]\nkey 21 = spaced key\nk=a=b=c\n"),
            ["--key 21=spaced key", "--k=a=b=c"]
        );
        // Names are kept as written; lookups normalise them.
        assert_eq!(
            options(b"[m]\nloose-k = l\n--k14 = dashes\n=nokey\n"),
            ["--loose-k=l", "----k14=dashes", "--=nokey"]
        );
    }

    #[test]
    fn comments() {
        assert_eq!(
            options(
                b"# c\n; c\n   # c\n\t; c\n[m]\n# c\nk=v # c\nk2=v#c\nk3=a ; b\nk4=#\nk5 # c\n"
            ),
            ["--k=v", "--k2=v", "--k3=a ; b", "--k4=", "--k5"]
        );
        // `#` inside quotes is text, also in the middle of a value, and a
        // backslash protects a quote only inside quotes.
        assert_eq!(
            options(
                b"[m]\nk1 = \"q # not\" # c\nk2 = x\"y#z\"w # c\nk3=\\\"a#b\\\"\n\
                  k4=\"a\\\"#b\"\nk5='a\"#b' # c\nk6=x\\\\#y\nk7=\"x\\\\\"#y\"\n"
            ),
            [
                "--k1=q # not",
                "--k2=x\"y#z\"w",
                "--k3=\"a#b\"",
                "--k4=a\"#b",
                "--k5=a\"#b",
                "--k6=x\\",
                "--k7=x\\",
            ]
        );
    }

    #[test]
    fn quotes() {
        assert_eq!(
            options(
                b"[m]\nk1 = 'single'\nk2 = \"  spaced  \"\nk3 = \"unbalanced\nk4=\"\nk5=\"\"\n\
                  k6=''\nk7 = \"a\" b \"c\"\nk8 = 'it''s'\nk9 = \"a'\nk10=  \"x\" \n"
            ),
            [
                "--k1=single",
                "--k2=  spaced  ",
                "--k3=\"unbalanced",
                "--k4=\"",
                "--k5=",
                "--k6=",
                "--k7=a\" b \"c",
                "--k8=it''s",
                "--k9=\"a'",
                "--k10=x",
            ]
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            options(
                b"[m]\nk1 = a\\tb\\nc\\sd\\\\e\\\"f\\'g\\x\nk2=\\r\\b|\nk3=a\\\nk4=\"a\\\"\n\
                  k5=\"a\\\"b\"\n"
            ),
            [
                "--k1=a\tb\nc d\\e\"f'g\\x",
                "--k2=\r\x08|",
                "--k3=a\\",
                "--k4=a\\",
                "--k5=a\"b",
            ]
        );
    }

    #[test]
    fn groups_are_taken_as_written() {
        assert_eq!(
            groups(b"[MySQLd]\na\n[mysqld ]\nb\n[ mysqld]\nc\n[mysqld] junk\nd\n[mysqld\t]\ne\n[]\nf\n"),
            ["MySQLd", "mysqld", " mysqld", "mysqld", "mysqld", ""]
        );
    }

    #[test]
    fn options_carry_their_line() {
        let mut data = b"# c\n[m]\n\nk1=1\n  k2\n[n]\r\n".to_vec();
        // A line over 4094 bytes is two lines to mysys, so the next one is 9.
        data.extend(b"long=");
        data.extend([b'x'; 4200]);
        data.extend(b"\nk3=3");
        let lines: Vec<(String, usize)> = parsed(&data)
            .items
            .into_iter()
            .filter_map(|item| match item {
                Item::Option { option, line, .. } => Some((option, line)),
                _ => None,
            })
            .filter(|(option, _)| option.len() < 20)
            .collect();
        let want = [("--k1=1", 4), ("--k2", 5), ("--k3=3", 9)];
        assert_eq!(lines, want.map(|(o, l)| (o.to_string(), l)));
    }

    #[test]
    fn line_endings_nul_and_encoding() {
        assert_eq!(
            options(b"[m]\r\nk1 = v1\r\nk2\r\nk3=\"q\"\r\nk4=a\0b\nk5=\xff\xfe\nk6=last"),
            [
                "--k1=v1",
                "--k2",
                "--k3=q",
                "--k4=a",
                "--k5=\u{fffd}\u{fffd}",
                "--k6=last"
            ]
        );
    }

    #[test]
    fn long_lines_are_read_in_fgets_pieces() {
        let mut data = b"[m]\nk1=".to_vec();
        data.extend([b'x'; 4200]);
        data.extend(b"\nk2=after\n");
        let got = options(&data);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], format!("--k1={}", "x".repeat(4091)));
        assert_eq!(got[1], format!("--{}", "x".repeat(109)));
        assert_eq!(got[2], "--k2=after");
        // A 4094-byte line is one piece and its newline another (an empty
        // line), so line numbers shift by one at exactly this length.
        for (len, line) in [(4094, 4), (4093, 3)] {
            let mut data = b"[m]\n".to_vec();
            data.extend(std::iter::repeat_n(b'a', len));
            data.extend(b"\n[bad\n");
            assert_eq!(
                error(&data),
                format!("t.cnf:{line}: group header without a closing ']'")
            );
        }
    }

    #[test]
    fn errors_name_the_line_and_keep_what_came_before() {
        let parsed = parsed(b"[m]\ny=1\n[m\nz=1\n");
        assert_eq!(parsed.items.len(), 1);
        assert_eq!(
            format!("{:#}", parsed.error.expect("an error")),
            "t.cnf:3: group header without a closing ']'"
        );
        assert_eq!(
            error(b"# c\npassword = secret\n[m]\n"),
            "t.cnf:2: option 'password' comes before any [group] header"
        );
        assert_eq!(
            error(b"[m]\n!include\n"),
            "t.cnf:2: '!include' needs a file or directory name after it"
        );
        assert_eq!(
            error(b"[m]\n!includedir   \t\n"),
            "t.cnf:2: '!includedir' needs a file or directory name after it"
        );
        // A one-letter name on a last line without newline loses its only
        // letter to mysys' cut.
        assert_eq!(
            error(b"[m]\n!include x"),
            "t.cnf:2: '!include' needs a file or directory name after it"
        );
    }

    #[test]
    fn directives() {
        let items = parsed(
            b"!include /a.cnf\n[m]\n!include  rel.cnf   \n! include /b.cnf\n!includex foo\n!foo\n\
              !include\t/c.cnf # not a comment\n!includedir /d/\nk=v\n!include /e.cnf",
        )
        .items;
        let include = |path: &[u8], line| Item::Include {
            path: path.to_vec(),
            line,
        };
        assert_eq!(
            items,
            [
                include(b"/a.cnf", 1),
                include(b"rel.cnf", 3),
                include(b"/b.cnf", 4),
                include(b"/c.cnf # not a comment", 7),
                Item::IncludeDir {
                    path: b"/d/".to_vec(),
                    line: 8
                },
                Item::Option {
                    group: "m".into(),
                    option: "--k=v".into(),
                    line: 9,
                },
                // No newline at the end: mysys cuts a real character.
                include(b"/e.cn", 10),
            ]
        );
        // `!include` at the very end, with nothing after the keyword, is
        // not a directive at all (the keyword must be followed by a blank).
        assert!(parsed(b"[m]\n!include").items.is_empty());
        assert!(parsed(b"[m]\n!include").error.is_none());
    }

    #[test]
    fn directives_past_the_depth_limit_are_skipped() {
        let parsed = parse(
            &b"[m]\n!include /x\n!include\nk\n"[..],
            Path::new("t"),
            false,
        )
        .expect("in-memory input");
        assert!(parsed.error.is_none());
        assert_eq!(
            parsed.items,
            [Item::Option {
                group: "m".into(),
                option: "--k".into(),
                line: 4,
            }]
        );
    }

    #[test]
    fn oversized_input_is_refused() {
        let big = std::io::repeat(b'#').take(MAX_FILE_BYTES + 1);
        let err = parse(big, Path::new("big.cnf"), true).expect_err("over the limit");
        assert_eq!(
            err.to_string(),
            "big.cnf is larger than 16 MiB; refusing to read it as an option file"
        );
        let ok = std::io::repeat(b'#').take(MAX_FILE_BYTES);
        assert!(parse(ok, Path::new("ok.cnf"), true).is_ok());
    }
}
