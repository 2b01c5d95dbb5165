//! A push parser for tar streams: bytes go in as they arrive, member names, sizes and SHA-256 digests come out
//! (of every member, or of the captured ones only).
//!
//! It never holds more than one 512-byte header block plus the few small members the caller asks to capture,
//! so a multi-gigabyte `state.bin` passes through in constant memory. It understands what Go's `archive/tar`
//! (which writes OpenBao snapshots) can emit: ustar headers with a prefix, PAX `path`/`size` records, GNU long
//! names and base-256 sizes.

use sha2::{Digest, Sha256};

use super::ArchiveError;

const BLOCK: usize = 512;
/// A snapshot holds four members; anything far beyond that is not an OpenBao snapshot.
const MAX_MEMBERS: usize = 64;
/// PAX and GNU long-name records are metadata: a few hundred bytes in practice.
const MAX_METADATA_RECORD: u64 = 64 * 1024;

/// A finished regular member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub size: u64,
    /// `None` when the caller asked for the captured members' digests only and this one was not captured.
    pub sha256: Option<[u8; 32]>,
    /// The member's bytes when its name was in the capture list.
    pub captured: Option<Vec<u8>>,
}

/// What the bytes of the current entry are.
enum EntryKind {
    /// A regular file: maybe hashed, maybe captured.
    Regular {
        name: String,
        hasher: Option<Box<Sha256>>,
        captured: Option<Vec<u8>>,
    },
    /// A PAX extended header for the next entry.
    PaxLocal(Vec<u8>),
    /// A GNU long name for the next entry.
    GnuLongName(Vec<u8>),
    /// Directories, links, global PAX headers: skipped.
    Skipped,
}

enum State {
    Header,
    Body {
        kind: EntryKind,
        size: u64,
        remaining: u64,
    },
    Padding {
        remaining: usize,
    },
    /// One zero block seen; the next must be zero too.
    FirstZeroBlock,
    /// The end-of-archive marker was seen; only zero padding may follow.
    Ended,
}

/// Metadata that applies to the next header only.
#[derive(Default)]
struct PendingOverrides {
    path: Option<String>,
    size: Option<u64>,
}

pub struct TarStream {
    state: State,
    header: [u8; BLOCK],
    header_filled: usize,
    pending: PendingOverrides,
    capture: &'static [&'static str],
    capture_limit: usize,
    hash_all: bool,
    members: Vec<Member>,
}

impl TarStream {
    /// `capture` names members whose bytes the caller needs (each at most `capture_limit` bytes). Captured
    /// members are always hashed; the others only with `hash_all`.
    pub fn new(capture: &'static [&'static str], capture_limit: usize, hash_all: bool) -> Self {
        Self {
            state: State::Header,
            header: [0; BLOCK],
            header_filled: 0,
            pending: PendingOverrides::default(),
            capture,
            capture_limit,
            hash_all,
            members: Vec::new(),
        }
    }

    /// Feeds the next bytes of the (decompressed) tar stream.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), ArchiveError> {
        while !data.is_empty() {
            let consumed = self.step(data)?;
            data = &data[consumed..];
        }
        Ok(())
    }

    /// The regular members in archive order; call once the stream is complete.
    pub fn into_members(self) -> Result<Vec<Member>, ArchiveError> {
        match self.state {
            State::Ended => Ok(self.members),
            _ => Err(ArchiveError::TruncatedArchive),
        }
    }

    fn step(&mut self, data: &[u8]) -> Result<usize, ArchiveError> {
        match &mut self.state {
            State::Header | State::FirstZeroBlock => {
                let take = (BLOCK - self.header_filled).min(data.len());
                self.header[self.header_filled..self.header_filled + take]
                    .copy_from_slice(&data[..take]);
                self.header_filled += take;
                if self.header_filled == BLOCK {
                    self.header_filled = 0;
                    self.on_header_block()?;
                }
                Ok(take)
            }
            State::Body { remaining, .. } => {
                let take = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                self.on_body(&data[..take])?;
                Ok(take)
            }
            State::Padding { remaining } => {
                let take = (*remaining).min(data.len());
                *remaining -= take;
                if *remaining == 0 {
                    self.state = State::Header;
                }
                Ok(take)
            }
            State::Ended => {
                if data.iter().any(|b| *b != 0) {
                    return Err(ArchiveError::TrailingData);
                }
                Ok(data.len())
            }
        }
    }

    fn on_header_block(&mut self) -> Result<(), ArchiveError> {
        let block = self.header;
        if block.iter().all(|b| *b == 0) {
            self.state = match self.state {
                State::FirstZeroBlock => State::Ended,
                _ => State::FirstZeroBlock,
            };
            return Ok(());
        }
        if matches!(self.state, State::FirstZeroBlock) {
            return Err(ArchiveError::CorruptTar(
                "a header follows a single zero block".into(),
            ));
        }
        verify_header_checksum(&block)?;
        let header_size = parse_size(&block[124..136])?;
        let size = self.pending.size.take().unwrap_or(header_size);
        let name = match self.pending.path.take() {
            Some(path) => path,
            None => header_name(&block)?,
        };
        let kind = match block[156] {
            b'0' | 0 | b'7' => {
                if self.members.len() >= MAX_MEMBERS {
                    return Err(ArchiveError::TooManyMembers);
                }
                let captured = self.capture.contains(&name.as_str()).then(Vec::new);
                if captured.is_some() && size > self.capture_limit as u64 {
                    return Err(ArchiveError::MemberTooLarge { name, size });
                }
                let hasher = (self.hash_all || captured.is_some()).then(|| Box::new(Sha256::new()));
                EntryKind::Regular {
                    name,
                    hasher,
                    captured,
                }
            }
            b'x' => {
                check_metadata_size(size)?;
                EntryKind::PaxLocal(Vec::new())
            }
            b'L' => {
                check_metadata_size(size)?;
                EntryKind::GnuLongName(Vec::new())
            }
            _ => EntryKind::Skipped,
        };
        self.state = State::Body {
            kind,
            size,
            remaining: size,
        };
        if size == 0 {
            self.finish_entry()?;
        }
        Ok(())
    }

    fn on_body(&mut self, chunk: &[u8]) -> Result<(), ArchiveError> {
        let State::Body {
            kind, remaining, ..
        } = &mut self.state
        else {
            unreachable!("on_body is only called in the body state");
        };
        match kind {
            EntryKind::Regular {
                hasher, captured, ..
            } => {
                if let Some(hasher) = hasher {
                    hasher.update(chunk);
                }
                if let Some(buffer) = captured {
                    buffer.extend_from_slice(chunk);
                }
            }
            EntryKind::PaxLocal(buffer) | EntryKind::GnuLongName(buffer) => {
                buffer.extend_from_slice(chunk)
            }
            EntryKind::Skipped => {}
        }
        *remaining -= chunk.len() as u64;
        if *remaining == 0 {
            self.finish_entry()?;
        }
        Ok(())
    }

    fn finish_entry(&mut self) -> Result<(), ArchiveError> {
        let State::Body { kind, size, .. } = std::mem::replace(&mut self.state, State::Header)
        else {
            unreachable!("finish_entry is only called in the body state");
        };
        match kind {
            EntryKind::Regular {
                name,
                hasher,
                captured,
            } => self.members.push(Member {
                name,
                size,
                sha256: hasher.map(|hasher| hasher.finalize().into()),
                captured,
            }),
            EntryKind::PaxLocal(records) => self.pending = parse_pax(&records)?,
            EntryKind::GnuLongName(name) => self.pending.path = Some(c_string(&name)?),
            EntryKind::Skipped => {}
        }
        let padding = (BLOCK - (size % BLOCK as u64) as usize) % BLOCK;
        if padding > 0 {
            self.state = State::Padding { remaining: padding };
        }
        Ok(())
    }
}

fn check_metadata_size(size: u64) -> Result<(), ArchiveError> {
    if size > MAX_METADATA_RECORD {
        return Err(ArchiveError::CorruptTar(format!(
            "metadata record of {size} bytes"
        )));
    }
    Ok(())
}

fn verify_header_checksum(block: &[u8; BLOCK]) -> Result<(), ArchiveError> {
    let stored = parse_octal(&block[148..156])
        .ok_or_else(|| ArchiveError::CorruptTar("unreadable header checksum".into()))?;
    let computed: u64 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(*b)
            }
        })
        .sum();
    if stored != computed {
        return Err(ArchiveError::CorruptTar("header checksum mismatch".into()));
    }
    Ok(())
}

/// ustar name with its prefix; old-style headers have no prefix field.
fn header_name(block: &[u8; BLOCK]) -> Result<String, ArchiveError> {
    let name = c_string(&block[0..100])?;
    let is_ustar = &block[257..262] == b"ustar";
    let prefix = if is_ustar {
        c_string(&block[345..500])?
    } else {
        String::new()
    };
    Ok(if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    })
}

fn c_string(field: &[u8]) -> Result<String, ArchiveError> {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8(field[..end].to_vec())
        .map_err(|_| ArchiveError::CorruptTar("member name is not UTF-8".into()))
}

/// Octal (NUL/space terminated) or, when the high bit of the first byte is set, GNU base-256.
fn parse_size(field: &[u8]) -> Result<u64, ArchiveError> {
    if field[0] & 0x80 != 0 {
        let mut value: u64 = u64::from(field[0] & 0x7f);
        for byte in &field[1..] {
            value = value
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(*byte)))
                .ok_or_else(|| ArchiveError::CorruptTar("member size overflows".into()))?;
        }
        return Ok(value);
    }
    parse_octal(field).ok_or_else(|| ArchiveError::CorruptTar("unreadable member size".into()))
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let digits = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, 8).ok()
}

/// PAX records are `"<len> <key>=<value>\n"`; only `path` and `size` change how the next entry is read.
fn parse_pax(records: &[u8]) -> Result<PendingOverrides, ArchiveError> {
    let corrupt = || ArchiveError::CorruptTar("malformed PAX record".into());
    let mut overrides = PendingOverrides::default();
    let mut rest = records;
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ').ok_or_else(corrupt)?;
        let length: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(corrupt)?;
        if length <= space + 1 || length > rest.len() || rest[length - 1] != b'\n' {
            return Err(corrupt());
        }
        let record = std::str::from_utf8(&rest[space + 1..length - 1]).map_err(|_| corrupt())?;
        let (key, value) = record.split_once('=').ok_or_else(corrupt)?;
        match key {
            "path" => overrides.path = Some(value.to_owned()),
            "size" => overrides.size = Some(value.parse().map_err(|_| corrupt())?),
            _ => {}
        }
        rest = &rest[length..];
    }
    Ok(overrides)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            header.set_cksum();
            builder.append_data(&mut header, name, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn sha(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    fn parse_in_chunks(bytes: &[u8], chunk: usize) -> Result<Vec<Member>, ArchiveError> {
        let mut stream = TarStream::new(&["meta.json"], 1024, true);
        for piece in bytes.chunks(chunk) {
            stream.feed(piece)?;
        }
        stream.into_members()
    }

    #[test]
    fn reads_members_with_digests_whatever_the_chunking() {
        let big = vec![7u8; 5000];
        let bytes = tar_of(&[
            ("meta.json", b"{\"Index\":1}"),
            ("state.bin", &big),
            ("empty", b""),
        ]);
        for chunk in [1, 7, 511, 512, 513, 4096, bytes.len()] {
            let members = parse_in_chunks(&bytes, chunk).unwrap();
            let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
            assert_eq!(names, ["meta.json", "state.bin", "empty"], "chunk {chunk}");
            assert_eq!(members[1].size, 5000);
            assert_eq!(members[1].sha256, Some(sha(&big)));
            assert_eq!(members[0].captured.as_deref(), Some(&b"{\"Index\":1}"[..]));
            assert_eq!(members[1].captured, None);
            assert_eq!(members[2].sha256, Some(sha(b"")));
        }
    }

    #[test]
    fn without_hash_all_only_captured_members_are_hashed() {
        let bytes = tar_of(&[("meta.json", b"{}"), ("state.bin", &[7u8; 5000])]);
        let mut stream = TarStream::new(&["meta.json"], 1024, false);
        stream.feed(&bytes).unwrap();
        let members = stream.into_members().unwrap();
        assert_eq!(members[0].sha256, Some(sha(b"{}")));
        assert_eq!((members[1].sha256, members[1].size), (None, 5000));
    }

    #[test]
    fn long_names_through_pax_or_gnu_headers_are_honoured() {
        let long = format!("{}/state.bin", "d".repeat(150));
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        builder
            .append_data(&mut header, &long, &b"abc"[..])
            .unwrap();
        let gnu = builder.into_inner().unwrap();
        assert_eq!(parse_in_chunks(&gnu, 100).unwrap()[0].name, long);

        let mut builder = tar::Builder::new(Vec::new());
        builder
            .append_pax_extensions([("path", "x/meta.json".as_bytes())])
            .unwrap();
        let mut header = tar::Header::new_ustar();
        header.set_size(2);
        builder
            .append_data(&mut header, "short", &b"{}"[..])
            .unwrap();
        let pax = builder.into_inner().unwrap();
        let members = parse_in_chunks(&pax, 64).unwrap();
        assert_eq!(members[0].name, "x/meta.json");
    }

    #[test]
    fn truncated_stream_is_rejected() {
        let bytes = tar_of(&[("state.bin", &[1u8; 2000])]);
        for cut in [0, 100, 512, 1500, bytes.len() - 1024] {
            assert_eq!(
                parse_in_chunks(&bytes[..cut], 64),
                Err(ArchiveError::TruncatedArchive),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn damaged_header_fails_its_checksum() {
        let mut bytes = tar_of(&[("state.bin", b"abc")]);
        bytes[3] ^= 0x01;
        assert!(matches!(
            parse_in_chunks(&bytes, 512),
            Err(ArchiveError::CorruptTar(_))
        ));
    }

    #[test]
    fn garbage_after_end_marker_is_rejected() {
        let mut bytes = tar_of(&[("state.bin", b"abc")]);
        bytes.extend_from_slice(b"junk");
        assert_eq!(
            parse_in_chunks(&bytes, 512),
            Err(ArchiveError::TrailingData)
        );
    }

    #[test]
    fn oversized_captured_member_is_refused_before_buffering() {
        let bytes = tar_of(&[("meta.json", &[b' '; 2048])]);
        assert!(matches!(
            parse_in_chunks(&bytes, 512),
            Err(ArchiveError::MemberTooLarge { size: 2048, .. })
        ));
    }

    #[test]
    fn base256_sizes_parse() {
        let mut field = [0u8; 12];
        field[0] = 0x80;
        field[11] = 0x02;
        field[10] = 0x01;
        assert_eq!(parse_size(&field).unwrap(), 258);
        assert_eq!(parse_size(b"00000001750\0").unwrap(), 1000);
    }
}
