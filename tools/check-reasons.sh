#!/usr/bin/env bash
# List the condition (and Warning Event) reasons the operator writes, from the code, and
# fail when docs/troubleshooting.md lacks one (run by `make check-docs`).
#
#   tools/check-reasons.sh          check: prints the missing reasons, exit 1 if any
#   tools/check-reasons.sh --list   print every reason found, one a line
#
# Where reasons come from: the one-word capitalised string literals in the arguments of
# cond_set(), degrade(), say() and FAIL() calls and of `snprintf(reason, ...)` in
# operator/reconcile/*.c (comments left out), and what
# kms_err_reason() (operator/kms/kms.c) and mv_error_reason()
# (operator/milvus/milvus.c) return. A reason counts as documented when the doc has it
# as a code span, e.g. `MilvusUnreachable`. The webhook writes no conditions (it answers
# with rule IDs, docs/policies.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
doc=${VW_TROUBLESHOOTING_DOC:-$root/docs/troubleshooting.md}

reasons() {
	{
		# reason literals in the calls that set them, up to the call's ';' (a call
		# may span lines: clang-format breaks long ones); comments left out
		perl -0777 -ne 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g;
			while (/(?:\b(?:cond_set|degrade|say|FAIL)\(|snprintf\(reason,)([^;]*)/g) {
				my $args = $1;
				print "$1\n" while $args =~ /("[A-Z][A-Za-z0-9]*")/g;
			}' "$root"/operator/reconcile/*.c || true
		# the reason tables of the KMS and Milvus clients
		for f in operator/kms/kms.c:kms_err_reason operator/milvus/milvus.c:mv_error_reason; do
			awk -v fn="${f#*:}" '
				$0 ~ "^const char \\*" fn "\\(" { on = 1 }
				on && /^}/ { on = 0 }
				on' "$root/${f%%:*}" | grep -oE 'return "[A-Z][A-Za-z0-9]*"' | grep -oE '"[^"]*"' || true
		done
	} | tr -d '"' | sort -u
}

if [ "${1:-}" = --list ]; then
	reasons
	exit 0
fi
[ -f "$doc" ] || { echo "check-reasons: $doc is missing" >&2; exit 1; }
missing=()
while read -r r; do
	grep -qF "\`$r\`" "$doc" || missing+=("$r")
done < <(reasons)
n=$(reasons | wc -l)
if [ ${#missing[@]} -gt 0 ]; then
	echo "check-reasons: ${#missing[@]} of $n reasons the operator writes are not in ${doc#"$root"/}:" >&2
	printf '  %s\n' "${missing[@]}" >&2
	exit 1
fi
echo "check-reasons: all $n reasons are documented in ${doc#"$root"/}"
