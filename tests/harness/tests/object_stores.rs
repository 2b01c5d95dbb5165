//! Each object-store server speaks its real protocol to object_store: put, list, get, head, multipart,
//! delete. S3 also checks signatures and can die mid-test.

use std::time::Instant;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use openbao_test_harness::{
    AzuriteServer, GcsServer, S3Options, S3Server, StoreProvider, TestStore,
};

/// S3 requires every part but the last to be at least 5 MiB.
const PART_SIZE: usize = 5 * 1024 * 1024;

async fn exercise(store: &dyn ObjectStore) {
    let small = Path::from("cluster/ns/one.snap");
    store
        .put(&small, PutPayload::from_static(b"hello snapshot"))
        .await
        .expect("put");
    let got = store.get(&small).await.expect("get").bytes().await.unwrap();
    assert_eq!(got, Bytes::from_static(b"hello snapshot"));
    assert_eq!(store.head(&small).await.expect("head").size, 14);

    // Three parts: 5 MiB, 5 MiB and a short tail, with recognizable content per part.
    let big = Path::from("cluster/ns/two.snap");
    let content: Vec<u8> = (0..2 * PART_SIZE + 1234)
        .map(|i| (i / PART_SIZE) as u8 + (i % 251) as u8)
        .collect();
    let upload = store.put_multipart(&big).await.expect("start multipart");
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    writer.write(&content);
    writer.finish().await.expect("complete multipart");
    let got = store.get(&big).await.unwrap().bytes().await.unwrap();
    assert_eq!(got.len(), content.len());
    assert!(got == content, "multipart content round-trips");

    let mut listed: Vec<String> = store
        .list(Some(&Path::from("cluster")))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .expect("list");
    listed.sort();
    assert_eq!(listed, ["cluster/ns/one.snap", "cluster/ns/two.snap"]);

    store.delete(&small).await.expect("delete");
    assert!(matches!(
        store.head(&small).await,
        Err(object_store::Error::NotFound { .. })
    ));
    store.delete(&big).await.expect("delete");
    let left: Vec<_> = store.list(None).try_collect().await.unwrap();
    assert!(left.is_empty(), "{left:?}");
}

async fn provider_round_trip(provider: StoreProvider) {
    let started = Instant::now();
    let server = TestStore::start(provider).await.expect("start the store");
    eprintln!(
        "{provider:?} store ready in {:?} at {}",
        started.elapsed(),
        server.endpoint()
    );
    assert_eq!(server.provider(), provider);
    exercise(server.object_store().unwrap().as_ref()).await;
}

#[tokio::test]
async fn s3_put_list_get_multipart_delete() {
    provider_round_trip(StoreProvider::S3).await;
}

#[tokio::test]
async fn gcs_put_list_get_multipart_delete() {
    provider_round_trip(StoreProvider::Gcs).await;
}

#[tokio::test]
async fn azure_put_list_get_multipart_delete() {
    provider_round_trip(StoreProvider::Azure).await;
}

#[tokio::test]
async fn s3_objects_are_files_and_a_wrong_secret_is_refused() {
    let server = S3Server::start(S3Options::default()).unwrap();
    let store = server.object_store().unwrap();
    store
        .put(&Path::from("a/b.snap"), PutPayload::from_static(b"bytes"))
        .await
        .unwrap();
    assert_eq!(server.list_keys(), ["a/b.snap"]);
    assert_eq!(
        server.read_object("a/b.snap").as_deref(),
        Some(&b"bytes"[..])
    );
    assert_eq!(server.read_object("missing"), None);

    let wrong = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(server.endpoint())
        .with_bucket_name(server.bucket())
        .with_region(server.region())
        .with_access_key_id(server.access_key())
        .with_secret_access_key("not-the-secret")
        .with_allow_http(true)
        .build()
        .unwrap();
    let err = wrong
        .get(&Path::from("a/b.snap"))
        .await
        .expect_err("a wrong secret must be refused");
    assert!(
        format!("{err:?}").contains("SignatureDoesNotMatch"),
        "{err:?}"
    );
}

#[tokio::test]
async fn stopped_s3_server_refuses_connections_and_keeps_its_files() {
    let mut server = S3Server::start(S3Options::default()).unwrap();
    let store = server.object_store().unwrap();
    store
        .put(&Path::from("kept.snap"), PutPayload::from_static(b"x"))
        .await
        .unwrap();
    let addr = server.endpoint().trim_start_matches("http://").to_string();

    server.stop();
    assert!(!server.is_running());
    let refused = std::net::TcpStream::connect(&addr).expect_err("the port must refuse after stop");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(store.get(&Path::from("kept.snap")).await.is_err());
    assert_eq!(server.list_keys(), ["kept.snap"]);
}

#[tokio::test]
async fn gcs_server_refuses_aws_signed_requests() {
    let server = GcsServer::start().unwrap();
    let aws_client = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(server.endpoint())
        .with_bucket_name(server.bucket())
        .with_region("us-east-1")
        .with_access_key_id("key")
        .with_secret_access_key("secret")
        .with_allow_http(true)
        .build()
        .unwrap();
    let err = aws_client
        .put(&Path::from("x"), PutPayload::from_static(b"x"))
        .await
        .expect_err("not GCS auth");
    assert!(format!("{err:?}").contains("401"), "{err:?}");
    assert!(
        server.bucket_dir().read_dir().unwrap().next().is_none(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn dropping_azurite_stops_it() {
    let server = AzuriteServer::start().await.unwrap();
    let addr = server
        .account_url()
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    assert!(std::net::TcpStream::connect(&addr).is_ok());
    drop(server);
    let refused = std::net::TcpStream::connect(&addr).expect_err("Azurite must be gone");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}
