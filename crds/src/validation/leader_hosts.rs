//! Where the executor may follow `sys/leader` (it sends its OpenBao token there next): the configured endpoint's
//! host, the Service host names of the cluster's own namespace, and what `spec.leaderHosts` lists. An entry is
//! a host name (`openbao-0.openbao-internal.security.svc`), a wildcard for the names under one domain
//! (`*.openbao-internal.security.svc`), an IP address or an IP network in CIDR form (`10.244.0.0/16`, the Pods'
//! network when OpenBao advertises Pod IPs as its `api_addr`).

use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRule {
    Name(String),
    /// `*.<domain>`: any name ending in `.<domain>`.
    UnderDomain(String),
    Ip(IpAddr),
    Network(IpNet),
}

/// The host of a URL or a leader address, as the rules compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaderHost {
    Name(String),
    Ip(IpAddr),
}

impl LeaderHost {
    /// The host of `address` (`https://host:port/...`), lower-cased, without a trailing dot.
    pub fn of(address: &str) -> Option<Self> {
        let url = url::Url::parse(address).ok()?;
        Some(match url.host()? {
            url::Host::Domain(name) => Self::Name(normalized(name)),
            url::Host::Ipv4(ip) => Self::Ip(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => Self::Ip(IpAddr::V6(ip)),
        })
    }
}

impl std::fmt::Display for LeaderHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

fn normalized(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

impl HostRule {
    /// Parses one `spec.leaderHosts` entry; the error says what is wrong with it.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim();
        if let Ok(ip) = entry.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        if entry.contains('/') {
            return entry
                .parse::<IpNet>()
                .map(|net| Self::Network(net.trunc()))
                .map_err(|_| {
                    format!("{entry:?} is not an IP network in CIDR form (e.g. 10.244.0.0/16)")
                });
        }
        if let Some(domain) = entry.strip_prefix("*.") {
            let domain = normalized(domain);
            return if is_host_name(&domain) && domain.contains('.') {
                Ok(Self::UnderDomain(domain))
            } else {
                Err(format!(
                    "{entry:?} is not a wildcard over a domain (e.g. *.openbao-internal.security.svc)"
                ))
            };
        }
        let name = normalized(entry);
        if is_host_name(&name) {
            Ok(Self::Name(name))
        } else {
            Err(format!(
                "{entry:?} is not a host name, a *.domain wildcard, an IP address or a CIDR network"
            ))
        }
    }

    pub fn allows(&self, host: &LeaderHost) -> bool {
        match (self, host) {
            (Self::Name(rule), LeaderHost::Name(name)) => rule == name,
            (Self::UnderDomain(domain), LeaderHost::Name(name)) => name
                .strip_suffix(domain.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            (Self::Ip(rule), LeaderHost::Ip(ip)) => rule == ip,
            (Self::Network(net), LeaderHost::Ip(ip)) => net.contains(ip),
            _ => false,
        }
    }

    /// A rule that admits link-local or metadata-service addresses would reopen what endpoint validation closes.
    pub fn forbidden(&self) -> Option<String> {
        let probe = match self {
            Self::Name(name) | Self::UnderDomain(name) => format!("http://{name}/"),
            Self::Ip(IpAddr::V4(ip)) => format!("http://{ip}/"),
            Self::Ip(IpAddr::V6(ip)) => format!("http://[{ip}]/"),
            Self::Network(net) => {
                let metadata: [IpAddr; 2] = [
                    IpAddr::from([169, 254, 169, 254]),
                    IpAddr::from([100, 100, 100, 200]),
                ];
                return metadata
                    .iter()
                    .find(|ip| net.contains(*ip))
                    .map(|ip| format!("{net} contains the cloud metadata address {ip}"));
            }
        };
        super::forbidden_endpoint(&probe)
    }
}

/// Whether `host` is a Service (or Pod) DNS name of `namespace`: `<...>.<namespace>.svc`, or the same with the
/// default cluster domain `cluster.local` after it. (`x.<namespace>.svc.example.com` is anybody's name; a custom
/// cluster domain goes into `spec.leaderHosts` as `*.<namespace>.svc.<domain>`.)
pub fn is_namespace_service_host(host: &LeaderHost, namespace: &str) -> bool {
    let LeaderHost::Name(name) = host else {
        return false;
    };
    let namespace = namespace.to_ascii_lowercase();
    [".svc", ".svc.cluster.local"].iter().any(|tail| {
        name.strip_suffix(&format!(".{namespace}{tail}"))
            .is_some_and(|head| !head.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(address: &str) -> LeaderHost {
        LeaderHost::of(address).unwrap()
    }

    #[test]
    fn entries_parse_into_the_four_kinds() {
        assert_eq!(
            HostRule::parse("OpenBao-0.openbao-internal.security.svc.").unwrap(),
            HostRule::Name("openbao-0.openbao-internal.security.svc".into())
        );
        assert!(matches!(
            HostRule::parse("*.openbao-internal.security.svc").unwrap(),
            HostRule::UnderDomain(_)
        ));
        assert!(matches!(
            HostRule::parse("10.1.2.3").unwrap(),
            HostRule::Ip(_)
        ));
        assert!(matches!(
            HostRule::parse("fd00::1").unwrap(),
            HostRule::Ip(_)
        ));
        assert!(matches!(
            HostRule::parse("10.244.3.7/16").unwrap(),
            HostRule::Network(_)
        ));
        for bad in [
            "",
            "*",
            "*.com",
            "a b",
            "10.0.0.0/33",
            "http://x",
            "-a.b",
            "*.x..y",
        ] {
            assert!(HostRule::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn rules_match_only_their_hosts() {
        let under = HostRule::parse("*.openbao-internal.security.svc").unwrap();
        assert!(under.allows(&host(
            "https://openbao-1.openbao-internal.security.svc:8200"
        )));
        assert!(!under.allows(&host("https://openbao-internal.security.svc:8200")));
        assert!(!under.allows(&host("https://evilopenbao-internal.security.svc:8200")));
        let net = HostRule::parse("10.244.0.0/16").unwrap();
        assert!(net.allows(&host("http://10.244.9.1:8200")));
        assert!(!net.allows(&host("http://10.245.0.1:8200")));
        assert!(!net.allows(&host("http://openbao:8200")));
        let name = HostRule::parse("openbao-0").unwrap();
        assert!(name.allows(&host("http://OPENBAO-0:8200")));
        assert!(!name.allows(&host("http://openbao-1:8200")));
    }

    #[test]
    fn rules_that_admit_the_metadata_service_are_forbidden() {
        for entry in [
            "169.254.169.254",
            "169.254.0.0/16",
            "0.0.0.0/0",
            "metadata.google.internal",
        ] {
            assert!(
                HostRule::parse(entry).unwrap().forbidden().is_some(),
                "{entry} was allowed"
            );
        }
        assert_eq!(HostRule::parse("10.244.0.0/16").unwrap().forbidden(), None);
    }

    #[test]
    fn service_hosts_of_the_namespace_are_recognised() {
        for address in [
            "https://openbao-0.openbao-internal.security.svc:8200",
            "https://openbao.security.svc.cluster.local:8200",
        ] {
            assert!(
                is_namespace_service_host(&host(address), "security"),
                "{address}"
            );
        }
        for address in [
            "https://openbao.other.svc:8200",
            "https://security.svc:8200",
            "https://openbao.security.svcx:8200",
            "https://10.0.0.1:8200",
            "https://attacker.example/x.security.svc",
            "https://openbao.security.svc.attacker.example:8200",
        ] {
            assert!(
                !is_namespace_service_host(&host(address), "security"),
                "{address}"
            );
        }
    }
}
