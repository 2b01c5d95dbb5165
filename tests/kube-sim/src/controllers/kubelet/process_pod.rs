//! A Pod whose first container runs as a local process: prepare, start, watch, restart per `restartPolicy`,
//! stop on deletion or `activeDeadlineSeconds`, and report every step in the Pod's status.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use tokio::sync::watch;

use super::PodContext;
use super::lifecycle::{Stop, bind, finish, grace_period, next_stop};
use super::pod_status::{
    ContainerRunState, ContainerView, PodView, Termination, TerminationReason,
};
use super::prepare::{PreparedContainer, prepare};
use super::process::{ExitOutcome, RunningProcess};
use super::status_writer::StatusWriter;
use super::termination::termination_message;
use crate::controllers::object_time::{now, seconds_after, until};
use crate::controllers::pod_facts::PodPhase;

const FIRST_RETRY_DELAY: Duration = Duration::from_millis(200);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// Enough log to find the last 80 lines within 2048 bytes.
const LOG_TAIL_BYTES: u64 = 8192;
/// Exit code of a container whose executable could not be started.
const START_ERROR_EXIT_CODE: i32 = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    fn of(pod: &Pod) -> Self {
        match pod
            .spec
            .as_ref()
            .and_then(|spec| spec.restart_policy.as_deref())
        {
            Some("Never") => Self::Never,
            Some("OnFailure") => Self::OnFailure,
            _ => Self::Always,
        }
    }

    fn restarts_after(self, exit_code: i32) -> bool {
        match self {
            Self::Always => true,
            Self::OnFailure => exit_code != 0,
            Self::Never => false,
        }
    }
}

/// How one run of the process ended.
enum RunEnd {
    Exited(ExitOutcome, Option<String>),
    Stopped(Stop, ExitOutcome),
    DeadlineExceeded(ExitOutcome),
}

pub async fn run(context: Arc<PodContext>, mut updates: watch::Receiver<Pod>) {
    let pod = updates.borrow().clone();
    let api = Api::<Pod>::namespaced(
        context.client.clone(),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
    );
    if let Err(error) = bind(&api, &pod).await {
        tracing::debug!(%error, "binding the pod to the node failed");
    }
    let mut writer = StatusWriter::new(api.clone(), &pod);
    let start_time = pod
        .status
        .as_ref()
        .and_then(|status| status.start_time.as_ref())
        .map(|time| time.0)
        .unwrap_or_else(now);
    let Some(container) = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.containers.first())
        .cloned()
    else {
        let view = PodView {
            phase: PodPhase::Failed,
            start_time,
            container: None,
            reason: Some(("NoContainers".into(), "the pod has no containers".into())),
        };
        writer.report(&view).await;
        return;
    };
    let image = container.image.clone().unwrap_or_default();
    let mut view = PodView {
        phase: PodPhase::Pending,
        start_time,
        container: Some(ContainerView {
            name: container.name.clone(),
            image: image.clone(),
            state: waiting("ContainerCreating", None),
            last_termination: None,
            restart_count: 0,
            ready: false,
        }),
        reason: None,
    };
    writer.report(&view).await;

    let Some(executable) = context.config.images.resolve(&image).map(Path::to_path_buf) else {
        // A real kubelet would keep retrying the pull; failing the Pod lets a Job fail fast instead of hanging.
        let message = format!(
            "image {image:?} is not mapped to a local executable in the simulator's image map"
        );
        view.phase = PodPhase::Failed;
        set_state(&mut view, waiting("ErrImagePull", Some(message)), false);
        writer.report(&view).await;
        return;
    };

    let mut delay = FIRST_RETRY_DELAY;
    let prepared = loop {
        match prepare(
            &context.client,
            &context.config,
            &pod,
            &container,
            &executable,
        )
        .await
        {
            Ok(prepared) => break prepared,
            Err(error) => {
                set_state(
                    &mut view,
                    waiting(error.reason(), Some(error.to_string())),
                    false,
                );
                writer.report(&view).await;
                tokio::select! {
                    () = tokio::time::sleep(delay) => delay = (delay * 2).min(MAX_RETRY_DELAY),
                    stop = next_stop(&mut updates) => return finish(&api, &pod, stop).await,
                }
            }
        }
    };

    let deadline = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.active_deadline_seconds)
        .map(|seconds| until(now(), seconds_after(start_time, seconds)).unwrap_or(Duration::ZERO));
    let deadline = deadline.map(|left| tokio::time::Instant::now() + left);
    // A new Pod starts a new log even when a predecessor of the same name left one; restarts append to it.
    if let Err(error) = std::fs::write(&prepared.files.log_file, b"") {
        tracing::debug!(%error, "cannot reset the container log");
    }
    let restart_policy = RestartPolicy::of(&pod);
    let mut restart_delay = FIRST_RETRY_DELAY;

    loop {
        // A fresh, empty message file per run: a message from an earlier run must not leak into this one.
        if let Err(error) = std::fs::write(&prepared.files.termination_file, b"") {
            tracing::debug!(%error, "cannot reset the termination message file");
        }
        let started_at = now();
        let end = run_once(
            &context,
            &prepared,
            &mut view,
            &mut writer,
            &mut updates,
            deadline,
            started_at,
        )
        .await;
        let finished_at = now();
        match end {
            RunEnd::Stopped(stop, outcome) => {
                let termination = terminated(&prepared, outcome, None, started_at, finished_at);
                view.phase = if outcome.exit_code == 0 {
                    PodPhase::Succeeded
                } else {
                    PodPhase::Failed
                };
                set_state(&mut view, ContainerRunState::Terminated(termination), false);
                writer.report(&view).await;
                return finish(&api, &pod, stop).await;
            }
            RunEnd::DeadlineExceeded(outcome) => {
                let mut termination = terminated(&prepared, outcome, None, started_at, finished_at);
                termination.reason = TerminationReason::DeadlineExceeded;
                view.phase = PodPhase::Failed;
                view.reason = Some((
                    "DeadlineExceeded".to_string(),
                    "Pod was active on the node longer than the specified deadline".to_string(),
                ));
                set_state(&mut view, ContainerRunState::Terminated(termination), false);
                writer.report(&view).await;
                return;
            }
            RunEnd::Exited(outcome, start_error) => {
                let termination =
                    terminated(&prepared, outcome, start_error, started_at, finished_at);
                if !restart_policy.restarts_after(outcome.exit_code) {
                    view.phase = if outcome.exit_code == 0 {
                        PodPhase::Succeeded
                    } else {
                        PodPhase::Failed
                    };
                    set_state(&mut view, ContainerRunState::Terminated(termination), false);
                    writer.report(&view).await;
                    return;
                }
                if let Some(container) = view.container.as_mut() {
                    container.last_termination = Some(termination);
                    container.restart_count += 1;
                }
                let message = format!("back-off {restart_delay:?} restarting failed container");
                set_state(&mut view, waiting("CrashLoopBackOff", Some(message)), false);
                writer.report(&view).await;
                tokio::select! {
                    () = tokio::time::sleep(restart_delay) => restart_delay = (restart_delay * 2).min(MAX_RETRY_DELAY),
                    stop = next_stop(&mut updates) => return finish(&api, &pod, stop).await,
                }
            }
        }
    }
}

async fn run_once(
    context: &PodContext,
    prepared: &PreparedContainer,
    view: &mut PodView,
    writer: &mut StatusWriter,
    updates: &mut watch::Receiver<Pod>,
    deadline: Option<tokio::time::Instant>,
    started_at: k8s_openapi::jiff::Timestamp,
) -> RunEnd {
    let spawned = RunningProcess::spawn(
        &prepared.line,
        &prepared.env,
        &prepared.working_dir,
        &prepared.files.log_file,
        &context.processes,
    );
    let mut process = match spawned {
        Ok(process) => process,
        Err(error) => {
            let message = format!("failed to start {:?}: {error}", prepared.line.program);
            let outcome = ExitOutcome {
                exit_code: START_ERROR_EXIT_CODE,
                signal: None,
            };
            return RunEnd::Exited(outcome, Some(message));
        }
    };
    view.phase = PodPhase::Running;
    set_state(view, ContainerRunState::Running { started_at }, true);
    writer.report(view).await;

    let grace = grace_period(&updates.borrow());
    let deadline_passed = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        result = process.wait() => RunEnd::Exited(result.unwrap_or(ExitOutcome { exit_code: 255, signal: None }), None),
        stop = next_stop(updates) => {
            let grace = match stop { Stop::Deleting { grace } | Stop::Gone { grace } => grace };
            RunEnd::Stopped(stop, terminate(&mut process, grace).await)
        }
        () = deadline_passed => RunEnd::DeadlineExceeded(terminate(&mut process, grace).await),
    }
}

async fn terminate(process: &mut RunningProcess, grace: Duration) -> ExitOutcome {
    process.terminate(grace).await.unwrap_or(ExitOutcome {
        exit_code: 137,
        signal: Some(9),
    })
}

fn terminated(
    prepared: &PreparedContainer,
    outcome: ExitOutcome,
    start_error: Option<String>,
    started_at: k8s_openapi::jiff::Timestamp,
    finished_at: k8s_openapi::jiff::Timestamp,
) -> Termination {
    let (reason, message) = match start_error {
        Some(message) => (TerminationReason::StartError, Some(message)),
        None => {
            let file = std::fs::read(&prepared.files.termination_file).unwrap_or_default();
            let log = read_tail(&prepared.files.log_file, LOG_TAIL_BYTES);
            let message =
                termination_message(prepared.message_policy, &file, outcome.exit_code, &log);
            (TerminationReason::for_exit_code(outcome.exit_code), message)
        }
    };
    Termination {
        exit_code: outcome.exit_code,
        signal: outcome.signal,
        reason,
        message,
        started_at,
        finished_at,
    }
}

fn read_tail(path: &Path, bytes: u64) -> Vec<u8> {
    let read = || -> std::io::Result<Vec<u8>> {
        let mut file = std::fs::File::open(path)?;
        let length = file.metadata()?.len();
        file.seek(SeekFrom::Start(length.saturating_sub(bytes)))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)?;
        Ok(tail)
    };
    read().unwrap_or_default()
}

fn waiting(reason: &str, message: Option<String>) -> ContainerRunState {
    ContainerRunState::Waiting {
        reason: reason.to_string(),
        message,
    }
}

fn set_state(view: &mut PodView, state: ContainerRunState, ready: bool) {
    if let Some(container) = view.container.as_mut() {
        container.state = state;
        container.ready = ready;
    }
}
