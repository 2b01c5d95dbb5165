#!/usr/bin/env python3
"""Writes kubernetes.binpb: a FileDescriptorSet of the Kubernetes API protobuf files the simulator decodes.

The descriptors come from the `k8s-rs-pb` crate (rust-protobuf code generated from the upstream `generated.proto`
files), which embeds each file's serialized FileDescriptorProto as a byte-string literal. Reading the literals
avoids compiling that large crate and needs no `protoc`.

    cargo info k8s-rs-pb   # downloads the crate into ~/.cargo/registry/src
    python3 tests/kube-sim/protobuf/extract_descriptors.py [path/to/k8s-rs-pb-X.Y.Z] [v1_33]
"""
import glob
import os
import re
import sys

# Files for the groups the simulator serves, plus what they import.
FILES = [
    "apimachinery/pkg/runtime/schema",
    "apimachinery/pkg/runtime",
    "apimachinery/pkg/util/intstr",
    "apimachinery/pkg/api/resource",
    "apimachinery/pkg/apis/meta/v1",
    "api/core/v1",
    "api/apps/v1",
    "api/batch/v1",
    "api/rbac/v1",
    "api/coordination/v1",
    "api/networking/v1",
    "api/events/v1",
    "api/authentication/v1",
    "api/authorization/v1",
    "api/autoscaling/v1",
    "api/policy/v1",
    "apiextensions_apiserver/pkg/apis/apiextensions/v1",
]

ESCAPES = {"n": 10, "r": 13, "t": 9, "\\": 92, "0": 0, "'": 39, '"': 34}


def rust_byte_string(text):
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "x":
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        elif nxt == "\n":
            # A line continuation: the newline and the next line's leading whitespace are not part of the string.
            i += 2
            while i < len(text) and text[i] in " \t\n":
                i += 1
        else:
            out.append(ESCAPES[nxt])
            i += 2
    return bytes(out)


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def main():
    crate = sys.argv[1] if len(sys.argv) > 1 else sorted(
        glob.glob(os.path.expanduser("~/.cargo/registry/src/*/k8s-rs-pb-*"))
    )[-1]
    version = sys.argv[2] if len(sys.argv) > 2 else "v1_33"
    pattern = re.compile(r'static file_descriptor_proto_data: &\'static \[u8\] = b"(.*?)";\n', re.S)
    out = bytearray()
    for name in FILES:
        source = open(os.path.join(crate, "src", version, name, "mod.rs"), encoding="utf-8").read()
        data = rust_byte_string(pattern.search(source).group(1))
        # FileDescriptorSet.file = 1 (length-delimited).
        out += b"\x0a" + varint(len(data)) + data
    target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kubernetes.binpb")
    with open(target, "wb") as f:
        f.write(out)
    print(f"{target}: {len(out)} bytes from {os.path.basename(crate)} {version}")


if __name__ == "__main__":
    main()
