//! kube errors sorted into what the effects distinguish. Messages keep the API server's text (which names objects,
//! never Secret contents), and the kube error stays attached as the source.

use std::sync::Arc;

use openbao_actors::effects::{EffectError, PersistError, SourceError};

#[derive(Debug, Clone)]
pub enum ApiFailure {
    NotFound,
    AlreadyExists,
    /// 409 on a write with a resourceVersion precondition.
    Conflict,
    Other(SourceError),
}

impl From<kube::Error> for ApiFailure {
    fn from(error: kube::Error) -> Self {
        match &error {
            kube::Error::Api(status) if status.is_already_exists() => Self::AlreadyExists,
            kube::Error::Api(status) if status.is_not_found() => Self::NotFound,
            kube::Error::Api(status) if status.is_conflict() => Self::Conflict,
            _ => Self::Other(Arc::new(error)),
        }
    }
}

impl ApiFailure {
    pub fn message(&self) -> String {
        match self {
            Self::NotFound => "not found".into(),
            Self::AlreadyExists => "already exists".into(),
            Self::Conflict => "the object changed meanwhile (409 Conflict)".into(),
            Self::Other(source) => source.to_string(),
        }
    }

    /// The effect error for a failed request about `context` (e.g. "cannot create Job ns/j").
    pub fn into_effect_error(self, context: impl Into<String>) -> EffectError {
        let context = context.into();
        match self {
            Self::NotFound => EffectError::NotFound(context),
            Self::Other(source) => EffectError::Api { context, source },
            other => EffectError::Api {
                context,
                source: openbao_actors::effects::source_from(other.message()),
            },
        }
    }

    pub fn into_persist_error(self, expected: &str) -> PersistError {
        match self {
            Self::NotFound => PersistError::NotFound,
            Self::Conflict => PersistError::Conflict {
                expected: expected.to_string(),
            },
            Self::Other(source) => PersistError::Api { source },
            Self::AlreadyExists => PersistError::Api {
                source: openbao_actors::effects::source_from(self.message()),
            },
        }
    }
}
