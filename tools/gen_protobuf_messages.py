#!/usr/bin/env python3
"""Generate kubelite/api/protobuf_messages.json: the Kubernetes protobuf message tables.

Source of the wire facts: the `generated.proto` file descriptors that gogo-protobuf compiles into
every Go client. Each Go binary carries them as gzipped `FileDescriptorProto`s (registered with
`proto.RegisterFile`); a small descriptor.proto reader below turns them into the table. Unlike the
committed `generated.proto` texts, these descriptors still carry the gogoproto options, in
particular `(gogoproto.nullable) = false` on non-pointer Go fields, which decides whether a zero
scalar on the wire is meaningful (pointer) or JSON `omitempty` noise. The field numbers and names
are the same as in the .proto texts.

    python tools/gen_protobuf_messages.py [--binary PATH ...] [--out FILE] [--check-openapi]

Files are taken from the first binary that has them (defaults: kubectl 1.33.1 for k8s.io/api and
apimachinery, then anthoscli for apiextensions-apiserver, which kubectl does not link; the few
apiextensions fields newer than that build are in SUPPLEMENT). The kubernetes-validate v1.33
OpenAPI definitions add one fact the descriptors lack: which non-pointer fields have no
`omitempty` (see mark_required). `--check-openapi` compares the JSON field names with those
definitions and reports differences (used to review the INLINE and RENAMED tables below).

This script must not be imported by kubelite; it only writes the JSON table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "kubelite" / "api" / "protobuf_messages.json"
SDK_BIN = Path("/usr/lib/google-cloud-sdk/bin")
DEFAULT_BINARIES = [SDK_BIN / "kubectl.1.33", SDK_BIN / "anthoscli"]

# proto file (without the vendor prefix) -> the apiVersion its kinds are served under.
FILES: dict[str, str] = {
    "k8s.io/api/core/v1/generated.proto": "v1",
    "k8s.io/api/apps/v1/generated.proto": "apps/v1",
    "k8s.io/api/batch/v1/generated.proto": "batch/v1",
    "k8s.io/api/autoscaling/v1/generated.proto": "autoscaling/v1",
    "k8s.io/api/autoscaling/v2/generated.proto": "autoscaling/v2",
    "k8s.io/api/networking/v1/generated.proto": "networking.k8s.io/v1",
    "k8s.io/api/rbac/v1/generated.proto": "rbac.authorization.k8s.io/v1",
    "k8s.io/api/policy/v1/generated.proto": "policy/v1",
    "k8s.io/api/scheduling/v1/generated.proto": "scheduling.k8s.io/v1",
    "k8s.io/api/storage/v1/generated.proto": "storage.k8s.io/v1",
    "k8s.io/api/coordination/v1/generated.proto": "coordination.k8s.io/v1",
    "k8s.io/api/discovery/v1/generated.proto": "discovery.k8s.io/v1",
    "k8s.io/api/events/v1/generated.proto": "events.k8s.io/v1",
    "k8s.io/api/authentication/v1/generated.proto": "authentication.k8s.io/v1",
    "k8s.io/api/authorization/v1/generated.proto": "authorization.k8s.io/v1",
    "k8s.io/api/admissionregistration/v1/generated.proto": "admissionregistration.k8s.io/v1",
    "k8s.io/api/certificates/v1/generated.proto": "certificates.k8s.io/v1",
    "k8s.io/api/node/v1/generated.proto": "node.k8s.io/v1",
    "k8s.io/api/flowcontrol/v1/generated.proto": "flowcontrol.apiserver.k8s.io/v1",
    "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1/generated.proto": "apiextensions.k8s.io/v1",
    "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto": "meta.k8s.io/v1",
    "k8s.io/apimachinery/pkg/runtime/generated.proto": "",
    "k8s.io/apimachinery/pkg/runtime/schema/generated.proto": "",
    "k8s.io/apimachinery/pkg/util/intstr/generated.proto": "",
    "k8s.io/apimachinery/pkg/api/resource/generated.proto": "",
}
VENDOR_PREFIX = "k8s.io/kubernetes/vendor/"
META = "k8s.io.apimachinery.pkg.apis.meta.v1"

# Kinds of meta/v1 that every group version also accepts (metav1.AddToGroupVersion, plus Status).
META_KINDS = ["DeleteOptions", "CreateOptions", "UpdateOptions", "PatchOptions", "ListOptions",
              "GetOptions", "WatchEvent", "Status"]

# Top-level messages with a `metadata` field that are not kinds.
NOT_KINDS = {"PodTemplateSpec", "PersistentVolumeClaimTemplate", "JobTemplateSpec"}

# Messages whose JSON form is not a plain object of their fields.
SPECIAL: dict[str, str] = {
    f"{META}.Time": "time",
    f"{META}.MicroTime": "microtime",
    f"{META}.Duration": "duration",
    f"{META}.FieldsV1": "rawjson",
    f"{META}.Verbs": "items",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "rawjson",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "intorstring",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "quantity",
    "k8s.io.api.authentication.v1.ExtraValue": "items",
    "k8s.io.api.authorization.v1.ExtraValue": "items",
    "k8s.io.api.certificates.v1.ExtraValue": "items",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON": "rawjson",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray": "schema_or_array",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool": "schema_or_bool",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray": "schema_or_strings",
}

# Go fields embedded with `json:",inline"`: on the wire a nested message, in JSON merged into the parent.
INLINE: set[tuple[str, str]] = {
    ("k8s.io.api.core.v1.Probe", "handler"),
    ("k8s.io.api.core.v1.Volume", "volumeSource"),
    ("k8s.io.api.core.v1.PersistentVolumeSpec", "persistentVolumeSource"),
    ("k8s.io.api.core.v1.EphemeralContainer", "ephemeralContainerCommon"),
    ("k8s.io.api.core.v1.ConfigMapEnvSource", "localObjectReference"),
    ("k8s.io.api.core.v1.ConfigMapKeySelector", "localObjectReference"),
    ("k8s.io.api.core.v1.ConfigMapProjection", "localObjectReference"),
    ("k8s.io.api.core.v1.ConfigMapVolumeSource", "localObjectReference"),
    ("k8s.io.api.core.v1.SecretEnvSource", "localObjectReference"),
    ("k8s.io.api.core.v1.SecretKeySelector", "localObjectReference"),
    ("k8s.io.api.core.v1.SecretProjection", "localObjectReference"),
    ("k8s.io.api.networking.v1.IngressRule", "ingressRuleValue"),
    ("k8s.io.api.admissionregistration.v1.RuleWithOperations", "rule"),
    ("k8s.io.api.admissionregistration.v1.NamedRuleWithOperations", "ruleWithOperations"),
}

# Proto field names that differ from the JSON names.
_SCHEMA_PROPS = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"
_ADMISSION = "k8s.io.api.admissionregistration.v1"
RENAMED: dict[tuple[str, str], str] = {
    (f"{_ADMISSION}.MutatingWebhookConfiguration", "Webhooks"): "webhooks",
    (f"{_ADMISSION}.ValidatingWebhookConfiguration", "Webhooks"): "webhooks",
    (f"{_ADMISSION}.Validation", "Expression"): "expression",
    (f"{_ADMISSION}.Variable", "Expression"): "expression",
    (f"{_ADMISSION}.Variable", "Name"): "name",
    ("k8s.io.api.authentication.v1.BoundObjectReference", "uID"): "uid",
    ("k8s.io.api.networking.v1.IngressClassParametersReference", "aPIGroup"): "apiGroup",
    (_SCHEMA_PROPS, "ref"): "$ref",
    (_SCHEMA_PROPS, "schema"): "$schema",
    (_SCHEMA_PROPS, "xKubernetesPreserveUnknownFields"): "x-kubernetes-preserve-unknown-fields",
    (_SCHEMA_PROPS, "xKubernetesEmbeddedResource"): "x-kubernetes-embedded-resource",
    (_SCHEMA_PROPS, "xKubernetesIntOrString"): "x-kubernetes-int-or-string",
    (_SCHEMA_PROPS, "xKubernetesListMapKeys"): "x-kubernetes-list-map-keys",
    (_SCHEMA_PROPS, "xKubernetesListType"): "x-kubernetes-list-type",
    (_SCHEMA_PROPS, "xKubernetesMapType"): "x-kubernetes-map-type",
    (_SCHEMA_PROPS, "xKubernetesValidations"): "x-kubernetes-validations",
}

# Fields newer than the newest descriptor available on this machine (anthoscli links an older
# apiextensions-apiserver). Wire facts from upstream types.go / KEP-4358:
# ValidationRule gained messageExpression (1.27), reason and fieldPath (1.28), optionalOldSelf (1.30);
# CustomResourceDefinitionVersion gained selectableFields (1.30).
_CRD = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1"
SUPPLEMENT: dict[str, list[dict[str, Any]]] = {
    f"{_CRD}.ValidationRule": [
        {"name": "messageExpression", "number": 3, "label": 1, "type": 9, "type_name": "", "nullable": False},
        {"name": "reason", "number": 4, "label": 1, "type": 9, "type_name": "", "nullable": True},
        {"name": "fieldPath", "number": 5, "label": 1, "type": 9, "type_name": "", "nullable": False},
        {"name": "optionalOldSelf", "number": 6, "label": 1, "type": 8, "type_name": "", "nullable": True},
    ],
    f"{_CRD}.CustomResourceDefinitionVersion": [
        {"name": "selectableFields", "number": 9, "label": 3, "type": 11,
         "type_name": f"{_CRD}.SelectableField", "nullable": False},
    ],
    f"{_CRD}.SelectableField": [
        {"name": "jsonPath", "number": 1, "label": 1, "type": 9, "type_name": "", "nullable": False},
    ],
}

# FieldDescriptorProto.Type numbers -> names used in the table.
SCALAR_TYPES = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 8: "bool", 9: "string",
                12: "bytes", 13: "uint32"}
TYPE_MESSAGE = 11
TYPE_BYTES = 12
LABEL_REPEATED = 3
GOGO_NULLABLE = 65001


# --- a minimal protobuf wire reader, enough for descriptor.proto ------------------------------------

def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, Any]]:
    """(field number, value) pairs; length-delimited values are bytes, varints are ints."""
    out: list[tuple[int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.append((number, value))
    return out


def _field_descriptor(buf: bytes) -> dict[str, Any]:
    field: dict[str, Any] = {"nullable": True, "type_name": ""}
    for number, value in _fields(buf):
        if number == 1:
            field["name"] = value.decode()
        elif number == 3:
            field["number"] = value
        elif number == 4:
            field["label"] = value
        elif number == 5:
            field["type"] = value
        elif number == 6:
            field["type_name"] = value.decode().lstrip(".")
        elif number == 8:
            for opt, optval in _fields(value):
                if opt == GOGO_NULLABLE:
                    field["nullable"] = bool(optval)
    return field


def _message_descriptor(buf: bytes, prefix: str, into: dict[str, dict[str, Any]]) -> None:
    name = ""
    fields: list[dict[str, Any]] = []
    nested: list[bytes] = []
    map_entry = False
    for number, value in _fields(buf):
        if number == 1:
            name = value.decode()
        elif number == 2:
            fields.append(_field_descriptor(value))
        elif number == 3:
            nested.append(value)
        elif number == 4:
            raise ValueError(f"enum in {prefix}.{name}: not expected in Kubernetes protos")
        elif number == 7:
            map_entry = any(opt == 7 and optval for opt, optval in _fields(value))
    full = f"{prefix}.{name}"
    into[full] = {"fields": fields, "map_entry": map_entry}
    for sub in nested:
        _message_descriptor(sub, full, into)


def file_descriptor(buf: bytes) -> tuple[str, str, dict[str, dict[str, Any]]]:
    name = package = ""
    raw_messages: list[bytes] = []
    for number, value in _fields(buf):
        if number == 1:
            name = value.decode()
        elif number == 2:
            package = value.decode()
        elif number == 4:
            raw_messages.append(value)
    messages: dict[str, dict[str, Any]] = {}
    for raw in raw_messages:
        _message_descriptor(raw, package, messages)
    return name, package, messages


GZIP_MAGIC = b"\x1f\x8b\x08\x00\x00\x00\x00\x00"
DESCRIPTOR_NAME = re.compile(rb"\n.([\w./-]+/generated\.proto)\x12", re.S)


def descriptors_in(binary: Path) -> dict[str, bytes]:
    """The gzipped FileDescriptorProtos of generated.proto files found in a Go binary."""
    data = binary.read_bytes()
    found: dict[str, bytes] = {}
    pos = data.find(GZIP_MAGIC)
    while pos != -1:
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[pos:pos + 4_000_000])
        except zlib.error:
            raw = b""
        match = DESCRIPTOR_NAME.match(raw[:300])
        if match:
            found.setdefault(match.group(1).decode().removeprefix(VENDOR_PREFIX), raw)
        pos = data.find(GZIP_MAGIC, pos + 1)
    return found


def binary_version(binary: Path) -> str:
    """`kubectl version --client` for kubectl binaries, else the start of the file's sha256."""
    digest = hashlib.sha256(binary.read_bytes()).hexdigest()[:12]
    if not binary.name.startswith("kubectl"):
        return f"sha256 {digest}"
    try:
        out = subprocess.run([str(binary), "version", "--client"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return f"sha256 {digest}"
    first = out.stdout.strip().splitlines()
    return first[0] if out.returncode == 0 and first else f"sha256 {digest}"


# --- building the table -----------------------------------------------------------------------------

def short(name: str) -> str:
    return name.removeprefix("k8s.io.")


def build(binaries: list[Path]) -> dict[str, Any]:
    sources: dict[str, str] = {}
    descriptors: dict[str, dict[str, Any]] = {}
    packages: dict[str, str] = {}
    for binary in binaries:
        found = descriptors_in(binary)
        wanted = [f for f in FILES if f in found and f not in sources]
        if not wanted:
            continue
        version = binary_version(binary)
        for proto_file in wanted:
            _name, package, file_messages = file_descriptor(found[proto_file])
            sources[proto_file] = f"{binary.name} ({version})"
            packages[proto_file] = package
            descriptors.update(file_messages)
    missing = [f for f in FILES if f not in sources]
    if missing:
        raise SystemExit(f"descriptors not found for: {missing}")
    for full, extra in SUPPLEMENT.items():
        desc = descriptors.setdefault(full, {"fields": [], "map_entry": False})
        known = {f["number"] for f in desc["fields"]}
        desc["fields"].extend(f for f in extra if f["number"] not in known)

    messages: dict[str, Any] = {}
    for full, desc in sorted(descriptors.items()):
        if desc["map_entry"]:
            continue
        entry: dict[str, Any] = {}
        if full in SPECIAL:
            entry["special"] = SPECIAL[full]
        entry["fields"] = [_field_row(full, f, descriptors) for f in desc["fields"]]
        messages[short(full)] = entry
    mark_required(messages, openapi_definitions())

    kinds: dict[str, dict[str, str]] = {}
    for proto_file, api_version in FILES.items():
        if not api_version:
            continue
        package = packages[proto_file]
        table = kinds.setdefault(api_version, {})
        for full, desc in descriptors.items():
            if full.rsplit(".", 1)[0] != package or desc["map_entry"]:
                continue
            kind = full.rsplit(".", 1)[1]
            if kind in NOT_KINDS:
                continue
            if any(f["name"] == "metadata" for f in desc["fields"]) or (package == META and kind in META_KINDS):
                table[kind] = short(full)
    return {
        "comment": "Generated by tools/gen_protobuf_messages.py from the generated.proto descriptors "
        "compiled into the Go binaries listed in sources. Field rows: [number, jsonName, type, mode]; "
        "mode: opt (non-pointer Go field: zero scalars are JSON omitempty noise), ptr (pointer: a value "
        "on the wire is kept even when zero), req (non-pointer but required in OpenAPI, i.e. no omitempty: "
        "kept even when zero), rep (repeated), "
        "map (map<string, type>), inline (embedded, merged into the parent in JSON).",
        "sources": sources,
        "supplemented": sorted(short(name) for name in SUPPLEMENT),
        "meta_kinds": [short(f"{META}.{k}") for k in META_KINDS],
        "kinds": kinds,
        "messages": messages,
    }


def _field_row(message: str, field: dict[str, Any], descriptors: dict[str, dict[str, Any]]) -> list[Any]:
    name = RENAMED.get((message, field["name"]), field["name"])
    repeated = field["label"] == LABEL_REPEATED
    if field["type"] == TYPE_MESSAGE:
        target = field["type_name"]
        if descriptors.get(target, {}).get("map_entry"):
            key, value = descriptors[target]["fields"]
            if key["type"] != 9:
                raise SystemExit(f"{message}.{field['name']}: map key is not a string")
            vtype = short(value["type_name"]) if value["type"] == TYPE_MESSAGE else SCALAR_TYPES[value["type"]]
            return [field["number"], name, vtype, "map"]
        ftype = short(target)
    else:
        if field["type"] not in SCALAR_TYPES:
            raise SystemExit(f"{message}.{field['name']}: unsupported type {field['type']}")
        ftype = SCALAR_TYPES[field["type"]]
    if repeated:
        mode = "rep"
    elif (message, field["name"]) in INLINE:
        mode = "inline"
    elif field["nullable"] and field["type"] != TYPE_BYTES:
        mode = "ptr"
    else:
        mode = "opt"
    return [field["number"], name, ftype, mode]


# --- what the OpenAPI definitions add ----------------------------------------------------------------

def openapi_definitions() -> dict[str, Any]:
    import kubernetes_validate  # a project dependency: its v1.33 OpenAPI definitions

    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.33.0-local"
    defs: dict[str, Any] = json.loads((base / "_definitions.json").read_text())["$defs"]
    return defs


def _definition(definitions: dict[str, Any], message: str) -> dict[str, Any] | None:
    return definitions.get("io.k8s." + message.replace("apiextensions_apiserver", "apiextensions-apiserver"))


def mark_required(messages: dict[str, Any], definitions: dict[str, Any]) -> None:
    """Non-pointer scalars that OpenAPI lists as required have no `omitempty` in Go (openapi-gen
    marks a field required exactly when it has neither omitempty nor +optional), so their zero value
    is part of the JSON (`containerPort`, `status.allowed`): mode opt -> req. An inline message
    without a definition of its own takes the required names of the message embedding it."""

    def mark(name: str, required: set[str]) -> None:
        for row in messages[name]["fields"]:
            if row[3] == "inline" and _definition(definitions, row[2]) is None:
                mark(row[2], required)
            elif row[3] == "opt" and row[1] in required and row[2] in SCALAR_TYPES.values():
                row[3] = "req"

    for name in messages:
        definition = _definition(definitions, name)
        if definition is not None and "special" not in messages[name]:
            mark(name, set(definition.get("required", ())))


def check_openapi(table: dict[str, Any]) -> None:
    definitions = openapi_definitions()
    messages = table["messages"]
    for name, entry in sorted(messages.items()):
        definition = _definition(definitions, name)
        if definition is None or "properties" not in definition or "special" in entry:
            print(f"{name}: not checked (no OpenAPI definition or special)")
            continue
        props = set(definition["properties"])
        if "x-kubernetes-group-version-kind" in definition:
            props -= {"apiVersion", "kind"}
        names = _json_names(messages, name)
        if props != names:
            print(f"{name}: only proto {sorted(names - props)} only openapi {sorted(props - names)}")


def _json_names(messages: dict[str, Any], name: str) -> set[str]:
    names: set[str] = set()
    for _number, fname, ftype, mode in messages[name]["fields"]:
        names |= _json_names(messages, ftype) if mode == "inline" else {fname}
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", action="append", type=Path, help="Go binary to read descriptors from")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check-openapi", action="store_true")
    args = parser.parse_args()
    table = build(args.binary or DEFAULT_BINARIES)
    if args.check_openapi:
        check_openapi(table)
    args.out.write_text(json.dumps(table, separators=(",", ":"), sort_keys=False) + "\n")
    print(f"wrote {args.out} ({len(table['messages'])} messages)", file=sys.stderr)


if __name__ == "__main__":
    main()
