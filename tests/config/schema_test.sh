#!/usr/bin/env bash
# Checks deploy/schema/model-deployment.schema.json with a real JSON Schema validator (ajv):
# every document of deploy/examples must pass, and every case of the invalid corpus marked
# `schema: true` in tests/config/testdata/invalid/expected.yaml must fail.
# Usage: schema_test.sh [PROJECT_ROOT]
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
ajv="$root/.tools/node_modules/.bin/ajv"
schema="$root/deploy/schema/model-deployment.schema.json"
if [[ ! -x "$ajv" ]]; then
  echo "schema_test: $ajv is missing; run scripts/install-deps" >&2
  exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# YAML -> JSON, one file per document. Timestamps stay strings, as in cml-reconciler.
python3 - "$root" "$work" <<'PY'
import json, os, sys
import yaml

root, work = sys.argv[1], sys.argv[2]

class Loader(yaml.SafeLoader):
    pass

Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

def convert(source, target_dir, prefix):
    os.makedirs(target_dir, exist_ok=True)
    with open(source, encoding="utf-8") as f:
        documents = [d for d in yaml.load_all(f, Loader=Loader) if d is not None]
    for i, document in enumerate(documents):
        with open(os.path.join(target_dir, f"{prefix}-{i}.json"), "w") as out:
            json.dump(document, out, allow_nan=False)
    if not documents:
        sys.exit(f"schema_test: {source} holds no document to check")

examples = os.path.join(root, "deploy/examples")
for name in sorted(os.listdir(examples)):
    if name.endswith((".yaml", ".yml")):
        convert(os.path.join(examples, name), os.path.join(work, "valid"), name)
corpus = os.path.join(root, "tests/config/testdata/invalid")
with open(os.path.join(corpus, "expected.yaml")) as f:
    manifest = yaml.safe_load(f)
for case in manifest:
    if case["schema"]:
        convert(os.path.join(corpus, case["case"]), os.path.join(work, "invalid", case["case"]), "doc")
PY

# One node process with ajv (the library behind ajv-cli) validates every document: valid/*.json
# must pass; each invalid/CASE/ must have at least one document that fails.
node - "$root/.tools/node_modules" "$schema" "$work" <<'JS'
const [modules, schemaPath, work] = process.argv.slice(2);
const fs = require("fs");
const path = require("path");
const Ajv = require(path.join(modules, "ajv"));
const addFormats = require(path.join(modules, "ajv-formats"));
const ajv = new Ajv({strict: true, strictRequired: false, allErrors: true});
addFormats(ajv);
const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, "utf8")));
const load = (file) => JSON.parse(fs.readFileSync(file, "utf8"));
let failures = 0;
const validDir = path.join(work, "valid");
const examples = fs.readdirSync(validDir).sort();
for (const name of examples) {
  if (!validate(load(path.join(validDir, name)))) {
    console.error(`schema_test: the schema rejects example ${name}: ${ajv.errorsText(validate.errors)}`);
    failures++;
  }
}
const invalidDir = path.join(work, "invalid");
const cases = fs.readdirSync(invalidDir).sort();
for (const name of cases) {
  const documents = fs.readdirSync(path.join(invalidDir, name)).sort();
  const rejected = documents.some((doc) => !validate(load(path.join(invalidDir, name, doc))));
  if (!rejected) {
    console.error(`schema_test: the schema accepts invalid case ${name}`);
    failures++;
  }
}
console.log(`schema_test: ${examples.length} example documents, ${cases.length} invalid cases, ` +
            `${failures} failures`);
process.exit(failures === 0 && examples.length >= 5 && cases.length >= 40 ? 0 : 1);
JS
