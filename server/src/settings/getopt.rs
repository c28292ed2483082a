//! A GNU `getopt_long` work-alike over the option table memcached 1.6.18 uses.
//!
//! Behaviour kept from glibc because scripts rely on it: short flags cluster (`-vvv`,
//! `-dM`), a short option's argument may be attached (`-p11211`) or be the next word even if
//! it starts with `-` (`-p -1`), long options take `--name=value` or `--name value`, a long
//! name may be abbreviated to any unambiguous prefix, `--` ends the options, and words that
//! are not options are skipped (memcached ignores them).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

/// Whether an option takes a value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Arg {
    /// A flag.
    None,
    /// Always takes a value.
    Required,
    /// `--name=value` only (no separate word).
    Optional,
}

/// memcached's short option string, as (letter, argument kind).
const SHORT: &[(u8, Arg)] = &[
    (b'a', Arg::Required),
    (b'A', Arg::None),
    (b'Z', Arg::None),
    (b'p', Arg::Required),
    (b's', Arg::Required),
    (b'U', Arg::Required),
    (b'm', Arg::Required),
    (b'M', Arg::None),
    (b'c', Arg::Required),
    (b'k', Arg::None),
    (b'h', Arg::None),
    (b'i', Arg::None),
    (b'V', Arg::None),
    (b'r', Arg::None),
    (b'v', Arg::None),
    (b'd', Arg::None),
    (b'l', Arg::Required),
    (b'u', Arg::Required),
    (b'P', Arg::Required),
    (b'f', Arg::Required),
    (b'n', Arg::Required),
    (b't', Arg::Required),
    (b'D', Arg::Required),
    (b'L', Arg::None),
    (b'R', Arg::Required),
    (b'C', Arg::None),
    (b'b', Arg::Required),
    (b'B', Arg::Required),
    (b'I', Arg::Required),
    (b'S', Arg::None),
    (b'F', Arg::None),
    (b'X', Arg::None),
    (b'W', Arg::None),
    (b'Y', Arg::Required),
    (b'e', Arg::Required),
    (b'o', Arg::Required),
    (b'N', Arg::Required),
];

/// memcached's long options: (name, argument kind, equivalent short letter).
const LONG: &[(&str, Arg, u8)] = &[
    ("unix-mask", Arg::Required, b'a'),
    ("enable-shutdown", Arg::None, b'A'),
    ("enable-ssl", Arg::None, b'Z'),
    ("port", Arg::Required, b'p'),
    ("unix-socket", Arg::Required, b's'),
    ("udp-port", Arg::Required, b'U'),
    ("memory-limit", Arg::Required, b'm'),
    ("disable-evictions", Arg::None, b'M'),
    ("conn-limit", Arg::Required, b'c'),
    ("lock-memory", Arg::None, b'k'),
    ("help", Arg::None, b'h'),
    ("license", Arg::None, b'i'),
    ("version", Arg::None, b'V'),
    ("enable-coredumps", Arg::None, b'r'),
    ("verbose", Arg::Optional, b'v'),
    ("daemon", Arg::None, b'd'),
    ("listen", Arg::Required, b'l'),
    ("user", Arg::Required, b'u'),
    ("pidfile", Arg::Required, b'P'),
    ("slab-growth-factor", Arg::Required, b'f'),
    ("slab-min-size", Arg::Required, b'n'),
    ("threads", Arg::Required, b't'),
    ("enable-largepages", Arg::None, b'L'),
    ("max-reqs-per-event", Arg::Required, b'R'),
    ("disable-cas", Arg::None, b'C'),
    ("listen-backlog", Arg::Required, b'b'),
    ("protocol", Arg::Required, b'B'),
    ("max-item-size", Arg::Required, b'I'),
    ("enable-sasl", Arg::None, b'S'),
    ("disable-flush-all", Arg::None, b'F'),
    ("disable-dumping", Arg::None, b'X'),
    ("disable-watch", Arg::None, b'W'),
    ("auth-file", Arg::Required, b'Y'),
    ("memory-file", Arg::Required, b'e'),
    ("extended", Arg::Required, b'o'),
    ("napi-ids", Arg::Required, b'N'),
];

/// One recognised option: its short letter and its value, if any.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Opt {
    /// The short letter (long options are mapped to theirs).
    pub(crate) letter: u8,
    /// The value, as raw bytes (paths need not be UTF-8).
    pub(crate) value: Option<Vec<u8>>,
}

/// A getopt diagnostic, worded like glibc's (without the program name prefix).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct GetoptError(pub(crate) String);

/// Splits `args` (without the program name) into options, in command-line order.
///
/// Like getopt, which is called one option at a time, the options before a malformed one
/// are returned too, so the caller acts on them (e.g. `-h`) before reporting the error.
pub(crate) fn getopt(args: Vec<OsString>) -> (Vec<Opt>, Option<GetoptError>) {
    let mut out = Vec::new();
    let err = getopt_into(args, &mut out).err();
    (out, err)
}

fn getopt_into(args: Vec<OsString>, out: &mut Vec<Opt>) -> Result<(), GetoptError> {
    let words: Vec<Vec<u8>> = args.into_iter().map(OsStringExt::into_vec).collect();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        i += 1;
        if w == b"--" {
            break;
        }
        if let Some(long) = w.strip_prefix(b"--") {
            out.push(long_option(long, &words, &mut i)?);
        } else if w.len() > 1 && w[0] == b'-' {
            short_cluster(&w[1..], &words, &mut i, out)?;
        }
        // Anything else is a non-option word; getopt permutes it to the end and memcached
        // never looks at it.
    }
    Ok(())
}

fn short_cluster(
    cluster: &[u8],
    words: &[Vec<u8>],
    next: &mut usize,
    out: &mut Vec<Opt>,
) -> Result<(), GetoptError> {
    for (pos, &c) in cluster.iter().enumerate() {
        let kind = SHORT.iter().find(|(l, _)| *l == c).map(|(_, k)| *k);
        match kind {
            None => {
                return Err(GetoptError(format!(
                    "invalid option -- '{}'",
                    String::from_utf8_lossy(&[c])
                )))
            }
            Some(Arg::None | Arg::Optional) => out.push(Opt {
                letter: c,
                value: None,
            }),
            Some(Arg::Required) => {
                let rest = &cluster[pos + 1..];
                let value = if !rest.is_empty() {
                    rest.to_vec()
                } else if let Some(w) = words.get(*next) {
                    *next += 1;
                    w.clone()
                } else {
                    return Err(GetoptError(format!(
                        "option requires an argument -- '{}'",
                        c as char
                    )));
                };
                out.push(Opt {
                    letter: c,
                    value: Some(value),
                });
                return Ok(());
            }
        }
    }
    Ok(())
}

fn long_option(body: &[u8], words: &[Vec<u8>], next: &mut usize) -> Result<Opt, GetoptError> {
    let (name, inline) = match body.iter().position(|&b| b == b'=') {
        Some(eq) => (&body[..eq], Some(body[eq + 1..].to_vec())),
        None => (body, None),
    };
    let shown = String::from_utf8_lossy(name).into_owned();
    let exact = LONG.iter().find(|(n, _, _)| n.as_bytes() == name);
    let (long_name, kind, letter) = match exact {
        Some(e) => *e,
        None => {
            let matches: Vec<_> = LONG
                .iter()
                .filter(|(n, _, _)| !name.is_empty() && n.as_bytes().starts_with(name))
                .collect();
            match matches.as_slice() {
                [] => {
                    return Err(GetoptError(format!(
                        "unrecognized option '--{}'",
                        String::from_utf8_lossy(body)
                    )))
                }
                [one] => **one,
                many => {
                    let list: Vec<String> =
                        many.iter().map(|(n, _, _)| format!("'--{n}'")).collect();
                    return Err(GetoptError(format!(
                        "option '--{shown}' is ambiguous; possibilities: {}",
                        list.join(" ")
                    )));
                }
            }
        }
    };
    let value = match (kind, inline) {
        (Arg::None, Some(_)) => {
            return Err(GetoptError(format!(
                "option '--{long_name}' doesn't allow an argument"
            )))
        }
        (Arg::None, None) | (Arg::Optional, None) => None,
        (Arg::Optional | Arg::Required, Some(v)) => Some(v),
        (Arg::Required, None) => match words.get(*next) {
            Some(w) => {
                *next += 1;
                Some(w.clone())
            }
            None => {
                return Err(GetoptError(format!(
                    "option '--{long_name}' requires an argument"
                )))
            }
        },
    };
    Ok(Opt { letter, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Vec<(char, Option<String>)>, String> {
        let (opts, err) = getopt(args.iter().map(OsString::from).collect());
        match err {
            Some(e) => Err(e),
            None => Ok(opts),
        }
        .map(|v| {
            v.into_iter()
                .map(|o| {
                    (
                        o.letter as char,
                        o.value.map(|b| String::from_utf8(b).unwrap()),
                    )
                })
                .collect()
        })
        .map_err(|e| e.0)
    }

    #[test]
    fn clusters_and_attached_values() {
        assert_eq!(
            run(&["-vvv", "-p11211", "-dM"]).unwrap(),
            vec![
                ('v', None),
                ('v', None),
                ('v', None),
                ('p', Some("11211".into())),
                ('d', None),
                ('M', None)
            ]
        );
        // A value word may start with '-'.
        assert_eq!(run(&["-p", "-1"]).unwrap(), vec![('p', Some("-1".into()))]);
        // The rest of a cluster after a value-taking letter is its value.
        assert_eq!(
            run(&["-Mudummy"]).unwrap(),
            vec![('M', None), ('u', Some("dummy".into()))]
        );
    }

    #[test]
    fn long_forms() {
        assert_eq!(run(&["--port=5"]).unwrap(), vec![('p', Some("5".into()))]);
        assert_eq!(
            run(&["--port", "5"]).unwrap(),
            vec![('p', Some("5".into()))]
        );
        assert_eq!(run(&["--thr=2"]).unwrap(), vec![('t', Some("2".into()))]);
        assert_eq!(run(&["--verbose"]).unwrap(), vec![('v', None)]);
        assert_eq!(
            run(&["--verbose=2"]).unwrap(),
            vec![('v', Some("2".into()))]
        );
        assert_eq!(
            run(&["--napi-ids=1"]).unwrap(),
            vec![('N', Some("1".into()))]
        );
    }

    #[test]
    fn non_options_and_double_dash() {
        assert_eq!(
            run(&["extra", "-d", "-", "--", "-M"]).unwrap(),
            vec![('d', None)]
        );
    }

    #[test]
    fn errors_are_worded_like_glibc() {
        assert_eq!(run(&["-x"]).unwrap_err(), "invalid option -- 'x'");
        assert_eq!(
            run(&["-p"]).unwrap_err(),
            "option requires an argument -- 'p'"
        );
        assert_eq!(
            run(&["--bogus"]).unwrap_err(),
            "unrecognized option '--bogus'"
        );
        assert_eq!(
            run(&["--bogus=1"]).unwrap_err(),
            "unrecognized option '--bogus=1'"
        );
        assert_eq!(
            run(&["--port"]).unwrap_err(),
            "option '--port' requires an argument"
        );
        assert_eq!(
            run(&["--daemon=1"]).unwrap_err(),
            "option '--daemon' doesn't allow an argument"
        );
        assert_eq!(
            run(&["--disable-"]).unwrap_err(),
            "option '--disable-' is ambiguous; possibilities: '--disable-evictions' '--disable-cas' \
             '--disable-flush-all' '--disable-dumping' '--disable-watch'"
        );
    }
}
