//! `GET pods/{name}/log`: served from the files the kubelet writes (`<log_dir>/<namespace>/<pod>/<container>.log`),
//! with `container`, `tailLines`, `limitBytes` and `follow`.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use tokio::io::AsyncReadExt;

use super::App;
use super::response::error_response;
use crate::api::error::ApiError;
use crate::api::request::Query;
use crate::api::state::Scope;

const FOLLOW_POLL: Duration = Duration::from_millis(100);

pub async fn serve(
    app: &std::sync::Arc<App>,
    scope: &Scope,
    name: &str,
    query: &Query,
) -> Response {
    match open(app, scope, name, query).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

async fn open(
    app: &std::sync::Arc<App>,
    scope: &Scope,
    name: &str,
    query: &Query,
) -> Result<Response, ApiError> {
    let pod = scope.get(&app.cluster.lock(), name)?;
    let containers: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            pod["spec"]["initContainers"]
                .as_array()
                .into_iter()
                .flatten(),
        )
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let container = match query.get("container") {
        Some(c) if containers.iter().any(|known| known == c) => c.to_string(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
    };
    if query.flag("previous") {
        // The kubelet appends every run of a container to one file, so there is no earlier run's log to serve.
        tracing::warn!(
            pod = name,
            container,
            "kubectl logs --previous is not simulated"
        );
        return Err(ApiError::bad_request(format!(
            "previous terminated container \"{container}\" in pod \"{name}\" not found: kube-sim keeps one log per container (every run appended), so --previous is not served"
        )));
    }
    let namespace = scope.object_namespace().to_string();
    let path: PathBuf = app
        .log_dir
        .join(&namespace)
        .join(name)
        .join(format!("{container}.log"));
    let Ok(content) = tokio::fs::read(&path).await else {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
        )));
    };
    let mut text = content;
    if let Some(tail) = query.get("tailLines").and_then(|t| t.parse::<usize>().ok()) {
        text = tail_lines(&text, tail).to_vec();
    }
    if let Some(limit) = query
        .get("limitBytes")
        .and_then(|l| l.parse::<usize>().ok())
    {
        text.truncate(limit);
    }
    let builder = Response::builder()
        .status(200)
        .header("content-type", "text/plain");
    if !query.flag("follow") {
        return Ok(builder.body(Body::from(text)).expect("valid response"));
    }
    let offset = tokio::fs::metadata(&path)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let cluster = app.cluster.clone();
    let gr = scope.group_resource();
    let pod_name = name.to_string();
    let stream = futures::stream::unfold((Some(text), offset), move |(first, offset)| {
        let path = path.clone();
        let cluster = cluster.clone();
        let gr = gr.clone();
        let namespace = namespace.clone();
        let name = pod_name.clone();
        async move {
            if let Some(first) = first {
                return Some((
                    Ok::<_, std::io::Error>(bytes::Bytes::from(first)),
                    (None, offset),
                ));
            }
            loop {
                let mut file = tokio::fs::File::open(&path).await.ok()?;
                let length = file.metadata().await.ok()?.len();
                if length > offset {
                    use tokio::io::AsyncSeekExt;
                    file.seek(std::io::SeekFrom::Start(offset)).await.ok()?;
                    let mut chunk = Vec::new();
                    file.read_to_end(&mut chunk).await.ok()?;
                    let next = offset + chunk.len() as u64;
                    return Some((Ok(bytes::Bytes::from(chunk)), (None, next)));
                }
                let finished = {
                    let state = cluster.lock();
                    match state.store.get(&gr, &namespace, &name) {
                        None => true,
                        Some(pod) => matches!(
                            pod["status"]["phase"].as_str(),
                            Some("Succeeded" | "Failed")
                        ),
                    }
                };
                if finished {
                    return None;
                }
                tokio::time::sleep(FOLLOW_POLL).await;
            }
        }
    });
    Ok(builder
        .body(Body::from_stream(stream))
        .expect("valid response"))
}

fn tail_lines(text: &[u8], lines: usize) -> &[u8] {
    if lines == 0 {
        return &[];
    }
    let trimmed = text.strip_suffix(b"\n").unwrap_or(text);
    let mut seen = 0;
    for (i, byte) in trimmed.iter().enumerate().rev() {
        if *byte == b'\n' {
            seen += 1;
            if seen == lines {
                return &text[i + 1..];
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::tail_lines;

    #[test]
    fn tails_whole_lines() {
        assert_eq!(tail_lines(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(tail_lines(b"a\nb\nc", 1), b"c");
        assert_eq!(tail_lines(b"a\n", 5), b"a\n");
    }
}
