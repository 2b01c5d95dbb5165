//! Regular expressions the CRD schema enforces on string fields.
//!
//! The API server evaluates them with Go's RE2 syntax, so no look-around or back-references.

/// A Kubernetes DNS-1123 subdomain (Secret names, object names).
pub const DNS_SUBDOMAIN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// A Kubernetes DNS-1123 label (StatefulSet and container names).
pub const DNS_LABEL: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// A key inside a Secret's `data`.
pub const SECRET_KEY: &str = r"^[-._a-zA-Z0-9]+$";

/// An OpenBao release, optionally with a leading `v` and a pre-release or build suffix.
pub const VERSION: &str = r"^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$";

/// An `http://` or `https://` URL without whitespace.
pub const HTTP_URL: &str = r"^https?://[^\s/]+(/\S*)?$";

/// A bucket or container name: lowercase letters, digits, `.`, `_` and `-`, starting and ending with a letter or digit.
/// Covers S3, GCS and Azure naming rules; each provider narrows it further.
pub const BUCKET: &str = r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$";

/// Object-key segments separated by single `/`, with no leading or trailing `/`; no segment starts with `.`, so
/// none is `.` or `..`.
pub const PATH_SEGMENTS: &str = r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$";

/// A retention age: whole numbers with units `w`, `d`, `h`, `m`, `s`, largest first, each at most once, e.g. `30d`,
/// `12h`, `1d12h`. The operator's duration parser accepts the same language and also refuses zero.
pub const MAX_AGE: &str = r"^([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$";

/// An object key of a snapshot: relative (no leading `/`) and ending in `.snap`.
pub const SNAPSHOT_KEY: &str = r"^[^/\s][^\s]*\.snap$";

/// An Azure storage account name.
pub const AZURE_STORAGE_ACCOUNT: &str = r"^[a-z0-9]{3,24}$";

/// An AWS region name, e.g. `eu-west-1`, or a custom region of an S3-compatible store.
pub const S3_REGION: &str = r"^[a-z0-9][a-z0-9-]*$";

/// An AWS IAM role ARN.
pub const ROLE_ARN: &str = r"^arn:[a-z0-9-]+:iam::[0-9]{12}:role/\S+$";

/// An OpenBao role name as used in `auth/<mount>/login`.
pub const OPENBAO_ROLE: &str = r"^[A-Za-z0-9._-]+$";
