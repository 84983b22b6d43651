"""`python -m schemas [PATH]` writes the job spec's JSON Schema (default: schemas/jobspec.schema.json)."""

import json
import sys
from pathlib import Path

from schemas.load import json_schema

target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("jobspec.schema.json")
target.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
