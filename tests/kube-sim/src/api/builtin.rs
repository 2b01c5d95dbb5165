//! The built-in resources the server serves, described from their k8s-openapi types.

use k8s_openapi::api::{apps, batch, coordination, core, events, networking, rbac};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::{ClusterResourceScope, ListableResource, NamespaceResourceScope, Resource};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::resources::{Origin, Propagation, ResourceType, VersionInfo};

trait ScopeFlag {
    const NAMESPACED: bool;
}
impl ScopeFlag for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}
impl ScopeFlag for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

fn roundtrip<T: DeserializeOwned + Serialize>(value: Value) -> Result<Value, serde_json::Error> {
    let typed: T = serde_json::from_value(value)?;
    serde_json::to_value(typed)
}

fn schema_of<T: JsonSchema>() -> Value {
    let mut settings = schemars::generate::SchemaSettings::openapi3();
    settings.definitions_path = "#/components/schemas/".into();
    let generator = settings.into_generator();
    generator.into_root_schema_for::<T>().to_value()
}

/// Per-type facts k8s-openapi does not carry.
#[derive(Default)]
struct Traits {
    short_names: &'static [&'static str],
    all_category: bool,
    status: bool,
    generation: bool,
    extra_subresources: &'static [&'static str],
    field_labels: &'static [&'static str],
    orphan_by_default: bool,
}

fn describe<T>(traits: Traits) -> ResourceType
where
    T: Resource + ListableResource + DeserializeOwned + Serialize + JsonSchema,
    T::Scope: ScopeFlag,
{
    ResourceType {
        group: T::GROUP.to_string(),
        versions: vec![VersionInfo {
            name: T::VERSION.to_string(),
            storage: true,
            status_subresource: traits.status,
            schema: None,
            printer_columns: Vec::new(),
        }],
        kind: T::KIND.to_string(),
        list_kind: T::LIST_KIND.to_string(),
        plural: T::URL_PATH_SEGMENT.to_string(),
        singular: T::KIND.to_ascii_lowercase(),
        short_names: traits.short_names.iter().map(|s| s.to_string()).collect(),
        categories: if traits.all_category {
            vec!["all".to_string()]
        } else {
            Vec::new()
        },
        namespaced: <T::Scope as ScopeFlag>::NAMESPACED,
        extra_subresources: traits
            .extra_subresources
            .iter()
            .map(|s| s.to_string())
            .collect(),
        has_generation: traits.generation,
        default_propagation: if traits.orphan_by_default {
            Propagation::Orphan
        } else {
            Propagation::Background
        },
        field_labels: traits.field_labels.iter().map(|s| s.to_string()).collect(),
        origin: Origin::Builtin {
            codec: roundtrip::<T>,
            schema: schema_of::<T>,
        },
    }
}

pub fn all() -> Vec<ResourceType> {
    vec![
        describe::<core::v1::Namespace>(Traits {
            short_names: &["ns"],
            status: true,
            field_labels: &["status.phase"],
            ..Traits::default()
        }),
        describe::<core::v1::Node>(Traits {
            short_names: &["no"],
            status: true,
            ..Traits::default()
        }),
        describe::<core::v1::Secret>(Traits {
            field_labels: &["type"],
            ..Traits::default()
        }),
        describe::<core::v1::ConfigMap>(Traits {
            short_names: &["cm"],
            ..Traits::default()
        }),
        describe::<core::v1::ServiceAccount>(Traits {
            short_names: &["sa"],
            extra_subresources: &["token"],
            ..Traits::default()
        }),
        describe::<core::v1::Pod>(Traits {
            short_names: &["po"],
            all_category: true,
            status: true,
            extra_subresources: &["log"],
            field_labels: &[
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            ],
            ..Traits::default()
        }),
        describe::<core::v1::Service>(Traits {
            short_names: &["svc"],
            all_category: true,
            status: true,
            ..Traits::default()
        }),
        describe::<core::v1::Endpoints>(Traits {
            short_names: &["ep"],
            ..Traits::default()
        }),
        describe::<core::v1::PersistentVolumeClaim>(Traits {
            short_names: &["pvc"],
            status: true,
            ..Traits::default()
        }),
        describe::<core::v1::Event>(Traits {
            short_names: &["ev"],
            field_labels: super::events::FIELD_LABELS,
            ..Traits::default()
        }),
        // A view of the core Events (see `events`), stored with them.
        describe::<events::v1::Event>(Traits {
            short_names: &["ev"],
            field_labels: super::events::FIELD_LABELS,
            ..Traits::default()
        }),
        describe::<batch::v1::Job>(Traits {
            all_category: true,
            status: true,
            generation: true,
            field_labels: &["status.successful"],
            // batch/v1 keeps its historical default: deleting a Job through the API orphans its Pods unless the
            // request asks for propagation (kubectl does).
            orphan_by_default: true,
            ..Traits::default()
        }),
        describe::<batch::v1::CronJob>(Traits {
            short_names: &["cj"],
            all_category: true,
            status: true,
            generation: true,
            ..Traits::default()
        }),
        describe::<apps::v1::StatefulSet>(Traits {
            short_names: &["sts"],
            all_category: true,
            status: true,
            generation: true,
            extra_subresources: &["scale"],
            ..Traits::default()
        }),
        describe::<apps::v1::Deployment>(Traits {
            short_names: &["deploy"],
            all_category: true,
            status: true,
            generation: true,
            extra_subresources: &["scale"],
            ..Traits::default()
        }),
        describe::<apps::v1::ReplicaSet>(Traits {
            short_names: &["rs"],
            all_category: true,
            status: true,
            generation: true,
            ..Traits::default()
        }),
        describe::<coordination::v1::Lease>(Traits::default()),
        describe::<rbac::v1::Role>(Traits::default()),
        describe::<rbac::v1::RoleBinding>(Traits::default()),
        describe::<rbac::v1::ClusterRole>(Traits::default()),
        describe::<rbac::v1::ClusterRoleBinding>(Traits::default()),
        describe::<networking::v1::NetworkPolicy>(Traits {
            short_names: &["netpol"],
            generation: true,
            ..Traits::default()
        }),
        describe::<CustomResourceDefinition>(Traits {
            short_names: &["crd", "crds"],
            status: true,
            generation: true,
            ..Traits::default()
        }),
    ]
}
