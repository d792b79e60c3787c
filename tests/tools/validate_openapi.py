#!/usr/bin/env python3
"""Validates the service's OpenAPI document with independent tools.

Reads the document (JSON) from the file named on the command line, then:
- validates it as OpenAPI 3.1 with openapi-spec-validator;
- validates every example in it (`example`, a media type's `examples`, a
  schema's `examples` list) against the schema it illustrates
  (JSON Schema 2020-12, the dialect of OpenAPI 3.1), resolving $ref in the
  document itself.
Prints one line per failure and exits 1 if there is any.
"""
import json
import sys

from openapi_spec_validator import validate
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

BASE = "urn:pregon:openapi"


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    failures = []
    try:
        validate(doc)
    except Exception as e:  # the validator's own error types vary by version
        failures.append(f"not valid OpenAPI 3.1: {e}")
    registry = Registry().with_resource(BASE, Resource(contents=doc, specification=DRAFT202012))

    def check(example, pointer, where):
        schema = {"$ref": f"{BASE}#{pointer}"}
        validator = Draft202012Validator(schema, registry=registry)
        for err in validator.iter_errors(example):
            failures.append(f"example at {where} does not match its schema: {err.message}")

    def escape(key):
        return str(key).replace("~", "~0").replace("/", "~1")

    def walk(node, pointer, in_content=False):
        if isinstance(node, dict):
            if in_content and "schema" in node:
                # A media type object: its examples illustrate its schema.
                if "example" in node:
                    check(node["example"], pointer + "/schema", pointer + "/example")
                for name, ex in (node.get("examples") or {}).items():
                    if isinstance(ex, dict) and "value" in ex:
                        check(ex["value"], pointer + "/schema", f"{pointer}/examples/{name}")
            elif "type" in node or "$ref" in node or "properties" in node:
                # A schema with examples of itself: `example` (OpenAPI 3.0's
                # keyword) and `examples`, JSON Schema's list of values.
                if "example" in node:
                    check(node["example"], pointer, pointer + "/example")
                if isinstance(node.get("examples"), list):
                    for i, ex in enumerate(node["examples"]):
                        check(ex, pointer, f"{pointer}/examples/{i}")
            for key, value in node.items():
                if key in ("example", "examples"):
                    continue
                if key == "content" and isinstance(value, dict):
                    for media, obj in value.items():
                        walk(obj, f"{pointer}/content/{escape(media)}", in_content=True)
                    continue
                walk(value, f"{pointer}/{escape(key)}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{pointer}/{i}")

    walk(doc, "")
    for line in failures:
        print(line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
