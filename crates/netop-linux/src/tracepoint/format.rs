//! The tracefs `format` file of `sock:inet_sock_set_state`, as text, into
//! the offsets of the fields netop reads ([`Layout`]).
//!
//! The raw record of a tracepoint is the kernel's `struct
//! trace_event_raw_inet_sock_set_state`, whose layout changed across
//! kernels (fields added, addresses widened) and differs between
//! architectures: so the offsets come from the running kernel's own
//! description, never from constants. Parsing is plain Rust over `&str`; a
//! missing field, or one of an unexpected size, is an error naming it.

/// Where one field lies in a raw record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub offset: usize,
    pub size: usize,
}

/// The fields of `inet_sock_set_state` netop reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub skaddr: Field,
    pub oldstate: Field,
    pub newstate: Field,
    pub sport: Field,
    pub dport: Field,
    pub family: Field,
    pub protocol: Field,
    pub saddr: Field,
    pub daddr: Field,
    pub saddr_v6: Field,
    pub daddr_v6: Field,
}

impl Layout {
    /// The smallest raw record holding every field.
    pub fn min_len(&self) -> usize {
        [
            self.skaddr,
            self.oldstate,
            self.newstate,
            self.sport,
            self.dport,
            self.family,
            self.protocol,
            self.saddr,
            self.daddr,
            self.saddr_v6,
            self.daddr_v6,
        ]
        .iter()
        .map(|f| f.offset + f.size)
        .max()
        .unwrap_or(0)
    }
}

/// Why a `format` file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("the tracepoint's format has no field {0}")]
    Missing(&'static str),
    #[error("the tracepoint's field {name} is {size} bytes, expected one of {expected:?}")]
    Size {
        name: &'static str,
        size: usize,
        expected: &'static [usize],
    },
}

/// One `field:TYPE NAME[N];\toffset:O;\tsize:S;\tsigned:X;` line: the
/// name (without its array suffix), offset and size.
fn parse_line(line: &str) -> Option<(&str, usize, usize)> {
    let mut parts = line.trim().split(';').map(str::trim);
    let decl = parts.next()?.strip_prefix("field:")?;
    let name = decl.rsplit([' ', '*']).next()?;
    let name = name.split('[').next()?;
    let mut offset = None;
    let mut size = None;
    for part in parts {
        if let Some(v) = part.strip_prefix("offset:") {
            offset = v.parse().ok();
        } else if let Some(v) = part.strip_prefix("size:") {
            size = v.parse().ok();
        }
    }
    Some((name, offset?, size?))
}

/// Reads the layout from the text of a `format` file.
pub fn parse(text: &str) -> Result<Layout, FormatError> {
    let fields: Vec<(&str, usize, usize)> = text.lines().filter_map(parse_line).collect();
    let field = |name: &'static str, expected: &'static [usize]| {
        let &(_, offset, size) = fields
            .iter()
            .find(|(n, _, _)| *n == name)
            .ok_or(FormatError::Missing(name))?;
        if !expected.contains(&size) {
            return Err(FormatError::Size {
                name,
                size,
                expected,
            });
        }
        Ok(Field { offset, size })
    };
    Ok(Layout {
        skaddr: field("skaddr", &[4, 8])?,
        oldstate: field("oldstate", &[4])?,
        newstate: field("newstate", &[4])?,
        sport: field("sport", &[2])?,
        dport: field("dport", &[2])?,
        family: field("family", &[2])?,
        protocol: field("protocol", &[2])?,
        saddr: field("saddr", &[4])?,
        daddr: field("daddr", &[4])?,
        saddr_v6: field("saddr_v6", &[16])?,
        daddr_v6: field("daddr_v6", &[16])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from this project's development machine (Linux 6.18,
    /// x86_64): `/sys/kernel/tracing/events/sock/inet_sock_set_state/format`.
    const REAL: &str = include_str!("../../tests/fixtures/inet_sock_set_state.format");

    #[test]
    fn the_real_format_gives_the_kernels_offsets() {
        let layout = parse(REAL).expect("layout");
        assert_eq!(layout.skaddr, Field { offset: 8, size: 8 });
        assert_eq!(
            layout.oldstate,
            Field {
                offset: 16,
                size: 4
            }
        );
        assert_eq!(
            layout.newstate,
            Field {
                offset: 20,
                size: 4
            }
        );
        assert_eq!(
            layout.sport,
            Field {
                offset: 24,
                size: 2
            }
        );
        assert_eq!(
            layout.dport,
            Field {
                offset: 26,
                size: 2
            }
        );
        assert_eq!(
            layout.family,
            Field {
                offset: 28,
                size: 2
            }
        );
        assert_eq!(
            layout.protocol,
            Field {
                offset: 30,
                size: 2
            }
        );
        assert_eq!(
            layout.saddr,
            Field {
                offset: 32,
                size: 4
            }
        );
        assert_eq!(
            layout.daddr,
            Field {
                offset: 36,
                size: 4
            }
        );
        assert_eq!(
            layout.saddr_v6,
            Field {
                offset: 40,
                size: 16
            }
        );
        assert_eq!(
            layout.daddr_v6,
            Field {
                offset: 56,
                size: 16
            }
        );
        assert_eq!(layout.min_len(), 72);
    }

    #[test]
    fn offsets_are_read_not_assumed() {
        // A kernel whose record has the fields elsewhere (here: a 4-byte
        // pointer, as on 32-bit machines, shifts everything after it).
        let shifted = REAL
            .replace(
                "const void * skaddr;\toffset:8;\tsize:8;",
                "const void * skaddr;\toffset:8;\tsize:4;",
            )
            .replace("int oldstate;\toffset:16;", "int oldstate;\toffset:12;");
        let layout = parse(&shifted).expect("layout");
        assert_eq!(layout.skaddr, Field { offset: 8, size: 4 });
        assert_eq!(
            layout.oldstate,
            Field {
                offset: 12,
                size: 4
            }
        );
    }

    #[test]
    fn a_missing_field_is_named() {
        let without: String = REAL
            .lines()
            .filter(|l| !l.contains("daddr_v6"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(parse(&without), Err(FormatError::Missing("daddr_v6")));
        assert_eq!(parse(""), Err(FormatError::Missing("skaddr")));
    }

    #[test]
    fn a_field_of_another_size_is_refused() {
        let wide = REAL.replace(
            "__u16 sport;\toffset:24;\tsize:2;",
            "__u32 sport;\toffset:24;\tsize:4;",
        );
        assert!(matches!(
            parse(&wide),
            Err(FormatError::Size {
                name: "sport",
                size: 4,
                ..
            })
        ));
    }
}
