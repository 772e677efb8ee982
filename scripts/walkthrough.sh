#!/usr/bin/env bash
# The README's "Done when" walk-through, measured: a fresh clone, `npm ci && npm start`, three versions of a
# 20 MB zip uploaded with `aws s3api put-object`, storage types, stored bytes in .wrangler/state against the
# logical bytes, byte-exact downloads, a clean listing, delete, and reference.bin gone.
# Usage: bash scripts/walkthrough.sh [repo-url-or-path]   (PORT defaults to 8794)
set -euo pipefail
SRC="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
PORT="${PORT:-8794}"
WORK="$(mktemp -d /tmp/dg-walkthrough-XXXXXX)"
EP="http://127.0.0.1:$PORT"
export AWS_ACCESS_KEY_ID=deltaglider AWS_SECRET_ACCESS_KEY=deltaglider-secret AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
# Debian's aws-cli v2 first (what .ci/run installs); an `aws` on PATH may be a pyenv shim for aws-cli v1.
# The e2e tests choose the same way (test/e2e/support/aws-cli.ts).
AWS="$(command -v /usr/bin/aws || command -v aws)"
echo "== aws-cli: $AWS ($("$AWS" --version 2>&1 | head -1))"

echo "== machine: $(nproc) cores, $(uname -sr), node $(node --version), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "== fresh clone of $SRC into $WORK/repo"
git clone -q "$SRC" "$WORK/repo"
cd "$WORK/repo"
/usr/bin/time -f "npm ci: %e s" npm ci --no-audit --no-fund >/dev/null 2>"$WORK/npm.log" || { cat "$WORK/npm.log"; exit 1; }
tail -1 "$WORK/npm.log"

# Own process group, so stopping it stops npm, wrangler and workerd together.
PORT=$PORT setsid npm start >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM -- -$SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
if curl -sf "$EP/_/health" >/dev/null; then echo "port $PORT is already in use"; exit 1; fi
sleep 1
for _ in $(seq 1 120); do curl -sf "$EP/_/health" >/dev/null && break; sleep 0.5; done
curl -sf "$EP/_/health"; echo

echo "== three versions of a 20 MB zip (stored entries, as build artifacts usually are)"
python3 - "$WORK" <<'PY'
import os, random, sys, zipfile
work = sys.argv[1]
rng = random.Random(42)
files = {f"lib/module{i:02d}.bin": rng.randbytes(1_000_000) for i in range(20)}
def write(name, files):
    with zipfile.ZipFile(os.path.join(work, name), "w", zipfile.ZIP_STORED) as z:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=(2025, 1, 1, 0, 0, 0))
            z.writestr(info, files[path])
write("app-1.0.0.zip", files)
for i in (3, 11): files[f"lib/module{i:02d}.bin"] = rng.randbytes(1_000_000)[:500_000] + files[f"lib/module{i:02d}.bin"][500_000:]
write("app-1.0.1.zip", files)
files["lib/module17.bin"] = files["lib/module17.bin"][:200_000] + rng.randbytes(50_000) + files["lib/module17.bin"][250_000:]
files["CHANGELOG.txt"] = b"1.1.0: new feature\n" * 1000
write("app-1.1.0.zip", files)
PY
LOGICAL=0
for v in 1.0.0 1.0.1 1.1.0; do
  f="$WORK/app-$v.zip"; size=$(stat -c %s "$f"); LOGICAL=$((LOGICAL + size))
  type=$("$AWS" --endpoint-url "$EP" --debug s3api put-object --bucket default --key "releases/app-$v.zip" --body "$f" 2>&1 \
    | grep -io "x-amz-storage-type': '[A-Za-z]*" | head -1 | sed "s/.*': '//")
  echo "PUT releases/app-$v.zip  $size bytes  x-amz-storage-type: $type"
done

R2="$WORK/repo/.wrangler/state/v3/r2"
STORED=$(find "$R2" -path '*blobs*' -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
echo "logical bytes: $LOGICAL"
echo "stored bytes (R2 blobs under .wrangler/state): $STORED"
awk -v s="$STORED" -v l="$LOGICAL" 'BEGIN { printf "stored/logical: %.2f%%  (saved %.1f%%)\n", 100*s/l, 100-100*s/l }'
echo "stored objects:"
sqlite3 "$(find "$R2" -name '*.sqlite' | grep -v metadata | head -1)" "select key, size from _mf_objects order by key" 2>/dev/null \
  || find "$R2" -name '*.sqlite' -exec sqlite3 {} "select key, size from _mf_objects order by key" \; 2>/dev/null || true

echo "== downloads are byte-exact"
for v in 1.0.0 1.0.1 1.1.0; do
  # One GET per object (aws s3 cp splits objects over 8 MB into parallel ranged GETs: see docs/PERFORMANCE.md).
  "$AWS" --endpoint-url "$EP" s3api get-object --bucket default --key "releases/app-$v.zip" "$WORK/down-$v.zip" >/dev/null
  cmp "$WORK/app-$v.zip" "$WORK/down-$v.zip" && echo "app-$v.zip: identical ($(sha256sum "$WORK/down-$v.zip" | cut -c1-16)…)"
done

echo "== listing"
"$AWS" --endpoint-url "$EP" s3 ls s3://default/releases/

echo "== delete all three"
for v in 1.0.0 1.0.1 1.1.0; do "$AWS" --endpoint-url "$EP" s3 rm --quiet "s3://default/releases/app-$v.zip"; done
LEFT=$(find "$R2" -name '*.sqlite' -exec sqlite3 {} "select count(*) from _mf_objects where key like 'releases/%'" \; 2>/dev/null | awk '{s+=$1} END {print s+0}')
echo "stored objects left under releases/ (reference.bin included): $LEFT"
STORED_AFTER=$(find "$R2" -path '*blobs*' -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
echo "stored bytes after delete: $STORED_AFTER"
