//! `openbao-operator crds`: print the CustomResourceDefinitions users apply before the operator.

use std::io::Write;

/// Write both CRDs as multi-document YAML, byte-identical to `deploy/crds/crds.yaml`.
pub fn write_crds(out: &mut impl Write) -> std::io::Result<()> {
    out.write_all(openbao_crds::crd_yaml().as_bytes())?;
    out.flush()
}
