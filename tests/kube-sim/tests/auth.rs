//! Authentication: admin token, ServiceAccount tokens from the TokenRequest API, 401 otherwise; JWKS/OIDC.

mod common;

use common::*;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::api::{Api, PostParams};
use serde_json::json;

#[tokio::test]
async fn token_request_tokens_authenticate_and_others_do_not() {
    let (sim, client) = start().await;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    accounts
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "backup"}})).unwrap(),
        )
        .await
        .unwrap();
    let request: TokenRequest = serde_json::from_value(
        json!({"spec": {"audiences": ["openbao-internal"], "expirationSeconds": 600}}),
    )
    .unwrap();
    let issued = accounts
        .create_token_request("backup", &PostParams::default(), &request)
        .await
        .unwrap();
    let token = issued.status.unwrap().token;

    let claims = token.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], "system:serviceaccount:default:backup");
    assert_eq!(claims["aud"], json!(["openbao-internal"]));
    assert_eq!(claims["iss"], sim.issuer());

    let mut config = sim.kube_config().await.unwrap();
    config.auth_info.token = Some(token.into());
    let as_account: Api<ConfigMap> =
        Api::namespaced(kube::Client::try_from(config.clone()).unwrap(), "default");
    as_account
        .list(&Default::default())
        .await
        .expect("service account token accepted");

    config.auth_info.token = Some("not-a-token".to_string().into());
    let anonymous: Api<ConfigMap> =
        Api::namespaced(kube::Client::try_from(config).unwrap(), "default");
    assert_eq!(
        status_code(&anonymous.list(&Default::default()).await.unwrap_err()),
        401
    );

    let short: TokenRequest =
        serde_json::from_value(json!({"spec": {"expirationSeconds": 60}})).unwrap();
    assert_eq!(
        status_code(
            &accounts
                .create_token_request("backup", &PostParams::default(), &short)
                .await
                .unwrap_err()
        ),
        422
    );
    assert!(
        sim.service_account_public_key_pem()
            .contains("BEGIN PUBLIC KEY")
    );
}
