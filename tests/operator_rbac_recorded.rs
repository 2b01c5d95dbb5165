//! RBAC derived from what the operator does, not from a hand-kept copy of the manifest. The operator runs as its
//! own ServiceAccount (`openbao-operator-system/openbao-operator`, a token the simulator mints, the Lease in that
//! namespace) through a representative run: a manual backup whose Job is adopted by a second operator process after
//! the first one stopped, a second backup after workload-identity annotations were added to the store target, a
//! dry-run restore and a real restore, then SIGTERM (which releases the Lease). The simulator records every request
//! it answered, reads included, with the caller's identity, so the operator's requests are told apart from the
//! test's, kubectl's and the simulated kubelet's and Job controller's (all admin). From them:
//!
//! - every (API group, resource[/subresource], verb) the operator requested must be granted by a role in
//!   `deploy/` bound to its ServiceAccount (a Role only in its own namespace);
//! - every verb those roles grant must have been requested, or be in [`UNEXERCISED_GRANTS`] with the reason the
//!   run cannot exercise it.
//!
//! The failure lists both differences, so a change to the code's API calls shows what to add to or remove from
//! `deploy/rbac.yaml`. `tests/manifest_checks/rbac.rs` keeps the manifest-only rules (no wildcards, no Secrets,
//! leases only in the operator's namespace, bindings to the operator's ServiceAccount).

#[allow(unused_imports)]
// The operator runs under another identity here, not through `Operator`/`wait_ready`.
mod operator_support;

#[allow(dead_code)] // The install checks' loaders; this test uses the RBAC part.
mod support {
    pub mod install;
    pub mod json_diff;
    pub mod typed_manifest;
    pub mod yaml_documents;
}

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Subject};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use kube_sim::{RecordedRequest, RequestFilter};
use openbao_crds::{OpenBaoRestore, RestorePhase};
use openbao_test_harness::operator::{OperatorLaunch, OperatorProcess};
use openbao_test_harness::ports::free_port;
use operator_support::wait::STARTUP_DEADLINE;
use operator_support::world::{BackupSettings, CLUSTER, World, WorldOptions};
use operator_support::{EXECUTOR_IMAGE, NAMESPACE, eventually};
use serde_json::json;

use support::install::{
    OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, cluster_role_bindings, cluster_roles, install,
    namespaces, role_bindings, roles, service_accounts,
};
use support::typed_manifest::TypedManifest;

/// Set on the cluster's store target mid-run, so an existing backup ServiceAccount gets annotated.
const WORKLOAD_IDENTITY_ANNOTATION: &str = "example.com/workload-identity";
/// A manual backup on a busy machine.
const BACKUP_DEADLINE: Duration = Duration::from_secs(90);
/// Validation, the lock, the restore and OpenBao's own settling on a busy machine.
const RESTORE_DEADLINE: Duration = Duration::from_secs(180);

/// Grants the run cannot exercise, each with the reason it is still needed: (API group, resource, verb).
/// Keep it short; a grant that is neither requested nor listed here is reported as one to remove.
const UNEXERCISED_GRANTS: &[(&str, &str, &str)] = &[
    // Jobs and ServiceAccounts name their cluster (restore Jobs: their request) as controller owner with
    // blockOwnerDeletion. Only API servers with the OwnerReferencesPermissionEnforcement admission plugin
    // (OpenShift) check `update` on the owner's finalizers; the simulator, like most clusters, does not.
    ("openbao.org", "openbaoclusters/finalizers", "update"),
    ("openbao.org", "openbaorestores/finalizers", "update"),
    // kube's event recorder patches an Event it created when the same event (reason, object, related Job) repeats
    // within its cache window, e.g. `BackupSkipped` for each window missed under a held lock. Every event of this
    // run's backups and restores names its own Job or request, so none repeats.
    ("events.k8s.io", "events", "patch"),
    // The executor NetworkPolicy is patched only when the ports of the OpenBao or store endpoints change; this
    // run's endpoints keep theirs (its re-check reads the policy and finds it current).
    ("networking.k8s.io", "networkpolicies", "patch"),
    // The upgrade guard's two moves; this run changes no version. tests/operator_e2e_upgrade.rs rolls a real
    // StatefulSet with them.
    ("apps", "statefulsets", "patch"),
    ("", "pods", "delete"),
];

/// One RBAC permission: what a rule grants and what a request needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Permission {
    group: String,
    /// `plural` or `plural/subresource`.
    resource: String,
    verb: String,
}

impl Permission {
    fn new(group: &str, resource: &str, verb: &str) -> Self {
        Self {
            group: group.into(),
            resource: resource.into(),
            verb: verb.into(),
        }
    }

    fn of(request: &RecordedRequest) -> Self {
        Self::new(
            &request.group,
            &request.full_resource(),
            request.verb.as_str(),
        )
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = if self.group.is_empty() {
            "core"
        } else {
            &self.group
        };
        f.pad(&format!("{group} {} {}", self.resource, self.verb))
    }
}

/// A rule of a role bound to the operator, with where it applies: everywhere (ClusterRole through a
/// ClusterRoleBinding) or in one namespace (Role through a RoleBinding).
struct BoundRule {
    role: String,
    namespace: Option<String>,
    rule: PolicyRule,
}

impl BoundRule {
    /// The permissions the rule grants, groups × resources × verbs.
    fn permissions(&self) -> Vec<Permission> {
        let mut granted = Vec::new();
        for group in self.rule.api_groups.iter().flatten() {
            for resource in self.rule.resources.iter().flatten() {
                for verb in &self.rule.verbs {
                    granted.push(Permission::new(group, resource, verb));
                }
            }
        }
        granted
    }

    /// Whether kube-apiserver's RBAC authorizer would allow `request` by this rule (no wildcards: the manifest
    /// checks forbid them).
    fn allows(&self, request: &RecordedRequest) -> bool {
        let namespace_ok = match &self.namespace {
            None => true,
            Some(namespace) => request.namespace.as_deref() == Some(namespace),
        };
        // resourceNames restrict requests on one named object; they never allow list, watch or create.
        let names_ok = match self.rule.resource_names.as_deref() {
            None | Some([]) => true,
            Some(names) => request
                .name
                .as_ref()
                .is_some_and(|name| names.contains(name) && request.verb.as_str() != "create"),
        };
        namespace_ok && names_ok && self.permissions().contains(&Permission::of(request))
    }
}

fn binds_operator(subjects: Option<&Vec<Subject>>) -> bool {
    subjects.into_iter().flatten().any(|subject| {
        subject.kind == "ServiceAccount"
            && subject.name == OPERATOR_SERVICE_ACCOUNT
            && subject.namespace.as_deref() == Some(OPERATOR_NAMESPACE)
    })
}

/// The rules of every role in `deploy/` bound to the operator's ServiceAccount.
fn operator_rules(install: &[TypedManifest]) -> Vec<BoundRule> {
    let mut rules = Vec::new();
    for binding in cluster_role_bindings(install) {
        if !binds_operator(binding.subjects.as_ref()) || binding.role_ref.kind != "ClusterRole" {
            continue;
        }
        for role in cluster_roles(install) {
            if role.metadata.name.as_deref() == Some(binding.role_ref.name.as_str()) {
                rules.extend(role.rules.iter().flatten().map(|rule| BoundRule {
                    role: format!("ClusterRole {}", binding.role_ref.name),
                    namespace: None,
                    rule: rule.clone(),
                }));
            }
        }
    }
    for binding in role_bindings(install) {
        if !binds_operator(binding.subjects.as_ref()) {
            continue;
        }
        let namespace = binding.metadata.namespace.clone();
        match binding.role_ref.kind.as_str() {
            "Role" => {
                for role in roles(install) {
                    if role.metadata.name.as_deref() == Some(binding.role_ref.name.as_str())
                        && role.metadata.namespace == namespace
                    {
                        rules.extend(role.rules.iter().flatten().map(|rule| BoundRule {
                            role: format!("Role {}", binding.role_ref.name),
                            namespace: namespace.clone(),
                            rule: rule.clone(),
                        }));
                    }
                }
            }
            // A RoleBinding to a ClusterRole grants its rules in the binding's namespace.
            "ClusterRole" => {
                for role in cluster_roles(install) {
                    if role.metadata.name.as_deref() == Some(binding.role_ref.name.as_str()) {
                        rules.extend(role.rules.iter().flatten().map(|rule| BoundRule {
                            role: format!(
                                "ClusterRole {} (bound in a namespace)",
                                binding.role_ref.name
                            ),
                            namespace: namespace.clone(),
                            rule: rule.clone(),
                        }));
                    }
                }
            }
            _ => {}
        }
    }
    rules
}

fn operator_user() -> String {
    format!("system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SERVICE_ACCOUNT}")
}

/// The operator's Namespace and ServiceAccount as `deploy/` defines them, so the simulator can authenticate it.
async fn create_operator_identity(world: &World, install: &[TypedManifest]) {
    for namespace in namespaces(install) {
        Api::<Namespace>::all(world.client.clone())
            .create(&PostParams::default(), namespace)
            .await
            .expect("the operator's Namespace");
    }
    for account in service_accounts(install) {
        let namespace = account.metadata.namespace.as_deref().expect("a namespace");
        Api::<ServiceAccount>::namespaced(world.client.clone(), namespace)
            .create(&PostParams::default(), account)
            .await
            .expect("the operator's ServiceAccount");
    }
}

/// `openbao-operator run` authenticating as its ServiceAccount, with its Lease in its own namespace as deployed;
/// returns once it is ready.
async fn start_operator_as_its_service_account(world: &World, log_name: &str) -> OperatorProcess {
    let kubeconfig = world.path("operator-kubeconfig");
    world
        .sim
        .write_service_account_kubeconfig(&kubeconfig, OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT)
        .expect("a kubeconfig for the operator's ServiceAccount");
    let launch = OperatorLaunch {
        namespace: OPERATOR_NAMESPACE.into(),
        pod_name: format!("operator-{}", free_port().expect("a free port")),
        executor_image: EXECUTOR_IMAGE.into(),
        log_filter: "info,openbao_operator=debug,openbao_actors=debug".into(),
        extra_args: vec!["--lease-duration-seconds".into(), "4".into()],
        ..OperatorLaunch::new(
            Path::new(env!("CARGO_BIN_EXE_openbao-operator")),
            &kubeconfig,
            &world.path(log_name),
        )
    };
    let operator = launch.start().expect("the operator binary starts");
    if let Err(timeout) = operator.wait_ready(STARTUP_DEADLINE).await {
        panic!("{timeout}; operator log tail:\n{}", operator.log_tail(60));
    }
    operator
}

/// SIGTERM: the operator stops its actors and releases its Lease on the way out.
fn stop(mut operator: OperatorProcess) {
    tokio::task::block_in_place(|| operator.terminate(Duration::from_secs(20)));
    assert!(
        operator
            .exit_status()
            .is_some_and(|status| status.success()),
        "the operator stops cleanly on SIGTERM: {:?}; log tail:\n{}",
        operator.exit_status(),
        operator.log_tail(40)
    );
}

async fn backed_up(world: &World, operator: &OperatorProcess, token: &str) {
    eventually(
        &format!("manual backup {token} recorded"),
        BACKUP_DEADLINE,
        operator.log_path(),
        || async {
            let backup = world.status().await?.backup?;
            (backup.last_handled_trigger.as_deref() == Some(token)
                && backup.last_backup_key.is_some())
            .then_some(())
        },
    )
    .await;
}

/// Waits until the request reached a terminal phase and the operator removed its finalizer.
async fn ended(world: &World, operator: &OperatorProcess, name: &str) -> OpenBaoRestore {
    eventually(
        &format!("OpenBaoRestore {name} ends and loses its finalizer"),
        RESTORE_DEADLINE,
        operator.log_path(),
        || async {
            let request = world.restores().get(name).await.ok()?;
            let terminal = request
                .status
                .as_ref()?
                .phase
                .is_some_and(RestorePhase::is_terminal);
            let finalized = request
                .metadata
                .finalizers
                .as_ref()
                .is_none_or(Vec::is_empty);
            (terminal && finalized).then_some(request)
        },
    )
    .await
}

/// Every permission the run used, with how many requests needed it and the namespaces they were in.
fn used_permissions(
    requests: &[RecordedRequest],
) -> BTreeMap<Permission, (usize, BTreeSet<String>)> {
    let mut used: BTreeMap<Permission, (usize, BTreeSet<String>)> = BTreeMap::new();
    for request in requests {
        let entry = used.entry(Permission::of(request)).or_default();
        entry.0 += 1;
        entry
            .1
            .insert(request.namespace.clone().unwrap_or_else(|| "(all)".into()));
    }
    used
}

fn describe_request(request: &RecordedRequest) -> String {
    format!(
        "namespace {}, name {}, answered {}",
        request.namespace.as_deref().unwrap_or("(all)"),
        request.name.as_deref().unwrap_or("-"),
        request.status
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_rbac_grants_exactly_what_a_backup_and_restores_request() {
    let started = Instant::now();
    let install = install();
    let world = World::start(WorldOptions {
        kv_secrets: 5,
        gate_open: false,
        gate_backups_only: true,
        ..WorldOptions::default()
    })
    .await;
    world.sim.request_log().record_reads(true);
    create_operator_identity(&world, &install).await;
    let since = world.sim.request_log().last_seq();

    // A backup Job held at the executor gate when the operator is replaced: the next one adopts it from the lock.
    let first = start_operator_as_its_service_account(&world, "operator-1.log").await;
    world.create_cluster(&BackupSettings::manual_only()).await;
    world.trigger_backup("first").await;
    eventually(
        "the first backup Job exists",
        BACKUP_DEADLINE,
        first.log_path(),
        || async { (!world.backup_jobs().await.is_empty()).then_some(()) },
    )
    .await;
    stop(first);
    let operator = start_operator_as_its_service_account(&world, "operator-2.log").await;
    world.gate.open();
    backed_up(&world, &operator, "first").await;

    // Workload-identity annotations added after the backup ServiceAccount exists: the next backup patches them onto
    // it.
    world
        .clusters()
        .patch(
            CLUSTER,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"backup": {"target": {"workloadIdentity": {
                "serviceAccountAnnotations": {WORKLOAD_IDENTITY_ANNOTATION: "rbac-test"},
            }}}}})),
        )
        .await
        .expect("workload identity added");
    world.trigger_backup("second").await;
    backed_up(&world, &operator, "second").await;
    let account = Api::<ServiceAccount>::namespaced(world.client.clone(), NAMESPACE)
        .get(&format!("{CLUSTER}-backup"))
        .await
        .expect("the backup ServiceAccount");
    assert!(
        account
            .metadata
            .annotations
            .is_some_and(|a| a.contains_key(WORKLOAD_IDENTITY_ANNOTATION)),
        "the second backup annotated the existing ServiceAccount"
    );

    world
        .create_restore(
            "rehearse",
            json!({"source": {"latest": true}, "dryRun": true}),
        )
        .await;
    let dry_run = ended(&world, &operator, "rehearse").await;
    world
        .create_restore("bring-back", json!({"source": {"latest": true}}))
        .await;
    let restore = ended(&world, &operator, "bring-back").await;
    // An override restore stops a running backup Job.
    world.bao.wait_healthy().await.expect("OpenBao healthy");
    world.gate.close();
    world.trigger_backup("third").await;
    eventually(
        "the third backup holds the lock",
        BACKUP_DEADLINE,
        operator.log_path(),
        || async {
            let lock = world.status().await?.operation_lock?;
            lock.holder.starts_with("backup/").then_some(())
        },
    )
    .await;
    world
        .create_restore(
            "override",
            json!({"source": {"latest": true}, "force": true, "overrideOperationLock": true}),
        )
        .await;
    let overridden = ended(&world, &operator, "override").await;
    world.gate.open();
    for request in [&dry_run, &restore, &overridden] {
        assert_eq!(
            request.status.as_ref().and_then(|s| s.phase),
            Some(RestorePhase::Completed),
            "the run must take the successful paths: {:?}",
            request.status
        );
    }
    stop(operator);

    let log = world.sim.request_log();
    assert_eq!(log.dropped(), 0, "the request log kept the whole run");
    let requests: Vec<RecordedRequest> = log
        .matching(&RequestFilter {
            since: Some(since),
            ..RequestFilter::default()
        })
        .into_iter()
        .filter(|request| request.user.as_deref() == Some(operator_user().as_str()))
        .collect();
    assert!(
        !requests.is_empty(),
        "no request was made as {}",
        operator_user()
    );

    let rules = operator_rules(&install);
    assert!(
        !rules.is_empty(),
        "no role in deploy/ is bound to the operator"
    );
    let mut not_granted: BTreeMap<Permission, Vec<String>> = BTreeMap::new();
    for request in &requests {
        if !rules.iter().any(|rule| rule.allows(request)) {
            not_granted
                .entry(Permission::of(request))
                .or_default()
                .push(describe_request(request));
        }
    }
    let used = used_permissions(&requests);
    let mut unused: BTreeMap<Permission, String> = BTreeMap::new();
    for rule in &rules {
        for permission in rule.permissions() {
            let allow_listed = UNEXERCISED_GRANTS
                .iter()
                .any(|&(g, r, v)| permission == Permission::new(g, r, v));
            if !used.contains_key(&permission) && !allow_listed {
                unused.insert(permission, rule.role.clone());
            }
        }
    }
    let granted: BTreeSet<Permission> = rules.iter().flat_map(BoundRule::permissions).collect();
    let stale_allow_list: Vec<String> = UNEXERCISED_GRANTS
        .iter()
        .map(|&(g, r, v)| Permission::new(g, r, v))
        .filter(|permission| !granted.contains(permission))
        .map(|permission| permission.to_string())
        .collect();

    let recorded: Vec<String> = used
        .iter()
        .map(|(permission, (count, namespaces))| {
            format!(
                "  {permission:<50} {count:>5} requests in {}",
                namespaces.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    println!(
        "{} requests as {} in {:.0?}; permissions used:\n{}",
        requests.len(),
        operator_user(),
        started.elapsed(),
        recorded.join("\n")
    );

    let mut problems = Vec::new();
    if !not_granted.is_empty() {
        problems.push(format!(
            "requested but not granted by deploy/rbac.yaml (add them, in the right role and namespace):\n{}",
            not_granted
                .iter()
                .map(|(permission, examples)| format!(
                    "  + {permission}   ({} requests, e.g. {})",
                    examples.len(),
                    examples[0]
                ))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    if !unused.is_empty() {
        problems.push(format!(
            "granted by deploy/rbac.yaml but never requested (remove them, or list them in UNEXERCISED_GRANTS with \
             the reason the run cannot exercise them):\n{}",
            unused
                .iter()
                .map(|(permission, role)| format!("  - {permission}   ({role})"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    if !stale_allow_list.is_empty() {
        problems.push(format!(
            "UNEXERCISED_GRANTS lists what deploy/rbac.yaml no longer grants (remove them from the list): {}",
            stale_allow_list.join(", ")
        ));
    }
    assert!(
        problems.is_empty(),
        "{}\n\npermissions the run used:\n{}",
        problems.join("\n\n"),
        recorded.join("\n")
    );
}
