//! Endpoints the executor will call (`spec.endpoint`, the store's `endpoint`) must not point at what only the node
//! should reach: link-local addresses and the cloud instance-metadata services. A Job that sends its login or its
//! store credentials there hands them to whoever answers (server-side request forgery through a spec).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Why an endpoint is refused; `None` when it may be used.
/// Whether `endpoint` is an `http://` URL (case-insensitive scheme).
pub fn is_plain_http(endpoint: &str) -> bool {
    endpoint
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
}

/// The `http://` endpoints a cluster's executors would use: `spec.endpoint` and the backup target's endpoint.
pub fn plain_http_endpoints(spec: &crate::OpenBaoClusterSpec) -> Vec<String> {
    let target = spec.backup.as_ref().map(|backup| &backup.target);
    [
        spec.endpoint.as_deref(),
        target.and_then(crate::BackupTarget::endpoint),
    ]
    .into_iter()
    .flatten()
    .filter(|endpoint| is_plain_http(endpoint))
    .map(str::to_string)
    .collect()
}

pub fn forbidden_endpoint(endpoint: &str) -> Option<String> {
    let url = match Url::parse(endpoint) {
        Ok(url) => url,
        Err(error) => return Some(format!("{endpoint:?} is not a URL ({error})")),
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Some(format!(
            "{endpoint:?} must use https:// (or http://), not {}",
            url.scheme()
        ));
    }
    match url.host() {
        None => Some(format!("{endpoint:?} names no host")),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            METADATA_NAMES
                .contains(&name.as_str())
                .then(|| format!("{endpoint:?} names the cloud metadata service {name}"))
        }
        Some(Host::Ipv4(ip)) => {
            forbidden_ip(IpAddr::V4(ip)).map(|why| format!("{endpoint:?} is {why}"))
        }
        Some(Host::Ipv6(ip)) => {
            forbidden_ip(IpAddr::V6(ip)).map(|why| format!("{endpoint:?} is {why}"))
        }
    }
}

const METADATA_NAMES: [&str; 4] = [
    "metadata.google.internal",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

fn forbidden_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) if ip.is_link_local() => {
            Some("a link-local address (169.254.0.0/16 holds the cloud metadata services)")
        }
        IpAddr::V4(ip) if ip == Ipv4Addr::new(100, 100, 100, 200) => {
            Some("the Alibaba Cloud metadata service")
        }
        IpAddr::V4(ip) if ip.is_unspecified() || ip.is_broadcast() => Some("not a host address"),
        IpAddr::V6(ip) if ip.is_unicast_link_local() => Some("a link-local address (fe80::/10)"),
        IpAddr::V6(ip) if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) => {
            Some("the AWS metadata service (IPv6)")
        }
        IpAddr::V6(ip) if ip.is_unspecified() => Some("not a host address"),
        IpAddr::V6(ip) => ip
            .to_ipv4_mapped()
            .and_then(|v4| forbidden_ip(IpAddr::V4(v4))),
        IpAddr::V4(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_link_local_endpoints_are_refused() {
        for endpoint in [
            "http://169.254.169.254/latest/meta-data/",
            "https://169.254.1.1:8200",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.google.internal./",
            "http://100.100.100.200/",
            "http://[fd00:ec2::254]/",
            "https://[fe80::1]:8200",
            "http://[::ffff:169.254.169.254]/",
            "http://0.0.0.0:8200",
            "ftp://store.example.com",
            "not a url",
        ] {
            assert!(
                forbidden_endpoint(endpoint).is_some(),
                "{endpoint} was allowed"
            );
        }
    }

    #[test]
    fn ordinary_endpoints_are_allowed() {
        for endpoint in [
            "https://openbao.security.svc:8200",
            "http://127.0.0.1:8200",
            "https://s3.eu-central-1.amazonaws.com",
            "http://minio.storage.svc:9000",
            "https://10.0.0.12:8200",
            "https://[2001:db8::1]:8200",
            "https://storage.googleapis.com",
            "https://account.blob.core.windows.net",
        ] {
            assert_eq!(forbidden_endpoint(endpoint), None, "{endpoint}");
        }
    }
}
