//! Whether the leader `sys/leader` names belongs to the cluster the executor was pointed at. The executor sends
//! its OpenBao token to that leader next, so an answer naming some other host (a misconfigured `api_addr`, or a
//! node that lies) must not carry it away.
//!
//! Allowed: the configured endpoint's host and every address it resolves to (a headless Service resolves to its
//! Pods), the Service and Pod names of the cluster's namespace (`*.<namespace>.svc[.cluster.local]`), and each
//! `spec.leaderHosts` rule, a listed host name also admitting the addresses it resolves to.

use std::net::IpAddr;

use openbao_crds::validation::leader_hosts::{HostRule, LeaderHost, is_namespace_service_host};

pub struct LeaderScope {
    endpoint: Option<LeaderHost>,
    namespace: String,
    rules: Vec<HostRule>,
    /// Addresses the endpoint's host and the listed host names resolved to.
    resolved: Vec<IpAddr>,
}

impl LeaderScope {
    /// The scope with nothing resolved (resolution is [`LeaderScope::resolve`]'s job).
    pub fn new(endpoint: &str, namespace: &str, rules: &[HostRule]) -> Self {
        Self {
            endpoint: LeaderHost::of(endpoint),
            namespace: namespace.to_owned(),
            rules: rules.to_vec(),
            resolved: Vec::new(),
        }
    }

    /// Resolves the endpoint's host name and the listed host names; a name that does not resolve adds nothing.
    pub async fn resolve(mut self) -> Self {
        let names: Vec<String> = self
            .endpoint
            .iter()
            .filter_map(|host| match host {
                LeaderHost::Name(name) => Some(name.clone()),
                LeaderHost::Ip(_) => None,
            })
            .chain(self.rules.iter().filter_map(|rule| match rule {
                HostRule::Name(name) => Some(name.clone()),
                _ => None,
            }))
            .collect();
        for name in names {
            if let Ok(addresses) = tokio::net::lookup_host((name.as_str(), 0)).await {
                self.resolved.extend(addresses.map(|address| address.ip()));
            }
        }
        self
    }

    /// `Err` says why the leader at `address` is outside the cluster and how to admit it.
    pub fn check(&self, address: &str) -> Result<(), String> {
        let Some(host) = LeaderHost::of(address) else {
            return Err(format!("{address:?} is not a URL with a host"));
        };
        let allowed = self.endpoint.as_ref() == Some(&host)
            || is_namespace_service_host(&host, &self.namespace)
            || self.rules.iter().any(|rule| rule.allows(&host))
            || matches!(&host, LeaderHost::Ip(ip) if self.resolved.contains(ip));
        if allowed {
            return Ok(());
        }
        Err(format!(
            "{host} is neither the endpoint's host, an address it resolves to, a Service of namespace {} nor \
             listed in spec.leaderHosts; if it is one of the cluster's Pods, add it (or its network in CIDR form) \
             to spec.leaderHosts, or point spec.endpoint at the headless Service whose addresses are the Pods'",
            self.namespace
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(entries: &[&str]) -> Vec<HostRule> {
        entries
            .iter()
            .map(|e| HostRule::parse(e).unwrap())
            .collect()
    }

    #[test]
    fn the_endpoints_host_on_another_port_is_the_same_cluster() {
        let scope = LeaderScope::new("http://127.0.0.1:8200", "security", &[]);
        assert_eq!(scope.check("http://127.0.0.1:8210"), Ok(()));
        assert!(scope.check("http://127.0.0.2:8200").is_err());
        assert!(scope.check("http://localhost:8200").is_err());
    }

    #[test]
    fn services_of_the_namespace_and_listed_rules_are_admitted() {
        let scope = LeaderScope::new(
            "https://openbao.security.svc:8200",
            "security",
            &rules(&["10.244.0.0/16", "openbao-2.example.org"]),
        );
        for leader in [
            "https://openbao-0.openbao-internal.security.svc:8200",
            "https://openbao-1.openbao-internal.security.svc.cluster.local:8200",
            "http://10.244.3.9:8200",
            "https://openbao-2.example.org:8200",
        ] {
            assert_eq!(scope.check(leader), Ok(()), "{leader}");
        }
        for leader in [
            "https://openbao-0.openbao-internal.other.svc:8200",
            "http://10.245.0.1:8200",
            "https://attacker.example:8200",
            "not a url",
        ] {
            let refused = scope.check(leader).unwrap_err();
            assert!(!refused.is_empty(), "{leader}");
        }
    }

    #[tokio::test]
    async fn a_name_admits_the_addresses_it_resolves_to() {
        let scope = LeaderScope::new("http://localhost:8200", "security", &[])
            .resolve()
            .await;
        assert_eq!(scope.check("http://127.0.0.1:8210"), Ok(()));
        let listed = LeaderScope::new("http://10.0.0.1:8200", "security", &rules(&["localhost"]))
            .resolve()
            .await;
        assert_eq!(listed.check("http://127.0.0.1:8210"), Ok(()));
        assert!(listed.check("http://127.0.0.2:8210").is_err());
    }
}
