#!/usr/bin/env bash
# Installs the OS packages vpcnet's demo, tests and benchmarks use, when missing.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip      || need+=(iproute2)
have iperf3  || need+=(iperf3)
have ping    || need+=(iputils-ping)
have curl    || need+=(curl)
have nc      || need+=(netcat-openbsd)
have nft     || need+=(nftables)
have nstat   || need+=(iproute2)
have hping3  || need+=(hping3)
have dig     || need+=(bind9-dnsutils)
have tcpdump || need+=(tcpdump)    # test/capture_test.go reads `vpcnet capture` files back
have dot     || need+=(graphviz)   # vpcnet graph --format svg|html
have ntpdig  || need+=(ntpsec-ntpdig) # test/timesync_test.go queries 169.254.169.123; it never sets the clock (no -S/-s)
[ -x /usr/bin/etcd ] || need+=(etcd-server) # internal/etcdtest runs a real etcd for store/ and the multi-host tests
# Debian's AWS CLI v2 and boto3 drive the EC2 endpoint in the tests (test/awscli_test.go); a
# pip-installed `aws` elsewhere on PATH is not the one the tests run.
[ -x /usr/bin/aws ] || need+=(awscli)
/usr/bin/python3 -c 'import boto3' >/dev/null 2>&1 || need+=(python3-boto3)
[ -f /usr/lib/python3/dist-packages/botocore/data/ec2/2016-11-15/service-2.json ] || [ -f /usr/lib/python3/dist-packages/botocore/data/ec2/2016-11-15/service-2.json.gz ] || need+=(python3-botocore)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages: ${need[*]} (run as root: sudo make ...)" >&2
    exit 1
  fi
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! have go; then
  echo "Go is needed (https://go.dev/dl), at /usr/local/go/bin or on PATH" >&2
  exit 1
fi
