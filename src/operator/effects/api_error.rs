//! kube errors sorted into what the effects distinguish. Messages keep the API server's text (which names objects,
//! never Secret contents).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiFailure {
    NotFound,
    AlreadyExists,
    /// 409 on a write with a resourceVersion precondition.
    Conflict,
    Other(String),
}

impl From<kube::Error> for ApiFailure {
    fn from(error: kube::Error) -> Self {
        match &error {
            kube::Error::Api(status) if status.is_already_exists() => Self::AlreadyExists,
            kube::Error::Api(status) if status.is_not_found() => Self::NotFound,
            kube::Error::Api(status) if status.is_conflict() => Self::Conflict,
            _ => Self::Other(error.to_string()),
        }
    }
}

impl ApiFailure {
    pub fn message(&self) -> String {
        match self {
            Self::NotFound => "not found".into(),
            Self::AlreadyExists => "already exists".into(),
            Self::Conflict => "the object changed meanwhile (409 Conflict)".into(),
            Self::Other(message) => message.clone(),
        }
    }
}
