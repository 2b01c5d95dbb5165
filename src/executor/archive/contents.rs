//! What a complete OpenBao raft snapshot must contain, checked once all members are read: `meta.json`,
//! `state.bin` and `SHA256SUMS` present once each, every file `SHA256SUMS` lists present (with that digest,
//! wherever the member was hashed), and the raft index and term readable from `meta.json`.

use serde::Deserialize;

use super::ArchiveError;
use super::tar_stream::Member;

pub const META: &str = "meta.json";
pub const STATE: &str = "state.bin";
pub const SUMS: &str = "SHA256SUMS";

/// The small members whose bytes the checker keeps.
pub const CAPTURED: &[&str] = &[META, SUMS];
/// Real `meta.json` and `SHA256SUMS` are a few hundred bytes (meta.json lists the raft peers).
pub const CAPTURE_LIMIT: usize = 1024 * 1024;

/// Facts read from a verified archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveFacts {
    pub raft_index: u64,
    pub raft_term: u64,
    pub state_size: u64,
    pub members: Vec<String>,
}

/// raft's `SnapshotMeta` as OpenBao writes it (Go field names).
#[derive(Deserialize)]
struct RaftMeta {
    #[serde(rename = "Index")]
    index: u64,
    #[serde(rename = "Term")]
    term: u64,
}

pub fn check_members(members: &[Member]) -> Result<ArchiveFacts, ArchiveError> {
    let find = |name: &'static str| -> Result<&Member, ArchiveError> {
        let mut matching = members.iter().filter(|m| m.name == name);
        let first = matching.next().ok_or(ArchiveError::MissingMember(name))?;
        if matching.next().is_some() {
            return Err(ArchiveError::DuplicateMember(name.to_owned()));
        }
        Ok(first)
    };
    let meta = find(META)?;
    let state = find(STATE)?;
    let sums = find(SUMS)?;

    let listed = parse_sums(sums.captured.as_deref().unwrap_or_default())?;
    for required in [META, STATE] {
        if !listed.iter().any(|(name, _)| name == required) {
            return Err(ArchiveError::InvalidChecksumList(format!(
                "{required} is not listed"
            )));
        }
    }
    for (name, expected) in &listed {
        let member = members.iter().find(|m| &m.name == name).ok_or_else(|| {
            ArchiveError::InvalidChecksumList(format!("{name} is listed but absent"))
        })?;
        if member.sha256.is_some_and(|actual| &actual != expected) {
            return Err(ArchiveError::MemberDigestMismatch(name.clone()));
        }
    }

    let raft: RaftMeta = serde_json::from_slice(meta.captured.as_deref().unwrap_or_default())
        .map_err(|e| ArchiveError::InvalidMeta(e.to_string()))?;
    Ok(ArchiveFacts {
        raft_index: raft.index,
        raft_term: raft.term,
        state_size: state.size,
        members: members.iter().map(|m| m.name.clone()).collect(),
    })
}

/// `sha256sum` format: `<64 hex>  <name>` (or `<hex> *<name>` for binary mode), one per line.
fn parse_sums(text: &[u8]) -> Result<Vec<(String, [u8; 32])>, ArchiveError> {
    let text = std::str::from_utf8(text)
        .map_err(|_| ArchiveError::InvalidChecksumList("not UTF-8".into()))?;
    let mut entries = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (digest, name) = line
            .split_once(' ')
            .ok_or_else(|| ArchiveError::InvalidChecksumList(format!("malformed line {line:?}")))?;
        let name = name.trim_start_matches([' ', '*']);
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(digest, &mut bytes)
            .map_err(|_| ArchiveError::InvalidChecksumList(format!("bad digest for {name}")))?;
        entries.push((name.to_owned(), bytes));
    }
    if entries.is_empty() {
        return Err(ArchiveError::InvalidChecksumList("empty".into()));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn member(name: &str, data: &[u8]) -> Member {
        Member {
            name: name.to_owned(),
            size: data.len() as u64,
            sha256: Some(Sha256::digest(data).into()),
            captured: CAPTURED.contains(&name).then(|| data.to_vec()),
        }
    }

    fn sums_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        members
            .iter()
            .map(|(name, data)| format!("{}  {name}\n", hex::encode(Sha256::digest(data))))
            .collect::<String>()
            .into_bytes()
    }

    const META_JSON: &[u8] =
        br#"{"Version":1,"ID":"bolt-snapshot","Index":44,"Term":3,"Peers":null,"Size":5}"#;

    fn valid() -> Vec<Member> {
        let sums = sums_of(&[(META, META_JSON), (STATE, b"state")]);
        vec![
            member(META, META_JSON),
            member(STATE, b"state"),
            member(SUMS, &sums),
            member("SHA256SUMS.sealed", b"sig"),
        ]
    }

    #[test]
    fn complete_archive_yields_raft_position() {
        let facts = check_members(&valid()).unwrap();
        assert_eq!(
            (facts.raft_index, facts.raft_term, facts.state_size),
            (44, 3, 5)
        );
        assert_eq!(facts.members.len(), 4);
    }

    #[test]
    fn each_required_member_must_be_present() {
        for missing in [META, STATE, SUMS] {
            let members: Vec<Member> = valid().into_iter().filter(|m| m.name != missing).collect();
            assert_eq!(
                check_members(&members),
                Err(ArchiveError::MissingMember(missing))
            );
        }
    }

    #[test]
    fn digest_mismatch_names_the_member() {
        let mut members = valid();
        members[1].sha256.as_mut().unwrap()[0] ^= 1;
        assert_eq!(
            check_members(&members),
            Err(ArchiveError::MemberDigestMismatch(STATE.into()))
        );
    }

    #[test]
    fn a_member_that_was_not_hashed_is_not_compared() {
        let mut members = valid();
        members[1].sha256 = None;
        assert!(check_members(&members).is_ok());
        members[0].sha256.as_mut().unwrap()[0] ^= 1;
        assert_eq!(
            check_members(&members),
            Err(ArchiveError::MemberDigestMismatch(META.into()))
        );
    }

    #[test]
    fn duplicate_member_is_refused() {
        let mut members = valid();
        members.push(member(STATE, b"state"));
        assert_eq!(
            check_members(&members),
            Err(ArchiveError::DuplicateMember(STATE.into()))
        );
    }

    #[test]
    fn sums_must_cover_meta_and_state() {
        let mut members = valid();
        let sums = sums_of(&[(META, META_JSON)]);
        members[2] = member(SUMS, &sums);
        assert!(matches!(
            check_members(&members),
            Err(ArchiveError::InvalidChecksumList(_))
        ));
    }

    #[test]
    fn unreadable_meta_is_refused() {
        let sums = sums_of(&[(META, b"{}"), (STATE, b"state")]);
        let members = vec![
            member(META, b"{}"),
            member(STATE, b"state"),
            member(SUMS, &sums),
        ];
        assert!(matches!(
            check_members(&members),
            Err(ArchiveError::InvalidMeta(_))
        ));
    }
}
