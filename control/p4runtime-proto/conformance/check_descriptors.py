#!/usr/bin/env python3
"""Compare our P4Runtime descriptors with the official ones, field for field.

Usage: check_descriptors.py OUR_DESCRIPTOR_SET.bin [--expect-version 1.4.]

OUR_DESCRIPTOR_SET.bin is the encoded google.protobuf.FileDescriptorSet that the
`p4runtime-proto` crate was generated from (the crate exports it as FILE_DESCRIPTOR_SET; the
Rust test `conformance` writes it to a file and runs this script).

The reference is the generated Python code of PyPI's `p4runtime` package (p4.v1, p4.config.v1)
and `googleapis-common-protos` (google.rpc): each *_pb2 module embeds the serialized
FileDescriptorProto that protoc produced from the upstream .proto files.

Compared for every official file: package; every message (nested ones too) with every field's
name, number, type, label, type_name, oneof membership, proto3_optional and deprecated flag;
every oneof; every enum with every value name and number; every service method with its
input/output types and streaming flags. Messages, fields, enums and values present on one
side only are differences too. Exit status 1 and a list of differences on any mismatch.
"""

import argparse
import importlib
import importlib.metadata
import sys

from google.protobuf import descriptor_pb2

# The official modules, by the .proto file they were generated from.
OFFICIAL_MODULES = {
    "p4/v1/p4runtime.proto": "p4.v1.p4runtime_pb2",
    "p4/v1/p4data.proto": "p4.v1.p4data_pb2",
    "p4/config/v1/p4info.proto": "p4.config.v1.p4info_pb2",
    "p4/config/v1/p4types.proto": "p4.config.v1.p4types_pb2",
    "google/rpc/status.proto": "google.rpc.status_pb2",
    "google/rpc/code.proto": "google.rpc.code_pb2",
}

TYPE_NAMES = {
    v: k for k, v in descriptor_pb2.FieldDescriptorProto.Type.items()
}
LABEL_NAMES = {
    v: k for k, v in descriptor_pb2.FieldDescriptorProto.Label.items()
}


def official_file(module_name):
    module = importlib.import_module(module_name)
    fdp = descriptor_pb2.FileDescriptorProto()
    fdp.ParseFromString(module.DESCRIPTOR.serialized_pb)
    return fdp


def field_summary(msg, field):
    oneof = None
    # proto3 `optional` fields sit in a synthetic oneof; report them by the flag instead.
    if field.HasField("oneof_index") and not field.proto3_optional:
        oneof = msg.oneof_decl[field.oneof_index].name
    return {
        "name": field.name,
        "type": TYPE_NAMES[field.type],
        "label": LABEL_NAMES[field.label],
        "type_name": field.type_name.lstrip("."),
        "oneof": oneof,
        "proto3_optional": field.proto3_optional,
        "deprecated": field.options.deprecated,
    }


class Comparer:
    def __init__(self):
        self.differences = []
        self.counts = {"files": 0, "messages": 0, "fields": 0, "enums": 0,
                       "enum values": 0, "methods": 0}

    def diff(self, where, text):
        self.differences.append(f"{where}: {text}")

    def compare_enum(self, full, ours, theirs):
        self.counts["enums"] += 1
        ours_values = {v.name: v.number for v in ours.value}
        theirs_values = {v.name: v.number for v in theirs.value}
        for name, number in theirs_values.items():
            self.counts["enum values"] += 1
            if name not in ours_values:
                self.diff(full, f"enum value {name} = {number} missing")
            elif ours_values[name] != number:
                self.diff(full, f"enum value {name} is {ours_values[name]}, official {number}")
        for name in ours_values.keys() - theirs_values.keys():
            self.diff(full, f"enum value {name} is not in the official enum")

    def compare_enums(self, scope, ours_list, theirs_list):
        ours = {e.name: e for e in ours_list}
        theirs = {e.name: e for e in theirs_list}
        for name, enum in theirs.items():
            full = f"{scope}.{name}"
            if name not in ours:
                self.diff(full, "enum missing")
            else:
                self.compare_enum(full, ours[name], enum)
        for name in ours.keys() - theirs.keys():
            self.diff(f"{scope}.{name}", "enum is not in the official file")

    def compare_message(self, full, ours, theirs):
        self.counts["messages"] += 1
        if ours.options.map_entry != theirs.options.map_entry:
            self.diff(full, f"map_entry {ours.options.map_entry}, "
                            f"official {theirs.options.map_entry}")
        ours_fields = {f.number: field_summary(ours, f) for f in ours.field}
        theirs_fields = {f.number: field_summary(theirs, f) for f in theirs.field}
        for number, want in sorted(theirs_fields.items()):
            self.counts["fields"] += 1
            got = ours_fields.get(number)
            if got is None:
                self.diff(full, f"field {want['name']} = {number} missing")
                continue
            for key, value in want.items():
                if got[key] != value:
                    self.diff(f"{full}.{want['name']} (= {number})",
                              f"{key} is {got[key]!r}, official {value!r}")
        for number in sorted(ours_fields.keys() - theirs_fields.keys()):
            self.diff(full, f"field {ours_fields[number]['name']} = {number} "
                            "is not in the official message")

        ours_oneofs = [o.name for o in ours.oneof_decl
                       if not o.name.startswith("_")]
        theirs_oneofs = [o.name for o in theirs.oneof_decl
                         if not o.name.startswith("_")]
        if sorted(ours_oneofs) != sorted(theirs_oneofs):
            self.diff(full, f"oneofs {ours_oneofs}, official {theirs_oneofs}")

        self.compare_messages(full, ours.nested_type, theirs.nested_type)
        self.compare_enums(full, ours.enum_type, theirs.enum_type)

    def compare_messages(self, scope, ours_list, theirs_list):
        ours = {m.name: m for m in ours_list}
        theirs = {m.name: m for m in theirs_list}
        for name, msg in theirs.items():
            full = f"{scope}.{name}"
            if name not in ours:
                self.diff(full, "message missing")
            else:
                self.compare_message(full, ours[name], msg)
        for name in ours.keys() - theirs.keys():
            self.diff(f"{scope}.{name}", "message is not in the official file")

    def compare_services(self, package, ours_list, theirs_list):
        ours = {s.name: s for s in ours_list}
        theirs = {s.name: s for s in theirs_list}
        for name, service in theirs.items():
            full = f"{package}.{name}"
            if name not in ours:
                self.diff(full, "service missing")
                continue
            ours_methods = {m.name: m for m in ours[name].method}
            for method in service.method:
                self.counts["methods"] += 1
                got = ours_methods.get(method.name)
                if got is None:
                    self.diff(f"{full}.{method.name}", "method missing")
                    continue
                for key in ("input_type", "output_type", "client_streaming",
                            "server_streaming"):
                    a, b = getattr(got, key), getattr(method, key)
                    if isinstance(a, str):
                        a, b = a.lstrip("."), b.lstrip(".")
                    if a != b:
                        self.diff(f"{full}.{method.name}", f"{key} is {a!r}, official {b!r}")
            for name2 in ours_methods.keys() - {m.name for m in service.method}:
                self.diff(f"{full}.{name2}", "method is not in the official service")
        for name in ours.keys() - theirs.keys():
            self.diff(f"{package}.{name}", "service is not in the official file")

    def compare_file(self, ours, theirs):
        self.counts["files"] += 1
        where = theirs.name
        if ours.package != theirs.package:
            self.diff(where, f"package {ours.package!r}, official {theirs.package!r}")
        if ours.syntax != theirs.syntax:
            self.diff(where, f"syntax {ours.syntax!r}, official {theirs.syntax!r}")
        if sorted(ours.dependency) != sorted(theirs.dependency):
            self.diff(where, f"imports {sorted(ours.dependency)}, "
                             f"official {sorted(theirs.dependency)}")
        self.compare_messages(theirs.package, ours.message_type, theirs.message_type)
        self.compare_enums(theirs.package, ours.enum_type, theirs.enum_type)
        self.compare_services(theirs.package, ours.service, theirs.service)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("descriptor_set", help="our encoded FileDescriptorSet")
    parser.add_argument("--expect-version", default="1.4.",
                        help="required prefix of the installed p4runtime package version")
    args = parser.parse_args()

    version = importlib.metadata.version("p4runtime")
    if not version.startswith(args.expect_version):
        print(f"installed p4runtime is {version}, expected {args.expect_version}*: "
              "install the version p4runtime-shell pins", file=sys.stderr)
        return 2

    ours_set = descriptor_pb2.FileDescriptorSet()
    with open(args.descriptor_set, "rb") as f:
        ours_set.ParseFromString(f.read())
    ours_files = {f.name: f for f in ours_set.file}

    comparer = Comparer()
    for file_name, module_name in OFFICIAL_MODULES.items():
        theirs = official_file(module_name)
        if theirs.name != file_name:
            comparer.diff(file_name, f"official module {module_name} is {theirs.name}")
        if file_name not in ours_files:
            comparer.diff(file_name, "file missing from our descriptor set")
            continue
        comparer.compare_file(ours_files[file_name], theirs)
    expected_extra = {"google/protobuf/any.proto"}
    for name in sorted(ours_files.keys() - OFFICIAL_MODULES.keys() - expected_extra):
        comparer.diff(name, "file is not part of the official API")

    counts = ", ".join(f"{n} {k}" for k, n in comparer.counts.items())
    reference = (f"p4runtime {version}, googleapis-common-protos "
                 f"{importlib.metadata.version('googleapis-common-protos')}, "
                 f"protobuf {importlib.metadata.version('protobuf')}")
    if comparer.differences:
        print(f"{len(comparer.differences)} difference(s) from {reference}:")
        for line in comparer.differences:
            print(f"  {line}")
        print(f"(compared {counts})")
        return 1
    print(f"conformant with {reference}: compared {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
