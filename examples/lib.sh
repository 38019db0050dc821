# examples/lib.sh: what every lab sources. Not a script to run by itself.
#
# A lab talks to a running topology's EC2 endpoint with the AWS CLI v2, after
#   eval "$(sudo vpcnet env NAME)"
# which exports the topology's key, region and AWS_ENDPOINT_URL. The AWS CLI
# of Debian 12 (2.9) does not read AWS_ENDPOINT_URL by itself, so every call
# passes it as --endpoint-url. Traffic checks run inside the namespaces
# vpcnet made (`ip netns exec TOPO-NAME …`), as root (sudo when not root).
#
# Settings (environment):
#   TOPO     the topology's name (default: the lab's), prefix of its namespaces
#   AWS      the AWS CLI to run (default: aws)
#   QUIET=1  do not echo each command

set -euo pipefail

: "${AWS_ENDPOINT_URL:?no endpoint: run  eval \"\$(sudo vpcnet env NAME)\"  first}"
: "${AWS:=aws}"
export AWS_PAGER="" # never page the CLI's output

# Colours only on a terminal.
if [ -t 1 ]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'; else B='' G='' R='' D='' N=''; fi

STEP=0 STEP_TITLE=
# step "what the reader does": a numbered heading.
step() {
	STEP=$((STEP + 1)) STEP_TITLE=$*
	printf '\n%s== %d. %s%s\n' "$B" "$STEP" "$*" "$N"
}

# note "text": a remark in the walk-through.
note() { printf '%s   %s%s\n' "$D" "$*" "$N"; }

# ok "what held": a check that passed.
ok() { printf '%s   ok%s %s\n' "$G" "$N" "$*"; }

# die "what failed": stop the lab with exit 1.
die() {
	printf '%s   FAILED%s %s\n' "$R" "$N" "$*" >&2
	exit 1
}

# show CMD…: print the command as the reader would type it.
show() {
	[ "${QUIET:-}" = 1 ] && return 0
	local a out='$'
	for a in "$@"; do
		case $a in
		*[!A-Za-z0-9_./:=,@%+-]* | '') out+=" '${a//\'/\'\\\'\'}'" ;;
		*) out+=" $a" ;;
		esac
	done
	printf '%s%s%s\n' "$D" "$out" "$N" >&2
}

# ec2 ARGS…: `aws ec2 ARGS…` against the topology's endpoint, echoed first.
ec2() {
	show aws ec2 "$@"
	"$AWS" --endpoint-url "$AWS_ENDPOINT_URL" ec2 "$@"
}

# expect_error CODE ec2 ARGS…: the call must fail with EC2's error CODE, as the
# AWS CLI prints it on stderr: "An error occurred (CODE) when calling …".
# The error is shown, as the reader sees it.
expect_error() {
	local code=$1 err rc=0
	shift
	show aws "$@"
	err=$("$AWS" --endpoint-url "$AWS_ENDPOINT_URL" "$@" 2>&1 >/dev/null) || rc=$?
	printf '%s\n' "$err" | sed '/^$/d; s/^/   /'
	[ "$rc" -ne 0 ] || die "aws $* succeeded; want the error ($code)"
	case $err in
	*"($code)"*) ok "refused with ($code), exit $rc" ;;
	*) die "aws $*: want the error ($code), got exit $rc: $err" ;;
	esac
}

# A command that fails where no failure was expected ends the lab, saying where.
trap 'rc=$?; [ "$BASH_SUBSHELL" -gt 0 ] || printf "%s   FAILED%s at step %d (%s), line %d, exit %d: %s\n" "$R" "$N" "$STEP" "$STEP_TITLE" "$LINENO" "$rc" "$BASH_COMMAND" >&2' ERR

# as_root CMD…: run CMD as root (sudo when the lab does not run as root).
as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# inside NAME CMD…: run CMD in instance or internet host NAME's namespace.
inside() {
	local ns="$TOPO-$1"
	shift
	show sudo ip netns exec "$ns" "$@"
	as_root ip netns exec "$ns" "$@"
}

# http_get FROM URL [SECONDS]: the body vpcnet serve answers, fetched from FROM's
# namespace ({"name", "local", "client"}), or nothing and status 1.
# A refused connection is tried again for a few seconds: a server that
# user data starts may not listen yet when the instance is running.
http_get() {
	local rc
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		rc=0
		inside "$1" curl -sS --max-time "${3:-3}" "$2" || rc=$?
		[ "$rc" -eq 7 ] || return "$rc" # 7: refused
		sleep 0.3
	done
	return "$rc"
}

# expect_http FROM URL WANT: FROM fetches URL and the answer holds WANT.
expect_http() {
	local body
	body=$(http_get "$1" "$2") || die "$1 could not fetch $2"
	printf '   %s\n' "$body"
	case $body in
	*"$3"*) ok "$1 reached $2: $3" ;;
	*) die "$1 fetched $2 but the answer lacks $3" ;;
	esac
}

# expect_no_http FROM URL: FROM cannot fetch URL (times out or is refused).
expect_no_http() {
	local body
	if body=$(http_get "$1" "$2" 2 2>&1); then
		die "$1 still reaches $2: $body"
	fi
	printf '%s\n' "$body" | sed 's/^/   /' >&2
	ok "$1 cannot reach $2"
}

# expect_ping FROM ADDR / expect_no_ping FROM ADDR.
expect_ping() {
	local out
	out=$(inside "$1" ping -c 1 -W 2 "$2") || out=$(inside "$1" ping -c 1 -W 2 "$2") || die "$1 cannot ping $2: $out"
	printf '%s\n' "$out" | sed -n '2s/^/   /p'
	ok "$1 pings $2"
}
expect_no_ping() {
	if inside "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; then
		die "$1 still pings $2"
	fi
	ok "$1 cannot ping $2"
}

# instance_id NAME: the id of the running instance tagged Name=NAME.
instance_id() {
	ec2 describe-instances --filters "Name=tag:Name,Values=$1" Name=instance-state-name,Values=running \
		--query 'Reservations[].Instances[].InstanceId' --output text
}

# subnet_id NAME, group_id NAME, vpc_id NAME: ids by Name tag or group name.
subnet_id() { ec2 describe-subnets --filters "Name=tag:Name,Values=$1" --query 'Subnets[0].SubnetId' --output text; }
vpc_id() { ec2 describe-vpcs --filters "Name=tag:Name,Values=$1" --query 'Vpcs[0].VpcId' --output text; }
group_id() {
	ec2 describe-security-groups --filters "Name=group-name,Values=$1" --query 'SecurityGroups[0].GroupId' --output text
}

# must_be VALUE WANT WHAT: a describe answer must equal WANT.
must_be() {
	[ "$1" = "$2" ] || die "$3 is '$1', want '$2'"
	ok "$3 is $2"
}
