//! `kube-sim`: runs the simulator (and the workload controllers) and writes a kubeconfig for it.

use std::path::PathBuf;

use clap::Parser;
use kube_sim::Sim;
use kube_sim::controllers::ControllersConfig;

#[derive(Parser)]
#[command(about = "Kubernetes API simulator on 127.0.0.1 for end-to-end tests")]
struct Args {
    /// Where to write a kubeconfig (admin token) for kubectl and clients.
    #[arg(long)]
    kubeconfig_out: PathBuf,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// `image=executable`: run containers of this image (or image prefix) as that local program.
    #[arg(long = "image", value_parser = parse_image)]
    images: Vec<(String, PathBuf)>,
    /// Directory for Pod working directories and container logs (a temporary one if unset).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// `iss` claim of ServiceAccount tokens.
    #[arg(long, default_value = kube_sim::sim::DEFAULT_ISSUER)]
    issuer: String,
    /// How many requests `GET /sim/requests` keeps (the newest).
    #[arg(long, default_value_t = kube_sim::requests::DEFAULT_LIMIT)]
    request_log_limit: usize,
    /// Record reads (get, list, watch) in the request log too, not only writes.
    #[arg(long)]
    record_reads: bool,
}

fn parse_image(value: &str) -> Result<(String, PathBuf), String> {
    let (image, executable) = value.split_once('=').ok_or("expected image=executable")?;
    Ok((image.to_string(), PathBuf::from(executable)))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let (work_dir, _guard) = match args.work_dir {
        Some(dir) => (dir, None),
        None => {
            let dir = tempfile::Builder::new().prefix("kube-sim").tempdir()?;
            (dir.path().to_path_buf(), Some(dir))
        }
    };
    let mut config = ControllersConfig::new(work_dir.join("pods"), work_dir.join("logs"));
    for (image, executable) in args.images {
        config = config.image(image, executable);
    }
    let sim = Sim::builder()
        .port(args.port)
        .issuer(args.issuer)
        .request_log_limit(args.request_log_limit)
        .record_reads(args.record_reads)
        .controllers(config)
        .start()
        .await?;
    sim.write_kubeconfig(&args.kubeconfig_out)?;
    println!(
        "kube-sim listening on {}; kubeconfig written to {}",
        sim.url(),
        args.kubeconfig_out.display()
    );
    tokio::signal::ctrl_c().await?;
    drop(sim);
    Ok(())
}
