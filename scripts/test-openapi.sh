#!/usr/bin/env bash
# Validates the server's OpenAPI document (the file /openapi.json serves) as OpenAPI 3.1.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import openapi_spec_validator" 2>/dev/null || python3 -m pip install -q openapi-spec-validator
python3 - <<'PY'
import json
from openapi_spec_validator import validate
document = json.load(open("Sources/GridServer/openapi.json"))
validate(document)
assert document["openapi"].startswith("3.1"), document["openapi"]
print(f"openapi: {len(document['paths'])} paths valid as OpenAPI {document['openapi']}")
print("openapi: 1 passed, 0 failed")
PY
