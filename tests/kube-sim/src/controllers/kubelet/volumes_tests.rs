use serde_json::{Value, json};

use super::*;

fn pod(volumes: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "backup-x", "namespace": "ns", "uid": "u-1", "labels": {"app": "bao"}},
        "spec": {"containers": [{"name": "main"}], "volumes": volumes}
    }))
    .unwrap()
}

fn objects() -> ReferencedObjects {
    let mut objects = ReferencedObjects::default();
    objects.secrets.insert(
        "creds".into(),
        BTreeMap::from([
            ("token".into(), b"s3cr3t".to_vec()),
            ("ca.crt".into(), b"PEM".to_vec()),
        ]),
    );
    objects.config_maps.insert(
        "settings".into(),
        BTreeMap::from([("level".into(), b"debug".to_vec())]),
    );
    objects.tokens.insert(
        TokenKey {
            audience: Some("openbao".into()),
            expiration_seconds: 600,
        },
        "header.payload.sig".into(),
    );
    objects
}

fn dirs() -> VolumeDirs {
    VolumeDirs {
        pod_dir: "/pods/ns/backup-x".into(),
        claims_dir: "/pods/ns/claims".into(),
    }
}

fn file(path: &str, contents: &[u8], mode: u32) -> PlannedFile {
    PlannedFile {
        path: path.into(),
        contents: contents.to_vec(),
        mode,
    }
}

#[test]
fn secret_volume_with_items_and_modes() {
    let pod = pod(json!([{"name": "creds", "secret": {
        "secretName": "creds", "defaultMode": 0o400,
        "items": [{"key": "token", "path": "auth/token"}, {"key": "ca.crt", "path": "ca.crt", "mode": 0o444}]
    }}]));
    let planned = plan_volumes(&pod, &objects(), &dirs()).unwrap();
    assert_eq!(
        planned,
        [PlannedVolume {
            name: "creds".into(),
            host_dir: "/pods/ns/backup-x/volumes/creds".into(),
            files: vec![
                file("auth/token", b"s3cr3t", 0o400),
                file("ca.crt", b"PEM", 0o444)
            ],
        }]
    );
}

#[test]
fn config_map_without_items_gets_every_key_and_empty_dir_nothing() {
    let pod = pod(json!([
        {"name": "config", "configMap": {"name": "settings"}},
        {"name": "scratch", "emptyDir": {}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-bao-0"}}
    ]));
    let planned = plan_volumes(&pod, &objects(), &dirs()).unwrap();
    assert_eq!(planned[0].files, [file("level", b"debug", 0o644)]);
    assert_eq!(planned[1].files, []);
    assert_eq!(
        planned[1].host_dir,
        Path::new("/pods/ns/backup-x/volumes/scratch")
    );
    assert_eq!(
        planned[2].host_dir,
        Path::new("/pods/ns/claims/data-bao-0"),
        "claims outlive the Pod"
    );
}

#[test]
fn projected_volume_combines_token_secret_and_downward_api() {
    let pod = pod(
        json!([{"name": "projected", "projected": {"defaultMode": 0o440, "sources": [
            {"serviceAccountToken": {"path": "token", "audience": "openbao", "expirationSeconds": 600}},
            {"secret": {"name": "creds", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                                       {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}}
        ]}}]),
    );
    let planned = plan_volumes(&pod, &objects(), &dirs()).unwrap();
    assert_eq!(
        planned[0].files,
        [
            file("token", b"header.payload.sig", 0o440),
            file("ca.crt", b"PEM", 0o440),
            file("labels", b"app=\"bao\"", 0o440),
            file("name", b"backup-x", 0o440),
        ]
    );
}

#[test]
fn missing_objects_fail_unless_optional() {
    let missing = pod(json!([{"name": "v", "secret": {"secretName": "absent"}}]));
    let error = plan_volumes(&missing, &objects(), &dirs()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "MountVolume.SetUp failed for volume \"v\" : secret \"absent\" not found"
    );

    let optional =
        pod(json!([{"name": "v", "secret": {"secretName": "absent", "optional": true}}]));
    assert_eq!(
        plan_volumes(&optional, &objects(), &dirs()).unwrap()[0].files,
        []
    );

    let missing_key = pod(
        json!([{"name": "v", "configMap": {"name": "settings", "items": [{"key": "nope", "path": "x"}]}}]),
    );
    assert!(matches!(
        plan_volumes(&missing_key, &objects(), &dirs()),
        Err(VolumeError::KeyNotFound { .. })
    ));
}

#[test]
fn item_paths_cannot_escape_the_volume() {
    let escaping = pod(
        json!([{"name": "v", "secret": {"secretName": "creds", "items": [{"key": "token", "path": "../x"}]}}]),
    );
    assert!(matches!(
        plan_volumes(&escaping, &objects(), &dirs()),
        Err(VolumeError::UnsafePath { .. })
    ));
}

#[test]
fn mount_points_map_mount_paths_and_sub_paths() {
    let planned = vec![PlannedVolume {
        name: "creds".into(),
        host_dir: "/h/creds".into(),
        files: vec![],
    }];
    let mounts: Vec<k8s_openapi::api::core::v1::VolumeMount> = serde_json::from_value(json!([
        {"name": "creds", "mountPath": "/var/run/secrets/creds"},
        {"name": "creds", "mountPath": "/etc/token", "subPath": "token"},
        {"name": "absent", "mountPath": "/nowhere"}
    ]))
    .unwrap();
    assert_eq!(
        mount_points(&mounts, &planned),
        BTreeMap::from([
            ("/etc/token".to_string(), PathBuf::from("/h/creds/token")),
            (
                "/var/run/secrets/creds".to_string(),
                PathBuf::from("/h/creds")
            ),
        ])
    );
}

#[test]
fn written_files_have_their_modes() {
    let dir = std::env::temp_dir().join(format!("kube-sim-volumes-{}", std::process::id()));
    let volume = PlannedVolume {
        name: "v".into(),
        host_dir: dir.join("v"),
        files: vec![file("a/b", b"x", 0o600)],
    };
    write_volumes(&[volume]).unwrap();
    let metadata = std::fs::metadata(dir.join("v/a/b")).unwrap();
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read(dir.join("v/a/b")).unwrap(), b"x");
    std::fs::remove_dir_all(dir).unwrap();
}
