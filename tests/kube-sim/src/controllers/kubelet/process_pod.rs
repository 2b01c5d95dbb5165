//! A Pod whose first container runs as a local process: admit (bind, resolve the image), prepare (retrying while
//! referenced objects are missing), then supervise: start, restart per `restartPolicy`, stop on deletion or
//! `activeDeadlineSeconds`, and report every step in the Pod's status.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use tokio::sync::watch;
use tokio::time::Instant;

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
/// What a process killed without a reported status counts as (SIGKILL).
const KILLED: ExitOutcome = ExitOutcome {
    exit_code: 137,
    signal: Some(9),
};

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
    Exited {
        outcome: ExitOutcome,
        start_error: Option<String>,
    },
    Stopped(Stop, ExitOutcome),
    DeadlineExceeded(ExitOutcome),
}

/// The Pod's worker ends here: either the Pod reached a final phase, or it is being deleted (or gone).
enum Ended {
    Finished,
    Stopped(Stop),
}

struct ProcessPod {
    context: Arc<PodContext>,
    api: Api<Pod>,
    pod: Pod,
    updates: watch::Receiver<Pod>,
    writer: StatusWriter,
    view: PodView,
}

pub async fn run(context: Arc<PodContext>, updates: watch::Receiver<Pod>) {
    let pod = updates.borrow().clone();
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_string());
    let api = Api::<Pod>::namespaced(context.client.clone(), &namespace);
    if let Err(error) = bind(&api, &pod).await {
        tracing::debug!(%error, "binding the pod to the node failed");
    }
    let start_time = pod
        .status
        .as_ref()
        .and_then(|status| status.start_time.as_ref())
        .map(|time| time.0)
        .unwrap_or_else(now);
    let container = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.containers.first())
        .cloned();
    let view = PodView {
        phase: PodPhase::Pending,
        start_time,
        container: container.as_ref().map(|container| ContainerView {
            name: container.name.clone(),
            image: container.image.clone().unwrap_or_default(),
            state: waiting("ContainerCreating", None),
            last_termination: None,
            restart_count: 0,
            ready: false,
        }),
        reason: None,
    };
    let writer = StatusWriter::new(api.clone(), &pod);
    let mut worker = ProcessPod {
        context,
        api,
        pod,
        updates,
        writer,
        view,
    };

    let ended = match container {
        None => {
            worker
                .fail(("NoContainers", "the pod has no containers"))
                .await
        }
        Some(container) => worker.start(&container).await,
    };
    if let Ended::Stopped(stop) = ended {
        finish(&worker.api, &worker.pod, stop).await;
    }
}

impl ProcessPod {
    async fn start(&mut self, container: &Container) -> Ended {
        self.writer.report(&self.view).await;
        let image = container.image.clone().unwrap_or_default();
        let Some(executable) = self
            .context
            .config
            .images
            .resolve(&image)
            .map(Path::to_path_buf)
        else {
            // A real kubelet would keep retrying the pull; failing the Pod lets a Job fail fast instead of hanging.
            let message = format!(
                "image {image:?} is not mapped to a local executable in the simulator's image map"
            );
            self.view.phase = PodPhase::Failed;
            self.set_state(waiting("ErrImagePull", Some(message)), false);
            self.writer.report(&self.view).await;
            return Ended::Finished;
        };
        match self.prepare_with_retries(container, &executable).await {
            Ok(prepared) => self.supervise(&prepared).await,
            Err(stop) => Ended::Stopped(stop),
        }
    }

    async fn fail(&mut self, (reason, message): (&str, &str)) -> Ended {
        self.view.phase = PodPhase::Failed;
        self.view.reason = Some((reason.to_string(), message.to_string()));
        self.writer.report(&self.view).await;
        Ended::Finished
    }

    /// Missing Secrets or ConfigMaps keep the container waiting (with the reason in its status) until they appear.
    async fn prepare_with_retries(
        &mut self,
        container: &Container,
        executable: &Path,
    ) -> Result<PreparedContainer, Stop> {
        let mut delay = FIRST_RETRY_DELAY;
        loop {
            let context = &self.context;
            match prepare(
                &context.client,
                &context.config,
                &self.pod,
                container,
                executable,
            )
            .await
            {
                Ok(prepared) => return Ok(prepared),
                Err(error) => {
                    self.set_state(waiting(error.reason(), Some(error.to_string())), false);
                    self.writer.report(&self.view).await;
                    tokio::select! {
                        () = tokio::time::sleep(delay) => delay = (delay * 2).min(MAX_RETRY_DELAY),
                        stop = next_stop(&mut self.updates) => return Err(stop),
                    }
                }
            }
        }
    }

    async fn supervise(&mut self, prepared: &PreparedContainer) -> Ended {
        let deadline = self
            .pod
            .spec
            .as_ref()
            .and_then(|spec| spec.active_deadline_seconds)
            .map(|seconds| {
                let left = until(now(), seconds_after(self.view.start_time, seconds))
                    .unwrap_or(Duration::ZERO);
                Instant::now() + left
            });
        // A new Pod starts a new log even when a predecessor of the same name left one; restarts append to it.
        if let Err(error) = std::fs::write(&prepared.files.log_file, b"") {
            tracing::debug!(%error, "cannot reset the container log");
        }
        let restart_policy = RestartPolicy::of(&self.pod);
        let mut restart_delay = FIRST_RETRY_DELAY;

        loop {
            // A fresh, empty message file per run: a message from an earlier run must not leak into this one.
            if let Err(error) = std::fs::write(&prepared.files.termination_file, b"") {
                tracing::debug!(%error, "cannot reset the termination message file");
            }
            let started_at = now();
            let end = self.run_once(prepared, deadline, started_at).await;
            let finished_at = now();
            match end {
                RunEnd::Stopped(stop, outcome) => {
                    let termination = terminated(prepared, outcome, None, started_at, finished_at);
                    self.report_final(termination, phase_after(outcome)).await;
                    return Ended::Stopped(stop);
                }
                RunEnd::DeadlineExceeded(outcome) => {
                    let mut termination =
                        terminated(prepared, outcome, None, started_at, finished_at);
                    termination.reason = TerminationReason::DeadlineExceeded;
                    self.view.reason = Some((
                        "DeadlineExceeded".to_string(),
                        "Pod was active on the node longer than the specified deadline".to_string(),
                    ));
                    self.report_final(termination, PodPhase::Failed).await;
                    return Ended::Finished;
                }
                RunEnd::Exited {
                    outcome,
                    start_error,
                } => {
                    let termination =
                        terminated(prepared, outcome, start_error, started_at, finished_at);
                    if !restart_policy.restarts_after(outcome.exit_code) {
                        self.report_final(termination, phase_after(outcome)).await;
                        return Ended::Finished;
                    }
                    if let Some(container) = self.view.container.as_mut() {
                        container.last_termination = Some(termination);
                        container.restart_count += 1;
                    }
                    let message = format!("back-off {restart_delay:?} restarting failed container");
                    self.set_state(waiting("CrashLoopBackOff", Some(message)), false);
                    self.writer.report(&self.view).await;
                    tokio::select! {
                        () = tokio::time::sleep(restart_delay) => {
                            restart_delay = (restart_delay * 2).min(MAX_RETRY_DELAY);
                        }
                        stop = next_stop(&mut self.updates) => return Ended::Stopped(stop),
                    }
                }
            }
        }
    }

    async fn run_once(
        &mut self,
        prepared: &PreparedContainer,
        deadline: Option<Instant>,
        started_at: Timestamp,
    ) -> RunEnd {
        let spawned = RunningProcess::spawn(
            &prepared.line,
            &prepared.env,
            &prepared.working_dir,
            &prepared.files.log_file,
            &self.context.processes,
        );
        let mut process = match spawned {
            Ok(process) => process,
            Err(error) => {
                let start_error = Some(format!(
                    "failed to start {:?}: {error}",
                    prepared.line.program
                ));
                let outcome = ExitOutcome {
                    exit_code: START_ERROR_EXIT_CODE,
                    signal: None,
                };
                return RunEnd::Exited {
                    outcome,
                    start_error,
                };
            }
        };
        self.view.phase = PodPhase::Running;
        self.set_state(ContainerRunState::Running { started_at }, true);
        self.writer.report(&self.view).await;

        let grace = grace_period(&self.updates.borrow());
        let deadline_passed = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = process.wait() => RunEnd::Exited { outcome: result.unwrap_or(KILLED), start_error: None },
            stop = next_stop(&mut self.updates) => {
                let (Stop::Deleting { grace } | Stop::Gone { grace }) = stop;
                RunEnd::Stopped(stop, process.terminate(grace).await.unwrap_or(KILLED))
            }
            () = deadline_passed => RunEnd::DeadlineExceeded(process.terminate(grace).await.unwrap_or(KILLED)),
        }
    }

    /// The container will not run again.
    async fn report_final(&mut self, termination: Termination, phase: PodPhase) {
        self.view.phase = phase;
        self.set_state(ContainerRunState::Terminated(termination), false);
        self.writer.report(&self.view).await;
    }

    fn set_state(&mut self, state: ContainerRunState, ready: bool) {
        if let Some(container) = self.view.container.as_mut() {
            container.state = state;
            container.ready = ready;
        }
    }
}

fn phase_after(outcome: ExitOutcome) -> PodPhase {
    if outcome.exit_code == 0 {
        PodPhase::Succeeded
    } else {
        PodPhase::Failed
    }
}

fn terminated(
    prepared: &PreparedContainer,
    outcome: ExitOutcome,
    start_error: Option<String>,
    started_at: Timestamp,
    finished_at: Timestamp,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policy_decides_which_exits_restart() {
        assert!(RestartPolicy::Always.restarts_after(0));
        assert!(RestartPolicy::OnFailure.restarts_after(1));
        assert!(!RestartPolicy::OnFailure.restarts_after(0));
        assert!(!RestartPolicy::Never.restarts_after(1));
        let pod: Pod =
            serde_json::from_value(serde_json::json!({"spec": {"containers": []}})).unwrap();
        assert_eq!(
            RestartPolicy::of(&pod),
            RestartPolicy::Always,
            "the Pod default"
        );
    }
}
