//! Offline check of an OpenBao raft snapshot while it streams: gunzip, walk the tar members, hash them, and at
//! the end compare them with `SHA256SUMS` and read the raft position from `meta.json`.
//!
//! A standby can answer the snapshot endpoint with an empty 200, and a broken stream can end early; both must
//! fail here so that neither is ever recorded as a backup.

mod contents;
mod tar_stream;

use std::io::Write;

use flate2::write::GzDecoder;

pub use contents::ArchiveFacts;
use tar_stream::TarStream;

use crate::executor::stage::Reason;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("the snapshot is empty (a standby answers the snapshot endpoint with an empty body)")]
    Empty,
    #[error("the snapshot is not gzip data")]
    NotGzip,
    #[error("the gzip stream is corrupt or incomplete")]
    CorruptGzip,
    #[error("the tar archive ends before its end-of-archive marker")]
    TruncatedArchive,
    #[error("the tar archive is corrupt: {0}")]
    CorruptTar(String),
    #[error("data follows the end of the archive")]
    TrailingData,
    #[error("the archive has too many members for an OpenBao snapshot")]
    TooManyMembers,
    #[error("archive member {name} is {size} bytes, more than expected")]
    MemberTooLarge { name: String, size: u64 },
    #[error("archive member {0} is missing")]
    MissingMember(&'static str),
    #[error("archive member {0} appears more than once")]
    DuplicateMember(String),
    #[error("SHA256SUMS is invalid: {0}")]
    InvalidChecksumList(String),
    #[error("archive member {0} does not match its SHA256SUMS digest")]
    MemberDigestMismatch(String),
    #[error("meta.json is invalid: {0}")]
    InvalidMeta(String),
    #[error("the archive checker stopped unexpectedly: {0}")]
    CheckerFailed(String),
}

impl Reason for ArchiveError {
    fn reason(&self) -> &'static str {
        match self {
            Self::Empty => "SnapshotEmpty",
            Self::NotGzip => "SnapshotNotGzip",
            Self::CorruptGzip => "SnapshotCorruptGzip",
            Self::TruncatedArchive => "SnapshotTruncated",
            Self::CorruptTar(_)
            | Self::TrailingData
            | Self::TooManyMembers
            | Self::MemberTooLarge { .. } => "SnapshotCorruptArchive",
            Self::MissingMember(_) | Self::DuplicateMember(_) => "SnapshotMemberMissing",
            Self::InvalidChecksumList(_) => "SnapshotChecksumListInvalid",
            Self::MemberDigestMismatch(_) => "SnapshotMemberDigestMismatch",
            Self::InvalidMeta(_) => "SnapshotMetaInvalid",
            Self::CheckerFailed(_) => "SnapshotCheckFailed",
        }
    }
}

/// Receives decompressed bytes from the gzip decoder. The first tar error is kept here because `io::Write` can
/// only carry an `io::Error` back through the decoder.
struct TarSink {
    tar: TarStream,
    failure: Option<ArchiveError>,
}

impl Write for TarSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.failure.is_some() {
            return Err(std::io::Error::other("archive already failed"));
        }
        match self.tar.feed(buf) {
            Ok(()) => Ok(buf.len()),
            Err(err) => {
                self.failure = Some(err);
                Err(std::io::Error::other("archive check failed"))
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Which members' SHA-256 is compared with `SHA256SUMS`. Gzip's CRC-32, the tar structure, every member's size
/// and `SHA256SUMS` listing every member are checked either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberDigests {
    /// Every member: a backup vouches for what OpenBao sent before it writes a manifest.
    All,
    /// `meta.json` and `SHA256SUMS` only, not `state.bin` (nearly all of the bytes). For a restore, whose stream
    /// digest must equal the manifest's: a manifest exists only for a stream whose every member a backup checked,
    /// so hashing `state.bin` again would spend a second SHA-256 pass over the snapshot to learn nothing new.
    Captured,
}

/// Incremental checker: call [`ArchiveCheck::feed`] with every compressed chunk, then [`ArchiveCheck::finish`].
pub struct ArchiveCheck {
    decoder: GzDecoder<TarSink>,
    compressed_bytes: u64,
    /// Set once the gzip stream reported its end (decoder accepts no more input).
    gzip_ended: bool,
}

impl ArchiveCheck {
    pub fn new(digests: MemberDigests) -> Self {
        let sink = TarSink {
            tar: TarStream::new(
                contents::CAPTURED,
                contents::CAPTURE_LIMIT,
                digests == MemberDigests::All,
            ),
            failure: None,
        };
        Self {
            decoder: GzDecoder::new(sink),
            compressed_bytes: 0,
            gzip_ended: false,
        }
    }

    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), ArchiveError> {
        if self.compressed_bytes == 0 && !chunk.is_empty() && !chunk.starts_with(&[0x1f][..]) {
            return Err(ArchiveError::NotGzip);
        }
        self.compressed_bytes += chunk.len() as u64;
        while !chunk.is_empty() {
            if self.gzip_ended {
                return Err(ArchiveError::TrailingData);
            }
            match self.decoder.write(chunk) {
                Ok(0) => self.gzip_ended = true,
                Ok(n) => chunk = &chunk[n..],
                Err(err) => return Err(self.classify(err)),
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<ArchiveFacts, ArchiveError> {
        if self.compressed_bytes == 0 {
            return Err(ArchiveError::Empty);
        }
        if let Err(err) = self.decoder.try_finish() {
            return Err(self.classify(err));
        }
        let sink = self
            .decoder
            .finish()
            .map_err(|_| ArchiveError::CorruptGzip)?;
        if let Some(failure) = sink.failure {
            return Err(failure);
        }
        let members = sink.tar.into_members()?;
        contents::check_members(&members)
    }

    fn classify(&mut self, err: std::io::Error) -> ArchiveError {
        if let Some(failure) = self.decoder.get_mut().failure.take() {
            return failure;
        }
        if self.decoder.header().is_none() {
            return ArchiveError::NotGzip;
        }
        tracing::debug!(error = %err, "gzip decoding failed");
        ArchiveError::CorruptGzip
    }
}

#[cfg(test)]
pub(crate) mod test_archives {
    //! Builders for well-formed and damaged snapshot archives, shared by unit tests.
    use std::io::Write;

    use sha2::{Digest, Sha256};

    /// A gzip'd tar shaped like OpenBao's: meta.json, state.bin, SHA256SUMS, SHA256SUMS.sealed.
    pub fn snapshot(state: &[u8], index: u64, term: u64) -> Vec<u8> {
        let meta = format!(
            r#"{{"Version":1,"ID":"bolt-snapshot","Index":{index},"Term":{term},"Size":{}}}"#,
            state.len()
        );
        let sums = format!(
            "{}  meta.json\n{}  state.bin\n",
            hex::encode(Sha256::digest(meta.as_bytes())),
            hex::encode(Sha256::digest(state))
        );
        gzip(&tar_of(&[
            ("meta.json", meta.as_bytes()),
            ("state.bin", state),
            ("SHA256SUMS", sums.as_bytes()),
            ("SHA256SUMS.sealed", b"signature"),
        ]))
    }

    pub fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
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

    pub fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::test_archives::{gzip, snapshot, tar_of};
    use super::*;
    use sha2::Digest;

    fn check_in_chunks(bytes: &[u8], chunk: usize) -> Result<ArchiveFacts, ArchiveError> {
        check_with(MemberDigests::All, bytes, chunk)
    }

    fn check_with(
        digests: MemberDigests,
        bytes: &[u8],
        chunk: usize,
    ) -> Result<ArchiveFacts, ArchiveError> {
        let mut check = ArchiveCheck::new(digests);
        for piece in bytes.chunks(chunk) {
            check.feed(piece)?;
        }
        check.finish()
    }

    fn pseudo_random(len: usize) -> Vec<u8> {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    #[test]
    fn well_formed_snapshot_passes_in_any_chunking() {
        let bytes = snapshot(&pseudo_random(300_000), 44, 3);
        for chunk in [1, 1000, 16 * 1024, bytes.len()] {
            let facts = check_in_chunks(&bytes, chunk).unwrap();
            assert_eq!(
                (facts.raft_index, facts.raft_term, facts.state_size),
                (44, 3, 300_000)
            );
        }
    }

    #[test]
    fn empty_body_is_its_own_failure() {
        assert_eq!(check_in_chunks(b"", 10), Err(ArchiveError::Empty));
    }

    #[test]
    fn non_gzip_body_is_refused() {
        assert_eq!(
            check_in_chunks(b"{\"errors\":[]}", 10),
            Err(ArchiveError::NotGzip)
        );
        assert_eq!(
            check_in_chunks(b"\x1f\x00garbage", 10),
            Err(ArchiveError::NotGzip)
        );
    }

    #[test]
    fn truncated_stream_is_refused() {
        let bytes = snapshot(&pseudo_random(50_000), 1, 1);
        for cut in [20, bytes.len() / 2, bytes.len() - 4] {
            let result = check_in_chunks(&bytes[..cut], 4096);
            assert!(
                matches!(
                    result,
                    Err(ArchiveError::CorruptGzip | ArchiveError::TruncatedArchive)
                ),
                "cut {cut}: {result:?}"
            );
        }
    }

    #[test]
    fn any_flipped_byte_is_detected() {
        // Without state.bin's digest, gzip's CRC-32 still catches damage in it.
        let bytes = snapshot(&pseudo_random(20_000), 1, 1);
        for digests in [MemberDigests::All, MemberDigests::Captured] {
            for position in (0..bytes.len()).step_by(97) {
                let mut damaged = bytes.clone();
                damaged[position] ^= 0x40;
                assert!(
                    check_with(digests, &damaged, 4096).is_err(),
                    "{digests:?}: flip at {position} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn only_all_compares_state_bin_with_its_listed_digest() {
        let meta = br#"{"Index":2,"Term":1}"#;
        let sums = format!(
            "{}  meta.json\n{}  state.bin\n",
            hex::encode(sha2::Sha256::digest(meta)),
            hex::encode(sha2::Sha256::digest(b"other state"))
        );
        let bytes = gzip(&tar_of(&[
            ("meta.json", meta),
            ("state.bin", b"state"),
            ("SHA256SUMS", sums.as_bytes()),
        ]));
        assert_eq!(
            check_in_chunks(&bytes, 4096),
            Err(ArchiveError::MemberDigestMismatch("state.bin".into()))
        );
        let facts = check_with(MemberDigests::Captured, &bytes, 4096).unwrap();
        assert_eq!((facts.raft_index, facts.state_size), (2, 5));
    }

    #[test]
    fn captured_members_are_compared_in_either_mode() {
        let sums = format!(
            "{}  meta.json\n{}  state.bin\n",
            hex::encode(sha2::Sha256::digest(b"{}")),
            hex::encode(sha2::Sha256::digest(b"state"))
        );
        let bytes = gzip(&tar_of(&[
            ("meta.json", br#"{"Index":2,"Term":1}"#),
            ("state.bin", b"state"),
            ("SHA256SUMS", sums.as_bytes()),
        ]));
        for digests in [MemberDigests::All, MemberDigests::Captured] {
            assert_eq!(
                check_with(digests, &bytes, 4096),
                Err(ArchiveError::MemberDigestMismatch("meta.json".into())),
                "{digests:?}"
            );
        }
    }

    #[test]
    fn trailing_bytes_after_gzip_end_are_refused() {
        let mut bytes = snapshot(b"state", 1, 1);
        bytes.extend_from_slice(b"more");
        assert_eq!(
            check_in_chunks(&bytes, 4096),
            Err(ArchiveError::TrailingData)
        );
    }

    #[test]
    fn archive_without_checksums_is_refused() {
        let bytes = gzip(&tar_of(&[
            ("meta.json", b"{\"Index\":1,\"Term\":1}"),
            ("state.bin", b"s"),
        ]));
        assert_eq!(
            check_in_chunks(&bytes, 4096),
            Err(ArchiveError::MissingMember("SHA256SUMS"))
        );
    }
}
