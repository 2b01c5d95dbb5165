//! A fake OpenBao node that claims to be the active leader but answers the snapshot request with an empty 200,
//! the way a standby has been seen to. No real node can be made to lie about being active, and the executor
//! always fetches from the address `sys/leader` names, so this stands in for the worst case.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub struct LyingNode {
    addr: String,
    paths: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LyingNode {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LyingNode {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let paths = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(serve(listener, addr.clone(), Arc::clone(&paths)));
        Self { addr, paths, task }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Request paths in arrival order.
    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }
}

async fn serve(listener: TcpListener, addr: String, paths: Arc<Mutex<Vec<String>>>) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let addr = addr.clone();
        let paths = Arc::clone(&paths);
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&head);
            let path = text
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .split('?')
                .next()
                .unwrap_or("")
                .to_owned();
            paths.lock().unwrap().push(path.clone());
            let response = match path.as_str() {
                "/v1/sys/leader" => json_response(&format!(
                    r#"{{"ha_enabled":true,"is_self":true,"leader_address":"{addr}"}}"#
                )),
                "/v1/sys/health" => json_response(
                    r#"{"initialized":true,"sealed":false,"standby":false,"version":"2.7.2","cluster_id":"lying"}"#,
                ),
                "/v1/sys/storage/raft/snapshot" => {
                    "HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\n\
                     Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"
                        .to_owned()
                }
                _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_owned(),
            };
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

fn json_response(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
