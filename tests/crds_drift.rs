//! `deploy/crds/crds.yaml` is what users apply; it must be exactly what the binary generates from the Rust types.

use std::path::Path;
use std::process::Command;

const REGENERATE: &str = "regenerate it with `cargo run -q -- crds > deploy/crds/crds.yaml`";

#[test]
fn checked_in_crds_match_the_generated_ones() {
    let output = Command::new(env!("CARGO_BIN_EXE_openbao-operator"))
        .arg("crds")
        .output()
        .expect("the openbao-operator binary runs");
    assert!(
        output.status.success(),
        "`openbao-operator crds` failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let generated = String::from_utf8(output.stdout).expect("generated CRDs are UTF-8");

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/crds/crds.yaml");
    let checked_in = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}; {REGENERATE}", path.display()));

    if generated != checked_in {
        let first_difference = generated
            .lines()
            .zip(checked_in.lines())
            .position(|(generated, checked_in)| generated != checked_in)
            .map_or_else(
                || {
                    format!(
                        "the files differ in length ({} vs {} lines)",
                        generated.lines().count(),
                        checked_in.lines().count()
                    )
                },
                |index| {
                    format!(
                        "first difference at line {}:\n  generated:  {}\n  checked in: {}",
                        index + 1,
                        generated.lines().nth(index).unwrap_or_default(),
                        checked_in.lines().nth(index).unwrap_or_default()
                    )
                },
            );
        panic!(
            "deploy/crds/crds.yaml is out of date with the API types; {REGENERATE}\n{first_difference}"
        );
    }
}

#[test]
fn crds_subcommand_writes_the_library_rendering() {
    let mut written = Vec::new();
    openbao_operator::crdgen::write_crds(&mut written).expect("writing to memory succeeds");
    let written = String::from_utf8(written).expect("the CRDs are UTF-8");
    assert_eq!(written, openbao_crds::crd_yaml());
    assert_eq!(
        written.matches("kind: CustomResourceDefinition").count(),
        2,
        "both CRDs are written"
    );
}
