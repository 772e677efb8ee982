#!/usr/bin/env bash
# The real S3 server the remote-S3 backend tests run against: Ceph RADOS Gateway (Debian 12 radosgw 16.2.x,
# strict SigV4) on a throw-away one-OSD in-memory Ceph cluster (ceph-mon + ceph-osd with memstore), all on
# 127.0.0.1. Adapted from the team's shared recipe (../shared/tools/radosgw-local.sh).
#   scripts/radosgw.sh start [PORT]  -> prints "ENDPOINT ACCESS_KEY SECRET_KEY" (default port 8000)
#   scripts/radosgw.sh stop
# Needs: apt-get install -y radosgw ceph-mon ceph-osd ceph-common uuid-runtime
# Data lives in memory (memstore, 8 GiB cap, allocated as used) and is lost on stop. Uses ~2 GB RAM; up in ~15 s.
# The test run finds it on http://127.0.0.1:8000 (or DG_TEST_S3_ENDPOINT); see test/setup/remote-s3.ts.
# STATE_DIR (default $TMPDIR/dg-radosgw) keeps the pid files: stop only stops what that start started.
set -euo pipefail
STATE="${STATE_DIR:-${TMPDIR:-/tmp}/dg-radosgw}"
D="$STATE/ceph"
cmd="${1:-start}"; PORT="${2:-8000}"
MON_PORT="${MON_PORT:-40110}"
AK="${RGW_ACCESS_KEY:-0555b35654ad1656d804}"
SK="${RGW_SECRET_KEY:-h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q==}"

stop() {
  for n in rgw osd mon; do
    if [ -f "$STATE/ceph-$n.pid" ]; then
      pid=$(cat "$STATE/ceph-$n.pid"); kill "$pid" 2>/dev/null || true
      for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$STATE/ceph-$n.pid"
    fi
  done
}

case "$cmd" in
stop) stop; exit 0;;
start) ;;
*) echo "usage: $0 start [PORT] | stop" >&2; exit 2;;
esac

for b in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool uuidgen; do
  command -v "$b" >/dev/null || { echo "radosgw-local: $b missing; apt-get install -y radosgw ceph-mon ceph-osd ceph-common uuid-runtime" >&2; exit 2; }
done
stop
rm -rf "$D"; mkdir -p "$D"/{mon.a,osd.0,run,log,rgw}
t0=$(date +%s.%N)
fsid=$(uuidgen)
cat > "$D/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$MON_PORT]
mon initial members = a
public addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
keyring = $D/keyring
[mon]
mon data = $D/mon.\$id
mon cluster log file = $D/log/cluster.log
[osd]
osd data = $D/osd.\$id
osd objectstore = memstore
memstore device bytes = 8589934592
osd max object name len = 460
osd max object namespace len = 64
[client.rgw.a]
rgw data = $D/rgw
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw dns name = localhost
rgw enable usage log = false
rgw lc debug interval = 10
rgw max chunk size = 4194304
rgw gc obj min wait = 30
rgw gc processor period = 30
EOF
C=(-c "$D/ceph.conf")
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --clobber --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" "$D/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring" >/dev/null 2>&1
nohup ceph-mon "${C[@]}" -f -i a > "$D/log/mon.out" 2>&1 &
echo $! > "$STATE/ceph-mon.pid"
for i in $(seq 1 100); do ceph "${C[@]}" --connect-timeout 2 mon stat >/dev/null 2>&1 && break; sleep 0.2; done
uuid=$(uuidgen)
id=$(ceph "${C[@]}" osd new "$uuid")
ceph-osd "${C[@]}" -i "$id" --mkfs --osd-uuid "$uuid" >/dev/null 2>&1
nohup ceph-osd "${C[@]}" -f -i "$id" > "$D/log/osd.out" 2>&1 &
echo $! > "$STATE/ceph-osd.pid"
for i in $(seq 1 150); do
  ceph "${C[@]}" osd stat 2>/dev/null | grep -q '1 up' && break; sleep 0.2
done
nohup radosgw "${C[@]}" -f -n client.rgw.a > "$D/log/rgw.out" 2>&1 &
echo $! > "$STATE/ceph-rgw.pid"
for i in $(seq 1 300); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.2
done
curl -s -o /dev/null "http://127.0.0.1:$PORT/" || { echo "radosgw-local: rgw did not come up; see $D/log" >&2; exit 1; }
radosgw-admin "${C[@]}" user create --uid testid --display-name 'M. Tester' \
  --access-key "$AK" --secret "$SK" >/dev/null 2>&1 || true
t1=$(date +%s.%N)
echo "radosgw up in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')s (pids: mon $(cat "$STATE/ceph-mon.pid"), osd $(cat "$STATE/ceph-osd.pid"), rgw $(cat "$STATE/ceph-rgw.pid"))" >&2
echo "http://127.0.0.1:$PORT $AK $SK"
