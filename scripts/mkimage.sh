#!/bin/bash
# mkimage.sh: build a single-layer container image tarball from a rootfs
# directory, with nothing but bash, coreutils, GNU tar and sha256sum.
#
#   scripts/mkimage.sh --format oci|docker --ref REF --rootfs DIR
#       [--entrypoint ARGS] [--cmd ARGS] [--env K=V]... [--label K=V]...
#       [--workdir DIR] [--user USER] [--arch amd64] -o OUT.tar
#
# ARGS is either a JSON array used as is ('["sh","-c","echo hi"]') or words
# split on whitespace ('sh -c date'); an empty string leaves the field out.
#
# --format oci: an OCI image layout tar, as `ctr -n NS images import` and
#   `skopeo copy oci-archive:OUT.tar ...` take it. index.json names the image
#   like `ctr images export` does: io.containerd.image.name = the full ref
#   (docker.io/library/busybox:latest), org.opencontainers.image.ref.name =
#   the tag (latest).
# --format docker: a `docker save` archive (manifest.json, repositories,
#   <config digest>.json, <diff id>/layer.tar), as dockerd 20.10 `docker load`
#   and `ctr images import` take it. RepoTags holds the familiar name
#   (busybox:latest).
#
# The layer is an uncompressed tar (application/vnd.oci.image.layer.v1.tar).
# Output is deterministic: same rootfs and options, same bytes.
set -euo pipefail
export LC_ALL=C
umask 022

prog=${0##*/}
die() {
	echo "$prog: $*" >&2
	exit 1
}
usage() {
	sed -n '2,11s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

format= ref= rootfs= out= entrypoint= cmd= workdir= user= arch=amd64
envs=() labels=()
while [ $# -gt 0 ]; do
	case $1 in
	--format | --ref | --rootfs | --entrypoint | --cmd | --env | --label | \
		--workdir | --user | --arch | -o)
		[ $# -ge 2 ] || die "$1 needs a value"
		case $2 in
		*[$'\001'-$'\010\013\014\016'-$'\037']*)
			die "$1: control character in ${2@Q}"
			;;
		esac
		;;
	esac
	case $1 in
	--format) format=$2 ;;
	--ref) ref=$2 ;;
	--rootfs) rootfs=$2 ;;
	--entrypoint) entrypoint=$2 ;;
	--cmd) cmd=$2 ;;
	--env) envs+=("$2") ;;
	--label) labels+=("$2") ;;
	--workdir) workdir=$2 ;;
	--user) user=$2 ;;
	--arch) arch=$2 ;;
	-o) out=$2 ;;
	-h | --help) usage ;;
	*) die "unknown argument: $1 (try --help)" ;;
	esac
	shift 2
done
case $format in
oci | docker) ;;
*) die "--format must be oci or docker" ;;
esac
[ -n "$ref" ] || die "--ref is required"
[ -n "$rootfs" ] || die "--rootfs is required"
[ -d "$rootfs" ] || die "rootfs $rootfs is not a directory"
[ -n "$out" ] || die "-o is required"

# --- JSON helpers ---------------------------------------------------------

# json_str S: S as a JSON string literal. The values were checked for
# control characters other than \t \n \r when the options were read.
json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\t'/\\t}
	s=${s//$'\n'/\\n}
	s=${s//$'\r'/\\r}
	printf '"%s"' "$s"
}

# json_list ITEM...: a JSON array of strings.
json_list() {
	local sep= item
	printf '['
	for item in "$@"; do
		printf '%s' "$sep"
		json_str "$item"
		sep=,
	done
	printf ']'
}

# json_args ARGS: --entrypoint/--cmd value as a JSON array.
json_args() {
	local v=$1
	if [[ $v == \[* ]]; then
		[[ $v == *\] ]] || die "bad JSON array: $v"
		printf '%s' "$v"
	else
		local -a words
		read -r -a words <<<"$v"
		json_list "${words[@]}"
	fi
}

# --- references -------------------------------------------------------------

# Split REF into repo and tag; refuse digests.
case $ref in
*@*) die "--ref must be NAME:TAG, not a digest: $ref" ;;
esac
[[ $ref =~ ^[a-z0-9][a-zA-Z0-9._:/-]*$ ]] || die "bad --ref: $ref"
[[ $arch =~ ^[a-z0-9_]+$ ]] || die "bad --arch: $arch"
last=${ref##*/}
if [[ $last == *:* ]]; then
	repo=${ref%:*}
	tag=${ref##*:}
else
	repo=$ref
	tag=latest
fi
[ -n "$repo" ] && [ -n "$tag" ] || die "bad --ref: $ref"

# Docker's normalization: a first component without '.' or ':' (and not
# localhost) is a docker.io name, and single names live in library/.
first=${repo%%/*}
if [[ $repo != */* ]]; then
	full_repo=docker.io/library/$repo
elif [[ $first == *.* || $first == *:* || $first == localhost ]]; then
	full_repo=$repo
else
	full_repo=docker.io/$repo
fi
full_ref=$full_repo:$tag
case $full_repo in
docker.io/library/*) familiar_repo=${full_repo#docker.io/library/} ;;
docker.io/*) familiar_repo=${full_repo#docker.io/} ;;
*) familiar_repo=$full_repo ;;
esac

# --- build ------------------------------------------------------------------

tar_det=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner
	--format=gnu)

stage=$(mktemp -d "${TMPDIR:-/tmp}/mkimage.XXXXXX")
trap 'rm -rf "$stage" "$out.tmp.$$"' EXIT

sha256() {
	local d
	d=$(sha256sum <"$1")
	printf '%s' "${d%% *}"
}
size() {
	stat -c %s "$1"
}

# The layer: the rootfs's entries, without a leading "./".
layer=$stage/layer.tar
(
	cd "$rootfs"
	shopt -s dotglob nullglob
	entries=(*)
	if [ ${#entries[@]} -eq 0 ]; then
		tar "${tar_det[@]}" -cf "$layer" -T /dev/null
	else
		tar "${tar_det[@]}" -cf "$layer" -- "${entries[@]}"
	fi
)
layer_digest=$(sha256 "$layer")
layer_size=$(size "$layer")
epoch=1970-01-01T00:00:00Z

# Image config, shared by both formats.
cfg_fields=()
[ ${#envs[@]} -eq 0 ] || cfg_fields+=("\"Env\":$(json_list "${envs[@]}")")
[ -z "$entrypoint" ] || cfg_fields+=("\"Entrypoint\":$(json_args "$entrypoint")")
[ -z "$cmd" ] || cfg_fields+=("\"Cmd\":$(json_args "$cmd")")
[ -z "$workdir" ] || cfg_fields+=("\"WorkingDir\":$(json_str "$workdir")")
[ -z "$user" ] || cfg_fields+=("\"User\":$(json_str "$user")")
if [ ${#labels[@]} -gt 0 ]; then
	lab= sep=
	for kv in "${labels[@]}"; do
		[[ $kv == *=* ]] || die "--label wants K=V: $kv"
		lab+=$sep$(json_str "${kv%%=*}"):$(json_str "${kv#*=}")
		sep=,
	done
	cfg_fields+=("\"Labels\":{$lab}")
fi
cfg_body=$(
	IFS=,
	printf '%s' "${cfg_fields[*]}"
)
config=$stage/config.json
printf '{"architecture":%s,"os":"linux","created":"%s","config":{%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"%s","created_by":"scripts/mkimage.sh"}]}' \
	"$(json_str "$arch")" "$epoch" "$cfg_body" "$layer_digest" "$epoch" \
	>"$config"
config_digest=$(sha256 "$config")
config_size=$(size "$config")

root=$stage/root
mkdir "$root"
if [ "$format" = oci ]; then
	blobs=$root/blobs/sha256
	mkdir -p "$blobs"
	mv "$layer" "$blobs/$layer_digest"
	mv "$config" "$blobs/$config_digest"
	manifest=$stage/manifest.json
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
		"$config_digest" "$config_size" "$layer_digest" "$layer_size" \
		>"$manifest"
	manifest_digest=$(sha256 "$manifest")
	manifest_size=$(size "$manifest")
	mv "$manifest" "$blobs/$manifest_digest"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$root/oci-layout"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":%s,"os":"linux"},"annotations":{"io.containerd.image.name":%s,"org.opencontainers.image.ref.name":%s}}]}' \
		"$manifest_digest" "$manifest_size" "$(json_str "$arch")" \
		"$(json_str "$full_ref")" "$(json_str "$tag")" >"$root/index.json"
	members=(blobs index.json oci-layout)
	image_id=sha256:$manifest_digest
else
	mkdir "$root/$layer_digest"
	mv "$layer" "$root/$layer_digest/layer.tar"
	mv "$config" "$root/$config_digest.json"
	printf '[{"Config":"%s.json","RepoTags":[%s],"Layers":["%s/layer.tar"]}]' \
		"$config_digest" "$(json_str "$familiar_repo:$tag")" \
		"$layer_digest" >"$root/manifest.json"
	printf '{%s:{%s:"%s"}}' "$(json_str "$familiar_repo")" \
		"$(json_str "$tag")" "$layer_digest" >"$root/repositories"
	members=("$config_digest.json" "$layer_digest" manifest.json repositories)
	image_id=sha256:$config_digest
fi

mkdir -p "$(dirname "$out")"
tar "${tar_det[@]}" -C "$root" -cf "$out.tmp.$$" -- "${members[@]}"
mv -f "$out.tmp.$$" "$out"
echo "$prog: $out: $format image $full_ref ($image_id, layer sha256:$layer_digest)"
