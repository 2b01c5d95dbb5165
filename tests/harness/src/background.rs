//! In-process HTTP servers (S3, the OpenBao proxy) on their own thread and Tokio runtime, so they keep
//! serving whatever the test's runtime does, and `stop()` ends them at once: the listener closes (new
//! connections are refused) and every open connection is dropped mid-request.

use std::error::Error as StdError;
use std::net::{Ipv4Addr, SocketAddr};
use std::thread::JoinHandle;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

type BoxError = Box<dyn StdError + Send + Sync>;

#[derive(Debug)]
pub struct BackgroundServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl BackgroundServer {
    /// Binds 127.0.0.1 on a free port and serves `service` until [`BackgroundServer::stop`] or drop.
    pub fn start<S, B>(name: &str, service: S) -> std::io::Result<Self>
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let listener = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("{name}-server"))
            .enable_all()
            .build()?;
        let (shutdown, shutdown_requested) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("{name}-server"))
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => {
                            tokio::select! {
                                () = accept_loop(listener, service) => {}
                                _ = shutdown_requested => {}
                            }
                        }
                        Err(err) => eprintln!("in-process server cannot use its listener: {err}"),
                    }
                });
                // Dropping the accept loop closed the listener and aborted every connection task; this only
                // waits for blocking file I/O still in flight.
                runtime.shutdown_timeout(Duration::from_secs(5));
            })?;
        Ok(Self {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn is_running(&self) -> bool {
        self.shutdown.is_some()
    }

    /// Stops serving: afterwards the port refuses connections and open requests have failed.
    pub fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop<S, B>(listener: tokio::net::TcpListener, service: S)
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let builder = ConnBuilder::new(TokioExecutor::new());
    // Owned here so that dropping this future (stop) aborts every connection with it.
    let mut connections = JoinSet::new();
    loop {
        let socket = match listener.accept().await {
            Ok((socket, _)) => socket,
            Err(_) => continue,
        };
        let builder = builder.clone();
        let service = service.clone();
        connections.spawn(async move {
            let _ = builder
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}
