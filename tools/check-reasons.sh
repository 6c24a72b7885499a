#!/usr/bin/env bash
# List the condition (and Warning Event) reasons the operator writes, from the code, and
# fail when docs/troubleshooting.md lacks one (run by `make check-docs`).
#
#   tools/check-reasons.sh          check: prints the missing reasons, exit 1 if any
#   tools/check-reasons.sh --list   print every reason found, one a line
#
# Where reasons come from: the first-line string literals of cond_set(), degrade(), say()
# and FAIL() calls and of `snprintf(reason, ...)` in operator/reconcile/*.c, and what
# kms_err_reason() (operator/kms/kms.c) and mv_error_reason()
# (operator/milvus/milvus.c) return. A reason counts as documented when the doc has it
# as a code span, e.g. `MilvusUnreachable`. The webhook writes no conditions (it answers
# with rule IDs, docs/policies.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
doc=${VW_TROUBLESHOOTING_DOC:-$root/docs/troubleshooting.md}

reasons() {
	{
		# reason literals on the line of the call that sets them
		grep -hE '(\<cond_set|\<degrade|\<say|\<FAIL)\(|snprintf\(reason, ' "$root"/operator/reconcile/*.c |
			grep -vE '^\s*(\*|/\*|//)' |
			grep -oE '"[A-Z][A-Za-z0-9]*"' || true
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
